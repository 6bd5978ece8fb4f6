#pragma once
// CdiDevices: GPU devices named the way the Container Device Interface names them
// (github.com/cncf-tags/container-device-interface, SPEC.md: "vendor.com/class=name"), and
// their discovery in CDI spec files, the files podman resolves `--device vendor/class=name`
// with.

#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// True for a fully qualified CDI device name <vendor>/<class>=<name>: vendor a domain-like
/// [A-Za-z0-9][A-Za-z0-9.-]*, class [A-Za-z0-9][A-Za-z0-9_.-]*, name
/// [A-Za-z0-9][A-Za-z0-9_.:-]*, each ending in a letter or digit; at most 255 bytes. Such a
/// name never starts with '-', so it cannot become a podman option.
bool isCdiDeviceName(const std::string& name);

/// What detectCdiGpus found.
struct CdiScan {
    std::vector<std::string> gpus;      ///< device names, in discovery order
    std::vector<std::string> problems;  ///< "<file>:<line>:<column>: <what>" per skipped file
};

/// The GPU devices of the CDI specs (*.yaml, *.yml, *.json; JSON is read as YAML) in `dirs`:
/// "<kind>=<name>" for each device of a spec whose kind's class is "gpu", except the
/// aggregate device "all". Files are read in name order, directories in the order given;
/// each device is listed once. A missing directory has no devices. A spec that cannot be
/// read or parsed, or whose kind or device names are not valid, is skipped and named in
/// `problems` (one bad vendor file does not hide the others' devices).
CdiScan detectCdiGpus(const std::vector<std::string>& dirs);

}  // namespace fetchml

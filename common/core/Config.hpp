#pragma once
// Loading of /etc/fetchml/fetchml.yaml into Settings (common/core/Settings.hpp).
// Order, later wins: built-in defaults < the file < <file>.d/*.yaml drop-ins (sorted by name)
// < environment FETCHML_<SECTION>_<KEY> (e.g. FETCHML_WORKER_RUNTIME=runc) < overrides given on
// the command line as "section.key=value".

#include <string>
#include <vector>

#include "core/Result.hpp"
#include "core/Settings.hpp"

namespace fetchml {

/// Default config file path.
inline constexpr const char* kDefaultConfigPath = "/etc/fetchml/fetchml.yaml";

/// Options of loadSettings.
struct LoadOptions {
    std::string path = kDefaultConfigPath;  ///< the YAML file
    bool mustExist = false;                 ///< false: a missing file means "all defaults"
    std::vector<std::string> overrides;     ///< "section.key=value", e.g. "https.port=0"
    bool readEnvironment = true;            ///< apply FETCHML_<SECTION>_<KEY> variables
};

/// Reads, validates and returns the settings.
/// Errors (InvalidArgument): an unknown section or key, a wrong type or a bad value, each as
/// "<file>:<line>:<column>: <section>.<key>: expected <what>, got '<value>'"; for the
/// environment "environment FETCHML_X_Y: ..."; for overrides "--set section.key: ...".
/// A file that cannot be read (other than missing with mustExist=false) is NotFound/Internal.
Result<Settings> loadSettings(const LoadOptions& options);

/// Settings with the derived paths filled in ("" defaults resolved against paths.stateDir
/// and paths.runtimeDir, e.g. scheduler.database = <state_dir>/fetchml.db).
Settings resolvePaths(Settings settings);

}  // namespace fetchml

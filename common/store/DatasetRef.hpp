#pragma once
// DatasetRef: the name of a dataset and the reference "NAME" or "NAME@VERSION" by which jobs,
// fetchmlctl and the HTTPS routes name a dataset or one of its versions (docs/datasets.md;
// common/dbus/org.fetchml.Scheduler1.xml, "Datasets"). The one definition of the rule, shared
// by fetchmld, fetchml-httpsd and fetchmlctl.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml {

/// "NAME" or "NAME@VERSION", parsed.
struct DatasetRef {
    std::string name;
    std::int64_t version = 0;  ///< 1, 2, ...; 0 = none given (the latest, or every version)
};

/// Largest version number a reference may carry (2^53: exact in JSON numbers).
inline constexpr std::int64_t kMaxDatasetVersion = std::int64_t{1} << 53;

/// True for 1 to 64 of [A-Za-z0-9._-] starting with a letter or digit: a name that is safe as
/// a directory under /workspace/data and as one path segment of a URL.
bool isDatasetName(std::string_view name);

/// Parses "NAME" or "NAME@VERSION" (VERSION decimal, 1 to kMaxDatasetVersion). Errors:
/// InvalidArgument "<field>: ..." saying what is wrong.
Result<DatasetRef> parseDatasetRef(std::string_view text, const std::string& field);

}  // namespace fetchml

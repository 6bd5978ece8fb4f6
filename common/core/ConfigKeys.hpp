#pragma once
// The list of configuration keys known to loadSettings (common/core/Config.hpp), for tests
// and documentation that must cover every key.

#include <string>
#include <vector>

namespace fetchml {

/// Every key as "section.key", in the order of the key table in Config.cpp.
std::vector<std::string> configKeyNames();

/// The environment variable that sets "section.key": FETCHML_<SECTION>_<KEY> in upper case,
/// e.g. "worker.cancel_grace_s" -> "FETCHML_WORKER_CANCEL_GRACE_S".
std::string configEnvName(const std::string& sectionDotKey);

}  // namespace fetchml

#pragma once
// Job parameters given as `--param name=value` and sweeps: a value with commas lists the
// values to try, and a sweep submits one job per combination (cartesian product), e.g.
// `--param C=0.1,1,10 --param gamma=a,b` gives 6 jobs.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// One `--param`: a name and the values to try (one value: no sweep).
struct ParamSpec {
    std::string name;
    std::vector<std::string> values;
};

/// Parses "name=v1[,v2...]". The name must match [A-Za-z_][A-Za-z0-9_]* (it becomes part of the
/// environment variable FETCHML_PARAM_<NAME>); the value may be empty ("name=") but a comma
/// list may not contain empty items. Errors (InvalidArgument): "--param '<text>': <why>".
Result<ParamSpec> parseParam(std::string_view text);

/// Parses every `--param` and refuses a name given twice.
Result<std::vector<ParamSpec>> parseParams(const std::vector<std::string>& texts);

/// The cartesian product of the specs, in order: the first spec varies slowest. No specs give
/// one empty combination. Errors (InvalidArgument) when the product exceeds maxJobs.
Result<std::vector<std::map<std::string, std::string>>> expandSweep(
    const std::vector<ParamSpec>& specs, std::size_t maxJobs = 1000);

}  // namespace fetchml::ctl

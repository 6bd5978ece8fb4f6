#pragma once
// Job parameters given as `--param name=value` and sweeps: a value with commas lists the
// values to try, and a sweep is one job per combination (cartesian product), e.g.
// `--param C=0.1,1,10 --param gamma=a,b` gives 6 jobs. fetchmld expands the product
// (SubmitSweep); the client only parses the flags and builds the request.

#include <map>
#include <nlohmann/json.hpp>
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

/// True when any spec has more than one value: the submission is a sweep.
bool isSweep(const std::vector<ParamSpec>& specs);

/// The parameter fields of a submission: single-valued specs go to "params" (an object of
/// strings), the others, in order, to "sweep" ([{"name", "values"}], only when isSweep).
nlohmann::json paramFields(const std::vector<ParamSpec>& specs);

}  // namespace fetchml::ctl

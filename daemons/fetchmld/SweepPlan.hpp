#pragma once
// SweepPlan: a parameter sweep as fetchmld receives it (SubmitSweep): fixed parameters and
// axes, each a parameter name with the values to try. fetchmld expands it into one parameter
// map per combination (the cartesian product) and stores them as one group.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// One swept parameter: its name and the values to try, in order.
struct SweepAxis {
    std::string name;
    std::vector<std::string> values;
};

/// Most jobs one sweep may create (decisions.md "Sweeps").
inline constexpr std::size_t kMaxSweepJobs = 10000;

/// The parameter maps of a sweep: `fixed` plus one value of each axis, for every combination,
/// the first axis varying slowest (`--param a=1,2 --param b=x,y` gives a1 b=x, a1 b=y, a2 b=x,
/// a2 b=y). Parameter names are checked later with the job (Scheduler::validate).
/// Errors (InvalidArgument, naming the field): "sweep: at least one axis is needed",
/// "sweep.<name>: no values", "sweep.<name>: given twice", "sweep.<name>: also a fixed
/// parameter", "sweep.<name>: a value contains a NUL byte", "sweep: the combinations make more
/// than <maxJobs> jobs, the limit per sweep".
Result<std::vector<std::map<std::string, std::string>>> expandSweep(
    const std::map<std::string, std::string>& fixed, const std::vector<SweepAxis>& axes,
    std::size_t maxJobs = kMaxSweepJobs);

}  // namespace fetchml

#include "SweepPlan.hpp"

#include <set>

namespace fetchml {

namespace {

Error invalid(std::string message) {
    return makeError(ErrorCode::InvalidArgument, std::move(message));
}

}  // namespace

Result<std::vector<std::map<std::string, std::string>>> expandSweep(
    const std::map<std::string, std::string>& fixed, const std::vector<SweepAxis>& axes,
    std::size_t maxJobs) {
    if (axes.empty()) {
        return invalid("sweep: at least one axis is needed");
    }
    std::set<std::string> names;
    // The product is checked axis by axis so it cannot overflow before it is refused.
    std::size_t total = 1;
    bool tooMany = false;
    for (const auto& axis : axes) {
        const std::string field = "sweep." + axis.name.substr(0, 64);
        if (axis.values.empty()) {
            return invalid(field + ": no values");
        }
        if (!names.insert(axis.name).second) {
            return invalid(field + ": given twice");
        }
        if (fixed.count(axis.name) != 0) {
            return invalid(field + ": also a fixed parameter");
        }
        for (const auto& value : axis.values) {
            if (value.find('\0') != std::string::npos) {
                return invalid(field + ": a value contains a NUL byte");
            }
        }
        if (!tooMany && axis.values.size() > maxJobs / total) {
            tooMany = true;
        }
        total = tooMany ? total : total * axis.values.size();
    }
    if (tooMany || total > maxJobs) {
        return invalid("sweep: the combinations make more than " + std::to_string(maxJobs) +
                       " jobs, the limit per sweep");
    }
    std::vector<std::map<std::string, std::string>> out(1, fixed);
    for (const auto& axis : axes) {
        std::vector<std::map<std::string, std::string>> next;
        next.reserve(out.size() * axis.values.size());
        for (const auto& partial : out) {
            for (const auto& value : axis.values) {
                auto combo = partial;
                combo[axis.name] = value;
                next.push_back(std::move(combo));
            }
        }
        out = std::move(next);
    }
    return out;
}

}  // namespace fetchml

#include "JobState.hpp"

#include <array>
#include <utility>

namespace fetchml {

namespace {

constexpr std::array<std::pair<JobState, const char*>, 8> kNames{{
    {JobState::Held, "held"},
    {JobState::Queued, "queued"},
    {JobState::Starting, "starting"},
    {JobState::Running, "running"},
    {JobState::Succeeded, "succeeded"},
    {JobState::Failed, "failed"},
    {JobState::Cancelled, "cancelled"},
    {JobState::Lost, "lost"},
}};

}  // namespace

const char* jobStateName(JobState state) {
    for (const auto& [value, name] : kNames) {
        if (value == state) {
            return name;
        }
    }
    return "unknown";
}

std::optional<JobState> parseJobState(const std::string& name) {
    for (const auto& [value, text] : kNames) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

bool isTerminal(JobState state) {
    return state == JobState::Succeeded || state == JobState::Failed ||
           state == JobState::Cancelled;
}

bool canTransition(JobState from, JobState to) {
    using S = JobState;
    switch (from) {
        case S::Held:
            return to == S::Queued || to == S::Cancelled || to == S::Failed;
        case S::Queued:
            return to == S::Starting || to == S::Cancelled || to == S::Held;
        case S::Starting:
            return to == S::Running || to == S::Succeeded || to == S::Failed ||
                   to == S::Cancelled || to == S::Lost || to == S::Queued;
        case S::Running:
            return to == S::Succeeded || to == S::Failed || to == S::Cancelled || to == S::Lost ||
                   to == S::Queued;
        case S::Lost:
            return to == S::Queued || to == S::Failed;
        case S::Succeeded:
        case S::Failed:
        case S::Cancelled:
            return false;
    }
    return false;
}

}  // namespace fetchml

#pragma once
// JobState: the states of a job and the allowed transitions (DESIGN.md §4):
// queued → starting → running → succeeded | failed | cancelled, plus held and lost.

#include <optional>
#include <string>

namespace fetchml {

/// A job's state. Terminal states: succeeded, failed, cancelled.
enum class JobState { Held, Queued, Starting, Running, Succeeded, Failed, Cancelled, Lost };

/// Lowercase name as stored and sent ("queued", ...).
const char* jobStateName(JobState state);
/// Inverse of jobStateName; nullopt for an unknown name.
std::optional<JobState> parseJobState(const std::string& name);
/// True for succeeded, failed and cancelled.
bool isTerminal(JobState state);
/// True when a job may move from `from` to `to`:
/// held → queued | cancelled | failed (a dependency that can no longer be met); queued → starting |
/// cancelled | held; starting → running | succeeded | failed | cancelled | lost | queued (a retry);
/// running → succeeded | failed | cancelled | lost | queued (a retry); lost → queued | failed.
/// Terminal states move nowhere.
bool canTransition(JobState from, JobState to);

}  // namespace fetchml

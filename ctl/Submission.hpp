#pragma once
// Submission: the job (or sweep) that `fetchmlctl queue` submits, and that `fetchmlctl watch
// --queue` submits for each new commit: the options both commands take (addQueueOptions),
// checked once (prepare), submitted for any commit (submit), and the answer printed the way
// `queue` prints it (printSubmitted).

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "Transport.hpp"
#include "core/Result.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace fetchml::ctl {

/// The submission options of `queue` and `watch --queue` (docs/cli.md "queue").
struct QueueOptions {
    std::vector<std::string> command;  ///< CMD..., after "--" (each command adds that option)
    std::string image;
    int priority = 0;
    int retries = 0;
    std::vector<std::string> after;
    std::vector<std::string> afterOk;
    std::vector<std::string> params;
    std::string name;
    double cpus = 0;
    std::string memory;
    unsigned gpus = 0;
    std::string time;
    std::vector<std::string> data;  ///< --data NAME[@VERSION] (repeatable)
};

/// Adds --image, --priority, --retries, --after, --after-ok, --param, --name, --cpus,
/// --memory, --gpus, --time and --data to cmd, stored into options (which must outlive cmd's
/// parse). Returns the options added, so that a command can tell whether any was given.
std::vector<CLI::Option*> addQueueOptions(CLI::App& cmd, QueueOptions& options);

/// A checked submission, ready to be sent for any commit.
class Submission {
public:
    /// Checks options (parameters and sweeps, resource sizes and durations) and builds the
    /// request. Errors: InvalidArgument naming the flag.
    static Result<Submission> prepare(const QueueOptions& options);

    /// True when the parameters make a sweep (several jobs, one call).
    bool isSweep() const { return sweep_; }
    /// Submits for commit (the tree's commit id): the job (submitJob) or {"sweep", "jobs",
    /// "state"} (submitSweep). Errors: the transport's, unchanged (NotFound "commit: ..." when
    /// the server does not know the commit).
    Result<nlohmann::json> submit(Transport& transport, const std::string& commit) const;

private:
    // submit() sets "commit" in place: a copy per call would copy every value of a sweep.
    mutable nlohmann::json request_;
    bool sweep_ = false;
};

/// Prints what submit() answered as `queue` does: the job id (or, for a sweep, one job id a
/// line on stdout and "fetchmlctl: sweep <id>: N jobs <state>" on stderr); with json, a job as
/// a JSON array of one, or the sweep's answer.
void printSubmitted(const nlohmann::json& answer, bool sweep, bool json);

/// The job ids of what submit() answered (one for a job, every job of a sweep).
std::vector<std::string> submittedJobIds(const nlohmann::json& answer, bool sweep);

}  // namespace fetchml::ctl

#pragma once
// JobFields: the one list of a job's fields as the D-Bus API shows them (the dictionary of
// GetJob, of each ListJobs element and of the JobChanged signal; documented in
// common/dbus/org.fetchml.Scheduler1.xml), and two ways of writing it: into a VariantMap for
// the generated adaptor's replies, and straight into a D-Bus message for the signal, which
// skips the one sd_bus_message an sdbus::Variant holds per field (a 1,000-job sweep emits
// 1,000 signals of 30 fields; decisions.md "One call for a known tree; cheap
// announcements").

#include <sdbus-c++/sdbus-c++.h>

#include <type_traits>

#include "Job.hpp"
#include "JobState.hpp"
#include "proto/VariantJson.hpp"

namespace fetchml {

/// Calls sink(key, value) once per field, in a fixed order. key is a const char*; value a
/// const reference to a type sdbus-c++ can serialize (s, i, u, x, as, a{ss}, a{sd}). Times
/// are ms since the epoch (0 = not yet); "host"/"origin" are "" for this host.
template <typename Sink>
void forEachJobField(const Job& job, Sink&& sink) {
    sink("id", job.id);
    sink("name", job.spec.name);
    sink("state", std::string(jobStateName(job.state)));
    sink("user", job.spec.user);
    sink("commit", job.spec.commit);
    sink("command", job.spec.command);
    sink("image", job.spec.image);
    sink("priority", job.spec.priority);
    sink("effective_priority", job.effectivePriority);
    sink("params", job.spec.params);
    sink("exit_code", job.exitCode);
    sink("reason", job.reason);
    sink("submitted_at", job.submittedAt);
    sink("started_at", job.startedAt);
    sink("finished_at", job.finishedAt);
    sink("results", job.results);
    sink("metrics", job.metrics);
    sink("max_retries", job.spec.maxRetries);
    sink("attempt", job.attempt);
    sink("not_before", job.notBefore);
    sink("after", job.spec.after);
    sink("after_ok", job.spec.afterOk);
    sink("cpus", job.spec.cpus);
    sink("memory_mib", job.spec.memoryMib);
    sink("gpus", job.spec.gpus);
    sink("max_runtime_s", job.spec.maxRuntimeS);
    sink("devices", job.devices);
    sink("sweep", sweepIdFromSeq(job.sweepSeq));
    // Several hosts: where it runs ("" = this host) and where it was submitted ("" = here).
    sink("host", job.host);
    sink("origin", job.origin);
    // Datasets: the exact versions ("NAME@VERSION") and their trees (NAME -> tree id).
    sink("data", dataNames(job.spec.data));
    sink("data_trees", dataTrees(job.spec.data));
}

/// The job as a dictionary a{sv}.
inline VariantMap jobToVariantMap(const Job& job) {
    VariantMap out;
    forEachJobField(job, [&out](const char* key, const auto& value) { out[key] = value; });
    return out;
}

/// Appends the job as a{sv} to message (open for writing); the same dictionary as
/// jobToVariantMap. Throws sdbus::Error when sd-bus refuses a value (out of memory).
inline void appendJob(sdbus::Message& message, const Job& job) {
    message.openContainer("{sv}");
    forEachJobField(job, [&message](const char* key, const auto& value) {
        using T = std::decay_t<decltype(value)>;
        message.openDictEntry("sv");
        message << key;
        message.openVariant(sdbus::signature_of<T>::str());
        message << value;
        message.closeVariant();
        message.closeDictEntry();
    });
    message.closeContainer();
}

}  // namespace fetchml

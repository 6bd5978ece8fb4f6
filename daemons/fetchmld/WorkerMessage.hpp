#pragma once
// WorkerMessage: one line that fetchml-workerd sent to fetchmld on the worker socket, decoded
// and type-checked (docs/architecture/decisions.md "Worker socket", worker -> fetchmld), without
// any I/O so that it is fuzzed on its own (tests/fuzz/worker_to_scheduler.cpp). WorkerLink acts
// on the result.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "Placement.hpp"
#include "core/Result.hpp"

namespace fetchml {

/// A decoded worker message. Fields a type does not have keep their defaults.
struct WorkerMessage {
    std::string type;  ///< "hello", "started", "metric", "exited", "running", "error" or other
    std::string id;    ///< "id" of started, metric, exited, error ("" when absent)

    bool versionOk = false;        ///< hello: "version" is 1
    std::string version = "null";  ///< hello: "version" as JSON text, for the log line
    /// hello: "capacity": slots, cpus (a number), memory_mib, gpus (CDI device names; members
    /// that are not strings are skipped); each 0 or empty when absent.
    WorkerCapacity capacity;
    std::vector<std::string> running;  ///< hello: the string members of "running"
    /// hello: the string members of "finished" (jobs whose `exited` follows, unacknowledged)
    std::vector<std::string> finished;

    std::int64_t step = 0;                 ///< metric: "step" (0 when absent)
    std::map<std::string, double> values;  ///< metric: the number members of "values"

    std::int32_t exitCode = 0;      ///< exited: "exit_code" (0 when absent)
    std::int32_t signal = 0;        ///< exited: "signal" (0 when absent)
    std::string reason = "exited";  ///< exited: "reason"
    std::string message;            ///< exited, error: "message" ("" when absent)
};

/// Decodes one line (without its '\n'). An integer field may be a JSON integer or a finite
/// number, which is truncated; it must fit its type. Members of "running" that are not
/// strings and members of "values" that are not numbers are skipped, as are unknown fields.
/// Errors (InvalidArgument): "not a JSON object with a type" for invalid JSON, a non-object or
/// a missing or non-string "type"; "field '<name>': expected <what>" for a field of the wrong
/// type or out of range. `type` receives the message's type whenever it has one, also when a
/// field is malformed (so a malformed hello can be told apart), else "".
Result<WorkerMessage> parseWorkerMessage(std::string_view line, std::string& type);

}  // namespace fetchml

#pragma once
// Audit events: every authentication result and every state-changing action, one event each
// (docs/security.md "Audit log"). Under journald (JOURNAL_STREAM set or log target "journal")
// an event is one journal entry with the fields FETCHML_AUDIT=1, USER=, ACTION=, RESULT=,
// REMOTE_ADDR=, JOB_ID= and MESSAGE= (sd_journal_send(3)); otherwise one line on the "audit"
// logger: "audit: <message> [action=... result=... user=... remote_addr=... job_id=...]".
// Values are cleaned of control characters so a caller cannot forge a second line. Never
// pass a secret (API key) in any field.

#include <string>

namespace fetchml {

/// One audit event. Empty fields are left out ("-" in the text form).
struct AuditEvent {
    std::string action;      ///< dotted verb: "auth", "job.submit", "job.cancel", "key.create"...
    std::string result;      ///< "ok", "denied" (not permitted) or "failed" (bad credentials/input)
    std::string user;        ///< the acting user, "" when not known (failed authentication)
    std::string remoteAddr;  ///< client IP address of a LAN caller, "" for local callers
    std::string jobId;       ///< the job acted on, "" when none
    std::string message;     ///< one human sentence, e.g. "authentication failed from 192.0.2.7"
};

/// Records an event (journal entry or log line, see above). Never throws; a journal that
/// cannot be written is reported once on stderr. Thread-safe.
void audit(const AuditEvent& event);

/// Replaces control characters (< 0x20, 0x7f) with '?' and cuts to 256 bytes: the form every
/// audit field and message is written in.
std::string auditClean(const std::string& value);

}  // namespace fetchml

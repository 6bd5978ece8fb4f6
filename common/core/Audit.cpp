#include "core/Audit.hpp"

#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/Log.hpp"

namespace fetchml {
namespace {

constexpr std::size_t kMaxField = 256;

std::string orDash(const std::string& v) {
    return v.empty() ? "-" : auditClean(v);
}

void sendJournal(const AuditEvent& e) {
    std::vector<std::string> fields = {
        "MESSAGE=" + auditClean(e.message),
        std::string("PRIORITY=") + (e.result == "ok" ? "6" : "5"),
        "FETCHML_AUDIT=1",
        "ACTION=" + auditClean(e.action),
        "RESULT=" + auditClean(e.result),
    };
    if (!e.user.empty()) {
        fields.push_back("USER=" + auditClean(e.user));
    }
    if (!e.remoteAddr.empty()) {
        fields.push_back("REMOTE_ADDR=" + auditClean(e.remoteAddr));
    }
    if (!e.jobId.empty()) {
        fields.push_back("JOB_ID=" + auditClean(e.jobId));
    }
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (auto& f : fields) {
        iov.push_back(iovec{f.data(), f.size()});
    }
    int r = sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
    static bool reported = false;
    if (r < 0 && !reported) {
        reported = true;
        std::fprintf(stderr, "audit: cannot write to the journal (error %d)\n", -r);
    }
}

}  // namespace

std::string auditClean(const std::string& value) {
    std::string out = value.substr(0, kMaxField);
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            c = '?';
        }
    }
    return out;
}

void audit(const AuditEvent& e) {
    if (logsToJournal()) {
        sendJournal(e);
        return;
    }
    auto level = e.result == "ok" ? spdlog::level::info : spdlog::level::warn;
    logger("audit")->log(level, "audit: {} [action={} result={} user={} remote_addr={} job_id={}]",
                         auditClean(e.message), orDash(e.action), orDash(e.result), orDash(e.user),
                         orDash(e.remoteAddr), orDash(e.jobId));
}

}  // namespace fetchml

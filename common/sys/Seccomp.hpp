#pragma once
// SeccompFilter: a libseccomp allow-list (seccomp(2), seccomp_init(3)) that a daemon installs
// once its start-up is done (sockets bound, certificate loaded, bus connected, threads
// started; STYLE.md "drop privileges, seccomp → READY=1"). It is loaded into every thread of
// the process at once (SECCOMP_FILTER_FLAG_TSYNC) and sets no-new-privileges.
//
// A forbidden call kills the whole process (SECCOMP_RET_KILL_PROCESS) by default: after
// start-up such a call is either an attack or a bug, and a clean crash that systemd restarts
// (Restart=on-failure; the journal shows status=31/SYS and the kernel's audit log the call
// number) is safer than a daemon that goes on with a half-failed operation. Violation::Errno
// (EPERM instead) exists for tests and for callers that must survive a probe.
//
// Builds with AddressSanitizer (FETCHML_SANITIZE) additionally allow what the sanitizer
// runtime needs at run and report time, including ptrace and process clone for
// LeakSanitizer's exit-time check; normal builds never allow them.

#include <seccomp.h>

#include <memory>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// An allow-list filter, not yet installed. Move-only; owns the libseccomp context.
class SeccompFilter {
public:
    /// What a call outside the list gets.
    enum class Violation {
        Kill,   ///< SECCOMP_RET_KILL_PROCESS: the process dies of SIGSYS
        Errno,  ///< the call fails with EPERM
    };

    /// A filter allowing exactly `syscalls` (names as seccomp_syscall_resolve_name(3) takes
    /// them, e.g. "read"). Names this architecture does not have are skipped. Besides the
    /// names, "clone" is allowed only with CLONE_THREAD (new threads, not processes) and
    /// "clone3" fails with ENOSYS so the C library falls back to clone. Errors: Internal when
    /// libseccomp refuses a rule, InvalidArgument for a name no architecture knows.
    static Result<SeccompFilter> allowing(const std::vector<std::string>& syscalls,
                                          Violation violation = Violation::Kill);

    /// The calls a network service needs after start-up: memory, threads and futexes,
    /// signals, clocks and timers, epoll/poll, I/O on descriptors it holds, accept and
    /// socket I/O (sendmsg/recvmsg with descriptors, for D-Bus and the journal), opening
    /// files for reading a configuration on reload, O_TMPFILE/memfd spools, getrandom.
    /// Absent on purpose: execve, fork, ptrace, mount, setuid and the other credential
    /// calls, bind/listen, chmod/chown, namespace and module calls, bpf, io_uring.
    static std::vector<std::string> networkServiceSyscalls();

    /// Sets PR_SET_NO_NEW_PRIVS and loads the filter into every thread of the process
    /// (SECCOMP_FILTER_FLAG_TSYNC). Irreversible. Errors: Internal with the errno text (for
    /// example when a thread has a filter that cannot be synchronised).
    Result<void> install();

private:
    struct Release {
        void operator()(void* ctx) const { seccomp_release(ctx); }
    };
    explicit SeccompFilter(void* ctx) : ctx_(ctx) {}
    std::unique_ptr<void, Release> ctx_;
};

}  // namespace fetchml

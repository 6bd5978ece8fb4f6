#include "sys/Seccomp.hpp"

#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace fetchml {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

Error seccompError(const std::string& what, int rc) {
    return makeError(ErrorCode::Internal, "seccomp: " + what + ": " + std::strerror(-rc));
}

/// Rules with argument checks: clone only for threads, clone3 answered ENOSYS (its flags are
/// behind a pointer a filter cannot read), socket only for the families the service uses,
/// ioctl only for the requests Asio and the C library make on sockets and terminals.
Result<void> addConditionalRules(scmp_filter_ctx ctx) {
    int rc = 0;
    if (kSanitized) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
    } else {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    }
    if (rc < 0) {
        return seccompError("clone rule", rc);
    }
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0) {
        return seccompError("clone3 rule", rc);
    }
    for (int family : {AF_UNIX, AF_INET, AF_INET6}) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)));
        if (rc < 0) {
            return seccompError("socket rule", rc);
        }
    }
    for (unsigned long request : {FIONBIO, FIONREAD, TCGETS, TIOCGWINSZ}) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(request)));
        if (rc < 0) {
            return seccompError("ioctl rule", rc);
        }
    }
    return {};
}

}  // namespace

Result<SeccompFilter> SeccompFilter::allowing(const std::vector<std::string>& syscalls,
                                              Violation violation) {
    std::uint32_t deny =
        violation == Violation::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
    scmp_filter_ctx raw = seccomp_init(deny);
    if (raw == nullptr) {
        return makeError(ErrorCode::Internal, "seccomp: cannot create a filter context");
    }
    SeccompFilter filter(raw);
    int rc = seccomp_attr_set(raw, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc < 0) {
        return seccompError("thread synchronisation (TSYNC)", rc);
    }
    std::vector<std::string> names = syscalls;
    if (kSanitized) {
        // The sanitizer runtime: its report path and LeakSanitizer's exit-time StopTheWorld.
        names.insert(names.end(),
                     {"ptrace", "wait4", "prctl", "sched_getaffinity", "readlink", "readlinkat",
                      "sigaltstack", "getrlimit", "prlimit64", "pipe", "pipe2"});
    }
    std::set<std::string> unique(names.begin(), names.end());
    for (const auto& name : unique) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) {
            return makeError(ErrorCode::InvalidArgument,
                             "seccomp: unknown system call '" + name + "'");
        }
        if (nr < 0) {
            continue;  // not on this architecture (libseccomp's pseudo number)
        }
        if ((rc = seccomp_rule_add(raw, SCMP_ACT_ALLOW, nr, 0)) < 0) {
            return seccompError("rule for " + name, rc);
        }
    }
    if (auto r = addConditionalRules(raw); !r) {
        return r.error();
    }
    return filter;
}

std::vector<std::string> SeccompFilter::networkServiceSyscalls() {
    return {
        // Memory.
        "brk",
        "mmap",
        "munmap",
        "mremap",
        "mprotect",
        "madvise",
        // Threads, futexes, scheduling (threads exist before the filter; glibc and
        // OpenSSL still call these).
        "futex",
        "futex_waitv",
        "set_robust_list",
        "get_robust_list",
        "rseq",
        "set_tid_address",
        "gettid",
        "getpid",
        "getppid",
        "sched_yield",
        "sched_getaffinity",
        "membarrier",
        // Process end, signals (abort() raises with tgkill; Asio's signal_set handler).
        "exit",
        "exit_group",
        "tgkill",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigtimedwait",
        "sigaltstack",
        "restart_syscall",
        // Clocks and timers.
        "clock_gettime",
        "clock_getres",
        "clock_nanosleep",
        "nanosleep",
        "gettimeofday",
        "time",
        "timerfd_create",
        "timerfd_settime",
        "timerfd_gettime",
        // Readiness: Asio's epoll reactor and eventfd interrupter; sd-bus waits with ppoll.
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "eventfd2",
        "pipe2",
        // I/O on descriptors it holds.
        "read",
        "write",
        "readv",
        "writev",
        "pread64",
        "pwrite64",
        "preadv",
        "pwritev",
        "lseek",
        "close",
        "close_range",
        "dup",
        "dup2",
        "dup3",
        "fcntl",
        "fstat",
        "newfstatat",
        "statx",
        "fstatfs",
        "fadvise64",
        "ftruncate",
        "fallocate",
        "fsync",
        "fdatasync",
        // Files: the configuration and certificate on reload (read), the O_TMPFILE upload
        // spool, the port file removed at exit, the journal's memfd for large entries.
        "openat",
        "open",
        "stat",
        "lstat",
        "access",
        "faccessat",
        "faccessat2",
        "readlink",
        "readlinkat",
        "getdents64",
        "getcwd",
        "unlink",
        "unlinkat",
        "memfd_create",
        // Sockets: accepting clients, TLS records, D-Bus and the journal (sendmsg/recvmsg
        // carry descriptors as SCM_RIGHTS), and reconnecting to a Unix socket.
        "accept",
        "accept4",
        "connect",
        "shutdown",
        "getsockname",
        "getpeername",
        "setsockopt",
        "getsockopt",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "sendmmsg",
        "recvmmsg",
        // Identity and system facts read by sd-bus, OpenSSL and the C library.
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getgroups",
        "getresuid",
        "getresgid",
        "uname",
        "sysinfo",
        "getrandom",
        "getrlimit",
        "prlimit64",
        "prctl",
    };
}

Result<void> SeccompFilter::install() {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return makeError(ErrorCode::Internal,
                         std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + std::strerror(errno));
    }
    int rc = seccomp_load(ctx_.get());
    if (rc < 0) {
        return seccompError("loading the filter", rc);
    }
    return {};
}

}  // namespace fetchml

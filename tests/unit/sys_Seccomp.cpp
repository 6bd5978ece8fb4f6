// SeccompFilter in a forked child: an allowed call works, a forbidden one (execve, fork) kills
// the child with SIGSYS, or fails with EPERM in Errno mode; no-new-privileges is set.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <functional>

#include "sys/Seccomp.hpp"

using fetchml::SeccompFilter;

namespace {

/// Runs body in a forked child after installing the network-service filter with violation;
/// returns the wait status. The child exits 0 when body returns true, 1 otherwise, 2 when
/// the filter could not be built or installed.
int inFilteredChild(SeccompFilter::Violation violation, const std::function<bool()>& body) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto filter = SeccompFilter::allowing(SeccompFilter::networkServiceSyscalls(), violation);
        if (!filter || !filter->install()) {
            ::_exit(2);
        }
        ::_exit(body() ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

bool allowedCallsWork() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0 || ::write(fds[1], "x", 1) != 1) {
        return false;
    }
    char c = 0;
    return ::read(fds[0], &c, 1) == 1 && c == 'x' && ::getpid() > 0 &&
           ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
}

bool execTrue() {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    char* envp[] = {nullptr};
    ::execve("/bin/true", argv, envp);
    return errno == EPERM;  // reached only if execve failed
}

}  // namespace

TEST_CASE("seccomp: allowed calls work in a filtered process", "[sys][seccomp]") {
    int status = inFilteredChild(SeccompFilter::Violation::Kill, allowedCallsWork);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("seccomp: execve kills the filtered process with SIGSYS", "[sys][seccomp]") {
    int status = inFilteredChild(SeccompFilter::Violation::Kill, execTrue);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGSYS);
}

TEST_CASE("seccomp: in Errno mode execve fails with EPERM", "[sys][seccomp]") {
    int status = inFilteredChild(SeccompFilter::Violation::Errno, execTrue);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("seccomp: a new process (fork) is refused, a thread's clone is not", "[sys][seccomp]") {
    int status = inFilteredChild(SeccompFilter::Violation::Errno, [] {
        pid_t child = ::fork();
        if (child == 0) {
            ::_exit(0);
        }
        return child < 0 && errno == EPERM;
    });
    REQUIRE(WIFEXITED(status));
#if !defined(__SANITIZE_ADDRESS__)
    CHECK(WEXITSTATUS(status) == 0);
#endif
}

TEST_CASE("seccomp: unknown names are refused", "[sys][seccomp]") {
    auto filter = SeccompFilter::allowing({"read", "no_such_call"});
    REQUIRE_FALSE(filter.ok());
    CHECK(filter.error().message.find("no_such_call") != std::string::npos);
}

#include "IdMapService.hpp"

#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/Log.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("idmap");
}

std::string userNameOf(uid_t uid) {
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buf(16384);
    if (::getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
        return found->pw_name;
    }
    return {};
}

// Reads up to and including the first "\n"; false on error, timeout or an over-long line.
bool readLine(int fd, std::string& line) {
    char buf[512];
    while (line.find('\n') == std::string::npos) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        line.append(buf, static_cast<std::size_t>(n));
        if (line.size() > kMaxLineBytes + 1) {
            return false;
        }
    }
    line.resize(line.find('\n') + 1);
    return true;
}

bool writeAll(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int serveIdMapConnection(int fd, const SubIdFiles& files) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        log()->error("no peer credentials on the connection: {}", std::strerror(errno));
        return 1;
    }
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    IdMapCaller caller{cred.uid, cred.gid, userNameOf(cred.uid)};
    const std::string who =
        (caller.userName.empty() ? "uid " + std::to_string(cred.uid) : caller.userName) + " (pid " +
        std::to_string(cred.pid) + ")";
    std::string line;
    if (!readLine(fd, line)) {
        log()->warn("{}: no complete request line within 5 s and {} bytes", who, kMaxLineBytes);
        writeAll(fd, "error no complete request line\n");
        return 1;
    }
    auto request = parseIdMapRequestLine(line);
    Result<void> outcome = request ? applyIdMap(*request, caller, files) : request.error();
    if (!outcome) {
        log()->warn("{}: refused: {}", who, outcome.error().message);
        return writeAll(fd, "error " + outcome.error().message + "\n") ? 0 : 1;
    }
    std::string map = formatIdMapFile(request->mappings);
    for (auto& c : map) {
        c = c == '\n' ? ',' : c;
    }
    map.pop_back();
    log()->info("{}: wrote {} map of process {}: {}", who, idKindName(request->kind), request->pid,
                map);
    return writeAll(fd, "ok\n") ? 0 : 1;
}

}  // namespace fetchml

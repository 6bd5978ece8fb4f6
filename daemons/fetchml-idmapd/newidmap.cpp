// newuidmap / newgidmap for fetchml-workerd: same arguments as shadow's tools
// (newuidmap(1)), but instead of being setuid root they ask fetchml-idmapd over
// /run/fetchml-idmap.sock (FETCHML_IDMAP_SOCKET overrides) to write the map. Rootless podman
// finds them first in the worker's PATH (the unit's Environment=PATH=).
//
// Exit status: 0 when the map was written, 1 otherwise (the reason on stderr).

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "IdMapRequest.hpp"
#include "sys/UniqueFd.hpp"

#ifndef FETCHML_IDMAP_KIND_GROUP
#define FETCHML_IDMAP_KIND_GROUP 0
#endif

int main(int argc, char** argv) {
    using namespace fetchml;
    const IdKind kind = FETCHML_IDMAP_KIND_GROUP ? IdKind::Group : IdKind::User;
    const std::string tool = idKindTool(kind);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << "usage: " << tool << " PID INSIDE OUTSIDE COUNT [INSIDE OUTSIDE COUNT ...]\n"
                  << "Asks fetchml-idmapd to write /proc/PID/" << idKindName(kind) << "_map.\n";
        return 0;
    }
    auto request = parseIdMapArguments(kind, args);
    if (!request) {
        std::cerr << tool << ": " << request.error().message << "\n";
        return 1;
    }
    const char* env = std::getenv("FETCHML_IDMAP_SOCKET");
    const std::string path = env != nullptr && *env != '\0' ? env : "/run/fetchml-idmap.sock";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        std::cerr << tool << ": socket path too long: " << path << "\n";
        return 1;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        std::cerr << tool << ": cannot connect to fetchml-idmapd at " << path << ": "
                  << std::strerror(err)
                  << (err == EACCES ? " (only group fetchml-worker may use it)"
                                    : " (is fetchml-idmapd.socket active?)")
                  << "\n";
        return 1;
    }
    const std::string line = formatIdMapRequestLine(*request);
    if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(line.size())) {
        std::cerr << tool << ": sending the request failed: " << std::strerror(errno) << "\n";
        return 1;
    }
    std::string answer;
    char buf[512];
    ssize_t n = 0;
    while (answer.size() <= kMaxLineBytes && (n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        answer.append(buf, static_cast<std::size_t>(n));
        if (answer.find('\n') != std::string::npos) {
            break;
        }
    }
    if (answer == "ok\n") {
        return 0;
    }
    if (answer.rfind("error ", 0) == 0) {
        answer = answer.substr(6);
    }
    while (!answer.empty() && answer.back() == '\n') {
        answer.pop_back();
    }
    std::cerr << tool << ": fetchml-idmapd refused: "
              << (answer.empty() ? std::string("no answer") : answer) << "\n";
    return 1;
}

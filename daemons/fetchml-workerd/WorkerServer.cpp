#include "WorkerServer.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "PodmanExecutor.hpp"
#include "core/Log.hpp"

namespace fetchml {
namespace {

constexpr std::size_t kMaxPending = 100000;

std::shared_ptr<spdlog::logger> log() {
    return logger("worker.socket");
}

Error sysError(const std::string& what) {
    return makeError(ErrorCode::Internal, what + ": " + std::strerror(errno));
}

}  // namespace

WorkerServer::WorkerServer(sd_event* event, WorkerSettings worker)
    : event_(event), worker_(std::move(worker)) {}

WorkerServer::~WorkerServer() {
    listenSource_.reset();
    reapSource_.reset();
    conns_.clear();
    if (boundPath_) {
        ::unlink(worker_.socket.c_str());
    }
}

Result<void> WorkerServer::listen() {
    sd_event_source* src = nullptr;
    int r = sd_event_add_defer(event_, &src, &WorkerServer::onReap, this);
    if (r < 0) {
        return makeError(ErrorCode::Internal, "sd_event_add_defer: " + std::string(strerror(-r)));
    }
    reapSource_.reset(src);
    sd_event_source_set_enabled(src, SD_EVENT_OFF);

    char** names = nullptr;
    int count = sd_listen_fds_with_names(1, &names);
    if (count < 0) {
        return makeError(ErrorCode::Internal,
                         "sd_listen_fds: " + std::string(std::strerror(-count)));
    }
    auto got = count > 0 ? takeActivated(count, names) : bindSocket();
    for (int i = 0; names != nullptr && names[i] != nullptr; ++i) {
        std::free(names[i]);
    }
    std::free(names);
    if (!got) {
        return got;
    }
    src = nullptr;
    r = sd_event_add_io(event_, &src, listenFd_.get(), EPOLLIN, &WorkerServer::onAccept, this);
    if (r < 0) {
        return makeError(ErrorCode::Internal, "sd_event_add_io: " + std::string(strerror(-r)));
    }
    listenSource_.reset(src);
    return {};
}

Result<void> WorkerServer::takeActivated(int count, char** names) {
    int fd = SD_LISTEN_FDS_START;
    for (int i = 0; names != nullptr && i < count && names[i] != nullptr; ++i) {
        if (std::strcmp(names[i], "worker") == 0) {
            fd = SD_LISTEN_FDS_START + i;
        }
    }
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
        return makeError(ErrorCode::Internal,
                         "the socket passed by systemd is not a listening Unix stream socket");
    }
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    listenFd_.reset(fd);
    activated_ = true;
    address_ = "(from systemd)";
    return {};
}

Result<void> WorkerServer::bindSocket() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (worker_.socket.empty() || worker_.socket.size() >= sizeof addr.sun_path) {
        return makeError(ErrorCode::Internal, "worker.socket path is empty or too long");
    }
    std::memcpy(addr.sun_path, worker_.socket.c_str(), worker_.socket.size());
    listenFd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listenFd_) {
        return sysError("socket");
    }
    struct stat st {};
    if (::lstat(worker_.socket.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return makeError(ErrorCode::Internal,
                             worker_.socket + " exists and is not a socket; not removing it");
        }
        ::unlink(worker_.socket.c_str());
    }
    // Bind with a umask that leaves 0660 at most, then set it exactly.
    mode_t old = ::umask(0117);
    int rc = ::bind(listenFd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc != 0) {
        return sysError("bind " + worker_.socket);
    }
    boundPath_ = true;
    if (::chmod(worker_.socket.c_str(), 0660) != 0) {
        return sysError("chmod " + worker_.socket);
    }
    if (::listen(listenFd_.get(), 64) != 0) {
        return sysError("listen " + worker_.socket);
    }
    address_ = worker_.socket;
    return {};
}

void WorkerServer::stopListening() {
    listenSource_.reset();
    listenFd_.reset();
}

namespace {

/// Whether user `uid` with primary group `gid` belongs to group `name` (group(5)).
bool inGroup(uid_t uid, gid_t gid, const std::string& name) {
    std::vector<char> buf(16384);
    group entry{};
    group* found = nullptr;
    if (::getgrnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found) != 0 || !found) {
        return false;
    }
    if (found->gr_gid == gid) {
        return true;
    }
    std::vector<char> pbuf(16384);
    passwd user{};
    passwd* pw = nullptr;
    if (::getpwuid_r(uid, &user, pbuf.data(), pbuf.size(), &pw) != 0 || !pw) {
        return false;
    }
    if (pw->pw_gid == found->gr_gid) {
        return true;
    }
    for (char** member = found->gr_mem; member && *member; ++member) {
        if (std::strcmp(*member, pw->pw_name) == 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool WorkerServer::peerAllowed(uid_t uid, gid_t gid) const {
    if (uid == 0 || uid == ::getuid()) {
        return true;
    }
    if (std::find(worker_.allowedUids.begin(), worker_.allowedUids.end(), uid) !=
        worker_.allowedUids.end()) {
        return true;
    }
    return std::any_of(worker_.allowedGroups.begin(), worker_.allowedGroups.end(),
                       [&](const std::string& name) { return inGroup(uid, gid, name); });
}

void WorkerServer::accept() {
    for (;;) {
        UniqueFd fd(::accept4(listenFd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno != EAGAIN && errno != EINTR) {
                log()->warn("accept: {}", std::strerror(errno));
            }
            return;
        }
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            !peerAllowed(cred.uid, cred.gid)) {
            log()->warn("refused connection from pid {} uid {}: not an allowed peer", cred.pid,
                        cred.uid);
            continue;
        }
        auto conn = std::make_unique<WorkerConnection>(
            std::move(fd), cred.pid, cred.uid,
            [this](WorkerConnection& c, const std::string& line) { handleLine(c, line); },
            [this](WorkerConnection& c) {
                log()->info("connection {} closed", c.name());
                scheduleReap();
            });
        if (auto r = conn->attach(event_); !r) {
            log()->error("connection from pid {}: {}", cred.pid, r.error().message);
            continue;
        }
        log()->info("connection {} accepted", conn->name());
        conns_.push_back(std::move(conn));
    }
}

void WorkerServer::handleLine(WorkerConnection& conn, const std::string& line) {
    auto msg = nlohmann::json::parse(line, nullptr, false);
    if (msg.is_discarded() || !msg.is_object() || !msg.contains("type") ||
        !msg["type"].is_string()) {
        conn.send({{"type", "error"}, {"message", "expected a JSON object with a \"type\""}});
        return;
    }
    const auto type = msg["type"].get<std::string>();
    log()->debug("connection {}: {}", conn.name(), type);
    if (type == "hello") {
        handleHello(conn, msg);
    } else if (!conn.ready()) {
        conn.send({{"type", "error"}, {"message", "the first message must be hello"}});
    } else if (type == "run") {
        executor_->run(msg);
    } else if (type == "cancel" && msg.contains("id") && msg["id"].is_string()) {
        executor_->cancel(msg["id"].get<std::string>());
    } else if (type == "status") {
        conn.send({{"type", "running"}, {"ids", executor_->runningIds()}});
    } else if (type == "ack" && msg.contains("id") && msg["id"].is_string()) {
        const auto id = msg["id"].get<std::string>();
        std::erase_if(unacked_, [&id](const nlohmann::json& m) { return m.value("id", "") == id; });
    } else {
        conn.send({{"type", "error"}, {"message", "unknown or malformed message: " + type}});
    }
}

void WorkerServer::handleHello(WorkerConnection& conn, const nlohmann::json& msg) {
    auto version = msg.find("version");
    if (version == msg.end() || !version->is_number_integer() || version->get<int>() != 1) {
        conn.send({{"type", "error"}, {"message", "unsupported protocol version; expected 1"}});
        conn.close();
        return;
    }
    std::vector<std::string> finished;
    for (const auto& m : unacked_) {
        finished.push_back(m.value("id", ""));
    }
    conn.send({{"type", "hello"},
               {"version", 1},
               {"capacity", executor_->capacity()},
               {"running", executor_->runningIds()},
               {"finished", finished}});
    conn.setReady();
    while (!pending_.empty() && !conn.closed()) {
        conn.send(pending_.front());
        pending_.pop_front();
    }
    for (const auto& m : unacked_) {
        conn.send(m);
    }
}

void WorkerServer::broadcast(const nlohmann::json& message) {
    if (message.value("type", "") == "exited") {
        if (unacked_.size() >= kMaxPending) {
            unacked_.pop_front();
        }
        unacked_.push_back(message);
        for (auto& conn : conns_) {
            if (conn->ready() && !conn->closed()) {
                conn->send(message);
            }
        }
        return;
    }
    bool sent = false;
    for (auto& conn : conns_) {
        if (conn->ready() && !conn->closed()) {
            conn->send(message);
            sent = true;
        }
    }
    if (!sent) {
        if (pending_.size() >= kMaxPending) {
            pending_.pop_front();
        }
        pending_.push_back(message);
    }
}

void WorkerServer::scheduleReap() {
    if (reapSource_) {
        sd_event_source_set_enabled(reapSource_.get(), SD_EVENT_ONESHOT);
    }
}

int WorkerServer::onAccept(sd_event_source*, int, std::uint32_t, void* userdata) {
    static_cast<WorkerServer*>(userdata)->accept();
    return 0;
}

int WorkerServer::onReap(sd_event_source*, void* userdata) {
    // Runs outside every connection callback, so closed connections can be freed here.
    auto& conns = static_cast<WorkerServer*>(userdata)->conns_;
    conns.erase(
        std::remove_if(conns.begin(), conns.end(), [](const auto& c) { return c->closed(); }),
        conns.end());
    return 0;
}

}  // namespace fetchml

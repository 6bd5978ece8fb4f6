#include "WorkerConnection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace fetchml {
namespace {

constexpr std::size_t kMaxQueued = 64u << 20;

}  // namespace

WorkerConnection::WorkerConnection(UniqueFd fd, pid_t peerPid, uid_t peerUid, LineHandler onLine,
                                   CloseHandler onClose)
    : fd_(std::move(fd)),
      peerPid_(peerPid),
      peerUid_(peerUid),
      onLine_(std::move(onLine)),
      onClose_(std::move(onClose)) {}

WorkerConnection::~WorkerConnection() {
    source_.reset();
}

Result<void> WorkerConnection::attach(sd_event* event) {
    sd_event_source* src = nullptr;
    int r = sd_event_add_io(event, &src, fd_.get(), EPOLLIN, &WorkerConnection::onIo, this);
    if (r < 0) {
        return makeError(ErrorCode::Internal, std::string("sd_event_add_io: ") + std::strerror(-r));
    }
    source_.reset(src);
    return {};
}

std::string WorkerConnection::name() const {
    return "pid " + std::to_string(peerPid_) + " uid " + std::to_string(peerUid_);
}

void WorkerConnection::send(const nlohmann::json& message) {
    if (closed_) {
        return;
    }
    out_ += message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out_ += '\n';
    if (out_.size() > kMaxQueued) {
        close();
        return;
    }
    flush();
}

void WorkerConnection::flush() {
    while (!out_.empty() && !closed_) {
        ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                close();
                return;
            }
            break;
        }
        out_.erase(0, static_cast<std::size_t>(n));
    }
    updateEvents();
}

void WorkerConnection::updateEvents() {
    if (source_ && !closed_) {
        sd_event_source_set_io_events(source_.get(), out_.empty() ? EPOLLIN : EPOLLIN | EPOLLOUT);
    }
}

void WorkerConnection::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    if (source_) {
        sd_event_source_set_enabled(source_.get(), SD_EVENT_OFF);
    }
    onClose_(*this);
}

int WorkerConnection::onIo(sd_event_source*, int fd, std::uint32_t revents, void* userdata) {
    auto* self = static_cast<WorkerConnection*>(userdata);
    if (revents & EPOLLOUT) {
        self->flush();
    }
    if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) || self->closed_) {
        return 0;
    }
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return 0;
    }
    if (n <= 0) {
        self->close();
        return 0;
    }
    self->in_.append(buf, static_cast<std::size_t>(n));
    while (!self->closed_) {
        auto line = self->in_.next();
        if (!line) {
            break;
        }
        self->onLine_(*self, *line);
    }
    if (self->in_.overflowed() && !self->closed_) {
        self->send({{"type", "error"}, {"message", "line longer than 1 MiB"}});
        self->close();
    }
    return 0;
}

}  // namespace fetchml

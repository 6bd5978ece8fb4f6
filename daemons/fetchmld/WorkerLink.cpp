#include "WorkerLink.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/Log.hpp"

namespace fetchml {

namespace {

auto log() {
    return logger("sched.worker");
}

std::string errnoText(int err) {
    return std::generic_category().message(err);
}

}  // namespace

void WorkerLink::start() {
    if (scheduler_.hasWork()) {
        connect();
    } else {
        log()->info("no jobs yet: connecting to the worker at {} with the first one", socketPath_);
    }
}

void WorkerLink::want() {
    if (state_ == State::Idle && !timer_) {
        connect();
    }
}

void WorkerLink::connect() {
    timer_.reset();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socketPath_.size() >= sizeof addr.sun_path) {
        log()->critical("worker socket path too long: {}", socketPath_);
        return;
    }
    std::memcpy(addr.sun_path, socketPath_.c_str(), socketPath_.size() + 1);
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_) {
        drop("socket: " + errnoText(errno));
        return;
    }
    int rc = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (rc != 0 && errno != EINPROGRESS) {
        drop("connect " + socketPath_ + ": " + errnoText(errno));
        return;
    }
    sd_event_source* source = nullptr;
    if (sd_event_add_io(loop_, &source, fd_.get(), EPOLLOUT, &WorkerLink::onIo, this) < 0) {
        drop("cannot watch the worker socket");
        return;
    }
    io_.reset(source);
    state_ = State::Connecting;
}

int WorkerLink::onIo(sd_event_source*, int, std::uint32_t revents, void* self) {
    auto* link = static_cast<WorkerLink*>(self);
    if (link->state_ == State::Connecting) {
        link->connected();
        return 0;
    }
    if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        link->readable();
        if (link->state_ == State::Idle) {
            return 0;
        }
    }
    if (revents & EPOLLOUT) {
        link->flush();
    }
    return 0;
}

void WorkerLink::connected() {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
    }
    if (err != 0) {
        drop("connect " + socketPath_ + ": " + errnoText(err));
        return;
    }
    state_ = State::Handshake;
    lastFailure_.clear();
    log()->info("connected to the worker at {}", socketPath_);
    sd_event_source_set_io_events(io_.get(), EPOLLIN);
    queue({{"type", "hello"}, {"version", kVersion}});
}

void WorkerLink::queue(const nlohmann::json& message) {
    out_ += message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out_ += '\n';
    flush();
}

bool WorkerLink::send(const nlohmann::json& message) {
    if (state_ != State::Ready) {
        return false;
    }
    queue(message);
    return state_ == State::Ready;
}

bool WorkerLink::flush() {
    while (!out_.empty()) {
        ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                break;
            }
            drop("write: " + errnoText(errno));
            return false;
        }
        out_.erase(0, static_cast<std::size_t>(n));
    }
    sd_event_source_set_io_events(io_.get(), out_.empty() ? EPOLLIN : (EPOLLIN | EPOLLOUT));
    return true;
}

void WorkerLink::readable() {
    char buf[65536];
    while (true) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                return;
            }
            drop("read: " + errnoText(errno));
            return;
        }
        if (n == 0) {
            drop("the worker closed the connection");
            return;
        }
        in_.append(buf, static_cast<std::size_t>(n));
        while (auto line = in_.next()) {
            handle(*line);
            if (state_ == State::Idle) {
                return;
            }
        }
        if (in_.overflowed()) {
            drop("the worker sent a line longer than 1 MiB");
            return;
        }
    }
}

void WorkerLink::drop(const std::string& why) {
    bool wasUp = state_ == State::Handshake || state_ == State::Ready;
    io_.reset();
    fd_.reset();
    in_ = LineBuffer();
    out_.clear();
    state_ = State::Idle;
    if (wasUp) {
        log()->warn("worker connection lost: {}", why);
        scheduler_.workerDisconnected();
    } else if (why != lastFailure_) {
        // Log a failing connect once, not every reconnect interval.
        log()->warn("worker not reachable: {}; retrying every {} ms", why, reconnectMs_);
    }
    lastFailure_ = why;
    if (scheduler_.hasWork()) {
        scheduleReconnect();
    } else {
        timer_.reset();
    }
}

void WorkerLink::scheduleReconnect() {
    std::uint64_t now = 0;
    sd_event_now(loop_, CLOCK_MONOTONIC, &now);
    sd_event_source* source = nullptr;
    if (sd_event_add_time(loop_, &source, CLOCK_MONOTONIC, now + std::uint64_t{reconnectMs_} * 1000,
                          0, &WorkerLink::onTimer, this) < 0) {
        log()->critical("cannot arm the worker reconnect timer");
        return;
    }
    timer_.reset(source);
}

int WorkerLink::onTimer(sd_event_source*, std::uint64_t, void* self) {
    static_cast<WorkerLink*>(self)->connect();
    return 0;
}

void WorkerLink::handleHello(const WorkerMessage& message) {
    if (!message.versionOk) {
        drop("the worker speaks protocol version " + message.version);
        return;
    }
    state_ = State::Ready;
    scheduler_.workerConnected(message.capacity, message.running, message.finished);
}

void WorkerLink::handle(const std::string& line) {
    std::string sentType;
    auto message = parseWorkerMessage(line, sentType);
    if (!message && sentType.empty()) {
        log()->warn("worker sent a message that is not a JSON object with a type");
        return;
    }
    if (!message && sentType == "hello") {
        // A hello we cannot read leaves the protocol undefined: start over.
        drop("the worker sent a malformed hello: " + message.error().message);
        return;
    }
    if (!message) {
        // Peer input, never fatal.
        log()->warn("worker sent a malformed '{}' message: {}", sentType, message.error().message);
        return;
    }
    const std::string& type = message->type;
    const std::string& id = message->id;
    if (type == "hello") {
        handleHello(message.value());
    } else if (type == "started") {
        scheduler_.jobStarted(id);
    } else if (type == "metric") {
        scheduler_.jobMetric(id, message->step, message->values);
    } else if (type == "exited") {
        ExitReport report{message->exitCode, message->signal, message->reason, message->message};
        // Recorded (committed) before the worker may forget it; otherwise it reports again
        // after the next hello.
        if (scheduler_.jobExited(id, report)) {
            queue({{"type", "ack"}, {"id", id}});
        }
    } else if (type == "running") {
        log()->debug("worker answered status");
    } else if (type == "error") {
        log()->warn("worker reports: {}", message->message);
    } else {
        log()->warn("worker sent an unknown message type '{}'", type);
    }
}

}  // namespace fetchml

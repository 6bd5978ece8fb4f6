#pragma once
// WorkerLink: fetchmld's client end of the worker socket (decisions.md "Worker socket").
// Connects without blocking from the event loop, says hello, turns the worker's messages into
// Scheduler calls, and after a failure or hang-up reconnects once every reconnect interval
// (a timer, no busy polling) while it has work for the worker. One JSON object per line.

#include <systemd/sd-event.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "Scheduler.hpp"
#include "WorkerMessage.hpp"
#include "proto/LineBuffer.hpp"
#include "sys/SdEvent.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

/// Connection to fetchml-workerd, driven by an sd-event loop.
class WorkerLink {
public:
    /// Protocol version sent in hello.
    static constexpr int kVersion = 1;

    /// loop: the daemon's loop (not owned); socketPath: the worker socket; reconnectMs: wait
    /// between attempts in ms.
    WorkerLink(sd_event* loop, std::string socketPath, std::uint32_t reconnectMs,
               Scheduler& scheduler)
        : loop_(loop),
          socketPath_(std::move(socketPath)),
          reconnectMs_(reconnectMs),
          scheduler_(scheduler) {}
    WorkerLink(const WorkerLink&) = delete;
    WorkerLink& operator=(const WorkerLink&) = delete;

    /// Connects if the scheduler has work (Scheduler::hasWork); otherwise waits for want().
    void start();
    /// The scheduler needs the worker: connects now unless connected, connecting or waiting
    /// for the reconnect timer. Connecting to the socket of fetchml-workerd.socket is what
    /// starts fetchml-workerd (socket activation, systemd.socket(5)).
    void want();
    /// Queues one message once the worker has answered hello. False when not connected.
    bool send(const nlohmann::json& message);
    /// True after the worker answered hello and until the connection ends.
    bool ready() const { return state_ == State::Ready; }

private:
    enum class State { Idle, Connecting, Handshake, Ready };

    static int onIo(sd_event_source* source, int fd, std::uint32_t revents, void* self);
    static int onTimer(sd_event_source* source, std::uint64_t usec, void* self);
    void connect();
    void connected();
    void readable();
    bool flush();
    void queue(const nlohmann::json& message);
    void drop(const std::string& why);
    void scheduleReconnect();
    void handle(const std::string& line);
    void handleHello(const WorkerMessage& message);

    sd_event* loop_;
    std::string socketPath_;
    std::uint32_t reconnectMs_;
    Scheduler& scheduler_;
    State state_ = State::Idle;
    UniqueFd fd_;
    SdEventSourcePtr io_;
    SdEventSourcePtr timer_;
    LineBuffer in_;
    std::string out_;
    std::string lastFailure_;
};

}  // namespace fetchml

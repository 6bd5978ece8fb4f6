#pragma once
// WorkerConnection: one accepted connection from fetchmld on the worker socket: JSON lines in
// (LineBuffer, at most 1 MiB a line), JSON lines out with a write buffer for a slow reader.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/Result.hpp"
#include "proto/LineBuffer.hpp"
#include "sys/SdEvent.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

/// One peer. Not copyable or movable: its event source points at it.
class WorkerConnection {
public:
    /// Called with each complete line; the second callback once when the connection ends
    /// (EOF, error, overflow or close()). Neither may destroy the connection synchronously.
    using LineHandler = std::function<void(WorkerConnection&, const std::string&)>;
    using CloseHandler = std::function<void(WorkerConnection&)>;

    /// Takes the accepted, non-blocking socket of a peer with the given credentials.
    WorkerConnection(UniqueFd fd, pid_t peerPid, uid_t peerUid, LineHandler onLine,
                     CloseHandler onClose);
    ~WorkerConnection();
    WorkerConnection(const WorkerConnection&) = delete;
    WorkerConnection& operator=(const WorkerConnection&) = delete;

    /// Adds the socket to the loop. Errors: Internal (sd-event).
    Result<void> attach(sd_event* event);

    /// Queues one message (serialized + '\n') and writes what the socket takes now. A peer
    /// that lets more than 64 MiB pile up is disconnected.
    void send(const nlohmann::json& message);

    /// Ends the connection (the close handler runs once).
    void close();

    /// True once the peer's hello was answered; events are sent only then.
    bool ready() const { return ready_; }
    void setReady() { ready_ = true; }
    bool closed() const { return closed_; }
    /// "pid <pid> uid <uid>", for log lines.
    std::string name() const;

private:
    void flush();
    void updateEvents();
    static int onIo(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);

    UniqueFd fd_;
    pid_t peerPid_;
    uid_t peerUid_;
    LineHandler onLine_;
    CloseHandler onClose_;
    SdEventSourcePtr source_;
    LineBuffer in_;
    std::string out_;
    bool ready_ = false;
    bool closed_ = false;
};

}  // namespace fetchml

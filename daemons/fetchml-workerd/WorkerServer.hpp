#pragma once
// WorkerServer: the worker socket (docs/architecture/decisions.md, "Worker socket"). Takes the
// listening socket from systemd (sd_listen_fds(3)) or binds <worker.socket> itself (mode
// 0660), accepts fetchmld connections whose SO_PEERCRED uid is 0, the worker's own or in
// worker.allowed_uids, and routes hello/run/cancel/status to the PodmanExecutor. Events for
// fetchmld go to every connection that said hello; while none has, they are kept (up to
// 100000 messages) and sent after the next hello.

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "WorkerConnection.hpp"
#include "core/Result.hpp"
#include "core/Settings.hpp"
#include "sys/SdEvent.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

class PodmanExecutor;

/// Listener and connections of the worker socket.
class WorkerServer {
public:
    /// worker: resolved settings (socket path, allowed uids).
    WorkerServer(sd_event* event, WorkerSettings worker);
    ~WorkerServer();
    WorkerServer(const WorkerServer&) = delete;
    WorkerServer& operator=(const WorkerServer&) = delete;

    /// The executor that run/cancel/status go to; must outlive the server's use.
    void setExecutor(PodmanExecutor* executor) { executor_ = executor; }

    /// Takes the socket passed by systemd (one stream Unix socket; with several, the one
    /// named "worker" by FileDescriptorName=, else the first) or binds worker.socket
    /// (removing a stale socket file, never another kind of file), chmod 0660, and starts
    /// accepting. Errors: Internal with the failing call and strerror.
    Result<void> listen();

    /// True when the socket came from systemd.
    bool activated() const { return activated_; }
    /// The path bound or given (for logs); "(from systemd)" when activated.
    const std::string& address() const { return address_; }

    /// Stops accepting new connections (shutdown); existing ones keep receiving events.
    void stopListening();

    /// Sends one message to every ready connection, or keeps it for the next hello (at most
    /// 100000 kept, oldest dropped first). An `exited` message is also kept until fetchmld
    /// acknowledges it (`ack`), and sent again after every hello until then, so a job's end
    /// survives a crash of fetchmld between our send and its commit.
    void broadcast(const nlohmann::json& message);

private:
    Result<void> takeActivated(int count, char** names);
    Result<void> bindSocket();
    void accept();
    /// Root, the worker's own uid, worker.allowed_uids, or a member of worker.allowed_groups
    /// (primary gid from SO_PEERCRED, or the user listed in the group; looked up per call so
    /// membership changes need no restart).
    bool peerAllowed(uid_t uid, gid_t gid) const;
    void handleLine(WorkerConnection& conn, const std::string& line);
    void handleHello(WorkerConnection& conn, const nlohmann::json& msg);
    void scheduleReap();
    static int onAccept(sd_event_source* s, int fd, std::uint32_t revents, void* userdata);
    static int onReap(sd_event_source* s, void* userdata);

    sd_event* event_;
    WorkerSettings worker_;
    PodmanExecutor* executor_ = nullptr;
    UniqueFd listenFd_;
    SdEventSourcePtr listenSource_;
    SdEventSourcePtr reapSource_;
    bool activated_ = false;
    bool boundPath_ = false;
    std::string address_;
    std::vector<std::unique_ptr<WorkerConnection>> conns_;
    std::deque<nlohmann::json> pending_;  ///< started/metric events nobody received
    std::deque<nlohmann::json> unacked_;  ///< exited events fetchmld has not acknowledged
};

}  // namespace fetchml

#pragma once
// SchedulerClient: a small pool of threads that make the blocking D-Bus calls to fetchmld,
// so the Asio loop never waits on D-Bus (docs/architecture/decisions.md, "Event loops").
// Each thread owns its own SchedulerProxy (its own bus connection).

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "SchedulerProxy.hpp"

namespace fetchml::edge {

/// The D-Bus call pool.
class SchedulerClient {
public:
    /// A unit of work; runs on a pool thread with that thread's proxy.
    using Task = std::function<void(SchedulerProxy&)>;

    /// Opens `threads` bus connections (at least 1) and starts the threads. Throws
    /// sdbus::Error if the bus cannot be reached (start-up only).
    SchedulerClient(const std::string& bus, unsigned threads);
    /// Runs the queued tasks, then joins the threads.
    ~SchedulerClient();
    SchedulerClient(const SchedulerClient&) = delete;
    SchedulerClient& operator=(const SchedulerClient&) = delete;

    /// Queues a task; tasks run in order of submission, as threads become free.
    void post(Task task);

private:
    void loop(SchedulerProxy& proxy);

    std::vector<std::unique_ptr<SchedulerProxy>> proxies_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> tasks_;
    bool stopping_ = false;
};

}  // namespace fetchml::edge

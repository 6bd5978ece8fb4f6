#pragma once
// ConnectionLimiter: caps on concurrent connections for fetchml-httpsd, in total
// (https.max_connections) and per client address (https.max_connections_per_address). The
// server asks it right after accept, before the TLS handshake, and closes a connection over
// a cap at once. Refusals are reported for a warning at most once per address per log
// interval (a minute), with the number refused since the last report, so a flood costs one
// log line a minute per address rather than one per connection. Not thread-safe: the server
// calls it from its one io_context thread. Pure: the clock is injected.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

namespace fetchml::edge {

/// Connection caps; 0 = unlimited.
struct ConnectionLimits {
    std::uint32_t total = 512;      ///< open connections in all
    std::uint32_t perAddress = 64;  ///< open connections from one client address
};

/// Counts open connections and decides whether a new one may stay.
class ConnectionLimiter {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    /// Why a connection was refused.
    enum class Refusal {
        None,        ///< admitted
        Total,       ///< limits.total connections are open
        PerAddress,  ///< limits.perAddress connections from this address are open
    };

    /// The answer to admit().
    struct Admission {
        Refusal refusal = Refusal::None;  ///< None: admitted, release() it when it closes
        /// True when this refusal should be logged (the first for the address in the log
        /// interval); false for admitted connections and throttled refusals.
        bool log = false;
        /// When log is true: refusals of this address since its last logged one, not
        /// counting this one.
        std::uint64_t suppressed = 0;
        std::uint32_t open = 0;  ///< connections from this address open now (after admit)
    };

    /// `logInterval`: how often a refused address is logged at most. `clock` defaults to
    /// std::chrono::steady_clock::now.
    explicit ConnectionLimiter(ConnectionLimits limits,
                               std::chrono::seconds logInterval = std::chrono::seconds(60),
                               Clock clock = &std::chrono::steady_clock::now);

    /// One new connection from `address` (textual peer address, no port). Admitted: counted
    /// until release(address). Refused: not counted.
    Admission admit(const std::string& address);

    /// A connection admitted for `address` has closed.
    void release(const std::string& address);

    /// Open connections in all.
    std::uint32_t total() const { return total_; }
    /// Open connections from `address`.
    std::uint32_t open(const std::string& address) const;
    /// Addresses with a refusal report pending or recent (bounded by sweeping), for tests.
    std::size_t reportCount() const { return reports_.size(); }

private:
    struct Report {
        std::chrono::steady_clock::time_point logged;  ///< last logged refusal
        std::uint64_t suppressed = 0;                  ///< refusals not logged since
    };
    /// Logs-or-counts one refusal of `address`.
    Admission refuse(const std::string& address, Refusal why, std::uint32_t open);
    /// At most once per log interval: drops reports older than the interval with nothing
    /// suppressed, and all reports older than two intervals.
    void sweep(std::chrono::steady_clock::time_point now);

    ConnectionLimits limits_;
    std::chrono::seconds logInterval_;
    Clock clock_;
    std::uint32_t total_ = 0;
    std::unordered_map<std::string, std::uint32_t> open_;
    std::unordered_map<std::string, Report> reports_;
    std::chrono::steady_clock::time_point lastSweep_;
};

}  // namespace fetchml::edge

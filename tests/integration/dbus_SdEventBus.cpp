// SdEventBus on a real private dbus-daemon with the project's bus policy: an object served
// from an sd-event loop answers a method call from a proxy in another thread, and signals
// emitted from a timer callback (outside any bus callback) all reach the proxy. The signals
// are emitted while the test holds dbus-daemon stopped (SIGSTOP), so the socket fills and
// they only arrive if the loop re-arms the connection's fd for POLLOUT: once dbus-daemon
// continues, nothing but POLLOUT wakes the server's loop.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <sdbus-c++/sdbus-c++.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "dbus/SdEventBus.hpp"
#include "proto/VariantJson.hpp"
#include "support/Support.hpp"
#include "sys/SdEvent.hpp"
#include "sys/UniqueFd.hpp"

using namespace fetchml;

namespace {

constexpr const char* kName = "org.fetchml.Scheduler1";
constexpr const char* kPath = "/org/fetchml/Scheduler1";
constexpr const char* kInterface = "org.fetchml.Scheduler1";
constexpr std::uint64_t kSignals = 256;  // 16 MiB: more than sd-bus's 8 MiB SO_SNDBUF
constexpr std::size_t kPayload = 64 * 1024;

/// What the server's sources need.
struct Server {
    sdbus::IObject* object = nullptr;
    std::uint64_t signals = 0;
    SdEventSourcePtr timer;
    int emittedFd = -1;  ///< written once all signals are handed to sd-bus
};

void signalFd(int fd) {
    std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
}

/// Waits (with a generous safety deadline) until an eventfd is signalled.
bool waitFd(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 60000) == 1;
}

int emitSignals(sd_event_source*, std::uint64_t, void* userdata) {
    auto* server = static_cast<Server*>(userdata);
    const std::string payload(kPayload, 'x');
    for (std::uint64_t i = 0; i < server->signals; ++i) {
        VariantMap props{{"seq", sdbus::Variant(i)}, {"payload", sdbus::Variant(payload)}};
        server->object->emitSignal("JobChanged")
            .onInterface(kInterface)
            .withArguments(std::string("job-") + std::to_string(i), std::string("running"), props);
    }
    signalFd(server->emittedFd);
    return 0;
}

/// "go" eventfd handler: arms the timer that emits the signals.
int armTimer(sd_event_source* source, int fd, std::uint32_t, void* userdata) {
    auto* server = static_cast<Server*>(userdata);
    std::uint64_t value = 0;
    (void)!::read(fd, &value, sizeof value);
    sd_event_source* src = nullptr;
    int r = sd_event_add_time_relative(sd_event_source_get_event(source), &src, CLOCK_MONOTONIC,
                                       1000, 0, &emitSignals, server);
    server->timer.reset(src);
    return r;
}

/// What the client thread saw; read by the test after join().
struct ClientResult {
    std::string error;
    std::string version;
    std::string echo;
    std::uint64_t signals = 0;
    std::uint64_t inOrder = 0;
    std::size_t payloadBytes = 0;
};

/// Fds and the process the client thread works with.
struct ClientEnv {
    int stopFd;     ///< ends the server's loop
    int goFd;       ///< tells the server to arm its timer
    int emittedFd;  ///< the server has emitted everything
    pid_t daemon;   ///< dbus-daemon, held stopped while the server emits
};

void runClient(ClientResult& result, ClientEnv env) {
    try {
        auto proxy = sdbus::createProxy(kName, kPath);
        std::mutex mutex;
        std::condition_variable changed;
        proxy->uponSignal("JobChanged")
            .onInterface(kInterface)
            .call([&](const std::string& id, const std::string& state, const VariantMap& props) {
                std::lock_guard lock(mutex);
                auto seq = getUInt64(props, "seq");
                if (seq.ok() && id == "job-" + std::to_string(*seq) && state == "running" &&
                    *seq == result.signals) {
                    ++result.inOrder;
                }
                auto payload = getString(props, "payload");
                result.payloadBytes += payload.ok() ? payload->size() : 0;
                ++result.signals;
                changed.notify_all();
            });
        proxy->finishRegistration();

        VariantMap reply;
        VariantMap request{{"signals", sdbus::Variant(kSignals)},
                           {"name", sdbus::Variant(std::string("client"))}};
        proxy->callMethod("Hello")
            .onInterface(kInterface)
            .withArguments(request)
            .storeResultsTo(reply);
        result.version = getString(reply, "version", "").value();
        result.echo = getString(reply, "echo", "").value();

        ::kill(env.daemon, SIGSTOP);
        signalFd(env.goFd);
        bool emitted = waitFd(env.emittedFd);
        ::kill(env.daemon, SIGCONT);
        if (!emitted) {
            throw std::runtime_error("the server did not emit its signals");
        }

        std::unique_lock lock(mutex);
        // A safety net against hangs, not a timing assertion.
        changed.wait_for(lock, std::chrono::seconds(120),
                         [&] { return result.signals >= kSignals; });
    } catch (const std::exception& e) {
        ::kill(env.daemon, SIGCONT);
        result.error = e.what();
    }
    signalFd(env.stopFd);
}

}  // namespace

TEST_CASE("SdEventBus serves calls and flushes signals sent from a timer", "[dbus]") {
    test::TempDir dir;
    test::DbusDaemon daemon(dir.path());
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", daemon.address().c_str(), 1);

    sd_event* raw = nullptr;
    REQUIRE(sd_event_new(&raw) >= 0);
    SdEventPtr loop(raw);

    auto connection = sdbus::createSystemBusConnection(kName);
    auto object = sdbus::createObject(*connection, kPath);
    Server server;
    server.object = object.get();
    object->registerMethod("Hello")
        .onInterface(kInterface)
        .implementedAs([&](const VariantMap& request) {
            server.signals = getUInt64(request, "signals", 0).value();
            return VariantMap{{"version", sdbus::Variant(std::string("test"))},
                              {"echo", request.at("name")}};
        });
    object->registerSignal("JobChanged")
        .onInterface(kInterface)
        .withParameters<std::string, std::string, VariantMap>();
    object->finishRegistration();

    SdEventBus bus(loop.get(), *connection);

    // dbus-daemon is the peer of the connection's socket.
    ucred peer{};
    socklen_t len = sizeof peer;
    REQUIRE(::getsockopt(connection->getEventLoopPollData().fd, SOL_SOCKET, SO_PEERCRED, &peer,
                         &len) == 0);
    REQUIRE(peer.pid > 0);

    UniqueFd go(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    UniqueFd emitted(::eventfd(0, EFD_CLOEXEC));
    REQUIRE((go.valid() && emitted.valid()));
    server.emittedFd = emitted.get();
    sd_event_source* goRaw = nullptr;
    REQUIRE(sd_event_add_io(loop.get(), &goRaw, go.get(), EPOLLIN, &armTimer, &server) >= 0);
    SdEventSourcePtr goSource(goRaw);

    // The client thread stops the loop through an eventfd when it is done.
    UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    REQUIRE(stop.valid());
    sd_event_source* stopRaw = nullptr;
    REQUIRE(sd_event_add_io(
                loop.get(), &stopRaw, stop.get(), EPOLLIN,
                [](sd_event_source* s, int, std::uint32_t, void*) {
                    return sd_event_exit(sd_event_source_get_event(s), 0);
                },
                nullptr) >= 0);
    SdEventSourcePtr stopSource(stopRaw);

    ClientResult result;
    std::thread client(runClient, std::ref(result),
                       ClientEnv{stop.get(), go.get(), emitted.get(), peer.pid});
    int r = sd_event_loop(loop.get());
    client.join();

    CHECK(r == 0);
    CHECK(bus.failure().empty());
    REQUIRE(result.error.empty());
    CHECK(result.version == "test");
    CHECK(result.echo == "client");
    CHECK(result.signals == kSignals);
    CHECK(result.inOrder == kSignals);
    CHECK(result.payloadBytes == kSignals * kPayload);
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

TEST_CASE("SdEventBus stops the loop when the bus goes away", "[dbus]") {
    test::TempDir dir;
    std::optional<test::DbusDaemon> daemon(std::in_place, dir.path());
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", daemon->address().c_str(), 1);

    sd_event* raw = nullptr;
    REQUIRE(sd_event_new(&raw) >= 0);
    SdEventPtr loop(raw);
    auto connection = sdbus::createSystemBusConnection();
    SdEventBus bus(loop.get(), *connection);
    // A safety net against a hang, not a timing assertion.
    sd_event_source* guardRaw = nullptr;
    REQUIRE(sd_event_add_time_relative(
                loop.get(), &guardRaw, CLOCK_MONOTONIC, 60'000'000, 0,
                [](sd_event_source* s, std::uint64_t, void*) {
                    return sd_event_exit(sd_event_source_get_event(s), -ETIMEDOUT);
                },
                nullptr) >= 0);
    SdEventSourcePtr guard(guardRaw);
    daemon.reset();  // stops dbus-daemon: the connection sees EOF
    int r = sd_event_loop(loop.get());
    CHECK(r == -ENOTCONN);
    CHECK_FALSE(bus.failure().empty());
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

// Catch2's main for every integration test, with SIGPIPE ignored: tests talk to servers that
// may close a connection first (an edge refusing a connection before TLS), and a write to it
// must fail with EPIPE instead of killing the test silently.
#define CATCH_CONFIG_RUNNER
#include <csignal>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
    std::signal(SIGPIPE, SIG_IGN);
    return Catch::Session().run(argc, argv);
}

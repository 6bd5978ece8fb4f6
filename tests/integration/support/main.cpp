// Catch2's main for every integration test, with SIGPIPE ignored: tests talk to servers that
// may close a connection first (an edge refusing a connection before TLS), and a write to it
// must fail with EPIPE instead of killing the test silently. Every fetchmlctl a test starts
// keeps its stat caches (docs/cli.md "The stat cache") in a temporary XDG_CACHE_HOME, removed
// at the end, not in the home directory of the user running the tests.
#define CATCH_CONFIG_RUNNER
#include <stdlib.h>
#include <sys/stat.h>

#include <csignal>

#include <catch2/catch.hpp>

#include "support/Support.hpp"

int main(int argc, char* argv[]) {
    std::signal(SIGPIPE, SIG_IGN);
    fetchml::test::TempDir cacheHome;
    ::chmod(cacheHome.path().c_str(), 01777);  // tests also run fetchmlctl as service users
    ::setenv("XDG_CACHE_HOME", cacheHome.path().c_str(), 1);
    return Catch::Session().run(argc, argv);
}

// fetchml-idmapd: writes the uid/gid maps of fetchml-workerd's rootless podman user
// namespaces, so the worker can run with NoNewPrivileges= and without setuid newuidmap
// (fetchml-idmapd(8), docs/architecture/decisions.md "fetchml-workerd's sandbox").

#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "IdMapService.hpp"
#include "core/Log.hpp"
#include "core/Version.hpp"

int main(int argc, char** argv) {
    CLI::App app{"FetchML id-mapping helper (socket-activated, one connection per process)"};
    fetchml::SubIdFiles files;
    bool version = false;
    app.add_option("--subuid", files.subuid, "subordinate uid file (subuid(5))");
    app.add_option("--subgid", files.subgid, "subordinate gid file (subgid(5))");
    app.add_flag("--version", version, "print the version and exit");
    CLI11_PARSE(app, argc, argv);
    if (version) {
        std::cout << "fetchml-idmapd " << fetchml::projectVersion() << "\n";
        return 0;
    }
    fetchml::setupLogging(fetchml::LogSettings{}, "fetchml-idmapd");
    int n = sd_listen_fds(1);
    if (n != 1 || sd_is_socket(SD_LISTEN_FDS_START, AF_UNIX, SOCK_STREAM, 0) <= 0) {
        std::cerr << "fetchml-idmapd: expected one connected Unix stream socket from systemd "
                     "(Accept=yes, sd_listen_fds(3)); got "
                  << n << " descriptors\n";
        return 1;
    }
    return fetchml::serveIdMapConnection(SD_LISTEN_FDS_START, files);
}

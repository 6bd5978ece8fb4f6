// Every shipped file in configs/ must load (as Kea does with its example configs), and
// configs/fetchml.yaml must document every key with its built-in default.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/Config.hpp"
#include "core/ConfigKeys.hpp"
#include "core/YamlParser.hpp"

using namespace fetchml;
namespace fs = std::filesystem;

namespace {

const fs::path kConfigs = fs::path(FETCHML_SOURCE_DIR) / "configs";

Result<Settings> loadShipped(const fs::path& file) {
    LoadOptions o;
    o.path = file.string();
    o.mustExist = true;
    o.readEnvironment = false;
    return loadSettings(o);
}

}  // namespace

TEST_CASE("configs: every *.yaml file loads", "[configs]") {
    int count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(kConfigs)) {
        if (entry.path().extension() != ".yaml") {
            continue;
        }
        ++count;
        std::string name = entry.path().filename().string();
        INFO(entry.path().string());
        if (name.rfind("fetchml", 0) == 0) {
            // Daemon configuration (and drop-in examples): the full loader must accept it.
            auto r = loadShipped(entry.path());
            INFO((r.ok() ? std::string() : r.error().message));
            CHECK(r.ok());
        } else {
            // Other files (permissions.yaml, ...) have their own loaders; here they must at
            // least be well-formed YAML.
            auto doc = YamlParser::parseFile(entry.path().string());
            INFO((doc.ok() ? std::string() : doc.error().message));
            CHECK(doc.ok());
        }
    }
    CHECK(count >= 1);
}

TEST_CASE("configs: fetchml.yaml lists every key with its built-in default", "[configs]") {
    const fs::path file = kConfigs / "fetchml.yaml";
    auto doc = YamlParser::parseFile(file.string());
    REQUIRE(doc.ok());
    REQUIRE(doc->has_value());
    std::set<std::string> present;
    for (const auto& [section, body] : (**doc).entries) {
        for (const auto& [key, value] : body.entries) {
            present.insert(section.value + "." + key.value);
        }
    }
    for (const auto& name : configKeyNames()) {
        INFO(name);
        CHECK(present.count(name) == 1);
    }

    auto r = loadShipped(file);
    REQUIRE(r.ok());
    const Settings d;
    const Settings& s = *r;
    CHECK(s.paths.stateDir == d.paths.stateDir);
    CHECK(s.paths.runtimeDir == d.paths.runtimeDir);
    CHECK(s.store.gcGraceS == d.store.gcGraceS);
    CHECK(s.log.level == d.log.level);
    CHECK(s.log.target == d.log.target);
    CHECK(s.scheduler.database == d.scheduler.database);
    CHECK(s.scheduler.workerSocket == d.scheduler.workerSocket);
    CHECK(s.scheduler.bus == d.scheduler.bus);
    CHECK(s.scheduler.defaultImage == d.scheduler.defaultImage);
    CHECK(s.scheduler.reconnectMs == d.scheduler.reconnectMs);
    CHECK(s.queue.backend == d.queue.backend);
    CHECK(s.queue.redisUrl == d.queue.redisUrl);
    CHECK(s.worker.socket == d.worker.socket);
    CHECK(s.worker.podman == d.worker.podman);
    CHECK(s.worker.runtime == d.worker.runtime);
    CHECK(s.worker.rootfsDir == d.worker.rootfsDir);
    CHECK(s.worker.slots == d.worker.slots);
    CHECK(s.worker.pidsLimit == d.worker.pidsLimit);
    CHECK(s.worker.cancelGraceS == d.worker.cancelGraceS);
    CHECK(s.worker.maxRuntimeS == d.worker.maxRuntimeS);
    CHECK(s.worker.allowedUids == d.worker.allowedUids);
    CHECK(s.https.address == d.https.address);
    CHECK(s.https.port == d.https.port);
    CHECK(s.https.certFile == d.https.certFile);
    CHECK(s.https.keyFile == d.https.keyFile);
    CHECK(s.https.tlsDir == d.https.tlsDir);
    CHECK(s.https.spoolDir == d.https.spoolDir);
    CHECK(s.https.maxBodyBytes == d.https.maxBodyBytes);
    CHECK(s.https.threads == d.https.threads);
}

// Unit tests for daemons/fetchml-workerd/PodmanCommand and RunSpec: every isolation flag is
// on the podman command line, environment values never are, and job input cannot smuggle
// options or host paths in (docs/architecture/decisions.md, "Worker socket").
#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "PodmanCommand.hpp"
#include "RunSpec.hpp"

using fetchml::parseRunSpec;
using fetchml::PodmanCommand;
using fetchml::RunSpec;
using fetchml::WorkerSettings;

namespace {

const std::string kRuns = "/var/lib/fetchml/runs";

nlohmann::json sampleJob() {
    return {{"id", "j42"},
            {"image", "localhost/fetchml-digits:latest"},
            {"command", {"python3", "train.py", "--epochs", "3"}},
            {"env", {{"FETCHML_PARAM_LR", "0.1"}, {"SECRET_TOKEN", "hunter2-very-secret"}}},
            {"run_dir", kRuns + "/j42"},
            {"cpus", 1.5},
            {"memory_mib", 512},
            {"pids_limit", 64},
            {"max_runtime_s", 60}};
}

WorkerSettings sampleWorker() {
    WorkerSettings w;
    w.podman = "/usr/bin/podman";
    w.runtime = "runc";
    w.rootfsDir = "/var/lib/fetchml/rootfs";
    w.pidsLimit = 512;
    return w;
}

// True when `flag` is directly followed by `value` somewhere in args.
bool hasPair(const std::vector<std::string>& args, const std::string& flag,
             const std::string& value) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == flag && args[i + 1] == value) {
            return true;
        }
    }
    return false;
}

bool has(const std::vector<std::string>& args, const std::string& arg) {
    return std::find(args.begin(), args.end(), arg) != args.end();
}

}  // namespace

TEST_CASE("workerd podman run has every isolation flag", "[workerd][podman]") {
    auto spec = parseRunSpec(sampleJob(), kRuns);
    REQUIRE(spec);
    auto args = PodmanCommand::runArgs(*spec, sampleWorker());
    REQUIRE(args.size() > 4);
    CHECK(args[0] == "/usr/bin/podman");
    CHECK(args[1] == "run");
    CHECK(has(args, "--rm"));
    CHECK(has(args, "--replace"));
    CHECK(hasPair(args, "--log-driver", "passthrough"));  // job output straight to its log
    CHECK(hasPair(args, "--pull", "never"));              // no registry is ever contacted for a job
    CHECK(hasPair(args, "--runtime", "runc"));
    CHECK(hasPair(args, "--network", "none"));
    CHECK(has(args, "--read-only"));
    CHECK(hasPair(args, "--cap-drop", "all"));
    CHECK(hasPair(args, "--security-opt", "no-new-privileges"));
    CHECK(hasPair(args, "--pids-limit", "64"));
    CHECK(hasPair(args, "--cpus", "1.500"));
    CHECK(hasPair(args, "--memory", "512m"));
    CHECK(hasPair(args, "--label", "org.fetchml.job=j42"));
    // fetchml-<id>-<first 8 hex digits of SHA-256("/var/lib/fetchml/runs/j42")>
    CHECK(hasPair(args, "--name", "fetchml-j42-9a3a1af1"));
    CHECK(hasPair(args, "-v", kRuns + "/j42/code:/workspace/code:ro"));
    CHECK(hasPair(args, "-v", kRuns + "/j42/results:/workspace/results:rw"));
    CHECK(hasPair(args, "--workdir", "/workspace/code"));
    CHECK(hasPair(args, "--env-file", kRuns + "/j42/env"));
    CHECK(hasPair(args, "--tmpfs", "/tmp"));
    // The image, then exactly the command.
    std::vector<std::string> tail(args.end() - 5, args.end());
    CHECK(tail == std::vector<std::string>{"localhost/fetchml-digits:latest", "python3", "train.py",
                                           "--epochs", "3"});
}

TEST_CASE("workerd env values never reach argv", "[workerd][podman]") {
    auto spec = parseRunSpec(sampleJob(), kRuns);
    REQUIRE(spec);
    auto args = PodmanCommand::runArgs(*spec, sampleWorker());
    for (const auto& a : args) {
        CHECK(a.find("hunter2") == std::string::npos);
        CHECK(a.find("SECRET_TOKEN") == std::string::npos);
        CHECK(a != "--env");
        CHECK(a != "-e");
    }
    auto content = PodmanCommand::envFileContent(*spec);
    CHECK(content ==
          "FETCHML_JOB_ID=j42\nFETCHML_PARAM_LR=0.1\nSECRET_TOKEN=hunter2-very-secret\n");
}

TEST_CASE("workerd defaults: worker pids limit, no cpu or memory flags", "[workerd][podman]") {
    auto job = sampleJob();
    job.erase("cpus");
    job.erase("memory_mib");
    job.erase("pids_limit");
    auto spec = parseRunSpec(job, kRuns);
    REQUIRE(spec);
    auto args = PodmanCommand::runArgs(*spec, sampleWorker());
    CHECK(hasPair(args, "--pids-limit", "512"));
    CHECK_FALSE(has(args, "--cpus"));
    CHECK_FALSE(has(args, "--memory"));
}

TEST_CASE("workerd rootfs images use --rootfs under rootfs_dir", "[workerd][podman]") {
    auto job = sampleJob();
    job["image"] = "rootfs:busybox";
    job["command"] = {"sh", "-c", "id -u"};
    auto spec = parseRunSpec(job, kRuns);
    REQUIRE(spec);
    auto args = PodmanCommand::runArgs(*spec, sampleWorker());
    CHECK(hasPair(args, "--rootfs", "/var/lib/fetchml/rootfs/busybox"));
    CHECK_FALSE(has(args, "rootfs:busybox"));
    std::vector<std::string> tail(args.end() - 5, args.end());
    CHECK(tail == std::vector<std::string>{"--rootfs", "/var/lib/fetchml/rootfs/busybox", "sh",
                                           "-c", "id -u"});
}

TEST_CASE("workerd podman kill and rm commands", "[workerd][podman]") {
    auto spec = parseRunSpec(sampleJob(), kRuns);
    REQUIRE(spec.ok());
    CHECK(PodmanCommand::killArgs(*spec, sampleWorker(), "KILL") ==
          std::vector<std::string>{"/usr/bin/podman", "kill", "--signal", "KILL",
                                   "fetchml-j42-9a3a1af1"});
    CHECK(PodmanCommand::removeArgs(*spec, sampleWorker()) ==
          std::vector<std::string>{"/usr/bin/podman", "rm", "--force", "--ignore", "--time", "0",
                                   "fetchml-j42-9a3a1af1"});
}

TEST_CASE("workerd job validation refuses dangerous input", "[workerd][podman]") {
    auto refused = [](const char* field, nlohmann::json value) {
        auto job = sampleJob();
        job[field] = std::move(value);
        auto spec = parseRunSpec(job, kRuns);
        INFO(field << " = " << job[field].dump());
        REQUIRE_FALSE(spec);
        CHECK(spec.error().code == fetchml::ErrorCode::InvalidArgument);
        CHECK(spec.error().message.find(field) != std::string::npos);
    };
    refused("id", "");
    refused("id", "../x");
    refused("id", "a/b");
    refused("id", "..");
    refused("id", "x y");
    refused("image", "--privileged");
    refused("image", "rootfs:../etc");
    refused("image", "rootfs:a/b");
    refused("image", "rootfs:..");
    refused("image", "rootfs:");
    refused("run_dir", "relative/j42");
    refused("run_dir", "/etc");
    refused("run_dir", kRuns);
    refused("run_dir", kRuns + "/../../../etc");
    refused("run_dir", kRuns + "/j42/./x");
    refused("run_dir", kRuns + "/j:42");
    refused("run_dir", kRuns + "/j,42");
    refused("command", nlohmann::json::array());
    refused("command", "sh -c true");
    refused("command", {"sh", 1});
    refused("env", {{"BAD NAME", "x"}});
    refused("env", {{"1X", "x"}});
    refused("env", {{"X", "a\nB=c"}});
    refused("env", {{"X", 3}});
    refused("cpus", -1);
    refused("memory_mib", "512");
    const std::string checkout = kRuns + "/datasets/" + std::string(64, 'a');
    refused("data", "mnist");
    refused("data", {{{"name", "mnist"}}});
    refused("data", {{{"name", "../x"}, {"dir", checkout}}});
    refused("data", {{{"name", std::string(65, 'n')}, {"dir", checkout}}});
    refused("data", {{{"name", "mnist"}, {"dir", "/etc"}}});
    refused("data", {{{"name", "mnist"}, {"dir", kRuns + "/../store"}}});
    refused("data", {{{"name", "mnist"}, {"dir", checkout + ":rw"}}});
    refused("data", {{{"name", "a"}, {"dir", checkout}}, {{"name", "a"}, {"dir", checkout}}});
}

TEST_CASE("workerd mounts each dataset read-only under /workspace/data", "[workerd][podman]") {
    auto job = sampleJob();
    const std::string mnist = kRuns + "/datasets/" + std::string(64, 'a');
    const std::string imdb = kRuns + "/datasets/" + std::string(64, 'b');
    job["data"] = {{{"name", "mnist"}, {"dir", mnist}}, {{"name", "imdb.v2"}, {"dir", imdb}}};
    auto spec = parseRunSpec(job, kRuns);
    REQUIRE(spec);
    REQUIRE(spec->data.size() == 2);
    auto args = PodmanCommand::runArgs(*spec, sampleWorker());
    CHECK(hasPair(args, "-v", kRuns + "/j42/data:/workspace/data:ro"));
    CHECK(hasPair(args, "-v", mnist + ":/workspace/data/mnist:ro"));
    CHECK(hasPair(args, "-v", imdb + ":/workspace/data/imdb.v2:ro"));
    // Mounts come before the image: after it, they would be the command's arguments.
    auto image = std::find(args.begin(), args.end(), "localhost/fetchml-digits:latest");
    auto mount = std::find(args.begin(), args.end(), mnist + ":/workspace/data/mnist:ro");
    CHECK(mount < image);
}

TEST_CASE("workerd safe names", "[workerd][podman]") {
    CHECK(fetchml::isSafeName("job-1.a_b"));
    CHECK_FALSE(fetchml::isSafeName("."));
    CHECK_FALSE(fetchml::isSafeName(""));
    CHECK_FALSE(fetchml::isSafeName(std::string(129, 'a')));
}

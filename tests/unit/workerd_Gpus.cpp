// Unit tests of GPU devices in fetchml-workerd: CDI device names, their discovery in CDI
// spec files, and their way into a job (RunSpec "gpus" -> podman --device).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "CdiDevices.hpp"
#include "PodmanCommand.hpp"
#include "RunSpec.hpp"
#include "store_TempDir.hpp"

using namespace fetchml;

namespace {

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

nlohmann::json gpuJob(nlohmann::json gpus) {
    return {{"id", "j7"},
            {"image", "rootfs:busybox"},
            {"command", {"true"}},
            {"env", nlohmann::json::object()},
            {"run_dir", "/var/lib/fetchml/runs/j7"},
            {"gpus", std::move(gpus)}};
}

}  // namespace

TEST_CASE("CDI device names", "[workerd][gpus]") {
    CHECK(isCdiDeviceName("nvidia.com/gpu=0"));
    CHECK(isCdiDeviceName("nvidia.com/gpu=GPU-6f1c2b0e-1d2a"));
    CHECK(isCdiDeviceName("nvidia.com/mig=0:1"));
    CHECK(isCdiDeviceName("amd.com/gpu=all"));
    CHECK_FALSE(isCdiDeviceName("gpu0"));
    CHECK_FALSE(isCdiDeviceName("nvidia.com/gpu"));
    CHECK_FALSE(isCdiDeviceName("-nvidia.com/gpu=0"));
    CHECK_FALSE(isCdiDeviceName("nvidia.com/gpu=0 --privileged"));
    CHECK_FALSE(isCdiDeviceName("nvidia.com/gpu=-0"));
    CHECK_FALSE(isCdiDeviceName("/dev/nvidia0"));
    CHECK_FALSE(isCdiDeviceName("a=b/c"));
}

TEST_CASE("GPU devices are found in CDI specs", "[workerd][gpus]") {
    testing::StoreTempDir tmp;
    const std::string etc = tmp.path() + "/etc-cdi";
    const std::string run = tmp.path() + "/run-cdi";
    std::filesystem::create_directories(etc);
    std::filesystem::create_directories(run);
    // As `nvidia-ctk cdi generate` writes them (YAML), with the aggregate device "all".
    writeFile(etc + "/nvidia.yaml", R"(cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
  - name: "0"
    containerEdits: {deviceNodes: [{path: /dev/nvidia0}]}
  - name: "1"
    containerEdits: {deviceNodes: [{path: /dev/nvidia1}]}
  - name: all
    containerEdits: {deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia1}]}
)");
    // Not GPUs: ignored.
    writeFile(etc + "/vendor-fpga.json",
              R"({"cdiVersion": "0.5.0", "kind": "vendor.com/fpga", "devices": [{"name": "0"}]})");
    // JSON specs count too; a device seen already is listed once.
    writeFile(run + "/amd.json",
              R"({"cdiVersion": "0.6.0", "kind": "amd.com/gpu", "devices": [{"name": "0"}]})");
    writeFile(run + "/nvidia-again.json",
              R"({"cdiVersion": "0.6.0", "kind": "nvidia.com/gpu", "devices": [{"name": "1"}]})");
    // A broken file is skipped and reported, without hiding the others.
    writeFile(run + "/broken.yaml", "kind: [unclosed\n");
    writeFile(run + "/bad-name.yaml", "kind: x.com/gpu\ndevices:\n  - name: \"--privileged\"\n");
    writeFile(run + "/notes.txt", "kind: x.com/gpu\n");

    auto scan = detectCdiGpus({etc, run, tmp.path() + "/missing"});
    CHECK(scan.gpus ==
          std::vector<std::string>{"nvidia.com/gpu=0", "nvidia.com/gpu=1", "amd.com/gpu=0"});
    REQUIRE(scan.problems.size() == 2);
    CHECK_THAT(scan.problems[0], Catch::Contains("bad-name.yaml:3:") &&
                                     Catch::Contains("'--privileged' is not a device name"));
    CHECK_THAT(scan.problems[1], Catch::Contains("broken.yaml"));
}

TEST_CASE("a job's GPUs become podman --device options", "[workerd][gpus]") {
    auto spec =
        parseRunSpec(gpuJob({"nvidia.com/gpu=1", "nvidia.com/gpu=3"}), "/var/lib/fetchml/runs");
    REQUIRE(spec);
    WorkerSettings worker;
    auto args = PodmanCommand::runArgs(*spec, worker);
    std::vector<std::string> devices;
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "--device") {
            devices.push_back(args[i + 1]);
        }
    }
    CHECK(devices == std::vector<std::string>{"nvidia.com/gpu=1", "nvidia.com/gpu=3"});

    for (const auto& bad :
         {nlohmann::json("nvidia.com/gpu=0"), nlohmann::json::array({"/dev/nvidia0"}),
          nlohmann::json::array({"--privileged"}), nlohmann::json::array({1}),
          nlohmann::json::array({"a.com/gpu=0", "a.com/gpu=0"})}) {
        auto refused = parseRunSpec(gpuJob(bad), "/var/lib/fetchml/runs");
        REQUIRE_FALSE(refused);
        CHECK_THAT(refused.error().message, Catch::StartsWith("run: job.gpus:"));
    }
}

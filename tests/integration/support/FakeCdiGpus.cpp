#include "support/FakeCdiGpus.hpp"

#include <unistd.h>

#include <filesystem>

#include "support/Support.hpp"

namespace fetchml::test {

namespace {

constexpr const char* kDir = "/var/run/cdi";

constexpr const char* kSpec = R"(cdiVersion: "0.5.0"
kind: "test.fetchml.org/gpu"
devices:
  - name: "0"
    containerEdits:
      env: ["FETCHML_TEST_GPU=0"]
  - name: "1"
    containerEdits:
      env: ["FETCHML_TEST_GPU=1"]
  - name: all
    containerEdits:
      env: ["FETCHML_TEST_GPU=all"]
)";

}  // namespace

FakeCdiGpus::FakeCdiGpus(const std::string& copyDir) {
    std::error_code ec;
    madeDir_ = std::filesystem::create_directories(kDir, ec);
    path_ = std::string(kDir) + "/fetchml-test-" + std::to_string(::getpid()) + ".yaml";
    writeFile(path_, kSpec, 0644);
    std::filesystem::create_directories(copyDir);
    writeFile(copyDir + "/test.yaml", kSpec, 0644);
}

FakeCdiGpus::~FakeCdiGpus() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    if (madeDir_) {
        std::filesystem::remove(kDir, ec);
    }
}

}  // namespace fetchml::test

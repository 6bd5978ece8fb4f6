#pragma once
// Two fake GPUs for tests: a CDI spec (kind test.fetchml.org/gpu, devices 0 and 1, and the
// aggregate "all") whose only edit is FETCHML_TEST_GPU=<name> in the container, written where
// podman 4.3 reads specs (/var/run/cdi; it has no setting for other directories), under a
// per-process file name, and removed (with the directory, if it made it) on destruction.

#include <string>

namespace fetchml::test {

class FakeCdiGpus {
public:
    /// Writes the spec to /var/run/cdi and a copy to `copyDir`, for a worker's
    /// worker.cdi_spec_dirs (so that specs of real devices on the machine do not change what a
    /// test sees). Needs root (a test checks the files exist through what the worker reports).
    explicit FakeCdiGpus(const std::string& copyDir);
    ~FakeCdiGpus();
    FakeCdiGpus(const FakeCdiGpus&) = delete;
    FakeCdiGpus& operator=(const FakeCdiGpus&) = delete;

    /// The device names a worker offers from the spec.
    static constexpr const char* kGpu0 = "test.fetchml.org/gpu=0";
    static constexpr const char* kGpu1 = "test.fetchml.org/gpu=1";

private:
    std::string path_;
    bool madeDir_ = false;
};

}  // namespace fetchml::test

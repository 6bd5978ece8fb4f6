// What `queue` and `watch --queue` submit (Submission.hpp): the options as parsed by CLI11,
// sent to a transport that only records the request.

#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>

#include <algorithm>

#include "Submission.hpp"

using namespace fetchml;
using namespace fetchml::ctl;
using nlohmann::json;

namespace {

/// A transport that records the submissions; every other call fails.
class RecordingTransport final : public Transport {
public:
    json job, sweep;

    Result<json> submitJob(const json& request) override {
        job = request;
        return json{{"id", "j000001"}};
    }
    Result<json> submitSweep(const json& request) override {
        sweep = request;
        return json{{"sweep", "s000001"}, {"jobs", {"j000001", "j000002"}}};
    }

    static Error unused() { return makeError(ErrorCode::Internal, "not used by this test"); }
    Result<json> addUser(const std::string&, const std::string&) override { return unused(); }
    Result<json> hello() override { return unused(); }
    Result<json> createKey(const std::string&, const std::string&, std::int64_t) override {
        return unused();
    }
    Result<json> listKeys(const std::string&) override { return unused(); }
    Result<json> revokeKey(const std::string&) override { return unused(); }
    Result<std::vector<std::string>> missingBlobs(const std::vector<std::string>&) override {
        return unused();
    }
    Result<json> putBlobs(PackWriter&) override { return unused(); }
    Result<ChunksMissing> missingChunks(const std::vector<std::string>&,
                                        const std::vector<std::string>&) override {
        return unused();
    }
    Result<json> putChunkedFile(const std::string&, std::uint64_t, const std::string&,
                                const std::string&) override {
        return unused();
    }
    Result<std::string> putManifest(const std::string&) override { return unused(); }
    Result<std::string> getManifest(const std::string&) override { return unused(); }
    Result<std::uint64_t> fetchBlob(const std::string&, int) override { return unused(); }
    Result<json> getJob(const std::string&) override { return unused(); }
    Result<json> listJobs(const std::string&, std::uint32_t, const std::string&,
                          const std::string&) override {
        return unused();
    }
    Result<json> cancelJob(const std::string&) override { return unused(); }
    Result<json> cancelSweep(const std::string&) override { return unused(); }
    Result<json> pruneJobs(const json&) override { return unused(); }
    Result<json> addPin(const std::string&, const std::string&) override { return unused(); }
    Result<json> listPins() override { return unused(); }
    Result<json> removePin(const std::string&) override { return unused(); }
    Result<json> addDatasetVersion(const std::string&, const std::string&) override {
        return unused();
    }
    Result<json> listDatasets() override { return unused(); }
    Result<json> getDataset(const std::string&) override { return unused(); }
    Result<json> removeDataset(const std::string&) override { return unused(); }
    Result<LogChunk> readLog(const std::string&, std::uint64_t, std::uint32_t) override {
        return unused();
    }
    Result<JobResults> jobResults(const std::string&) override { return unused(); }
};

/// The options of `queue` after parsing args.
QueueOptions parsed(std::vector<std::string> args) {
    QueueOptions options;
    CLI::App app;
    addQueueOptions(app, options);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last first
    app.parse(args);
    return options;
}

}  // namespace

TEST_CASE("--data names the datasets of a job and of every job of a sweep", "[ctl][submission]") {
    const std::string commit(64, 'a');
    RecordingTransport transport;

    auto one = Submission::prepare(parsed({"--data", "mnist", "--data", "labels@3"}));
    REQUIRE(one.ok());
    REQUIRE(one->submit(transport, commit).ok());
    CHECK(transport.job["data"] == json::array({"mnist", "labels@3"}));
    CHECK(transport.job["commit"] == commit);

    auto sweep = Submission::prepare(parsed({"--param", "lr=1,2", "--data", "mnist@2"}));
    REQUIRE(sweep.ok());
    REQUIRE(sweep->isSweep());
    REQUIRE(sweep->submit(transport, commit).ok());
    CHECK(transport.sweep["data"] == json::array({"mnist@2"}));

    // Without --data the request has no "data" at all: it is what it was before datasets.
    auto none = Submission::prepare(parsed({"--name", "x"}));
    REQUIRE(none.ok());
    REQUIRE(none->submit(transport, commit).ok());
    CHECK_FALSE(transport.job.contains("data"));
}

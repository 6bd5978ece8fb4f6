// BackupManifest: the text form of a backup's table of contents, and what parse() refuses.

#include <catch2/catch.hpp>

#include <string>

#include "BackupManifest.hpp"
#include "store/Sha256.hpp"

using fetchml::Sha256;
using fetchml::ctl::BackupBlob;
using fetchml::ctl::BackupLog;
using fetchml::ctl::BackupManifest;

namespace {

std::string hashOf(const std::string& s) {
    return Sha256::hashBuffer(s);
}

BackupManifest sample() {
    BackupManifest m;
    m.createdMs = 1764460800000;
    m.databaseSha256 = hashOf("db");
    m.databaseSize = 4096;
    // Out of order on purpose: text() sorts.
    m.blobs = {BackupBlob{hashOf("b"), 2}, BackupBlob{hashOf("a"), 1}};
    m.logs = {BackupLog{"runs/j000002/logs/output.log", hashOf("log2"), 4, 7},
              BackupLog{"runs/j000001.attempt1/logs/output.log", hashOf("log1"), 4, 1234}};
    return m;
}

// text with its end line recomputed after an edit, so that only the edit is judged.
std::string resealed(std::string text) {
    auto end = text.rfind("end ");
    text.resize(end);
    return text + "end " + hashOf(text) + "\n";
}

}  // namespace

TEST_CASE("a backup manifest round-trips through its canonical text", "[ctl][backup]") {
    const auto m = sample();
    const std::string text = m.text();
    CHECK(text.rfind(
              "fetchml-backup 1\ncreated 1764460800000\ndatabase " + hashOf("db") + " 4096\n", 0) ==
          0);
    CHECK(text.find("log " + hashOf("log1") + " 4 1234 runs/j000001.attempt1/logs/output.log\n") !=
          std::string::npos);
    auto parsed = BackupManifest::parse(text);
    INFO((parsed ? "" : parsed.error().message));
    REQUIRE(parsed.ok());
    CHECK(parsed->createdMs == m.createdMs);
    CHECK(parsed->databaseSha256 == m.databaseSha256);
    CHECK(parsed->databaseSize == 4096);
    REQUIRE(parsed->blobs.size() == 2);
    CHECK(parsed->blobs[0].sha256 < parsed->blobs[1].sha256);
    CHECK(parsed->blobBytes() == 3);
    REQUIRE(parsed->logs.size() == 2);
    CHECK(parsed->logs[0].path == "runs/j000001.attempt1/logs/output.log");
    CHECK(parsed->logs[0].mtimeNs == 1234);
    CHECK(parsed->text() == text);

    BackupManifest empty;
    empty.databaseSha256 = hashOf("");
    auto none = BackupManifest::parse(empty.text());
    REQUIRE(none.ok());
    CHECK(none->blobs.empty());
    CHECK(none->logs.empty());
}

TEST_CASE("a damaged or unfinished backup manifest is refused with its line", "[ctl][backup]") {
    const std::string text = sample().text();
    auto refused = [](const std::string& t) {
        auto r = BackupManifest::parse(t);
        REQUIRE_FALSE(r.ok());
        return r.error().message;
    };
    // Cut short (no end line) and changed (end line no longer matches).
    CHECK(refused(text.substr(0, text.rfind("end "))).find("incomplete") != std::string::npos);
    CHECK(refused("").find("incomplete") != std::string::npos);
    std::string changed = text;
    changed.replace(changed.find(" 4096\n"), 6, " 4097\n");
    CHECK(refused(changed).find("line 8: the end line's hash does not match") != std::string::npos);
    CHECK(refused(text + "blob x\n").find("after the end line") != std::string::npos);
    CHECK(refused(text.substr(0, text.size() - 1)).find("newline") != std::string::npos);

    CHECK(
        refused(resealed("fetchml-backup 2\n" + text.substr(text.find('\n') + 1))).find("line 1") !=
        std::string::npos);
    // Blobs out of order or repeated.
    const std::string a = "blob " + hashOf("a") + " 1\n";
    const std::string b = "blob " + hashOf("b") + " 2\n";
    std::string swapped = text;
    auto first = swapped.find("blob ");
    auto second = swapped.find("blob ", first + 1);
    const std::string one = swapped.substr(first, second - first);
    const std::string two = swapped.substr(second, swapped.find('\n', second) + 1 - second);
    swapped.replace(first, one.size() + two.size(), two + one);
    CHECK(refused(resealed(swapped)).find("not sorted") != std::string::npos);
    std::string repeated = text;
    repeated.insert(first, one);
    CHECK(refused(resealed(repeated)).find("repeated blob") != std::string::npos);
    // Malformed lines.
    std::string badHash = text;
    badHash.replace(first + 5, 1, "G");
    CHECK(refused(resealed(badHash)).find("line 4: expected 'blob <sha256> <size>'") !=
          std::string::npos);
    std::string unknown = text;
    unknown.insert(first, "tape 1\n");
    CHECK(refused(resealed(unknown)).find("unknown line 'tape 1'") != std::string::npos);
    std::string leadingZero = text;
    leadingZero.replace(leadingZero.find(" 4096\n"), 6, " 04096\n");
    CHECK(refused(resealed(leadingZero)).find("database") != std::string::npos);
    // A log that would be written outside the run directories.
    std::string escape = text;
    escape.replace(escape.find("runs/j000002/logs"), 17, "runs/../../etc/xx");
    CHECK(refused(resealed(escape)).find("expected 'log") != std::string::npos);
}

TEST_CASE("log paths are runs/<run directory>/logs/output.log", "[ctl][backup]") {
    CHECK(BackupManifest::isValidLogPath("runs/j000001/logs/output.log"));
    CHECK(BackupManifest::isValidLogPath("runs/j1000000.attempt12/logs/output.log"));
    CHECK(BackupManifest::isValidLogPath("runs/j000001.stale/logs/output.log"));
    CHECK_FALSE(BackupManifest::isValidLogPath("runs/../logs/output.log"));
    CHECK_FALSE(BackupManifest::isValidLogPath("runs/./logs/output.log"));
    CHECK_FALSE(BackupManifest::isValidLogPath("runs/a/b/logs/output.log"));
    CHECK_FALSE(BackupManifest::isValidLogPath("runs//logs/output.log"));
    CHECK_FALSE(BackupManifest::isValidLogPath("runs/j 1/logs/output.log"));
    CHECK_FALSE(BackupManifest::isValidLogPath("store/j000001/logs/output.log"));
    CHECK_FALSE(BackupManifest::isValidLogPath("runs/j000001/logs/other.log"));
}

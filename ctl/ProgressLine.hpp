#pragma once
// ProgressLine: one line on stderr, rewritten with '\r', that shows how much of an upload has
// been sent: "sent 12.0 of 80.0 MiB, 3 of 12 files". Used only when stderr is a terminal.

#include <chrono>
#include <cstdint>

namespace fetchml::ctl {

/// A progress line for totalBytes of file data in totalFiles files. Inactive (prints nothing)
/// unless enabled.
class ProgressLine {
public:
    ProgressLine(bool enabled, std::uint64_t totalBytes, std::uint64_t totalFiles)
        : enabled_(enabled), totalBytes_(totalBytes), totalFiles_(totalFiles) {}
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;
    /// Calls finish().
    ~ProgressLine() { finish(); }

    /// Bytes and files sent so far. Redraws at most every 100 ms, and always when all is sent.
    void update(std::uint64_t bytes, std::uint64_t files);
    /// Ends the line with '\n' if anything was drawn; later calls do nothing.
    void finish();

private:
    void draw();

    bool enabled_;
    bool drawn_ = false;
    bool finished_ = false;
    std::uint64_t totalBytes_;
    std::uint64_t totalFiles_;
    std::uint64_t bytes_ = 0;
    std::uint64_t files_ = 0;
    std::chrono::steady_clock::time_point lastDraw_{};
};

}  // namespace fetchml::ctl

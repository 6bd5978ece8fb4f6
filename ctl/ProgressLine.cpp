#include "ProgressLine.hpp"

#include <cstdio>

namespace fetchml::ctl {

void ProgressLine::update(std::uint64_t bytes, std::uint64_t files) {
    if (!enabled_ || finished_) {
        return;
    }
    bytes_ = bytes;
    files_ = files;
    auto now = std::chrono::steady_clock::now();
    bool done = bytes_ >= totalBytes_ && files_ >= totalFiles_;
    if (!done && drawn_ && now - lastDraw_ < std::chrono::milliseconds(100)) {
        return;
    }
    lastDraw_ = now;
    draw();
}

void ProgressLine::draw() {
    constexpr double kMiB = 1024.0 * 1024.0;
    std::fprintf(stderr, "\rsent %.1f of %.1f MiB, %llu of %llu files", bytes_ / kMiB,
                 totalBytes_ / kMiB, static_cast<unsigned long long>(files_),
                 static_cast<unsigned long long>(totalFiles_));
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressLine::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (drawn_) {
        std::fputc('\n', stderr);
        std::fflush(stderr);
    }
}

}  // namespace fetchml::ctl

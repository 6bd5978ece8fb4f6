#pragma once
// LineBuffer: splits a byte stream into '\n'-terminated lines (worker socket framing,
// docs/architecture/decisions.md "Worker socket").

#include <cstddef>
#include <optional>
#include <string>

namespace fetchml {

/// Accumulates bytes and hands out complete lines (without the '\n').
class LineBuffer {
public:
    /// maxLine: longest accepted line in bytes (default 1 MiB).
    explicit LineBuffer(std::size_t maxLine = 1u << 20) : maxLine_(maxLine) {}

    /// Appends bytes read from the stream.
    void append(const char* data, std::size_t size) { buf_.append(data, size); }

    /// The next complete line, or nullopt when none is complete yet.
    std::optional<std::string> next() {
        auto pos = buf_.find('\n', scanned_);
        if (pos == std::string::npos) {
            scanned_ = buf_.size();
            return std::nullopt;
        }
        std::string line = buf_.substr(0, pos);
        buf_.erase(0, pos + 1);
        scanned_ = 0;
        return line;
    }

    /// True when more than maxLine bytes wait without a newline: the peer is misbehaving and
    /// the connection should be closed.
    bool overflowed() const { return buf_.size() > maxLine_; }

private:
    std::string buf_;
    std::size_t scanned_ = 0;
    std::size_t maxLine_;
};

}  // namespace fetchml

#pragma once
// UniqueFd: owns one file descriptor and closes it once.

#include <unistd.h>

#include <utility>

namespace fetchml {

/// Move-only owner of a file descriptor (-1 = none). close(2) errors are ignored on purpose:
/// the descriptor is released either way (close(2), "Dealing with error returns").
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    /// Gives up ownership and returns the descriptor.
    int release() { return std::exchange(fd_, -1); }
    /// Closes the current descriptor (if any) and takes fd.
    void reset(int fd = -1) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace fetchml

#pragma once
// Result<T>: a value or an Error, for expected failures (parsing, validation, peer input,
// SQLite/Redis errors). GCC 12 has no std::expected in C++20 mode, so this is a small type
// of our own with the same spirit (see docs/architecture/decisions.md).

#include <string>
#include <utility>
#include <variant>

namespace fetchml {

/// Error kinds; they map 1:1 onto D-Bus error names org.fetchml.Error.<Kind> and onto HTTP
/// statuses (NotFound 404, Unauthenticated 401, PermissionDenied 403, InvalidArgument 400,
/// Busy 503/429, Internal 500).
enum class ErrorCode {
    NotFound,
    Unauthenticated,
    PermissionDenied,
    InvalidArgument,
    Busy,
    Internal
};

/// An expected failure: a kind plus one human sentence saying what was wrong and where.
struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

/// Name of the kind as used in D-Bus error names and JSON bodies ("NotFound", ...).
const char* errorCodeName(ErrorCode code);
/// Full D-Bus error name, e.g. "org.fetchml.Error.NotFound".
std::string dbusErrorName(ErrorCode code);
/// Inverse of dbusErrorName; unknown names give Internal.
ErrorCode errorCodeFromDbusName(const std::string& name);
/// HTTP status for a kind (RFC 9110 §15).
int httpStatus(ErrorCode code);

/// Convenience constructors.
inline Error makeError(ErrorCode code, std::string message) {
    return Error{code, std::move(message)};
}

/// Holds either a T or an Error. Check with ok()/operator bool before value().
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
    Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

/// Result of an operation with no value.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool ok_ = true;
};

}  // namespace fetchml

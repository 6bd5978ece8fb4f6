#pragma once
// DevStack: the whole FetchML stack of scripts/dev-stack (private dbus-daemon, fetchmld,
// socket-activated fetchml-workerd with rootless podman, fetchml-httpsd on 127.0.0.1 port 0)
// in a temporary directory, for end-to-end tests. Brought up in the constructor, down in the
// destructor; only the processes dev-stack started are stopped.

#include <string>
#include <vector>

#include "support/Support.hpp"

namespace fetchml::test {

class DevStack {
public:
    /// `dev-stack up` with FETCHML_DEV_SLOTS=slots and `env` ("NAME=value": more FETCHML_DEV_*
    /// settings); REQUIREs success and its three exports (DBUS_SYSTEM_BUS_ADDRESS,
    /// FETCHML_SERVER, FETCHML_FINGERPRINT).
    explicit DevStack(int slots = 3, const std::vector<std::string>& env = {});
    ~DevStack();
    DevStack(const DevStack&) = delete;
    DevStack& operator=(const DevStack&) = delete;

    /// `dev-stack COMMAND --dir D --build B ARGS...` (e.g. "stop-fetchmld", {"--kill"});
    /// REQUIREs exit 0.
    void command(const std::string& command, const std::vector<std::string>& args = {});
    /// The exports as "NAME=value" entries, for run()'s env.
    const std::vector<std::string>& env() const { return env_; }
    /// The value of one export ("" if absent).
    std::string value(const std::string& name) const;
    /// A path inside the stack's directory (e.g. "logs/workerd.log", "state/runs/<id>").
    std::string path(const std::string& sub) const { return dir_.sub(sub); }

    /// Non-empty lines of s.
    static std::vector<std::string> splitLines(const std::string& s);

private:
    TempDir dir_;
    std::vector<std::string> env_;
};

}  // namespace fetchml::test

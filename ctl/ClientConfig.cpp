#include "ClientConfig.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/YamlParser.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

std::string envOr(const char* name, const std::string& fallback) {
    // Set but empty counts: FETCHML_SERVER= selects the system bus over a configured server.
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : fallback;
}

std::string where(const std::string& path, const YamlNode& node) {
    return path + ":" + std::to_string(node.line) + ":" + std::to_string(node.column);
}

}  // namespace

std::string defaultClientConfigPath() {
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/') {
        return std::string(xdg) + "/fetchml/client.yaml";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return std::string(home) + "/.config/fetchml/client.yaml";
    }
    return "";
}

Result<ClientConfig> readClientConfigFile(const std::string& path) {
    ClientConfig config;
    auto parsed = YamlParser::parseFile(path);
    if (!parsed) {
        if (parsed.error().code == ErrorCode::NotFound) {
            return config;
        }
        return makeError(ErrorCode::InvalidArgument, parsed.error().message);
    }
    config.sourceFile = path;
    if (!parsed->has_value()) {
        return config;
    }
    const YamlNode& root = **parsed;
    if (root.kind != YamlNode::Kind::Mapping) {
        return makeError(ErrorCode::InvalidArgument,
                         where(path, root) + ": expected a mapping, got " + root.kindName());
    }
    for (const auto& [key, value] : root.entries) {
        if (value.kind != YamlNode::Kind::Scalar) {
            return makeError(ErrorCode::InvalidArgument, where(path, value) + ": " + key.value +
                                                             ": expected a string, got " +
                                                             value.kindName());
        }
        if (key.value == "server") {
            config.server = value.value;
        } else if (key.value == "fingerprint") {
            config.fingerprint = value.value;
        } else if (key.value == "api_key") {
            config.apiKey = value.value;
        } else {
            return makeError(ErrorCode::InvalidArgument,
                             where(path, key) + ": unknown key '" + key.value +
                                 "' (known: server, fingerprint, api_key)");
        }
    }
    if (!config.apiKey.empty()) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) != 0) {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
            return makeError(ErrorCode::InvalidArgument,
                             path + " holds an API key but has mode " + mode +
                                 "; it must be mode 0600 (chmod 600 " + path + ")");
        }
    }
    return config;
}

Result<ClientConfig> loadClientConfig(const std::string& path,
                                      const std::optional<std::string>& serverFlag,
                                      const std::optional<std::string>& fingerprintFlag) {
    std::string file = path.empty() ? defaultClientConfigPath() : path;
    ClientConfig config;
    if (!file.empty()) {
        auto read = readClientConfigFile(file);
        if (!read) {
            return read.error();
        }
        config = std::move(*read);
    }
    config.server = envOr("FETCHML_SERVER", config.server);
    config.fingerprint = envOr("FETCHML_FINGERPRINT", config.fingerprint);
    config.apiKey = envOr("FETCHML_API_KEY", config.apiKey);
    if (serverFlag) {
        config.server = *serverFlag;
    }
    if (fingerprintFlag) {
        config.fingerprint = *fingerprintFlag;
    }
    return config;
}

Result<void> writeClientConfigFile(const std::string& path, const ClientConfig& config) {
    auto failed = [&](const std::string& why) {
        return makeError(ErrorCode::Internal, "cannot write " + path + ": " + why);
    };
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            return failed(ec.message());
        }
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    std::string text = "# fetchmlctl client settings (written by fetchmlctl login)\n";
    auto line = [&](const char* key, const std::string& value) {
        if (!value.empty()) {
            text += std::string(key) + ": " + nlohmann::json(value).dump() + "\n";
        }
    };
    line("server", config.server);
    line("fingerprint", config.fingerprint);
    line("api_key", config.apiKey);
    std::string tmp = path + ".tmp-XXXXXX";
    UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));  // mode 0600
    if (!fd) {
        return failed(std::strerror(errno));
    }
    bool ok = ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              ::fsync(fd.get()) == 0;
    int err = errno;
    fd.reset();
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        err = ok ? errno : err;
        ::unlink(tmp.c_str());
        return failed(std::strerror(err));
    }
    UniqueFd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dirFd) {
        ::fsync(dirFd.get());
    }
    return {};
}

}  // namespace fetchml::ctl

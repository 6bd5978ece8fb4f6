#include "ClientConfig.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "core/YamlParser.hpp"

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

}  // namespace fetchml::ctl

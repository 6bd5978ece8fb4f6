#include "core/Config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <system_error>
#include <type_traits>

#include "core/ConfigKeys.hpp"
#include "core/YamlParser.hpp"

namespace fetchml {
namespace {

/// One scalar value with the text that prefixes its errors: "file:3:9: https.port",
/// "environment FETCHML_HTTPS_PORT" or "--set https.port".
struct Item {
    std::string text;
    std::string where;
};

/// A value from any source: one scalar, or a list of them (worker.allowed_uids).
struct Value {
    std::vector<Item> items;
};

Error valueError(const Item& item, const std::string& what) {
    return makeError(ErrorCode::InvalidArgument,
                     item.where + ": expected " + what + ", got '" + item.text + "'");
}

struct KeySpec;
using Setter = std::function<Result<void>(Settings&, const Value&, const KeySpec&)>;

/// How a key is stored: the setter and whether it takes a list.
struct Binding {
    Setter set;
    bool list = false;
};

/// One configuration key. Adding a key = one line in kKeys below.
struct KeySpec {
    const char* section;
    const char* key;
    Binding binding;
    std::vector<std::string> allowed = {};  ///< for enumerated strings; empty = any string
    std::uint64_t minimum = 0;              ///< for unsigned integers: the smallest allowed
};

std::string joinAllowed(const std::vector<std::string>& allowed, const char* sep) {
    std::string out;
    for (const auto& a : allowed) {
        out += (out.empty() ? "" : sep) + a;
    }
    return out;
}

template <typename T>
std::string integerWhat(std::uint64_t minimum = 0) {
    return "an integer " + std::to_string(minimum) + ".." +
           std::to_string(std::numeric_limits<T>::max());
}

/// Parses a decimal unsigned integer of type T; no sign, no spaces, no suffix.
template <typename T>
std::optional<T> parseUnsigned(const std::string& text) {
    T out{};
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) {
        return std::nullopt;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return out;
}

Result<void> assign(std::string& out, const Value& v, const KeySpec& spec) {
    const Item& item = v.items.front();
    if (!spec.allowed.empty() &&
        std::find(spec.allowed.begin(), spec.allowed.end(), item.text) == spec.allowed.end()) {
        return valueError(item, "one of " + joinAllowed(spec.allowed, "|"));
    }
    out = item.text;
    return {};
}

Result<void> assign(bool& out, const Value& v, const KeySpec&) {
    const std::string& t = v.items.front().text;
    if (t == "true" || t == "yes" || t == "on") {
        out = true;
    } else if (t == "false" || t == "no" || t == "off") {
        out = false;
    } else {
        return valueError(v.items.front(), "true or false");
    }
    return {};
}

template <typename T>
requires std::is_unsigned_v<T> Result<void> assign(T& out, const Value& v, const KeySpec& spec) {
    auto parsed = parseUnsigned<T>(v.items.front().text);
    if (!parsed || *parsed < spec.minimum) {
        return valueError(v.items.front(), integerWhat<T>(spec.minimum));
    }
    out = *parsed;
    return {};
}

template <typename T>
Result<void> assign(std::vector<T>& out, const Value& v, const KeySpec&) {
    std::vector<T> result;
    for (const auto& item : v.items) {
        auto parsed = parseUnsigned<T>(item.text);
        if (!parsed) {
            return valueError(
                item, "a list of integers 0.." + std::to_string(std::numeric_limits<T>::max()));
        }
        result.push_back(*parsed);
    }
    out = std::move(result);
    return {};
}

Result<void> assign(std::vector<std::string>& out, const Value& v, const KeySpec&) {
    std::vector<std::string> result;
    for (const auto& item : v.items) {
        if (item.text.empty()) {
            return valueError(item, "a list of non-empty strings");
        }
        result.push_back(item.text);
    }
    out = std::move(result);
    return {};
}

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

/// Binds a key to Settings::<Section>.<Member>; the member's type picks the parser.
template <auto Section, auto Member>
Binding bind() {
    using Field = std::remove_cvref_t<decltype(std::declval<Settings&>().*Section.*Member)>;
    return Binding{[](Settings& s, const Value& v, const KeySpec& spec) -> Result<void> {
                       return assign((s.*Section).*Member, v, spec);
                   },
                   IsVector<Field>::value};
}

using S = Settings;
// clang-format off
const std::vector<KeySpec>& keys() {
    static const std::vector<KeySpec> kKeys = {
        {"paths", "state_dir", bind<&S::paths, &PathSettings::stateDir>()},
        {"paths", "runtime_dir", bind<&S::paths, &PathSettings::runtimeDir>()},
        {"paths", "store_dir", bind<&S::paths, &PathSettings::storeDir>()},
        {"store", "gc_grace_s", bind<&S::store, &StoreSettings::gcGraceS>(), {}, 1},
        {"log", "level", bind<&S::log, &LogSettings::level>(),
            {"trace", "debug", "info", "warning", "error", "critical"}},
        {"log", "target", bind<&S::log, &LogSettings::target>(), {"auto", "console", "journal"}},
        {"scheduler", "database", bind<&S::scheduler, &SchedulerSettings::database>()},
        {"scheduler", "worker_socket", bind<&S::scheduler, &SchedulerSettings::workerSocket>()},
        {"scheduler", "bus", bind<&S::scheduler, &SchedulerSettings::bus>(), {"system", "session"}},
        {"scheduler", "default_image", bind<&S::scheduler, &SchedulerSettings::defaultImage>()},
        {"scheduler", "reconnect_ms", bind<&S::scheduler, &SchedulerSettings::reconnectMs>()},
        {"scheduler", "retry_delay_s", bind<&S::scheduler, &SchedulerSettings::retryDelayS>()},
        {"scheduler", "aging_interval_s",
         bind<&S::scheduler, &SchedulerSettings::agingIntervalS>()},
        {"scheduler", "max_running_per_user",
         bind<&S::scheduler, &SchedulerSettings::maxRunningPerUser>()},
        {"scheduler", "default_cpus", bind<&S::scheduler, &SchedulerSettings::defaultCpus>()},
        {"scheduler", "backfill_depth", bind<&S::scheduler, &SchedulerSettings::backfillDepth>()},
        {"auth", "permissions_file", bind<&S::auth, &AuthSettings::permissionsFile>()},
        {"auth", "polkit", bind<&S::auth, &AuthSettings::polkit>()},
        {"auth", "local_role", bind<&S::auth, &AuthSettings::localRole>()},
        {"queue", "backend", bind<&S::queue, &QueueSettings::backend>(), {"sqlite", "redis"}},
        {"queue", "redis_url", bind<&S::queue, &QueueSettings::redisUrl>()},
        {"queue", "host_id", bind<&S::queue, &QueueSettings::hostId>()},
        {"queue", "prefix", bind<&S::queue, &QueueSettings::prefix>()},
        {"queue", "lease_s", bind<&S::queue, &QueueSettings::leaseS>()},
        {"queue", "poll_ms", bind<&S::queue, &QueueSettings::pollMs>()},
        {"worker", "socket", bind<&S::worker, &WorkerSettings::socket>()},
        {"worker", "podman", bind<&S::worker, &WorkerSettings::podman>()},
        {"worker", "runtime", bind<&S::worker, &WorkerSettings::runtime>()},
        {"worker", "rootfs_dir", bind<&S::worker, &WorkerSettings::rootfsDir>()},
        {"worker", "slots", bind<&S::worker, &WorkerSettings::slots>()},
        {"worker", "cpus", bind<&S::worker, &WorkerSettings::cpus>()},
        {"worker", "memory_mib", bind<&S::worker, &WorkerSettings::memoryMib>()},
        {"worker", "gpus", bind<&S::worker, &WorkerSettings::gpus>()},
        {"worker", "cdi_spec_dirs", bind<&S::worker, &WorkerSettings::cdiSpecDirs>()},
        {"worker", "pids_limit", bind<&S::worker, &WorkerSettings::pidsLimit>()},
        {"worker", "cancel_grace_s", bind<&S::worker, &WorkerSettings::cancelGraceS>()},
        {"worker", "max_runtime_s", bind<&S::worker, &WorkerSettings::maxRuntimeS>()},
        {"worker", "allowed_uids", bind<&S::worker, &WorkerSettings::allowedUids>()},
        {"worker", "allowed_groups", bind<&S::worker, &WorkerSettings::allowedGroups>()},
        {"https", "address", bind<&S::https, &HttpsSettings::address>()},
        {"https", "port", bind<&S::https, &HttpsSettings::port>()},
        {"https", "cert_file", bind<&S::https, &HttpsSettings::certFile>()},
        {"https", "key_file", bind<&S::https, &HttpsSettings::keyFile>()},
        {"https", "tls_dir", bind<&S::https, &HttpsSettings::tlsDir>()},
        {"https", "spool_dir", bind<&S::https, &HttpsSettings::spoolDir>()},
        {"https", "max_body_bytes", bind<&S::https, &HttpsSettings::maxBodyBytes>()},
        {"https", "max_json_bytes", bind<&S::https, &HttpsSettings::maxJsonBytes>()},
        {"https", "max_header_bytes", bind<&S::https, &HttpsSettings::maxHeaderBytes>()},
        {"https", "max_connections", bind<&S::https, &HttpsSettings::maxConnections>()},
        {"https", "max_connections_per_address",
            bind<&S::https, &HttpsSettings::maxConnectionsPerAddress>()},
        {"https", "header_timeout_s", bind<&S::https, &HttpsSettings::headerTimeoutS>()},
        {"https", "idle_timeout_s", bind<&S::https, &HttpsSettings::idleTimeoutS>()},
        {"https", "read_timeout_s", bind<&S::https, &HttpsSettings::readTimeoutS>()},
        {"https", "threads", bind<&S::https, &HttpsSettings::threads>()},
        {"https", "ws_max_message_bytes",
            bind<&S::https, &HttpsSettings::wsMaxMessageBytes>()},
        {"https", "allowlist", bind<&S::https, &HttpsSettings::allowlist>()},
        {"https", "rate_limit_per_minute", bind<&S::https, &HttpsSettings::rateLimitPerMinute>()},
        {"https", "auth_failures_per_minute",
            bind<&S::https, &HttpsSettings::authFailuresPerMinute>()},
        {"https", "seccomp", bind<&S::https, &HttpsSettings::seccomp>()},
    };
    return kKeys;
}
// clang-format on

const KeySpec* findKey(const std::string& section, const std::string& key) {
    for (const auto& spec : keys()) {
        if (section == spec.section && key == spec.key) {
            return &spec;
        }
    }
    return nullptr;
}

std::vector<std::string> sectionNames() {
    std::vector<std::string> out;
    for (const auto& spec : keys()) {
        if (std::find(out.begin(), out.end(), spec.section) == out.end()) {
            out.emplace_back(spec.section);
        }
    }
    return out;
}

std::vector<std::string> keyNames(const std::string& section) {
    std::vector<std::string> out;
    for (const auto& spec : keys()) {
        if (section == spec.section) {
            out.emplace_back(spec.key);
        }
    }
    return out;
}

std::string at(const std::string& file, const YamlNode& node) {
    return file + ":" + std::to_string(node.line) + ":" + std::to_string(node.column);
}

Error nodeError(const std::string& file, const YamlNode& node, const std::string& name,
                const std::string& what) {
    std::string got =
        node.kind == YamlNode::Kind::Scalar ? "'" + node.value + "'" : std::string(node.kindName());
    return makeError(ErrorCode::InvalidArgument,
                     at(file, node) + ": " + name + ": expected " + what + ", got " + got);
}

/// Applies one YAML value node to its key.
Result<void> applyNode(Settings& s, const KeySpec& spec, const std::string& file,
                       const YamlNode& node) {
    std::string name = std::string(spec.section) + "." + spec.key;
    Value value;
    if (spec.binding.list) {
        if (node.kind == YamlNode::Kind::Sequence) {
            for (const auto& item : node.items) {
                if (item.kind != YamlNode::Kind::Scalar) {
                    return nodeError(file, item, name, "a scalar list item");
                }
                value.items.push_back(Item{item.value, at(file, item) + ": " + name});
            }
        } else if (!node.isNull()) {
            return nodeError(file, node, name, "a sequence");
        }
    } else {
        if (node.kind != YamlNode::Kind::Scalar) {
            return nodeError(file, node, name, "a scalar");
        }
        // A bare `key:` or `key: ~` means "empty": "" for strings, refused for numbers.
        value.items.push_back(Item{node.isNull() ? "" : node.value, at(file, node) + ": " + name});
    }
    return spec.binding.set(s, value, spec);
}

Result<void> applySection(Settings& s, const std::string& file, const YamlNode& keyNode,
                          const YamlNode& body) {
    const std::string& section = keyNode.value;
    if (body.isNull()) {
        return {};
    }
    if (body.kind != YamlNode::Kind::Mapping) {
        return nodeError(file, body, section, "a mapping");
    }
    std::vector<std::string> seen;
    for (const auto& [k, v] : body.entries) {
        if (k.kind != YamlNode::Kind::Scalar) {
            return nodeError(file, k, section, "a key");
        }
        const KeySpec* spec = findKey(section, k.value);
        if (spec == nullptr) {
            return nodeError(
                file, k, section + "." + k.value,
                "a key of " + section + " (" + joinAllowed(keyNames(section), ", ") + ")");
        }
        if (std::find(seen.begin(), seen.end(), k.value) != seen.end()) {
            return nodeError(file, k, section + "." + k.value, "each key once");
        }
        seen.push_back(k.value);
        if (auto r = applyNode(s, *spec, file, v); !r) {
            return r;
        }
    }
    return {};
}

Result<void> applyDocument(Settings& s, const std::string& file, const YamlNode& root) {
    if (root.isNull()) {
        return {};
    }
    if (root.kind != YamlNode::Kind::Mapping) {
        return nodeError(file, root, "top level", "a mapping of sections");
    }
    const auto sections = sectionNames();
    std::vector<std::string> seen;
    for (const auto& [k, v] : root.entries) {
        if (k.kind != YamlNode::Kind::Scalar ||
            std::find(sections.begin(), sections.end(), k.value) == sections.end()) {
            return nodeError(file, k, k.kind == YamlNode::Kind::Scalar ? k.value : "top level",
                             "a section (" + joinAllowed(sections, ", ") + ")");
        }
        if (std::find(seen.begin(), seen.end(), k.value) != seen.end()) {
            return nodeError(file, k, k.value, "each section once");
        }
        seen.push_back(k.value);
        if (auto r = applySection(s, file, k, v); !r) {
            return r;
        }
    }
    return {};
}

/// Loads one file into s. `missingOk`: a missing file is not an error (returns false).
Result<bool> applyFile(Settings& s, const std::string& path, bool missingOk) {
    auto doc = YamlParser::parseFile(path);
    if (!doc) {
        if (doc.error().code == ErrorCode::NotFound && missingOk) {
            return false;
        }
        return doc.error();
    }
    if (doc->has_value()) {
        if (auto r = applyDocument(s, path, **doc); !r) {
            return r.error();
        }
    }
    return true;
}

Result<void> applyDropIns(Settings& s, const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path dir = path + ".d";
    if (!fs::is_directory(dir, ec)) {
        return {};
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".yaml" && !entry.is_directory()) {
            files.push_back(entry.path());
        }
    }
    if (ec) {
        return makeError(ErrorCode::Internal, dir.string() + ": " + ec.message());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        if (auto r = applyFile(s, f.string(), false); !r) {
            return r.error();
        }
    }
    return {};
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) {
        return "";
    }
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

/// Applies a text value (environment or --set): lists are comma-separated.
Result<void> applyText(Settings& s, const KeySpec& spec, const std::string& text,
                       const std::string& where) {
    Value value;
    if (spec.binding.list) {
        std::string rest = text;
        if (!trim(rest).empty()) {
            std::size_t pos = 0;
            while (true) {
                auto comma = rest.find(',', pos);
                value.items.push_back(Item{trim(rest.substr(pos, comma - pos)), where});
                if (comma == std::string::npos) {
                    break;
                }
                pos = comma + 1;
            }
        }
    } else {
        value.items.push_back(Item{text, where});
    }
    return spec.binding.set(s, value, spec);
}

std::string envName(const KeySpec& spec) {
    return configEnvName(std::string(spec.section) + "." + spec.key);
}

Result<void> applyEnvironment(Settings& s) {
    for (const auto& spec : keys()) {
        std::string name = envName(spec);
        if (const char* v = std::getenv(name.c_str()); v != nullptr) {
            if (auto r = applyText(s, spec, v, "environment " + name); !r) {
                return r;
            }
        }
    }
    return {};
}

Result<void> applyOverride(Settings& s, const std::string& text) {
    auto eq = text.find('=');
    auto dot = text.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
        return makeError(ErrorCode::InvalidArgument,
                         "--set: expected section.key=value, got '" + text + "'");
    }
    std::string section = text.substr(0, dot);
    std::string key = text.substr(dot + 1, eq - dot - 1);
    const KeySpec* spec = findKey(section, key);
    if (spec == nullptr) {
        return makeError(ErrorCode::InvalidArgument, "--set " + section + "." + key +
                                                         ": expected a known key, got '" + section +
                                                         "." + key + "'");
    }
    return applyText(s, *spec, text.substr(eq + 1), "--set " + section + "." + key);
}

}  // namespace

Result<Settings> loadSettings(const LoadOptions& options) {
    Settings s;
    auto loaded = applyFile(s, options.path, !options.mustExist);
    if (!loaded) {
        return loaded.error();
    }
    if (*loaded) {
        s.sourceFile = options.path;
    }
    if (auto r = applyDropIns(s, options.path); !r) {
        return r.error();
    }
    if (options.readEnvironment) {
        if (auto r = applyEnvironment(s); !r) {
            return r.error();
        }
    }
    for (const auto& o : options.overrides) {
        if (auto r = applyOverride(s, o); !r) {
            return r.error();
        }
    }
    return s;
}

std::vector<std::string> configKeyNames() {
    std::vector<std::string> out;
    for (const auto& spec : keys()) {
        out.push_back(std::string(spec.section) + "." + spec.key);
    }
    return out;
}

std::string configEnvName(const std::string& sectionDotKey) {
    std::string name = "FETCHML_" + sectionDotKey;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
        return c == '.' ? '_' : static_cast<char>(std::toupper(c));
    });
    return name;
}

Settings resolvePaths(Settings settings) {
    const std::string& state = settings.paths.stateDir;
    const std::string& run = settings.paths.runtimeDir;
    auto fill = [](std::string& field, const std::string& base, const char* leaf) {
        if (field.empty()) {
            field = (std::filesystem::path(base) / leaf).string();
        }
    };
    fill(settings.scheduler.database, state, "fetchml.db");
    fill(settings.paths.storeDir, state, "store");
    fill(settings.scheduler.workerSocket, run, "worker.sock");
    fill(settings.worker.socket, run, "worker.sock");
    fill(settings.worker.rootfsDir, state, "rootfs");
    fill(settings.https.tlsDir, state, "tls");
    return settings;
}

}  // namespace fetchml

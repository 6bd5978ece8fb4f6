#include "CdiDevices.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/YamlParser.hpp"

namespace fetchml {
namespace {

bool isAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// First and last character alphanumeric, the others alphanumeric or in `extra`.
bool isPart(const std::string& part, const char* extra) {
    if (part.empty() || !isAlnum(part.front()) || !isAlnum(part.back())) {
        return false;
    }
    return std::all_of(part.begin(), part.end(), [extra](char c) {
        return isAlnum(c) || std::string_view(extra).find(c) != std::string_view::npos;
    });
}

/// The value of `key` in a mapping node, or nullptr.
const YamlNode* member(const YamlNode& mapping, const std::string& key) {
    if (mapping.kind != YamlNode::Kind::Mapping) {
        return nullptr;
    }
    for (const auto& [k, v] : mapping.entries) {
        if (k.kind == YamlNode::Kind::Scalar && k.value == key) {
            return &v;
        }
    }
    return nullptr;
}

Error specError(const std::string& file, const YamlNode& at, const std::string& what) {
    return makeError(ErrorCode::InvalidArgument, file + ":" + std::to_string(at.line) + ":" +
                                                     std::to_string(at.column) + ": " + what);
}

/// The GPU devices of one spec file, appended to `out` unless already in `seen`.
Result<void> readSpec(const std::string& file, std::vector<std::string>& out,
                      std::set<std::string>& seen) {
    auto doc = YamlParser::parseFile(file);
    if (!doc) {
        return doc.error();
    }
    if (!*doc) {
        return {};  // an empty file
    }
    const YamlNode& root = **doc;
    const YamlNode* kind = member(root, "kind");
    if (kind == nullptr || kind->kind != YamlNode::Kind::Scalar) {
        return specError(file, root, "a CDI spec needs a kind (vendor/class)");
    }
    auto slash = kind->value.find('/');
    if (!isCdiDeviceName(kind->value + "=x") || slash == std::string::npos) {
        return specError(file, *kind, "kind: expected vendor/class, got '" + kind->value + "'");
    }
    if (kind->value.substr(slash + 1) != "gpu") {
        return {};
    }
    const YamlNode* devices = member(root, "devices");
    if (devices == nullptr || devices->kind != YamlNode::Kind::Sequence) {
        return {};
    }
    for (const auto& device : devices->items) {
        const YamlNode* name = member(device, "name");
        if (name == nullptr || name->kind != YamlNode::Kind::Scalar) {
            return specError(file, device, "devices: each device needs a name");
        }
        const std::string full = kind->value + "=" + name->value;
        if (!isCdiDeviceName(full)) {
            return specError(file, *name, "devices: '" + name->value + "' is not a device name");
        }
        if (name->value != "all" && seen.insert(full).second) {
            out.push_back(full);
        }
    }
    return {};
}

}  // namespace

bool isCdiDeviceName(const std::string& name) {
    if (name.size() > 255) {
        return false;
    }
    auto slash = name.find('/');
    auto equals = name.find('=');
    if (slash == std::string::npos || equals == std::string::npos || equals < slash) {
        return false;
    }
    return isPart(name.substr(0, slash), ".-") &&
           isPart(name.substr(slash + 1, equals - slash - 1), "_.-") &&
           isPart(name.substr(equals + 1), "_.:-");
}

CdiScan detectCdiGpus(const std::vector<std::string>& dirs) {
    CdiScan scan;
    std::set<std::string> seen;
    for (const auto& dir : dirs) {
        std::error_code ec;
        std::vector<std::string> files;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
            const auto ext = entry.path().extension();
            if (entry.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
                files.push_back(entry.path().string());
            }
        }
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            // A file's devices count only when all of it is valid.
            std::vector<std::string> found;
            std::set<std::string> seenWith = seen;
            if (auto r = readSpec(file, found, seenWith); !r) {
                scan.problems.push_back(r.error().message);
                continue;
            }
            seen = std::move(seenWith);
            scan.gpus.insert(scan.gpus.end(), found.begin(), found.end());
        }
    }
    return scan;
}

}  // namespace fetchml

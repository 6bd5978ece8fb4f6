#include "proto/VariantJson.hpp"

#include "core/Utf8.hpp"

#include <algorithm>
#include <limits>

namespace fetchml {
namespace {

using nlohmann::json;
using StringMap = std::map<std::string, std::string>;

constexpr int kMaxDepth = 32;

Error invalid(const std::string& message) {
    return makeError(ErrorCode::InvalidArgument, message);
}

std::string join(const std::string& parent, const std::string& child) {
    return parent.empty() ? child : parent + "." + child;
}

Result<VariantMap> toMap(const json& object, const std::string& field, int depth);

Result<sdbus::Variant> toVariant(const json& v, const std::string& field, int depth);

bool isInt64(const json& v) {
    return v.is_number_integer() &&
           (!v.is_number_unsigned() ||
            v.get<std::uint64_t>() <=
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
}

Result<sdbus::Variant> arrayToVariant(const json& array, const std::string& field, int depth) {
    auto all = [&](auto pred) { return std::all_of(array.begin(), array.end(), pred); };
    if (all([](const json& e) { return e.is_string(); })) {
        return sdbus::Variant(array.get<std::vector<std::string>>());
    }
    if (all([](const json& e) { return e.is_object(); })) {
        std::vector<VariantMap> out;
        for (std::size_t i = 0; i < array.size(); ++i) {
            auto m = toMap(array[i], field + "[" + std::to_string(i) + "]", depth + 1);
            if (!m) {
                return m.error();
            }
            out.push_back(std::move(m).value());
        }
        return sdbus::Variant(out);
    }
    if (all(isInt64)) {
        return sdbus::Variant(array.get<std::vector<std::int64_t>>());
    }
    if (all([](const json& e) { return e.is_number(); })) {
        return sdbus::Variant(array.get<std::vector<double>>());
    }
    std::vector<sdbus::Variant> out;
    for (std::size_t i = 0; i < array.size(); ++i) {
        auto e = toVariant(array[i], field + "[" + std::to_string(i) + "]", depth + 1);
        if (!e) {
            return e.error();
        }
        out.push_back(std::move(e).value());
    }
    return sdbus::Variant(out);
}

Result<sdbus::Variant> toVariant(const json& v, const std::string& field, int depth) {
    if (depth > kMaxDepth) {
        return invalid("field '" + field + "': nested deeper than " + std::to_string(kMaxDepth));
    }
    switch (v.type()) {
        case json::value_t::string:
            return sdbus::Variant(v.get<std::string>());
        case json::value_t::boolean:
            return sdbus::Variant(v.get<bool>());
        case json::value_t::number_integer:
            return sdbus::Variant(v.get<std::int64_t>());
        case json::value_t::number_unsigned:
            return sdbus::Variant(v.get<std::uint64_t>());
        case json::value_t::number_float:
            return sdbus::Variant(v.get<double>());
        case json::value_t::array:
            return arrayToVariant(v, field, depth);
        case json::value_t::object: {
            bool strings =
                std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
            if (strings) {
                return sdbus::Variant(v.get<StringMap>());
            }
            auto m = toMap(v, field, depth + 1);
            if (!m) {
                return m.error();
            }
            return sdbus::Variant(*m);
        }
        default:
            return invalid("field '" + field + "': expected a string, number, boolean, array " +
                           "or object, got " + v.type_name());
    }
}

Result<VariantMap> toMap(const json& object, const std::string& field, int depth) {
    if (!object.is_object()) {
        return invalid((field.empty() ? std::string("body") : "field '" + field + "'") +
                       ": expected an object, got " + object.type_name());
    }
    if (depth > kMaxDepth) {
        return invalid("field '" + field + "': nested deeper than " + std::to_string(kMaxDepth));
    }
    VariantMap out;
    for (const auto& [key, value] : object.items()) {
        if (value.is_null()) {
            continue;  // null members mean "absent", as with optional fields
        }
        auto v = toVariant(value, join(field, key), depth);
        if (!v) {
            return v.error();
        }
        out.emplace(key, std::move(v).value());
    }
    return out;
}

template <typename T>
json arrayToJson(const sdbus::Variant& v) {
    json out = json::array();
    for (const auto& e : v.get<std::vector<T>>()) {
        out.push_back(e);
    }
    return out;
}

template <typename T>
json mapToJson(const sdbus::Variant& v) {
    json out = json::object();
    for (const auto& [k, e] : v.get<std::map<std::string, T>>()) {
        out[k] = e;
    }
    return out;
}

std::optional<json> scalarToJson(const sdbus::Variant& v, const std::string& sig) {
    if (sig == "s") {
        return json(v.get<std::string>());
    } else if (sig == "o") {
        return json(std::string(v.get<sdbus::ObjectPath>()));
    } else if (sig == "g") {
        return json(std::string(v.get<sdbus::Signature>()));
    } else if (sig == "b") {
        return json(v.get<bool>());
    } else if (sig == "y") {
        return json(v.get<std::uint8_t>());
    } else if (sig == "n") {
        return json(v.get<std::int16_t>());
    } else if (sig == "q") {
        return json(v.get<std::uint16_t>());
    } else if (sig == "i") {
        return json(v.get<std::int32_t>());
    } else if (sig == "u") {
        return json(v.get<std::uint32_t>());
    } else if (sig == "x") {
        return json(v.get<std::int64_t>());
    } else if (sig == "t") {
        return json(v.get<std::uint64_t>());
    } else if (sig == "d") {
        return json(v.get<double>());
    }
    return std::nullopt;
}

Result<json> containerToJson(const sdbus::Variant& v, const std::string& sig,
                             const std::string& field) {
    if (sig == "ay") {
        auto bytes = v.get<std::vector<std::uint8_t>>();
        return json(sanitizeUtf8(
            std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
    } else if (sig == "as") {
        return arrayToJson<std::string>(v);
    } else if (sig == "ai") {
        return arrayToJson<std::int32_t>(v);
    } else if (sig == "au") {
        return arrayToJson<std::uint32_t>(v);
    } else if (sig == "ax") {
        return arrayToJson<std::int64_t>(v);
    } else if (sig == "at") {
        return arrayToJson<std::uint64_t>(v);
    } else if (sig == "ad") {
        return arrayToJson<double>(v);
    } else if (sig == "a{ss}") {
        return mapToJson<std::string>(v);
    } else if (sig == "a{sd}") {
        return mapToJson<double>(v);
    } else if (sig == "a{sx}") {
        return mapToJson<std::int64_t>(v);
    } else if (sig == "a{sv}") {
        return variantMapToJson(v.get<VariantMap>());
    } else if (sig == "av") {
        json out = json::array();
        auto items = v.get<std::vector<sdbus::Variant>>();
        for (std::size_t i = 0; i < items.size(); ++i) {
            auto e = variantToJson(items[i], field + "[" + std::to_string(i) + "]");
            if (!e) {
                return e.error();
            }
            out.push_back(std::move(e).value());
        }
        return out;
    } else if (sig == "aa{sv}") {
        json out = json::array();
        for (const auto& m : v.get<std::vector<VariantMap>>()) {
            auto e = variantMapToJson(m);
            if (!e) {
                return e.error();
            }
            out.push_back(std::move(e).value());
        }
        return out;
    }
    return invalid("field '" + field + "': D-Bus type '" + sig + "' has no JSON form");
}

/// Words for a signature in error messages.
std::string describe(const std::string& sig) {
    static const std::map<std::string, std::string> kNames = {{"s", "a string"},
                                                              {"b", "a boolean"},
                                                              {"y", "an integer"},
                                                              {"n", "an integer"},
                                                              {"q", "an integer"},
                                                              {"i", "an integer"},
                                                              {"u", "an integer"},
                                                              {"x", "an integer"},
                                                              {"t", "an integer"},
                                                              {"d", "a number"},
                                                              {"as", "a list of strings"},
                                                              {"a{ss}", "a map of strings"},
                                                              {"a{sv}", "an object"},
                                                              {"aa{sv}", "a list of objects"},
                                                              {"av", "a list"},
                                                              {"ax", "a list of integers"},
                                                              {"ad", "a list of numbers"},
                                                              {"ay", "bytes"}};
    auto it = kNames.find(sig);
    return it != kNames.end() ? it->second : "D-Bus type '" + sig + "'";
}

Error wrongType(const std::string& key, const std::string& expected, const std::string& sig) {
    return invalid("field '" + key + "': expected " + expected + ", got " + describe(sig));
}

// Extractors: one variant -> T, naming `key` in errors.

Result<std::string> extractString(const sdbus::Variant& v, const std::string& key) {
    auto sig = v.peekValueType();
    if (sig != "s") {
        return wrongType(key, "a string", sig);
    }
    return v.get<std::string>();
}

Result<bool> extractBool(const sdbus::Variant& v, const std::string& key) {
    auto sig = v.peekValueType();
    if (sig != "b") {
        return wrongType(key, "a boolean", sig);
    }
    return v.get<bool>();
}

/// Any integer type as (is negative, magnitude-preserving value) in a wide form.
std::optional<__int128> extractWide(const sdbus::Variant& v, const std::string& sig) {
    if (sig == "y") {
        return v.get<std::uint8_t>();
    } else if (sig == "n") {
        return v.get<std::int16_t>();
    } else if (sig == "q") {
        return v.get<std::uint16_t>();
    } else if (sig == "i") {
        return v.get<std::int32_t>();
    } else if (sig == "u") {
        return v.get<std::uint32_t>();
    } else if (sig == "x") {
        return v.get<std::int64_t>();
    } else if (sig == "t") {
        return v.get<std::uint64_t>();
    }
    return std::nullopt;
}

Result<std::int64_t> extractInt64(const sdbus::Variant& v, const std::string& key) {
    auto sig = v.peekValueType();
    auto wide = extractWide(v, sig);
    if (!wide) {
        return wrongType(key, "an integer", sig);
    }
    if (*wide > std::numeric_limits<std::int64_t>::max()) {
        return invalid("field '" + key + "': integer out of range");
    }
    return static_cast<std::int64_t>(*wide);
}

Result<std::uint64_t> extractUInt64(const sdbus::Variant& v, const std::string& key) {
    auto sig = v.peekValueType();
    auto wide = extractWide(v, sig);
    if (!wide) {
        return wrongType(key, "a non-negative integer", sig);
    }
    if (*wide < 0) {
        return invalid("field '" + key + "': expected a non-negative integer, got " +
                       std::to_string(static_cast<std::int64_t>(*wide)));
    }
    return static_cast<std::uint64_t>(*wide);
}

Result<double> extractDouble(const sdbus::Variant& v, const std::string& key) {
    auto sig = v.peekValueType();
    if (sig == "d") {
        return v.get<double>();
    }
    auto wide = extractWide(v, sig);
    if (!wide) {
        return wrongType(key, "a number", sig);
    }
    return static_cast<double>(*wide);
}

Result<std::vector<std::string>> extractStringList(const sdbus::Variant& v,
                                                   const std::string& key) {
    auto sig = v.peekValueType();
    if (sig == "as") {
        return v.get<std::vector<std::string>>();
    }
    if (sig == "av") {
        std::vector<std::string> out;
        for (const auto& e : v.get<std::vector<sdbus::Variant>>()) {
            if (e.peekValueType() != "s") {
                return wrongType(key, "a list of strings", sig);
            }
            out.push_back(e.get<std::string>());
        }
        return out;
    }
    return wrongType(key, "a list of strings", sig);
}

Result<StringMap> extractStringMap(const sdbus::Variant& v, const std::string& key) {
    auto sig = v.peekValueType();
    if (sig == "a{ss}") {
        return v.get<StringMap>();
    }
    if (sig == "a{sv}") {
        StringMap out;
        for (const auto& [k, e] : v.get<VariantMap>()) {
            if (e.peekValueType() != "s") {
                return invalid("field '" + key + "." + k + "': expected a string, got " +
                               describe(e.peekValueType()));
            }
            out.emplace(k, e.get<std::string>());
        }
        return out;
    }
    return wrongType(key, "a map of strings", sig);
}

template <typename T>
using Extractor = Result<T> (*)(const sdbus::Variant&, const std::string&);

template <typename T>
Result<T> required(const VariantMap& map, const std::string& key, Extractor<T> extract) {
    auto it = map.find(key);
    if (it == map.end()) {
        return invalid("missing field '" + key + "'");
    }
    return extract(it->second, key);
}

template <typename T>
Result<T> withDefault(const VariantMap& map, const std::string& key, const T& fallback,
                      Extractor<T> extract) {
    auto it = map.find(key);
    if (it == map.end()) {
        return fallback;
    }
    return extract(it->second, key);
}

template <typename T>
Result<std::optional<T>> optional(const VariantMap& map, const std::string& key,
                                  Extractor<T> extract) {
    auto it = map.find(key);
    if (it == map.end()) {
        return std::optional<T>();
    }
    auto r = extract(it->second, key);
    if (!r) {
        return r.error();
    }
    return std::optional<T>(std::move(r).value());
}

}  // namespace

Result<VariantMap> jsonToVariantMap(const json& object) {
    return toMap(object, "", 0);
}

Result<sdbus::Variant> jsonToVariant(const json& value, const std::string& field) {
    if (value.is_null()) {
        return invalid("field '" + field + "': expected a value, got null");
    }
    return toVariant(value, field, 0);
}

Result<json> variantMapToJson(const VariantMap& map) {
    json out = json::object();
    for (const auto& [key, value] : map) {
        auto v = variantToJson(value, key);
        if (!v) {
            return v.error();
        }
        out[key] = std::move(v).value();
    }
    return out;
}

Result<json> readVariantMapJson(sdbus::Message& message) {
    json out = json::object();
    message.enterContainer("{sv}");
    std::string type;
    std::string contents;
    while (message.enterDictEntry("sv")) {
        std::string key;
        message >> key;
        message.peekType(type, contents);
        if (contents == "as") {
            std::vector<std::string> items;
            message.enterVariant("as");
            message >> items;
            message.exitVariant();
            json list = json::array();
            list.get_ref<json::array_t&>().reserve(items.size());
            for (auto& item : items) {
                list.push_back(std::move(item));
            }
            out[key] = std::move(list);
        } else {
            sdbus::Variant value;
            message >> value;
            auto v = variantToJson(value, key);
            if (!v) {
                return v.error();
            }
            out[key] = std::move(v).value();
        }
        message.exitDictEntry();
    }
    message.clearFlags();
    message.exitContainer();
    return out;
}

Result<json> variantToJson(const sdbus::Variant& value, const std::string& field) {
    if (value.isEmpty()) {
        return invalid("field '" + field + "': empty variant");
    }
    std::string sig = value.peekValueType();
    if (auto scalar = scalarToJson(value, sig)) {
        return std::move(*scalar);
    }
    return containerToJson(value, sig, field);
}

Result<std::string> getString(const VariantMap& map, const std::string& key) {
    return required<std::string>(map, key, extractString);
}
Result<std::string> getString(const VariantMap& map, const std::string& key,
                              const std::string& fallback) {
    return withDefault<std::string>(map, key, fallback, extractString);
}
Result<std::optional<std::string>> getOptionalString(const VariantMap& map,
                                                     const std::string& key) {
    return optional<std::string>(map, key, extractString);
}

Result<std::int64_t> getInt64(const VariantMap& map, const std::string& key) {
    return required<std::int64_t>(map, key, extractInt64);
}
Result<std::int64_t> getInt64(const VariantMap& map, const std::string& key,
                              std::int64_t fallback) {
    return withDefault<std::int64_t>(map, key, fallback, extractInt64);
}
Result<std::optional<std::int64_t>> getOptionalInt64(const VariantMap& map,
                                                     const std::string& key) {
    return optional<std::int64_t>(map, key, extractInt64);
}

Result<double> getDouble(const VariantMap& map, const std::string& key, double fallback) {
    return withDefault<double>(map, key, fallback, extractDouble);
}

Result<std::uint64_t> getUInt64(const VariantMap& map, const std::string& key) {
    return required<std::uint64_t>(map, key, extractUInt64);
}
Result<std::uint64_t> getUInt64(const VariantMap& map, const std::string& key,
                                std::uint64_t fallback) {
    return withDefault<std::uint64_t>(map, key, fallback, extractUInt64);
}
Result<std::optional<std::uint64_t>> getOptionalUInt64(const VariantMap& map,
                                                       const std::string& key) {
    return optional<std::uint64_t>(map, key, extractUInt64);
}

Result<bool> getBool(const VariantMap& map, const std::string& key) {
    return required<bool>(map, key, extractBool);
}
Result<bool> getBool(const VariantMap& map, const std::string& key, bool fallback) {
    return withDefault<bool>(map, key, fallback, extractBool);
}
Result<std::optional<bool>> getOptionalBool(const VariantMap& map, const std::string& key) {
    return optional<bool>(map, key, extractBool);
}

Result<std::vector<std::string>> getStringList(const VariantMap& map, const std::string& key) {
    return required<std::vector<std::string>>(map, key, extractStringList);
}
Result<std::vector<std::string>> getStringList(const VariantMap& map, const std::string& key,
                                               const std::vector<std::string>& fallback) {
    return withDefault<std::vector<std::string>>(map, key, fallback, extractStringList);
}
Result<std::optional<std::vector<std::string>>> getOptionalStringList(const VariantMap& map,
                                                                      const std::string& key) {
    return optional<std::vector<std::string>>(map, key, extractStringList);
}

Result<StringMap> getStringMap(const VariantMap& map, const std::string& key) {
    return required<StringMap>(map, key, extractStringMap);
}
Result<StringMap> getStringMap(const VariantMap& map, const std::string& key,
                               const StringMap& fallback) {
    return withDefault<StringMap>(map, key, fallback, extractStringMap);
}
Result<std::optional<StringMap>> getOptionalStringMap(const VariantMap& map,
                                                      const std::string& key) {
    return optional<StringMap>(map, key, extractStringMap);
}

}  // namespace fetchml

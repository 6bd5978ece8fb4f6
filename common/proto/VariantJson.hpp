#pragma once
// Conversion between JSON objects (nlohmann::json) and D-Bus a{sv} dictionaries
// (std::map<std::string, sdbus::Variant>), plus typed getters for request fields.
// Used by fetchmld (requests), fetchml-httpsd (JSON bodies <-> D-Bus) and fetchmlctl
// (D-Bus replies -> JSON). Type signatures: D-Bus specification, "Type system".
//
// JSON -> D-Bus:
//   string -> s, true/false -> b, negative integer -> x, non-negative integer -> t
//   (nlohmann keeps parsed non-negative integers unsigned), other number -> d,
//   null (as an object member) -> member left out,
//   array of strings (or empty) -> as, array of objects -> aa{sv}, array of integers -> ax,
//   array of numbers -> ad, any other array -> av,
//   object whose values are all strings (or empty) -> a{ss}, other object -> a{sv} (nested).
// D-Bus -> JSON: s, o, g -> string; b -> bool; y, n, q, i, u, x, t -> integer; d -> number;
//   ay -> string (invalid UTF-8 replaced with U+FFFD); as, ax, at, ad, ab, av -> array;
//   a{ss}, a{sv}, a{sd} -> object; aa{sv} -> array of objects.

#include <sdbus-c++/sdbus-c++.h>
#include <nlohmann/json.hpp>
#include "core/Utf8.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// A D-Bus a{sv} dictionary.
using VariantMap = std::map<std::string, sdbus::Variant>;

/// JSON object -> a{sv}. Errors (InvalidArgument): `object` is not an object, a null inside an
/// array, or nesting deeper than 32 levels; the message names the field path ("params.lr").
Result<VariantMap> jsonToVariantMap(const nlohmann::json& object);

/// One JSON value -> variant, by the rules above. `field` names the value in errors.
Result<sdbus::Variant> jsonToVariant(const nlohmann::json& value, const std::string& field);

/// a{sv} -> JSON object. Errors (InvalidArgument) name the field whose type has no JSON form
/// (e.g. h, a file descriptor) and its signature.
Result<nlohmann::json> variantMapToJson(const VariantMap& map);

/// One variant -> JSON; `field` names it in errors.
Result<nlohmann::json> variantToJson(const sdbus::Variant& value, const std::string& field);

/// Reads an a{sv} dictionary at the read position of `message` (a method reply) straight into
/// a JSON object, by the rules above. A list of strings (as) goes from the message into the
/// JSON array without an sdbus::Variant, which would copy it into a message of its own first:
/// for a 1,000-job SubmitSweep answer that is most of fetchmlctl's work after the call
/// (decisions.md "Sweeps: one record, expanded after the answer"). Errors as
/// variantMapToJson; sdbus::Error when the message holds no a{sv} there.
Result<nlohmann::json> readVariantMapJson(sdbus::Message& message);

// sanitizeUtf8 (bytes -> valid UTF-8 for "ay" values) lives in core/Utf8.hpp.

// Typed getters for request fields. Each comes in three forms:
//   getX(map, key)             the field is required: missing -> InvalidArgument
//                              "missing field 'key'"
//   getX(map, key, fallback)   missing -> fallback
//   getOptionalX(map, key)     missing -> std::nullopt
// A field of the wrong type is InvalidArgument "field 'key': expected <what>, got <what>".

/// A string (s).
Result<std::string> getString(const VariantMap& map, const std::string& key);
/// A string (s), or `fallback` when absent.
Result<std::string> getString(const VariantMap& map, const std::string& key,
                              const std::string& fallback);
/// A string (s), or nullopt when absent.
Result<std::optional<std::string>> getOptionalString(const VariantMap& map, const std::string& key);

/// A signed 64-bit integer from any integer type (y n q i u x t); t above INT64_MAX is an
/// error.
Result<std::int64_t> getInt64(const VariantMap& map, const std::string& key);
/// As getInt64, or `fallback` when absent.
Result<std::int64_t> getInt64(const VariantMap& map, const std::string& key, std::int64_t fallback);
/// As getInt64, or nullopt when absent.
Result<std::optional<std::int64_t>> getOptionalInt64(const VariantMap& map, const std::string& key);

/// An unsigned 64-bit integer from any integer type; negative values are an error.
Result<std::uint64_t> getUInt64(const VariantMap& map, const std::string& key);
/// As getUInt64, or `fallback` when absent.
Result<std::uint64_t> getUInt64(const VariantMap& map, const std::string& key,
                                std::uint64_t fallback);
/// As getUInt64, or nullopt when absent.
Result<std::optional<std::uint64_t>> getOptionalUInt64(const VariantMap& map,
                                                       const std::string& key);

/// A number (d, or any integer type, converted), or `fallback` when absent.
Result<double> getDouble(const VariantMap& map, const std::string& key, double fallback);

/// A boolean (b).
Result<bool> getBool(const VariantMap& map, const std::string& key);
/// A boolean (b), or `fallback` when absent.
Result<bool> getBool(const VariantMap& map, const std::string& key, bool fallback);
/// A boolean (b), or nullopt when absent.
Result<std::optional<bool>> getOptionalBool(const VariantMap& map, const std::string& key);

/// A list of strings (as; also av holding only strings).
Result<std::vector<std::string>> getStringList(const VariantMap& map, const std::string& key);
/// As getStringList, or `fallback` when absent.
Result<std::vector<std::string>> getStringList(const VariantMap& map, const std::string& key,
                                               const std::vector<std::string>& fallback);
/// As getStringList, or nullopt when absent.
Result<std::optional<std::vector<std::string>>> getOptionalStringList(const VariantMap& map,
                                                                      const std::string& key);

/// A map of strings (a{ss}; also a{sv} whose values are all strings).
Result<std::map<std::string, std::string>> getStringMap(const VariantMap& map,
                                                        const std::string& key);
/// As getStringMap, or `fallback` when absent.
Result<std::map<std::string, std::string>> getStringMap(
    const VariantMap& map, const std::string& key,
    const std::map<std::string, std::string>& fallback);
/// As getStringMap, or nullopt when absent.
Result<std::optional<std::map<std::string, std::string>>> getOptionalStringMap(
    const VariantMap& map, const std::string& key);

}  // namespace fetchml

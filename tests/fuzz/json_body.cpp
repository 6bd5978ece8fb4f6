// Fuzz target: JSON request bodies (POST /v1/blobs/missing, /v1/commits, /v1/jobs, /v1/users):
// jsonBodyRequest, the conversion fetchml-httpsd makes before calling fetchmld, then what
// fetchmld does with the dictionary (the typed getters of VariantJson for the fields of
// SubmitJob, AddUser, MissingBlobs, PutManifest) and the way back to JSON (variantMapToJson).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fetchml-httpsd/JsonBody.hpp"
#include "proto/VariantJson.hpp"

namespace {

void readFields(const fetchml::VariantMap& map) {
    using namespace fetchml;
    (void)getString(map, "commit");
    (void)getString(map, "image", "");
    (void)getOptionalString(map, "name");
    (void)getString(map, "manifest");
    (void)getString(map, "role", "researcher");
    (void)getStringList(map, "command");
    (void)getStringList(map, "hashes");
    (void)getOptionalStringList(map, "jobs");
    (void)getInt64(map, "priority", 0);
    (void)getOptionalUInt64(map, "limit");
    (void)getBool(map, "all", false);
    (void)getStringMap(map, "params", {});
    (void)getOptionalStringMap(map, "env");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    auto map = fetchml::edge::jsonBodyRequest(body, "fml_0123456789ab_key");
    if (!map) {
        return 0;
    }
    auto key = fetchml::getString(map.value(), "api_key");
    if (!key || key.value() != "fml_0123456789ab_key") {
        std::abort();  // the header's key must always win
    }
    readFields(map.value());
    auto json = fetchml::variantMapToJson(map.value());
    if (!json) {
        std::abort();  // everything made from JSON has a JSON form
    }
    (void)json->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return 0;
}

#include "AuthAudit.hpp"

#include <nlohmann/json.hpp>

#include "RateLimiter.hpp"
#include "Router.hpp"

namespace fetchml::edge {

namespace {

bool changesState(std::string_view method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

/// Replaces every occurrence of `secret` (when not empty) and every "fml_<...>" token of
/// `text` by "***": a reason must never carry a key, whoever wrote it.
std::string redactKeys(std::string text, std::string_view secret) {
    if (!secret.empty()) {
        for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
            text.replace(at, secret.size(), "***");
        }
    }
    for (auto at = text.find("fml_"); at != std::string::npos; at = text.find("fml_", at)) {
        auto end = text.find_first_of(" '\"\t,;)", at);
        text.replace(at, (end == std::string::npos ? text.size() : end) - at, "***");
    }
    return text;
}

/// The "message" of a JSON error body, or a fixed text when there is none.
std::string failureReason(std::string_view replyBody) {
    auto body = nlohmann::json::parse(replyBody, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].is_object() &&
        body["error"].contains("message") && body["error"]["message"].is_string()) {
        return body["error"]["message"].get<std::string>();
    }
    return "credentials refused";
}

}  // namespace

std::optional<AuditEvent> AuthAudit::forRequest(std::string_view method, std::string_view path,
                                                std::string_view authorization,
                                                const std::string& peer, unsigned status,
                                                std::string_view replyBody) {
    std::string key = Router::bearerToken(authorization);
    if (status == 401) {
        std::string reason = redactKeys(failureReason(replyBody), key);
        if (!authorization.empty()) {
            reason = redactKeys(std::move(reason), authorization);
        }
        return AuditEvent{"auth", "failed", "",
                          peer,   "",       "authentication failed from " + peer + ": " + reason};
    }
    bool accepted = (status >= 200 && status < 300) || status == 403;
    std::string id = RateLimiter::keyId(key);
    if (!changesState(method) || !accepted || id.empty()) {
        return std::nullopt;
    }
    std::string_view bare = path.substr(0, path.find('?'));
    return AuditEvent{"auth",
                      "ok",
                      "",
                      peer,
                      "",
                      "authenticated from " + peer + ": key " + id + ", " + std::string(method) +
                          " " + redactKeys(std::string(bare), key) + " answered " +
                          std::to_string(status)};
}

void AuthAudit::record(std::string_view method, std::string_view path,
                       std::string_view authorization, const std::string& peer, unsigned status,
                       std::string_view replyBody) {
    try {
        if (auto event = forRequest(method, path, authorization, peer, status, replyBody)) {
            audit(*event);
        }
    } catch (const std::exception&) {
        // Out of memory while formatting: the request is answered either way.
    }
}

}  // namespace fetchml::edge

#include "CtlContext.hpp"

#include "ClientConfig.hpp"
#include "DbusTransport.hpp"
#include "HttpsTransport.hpp"
#include "net/HttpsClient.hpp"

namespace fetchml::ctl {

Transport* CtlContext::transport(Outcome& failure) {
    if (!transport_) {
        transport_ = makeTransport(failure);
    }
    return transport_.get();
}

std::unique_ptr<Transport> CtlContext::makeTransport(Outcome& failure) {
    auto config = loadClientConfig(options.configPath, options.server, options.fingerprint);
    if (!config) {
        failure = usageFailure(config.error().message);
        return nullptr;
    }
    if (config->server.empty()) {
        auto bus = DbusTransport::create(config->apiKey);
        if (!bus) {
            failure = failureFrom(bus.error());
            return nullptr;
        }
        return std::move(*bus);
    }
    auto url = parseHttpsUrl(config->server);
    if (!url) {
        failure = usageFailure(url.error().message);
        return nullptr;
    }
    if (config->fingerprint.empty() && !options.insecure) {
        failure = usageFailure("no certificate fingerprint pinned for " + config->server +
                               ": pass --fingerprint, set FETCHML_FINGERPRINT or 'fingerprint:' "
                               "in client.yaml (fetchml-httpsd logs it at start), or --insecure");
        return nullptr;
    }
    if (config->apiKey.empty()) {
        failure = usageFailure("no API key for " + config->server +
                               ": set FETCHML_API_KEY or 'api_key:' in client.yaml (mode 0600); "
                               "an admin creates one with 'fetchmlctl user add NAME --role ROLE'");
        return nullptr;
    }
    HttpsClientOptions httpsOptions;
    httpsOptions.host = url->host;
    httpsOptions.port = url->port;
    httpsOptions.fingerprint = config->fingerprint;
    httpsOptions.insecure = options.insecure && config->fingerprint.empty();
    auto client = HttpsClient::create(httpsOptions);
    if (!client) {
        failure = usageFailure(client.error().message);
        return nullptr;
    }
    (*client)->setBearerToken(config->apiKey);
    return std::make_unique<HttpsTransport>(std::move(*client));
}

}  // namespace fetchml::ctl

#include "CtlContext.hpp"

#include "DbusTransport.hpp"

namespace fetchml::ctl {

Transport* CtlContext::transport(Outcome& failure) {
    if (!transport_) {
        transport_ = makeTransport(failure);
    }
    return transport_.get();
}

const Result<ClientConfig>& CtlContext::config() {
    if (!config_) {
        config_.emplace(loadClientConfig(options.configPath, options.server, options.fingerprint));
    }
    return *config_;
}

bool CtlContext::wantsHttps() {
    const auto& loaded = config();
    return loaded && !loaded->server.empty();
}

std::unique_ptr<Transport> CtlContext::makeTransport(Outcome& failure) {
    const auto& loaded = config();
    if (!loaded) {
        failure = usageFailure(loaded.error().message);
        return nullptr;
    }
    if (loaded->server.empty()) {
        auto bus = DbusTransport::create(loaded->apiKey);
        if (!bus) {
            failure = failureFrom(bus.error());
            return nullptr;
        }
        return std::move(*bus);
    }
    if (https == nullptr) {
        // fetchmlctl hands HTTPS commands to fetchmlctl-full before they run (runCtl).
        failure = usageFailure("this fetchmlctl has no HTTPS transport for " + loaded->server);
        return nullptr;
    }
    return https(*loaded, options.insecure, failure);
}

}  // namespace fetchml::ctl

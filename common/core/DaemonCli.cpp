#include "core/DaemonCli.hpp"

#include <cstdlib>
#include <utility>

#include "core/Version.hpp"

namespace fetchml {

DaemonCli::DaemonCli(CLI::App& app, std::string program) : program_(std::move(program)) {
    configOption_ = app.add_option("--config", path_, "configuration file (YAML)")
                        ->envname("FETCHML_CONFIG")
                        ->capture_default_str();
    app.add_option("--set", overrides_, "override a setting: section.key=value (repeatable)")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
    app.add_flag("--check-config", checkConfig_, "validate the configuration and exit");
    app.add_flag("--version", version_, "print the version and exit");
}

void DaemonCli::addOverride(std::string override) {
    extraOverrides_.push_back(std::move(override));
}

LoadOptions DaemonCli::loadOptions() const {
    LoadOptions options;
    options.path = path_;
    options.mustExist = (configOption_ != nullptr && configOption_->count() > 0) ||
                        std::getenv("FETCHML_CONFIG") != nullptr;
    options.overrides = overrides_;
    options.overrides.insert(options.overrides.end(), extraOverrides_.begin(),
                             extraOverrides_.end());
    return options;
}

std::optional<int> DaemonCli::handleInfoFlags(std::ostream& out, std::ostream& err) const {
    if (version_) {
        out << program_ << " " << projectVersion() << "\n";
        return 0;
    }
    if (!checkConfig_) {
        return std::nullopt;
    }
    auto settings = loadSettings(loadOptions());
    if (!settings) {
        err << settings.error().message << "\n";
        return 1;
    }
    if (settings->sourceFile.empty()) {
        out << "configuration OK: " << path_ << " (not present; built-in defaults)\n";
    } else {
        out << "configuration OK: " << settings->sourceFile << "\n";
    }
    return 0;
}

}  // namespace fetchml

#include "core/Log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/systemd_sink.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace fetchml {
namespace {

std::mutex gMutex;
std::vector<spdlog::sink_ptr> gSinks;
spdlog::level::level_enum gLevel = spdlog::level::info;
bool gJournal = false;

bool underJournal(const LogSettings& s) {
    if (s.target == "journal") {
        return true;
    }
    if (s.target == "console") {
        return false;
    }
    return std::getenv("JOURNAL_STREAM") != nullptr;
}

}  // namespace

void setupLogging(const LogSettings& settings, const std::string& program) {
    std::lock_guard lock(gMutex);
    gLevel = spdlog::level::from_str(settings.level);
    if (gLevel == spdlog::level::off && settings.level != "off") {
        gLevel = spdlog::level::info;
    }
    if (gSinks.empty()) {
        gJournal = underJournal(settings);
        if (gJournal) {
            gSinks.push_back(std::make_shared<spdlog::sinks::systemd_sink_mt>(program));
        } else {
            gSinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
        }
    }
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(gLevel); });
    auto def = std::make_shared<spdlog::logger>(program, gSinks.begin(), gSinks.end());
    def->set_level(gLevel);
    spdlog::set_default_logger(def);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
}

bool logsToJournal() {
    std::lock_guard lock(gMutex);
    return gJournal;
}

std::shared_ptr<spdlog::logger> logger(const std::string& component) {
    std::lock_guard lock(gMutex);
    if (auto l = spdlog::get(component)) {
        return l;
    }
    std::vector<spdlog::sink_ptr> sinks = gSinks;
    if (sinks.empty()) {
        sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    }
    auto l = std::make_shared<spdlog::logger>(component, sinks.begin(), sinks.end());
    l->set_level(gLevel);
    spdlog::register_logger(l);
    return l;
}

}  // namespace fetchml

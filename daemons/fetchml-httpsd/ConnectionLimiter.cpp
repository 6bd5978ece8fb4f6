#include "ConnectionLimiter.hpp"

namespace fetchml::edge {

ConnectionLimiter::ConnectionLimiter(ConnectionLimits limits, std::chrono::seconds logInterval,
                                     Clock clock)
    : limits_(limits), logInterval_(logInterval), clock_(std::move(clock)), lastSweep_(clock_()) {}

ConnectionLimiter::Admission ConnectionLimiter::admit(const std::string& address) {
    auto found = open_.find(address);
    std::uint32_t mine = found == open_.end() ? 0 : found->second;
    if (limits_.perAddress != 0 && mine >= limits_.perAddress) {
        return refuse(address, Refusal::PerAddress, mine);
    }
    if (limits_.total != 0 && total_ >= limits_.total) {
        return refuse(address, Refusal::Total, mine);
    }
    ++total_;
    Admission admission;
    admission.open = ++open_[address];
    return admission;
}

void ConnectionLimiter::release(const std::string& address) {
    auto found = open_.find(address);
    if (found == open_.end()) {
        return;
    }
    --total_;
    if (--found->second == 0) {
        open_.erase(found);
    }
}

std::uint32_t ConnectionLimiter::open(const std::string& address) const {
    auto found = open_.find(address);
    return found == open_.end() ? 0 : found->second;
}

ConnectionLimiter::Admission ConnectionLimiter::refuse(const std::string& address, Refusal why,
                                                       std::uint32_t open) {
    auto now = clock_();
    sweep(now);
    Admission admission;
    admission.refusal = why;
    admission.open = open;
    auto [report, fresh] = reports_.try_emplace(address);
    if (fresh || now - report->second.logged >= logInterval_) {
        admission.log = true;
        admission.suppressed = report->second.suppressed;
        report->second = Report{now, 0};
    } else {
        ++report->second.suppressed;
    }
    return admission;
}

void ConnectionLimiter::sweep(std::chrono::steady_clock::time_point now) {
    if (now - lastSweep_ < logInterval_) {
        return;
    }
    lastSweep_ = now;
    // A report past its interval with nothing suppressed says nothing: the address's next
    // refusal is logged either way. One with suppressed refusals is kept one interval more so
    // that its count reaches the log with the address's next refusal; then it goes too, so
    // the map holds only addresses refused in the last two intervals.
    for (auto it = reports_.begin(); it != reports_.end();) {
        auto age = now - it->second.logged;
        if (age >= 2 * logInterval_ || (age >= logInterval_ && it->second.suppressed == 0)) {
            it = reports_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace fetchml::edge

#include "Placement.hpp"

#include <algorithm>
#include <set>

namespace fetchml {

namespace {

// CPU amounts are compared with a little slack: 0.1 + 0.2 must fit in 0.3.
constexpr double kCpuEpsilon = 1e-6;

}  // namespace

bool Placement::Free::fits(const ResourceRequest& r) const {
    return slots >= 1 && cpus + kCpuEpsilon >= r.cpus &&
           memoryMib >= static_cast<std::int64_t>(r.memoryMib) &&
           gpus >= static_cast<std::int64_t>(r.gpus);
}

void Placement::Free::take(const ResourceRequest& r) {
    slots -= 1;
    cpus -= r.cpus;
    memoryMib -= static_cast<std::int64_t>(r.memoryMib);
    gpus -= static_cast<std::int64_t>(r.gpus);
}

void Placement::Free::give(const ResourceRequest& r) {
    slots += 1;
    cpus += r.cpus;
    memoryMib += static_cast<std::int64_t>(r.memoryMib);
    gpus += static_cast<std::int64_t>(r.gpus);
}

Placement::Placement(WorkerCapacity capacity, std::vector<Allocation> running,
                     std::uint32_t maxPerUser, std::int64_t nowMs)
    : capacity_(std::move(capacity)),
      running_(std::move(running)),
      maxPerUser_(maxPerUser),
      now_(nowMs) {
    free_.slots = capacity_.slots;
    free_.cpus = capacity_.cpus;
    free_.memoryMib = static_cast<std::int64_t>(capacity_.memoryMib);
    free_.gpus = static_cast<std::int64_t>(capacity_.gpus.size());
    std::set<std::string> held;
    for (const auto& a : running_) {
        // A running job holds what it was given even when the worker now reports less (its
        // capacity changed while it ran): the free amounts may go negative.
        free_.take(a.request);
        free_.gpus +=
            static_cast<std::int64_t>(a.request.gpus) - static_cast<std::int64_t>(a.devices.size());
        held.insert(a.devices.begin(), a.devices.end());
        ++perUser_[a.request.user];
    }
    for (const auto& device : capacity_.gpus) {
        if (held.count(device) == 0) {
            freeDevices_.push_back(device);
        }
    }
    free_.gpus = std::min<std::int64_t>(free_.gpus, static_cast<std::int64_t>(freeDevices_.size()));
    std::sort(running_.begin(), running_.end(),
              [](const Allocation& a, const Allocation& b) { return a.endsAtMs < b.endsAtMs; });
}

bool Placement::everFits(const ResourceRequest& request) const {
    Free all;
    all.slots = capacity_.slots;
    all.cpus = capacity_.cpus;
    all.memoryMib = static_cast<std::int64_t>(capacity_.memoryMib);
    all.gpus = static_cast<std::int64_t>(capacity_.gpus.size());
    return all.fits(request);
}

std::optional<std::pair<std::int64_t, Placement::Free>> Placement::earliestStart(
    const ResourceRequest& request) const {
    Free free = free_;
    if (free.fits(request)) {
        free.take(request);
        return std::pair{now_, free};
    }
    for (const auto& a : running_) {
        free.give(a.request);
        if (free.fits(request)) {
            free.take(request);
            return std::pair{std::max(a.endsAtMs, now_), free};
        }
    }
    return std::nullopt;
}

std::vector<Start> Placement::plan(const std::vector<ResourceRequest>& queued) {
    std::vector<Start> starts;
    reservation_.reset();
    // What is free at the reserved start beyond the reserved job's needs: jobs that would still
    // run then must fit in it.
    Free spareAtReservation;
    for (const auto& request : queued) {
        if (!everFits(request)) {
            continue;
        }
        if (maxPerUser_ != 0 && perUser_[request.user] >= maxPerUser_) {
            continue;
        }
        if (!free_.fits(request)) {
            if (!reservation_) {
                if (auto start = earliestStart(request)) {
                    reservation_ = Reservation{request.id, start->first};
                    spareAtReservation = start->second;
                }
            }
            continue;
        }
        if (reservation_) {
            const bool endsBefore = now_ + request.runtimeMs <= reservation_->atMs;
            if (!endsBefore) {
                if (!spareAtReservation.fits(request)) {
                    continue;
                }
                spareAtReservation.take(request);
            }
        }
        free_.take(request);
        ++perUser_[request.user];
        Start start{request.id, {}};
        start.devices.assign(freeDevices_.begin(), freeDevices_.begin() + request.gpus);
        freeDevices_.erase(freeDevices_.begin(), freeDevices_.begin() + request.gpus);
        running_.push_back(Allocation{request, start.devices, now_ + request.runtimeMs});
        std::sort(running_.begin(), running_.end(),
                  [](const Allocation& a, const Allocation& b) { return a.endsAtMs < b.endsAtMs; });
        starts.push_back(std::move(start));
    }
    return starts;
}

}  // namespace fetchml

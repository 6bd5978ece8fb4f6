#pragma once
// Placement: which queued jobs start now on the worker, given what it has and what its
// running jobs hold. First fit in queue order with EASY backfill (Lifka, "The ANL/IBM SP
// scheduling system", JSSPP 1995; Slurm's sched/backfill works alike): when the first job in
// queue order that does not fit now gets a reserved start (the earliest time enough of the
// worker is free if running jobs end at their maximum run time), later jobs start only if
// they fit now and either end before that time or fit in what the reserved job leaves free
// then, so the reserved start is never delayed. Pure computation, no I/O.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fetchml {

/// What a worker has (its hello's capacity).
struct WorkerCapacity {
    std::uint32_t slots = 0;        ///< jobs at once
    double cpus = 0;                ///< CPUs
    std::uint64_t memoryMib = 0;    ///< memory, MiB
    std::vector<std::string> gpus;  ///< GPU devices, CDI names ("nvidia.com/gpu=0")
};

/// A job's request: what it needs while it runs and for how long at most.
struct ResourceRequest {
    std::string id;               ///< job id
    std::string user;             ///< for the per-user limit
    double cpus = 0;              ///< CPUs (fractions allowed)
    std::uint64_t memoryMib = 0;  ///< MiB; 0 = not counted
    std::uint32_t gpus = 0;       ///< whole devices
    std::int64_t runtimeMs = 0;   ///< maximum run time, ms
};

/// What a starting or running job holds.
struct Allocation {
    ResourceRequest request;
    std::vector<std::string> devices;  ///< the GPU devices it was given
    std::int64_t endsAtMs = 0;         ///< start + maximum run time, ms since the epoch
};

/// A job to start now with the devices it gets.
struct Start {
    std::string id;
    std::vector<std::string> devices;  ///< request.gpus devices of the capacity, free now
};

/// The reserved start of the first job that waits for resources.
struct Reservation {
    std::string id;
    std::int64_t atMs = 0;  ///< ms since the epoch
};

/// One placement decision over a snapshot of the worker.
class Placement {
public:
    /// `running`: what starting and running jobs hold; `maxPerUser`: most starting or
    /// running jobs of one user (0 = no limit); `nowMs`: ms since the epoch.
    Placement(WorkerCapacity capacity, std::vector<Allocation> running, std::uint32_t maxPerUser,
              std::int64_t nowMs);

    /// True when `request` could run on this worker at all (when it is empty).
    bool everFits(const ResourceRequest& request) const;
    /// The jobs of `queued` (in queue order: the first is the most urgent) to start now.
    /// Jobs that could never fit the worker are skipped and get no reservation.
    std::vector<Start> plan(const std::vector<ResourceRequest>& queued);
    /// The reservation the last plan() made, if a job had to wait for resources.
    const std::optional<Reservation>& reservation() const { return reservation_; }

private:
    /// Free amounts of each resource (GPUs counted, devices tracked apart).
    struct Free {
        std::int64_t slots = 0;
        double cpus = 0;
        std::int64_t memoryMib = 0;
        std::int64_t gpus = 0;
        bool fits(const ResourceRequest& r) const;
        void take(const ResourceRequest& r);
        void give(const ResourceRequest& r);
    };
    /// Earliest time `request` fits if running jobs end at their endsAtMs, and what is free
    /// then beyond it; nullopt when it never fits.
    std::optional<std::pair<std::int64_t, Free>> earliestStart(
        const ResourceRequest& request) const;

    WorkerCapacity capacity_;
    std::vector<Allocation> running_;
    std::uint32_t maxPerUser_;
    std::int64_t now_;
    Free free_;
    std::vector<std::string> freeDevices_;
    std::map<std::string, std::uint32_t> perUser_;
    std::optional<Reservation> reservation_;
};

}  // namespace fetchml

// bench/scheduler queue operations: the cost of one submit (durable), dispatch pick, cancel,
// listing page and aging pass of fetchmld's job store at 1k, 10k and 100k queued jobs (issue 5
// "Scale": cost per operation flat from 1k to 100k). Uses fetchmld's own JobStore on a real
// SQLite file (WAL, synchronous=FULL) in $TMPDIR. Prints a table; never fails on a figure.
//
// Usage: fetchml-bench-queue [N...]   (default 1000 10000 100000)

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "Database.hpp"
#include "JobStore.hpp"
#include "Schema.hpp"

using namespace fetchml;

namespace {

using Clock = std::chrono::steady_clock;

// Median wall time of one call of op, in microseconds, over `rounds` calls.
double medianUs(int rounds, const std::function<void(int)>& op) {
    std::vector<double> us;
    for (int i = 0; i < rounds; ++i) {
        auto start = Clock::now();
        op(i);
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
}

JobSpec spec(int i) {
    JobSpec s;
    s.user = "u" + std::to_string(i % 10);
    s.commit = std::string(64, 'a');
    s.command = {"python3", "train.py"};
    s.image = "localhost/fetchml-digits:latest";
    s.priority = i % 10;
    return s;
}

// N queued jobs in one transaction (filling is not what is measured).
bool fill(Database& db, int n) {
    auto done = db.transaction([&]() -> Result<void> {
        for (int i = 0; i < n; ++i) {
            auto st = db.prepare(
                "INSERT INTO jobs (name, user, state, commit_id, command, image, priority, "
                "eff_priority, params, submitted_at) VALUES ('', ?1, 'queued', ?2, "
                "'[\"python3\",\"train.py\"]', 'img', ?3, ?3, '{}', ?4)");
            if (!st) {
                return st.error();
            }
            auto s = spec(i);
            if (auto r = (*st)
                             ->bind(1, s.user)
                             .bind(2, s.commit)
                             .bind(3, std::int64_t{s.priority})
                             .bind(4, wallClockMs())
                             .run();
                !r) {
                return r;
            }
        }
        return {};
    });
    if (!done) {
        std::fprintf(stderr, "fill: %s\n", done.error().message.c_str());
    }
    return done.ok();
}

struct Row {
    int n = 0;
    double submit = 0, next = 0, cancel = 0, listState = 0, listPage = 0, listUser = 0, age = 0;
};

bool measure(int n, Row& row) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "fetchml-bench-queue-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
        return false;
    }
    const std::string dir = tmpl;
    auto db = Database::open(dir + "/fetchml.db");
    if (!db || !(*db)->migrate(schedulerMigrations()) || !fill(**db, n)) {
        std::filesystem::remove_all(dir);
        return false;
    }
    JobStore jobs(**db);
    std::mt19937 random(42);
    std::uniform_int_distribution<int> anyJob(1, n);
    row.n = n;
    row.submit = medianUs(200, [&](int i) { (void)jobs.submit(spec(i)); });
    row.next = medianUs(1000, [&](int) { (void)jobs.nextQueued(); });
    row.cancel = medianUs(200, [&](int) {
        (void)jobs.transition(jobIdFromSeq(anyJob(random)), JobState::Cancelled, {});
    });
    row.listState = medianUs(200, [&](int) { (void)jobs.list(JobState::Queued, 50); });
    const std::string middle = jobIdFromSeq(n / 2);
    row.listPage = medianUs(200, [&](int) { (void)jobs.list(JobState::Queued, 50, "", middle); });
    row.listUser = medianUs(200, [&](int) { (void)jobs.list(std::nullopt, 50, "u3"); });
    row.age = medianUs(3, [&](int) { (void)jobs.age(1000); });
    db->reset();
    std::filesystem::remove_all(dir);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> sizes;
    for (int i = 1; i < argc; ++i) {
        sizes.push_back(std::atoi(argv[i]));
    }
    if (sizes.empty()) {
        sizes = {1000, 10000, 100000};
    }
    std::vector<Row> rows;
    for (int n : sizes) {
        Row row;
        if (!measure(n, row)) {
            std::fprintf(stderr, "fetchml-bench-queue: could not measure at %d jobs\n", n);
            continue;
        }
        rows.push_back(row);
    }
    std::printf(
        "fetchmld job store, median microseconds per operation (SQLite, WAL, "
        "synchronous=FULL)\n");
    std::printf("%9s %10s %10s %10s %12s %12s %12s %12s\n", "queued", "submit", "next", "cancel",
                "list state", "list page", "list user", "aging pass");
    for (const auto& r : rows) {
        std::printf("%9d %10.0f %10.0f %10.0f %12.0f %12.0f %12.0f %12.0f\n", r.n, r.submit, r.next,
                    r.cancel, r.listState, r.listPage, r.listUser, r.age);
    }
    if (rows.size() >= 2) {
        const auto& a = rows.front();
        const auto& b = rows.back();
        auto ratio = [](double x, double y) { return y > 0 ? x / y : 0.0; };
        std::printf(
            "%9s %10.2f %10.2f %10.2f %12.2f %12.2f %12.2f %12.2f  (%d vs %d; flat = "
            "about 1, aging is one pass over the queue and grows with it)\n",
            "ratio", ratio(b.submit, a.submit), ratio(b.next, a.next), ratio(b.cancel, a.cancel),
            ratio(b.listState, a.listState), ratio(b.listPage, a.listPage),
            ratio(b.listUser, a.listUser), ratio(b.age, a.age), b.n, a.n);
    }
    return 0;
}

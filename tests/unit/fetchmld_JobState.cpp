// Unit tests of fetchmld's job states, transition rules and job ids.
#include <catch2/catch.hpp>

#include "Job.hpp"
#include "JobState.hpp"

using namespace fetchml;

TEST_CASE("job state names round-trip", "[fetchmld][jobstate]") {
    for (auto state :
         {JobState::Held, JobState::Queued, JobState::Starting, JobState::Running,
          JobState::Succeeded, JobState::Failed, JobState::Cancelled, JobState::Lost}) {
        REQUIRE(parseJobState(jobStateName(state)) == state);
    }
    REQUIRE_FALSE(parseJobState("Queued").has_value());
    REQUIRE_FALSE(parseJobState("").has_value());
}

TEST_CASE("job state transitions follow the life cycle", "[fetchmld][jobstate]") {
    using S = JobState;
    CHECK(canTransition(S::Queued, S::Starting));
    CHECK(canTransition(S::Queued, S::Cancelled));
    CHECK(canTransition(S::Starting, S::Running));
    CHECK(canTransition(S::Starting, S::Failed));
    CHECK(canTransition(S::Running, S::Succeeded));
    CHECK(canTransition(S::Running, S::Failed));
    CHECK(canTransition(S::Running, S::Cancelled));
    CHECK(canTransition(S::Running, S::Lost));
    CHECK(canTransition(S::Lost, S::Queued));
    // A retry queues a failed or lost attempt again.
    CHECK(canTransition(S::Running, S::Queued));
    CHECK(canTransition(S::Starting, S::Queued));

    CHECK_FALSE(canTransition(S::Queued, S::Running));
    CHECK_FALSE(canTransition(S::Queued, S::Succeeded));
    CHECK_FALSE(canTransition(S::Running, S::Held));
    CHECK_FALSE(canTransition(S::Running, S::Starting));
    for (auto terminal : {S::Succeeded, S::Failed, S::Cancelled}) {
        CHECK(isTerminal(terminal));
        for (auto to : {S::Held, S::Queued, S::Starting, S::Running, S::Succeeded, S::Failed,
                        S::Cancelled, S::Lost}) {
            CHECK_FALSE(canTransition(terminal, to));
        }
    }
    CHECK_FALSE(isTerminal(S::Running));
    CHECK_FALSE(isTerminal(S::Lost));
}

TEST_CASE("job ids are short, sortable and parse back", "[fetchmld][jobid]") {
    CHECK(jobIdFromSeq(1) == "j000001");
    CHECK(jobIdFromSeq(1234567) == "j1234567");
    CHECK(jobIdFromSeq(9) < jobIdFromSeq(10));
    CHECK(seqFromJobId("j000042") == 42);
    CHECK(seqFromJobId("j1234567") == 1234567);
    CHECK(seqFromJobId("j42") == 0);  // not canonical
    CHECK(seqFromJobId("x000042") == 0);
    CHECK(seqFromJobId("j00004a") == 0);
    CHECK(seqFromJobId("j000000") == 0);
    CHECK(seqFromJobId("") == 0);
}

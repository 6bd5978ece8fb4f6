#include "Schema.hpp"

namespace fetchml {

namespace {

// Version 1: jobs with their events, metrics and results; commits; users and API keys.
// Times are ms since the Unix epoch. command is a JSON array, params a JSON object.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL DEFAULT '',
    user         TEXT NOT NULL,
    state        TEXT NOT NULL,
    commit_id    TEXT NOT NULL,
    command      TEXT NOT NULL,
    image        TEXT NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    params       TEXT NOT NULL DEFAULT '{}',
    exit_code    INTEGER NOT NULL DEFAULT 0,
    reason       TEXT NOT NULL DEFAULT '',
    submitted_at INTEGER NOT NULL,
    started_at   INTEGER NOT NULL DEFAULT 0,
    finished_at  INTEGER NOT NULL DEFAULT 0,
    results      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_queue ON jobs (state, priority DESC, seq ASC);
CREATE TABLE job_events (
    id         INTEGER PRIMARY KEY,
    job_seq    INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_events_job ON job_events (job_seq, id);
CREATE TABLE metrics (
    job_seq INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    step    INTEGER NOT NULL,
    name    TEXT NOT NULL,
    value   REAL NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX metrics_job ON metrics (job_seq, name, step);
CREATE TABLE commits (
    id         TEXT PRIMARY KEY,
    manifest   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    user       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user);
)sql";

// Version 2: API keys carry their own role ('' = the user's role), an expiry and a revocation
// time (ms since the epoch, 0 = none); jobs are listed per user.
constexpr const char* kVersion2 = R"sql(
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_user ON jobs (user, seq);
)sql";

// Version 3: retries. max_retries (0 = none) and the 1-based attempt of the job; a queued job
// is not dispatched before not_before (ms since the epoch, 0 = at once): a retry's backoff.
constexpr const char* kVersion3 = R"sql(
ALTER TABLE jobs ADD COLUMN max_retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 4: dependencies. A job waits (held) until each job it names has ended (kind
// 'after') or succeeded (kind 'after_ok'); dependents are found by dep_seq.
constexpr const char* kVersion4 = R"sql(
CREATE TABLE job_deps (
    job_seq INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    dep_seq INTEGER NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('after', 'after_ok')),
    PRIMARY KEY (job_seq, dep_seq)
);
CREATE INDEX job_deps_dep ON job_deps (dep_seq);
)sql";

// Version 5: aging. The queue orders by eff_priority, the submitted priority plus one for
// each aging interval the job has waited queued (capped at 1000), so no job starves. And
// listing by state, newest first, walks jobs_state instead of sorting every job in the state.
constexpr const char* kVersion5 = R"sql(
ALTER TABLE jobs ADD COLUMN eff_priority INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET eff_priority = priority;
DROP INDEX jobs_queue;
CREATE INDEX jobs_queue ON jobs (state, eff_priority DESC, seq ASC);
CREATE INDEX jobs_state ON jobs (state, seq);
)sql";

// Version 6: resources. What a job needs (cpus, memory_mib: 0 = not limited, gpus), its
// maximum run time in seconds, and the GPU devices (a JSON array of CDI names) its current
// attempt was given, so a restarted fetchmld knows which devices are taken.
constexpr const char* kVersion6 = R"sql(
ALTER TABLE jobs ADD COLUMN cpus REAL NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN memory_mib INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_runtime_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN devices TEXT NOT NULL DEFAULT '[]';
)sql";

// Version 7: sweeps and pruning. A sweep is a group of jobs submitted in one call (one job per
// parameter combination); its jobs carry its seq in sweep_seq (0 = not part of a sweep) and
// are listed and cancelled by it (index jobs_sweep). jobs_finished orders finished jobs by
// the time they ended, for prune's --older-than and --keep-last. Self-contained: it only adds.
constexpr const char* kVersion7 = R"sql(
CREATE TABLE sweeps (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
ALTER TABLE jobs ADD COLUMN sweep_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_sweep ON jobs (sweep_seq, seq);
CREATE INDEX jobs_finished ON jobs (state, finished_at);
)sql";

// Version 8: several hosts sharing one queue (queue.backend redis). shared = 1 marks a job that
// is in the shared queue and not run here (jobs_queue skips those); claim is the shared-queue
// entry this host holds for it; origin and host name where it was submitted and where it
// runs ('' = here). shared_state keeps small values such as the last shared event read.
constexpr const char* kVersion8 = R"sql(
ALTER TABLE jobs ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN claim TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN host TEXT NOT NULL DEFAULT '';
DROP INDEX jobs_queue;
CREATE INDEX jobs_queue ON jobs (state, shared, eff_priority DESC, seq ASC);
CREATE INDEX jobs_claim ON jobs (claim) WHERE claim != '';
CREATE TABLE shared_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
)sql";

// Version 9: pins, for the store's garbage collection (decisions.md "Blob garbage collection").
// A pin keeps a recorded tree (target = commits.id: a commit or a results tree) and its blobs
// whatever its age and whether or not a job names it. From this version on, commits.created_at
// is when the tree was last recorded (a PutManifest of a known tree, or results ingested again,
// set it anew): an unreferenced tree is kept while that is within the grace period.
constexpr const char* kVersion9 = R"sql(
CREATE TABLE pins (
    target     TEXT PRIMARY KEY,
    note       TEXT NOT NULL DEFAULT '',
    user       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
)sql";

// Version 10: where each chunk of a chunked file can be read (decisions.md "Chunked files"): the
// chunk with SHA-256 `chunk` is `size` bytes at `offset` of the stored blob `file`. A chunk in
// several files has a row for each. Rows are written only after the file was assembled and each
// range verified; a row whose file is no longer stored is ignored, and garbage collection
// removes the rows of a file it removes (index file_chunks_file).
constexpr const char* kVersion10 = R"sql(
CREATE TABLE file_chunks (
    chunk  TEXT NOT NULL,
    file   TEXT NOT NULL,
    offset INTEGER NOT NULL,
    size   INTEGER NOT NULL,
    PRIMARY KEY (chunk, file)
) WITHOUT ROWID;
CREATE INDEX file_chunks_file ON file_chunks (file);
)sql";

// Version 11: datasets (docs/datasets.md, decisions.md "Datasets"). A dataset is a name with
// an owner and numbered, immutable versions, each a recorded tree. Removing every version keeps
// the dataset's row, so next_version goes on counting and NAME@VERSION never names two trees.
// jobs.data is the JSON list of the versions a job reads, [{"name","version","tree"}], exact
// at submission; garbage collection keeps every tree a dataset version or a job names.
constexpr const char* kVersion11 = R"sql(
CREATE TABLE datasets (
    name         TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    next_version INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE TABLE dataset_versions (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    tree       TEXT NOT NULL,
    files      INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    user       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
ALTER TABLE jobs ADD COLUMN data TEXT NOT NULL DEFAULT '[]';
)sql";

// Version 12: sweeps expanded after their answer (decisions.md "Sweeps: one record, expanded
// after the answer"). A sweep is accepted as one row: `pending` holds its template and axes
// (JSON) and `first_seq` the first of the `size` consecutive job seqs reserved for it (the
// jobs table's AUTOINCREMENT counter is raised past them in the same transaction). fetchmld
// then inserts the jobs with exactly those seqs and clears `pending` in one transaction; a
// sweep still pending at start is expanded then. Rows from before keep pending = ''.
constexpr const char* kVersion12 = R"sql(
ALTER TABLE sweeps ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sweeps ADD COLUMN pending TEXT NOT NULL DEFAULT '';
CREATE INDEX sweeps_pending ON sweeps (seq) WHERE pending != '';
)sql";

}  // namespace

const std::vector<std::string>& schedulerMigrations() {
    static const std::vector<std::string> migrations{kVersion1, kVersion2,  kVersion3,  kVersion4,
                                                     kVersion5, kVersion6,  kVersion7,  kVersion8,
                                                     kVersion9, kVersion10, kVersion11, kVersion12};
    return migrations;
}

}  // namespace fetchml

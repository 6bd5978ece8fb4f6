#pragma once
// Typed settings of all daemons, filled from /etc/fetchml/fetchml.yaml (+ fetchml.yaml.d/*.yaml),
// then FETCHML_<SECTION>_<KEY> environment variables, then command-line overrides.
// configs/fetchml.yaml documents every key; the defaults below are the documented defaults.

#include <cstdint>
#include <string>
#include <vector>

namespace fetchml {

/// `paths:` where state lives.
struct PathSettings {
    std::string stateDir = "/var/lib/fetchml";  ///< database, store, runs (state_dir)
    std::string runtimeDir = "/run/fetchml";    ///< sockets (runtime_dir)
    /// Content-addressed store; "" = <state_dir>/store. Hosts sharing a queue share it
    /// (NFS, CephFS) (store_dir)
    std::string storeDir;
};

/// `store:` the content-addressed store (fetchmld).
struct StoreSettings {
    /// Garbage collection (prune) keeps a recorded tree that nothing names, and a blob that no
    /// recorded tree names, this many seconds after it was last recorded, stored or asked
    /// about; at least 1 (gc_grace_s)
    std::uint32_t gcGraceS = 86400;
};

/// `log:` logging.
struct LogSettings {
    std::string level = "info";   ///< trace|debug|info|warning|error|critical (level)
    std::string target = "auto";  ///< auto|console|journal; auto = journal under systemd (target)
};

/// `scheduler:` fetchmld.
struct SchedulerSettings {
    std::string database;        ///< SQLite path; "" = <state_dir>/fetchml.db (database)
    std::string workerSocket;    ///< "" = <runtime_dir>/worker.sock (worker_socket)
    std::string bus = "system";  ///< system|session; tests set DBUS_SYSTEM_BUS_ADDRESS (bus)
    std::string defaultImage = "localhost/fetchml-digits:latest";  ///< (default_image)
    std::uint32_t reconnectMs = 1000;  ///< wait between worker reconnects, ms (reconnect_ms)
    /// First retry's delay, s; doubles per attempt up to 64 times (retry_delay_s)
    std::uint32_t retryDelayS = 10;
    /// A queued job gains one priority point per this many seconds waited; 0 = no aging
    /// (aging_interval_s)
    std::uint32_t agingIntervalS = 600;
    /// Most starting or running jobs of one user at a time, 0 = no limit (max_running_per_user)
    std::uint32_t maxRunningPerUser = 0;
    /// CPUs of a job that asks for none (default_cpus)
    std::uint32_t defaultCpus = 1;
    /// Queued jobs looked at per placement pass, in queue order (backfill_depth)
    std::uint32_t backfillDepth = 100;
};

/// `auth:` roles and local callers (fetchmld; docs/security.md).
struct AuthSettings {
    /// Roles → permissions; absent file = built-in admin/researcher/viewer (permissions_file).
    std::string permissionsFile = "/etc/fetchml/permissions.yaml";
    /// Ask polkit about local D-Bus callers other than root and fetchmld's user (polkit).
    bool polkit = true;
    /// Role of such callers when polkit is off or not on the bus (local_role).
    std::string localRole = "researcher";
};

/// `queue:` queue back end.
struct QueueSettings {
    std::string backend = "sqlite";                                ///< sqlite|redis (backend)
    std::string redisUrl = "unix:///run/redis/redis-server.sock";  ///< (redis_url)
    /// This host's name in the shared queue, unique per host; "" = the host name (host_id)
    std::string hostId;
    /// Keys of the shared queue start with this, so one Redis can hold several (prefix)
    std::string prefix = "fetchml";
    /// A claimed job's lease, s: renewed every lease_s/3; a host silent this long loses its
    /// jobs to the others (lease_s)
    std::uint32_t leaseS = 60;
    /// How often the shared queue is polled for jobs and events, ms (poll_ms)
    std::uint32_t pollMs = 200;
};

/// `worker:` fetchml-workerd.
struct WorkerSettings {
    std::string socket;             ///< "" = <runtime_dir>/worker.sock (socket)
    std::string podman = "podman";  ///< podman binary (podman)
    std::string runtime = "runc";   ///< OCI runtime passed as --runtime (runtime)
    std::string rootfsDir;          ///< "" = <state_dir>/rootfs; for rootfs:<name> images
    std::uint32_t slots = 2;        ///< jobs run at once (slots)
    std::uint32_t cpus = 0;         ///< CPUs offered; 0 = those online (cpus)
    std::uint64_t memoryMib = 0;    ///< memory offered, MiB; 0 = physical (memory_mib)
    /// GPU devices offered, CDI names ("nvidia.com/gpu=0"); empty = the GPU devices of the
    /// CDI specs in cdi_spec_dirs (gpus)
    std::vector<std::string> gpus;
    /// Where CDI specs are looked for, later directories first (cdi_spec_dirs)
    std::vector<std::string> cdiSpecDirs = {"/etc/cdi", "/var/run/cdi"};
    std::uint32_t pidsLimit = 512;           ///< --pids-limit (pids_limit)
    std::uint32_t cancelGraceS = 10;         ///< SIGTERM→SIGKILL, seconds (cancel_grace_s)
    std::uint32_t maxRuntimeS = 86400;       ///< default max run time, seconds (max_runtime_s)
    std::vector<std::uint32_t> allowedUids;  ///< peers besides root and self (allowed_uids)
    /// Groups (names) whose members may connect besides root and self, matched against the
    /// peer's primary group and its user's supplementary groups (allowed_groups).
    std::vector<std::string> allowedGroups = {"fetchml"};
};

/// `https:` fetchml-httpsd.
struct HttpsSettings {
    std::string address = "0.0.0.0";  ///< listen address (address)
    std::uint16_t port = 9101;        ///< listen port; 0 = pick one and log it (port)
    std::string certFile;             ///< PEM; "" = generate into <state_dir>/tls (cert_file)
    std::string keyFile;              ///< PEM private key (key_file)
    std::string tlsDir;               ///< "" = <state_dir>/tls (tls_dir)
    std::string spoolDir;             ///< upload spool; "" = system temp dir (spool_dir)
    std::uint64_t maxBodyBytes = 1ull << 30;   ///< upload cap, bytes (max_body_bytes)
    std::uint64_t maxJsonBytes = 16ull << 20;  ///< JSON request body cap, bytes (max_json_bytes)
    std::uint32_t maxHeaderBytes = 16384;  ///< request line + headers cap, bytes (max_header_bytes)
    /// Open connections in all; over it, new ones are closed before TLS; 0 = unlimited
    /// (max_connections).
    std::uint32_t maxConnections = 512;
    /// Open connections from one client address; 0 = unlimited (max_connections_per_address).
    std::uint32_t maxConnectionsPerAddress = 64;
    /// Total for a request line and headers from their first byte, seconds (header_timeout_s).
    std::uint32_t headerTimeoutS = 10;
    /// Wait for the next request on a kept-alive connection, seconds (idle_timeout_s).
    std::uint32_t idleTimeoutS = 60;
    /// TLS handshake in all, each body read, each write, seconds (read_timeout_s).
    std::uint32_t readTimeoutS = 30;
    std::uint32_t threads = 8;  ///< D-Bus call threads (threads)
    /// Largest WebSocket message a client may send to /v1/events, bytes; over it the
    /// connection is closed with 1009; at least 1 (ws_max_message_bytes).
    std::uint64_t wsMaxMessageBytes = 4096;
    /// CIDR blocks of clients allowed to connect; others are refused before TLS (allowlist).
    std::vector<std::string> allowlist = {"127.0.0.0/8",   "::1/128",        "10.0.0.0/8",
                                          "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};
    /// Requests a minute per API key and per client address; 0 = unlimited
    /// (rate_limit_per_minute).
    std::uint32_t rateLimitPerMinute = 30;
    /// Requests answered 401 a minute per client address (auth_failures_per_minute).
    std::uint32_t authFailuresPerMinute = 5;
    /// Install the seccomp allow-list and no-new-privileges after start-up (seccomp);
    /// false only for debugging (strace, gdb).
    bool seccomp = true;
};

/// All settings. Immutable after loading; SIGHUP builds a new one.
struct Settings {
    PathSettings paths;
    StoreSettings store;
    LogSettings log;
    SchedulerSettings scheduler;
    AuthSettings auth;
    QueueSettings queue;
    WorkerSettings worker;
    HttpsSettings https;
    std::string sourceFile;  ///< the file it was read from ("" if none)
};

}  // namespace fetchml

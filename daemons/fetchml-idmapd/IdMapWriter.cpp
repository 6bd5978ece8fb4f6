#include "IdMapWriter.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "SubIdPolicy.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml {

namespace {

// Opens /proc/PID/<name> for writing with the caller's uid as effective uid and the helper's
// capabilities kept effective. The kernel checks the opener's credentials (map_write in
// kernel/user_namespace.c): CAP_SYS_ADMIN in the target namespace, which its owner has, and
// CAP_SETUID/CAP_SETGID in the parent, which the helper has. Opening as root instead would
// need CAP_SYS_ADMIN (and CAP_DAC_OVERRIDE) in the initial namespace. The real uid stays 0,
// so seteuid(2) keeps the permitted set and the switch back restores the effective set.
Result<UniqueFd> openMapAsCaller(int dirFd, const char* name, uid_t uid) {
    if (::syscall(SYS_setresuid, -1, uid, -1) != 0) {
        return makeError(ErrorCode::Internal,
                         std::string("cannot switch to the caller's uid: ") + std::strerror(errno));
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    int raised = -1;
    if (::syscall(SYS_capget, &header, data) == 0) {
        data[0].effective = data[0].permitted;
        data[1].effective = data[1].permitted;
        raised = static_cast<int>(::syscall(SYS_capset, &header, data));
    }
    int capErrno = errno;
    UniqueFd fd(raised == 0 ? ::openat(dirFd, name, O_WRONLY | O_CLOEXEC) : -1);
    int openErrno = errno;
    if (::syscall(SYS_setresuid, -1, 0, -1) != 0) {
        // Cannot happen with the real uid 0; never go on with the caller's uid.
        std::abort();
    }
    if (raised != 0) {
        return makeError(ErrorCode::Internal,
                         std::string("cannot raise capabilities: ") + std::strerror(capErrno));
    }
    if (!fd) {
        return makeError(ErrorCode::Internal,
                         std::string("cannot open ") + name + ": " + std::strerror(openErrno));
    }
    return fd;
}

}  // namespace

Result<void> applyIdMap(const IdMapRequest& request, const IdMapCaller& caller,
                        const SubIdFiles& files) {
    const std::string proc = "/proc/" + std::to_string(request.pid);
    UniqueFd dir(::open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
        if (errno == ENOENT) {
            return makeError(ErrorCode::NotFound, "no process " + std::to_string(request.pid));
        }
        return makeError(ErrorCode::Internal, "cannot open " + proc + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) {
        return makeError(ErrorCode::Internal, "cannot stat " + proc + ": " + std::strerror(errno));
    }
    // A non-dumpable process's /proc entry belongs to root (proc(5)), so it fails here too,
    // as with shadow's newuidmap.
    if (st.st_uid != caller.uid || (request.kind == IdKind::Group && st.st_gid != caller.gid)) {
        return makeError(ErrorCode::PermissionDenied, "process " + std::to_string(request.pid) +
                                                          " does not belong to the caller");
    }
    const std::string& file = request.kind == IdKind::User ? files.subuid : files.subgid;
    std::ifstream in(file);
    if (!in) {
        return makeError(ErrorCode::Internal, "cannot read " + file + ": " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    const std::uint32_t ownId = request.kind == IdKind::User ? caller.uid : caller.gid;
    auto ranges = subIdRangesFor(text.str(), caller.userName, ownId);
    if (auto allowed = checkIdMappings(request.mappings, ownId, ranges, file); !allowed) {
        return allowed.error();
    }
    const char* mapName = request.kind == IdKind::User ? "uid_map" : "gid_map";
    auto map = openMapAsCaller(dir.get(), mapName, caller.uid);
    if (!map) {
        return makeError(ErrorCode::Internal, proc + ": " + map.error().message);
    }
    const std::string content = formatIdMapFile(request.mappings);
    ssize_t n = ::write(map->get(), content.data(), content.size());
    if (n != static_cast<ssize_t>(content.size())) {
        return makeError(ErrorCode::Internal, "writing " + proc + "/" + mapName + " failed: " +
                                                  (n < 0 ? std::strerror(errno) : "short write"));
    }
    return {};
}

}  // namespace fetchml

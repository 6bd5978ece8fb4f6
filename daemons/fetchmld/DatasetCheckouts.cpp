#include "DatasetCheckouts.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "store/TreeIo.hpp"

namespace fetchml {

namespace {

constexpr const char* kTempPrefix = ".tmp-";

Error internal(const std::string& what, int error) {
    return makeError(ErrorCode::Internal, what + ": " + std::generic_category().message(error));
}

}  // namespace

std::string DatasetCheckouts::dirOf(const std::string& tree) const {
    return runsDir_ + "/datasets/" + tree;
}

Result<std::string> DatasetCheckouts::ensure(const std::string& tree,
                                             const std::string& manifestText) {
    if (!Sha256::isValidHex(tree)) {
        return makeError(ErrorCode::InvalidArgument,
                         "dataset tree '" + tree.substr(0, 80) + "' is not a tree id");
    }
    const std::string dir = dirOf(tree);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        return dir;
    }
    auto manifest = Manifest::parse(manifestText);
    if (!manifest) {
        return manifest.error();
    }
    const std::string parent = runsDir_ + "/datasets";
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
        return internal("cannot create " + parent, errno);
    }
    // The temporary name is per tree: fetchmld writes one copy at a time (one loop thread),
    // and one left by a crash is replaced.
    const std::string temp = parent + "/" + kTempPrefix + tree;
    std::error_code ec;
    std::filesystem::remove_all(temp, ec);
    if (auto written = TreeIo::materialize(*manifest, store_, temp); !written) {
        std::filesystem::remove_all(temp, ec);
        return written.error();
    }
    if (::rename(temp.c_str(), dir.c_str()) != 0) {
        const int error = errno;
        std::filesystem::remove_all(temp, ec);
        return internal("cannot rename " + temp + " to " + dir, error);
    }
    return dir;
}

std::size_t DatasetCheckouts::removeExcept(const std::string& runsDir,
                                           const std::set<std::string>& keep,
                                           std::vector<std::string>& left) {
    std::size_t removed = 0;
    std::error_code ec;
    std::filesystem::directory_iterator it(runsDir + "/datasets", ec);
    if (ec) {
        return 0;  // no copy was ever written
    }
    for (const auto& entry : it) {
        const std::string name = entry.path().filename().string();
        const bool temp = name.rfind(kTempPrefix, 0) == 0;
        if (!temp && (!Sha256::isValidHex(name) || keep.count(name) != 0)) {
            continue;
        }
        std::error_code rc;
        // remove_all does not follow symbolic links.
        std::filesystem::remove_all(entry.path(), rc);
        if (rc) {
            left.push_back(entry.path().string() + ": " + rc.message());
        } else {
            removed += temp ? 0 : 1;
        }
    }
    return removed;
}

}  // namespace fetchml

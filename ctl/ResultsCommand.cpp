// `fetchmlctl results ID [--download DIR]`: a job's results manifest, and the files it lists
// fetched into DIR (only those not already there with the right content).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

#include "Commands.hpp"
#include "TextFormat.hpp"
#include "store/Manifest.hpp"
#include "store/Sha256.hpp"
#include "sys/UniqueFd.hpp"

namespace fetchml::ctl {

namespace {

struct ResultsArgs {
    std::string id;
    std::string download;
    bool json = false;
};

Error ioError(const std::string& what, const std::string& path) {
    return makeError(ErrorCode::Internal, what + " " + path + ": " + std::strerror(errno));
}

/// Makes dir (mode 0755) if missing; refuses anything there that is not a real directory
/// (a symbolic link could point the download outside DIR).
Result<void> ensureDirectory(const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            return makeError(ErrorCode::InvalidArgument, dir + " exists and is not a directory");
        }
        return {};
    }
    if (errno != ENOENT || ::mkdir(dir.c_str(), 0755) != 0) {
        return ioError("cannot create directory", dir);
    }
    return {};
}

/// True when path is a regular file with exactly the entry's size and hash.
bool alreadyPresent(const std::string& path, const ManifestEntry& entry) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::uint64_t>(st.st_size) != entry.size) {
        return false;
    }
    auto hash = Sha256::hashFile(path);
    return hash && *hash == entry.sha256;
}

/// Fetches one blob into a temporary file next to target, checks its hash, then renames it
/// into place (atomic: a reader sees the old file or the whole new one).
Result<void> fetchInto(Transport& transport, const ManifestEntry& entry,
                       const std::string& target) {
    std::string temp = target.substr(0, target.rfind('/') + 1) + ".fetchml-download-XXXXXX";
    UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd) {
        return ioError("cannot create a temporary file like", temp);
    }
    auto done = [&]() -> Result<void> {
        auto bytes = transport.fetchBlob(entry.sha256, fd.get());
        if (!bytes) {
            return bytes.error();
        }
        if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
            return ioError("cannot rewind", temp);
        }
        auto hash = Sha256::hashFd(fd.get());
        if (!hash) {
            return hash.error();
        }
        if (*hash != entry.sha256) {
            return makeError(ErrorCode::Internal, "downloaded " + entry.path + " hashes to " +
                                                      *hash + ", not " + entry.sha256);
        }
        mode_t mode = entry.mode == Manifest::kModeExecutable ? 0755 : 0644;
        if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0) {
            return ioError("cannot finish", temp);
        }
        if (::rename(temp.c_str(), target.c_str()) != 0) {
            return ioError("cannot rename into", target);
        }
        return {};
    }();
    if (!done) {
        ::unlink(temp.c_str());
    }
    return done;
}

/// Downloads every entry of manifest that DIR lacks. Prints a summary on stderr.
Outcome download(Transport& transport, const Manifest& manifest, const std::string& dir) {
    if (auto made = ensureDirectory(dir); !made) {
        return usageFailure(made.error().message);
    }
    std::size_t fetched = 0;
    std::size_t present = 0;
    std::uint64_t bytes = 0;
    for (const auto& entry : manifest.entries()) {
        // Manifest::parse guarantees relative paths without "." or ".." components.
        for (auto slash = entry.path.find('/'); slash != std::string::npos;
             slash = entry.path.find('/', slash + 1)) {
            if (auto made = ensureDirectory(dir + "/" + entry.path.substr(0, slash)); !made) {
                return usageFailure(made.error().message);
            }
        }
        std::string target = dir + "/" + entry.path;
        if (alreadyPresent(target, entry)) {
            ++present;
            continue;
        }
        if (auto got = fetchInto(transport, entry, target); !got) {
            return failureFrom(got.error());
        }
        ++fetched;
        bytes += entry.size;
    }
    std::fprintf(stderr, "downloaded %s (%llu bytes) into %s, %zu already present\n",
                 plural(fetched, "file").c_str(), static_cast<unsigned long long>(bytes),
                 dir.c_str(), present);
    return std::nullopt;
}

Outcome runResults(CtlContext& ctx, const ResultsArgs& args) {
    Outcome failure;
    Transport* transport = ctx.transport(failure);
    if (transport == nullptr) {
        return failure;
    }
    auto results = transport->jobResults(args.id);
    if (!results) {
        return failureFrom(results.error());
    }
    if (args.json) {
        printJson({{"results", results->id}, {"manifest", results->manifest}});
    } else {
        std::cout << results->manifest << std::flush;
    }
    if (args.download.empty()) {
        return std::nullopt;
    }
    auto manifest = Manifest::parse(results->manifest);
    if (!manifest) {
        return CtlFailure{ExitCode::Connection,
                          "the server sent an invalid manifest: " + manifest.error().message};
    }
    if (manifest->commitId() != results->id) {
        return CtlFailure{ExitCode::Connection, "the server sent a manifest whose id is " +
                                                    manifest->commitId() + ", not " + results->id};
    }
    return download(*transport, *manifest, args.download);
}

}  // namespace

void addResultsCommand(CLI::App& app, CtlContext& ctx) {
    auto args = std::make_shared<ResultsArgs>();
    auto* results = app.add_subcommand("results", "Show a job's results manifest; download it");
    results->add_option("ID", args->id, "Job id")->required();
    results
        ->add_option("--download", args->download,
                     "Fetch the files into DIR (those already there with the right content "
                     "are kept)")
        ->type_name("DIR");
    results->add_flag("--json", args->json, "Print {\"results\", \"manifest\"} as JSON");
    results->callback([&ctx, args] { ctx.outcome = runResults(ctx, *args); });
}

}  // namespace fetchml::ctl

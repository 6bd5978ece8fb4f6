#include "DatasetStore.hpp"

#include "store/Manifest.hpp"
#include "store/Sha256.hpp"

namespace fetchml {

namespace {

constexpr const char* kSelectVersion =
    "SELECT name, version, tree, files, bytes, user, created_at FROM dataset_versions";

DatasetVersion versionFromRow(const Statement& row) {
    return DatasetVersion{row.text(0),  row.int64(1), row.text(2), row.int64(3),
                          row.int64(4), row.text(5),  row.int64(6)};
}

std::string refText(const DatasetRef& ref) {
    return ref.version == 0 ? ref.name : ref.name + "@" + std::to_string(ref.version);
}

Error missing(const DatasetRef& ref) {
    return makeError(ErrorCode::NotFound, "data: " + refText(ref) + " does not exist");
}

}  // namespace

Result<std::optional<std::string>> DatasetStore::owner(const std::string& name) {
    auto stmt = db_.prepare("SELECT owner FROM datasets WHERE name = ?");
    if (!stmt) {
        return stmt.error();
    }
    auto row = (*stmt)->bind(1, name).step();
    if (!row) {
        return row.error();
    }
    std::optional<std::string> out;
    if (*row) {
        out = (*stmt)->text(0);
    }
    (*stmt)->reset();
    return out;
}

Result<std::pair<DatasetVersion, bool>> DatasetStore::add(const std::string& name,
                                                          const std::string& tree,
                                                          const std::string& user) {
    if (!isDatasetName(name)) {
        return makeError(ErrorCode::InvalidArgument,
                         "name: '" + name.substr(0, 80) +
                             "' is not a dataset name (1 to 64 of [A-Za-z0-9._-], starting with "
                             "a letter or digit)");
    }
    if (!Sha256::isValidHex(tree)) {
        return makeError(ErrorCode::InvalidArgument,
                         "tree: '" + tree.substr(0, 80) + "' is not a tree id (64 hex digits)");
    }
    std::pair<DatasetVersion, bool> out;
    auto done = db_.transaction([&]() -> Result<void> {
        auto text = db_.prepare("SELECT manifest FROM commits WHERE id = ?");
        if (!text) {
            return text.error();
        }
        auto found = (*text)->bind(1, tree).step();
        if (!found) {
            return found.error();
        }
        if (!*found) {
            return makeError(ErrorCode::NotFound,
                             "tree: " + tree + " is not a recorded tree (PutManifest it first)");
        }
        auto manifest = Manifest::parse((*text)->text(0));
        (*text)->reset();
        if (!manifest) {
            return manifest.error();
        }
        auto latest = get(DatasetRef{name, 0});
        if (latest && latest->versions.front().tree == tree) {
            out = {latest->versions.front(), false};
            return {};
        }
        if (!latest && latest.error().code != ErrorCode::NotFound) {
            return latest.error();
        }
        const std::int64_t now = clock_();
        auto create = db_.prepare(
            "INSERT INTO datasets (name, owner, next_version, created_at) VALUES (?, ?, 1, ?) "
            "ON CONFLICT (name) DO NOTHING");
        if (!create) {
            return create.error();
        }
        if (auto r = (*create)->bind(1, name).bind(2, user).bind(3, now).run(); !r) {
            return r;
        }
        auto next = db_.prepare(
            "UPDATE datasets SET next_version = next_version + 1 WHERE name = ? "
            "RETURNING next_version - 1");
        if (!next) {
            return next.error();
        }
        auto row = (*next)->bind(1, name).step();
        if (!row) {
            return row.error();
        }
        DatasetVersion v{name, (*next)->int64(0), tree, 0, 0, user, now};
        (*next)->reset();
        for (const auto& entry : manifest->entries()) {
            ++v.files;
            v.bytes += static_cast<std::int64_t>(entry.size);
        }
        auto insert = db_.prepare(
            "INSERT INTO dataset_versions (name, version, tree, files, bytes, user, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)");
        if (!insert) {
            return insert.error();
        }
        if (auto r = (*insert)
                         ->bind(1, v.name)
                         .bind(2, v.version)
                         .bind(3, v.tree)
                         .bind(4, v.files)
                         .bind(5, v.bytes)
                         .bind(6, v.user)
                         .bind(7, v.createdAt)
                         .run();
            !r) {
            return r;
        }
        out = {std::move(v), true};
        return {};
    });
    if (!done) {
        return done.error();
    }
    return out;
}

Result<std::vector<Dataset>> DatasetStore::list() {
    // The latest version of each dataset and the number of its versions.
    auto stmt = db_.prepare(
        "SELECT v.name, v.version, v.tree, v.files, v.bytes, v.user, v.created_at, d.owner, "
        "(SELECT COUNT(*) FROM dataset_versions c WHERE c.name = v.name) "
        "FROM dataset_versions v JOIN datasets d ON d.name = v.name "
        "WHERE v.version = (SELECT MAX(version) FROM dataset_versions m WHERE m.name = v.name) "
        "ORDER BY v.name");
    if (!stmt) {
        return stmt.error();
    }
    std::vector<Dataset> out;
    if (auto r = (*stmt)->forEachRow([&](const Statement& row) {
            out.push_back(Dataset{row.text(0), row.text(7), {versionFromRow(row)}, row.int64(8)});
        });
        !r) {
        return r.error();
    }
    return out;
}

Result<Dataset> DatasetStore::get(const DatasetRef& ref) {
    auto ownerOf = owner(ref.name);
    if (!ownerOf) {
        return ownerOf.error();
    }
    if (!*ownerOf) {
        return missing(ref);
    }
    Dataset out{ref.name, **ownerOf, {}, 0};
    auto stmt = db_.prepare(std::string(kSelectVersion) +
                            " WHERE name = ?1 AND (?2 = 0 OR version = ?2) ORDER BY version DESC");
    if (!stmt) {
        return stmt.error();
    }
    if (auto r =
            (*stmt)->bind(1, ref.name).bind(2, ref.version).forEachRow([&](const Statement& row) {
                out.versions.push_back(versionFromRow(row));
            });
        !r) {
        return r.error();
    }
    if (out.versions.empty()) {
        return missing(ref);
    }
    out.versionCount = static_cast<std::int64_t>(out.versions.size());
    return out;
}

Result<Dataset> DatasetStore::remove(const DatasetRef& ref) {
    Result<Dataset> removed = missing(ref);
    auto done = db_.transaction([&]() -> Result<void> {
        removed = get(ref);
        if (!removed) {
            return removed.error();
        }
        auto del = db_.prepare(
            "DELETE FROM dataset_versions WHERE name = ?1 AND (?2 = 0 OR version = ?2)");
        if (!del) {
            return del.error();
        }
        return (*del)->bind(1, ref.name).bind(2, ref.version).run();
    });
    if (!done) {
        return done.error();
    }
    return removed;
}

Result<DataRef> DatasetStore::resolve(const DataRef& ref) {
    auto found = get(DatasetRef{ref.name, ref.version});
    if (!found) {
        return found.error();
    }
    const DatasetVersion& v = found->versions.front();  // newest first
    return DataRef{v.name, v.version, v.tree};
}

}  // namespace fetchml

#pragma once
// TempDb: a migrated fetchmld database in a temporary directory, removed afterwards.
#include <stdlib.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "Database.hpp"
#include "Schema.hpp"

namespace fetchml {

// A temporary directory holding one database file, removed afterwards.
struct TempDb {
    TempDb() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "fetchmld-ut-XXXXXX").string();
        dir = mkdtemp(tmpl.data());
        REQUIRE(!dir.empty());
        auto opened = Database::open(dir + "/fetchml.db");
        REQUIRE(opened.ok());
        db = std::move(*opened);
        REQUIRE(db->migrate(schedulerMigrations()).ok());
    }
    ~TempDb() {
        db.reset();
        std::filesystem::remove_all(dir);
    }
    std::string dir;
    std::unique_ptr<Database> db;
};

}  // namespace fetchml

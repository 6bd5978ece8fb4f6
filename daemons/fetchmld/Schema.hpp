#pragma once
// Schema: fetchmld's SQLite schema as an ordered list of migrations (Database::migrate).
// Append new migrations; never edit a released one.

#include <string>
#include <vector>

namespace fetchml {

/// The migrations, oldest first; migration i brings the schema to version i+1.
const std::vector<std::string>& schedulerMigrations();

}  // namespace fetchml

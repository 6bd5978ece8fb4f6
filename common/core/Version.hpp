#pragma once
// The project version, from CMake's project(VERSION ...) (compile definition on Version.cpp).

namespace fetchml {

/// The FetchML version, e.g. "0.1.0".
const char* projectVersion();

}  // namespace fetchml

#include "core/Version.hpp"

#ifndef FETCHML_VERSION
#error "FETCHML_VERSION must be defined by common/CMakeLists.txt"
#endif

namespace fetchml {

const char* projectVersion() {
    return FETCHML_VERSION;
}

}  // namespace fetchml

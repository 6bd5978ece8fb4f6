#include "sys/OpensslError.hpp"

#include <openssl/err.h>

namespace fetchml {

Error opensslError(ErrorCode code, const std::string& what) {
    unsigned long err = ERR_get_error();
    char buf[256] = "unknown error";
    if (err != 0) {
        ERR_error_string_n(err, buf, sizeof buf);
    }
    ERR_clear_error();
    return makeError(code, what + ": " + buf);
}

}  // namespace fetchml

#pragma once
// Memory sizes on the command line: a whole number of MiB ("4096") or a number with a binary
// unit M, G or T ("512M", "16G"; also MiB, GiB, TiB), as podman's and sbatch's --mem read them.

#include <cstdint>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// The size in MiB. Errors: InvalidArgument "<flag>: expected MiB or a number with M, G or T
/// (e.g. 16G), got '<text>'", also for zero and for more than 64 TiB.
Result<std::uint64_t> parseMemoryMib(std::string_view text, std::string_view flag);

}  // namespace fetchml::ctl

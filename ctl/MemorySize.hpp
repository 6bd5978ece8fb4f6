#pragma once
// Memory sizes on the command line: a whole number of MiB ("4096") or a whole number with a
// binary unit M, G or T ("512M", "16G"; also m, g, t and MiB, GiB, TiB), as podman's --memory
// and sbatch's --mem read them (fractions such as 1.5G are refused: write 1536M).

#include <cstdint>
#include <string_view>

#include "core/Result.hpp"

namespace fetchml::ctl {

/// The size in MiB. Errors: InvalidArgument "<flag>: expected MiB or a number with M, G or T
/// (e.g. 16G), got '<text>'", also for zero and for more than 64 TiB.
Result<std::uint64_t> parseMemoryMib(std::string_view text, std::string_view flag);

}  // namespace fetchml::ctl

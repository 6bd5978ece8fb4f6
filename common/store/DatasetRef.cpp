#include "store/DatasetRef.hpp"

#include <charconv>

namespace fetchml {

bool isDatasetName(std::string_view name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-')))) {
            return false;
        }
    }
    return true;
}

Result<DatasetRef> parseDatasetRef(std::string_view text, const std::string& field) {
    DatasetRef ref;
    auto at = text.find('@');
    ref.name = std::string(text.substr(0, at));
    if (!isDatasetName(ref.name)) {
        return makeError(ErrorCode::InvalidArgument,
                         field + ": '" + ref.name.substr(0, 80) +
                             "' is not a dataset name (1 to 64 of [A-Za-z0-9._-], starting "
                             "with a letter or digit)");
    }
    if (at == std::string_view::npos) {
        return ref;
    }
    const std::string_view digits = text.substr(at + 1);
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, ref.version);
    if (digits.empty() || ec != std::errc{} || ptr != end || ref.version < 1 ||
        ref.version > kMaxDatasetVersion) {
        return makeError(ErrorCode::InvalidArgument,
                         field + ": '" + std::string(text.substr(0, 80)) +
                             "': the version after '@' must be a number from 1");
    }
    return ref;
}

}  // namespace fetchml

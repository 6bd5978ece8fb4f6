#pragma once
// YamlParser: RAII over libyaml's document API (yaml.h, "Loader API"), turning one YAML
// document into a small tree where every node keeps its 1-based line and column, so that
// configuration errors can say exactly where they are.

#include <yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/Result.hpp"

namespace fetchml {

/// One node of a parsed YAML document.
struct YamlNode {
    /// What the node is.
    enum class Kind { Scalar, Sequence, Mapping };

    Kind kind = Kind::Scalar;
    std::string value;  ///< scalar text (Scalar only)
    bool plain = true;  ///< the scalar was written without quotes (so `~`/`null` mean null)
    int line = 0;       ///< 1-based line of the node's first character
    int column = 0;     ///< 1-based column of the node's first character
    std::vector<YamlNode> items;                         ///< Sequence elements
    std::vector<std::pair<YamlNode, YamlNode>> entries;  ///< Mapping key/value pairs

    // The special members are defined in YamlParser.cpp, where YamlNode is complete: clang 14
    // with libstdc++ 12 (the fuzz build) instantiates the vector's constexpr destructor here.
    YamlNode();
    YamlNode(const YamlNode&);
    YamlNode(YamlNode&&) noexcept;
    YamlNode& operator=(const YamlNode&);
    YamlNode& operator=(YamlNode&&) noexcept;
    ~YamlNode();

    /// True for a plain scalar that YAML 1.1 reads as null: empty, `~`, `null`, `Null`, `NULL`.
    bool isNull() const;
    /// "a scalar", "a sequence" or "a mapping", for error messages.
    const char* kindName() const;
};

/// Parses YAML text with libyaml. One owner per parse; not copyable.
class YamlParser {
public:
    YamlParser();
    ~YamlParser();
    YamlParser(const YamlParser&) = delete;
    YamlParser& operator=(const YamlParser&) = delete;

    /// Parses the first document of `text`; `name` (a file name) prefixes error messages.
    /// Returns std::nullopt for an empty stream. Errors (InvalidArgument):
    /// "<name>:<line>:<column>: <problem> (<context>)" for syntax errors, and documents nested
    /// deeper than 64 levels or larger than 100000 nodes (alias bombs).
    Result<std::optional<YamlNode>> parse(const std::string& text, const std::string& name);

    /// Reads and parses a file. A missing file is NotFound, an unreadable one Internal.
    static Result<std::optional<YamlNode>> parseFile(const std::string& path);

private:
    struct DocumentDeleter {
        void operator()(yaml_document_t* doc) const;
    };
    Result<YamlNode> convert(yaml_document_t* doc, yaml_node_t* node, int depth);

    yaml_parser_t parser_{};
    bool used_ = false;
    std::size_t nodes_ = 0;
    std::string name_;
};

}  // namespace fetchml

#include "core/YamlParser.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>

namespace fetchml {

YamlNode::YamlNode() = default;
YamlNode::YamlNode(const YamlNode&) = default;
YamlNode::YamlNode(YamlNode&&) noexcept = default;
YamlNode& YamlNode::operator=(const YamlNode&) = default;
YamlNode& YamlNode::operator=(YamlNode&&) noexcept = default;
YamlNode::~YamlNode() = default;
namespace {

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxNodes = 100000;

std::string location(const std::string& name, const yaml_mark_t& mark) {
    return name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

}  // namespace

bool YamlNode::isNull() const {
    return kind == Kind::Scalar && plain &&
           (value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL");
}

const char* YamlNode::kindName() const {
    switch (kind) {
        case Kind::Scalar:
            return "a scalar";
        case Kind::Sequence:
            return "a sequence";
        case Kind::Mapping:
            return "a mapping";
    }
    return "a node";
}

void YamlParser::DocumentDeleter::operator()(yaml_document_t* doc) const {
    yaml_document_delete(doc);
    delete doc;
}

YamlParser::YamlParser() {
    if (yaml_parser_initialize(&parser_) == 0) {
        throw std::bad_alloc();
    }
}

YamlParser::~YamlParser() {
    yaml_parser_delete(&parser_);
}

Result<std::optional<YamlNode>> YamlParser::parse(const std::string& text,
                                                  const std::string& name) {
    if (used_) {
        // libyaml parsers are single-use: start over with a fresh one.
        yaml_parser_delete(&parser_);
        parser_ = yaml_parser_t{};
        if (yaml_parser_initialize(&parser_) == 0) {
            throw std::bad_alloc();
        }
    }
    used_ = true;
    nodes_ = 0;
    name_ = name;
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    std::unique_ptr<yaml_document_t, DocumentDeleter> doc(new yaml_document_t{});
    if (yaml_parser_load(&parser_, doc.get()) == 0) {
        // yaml_parser_load leaves the document uninitialised on failure.
        delete doc.release();
        std::string msg = location(name, parser_.problem_mark) + ": " +
                          (parser_.problem != nullptr ? parser_.problem : "YAML error");
        if (parser_.context != nullptr) {
            msg += std::string(" (") + parser_.context + ")";
        }
        return makeError(ErrorCode::InvalidArgument, msg);
    }
    yaml_node_t* root = yaml_document_get_root_node(doc.get());
    if (root == nullptr) {
        return std::optional<YamlNode>{};
    }
    auto converted = convert(doc.get(), root, 0);
    if (!converted) {
        return converted.error();
    }
    return std::optional<YamlNode>(std::move(converted).value());
}

Result<YamlNode> YamlParser::convert(yaml_document_t* doc, yaml_node_t* node, int depth) {
    if (depth > kMaxDepth || ++nodes_ > kMaxNodes) {
        return makeError(
            ErrorCode::InvalidArgument,
            location(name_, node->start_mark) + ": document too deep or too large (aliases?)");
    }
    YamlNode out;
    out.line = static_cast<int>(node->start_mark.line) + 1;
    out.column = static_cast<int>(node->start_mark.column) + 1;
    switch (node->type) {
        case YAML_SCALAR_NODE:
            out.kind = YamlNode::Kind::Scalar;
            out.value.assign(reinterpret_cast<const char*>(node->data.scalar.value),
                             node->data.scalar.length);
            out.plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            break;
        case YAML_SEQUENCE_NODE:
            out.kind = YamlNode::Kind::Sequence;
            for (yaml_node_item_t* it = node->data.sequence.items.start;
                 it < node->data.sequence.items.top; ++it) {
                auto item = convert(doc, yaml_document_get_node(doc, *it), depth + 1);
                if (!item) {
                    return item.error();
                }
                out.items.push_back(std::move(item).value());
            }
            break;
        case YAML_MAPPING_NODE:
            out.kind = YamlNode::Kind::Mapping;
            for (yaml_node_pair_t* p = node->data.mapping.pairs.start;
                 p < node->data.mapping.pairs.top; ++p) {
                auto key = convert(doc, yaml_document_get_node(doc, p->key), depth + 1);
                if (!key) {
                    return key.error();
                }
                auto value = convert(doc, yaml_document_get_node(doc, p->value), depth + 1);
                if (!value) {
                    return value.error();
                }
                out.entries.emplace_back(std::move(key).value(), std::move(value).value());
            }
            break;
        default:
            return makeError(ErrorCode::InvalidArgument,
                             location(name_, node->start_mark) + ": empty YAML node");
    }
    return out;
}

Result<std::optional<YamlNode>> YamlParser::parseFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        if (err == ENOENT) {
            return makeError(ErrorCode::NotFound, path + ": no such file");
        }
        return makeError(ErrorCode::Internal, path + ": cannot read: " + std::strerror(err));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        return makeError(ErrorCode::Internal, path + ": read error");
    }
    YamlParser parser;
    return parser.parse(text.str(), path);
}

}  // namespace fetchml

#include "reconcile/bulk_jsonl.hpp"

#include "model/graphql_product.hpp"
#include "model/json_fields.hpp"
#include "model/webhook_payload.hpp"

#include <stdexcept>

namespace shopmirror::reconcile {
namespace {

std::string_view trim_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return text;
}

} // namespace

void bulk_jsonl_reader::feed(std::string_view piece) {
  while (!piece.empty()) {
    const std::size_t newline = piece.find('\n');
    if (newline == std::string_view::npos) {
      partial_.append(piece);
      return;
    }
    if (partial_.empty()) {
      line(piece.substr(0, newline));
    } else {
      partial_.append(piece.substr(0, newline));
      line(partial_);
      partial_.clear();
    }
    piece.remove_prefix(newline + 1);
  }
}

void bulk_jsonl_reader::finish() {
  if (!partial_.empty()) {
    line(partial_);
    partial_.clear();
  }
  flush();
}

void bulk_jsonl_reader::line(std::string_view raw) {
  const std::string_view text = trim_line(raw);
  if (text.empty()) {
    return;
  }
  ++lines_;
  // A fresh document a line: a reused one keeps every line's values in its
  // pool allocator until it is destroyed, and memory would grow with the
  // catalog.
  // Each line is kept verbatim in the product's source document, so it must
  // be one that jsonb stores as it reads here.
  rapidjson::Document document;
  if (const std::string reason = model::json::parse_object(document, text); !reason.empty()) {
    throw std::runtime_error("bulk result line " + std::to_string(lines_) + ": " + reason);
  }
  if (!document.HasMember("__parentId")) {
    flush();
    auto mapped = model::map_graphql_product(document);
    if (auto* error = std::get_if<model::graphql_error>(&mapped)) {
      throw std::runtime_error("bulk result line " + std::to_string(lines_) + ": " +
                               error->reason);
    }
    current_.emplace();
    current_->state = std::move(std::get<model::product_state>(mapped));
    current_gid_ = document["id"].GetString();
    // The source document: the product's line with its variants' lines
    // under "variants", the shape a products page has.
    current_->source.assign(text.substr(0, text.rfind('}')));
    variants_json_.clear();
    return;
  }
  const rapidjson::Value& parent = document["__parentId"];
  if (!parent.IsString() || !current_ || std::string_view(parent.GetString()) != current_gid_) {
    throw std::runtime_error("bulk result line " + std::to_string(lines_) +
                             ": a variant that does not follow its product");
  }
  const std::string reason = model::add_graphql_variant(document, current_->state);
  if (!reason.empty()) {
    throw std::runtime_error("bulk result line " + std::to_string(lines_) + ": " + reason);
  }
  variants_json_ += variants_json_.empty() ? "" : ",";
  variants_json_.append(text);
}

void bulk_jsonl_reader::flush() {
  if (!current_) {
    return;
  }
  current_->source += ",\"variants\":{\"nodes\":[";
  current_->source += variants_json_;
  current_->source += "]}}";
  model::canonicalize(current_->state);
  emit_(std::move(*current_));
  current_.reset();
}

} // namespace shopmirror::reconcile

#include "reconcile/bulk_jsonl.hpp"

#include "model/graphql_product.hpp"
#include "model/json_fields.hpp"
#include "model/webhook_payload.hpp"

namespace shopmirror::reconcile {
namespace {

std::string_view trim_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return text;
}

std::optional<std::int64_t> product_of(const rapidjson::Value& gid) {
  if (!gid.IsString()) {
    return std::nullopt;
  }
  return model::json::read_gid(model::json::to_view(gid), "Product");
}

} // namespace

void jsonl_lines::feed(std::string_view piece) {
  while (!piece.empty()) {
    const std::size_t newline = piece.find('\n');
    if (newline == std::string_view::npos) {
      partial_.append(piece);
      return;
    }
    if (partial_.empty()) {
      line_(piece.substr(0, newline));
    } else {
      partial_.append(piece.substr(0, newline));
      line_(partial_);
      partial_.clear();
    }
    piece.remove_prefix(newline + 1);
  }
}

void jsonl_lines::finish() {
  if (!partial_.empty()) {
    line_(partial_);
    partial_.clear();
  }
}

void bulk_jsonl_reader::feed(std::string_view piece) {
  lines_in_.feed(piece);
}

void bulk_jsonl_reader::finish() {
  lines_in_.finish();
  flush();
}

void bulk_jsonl_reader::fail_current(std::string reason) {
  if (!current_failure_) {
    current_failure_ = std::move(reason);
  }
}

void bulk_jsonl_reader::line(std::string_view raw) {
  const std::string_view text = trim_line(raw);
  if (text.empty()) {
    return;
  }
  ++lines_;
  const std::string where = "bulk result line " + std::to_string(lines_) + ": ";
  // A fresh document a line: a reused one keeps every line's values in its
  // pool allocator until it is destroyed, and memory would grow with the
  // catalog.
  // Each line goes into the product's source document, so it must be one
  // that jsonb stores as it reads here.
  const model::json::parsed_object parsed(text);
  if (!parsed.error().empty()) {
    unreadable_line(where, parsed.error());
    return;
  }
  const rapidjson::Document& document = parsed.document();
  if (!document.HasMember("__parentId")) {
    product_line(document, where);
    return;
  }
  variant_line(document, text, where);
}

void bulk_jsonl_reader::unreadable_line(const std::string& where, const std::string& reason) {
  ++unreadable_;
  // It may have been a variant of the product being read: that product
  // is not known whole.
  if (current_) {
    fail_current(where + "an unreadable line follows it: " + reason);
  }
  failed_(db::failed_product{std::nullopt, where + reason});
}

void bulk_jsonl_reader::product_line(const rapidjson::Document& document,
                                     const std::string& where) {
  ++roots_;
  flush();
  orphan_gid_.clear();
  current_.emplace();
  current_gid_ =
      document.HasMember("id") && document["id"].IsString() ? document["id"].GetString() : "";
  auto mapped = model::map_graphql_product(document);
  if (auto* error = std::get_if<model::graphql_error>(&mapped)) {
    const auto id = document.HasMember("id") ? product_of(document["id"]) : std::nullopt;
    if (!id) {
      // Not a product anyone can name: its variants have no product to
      // join either.
      current_.reset();
      failed_(db::failed_product{std::nullopt, where + error->reason});
      return;
    }
    current_->state.id = *id;
    fail_current(where + error->reason);
    return;
  }
  current_->state = std::move(std::get<model::product_state>(mapped));
  start_source(document);
}

void bulk_jsonl_reader::start_source(const rapidjson::Value& product) {
  // The source document: the product's line with its variants' lines
  // under "variants", the shape a products page has.
  source_.Clear();
  source_writer_.Reset(source_);
  source_writer_.StartObject();
  // `product` is a const view: clang in C++20 finds the mutable member
  // iterators' != ambiguous (-Wambiguous-reversed-operator).
  for (const auto& member : product.GetObject()) {
    member.name.Accept(source_writer_);
    member.value.Accept(source_writer_);
  }
  source_writer_.Key("variants");
  source_writer_.StartObject();
  source_writer_.Key("nodes");
  source_writer_.StartArray();
}

void bulk_jsonl_reader::variant_line(const rapidjson::Document& document, std::string_view text,
                                     const std::string& where) {
  const rapidjson::Value& parent = document["__parentId"];
  if (!current_ || !parent.IsString() || std::string_view(parent.GetString()) != current_gid_) {
    orphan_variant(parent, where);
    return;
  }
  if (current_failure_) {
    return; // the product failed already
  }
  if (const std::string reason = model::add_graphql_variant(document, current_->state);
      !reason.empty()) {
    fail_current(where + reason);
    return;
  }
  // Parsed above as an object: written as it came.
  source_writer_.RawValue(text.data(), text.size(), rapidjson::kObjectType);
}

void bulk_jsonl_reader::orphan_variant(const rapidjson::Value& parent, const std::string& where) {
  // The operation is asked to group objects, so this means a damaged
  // result: the variant's product, if it can be named, failed.
  const auto id = product_of(parent);
  const std::string gid = parent.IsString() ? parent.GetString() : "";
  if (!id) {
    failed_(db::failed_product{std::nullopt, where + "a variant of no product it names"});
  } else if (gid != orphan_gid_) {
    orphan_gid_ = gid;
    failed_(db::failed_product{*id, where + "a variant that does not follow its product"});
  }
}

void bulk_jsonl_reader::flush() {
  if (!current_) {
    return;
  }
  if (current_failure_) {
    failed_(db::failed_product{current_->state.id, std::move(*current_failure_)});
  } else {
    source_writer_.EndArray();
    source_writer_.EndObject();
    source_writer_.EndObject();
    current_->source.assign(source_.GetString(), source_.GetSize());
    model::canonicalize(current_->state);
    emit_(std::move(*current_));
  }
  current_.reset();
  current_failure_.reset();
}

void bulk_barcodes_reader::finish() {
  lines_in_.finish();
  flush();
}

void bulk_barcodes_reader::line(std::string_view raw) {
  const std::string_view text = trim_line(raw);
  if (text.empty()) {
    return;
  }
  ++lines_;
  const std::string where = "bulk barcodes line " + std::to_string(lines_) + ": ";
  const model::json::parsed_object parsed(text);
  if (const std::string& reason = parsed.error(); !reason.empty()) {
    ++unreadable_;
    if (current_ && !current_failure_) {
      current_failure_ = where + "an unreadable line follows it: " + reason;
    }
    failed_(where + reason);
    return;
  }
  const rapidjson::Document& document = parsed.document();
  if (!document.HasMember("__parentId")) {
    ++roots_;
    flush();
    auto mapped = model::map_graphql_variant_barcodes(document, false);
    if (auto* error = std::get_if<model::graphql_error>(&mapped)) {
      failed_(where + error->reason);
      return;
    }
    current_ = std::move(std::get<model::variant_barcodes>(mapped));
    current_gid_ = document["id"].GetString();
    return;
  }
  const rapidjson::Value& parent = document["__parentId"];
  if (!current_ || !parent.IsString() || std::string_view(parent.GetString()) != current_gid_) {
    failed_(where + "a barcode that does not follow its variant");
    return;
  }
  if (current_failure_) {
    return;
  }
  if (std::string reason = model::add_graphql_barcode(document, *current_); !reason.empty()) {
    current_failure_ = where + reason;
  }
}

void bulk_barcodes_reader::flush() {
  if (current_) {
    if (current_failure_) {
      failed_(std::move(*current_failure_));
    } else {
      emit_(std::move(*current_));
    }
  }
  current_.reset();
  current_failure_.reset();
}

} // namespace shopmirror::reconcile

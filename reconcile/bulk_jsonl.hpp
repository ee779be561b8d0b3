#pragma once

#include "db/reconcile_store.hpp"
#include "model/variant_barcodes.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::reconcile {

/// Splits a JSONL body that arrives in pieces (any split: a line may span
/// pieces) into its lines, without the newline.
class jsonl_lines {
public:
  explicit jsonl_lines(std::function<void(std::string_view)> line) : line_(std::move(line)) {}
  void feed(std::string_view piece);
  /// The body ended: a last line without a newline is a line too.
  void finish();

private:
  std::function<void(std::string_view)> line_;
  std::string partial_;
};

/// What a bulk result's reader has read, to hold against what Shopify
/// counted (bulk_count_mismatch).
class bulk_result_counts {
public:
  /// Every non-empty line read: what Shopify's objectCount counts.
  std::size_t lines() const noexcept { return lines_; }
  /// The lines read as root objects (parsed, without `__parentId`),
  /// readable by the mapping or not: what Shopify's rootObjectCount counts.
  std::size_t roots() const noexcept { return roots_; }
  /// The lines that could not be parsed at all: roots or children, no one
  /// can tell.
  std::size_t unreadable() const noexcept { return unreadable_; }

protected:
  std::size_t lines_ = 0;
  std::size_t roots_ = 0;
  std::size_t unreadable_ = 0;
};

/// Reads a bulk operation's JSONL result as it streams in: one node a line,
/// a product followed by its variants, each variant naming its product in
/// `__parentId`. Joins them and hands each complete product on, holding
/// only the product being read: memory stays flat whatever the catalog.
///
/// A product that cannot be read (its line, or one of its variants' lines,
/// is not one the mapping accepts) is handed on as failed with the reason,
/// and the rest of the result goes on. A line that cannot be parsed at all
/// fails the product being read too (it may have been one of its variants),
/// and is itself a failure without a product id; so is a variant whose
/// product cannot be told. Never throws for the result's content.
class bulk_jsonl_reader : public bulk_result_counts {
public:
  using product_sink = std::function<void(db::listed_product)>;
  using failure_sink = std::function<void(db::failed_product)>;

  bulk_jsonl_reader(product_sink emit, failure_sink failed)
      : emit_(std::move(emit)), failed_(std::move(failed)) {}

  /// Feeds the next piece of the body (any split, lines may span pieces).
  void feed(std::string_view piece);

  /// The body ended: hands on the last product.
  void finish();

private:
  void line(std::string_view text);
  /// A line that is not a JSON object jsonb would store as read.
  void unreadable_line(const std::string& where, const std::string& reason);
  /// A root line: the product that the next lines' variants join.
  void product_line(const rapidjson::Document& document, const std::string& where);
  /// Opens the product's source document with the product's members.
  void start_source(const rapidjson::Value& product);
  /// A line with `__parentId`: a variant of the product being read.
  void variant_line(const rapidjson::Document& document, std::string_view text,
                    const std::string& where);
  /// A variant that does not follow the product it names.
  void orphan_variant(const rapidjson::Value& parent, const std::string& where);
  void flush();
  jsonl_lines lines_in_{[this](std::string_view text) { line(text); }};
  /// The product being read is failed for `reason` (the first reason kept).
  void fail_current(std::string reason);

  product_sink emit_;
  failure_sink failed_;
  std::optional<db::listed_product> current_;
  std::string current_gid_;
  std::optional<std::string> current_failure_;
  /// The product's source document as it is read: its members, then its
  /// variants' lines under "variants", left open until the product ends.
  rapidjson::StringBuffer source_;
  rapidjson::Writer<rapidjson::StringBuffer> source_writer_{source_};
  /// The product of the last orphaned variant reported, so that its other
  /// variants are not reported again.
  std::string orphan_gid_;
};

/// Reads the JSONL result of the barcodes listing's bulk operation: a line
/// for each variant (`{id, product {id}}`), followed by a line for each of
/// its barcodes (`{type, value, __parentId}`). Hands each variant on with
/// its barcodes, holding one variant at a time. A variant whose lines
/// cannot be read is handed on as failed, with why; the rest goes on.
class bulk_barcodes_reader : public bulk_result_counts {
public:
  using variant_sink = std::function<void(model::variant_barcodes)>;
  using failure_sink = std::function<void(std::string reason)>;

  bulk_barcodes_reader(variant_sink emit, failure_sink failed)
      : emit_(std::move(emit)), failed_(std::move(failed)) {}

  void feed(std::string_view piece) { lines_in_.feed(piece); }
  void finish();

private:
  void line(std::string_view text);
  void flush();

  variant_sink emit_;
  failure_sink failed_;
  jsonl_lines lines_in_{[this](std::string_view text) { line(text); }};
  std::optional<model::variant_barcodes> current_;
  std::string current_gid_;
  std::optional<std::string> current_failure_;
};

} // namespace shopmirror::reconcile

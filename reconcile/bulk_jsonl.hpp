#pragma once

#include "db/reconcile_store.hpp"

#include <rapidjson/document.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::reconcile {

/// Reads a bulk operation's JSONL result as it streams in: one node a line,
/// a product followed by its variants, each variant naming its product in
/// `__parentId`. Joins them and hands each complete product on, holding
/// only the product being read: memory stays flat whatever the catalog.
/// Throws std::runtime_error on a line that cannot be read or a variant
/// whose product is not the one being read (the operation is asked to group
/// objects, so that cannot happen unless the output is damaged).
class bulk_jsonl_reader {
public:
  using sink = std::function<void(db::listed_product)>;

  explicit bulk_jsonl_reader(sink emit) : emit_(std::move(emit)) {}

  /// Feeds the next piece of the body (any split, lines may span pieces).
  void feed(std::string_view piece);

  /// The body ended: hands on the last product.
  void finish();

  std::size_t lines() const noexcept { return lines_; }

private:
  void line(std::string_view text);
  void flush();

  sink emit_;
  std::string partial_;
  std::optional<db::listed_product> current_;
  std::string current_gid_;
  std::string variants_json_;
  std::size_t lines_ = 0;
};

} // namespace shopmirror::reconcile

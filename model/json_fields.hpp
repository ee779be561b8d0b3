#pragma once

// Reading typed fields out of RapidJSON values, shared by the webhook and
// the GraphQL mappings. Internal to model/, but for parsed_object, which the
// reconcile's bulk JSONL reader shares (model/graphql_product.hpp already
// takes RapidJSON values there).

#include "model/product_state.hpp"
#include "model/timestamp.hpp"

#include <rapidjson/document.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::model::json {

/// The deepest nesting a payload may have. Shopify's product documents nest
/// a handful of levels; a signed body nested deeper is garbage, and its
/// parse stops at the limit: PostgreSQL's jsonb input recurses, and a body
/// it cannot store would be answered 500 and retried by Shopify for hours.
constexpr std::size_t max_nesting = 64;

/// Why a field could not be read; empty when it could.
struct field_error {
  std::string message;
  explicit operator bool() const { return !message.empty(); }
};

/// A member lookup that reports a duplicated key as an error: RapidJSON keeps
/// the first of two equal keys and PostgreSQL's jsonb the last, so a document
/// with duplicates would be read two ways.
const rapidjson::Value* find(const rapidjson::Value& object, std::string_view key,
                             field_error& error);

/// True if any string or key in the document holds a NUL character, which
/// PostgreSQL cannot store in text or jsonb.
bool contains_nul(const rapidjson::Value& root);

/// A 64-bit id from a JSON integer (never through a double). Shopify's ids
/// are positive.
std::optional<std::int64_t> read_id(const rapidjson::Value& value);

/// An id from a GraphQL global id, `gid://shopify/Product/123`, checking the type.
std::optional<std::int64_t> read_gid(std::string_view gid, std::string_view type);

/// True if text is a decimal number: `-?[0-9]+(\.[0-9]+)?`.
bool is_decimal(std::string_view text);

std::string_view to_view(const rapidjson::Value& value);

// Each reader sets `out` when the member is present (null included) and
// returns whether it was present; a present value of the wrong type sets
// `error`. `path` names the field in messages.
bool read_string(const rapidjson::Value& object, std::string_view key, std::string_view path,
                 std::optional<std::string>& out, field_error& error);
bool read_decimal(const rapidjson::Value& object, std::string_view key, std::string_view path,
                  std::optional<std::string>& out, field_error& error);
bool read_timestamp(const rapidjson::Value& object, std::string_view key, std::string_view path,
                    std::optional<timestamp>& out, field_error& error);
bool read_int64(const rapidjson::Value& object, std::string_view key, std::string_view path,
                std::optional<std::int64_t>& out, field_error& error);
bool read_int32(const rapidjson::Value& object, std::string_view key, std::string_view path,
                std::optional<std::int32_t>& out, field_error& error);

/// What a category's members are called in one API: the webhook's
/// `admin_graphql_api_id` and `full_name`, GraphQL's `id` and `fullName`.
struct category_keys {
  std::string_view id;
  std::string_view full_name;
};

/// Reads member "category" as read_string reads a string: absent is false,
/// null clears `out`. A category is an object whose id is a
/// TaxonomyCategory gid and whose names are strings; anything else sets
/// `error`.
bool read_category(const rapidjson::Value& object, const category_keys& keys,
                   std::optional<product_category>& out, field_error& error);

/// A JSON object parsed from `text` that PostgreSQL's jsonb can store
/// exactly as given: no raw NUL byte (RapidJSON takes one for the end of
/// the input, so `{...}\0junk` would parse while the text stored would
/// not), valid UTF-8, nesting within max_nesting (the parse stops there: it
/// never recurses deeper, nor builds a deeper document), no `\u0000`. Every
/// document the mirror stores as `source` goes through here: a webhook
/// body, a bulk JSONL line.
///
/// It is parsed in place, in a copy of the text it keeps: the document's
/// strings point into that copy rather than being copied one by one, and
/// its values go first into a buffer held here rather than a fresh heap
/// block: the webhook path's verify and mapping of a 4.9 KB product took
/// 21.0 µs before, 12.8 after (README, Performance, "The service's own
/// cost"). The document points into it, so it is neither copied nor moved.
class parsed_object {
public:
  /// Parses `text`; error() says why it is not such an object, or is empty.
  explicit parsed_object(std::string_view text);
  parsed_object(const parsed_object&) = delete;
  parsed_object& operator=(const parsed_object&) = delete;

  const std::string& error() const noexcept { return error_; }
  /// The object; meaningful only when error() is empty.
  const rapidjson::Document& document() const noexcept { return document_; }

private:
  std::string text_;
  std::array<char, 16 * 1024> values_;
  rapidjson::MemoryPoolAllocator<> pool_{values_.data(), values_.size()};
  rapidjson::Document document_{&pool_};
  std::string error_;
};

} // namespace shopmirror::model::json

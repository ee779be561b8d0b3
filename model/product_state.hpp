#pragma once

#include "model/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shopmirror::model {

/// Which product fields a document carried. Shopify omits fields a
/// subscription's `include_fields` leaves out; an absent field keeps what
/// the mirror holds, while a field present as `null` clears it.
enum product_field : std::uint32_t {
  pf_title = 1U << 0,
  pf_handle = 1U << 1,
  pf_vendor = 1U << 2,
  pf_product_type = 1U << 3,
  pf_status = 1U << 4,
  pf_tags = 1U << 5,
  pf_body_html = 1U << 6,
  pf_created_at = 1U << 7,
  pf_published_at = 1U << 8,
  pf_variants = 1U << 9,
  pf_category = 1U << 10,
  pf_all = (1U << 11) - 1,
};

enum variant_field : std::uint32_t {
  vf_sku = 1U << 0,
  vf_title = 1U << 1,
  vf_price = 1U << 2,
  vf_compare_at_price = 1U << 3,
  vf_position = 1U << 4,
  vf_option1 = 1U << 5,
  vf_option2 = 1U << 6,
  vf_option3 = 1U << 7,
  vf_barcode = 1U << 8,
  vf_inventory_quantity = 1U << 9,
  vf_updated_at = 1U << 10,
  vf_all = (1U << 11) - 1,
};

/// A variant as the mirror stores it. Prices are exact decimal strings
/// ("19.99"), never floating point.
struct variant_state {
  std::int64_t id = 0;
  std::optional<std::string> sku;
  std::optional<std::string> title;
  std::optional<std::string> price;
  std::optional<std::string> compare_at_price;
  std::optional<std::int32_t> position;
  std::optional<std::string> option1;
  std::optional<std::string> option2;
  std::optional<std::string> option3;
  std::optional<std::string> barcode;
  std::optional<std::int64_t> inventory_quantity;
  std::optional<timestamp> updated_at;
  std::uint32_t present = vf_all;

  bool operator==(const variant_state&) const = default;
};

/// A product's category in Shopify's product taxonomy (in product
/// webhooks since API 2024-10 as `{admin_graphql_api_id, name, full_name}`,
/// in GraphQL as `{id, name, fullName}`): the global id
/// (`gid://shopify/TaxonomyCategory/aa-2-14-3`) and both names.
struct product_category {
  std::string id;
  std::string name;
  std::string full_name;

  bool operator==(const product_category&) const = default;
};

/// The canonical state of one product: what a webhook body and a GraphQL
/// node of the same product both map to, and what the apply path writes.
/// `updated_at` is Shopify's and is the first half of the version.
struct product_state {
  std::int64_t id = 0;
  std::optional<std::string> title;
  std::optional<std::string> handle;
  std::optional<std::string> vendor;
  std::optional<std::string> product_type;
  std::optional<std::string> status;
  std::vector<std::string> tags;
  std::optional<std::string> body_html;
  std::optional<timestamp> created_at;
  timestamp updated_at;
  std::optional<timestamp> published_at;
  std::optional<product_category> category;
  std::vector<variant_state> variants;
  std::uint32_t present = pf_all;

  bool operator==(const product_state&) const = default;
};

} // namespace shopmirror::model

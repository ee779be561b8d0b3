#include "model/graphql_product.hpp"

#include "model/json_fields.hpp"
#include "model/webhook_payload.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace shopmirror::model {
namespace {

using json::field_error;

/// GraphQL enums are upper case (ACTIVE); webhooks carry them lower case.
std::optional<std::string> lower(std::optional<std::string> value) {
  if (value) {
    std::transform(value->begin(), value->end(), value->begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return value;
}

std::optional<std::int64_t> read_node_id(const rapidjson::Value& node, std::string_view type,
                                         field_error& error) {
  const rapidjson::Value* id = json::find(node, "id", error);
  if (id == nullptr || !id->IsString()) {
    return std::nullopt;
  }
  return json::read_gid(json::to_view(*id), type);
}

void read_tags(const rapidjson::Value& node, product_state& state, field_error& error) {
  const rapidjson::Value* tags = json::find(node, "tags", error);
  if (tags == nullptr || tags->IsNull()) {
    return;
  }
  if (!tags->IsArray()) {
    error.message = "tags is not an array";
    return;
  }
  // The same trimming a webhook's tags get.
  append_tags(*tags, state.tags, error.message);
}

/// selectedOptions [{name, value}, ...] in option order -> option1..3; an
/// option the product does not have is null, as in a webhook.
void read_options(const rapidjson::Value& node, variant_state& variant, field_error& error) {
  const rapidjson::Value* options = json::find(node, "selectedOptions", error);
  if (options == nullptr || options->IsNull()) {
    return;
  }
  if (!options->IsArray() || options->Size() > 3) {
    error.message = "selectedOptions is not an array of at most three options";
    return;
  }
  const std::array<std::optional<std::string>*, 3> slots{&variant.option1, &variant.option2,
                                                         &variant.option3};
  std::size_t index = 0;
  for (const auto& option : options->GetArray()) {
    if (!option.IsObject()) {
      error.message = "selectedOptions[] holds a non-object";
      return;
    }
    json::read_string(option, "value", "selectedOptions[].value", *slots[index++], error);
  }
}

} // namespace

std::string add_graphql_variant(const rapidjson::Value& node, product_state& product) {
  if (!node.IsObject()) {
    return "a variant node is not an object";
  }
  field_error error;
  variant_state variant;
  const auto id = read_node_id(node, "ProductVariant", error);
  if (!id) {
    return error ? error.message : "a variant has no ProductVariant gid as its id";
  }
  variant.id = *id;
  const std::string prefix = "variant " + std::to_string(*id) + ".";
  json::read_string(node, "sku", prefix + "sku", variant.sku, error);
  json::read_string(node, "title", prefix + "title", variant.title, error);
  json::read_decimal(node, "price", prefix + "price", variant.price, error);
  json::read_decimal(node, "compareAtPrice", prefix + "compareAtPrice", variant.compare_at_price,
                     error);
  json::read_int32(node, "position", prefix + "position", variant.position, error);
  json::read_string(node, "barcode", prefix + "barcode", variant.barcode, error);
  json::read_int64(node, "inventoryQuantity", prefix + "inventoryQuantity",
                   variant.inventory_quantity, error);
  json::read_timestamp(node, "updatedAt", prefix + "updatedAt", variant.updated_at, error);
  if (!error) {
    read_options(node, variant, error);
  }
  if (error) {
    return error.message;
  }
  for (const auto& other : product.variants) {
    if (other.id == variant.id) {
      return "variant id " + std::to_string(variant.id) + " appears twice";
    }
  }
  product.variants.push_back(std::move(variant));
  return {};
}

std::variant<product_state, graphql_error> map_graphql_product(const rapidjson::Value& node) {
  if (!node.IsObject()) {
    return graphql_error{"a product node is not an object"};
  }
  // The node, serialized, becomes the source document: jsonb refuses \u0000.
  if (json::contains_nul(node)) {
    return graphql_error{"a product node holds a NUL character (\\u0000)"};
  }
  field_error error;
  product_state state;
  const auto id = read_node_id(node, "Product", error);
  if (!id) {
    return graphql_error{error ? error.message : "a product has no Product gid as its id"};
  }
  state.id = *id;
  state.present = pf_all;
  std::optional<timestamp> updated_at;
  json::read_timestamp(node, "updatedAt", "updatedAt", updated_at, error);
  if (!error && !updated_at) {
    error.message = "updatedAt is missing";
  }
  json::read_string(node, "title", "title", state.title, error);
  json::read_string(node, "handle", "handle", state.handle, error);
  json::read_string(node, "vendor", "vendor", state.vendor, error);
  json::read_string(node, "productType", "productType", state.product_type, error);
  json::read_string(node, "status", "status", state.status, error);
  json::read_string(node, "descriptionHtml", "descriptionHtml", state.body_html, error);
  json::read_timestamp(node, "createdAt", "createdAt", state.created_at, error);
  json::read_timestamp(node, "publishedAt", "publishedAt", state.published_at, error);
  json::read_category(node, {"id", "fullName"}, state.category, error);
  if (!error) {
    read_tags(node, state, error);
  }
  if (error) {
    return graphql_error{"product " + std::to_string(*id) + ": " + error.message};
  }
  state.updated_at = *updated_at;
  state.status = lower(std::move(state.status));

  const rapidjson::Value* variants = json::find(node, "variants", error);
  if (variants != nullptr && variants->IsObject()) {
    const rapidjson::Value* nodes = json::find(*variants, "nodes", error);
    if (nodes != nullptr && nodes->IsArray()) {
      for (const auto& variant : nodes->GetArray()) {
        std::string reason = add_graphql_variant(variant, state);
        if (!reason.empty()) {
          return graphql_error{"product " + std::to_string(*id) + ": " + reason};
        }
      }
    }
  }
  if (error) {
    return graphql_error{"product " + std::to_string(*id) + ": " + error.message};
  }
  canonicalize(state);
  return state;
}

} // namespace shopmirror::model

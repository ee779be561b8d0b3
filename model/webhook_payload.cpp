#include "model/webhook_payload.hpp"

#include "model/compliance_payload.hpp"
#include "model/json_fields.hpp"

#include <algorithm>
#include <tuple>

namespace shopmirror::model {
namespace {

using json::field_error;

void read_tags(const rapidjson::Value& product, product_state& state, field_error& error) {
  const rapidjson::Value* tags = json::find(product, "tags", error);
  if (tags == nullptr) {
    return;
  }
  state.present |= pf_tags;
  if (tags->IsNull()) {
    return;
  }
  if (tags->IsString()) {
    state.tags = split_tags(json::to_view(*tags));
    return;
  }
  if (tags->IsArray()) {
    append_tags(*tags, state.tags, error.message);
    return;
  }
  error.message = "tags is neither a string nor an array";
}

// Reads the fields by their bare names and names the variant only when one
// is wrong ("variants[3]: price is not a decimal"): the path of each field,
// built for every variant read, was a heap string apiece.
bool read_variant_fields(const rapidjson::Value& object, variant_state& variant,
                         field_error& error) {
  const rapidjson::Value* id = json::find(object, "id", error);
  if (error) {
    return false;
  }
  const auto variant_id = id != nullptr ? json::read_id(*id) : std::nullopt;
  if (!variant_id) {
    error.message = "id is missing or not a positive 64-bit integer";
    return false;
  }
  variant.id = *variant_id;
  variant.present = 0;
  const auto mark = [&](bool present, variant_field field) {
    if (present) {
      variant.present |= field;
    }
  };
  mark(json::read_string(object, "sku", "sku", variant.sku, error), vf_sku);
  mark(json::read_string(object, "title", "title", variant.title, error), vf_title);
  mark(json::read_decimal(object, "price", "price", variant.price, error), vf_price);
  mark(json::read_decimal(object, "compare_at_price", "compare_at_price", variant.compare_at_price,
                          error),
       vf_compare_at_price);
  mark(json::read_int32(object, "position", "position", variant.position, error), vf_position);
  mark(json::read_string(object, "option1", "option1", variant.option1, error), vf_option1);
  mark(json::read_string(object, "option2", "option2", variant.option2, error), vf_option2);
  mark(json::read_string(object, "option3", "option3", variant.option3, error), vf_option3);
  mark(json::read_string(object, "barcode", "barcode", variant.barcode, error), vf_barcode);
  mark(json::read_int64(object, "inventory_quantity", "inventory_quantity",
                        variant.inventory_quantity, error),
       vf_inventory_quantity);
  mark(json::read_timestamp(object, "updated_at", "updated_at", variant.updated_at, error),
       vf_updated_at);
  return !error;
}

bool read_variant(const rapidjson::Value& object, std::size_t index, variant_state& variant,
                  field_error& error) {
  // The variant's name is spelled only for an error: every delivery reads
  // its variants here, and almost none has one.
  const auto name = [index] { return "variants[" + std::to_string(index) + "]"; };
  if (!object.IsObject()) {
    error.message = name() + " is not an object";
    return false;
  }
  if (!read_variant_fields(object, variant, error)) {
    error.message = name() + ": " + error.message;
    return false;
  }
  return true;
}

/// The product's own fields (all but its variants), each marked present
/// when the body has it.
void read_product_fields(const rapidjson::Value& product, product_state& state,
                         field_error& error) {
  const auto mark = [&](bool present, product_field field) {
    if (present) {
      state.present |= field;
    }
  };
  mark(json::read_string(product, "title", "title", state.title, error), pf_title);
  mark(json::read_string(product, "handle", "handle", state.handle, error), pf_handle);
  mark(json::read_string(product, "vendor", "vendor", state.vendor, error), pf_vendor);
  mark(json::read_string(product, "product_type", "product_type", state.product_type, error),
       pf_product_type);
  mark(json::read_string(product, "status", "status", state.status, error), pf_status);
  mark(json::read_string(product, "body_html", "body_html", state.body_html, error), pf_body_html);
  mark(json::read_timestamp(product, "created_at", "created_at", state.created_at, error),
       pf_created_at);
  mark(json::read_timestamp(product, "published_at", "published_at", state.published_at, error),
       pf_published_at);
  mark(json::read_category(product, {"admin_graphql_api_id", "full_name"}, state.category, error),
       pf_category);
  if (!error) {
    read_tags(product, state, error);
  }
}

/// Why the variants are not distinct, or an empty string.
std::string duplicate_variant(const std::vector<variant_state>& variants) {
  for (std::size_t i = 1; i < variants.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (variants[i].id == variants[j].id) {
        return "variant id " + std::to_string(variants[i].id) + " appears twice";
      }
    }
  }
  return {};
}

/// The body's `variants` (absent or null: not present).
void read_variants(const rapidjson::Value& product, product_state& state, field_error& error) {
  const rapidjson::Value* variants = json::find(product, "variants", error);
  if (error || variants == nullptr || variants->IsNull()) {
    return;
  }
  if (!variants->IsArray()) {
    error.message = "variants is not an array";
    return;
  }
  state.present |= pf_variants;
  state.variants.reserve(variants->Size());
  std::size_t index = 0;
  for (const auto& element : variants->GetArray()) {
    variant_state variant;
    if (!read_variant(element, index++, variant, error)) {
      return;
    }
    state.variants.push_back(std::move(variant));
  }
  error.message = duplicate_variant(state.variants);
}

product_payload map_product(const rapidjson::Value& product, std::int64_t id) {
  field_error error;
  product_state state;
  state.id = id;
  state.present = 0;

  std::optional<timestamp> updated_at;
  json::read_timestamp(product, "updated_at", "updated_at", updated_at, error);
  if (error) {
    return payload_error{error.message, id};
  }
  if (!updated_at) {
    return refresh_product{id};
  }
  state.updated_at = *updated_at;

  read_product_fields(product, state, error);
  if (error) {
    return payload_error{error.message, id};
  }
  read_variants(product, state, error);
  if (error) {
    return payload_error{error.message, id};
  }
  canonicalize(state);
  return state;
}

} // namespace

void append_tags(const rapidjson::Value& array, std::vector<std::string>& tags,
                 std::string& error) {
  for (const auto& tag : array.GetArray()) {
    if (!tag.IsString()) {
      error = "tags[] holds a non-string";
      return;
    }
    auto trimmed = split_tags(json::to_view(tag));
    tags.insert(tags.end(), trimmed.begin(), trimmed.end());
  }
}

std::vector<std::string> split_tags(std::string_view tags) {
  std::vector<std::string> out;
  constexpr std::string_view blanks = " \t\r\n";
  while (!tags.empty()) {
    const std::size_t comma = tags.find(',');
    std::string_view item = tags.substr(0, comma);
    tags = comma == std::string_view::npos ? std::string_view{} : tags.substr(comma + 1);
    const std::size_t first = item.find_first_not_of(blanks);
    if (first == std::string_view::npos) {
      continue;
    }
    item = item.substr(first, item.find_last_not_of(blanks) - first + 1);
    out.emplace_back(item);
  }
  return out;
}

void canonicalize(product_state& state) {
  std::sort(state.tags.begin(), state.tags.end());
  std::sort(state.variants.begin(), state.variants.end(),
            [](const variant_state& a, const variant_state& b) {
              // Variants without a position sort last, by id.
              const auto key = [](const variant_state& v) {
                return std::make_tuple(!v.position.has_value(), v.position.value_or(0), v.id);
              };
              return key(a) < key(b);
            });
}

product_payload map_product_webhook(product_topic topic, std::string_view body) {
  const json::parsed_object parsed(body);
  if (!parsed.error().empty()) {
    return payload_error{parsed.error(), std::nullopt};
  }
  const rapidjson::Document& document = parsed.document();
  field_error error;
  const rapidjson::Value* id_value = json::find(document, "id", error);
  if (error) {
    return payload_error{error.message, std::nullopt};
  }
  const auto id = id_value != nullptr ? json::read_id(*id_value) : std::nullopt;
  if (!id) {
    return payload_error{"no product id: \"id\" is missing or not a positive 64-bit integer",
                         std::nullopt};
  }
  switch (topic) {
  case product_topic::remove:
    for (const char* field :
         {"title", "variants", "updated_at", "handle", "body_html", "vendor", "product_type",
          "status", "tags", "created_at", "published_at", "options", "images"}) {
      if (document.HasMember(field)) {
        return payload_error{std::string("a products/delete body that carries a product's "
                                         "fields (\"") +
                                 field +
                                 "\"): a product state, not a delete (Shopify's delete body "
                                 "is {\"id\": N}, and the topic header is not signed)",
                             id, dead_letter_kind::not_a_delete};
      }
    }
    return delete_product{*id};
  case product_topic::create:
  case product_topic::update:
    return map_product(document, *id);
  case product_topic::other:
    break;
  }
  return payload_error{"not a product topic", id};
}

delivery_action action_for(webhook_topic topic, std::string_view shop_domain, std::string body,
                           stub_fetch fetch) {
  switch (topic) {
  case webhook_topic::products_create:
  case webhook_topic::products_update:
  case webhook_topic::products_delete:
    break;
  case webhook_topic::customers_data_request:
  case webhook_topic::customers_redact:
  case webhook_topic::shop_redact:
  case webhook_topic::app_uninstalled:
    return map_compliance_webhook(topic, shop_domain, std::move(body));
  case webhook_topic::other:
    return ignore_delivery{};
  }
  product_payload payload = map_product_webhook(product_topic_of(topic), body);
  if (auto* state = std::get_if<product_state>(&payload)) {
    return upsert_product{std::move(*state), std::move(body)};
  }
  if (auto* remove = std::get_if<delete_product>(&payload)) {
    return *remove;
  }
  if (auto* refresh = std::get_if<refresh_product>(&payload)) {
    if (fetch == stub_fetch::impossible) {
      return dead_letter{"a stub (the product's id without its state), and shopmirror has no "
                         "Admin API access to this shop to fetch the product: configure the "
                         "shop's credentials, then replay this dead letter",
                         refresh->product_id, std::move(body), dead_letter_kind::unfetchable_stub};
    }
    return *refresh;
  }
  auto& error = std::get<payload_error>(payload);
  return dead_letter{std::move(error.reason), error.product_id, std::move(body), error.kind};
}

} // namespace shopmirror::model

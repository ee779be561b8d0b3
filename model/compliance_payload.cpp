#include "model/compliance_payload.hpp"

#include "model/json_fields.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace shopmirror::model {
namespace {

using json::field_error;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Why a body is not its topic's shape; an empty reason: it is.
struct shape_error {
  std::string reason;
  dead_letter_kind kind = dead_letter_kind::malformed;
  explicit operator bool() const { return !reason.empty(); }
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void write_string(json_writer& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

std::string text_of(const rapidjson::StringBuffer& buffer) {
  return {buffer.GetString(), buffer.GetSize()};
}

/// A positive 64-bit id at `key` of `object`, which must be there.
std::optional<std::int64_t> required_id(const rapidjson::Value& object, std::string_view key,
                                        std::string_view path, shape_error& error) {
  field_error lookup;
  const rapidjson::Value* value = json::find(object, key, lookup);
  if (lookup) {
    error.reason = lookup.message;
    return std::nullopt;
  }
  const auto id = value != nullptr ? json::read_id(*value) : std::nullopt;
  if (!id) {
    error.reason = std::string(path) + " is missing or not a positive 64-bit integer";
  }
  return id;
}

/// A list of ids at `key` (absent or null: none), e.g. `orders_to_redact`.
std::optional<std::vector<std::int64_t>> id_list(const rapidjson::Value& object,
                                                 std::string_view key, shape_error& error) {
  field_error lookup;
  const rapidjson::Value* value = json::find(object, key, lookup);
  if (lookup) {
    error.reason = lookup.message;
    return std::nullopt;
  }
  if (value == nullptr || value->IsNull()) {
    return std::nullopt;
  }
  if (!value->IsArray()) {
    error.reason = std::string(key) + " is not an array of ids";
    return std::nullopt;
  }
  std::vector<std::int64_t> ids;
  ids.reserve(value->Size());
  for (const auto& element : value->GetArray()) {
    const auto id = json::read_id(element);
    if (!id) {
      error.reason = std::string(key) + " holds something that is not a positive 64-bit integer";
      return std::nullopt;
    }
    ids.push_back(*id);
  }
  return ids;
}

/// The body's `shop_domain`, which must be there and name the header's shop.
void check_shop_domain(const rapidjson::Value& object, std::string_view shop_domain,
                       shape_error& error) {
  field_error lookup;
  const rapidjson::Value* value = json::find(object, "shop_domain", lookup);
  if (lookup) {
    error.reason = lookup.message;
    return;
  }
  if (value == nullptr || !value->IsString()) {
    error.reason = "shop_domain is missing or not a string";
    return;
  }
  if (lower(json::to_view(*value)) != shop_domain) {
    // The body's value is not repeated here: it is whatever was signed.
    error.reason = "shop_domain in the body is not the delivery's X-Shopify-Shop-Domain (" +
                   std::string(shop_domain) +
                   "): a request about another shop, under this shop's header (the header "
                   "is not signed)";
    error.kind = dead_letter_kind::shop_mismatch;
  }
}

/// The first of `keys` the object has, if any.
const char* first_present(const rapidjson::Value& object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (object.HasMember(key)) {
      return key;
    }
  }
  return nullptr;
}

// The keys only a customer's request carries: under shop/redact they mean a
// customer's request replayed under another topic header.
constexpr std::initializer_list<const char*> customer_keys = {"customer", "orders_requested",
                                                              "orders_to_redact", "data_request"};

/// The ids a customer's request names, as read from its body.
struct customer_request_ids {
  std::int64_t shop_id = 0;
  std::int64_t customer_id = 0;
  std::optional<std::vector<std::int64_t>> orders_requested;
  std::optional<std::vector<std::int64_t>> orders_to_redact;
  std::optional<std::int64_t> data_request_id;
};

/// The id of the body's `data_request`, if it has one (absent or null: none).
std::optional<std::int64_t> data_request_id(const rapidjson::Value& body, shape_error& error) {
  field_error lookup;
  const rapidjson::Value* data_request = json::find(body, "data_request", lookup);
  if (lookup) {
    error.reason = lookup.message;
    return std::nullopt;
  }
  if (data_request == nullptr || data_request->IsNull()) {
    return std::nullopt;
  }
  if (!data_request->IsObject()) {
    error.reason = "data_request is not an object";
    return std::nullopt;
  }
  return required_id(*data_request, "id", "data_request.id", error);
}

std::optional<customer_request_ids> read_customer_request(const rapidjson::Value& body,
                                                          std::string_view shop_domain,
                                                          shape_error& error) {
  const auto shop_id = required_id(body, "shop_id", "shop_id", error);
  if (error) {
    return std::nullopt;
  }
  check_shop_domain(body, shop_domain, error);
  if (error) {
    return std::nullopt;
  }
  field_error lookup;
  const rapidjson::Value* customer = json::find(body, "customer", lookup);
  if (lookup || customer == nullptr || !customer->IsObject()) {
    error.reason = lookup ? lookup.message : "customer is missing or not an object";
    return std::nullopt;
  }
  const auto customer_id = required_id(*customer, "id", "customer.id", error);
  if (error) {
    return std::nullopt;
  }
  customer_request_ids ids;
  ids.shop_id = *shop_id;
  ids.customer_id = *customer_id;
  ids.orders_requested = id_list(body, "orders_requested", error);
  if (error) {
    return std::nullopt;
  }
  ids.orders_to_redact = id_list(body, "orders_to_redact", error);
  if (error) {
    return std::nullopt;
  }
  ids.data_request_id = data_request_id(body, error);
  if (error) {
    return std::nullopt;
  }
  return ids;
}

/// The request as Shopify shaped it, but for the customer's e-mail and
/// phone: the ids show which request was answered.
std::string customer_request_record(const customer_request_ids& ids, std::string_view shop_domain) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("shop_id");
  w.Int64(ids.shop_id);
  w.Key("shop_domain");
  write_string(w, shop_domain);
  w.Key("customer");
  w.StartObject();
  w.Key("id");
  w.Int64(ids.customer_id);
  w.EndObject();
  for (const auto& [key, list] : {std::pair{"orders_requested", &ids.orders_requested},
                                  std::pair{"orders_to_redact", &ids.orders_to_redact}}) {
    if (*list) {
      w.Key(key);
      w.StartArray();
      for (const std::int64_t id : **list) {
        w.Int64(id);
      }
      w.EndArray();
    }
  }
  if (ids.data_request_id) {
    w.Key("data_request");
    w.StartObject();
    w.Key("id");
    w.Int64(*ids.data_request_id);
    w.EndObject();
  }
  w.EndObject();
  return text_of(buffer);
}

delivery_action customer_request(const rapidjson::Value& body, std::string_view shop_domain,
                                 shape_error& error) {
  const auto ids = read_customer_request(body, shop_domain, error);
  if (!ids) {
    return ignore_delivery{};
  }
  return record_compliance_request{ids->shop_id, ids->customer_id,
                                   customer_request_record(*ids, shop_domain)};
}

delivery_action shop_redaction(const rapidjson::Value& body, std::string_view shop_domain,
                               shape_error& error) {
  if (const char* key = first_present(body, customer_keys)) {
    error.reason = std::string("a shop/redact body that carries \"") + key +
                   "\": a customer's request, not a shop's (the topic header is not signed, "
                   "and shop/redact erases the whole shop)";
    error.kind = dead_letter_kind::wrong_topic;
    return ignore_delivery{};
  }
  const auto shop_id = required_id(body, "shop_id", "shop_id", error);
  if (!error) {
    check_shop_domain(body, shop_domain, error);
  }
  if (error) {
    return ignore_delivery{};
  }
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("shop_id");
  w.Int64(*shop_id);
  w.Key("shop_domain");
  write_string(w, shop_domain);
  w.EndObject();
  return redact_shop{*shop_id, text_of(buffer)};
}

/// A `myshopify_domain` that is there (not absent, not null) must be a
/// string naming the header's shop.
void check_uninstall_domain(const rapidjson::Value* domain, std::string_view shop_domain,
                            shape_error& error) {
  if (domain == nullptr || domain->IsNull()) {
    return;
  }
  if (!domain->IsString()) {
    error.reason = "myshopify_domain is not a string";
  } else if (lower(json::to_view(*domain)) != shop_domain) {
    error.reason = "myshopify_domain in the body is not the delivery's "
                   "X-Shopify-Shop-Domain (" +
                   std::string(shop_domain) +
                   "): another shop's uninstall, under this shop's header (the header is "
                   "not signed)";
    error.kind = dead_letter_kind::shop_mismatch;
  }
}

std::string uninstall_record(std::optional<std::int64_t> shop_id, bool has_domain,
                             std::string_view shop_domain) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  if (shop_id) {
    w.Key("id");
    w.Int64(*shop_id);
  }
  if (has_domain) {
    w.Key("myshopify_domain");
    write_string(w, shop_domain);
  }
  w.EndObject();
  return text_of(buffer);
}

delivery_action app_uninstall(const rapidjson::Value& body, std::string_view shop_domain,
                              shape_error& error) {
  // The body is the Shop resource, possibly trimmed by the subscription's
  // include_fields, so nothing in it is required; but keys of a product or
  // of a compliance request mean another topic's body.
  if (const char* key =
          first_present(body, {"shop_id", "shop_domain", "customer", "orders_requested",
                               "orders_to_redact", "data_request", "title", "variants", "handle",
                               "body_html", "product_type", "vendor", "options", "images"})) {
    error.reason = std::string("an app/uninstalled body that carries \"") + key +
                   "\": another topic's body, not the Shop resource (the topic header is not "
                   "signed)";
    error.kind = dead_letter_kind::wrong_topic;
    return ignore_delivery{};
  }
  field_error lookup;
  std::optional<std::int64_t> shop_id;
  const rapidjson::Value* id = json::find(body, "id", lookup);
  if (id != nullptr) {
    shop_id = json::read_id(*id);
    if (!shop_id) {
      error.reason = "id is not a positive 64-bit integer";
      return ignore_delivery{};
    }
  }
  // Shopify's sample has myshopify_domain null: the shop is keyed on the
  // header, and only a value that is there must agree with it.
  const rapidjson::Value* domain = lookup ? nullptr : json::find(body, "myshopify_domain", lookup);
  if (lookup) {
    error.reason = lookup.message;
    return ignore_delivery{};
  }
  check_uninstall_domain(domain, shop_domain, error);
  if (error) {
    return ignore_delivery{};
  }
  return uninstall_app{
      shop_id, uninstall_record(shop_id, domain != nullptr && domain->IsString(), shop_domain)};
}

} // namespace

delivery_action map_compliance_webhook(webhook_topic topic, std::string_view shop_domain,
                                       std::string body) {
  const json::parsed_object parsed(body);
  const rapidjson::Document& document = parsed.document();
  shape_error error;
  error.reason = parsed.error();
  delivery_action action = ignore_delivery{};
  if (!error) {
    switch (topic) {
    case webhook_topic::customers_data_request:
    case webhook_topic::customers_redact:
      action = customer_request(document, shop_domain, error);
      break;
    case webhook_topic::shop_redact:
      action = shop_redaction(document, shop_domain, error);
      break;
    case webhook_topic::app_uninstalled:
      action = app_uninstall(document, shop_domain, error);
      break;
    default:
      error.reason = "not a compliance or lifecycle topic";
      break;
    }
  }
  if (error) {
    return dead_letter{std::move(error.reason), std::nullopt, std::move(body), error.kind};
  }
  return action;
}

} // namespace shopmirror::model

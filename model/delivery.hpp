#pragma once

#include "model/product_state.hpp"
#include "model/timestamp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace shopmirror::model {

/// The topics of a product's state, as the product mapping reads them.
enum class product_topic { create, update, remove, other };

/// Every topic shopmirror acts on (README, "What a webhook gets"): the
/// product topics, Shopify's mandatory compliance topics and the app's
/// uninstall. Anything else is logged as ignored.
enum class webhook_topic {
  products_create,
  products_update,
  products_delete,
  customers_data_request,
  customers_redact,
  shop_redact,
  app_uninstalled,
  other,
};

webhook_topic parse_topic(std::string_view topic) noexcept;

/// The product topic a webhook topic maps through (other for the rest).
product_topic product_topic_of(webhook_topic topic) noexcept;

/// True for a shop's permanent domain as Shopify names it, in lower case:
/// `name.myshopify.com`, the name of letters, digits and hyphens. The one
/// rule for a configured shop and a delivery's X-Shopify-Shop-Domain.
bool is_shop_domain(std::string_view domain) noexcept;

/// What the headers of one signed delivery say about it.
struct delivery {
  std::string shop_domain;
  std::string webhook_id;
  std::string topic;
  std::optional<std::string> event_id;
  std::optional<std::string> api_version;
  std::optional<timestamp> triggered_at;
  timestamp received_at;

  /// The second half of the version: when Shopify observed this state.
  /// X-Shopify-Triggered-At is not covered by the signature, so it is never
  /// believed to be later than the delivery's arrival: a replayed capture
  /// with a forged future time cannot outrank real observations.
  timestamp observed_at() const {
    return triggered_at && *triggered_at < received_at ? *triggered_at : received_at;
  }
};

/// The delivery's Shopify headers as a JSON object, as a dead letter keeps
/// them. The signature is left out: it is verified once, on arrival.
std::string headers_json(const delivery& meta);

/// Write this product state if its version is newer than the stored one.
/// `source` is the document it came from, as JSON text.
struct upsert_product {
  product_state state;
  std::string source;
};

/// Tombstone the product (a `products/delete`).
struct delete_product {
  std::int64_t product_id = 0;
};

/// The payload carried only an id (Shopify does this for oversized products):
/// record that the product must be fetched from the Admin API.
struct refresh_product {
  std::int64_t product_id = 0;
};

/// A topic shopmirror does not handle: logged, nothing applied.
struct ignore_delivery {};

/// customers/data_request or customers/redact. The mirror holds no customer
/// data, so the request is recorded (to show it was answered) and nothing
/// else is done.
struct record_compliance_request {
  std::int64_t shop_id = 0;
  std::int64_t customer_id = 0;
  /// What is kept of the request, as JSON: the ids it names (shop, customer,
  /// orders, data request) in the shape of Shopify's body, never the
  /// customer's contact details. It is itself a valid body of its topic.
  std::string record;
};

/// shop/redact: erase every row of the shop from the mirror. The request is
/// recorded with the delivery; the erasure runs in the background.
struct redact_shop {
  std::int64_t shop_id = 0;
  std::string record; ///< {"shop_id":…,"shop_domain":…}
};

/// app/uninstalled: the app lost access to the shop. No reconcile or stub
/// refresh of it until a product webhook shows the app installed again.
struct uninstall_app {
  std::optional<std::int64_t> shop_id;
  /// The Shop resource's id and myshopify_domain, where the body has them;
  /// the rest of it (the owner's name, address, e-mail) is not kept.
  std::string record;
};

/// Why a signed payload became a dead letter, as a closed set (a metric's
/// label); the reason says it in words.
enum class dead_letter_kind {
  malformed,        ///< not JSON, no product id, a field of the wrong type...
  not_a_delete,     ///< a products/delete body that carries a product's fields
  unfetchable_stub, ///< a bare {"id"} stub, and no Admin API access to fetch it
  refused,          ///< the database refused its data
  wrong_topic,      ///< a body of another topic under this topic header (not signed)
  shop_mismatch,    ///< the body names another shop than the shop header (not signed)
};

std::string_view to_string(dead_letter_kind kind) noexcept;

/// A signed payload that cannot be applied: kept whole, with the reason.
struct dead_letter {
  std::string reason;
  std::optional<std::int64_t> product_id;
  std::string body;
  dead_letter_kind kind = dead_letter_kind::malformed;
};

using delivery_action =
    std::variant<upsert_product, delete_product, refresh_product, ignore_delivery, dead_letter,
                 record_compliance_request, redact_shop, uninstall_app>;

/// One signed delivery, ready for the apply path.
struct delivery_item {
  delivery meta;
  delivery_action action;
};

/// What applying one delivery came to. Every outcome but the last two is
/// durable in PostgreSQL when reported.
enum class apply_outcome {
  applied,             ///< the state was newer and is now stored
  stale,               ///< logged; an equal or newer version was already stored
  duplicate,           ///< the webhook id was already in the delivery log
  ignored,             ///< logged; topic not handled
  dead_letter,         ///< logged; the raw body is in shopify.dead_letters
  refresh_requested,   ///< logged; the product will be fetched from the Admin API
  recorded,            ///< logged; a customer's compliance request is kept
  redaction_requested, ///< logged; the shop's erasure is queued
  uninstalled,         ///< logged; the shop is marked uninstalled
  retry_later,         ///< nothing committed: the database is down, slow or busy
  failed,              ///< nothing committed: an unexpected database error
};

std::string_view to_string(apply_outcome outcome) noexcept;

/// True when the outcome is durable and the delivery may be acknowledged.
constexpr bool is_durable(apply_outcome outcome) noexcept {
  return outcome != apply_outcome::retry_later && outcome != apply_outcome::failed;
}

} // namespace shopmirror::model

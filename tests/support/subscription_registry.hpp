#pragma once

// The webhook subscriptions of the Admin API stand-in: the shop-scoped
// subscriptions an app makes through the Admin GraphQL API, listed by
// `webhookSubscriptions` (cursor-paginated), made and changed by
// `webhookSubscriptionCreate` / `Update` / `Delete`, as Shopify's reference
// (2026-10) has them: each has a topic (PRODUCTS_UPDATE...), a `uri`, a
// format, include fields, a filter, and the API version its payloads use,
// which is the app's (not chosen per subscription). An address is an HTTPS
// URL; a second subscription of one topic to one address is refused
// ("Address for this topic has already been taken"). Subscriptions an app
// declares in shopify.app.toml are not listed here, as in Shopify.

#include <rapidjson/document.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::test {

struct subscription_record {
  std::string id; ///< gid://shopify/WebhookSubscription/N
  std::string topic;
  std::string uri;
  std::string format = "JSON";
  std::vector<std::string> include_fields;
  std::string filter;
};

class subscription_registry {
public:
  /// `api_version`: the app's webhooks API version, which every
  /// subscription's payloads use.
  explicit subscription_registry(std::string api_version = "2026-10");

  /// The `data` of the answer to `operation` with `variables`, as JSON; or
  /// nothing if the operation is not one of the four.
  std::optional<std::string> answer(std::string_view operation, const rapidjson::Value* variables);

  /// A subscription as if made earlier (by the app, another tool, or by
  /// hand); returns its id. Not checked: tests make wrong ones on purpose.
  std::string add(subscription_record record);
  /// Shopify removed it (after repeated failed deliveries).
  bool remove(const std::string& id);
  std::vector<subscription_record> list() const;
  void set_api_version(std::string version);
  /// Mutations answered (made or refused).
  int mutations() const;

private:
  std::string list_page(const rapidjson::Value* variables) const;
  std::string create(const rapidjson::Value* variables);
  std::string update(const rapidjson::Value* variables);
  std::string remove_answer(const rapidjson::Value* variables);

  mutable std::mutex mutex_;
  std::string api_version_;
  std::vector<subscription_record> records_;
  long long next_id_ = 1;
  int mutations_ = 0;
};

} // namespace shopmirror::test

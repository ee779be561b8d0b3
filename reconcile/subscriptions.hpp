#pragma once

// The webhook subscriptions the mirror depends on: the three product topics,
// JSON, whole payloads, at the address Shopify reaches shopmirror through
// (SHOPMIRROR_PUBLIC_URL). Listed through the Admin GraphQL API
// (webhookSubscriptions, which sees the shop-scoped subscriptions the API
// made, not the app-scoped ones of shopify.app.toml), compared with what is
// needed (pure), and made right: missing ones created, ones at our address
// with another format, trimmed fields or a filter updated, extra copies at
// our address deleted. Subscriptions for other addresses are never touched.

#include "reconcile/admin_api.hpp"

#include <string>
#include <vector>

namespace shopmirror::reconcile {

/// One subscription as the Admin API lists it.
struct webhook_subscription {
  std::string id;    ///< gid://shopify/WebhookSubscription/N
  std::string topic; ///< PRODUCTS_CREATE ...
  std::string uri;
  std::string format; ///< JSON or XML
  std::string api_version;
  std::vector<std::string> include_fields;
  std::string filter;
};

/// The topics the mirror needs, as GraphQL names them.
const std::vector<std::string>& needed_topics();

/// What one needed topic's subscriptions come to.
enum class subscription_state {
  ok,        ///< one subscription at our address, as needed
  missing,   ///< none at our address
  wrong,     ///< at our address, but not JSON, trimmed, or filtered
  duplicate, ///< more than one at our address: each event delivered twice
};

std::string_view to_string(subscription_state state) noexcept;

struct topic_check {
  std::string topic;
  subscription_state state = subscription_state::missing;
  std::vector<webhook_subscription> ours; ///< at our address
};

/// The comparison of a shop's subscriptions with what the mirror needs.
struct subscription_report {
  std::vector<topic_check> topics;
  /// Subscriptions to other addresses: reported, never touched.
  std::vector<webhook_subscription> others;
  /// Our subscriptions' payload version where it is not the one pinned
  /// (it is the app's webhooks API version: changed in the app, not here).
  std::vector<std::string> api_versions;

  bool all_ok() const;
};

/// Compares (pure).
subscription_report compare_subscriptions(const std::vector<webhook_subscription>& listed,
                                          const std::string& address,
                                          const std::string& api_version);

/// Every shop-scoped subscription of the app on the shop, all pages.
std::vector<webhook_subscription> list_subscriptions(admin_api& api);

/// What sync did, or would do with `dry_run`: one line an action.
struct sync_result {
  std::vector<std::string> actions;
};

/// Makes the report's needed subscriptions right (see above).
sync_result sync_subscriptions(admin_api& api, const subscription_report& report,
                               const std::string& address, bool dry_run);

} // namespace shopmirror::reconcile

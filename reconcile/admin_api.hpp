#pragma once

#include "net/http_client.hpp"
#include "reconcile/cancel.hpp"
#include "reconcile/cost_bucket.hpp"
#include "reconcile/credentials.hpp"
#include "reconcile/settings.hpp"

#include <rapidjson/document.h>

#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace shopmirror::reconcile {

/// A request to the Admin API that failed for good; the message says why.
class admin_api_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The GraphQL Admin API of one shop, at the pinned version, over a
/// kept-alive HTTPS connection. It obeys the cost bucket (waits before a
/// request that would not fit), waits out THROTTLED errors and 429s
/// (Retry-After), and retries 5xx answers and lost connections with
/// exponential backoff and jitter up to settings.max_attempts; then it
/// throws admin_api_error. A 401 renews the credentials once and tries
/// again; a second 401 fails with a reason that names the shop and the
/// credential kind. Not thread-safe.
class admin_api {
public:
  admin_api(const shop_settings& shop, admin_credentials& credentials,
            const reconcile_settings& settings, cancel_token& cancel);

  /// Sends a GraphQL document with its variables (a JSON object's text)
  /// and returns the response, which holds `data`. `requested_cost` is the
  /// query's up-front cost, as Shopify computes it.
  rapidjson::Document graphql(std::string_view query, std::string_view variables,
                              double requested_cost);

  /// GETs `url` (a bulk operation's result, on another host and without
  /// the access token) and hands its body to `sink` as it arrives.
  void download(const std::string& url, const std::function<void(std::string_view)>& sink);

  /// The bucket's size, once a response has told it.
  std::optional<double> bucket_capacity() const { return bucket_.capacity(); }

  const std::string& shop() const noexcept { return shop_; }

private:
  /// One graphql() call's progress through its retries.
  struct attempt_state {
    std::string token;
    bool renewed = false; ///< the credentials were renewed after a 401
    int failures = 0;
    int throttle_waits = 0;
  };

  std::chrono::milliseconds backoff(int failures);
  std::string current_token();
  /// A failure worth another attempt: backs off, or throws when the
  /// attempts are spent.
  void failed(attempt_state& attempts, const std::string& why);
  /// Waits as Shopify asked, or throws after max_throttle_waits.
  void throttled(attempt_state& attempts, std::chrono::milliseconds wait);
  /// Waits until the bucket holds the query's cost, and takes it.
  void take_from_bucket(double requested_cost);
  /// True if the answer's status calls for sending the request again
  /// (after a wait, or with renewed credentials); throws when it refuses
  /// the request for good; false for a 200.
  bool should_resend(attempt_state& attempts, const net::client_response& response);
  /// The document of a 200 answer; none when the request is to be sent
  /// again (unreadable, or throttled).
  std::optional<rapidjson::Document> read_data(attempt_state& attempts, const std::string& body,
                                               double requested_cost);

  std::string shop_;
  const reconcile_settings& settings_;
  cancel_token& cancel_;
  std::string target_;
  admin_credentials& credentials_;
  net::client_settings client_settings_;
  net::http_client client_;
  cost_bucket bucket_;
  std::mt19937 random_{std::random_device{}()};
};

} // namespace shopmirror::reconcile

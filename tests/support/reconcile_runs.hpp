#pragma once

// What the reconcile tests share: products in the stand-in and as webhooks,
// `shopmirror reconcile` and the endpoint run against the stand-in, and the
// mirror's rows in the terms the tests set.

#include "model/product_state.hpp"
#include "net/http_client.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace shopmirror::test {

inline const std::string reconcile_shop = "test-shop.myshopify.com";
inline const std::string reconcile_secret = "reconcile-secret";
inline const std::string reconcile_bearer = "reconcile-bearer-token-0123456789";

/// A product with `variants` variants (ids id*1000+v, price "v.25", sku "Sv").
product_spec spec(std::int64_t id, const std::string& updated, const std::string& title,
                  int variants = 2);

/// The state its webhook maps to (what the stand-in serves).
model::product_state state_of(const product_spec& p);

/// The settings that point shopmirror at the stand-in.
environment admin_env(const admin_api_stand_in& shopify, const test_database& db,
                      const std::string& mode = "bulk");

struct command_result {
  int status = -1;
  std::string output;
};

/// `shopmirror reconcile ARGS...` against the stand-in, to its end.
command_result reconcile_command(const admin_api_stand_in& shopify, const test_database& db,
                                 std::vector<std::string> args = {},
                                 const std::string& mode = "bulk", const environment& extra = {});

/// The run's JSON line in a command's output.
std::string run_line(const std::string& output);

/// One product as the mirror holds it, in the terms the catalog sets.
std::string mirror_row(const test_database& db, std::int64_t id);

/// What the mirror row of a product in the catalog must read.
std::string expected_row(const product_spec& p, bool deleted = false);

/// A signed delivery to the service on `port`, which must answer 200.
void send(std::uint16_t port, const std::string& topic, const std::string& body,
          const std::string& webhook_id);

/// Triggers a run with POST `target` and polls it to its end; the run's JSON.
std::string run_through_endpoint(net::http_client& client, const std::string& target);

} // namespace shopmirror::test

#include "tests/support/reconcile_runs.hpp"

#include "model/webhook_payload.hpp"

#include <doctest/doctest.h>

#include <thread>

namespace shopmirror::test {

using namespace std::chrono_literals;

product_spec spec(std::int64_t id, const std::string& updated, const std::string& title,
                  int variants) {
  product_spec p;
  p.id = id;
  p.updated_at = updated;
  p.title = title;
  for (int v = 1; v <= variants; ++v) {
    p.variants.push_back(
        {id * 1000 + v, std::to_string(v) + ".25", "S" + std::to_string(v), v, v * 7});
  }
  return p;
}

model::product_state state_of(const product_spec& p) {
  auto mapped = model::map_product_webhook(model::product_topic::update, product_json(p));
  REQUIRE(std::holds_alternative<model::product_state>(mapped));
  return std::get<model::product_state>(mapped);
}

/// The settings that point shopmirror at the stand-in.
environment admin_env(const admin_api_stand_in& shopify, const test_database& db,
                      const std::string& mode) {
  return {{"SHOPMIRROR_DATABASE_URL", db.url()},
          {"SHOPMIRROR_SHOP", reconcile_shop},
          {"SHOPMIRROR_ADMIN_TOKEN", shopify.access_token()},
          {"SHOPMIRROR_ADMIN_API_URL", shopify.base_url()},
          {"SHOPMIRROR_RECONCILE_MODE", mode},
          {"SHOPMIRROR_RECONCILE_RETRY_BASE_MS", "20"},
          {"SHOPMIRROR_RECONCILE_AT", "off"}};
}

command_result reconcile_command(const admin_api_stand_in& shopify, const test_database& db,
                                 std::vector<std::string> args, const std::string& mode,
                                 const environment& extra) {
  args.insert(args.begin(), "reconcile");
  args.insert(args.begin(), shopmirror_binary());
  environment env = admin_env(shopify, db, mode);
  env.insert(env.end(), extra.begin(), extra.end());
  child_process process(args, env);
  const auto status = process.wait(120s);
  REQUIRE(status);
  return {*status, process.output()};
}

/// The run's JSON line in a command's output.
std::string run_line(const std::string& output) {
  const auto at = output.find("{\"id\":");
  REQUIRE(at != std::string::npos);
  return output.substr(at, output.find('\n', at) - at);
}

/// One product as the mirror holds it, in the terms the catalog sets.
std::string mirror_row(const test_database& db, std::int64_t id) {
  const auto rows = db.query(
      "select title, status, array_to_string(tags, ','), updated_at at time zone 'UTC', "
      "deleted_at is not null, (select string_agg(variant_id || ':' || price || ':' || "
      "inventory_quantity || ':' || position || ':' || coalesce(sku, ''), ' ' order by variant_id) "
      "from shopify.product_variants v where v.shop_domain = p.shop_domain and "
      "v.product_id = p.product_id) from shopify.products p where product_id = " +
      std::to_string(id));
  if (rows.empty()) {
    return "absent";
  }
  std::string out;
  for (const auto& value : rows[0]) {
    out += value.value_or("NULL") + "|";
  }
  return out;
}

/// What the mirror row of a product in the catalog must read.
std::string expected_row(const product_spec& p, bool deleted) {
  std::string variants;
  for (const auto& v : p.variants) {
    variants += (variants.empty() ? "" : " ") + std::to_string(v.id) + ":" + v.price + ":" +
                std::to_string(v.inventory) + ":" + std::to_string(v.position) + ":" + v.sku;
  }
  std::string updated = p.updated_at;
  updated = updated.replace(updated.find('T'), 1, " ");
  updated.pop_back(); // the Z
  return p.title + "|" + p.status + "|alpha,beta|" + updated + "|" + (deleted ? "t" : "f") + "|" +
         (variants.empty() ? "NULL" : variants) + "|";
}

void send(std::uint16_t port, const std::string& topic, const std::string& body,
          const std::string& webhook_id) {
  auto client = local_client(port);
  signed_delivery d;
  d.topic = topic;
  d.shop = reconcile_shop;
  d.webhook_id = webhook_id;
  d.body = body;
  d.secret = reconcile_secret;
  const auto response = post_webhook(client, d);
  REQUIRE(response.status == 200);
}

/// Triggers a run with POST `target` and polls it to its end; the run's JSON.
std::string run_through_endpoint(net::http_client& client, const std::string& target) {
  const auto answer =
      client.request("POST", target, {{"Authorization", "Bearer " + reconcile_bearer}});
  REQUIRE(answer.status == 202);
  const std::string id = field(answer.body, "run_id");
  std::string run;
  for (int i = 0; i < 200; ++i) {
    run = client
              .request("GET", "/reconcile/runs/" + id,
                       {{"Authorization", "Bearer " + reconcile_bearer}})
              .body;
    if (field(run, "status") != "running") {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  return run;
}

} // namespace shopmirror::test

// shopmirror-baseline: the conventional way to mirror Shopify's product
// webhooks, kept as the yardstick for the service's throughput (README,
// Performance; bench/baseline.sh runs the two side by side). It is what a
// team would write first, done properly:
//
// - an HTTP/1.1 server with a thread per connection (Boost.Beast, blocking);
// - the same HMAC check and the same JSON mapping as shopmirror, so that the
//   comparison is of how each uses the database, not of parsers;
// - a pool of database connections, and one transaction per webhook: claim
//   the webhook id in the delivery log, upsert the product under the same
//   version rule ((updated_at, observed_at), newer wins), replace its
//   variants (delete the unlisted ones, upsert each listed one with a
//   prepared statement), mark a state that lost as stale, commit, answer.
//
// It writes the same tables, so the load generator's database check holds
// it to the same guarantees. It knows products/create and products/update
// only (what the load generator sends), none of shopmirror's other rules
// (trimmed payloads, content comparison, tombstones, stubs).
//
//   shopmirror-baseline --port 18091 --database URL --secret S [--pool 16]

#include "cli/arguments.hpp"
#include "crypto/signature.hpp"
#include "model/delivery.hpp"
#include "model/timestamp.hpp"
#include "model/webhook_payload.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <pqxx/pqxx>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace shopmirror;

namespace {

struct options {
  unsigned short port = 18091;
  std::string database;
  std::string secret;
  int pool = 16;
};

const cli::command_spec program{
    .name = "",
    .usage = "usage: shopmirror-baseline --database URL --secret S [--port PORT] [--pool N]\n",
    .valued = {"--port", "--database", "--secret", "--pool"},
    .program = "shopmirror-baseline",
};

options read_options(const cli::arguments& args) {
  options o;
  o.port = static_cast<unsigned short>(args.integer_or("--port", o.port, 0, 65535));
  o.database = args.required("--database");
  o.secret = args.required("--secret");
  o.pool = static_cast<int>(args.integer_or("--pool", o.pool, 1, 1000));
  return o;
}

constexpr const char* claim_sql =
    "insert into shopify.webhook_deliveries (shop_domain, webhook_id, topic, api_version, "
    "triggered_at, received_at, outcome, product_id) "
    "values ($1, $2, $3, $4, $5, now(), 'applied', $6) on conflict do nothing";

// The source ($14) is sent untyped, so PostgreSQL reads it as the column's
// type: jsonb before migration 0012, json after; a cast here would make the
// baseline convert between the two.
constexpr const char* product_sql =
    "insert into shopify.products (shop_domain, product_id, title, handle, vendor, product_type, "
    "status, tags, body_html, created_at, updated_at, published_at, version_updated_at, "
    "version_observed_at, content_observed_at, source, applied_at) "
    "values ($1, $2, $3, $4, $5, $6, $7, string_to_array($8, ','), $9, $10, $11, $12, $11, $13, "
    "$13, $14, now()) "
    "on conflict (shop_domain, product_id) do update set title = excluded.title, "
    "handle = excluded.handle, vendor = excluded.vendor, product_type = excluded.product_type, "
    "status = excluded.status, tags = excluded.tags, body_html = excluded.body_html, "
    "created_at = excluded.created_at, updated_at = excluded.updated_at, "
    "published_at = excluded.published_at, version_updated_at = excluded.version_updated_at, "
    "version_observed_at = excluded.version_observed_at, "
    "content_observed_at = excluded.content_observed_at, source = excluded.source, "
    "deleted_at = null, applied_at = now() "
    "where (products.version_updated_at, products.version_observed_at) < "
    "(excluded.version_updated_at, excluded.version_observed_at)";

constexpr const char* unlisted_sql =
    "delete from shopify.product_variants where shop_domain = $1 and product_id = $2 "
    "and not (variant_id = any (string_to_array($3, ',')::bigint[]))";

constexpr const char* variant_sql =
    "insert into shopify.product_variants (shop_domain, variant_id, product_id, sku, title, "
    "price, compare_at_price, position, option1, option2, option3, barcode, inventory_quantity, "
    "updated_at) values ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8, $9, $10, $11, $12, "
    "$13, $14) "
    "on conflict (shop_domain, variant_id) do update set product_id = excluded.product_id, "
    "sku = excluded.sku, title = excluded.title, price = excluded.price, "
    "compare_at_price = excluded.compare_at_price, position = excluded.position, "
    "option1 = excluded.option1, option2 = excluded.option2, option3 = excluded.option3, "
    "barcode = excluded.barcode, inventory_quantity = excluded.inventory_quantity, "
    "updated_at = excluded.updated_at";

constexpr const char* stale_sql = "update shopify.webhook_deliveries set outcome = 'stale' "
                                  "where shop_domain = $1 and webhook_id = $2";

/// Database connections, lent one at a time.
class pool {
public:
  pool(const std::string& url, int size) {
    for (int i = 0; i < size; ++i) {
      auto c = std::make_unique<pqxx::connection>(url);
      c->prepare("claim", claim_sql);
      c->prepare("product", product_sql);
      c->prepare("unlisted", unlisted_sql);
      c->prepare("variant", variant_sql);
      c->prepare("stale", stale_sql);
      idle_.push_back(std::move(c));
    }
  }

  template <class F> auto with(F&& f) {
    std::unique_ptr<pqxx::connection> c;
    {
      std::unique_lock lock(mutex_);
      available_.wait(lock, [this] { return !idle_.empty(); });
      c = std::move(idle_.back());
      idle_.pop_back();
    }
    struct give_back {
      pool& p;
      std::unique_ptr<pqxx::connection>& c;
      ~give_back() {
        const std::lock_guard lock(p.mutex_);
        p.idle_.push_back(std::move(c));
        p.available_.notify_one();
      }
    } returned{*this, c};
    return f(*c);
  }

private:
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
};

std::optional<std::string> time_text(const std::optional<model::timestamp>& t) {
  return t ? std::optional(model::format_rfc3339(*t)) : std::nullopt;
}

/// One webhook in one transaction: "applied", "stale" or "duplicate".
std::string apply(pqxx::connection& c, const model::delivery& meta,
                  const model::upsert_product& upsert) {
  const auto& p = upsert.state;
  pqxx::work tx(c);
  if (tx.exec_prepared("claim", meta.shop_domain, meta.webhook_id, meta.topic, meta.api_version,
                       time_text(meta.triggered_at), p.id)
          .affected_rows() == 0) {
    tx.commit();
    return "duplicate";
  }
  std::string tags;
  for (const auto& tag : p.tags) {
    tags += (tags.empty() ? "" : ",") + tag;
  }
  const bool applied =
      tx.exec_prepared("product", meta.shop_domain, p.id, p.title, p.handle, p.vendor,
                       p.product_type, p.status, tags, p.body_html, time_text(p.created_at),
                       model::format_rfc3339(p.updated_at), time_text(p.published_at),
                       model::format_rfc3339(meta.observed_at()), upsert.source)
          .affected_rows() == 1;
  if (applied) {
    std::string ids;
    for (const auto& v : p.variants) {
      ids += (ids.empty() ? "" : ",") + std::to_string(v.id);
    }
    tx.exec_prepared("unlisted", meta.shop_domain, p.id, ids);
    for (const auto& v : p.variants) {
      tx.exec_prepared("variant", meta.shop_domain, v.id, p.id, v.sku, v.title, v.price,
                       v.compare_at_price, v.position, v.option1, v.option2, v.option3, v.barcode,
                       v.inventory_quantity, time_text(v.updated_at));
    }
  } else {
    tx.exec_prepared("stale", meta.shop_domain, meta.webhook_id);
  }
  tx.commit();
  return applied ? "applied" : "stale";
}

http::response<http::string_body> answer(unsigned status, const std::string& body) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = body;
  res.prepare_payload();
  return res;
}

http::response<http::string_body> handle(const http::request<http::string_body>& req,
                                         const crypto::webhook_verifier& verifier, pool& db) {
  const std::string shop(req["X-Shopify-Shop-Domain"]);
  const std::string_view signature = req["X-Shopify-Hmac-Sha256"];
  if (verifier.verify(std::span(&signature, 1), req.body(), shop).status !=
      crypto::signature_status::valid) {
    return answer(401, R"({"error":"signature"})");
  }
  model::delivery meta;
  meta.shop_domain = shop;
  meta.webhook_id = std::string(req["X-Shopify-Webhook-Id"]);
  meta.topic = std::string(req["X-Shopify-Topic"]);
  meta.api_version = std::string(req["X-Shopify-API-Version"]);
  meta.received_at = model::now();
  meta.triggered_at = model::parse_rfc3339(std::string(req["X-Shopify-Triggered-At"]));
  auto action = model::action_for(model::parse_topic(meta.topic), shop, req.body(),
                                  model::stub_fetch::impossible);
  const auto* upsert = std::get_if<model::upsert_product>(&action);
  if (upsert == nullptr) {
    return answer(422, R"({"error":"not a product state"})");
  }
  try {
    const std::string outcome =
        db.with([&](pqxx::connection& c) { return apply(c, meta, *upsert); });
    return answer(200, R"({"outcome":")" + outcome + "\"}");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "baseline: %s\n", e.what());
    return answer(503, R"({"error":"database"})");
  }
}

void serve_connection(tcp::socket socket, const crypto::webhook_verifier& verifier, pool& db) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) {
      return;
    }
    auto res = handle(req, verifier, db);
    res.keep_alive(req.keep_alive());
    http::write(socket, res, ec);
    if (ec || !req.keep_alive()) {
      return;
    }
  }
}

} // namespace

int run(const options& o) {
  // Stopped by its pid (bench/baseline.sh): nothing to tidy up.
  std::signal(SIGTERM, [](int) { std::_Exit(0); });
  const crypto::webhook_verifier verifier({o.secret});
  pool db(o.database, o.pool);
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), o.port});
  std::printf("baseline listening on 127.0.0.1:%u with %d database connections\n", o.port, o.pool);
  std::fflush(stdout);
  for (;;) {
    tcp::socket socket(io);
    acceptor.accept(socket);
    socket.set_option(tcp::no_delay(true));
    std::thread([&verifier, &db](tcp::socket s) { serve_connection(std::move(s), verifier, db); },
                std::move(socket))
        .detach();
  }
}

int main(int argc, char** argv) {
  return cli::run_program(program, argc, argv,
                          [](const cli::arguments& args) { return run(read_options(args)); });
}

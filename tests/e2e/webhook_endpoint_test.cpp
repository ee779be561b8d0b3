// The real binary on an ephemeral port, real HTTP, a real PostgreSQL: one
// test per row of docs/ARCHITECTURE.md's table, and the HTTP behaviour around it.

#include "crypto/hmac.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/json.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <csignal>

using namespace shopmirror;
using test::signed_delivery;

namespace {

const std::string secret = "e2e-secret";

struct fixture {
  test::test_database db;
  test::service_process service{
      db.url(), {secret, "previous-secret"}, {{"SHOPMIRROR_MAX_BODY_BYTES", "65536"}}};
  net::http_client client = test::local_client(service.port());

  net::client_response send(signed_delivery d) {
    d.secret = d.secret.empty() ? secret : d.secret;
    return test::post_webhook(client, d);
  }
  std::string product(std::int64_t id, const std::string& title = "Mug") const {
    return test::product_json(
        {id, title, "2026-01-02T03:04:05Z", "a, b", "active", {{id * 10, "9.50", "MUG", 1, 3}}});
  }
  std::string raw(const std::string& bytes) { return test::raw_exchange(service.port(), bytes); }
};

std::string signed_raw_request(const std::string& body, const std::string& extra_headers = "",
                               const std::string& webhook_id = "raw-1") {
  return "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "X-Shopify-Topic: products/update\r\nX-Shopify-Shop-Domain: raw.myshopify.com\r\n"
         "X-Shopify-Webhook-Id: " +
         webhook_id + "\r\nX-Shopify-Hmac-Sha256: " + crypto::shopify_signature(secret, body) +
         "\r\n" + extra_headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE_FIXTURE(fixture, "not POST: 405 - nothing written") {
    const auto r = client.request("GET", "/webhooks/shopify", {});
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "POST");
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
  }

  TEST_CASE_FIXTURE(fixture, "over the body limit: 413 before the body is read") {
    // A Content-Length far above the limit, and no body at all: the answer
    // comes from the header alone.
    const std::string head = "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Length: "
                             "99999999999\r\nX-Shopify-Topic: products/update\r\n\r\n";
    CHECK(test::first_status(raw(head)) == 413);
    // A chunked body that grows past the limit.
    std::string chunked =
        "POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) {
      chunked += "1000\r\n" + std::string(4096, 'x') + "\r\n";
    }
    CHECK(test::first_status(raw(chunked)) == 413);
    // Just over the limit with a real signature is still refused.
    signed_delivery d;
    d.webhook_id = "big";
    d.body = "{\"id\":1,\"pad\":\"" + std::string(65536, 'p') + "\"}";
    CHECK(send(d).status == 413);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
  }

  TEST_CASE_FIXTURE(fixture, "bad signatures: 401 with an empty body - nothing written") {
    signed_delivery d;
    d.webhook_id = "w-401";
    d.body = product(1);
    d.secret = "wrong-secret";
    const auto wrong = send(d);
    CHECK(wrong.status == 401);
    CHECK(wrong.body.empty());

    const auto missing = client.request("POST", "/webhooks/shopify",
                                        {{"X-Shopify-Topic", "products/update"},
                                         {"X-Shopify-Shop-Domain", "a.myshopify.com"},
                                         {"X-Shopify-Webhook-Id", "w-401b"}},
                                        d.body);
    CHECK(missing.status == 401);
    const auto malformed = client.request("POST", "/webhooks/shopify",
                                          {{"X-Shopify-Topic", "products/update"},
                                           {"X-Shopify-Hmac-Sha256", "not base64!"},
                                           {"X-Shopify-Shop-Domain", "a.myshopify.com"},
                                           {"X-Shopify-Webhook-Id", "w-401c"}},
                                          d.body);
    CHECK(malformed.status == 401);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
    CHECK(db.scalar("select count(*) from shopify.dead_letters") == "0");
    const auto metrics = client.request("GET", "/metrics", {});
    CHECK(metrics.body.find("shopmirror_webhook_signature_failures_total{reason=\"mismatch\"} 1") !=
          std::string::npos);
    CHECK(metrics.body.find("shopmirror_webhook_signature_failures_total{reason=\"missing\"} 1") !=
          std::string::npos);
    CHECK(
        metrics.body.find("shopmirror_webhook_signature_failures_total{reason=\"malformed\"} 1") !=
        std::string::npos);
  }

  TEST_CASE_FIXTURE(fixture, "signed but a required header missing: 400") {
    const std::string body = product(2);
    const auto r =
        client.request("POST", "/webhooks/shopify",
                       {{"X-Shopify-Topic", "products/update"},
                        {"X-Shopify-Hmac-Sha256", crypto::shopify_signature(secret, body)},
                        {"X-Shopify-Shop-Domain", "a.myshopify.com"}},
                       body);
    CHECK(r.status == 400);
    CHECK(r.body.find("X-Shopify-Webhook-Id") != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "0");
  }

  TEST_CASE_FIXTURE(fixture, "a topic we do not handle: 200 - logged as ignored") {
    signed_delivery d;
    d.topic = "orders/create";
    d.webhook_id = "w-ignored";
    d.body = "{\"id\":1}";
    CHECK(send(d).status == 200);
    CHECK(db.scalar(
              "select outcome from shopify.webhook_deliveries where webhook_id = 'w-ignored'") ==
          "ignored");
    CHECK(db.scalar("select count(*) from shopify.products") == "0");
  }

  TEST_CASE_FIXTURE(fixture, "signed garbage: 200 - kept whole as a dead letter") {
    signed_delivery d;
    d.webhook_id = "w-dead";
    d.body = "{\"id\": 12, \"title\": oops}";
    const auto r = send(d);
    CHECK(r.status == 200);
    CHECK(r.body.find("dead_letter") != std::string::npos);
    CHECK(db.scalar("select convert_from(body, 'UTF8') from shopify.dead_letters") == d.body);
    CHECK(db.scalar("select outcome from shopify.webhook_deliveries where webhook_id = 'w-dead'") ==
          "dead_letter");
    d.webhook_id = "w-dead-2";
    d.body = "{\"title\":\"no id\"}";
    CHECK(send(d).status == 200);
    CHECK(db.scalar("select reason from shopify.dead_letters where webhook_id = 'w-dead-2'")
              .find("no product id") != std::string::npos);
  }

  TEST_CASE_FIXTURE(
      fixture,
      "applied: the row is in PostgreSQL when the 200 arrives - and a retry is a duplicate") {
    signed_delivery d;
    d.topic = "products/create";
    d.webhook_id = "w-applied";
    d.body = product(3, "Teapot");
    d.triggered_at = "2026-01-02T03:04:06.123456789Z";
    const auto r = send(d);
    CHECK(r.status == 200);
    CHECK(r.body == "{\"outcome\":\"applied\"}");
    CHECK(db.scalar("select title from shopify.live_products where product_id = 3") == "Teapot");
    CHECK(db.scalar("select triggered_at from shopify.webhook_deliveries where webhook_id = "
                    "'w-applied'") == "2026-01-02 03:04:06.123456+00");

    const auto again = send(d);
    CHECK(again.status == 200);
    CHECK(again.body == "{\"outcome\":\"duplicate\"}");
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "1");

    signed_delivery removal;
    removal.topic = "products/delete";
    removal.webhook_id = "w-delete";
    removal.body = test::delete_json(3);
    CHECK(send(removal).status == 200);
    CHECK(db.scalar("select count(*) from shopify.live_products") == "0");
    CHECK(db.scalar("select count(*) from shopify.products") == "1");
  }

  TEST_CASE_FIXTURE(fixture, "the previous secret still works during a rotation") {
    signed_delivery d;
    d.webhook_id = "w-rotated";
    d.body = product(4);
    d.secret = "previous-secret";
    CHECK(send(d).status == 200);
    CHECK(db.scalar("select count(*) from shopify.products") == "1");
  }

  TEST_CASE_FIXTURE(fixture, "a replayed capture changes nothing") {
    // Shopify's signature covers the body only: anyone holding a captured
    // delivery can send it again. The delivery log answers it as a duplicate,
    // and under another webhook id the ordering rule makes it a no-op.
    signed_delivery d;
    d.webhook_id = "w-original";
    d.body = product(5, "Original");
    d.triggered_at = "2026-01-02T03:04:06Z";
    CHECK(send(d).status == 200);
    signed_delivery newer = d;
    newer.webhook_id = "w-newer";
    newer.body = test::product_json({5, "Newer", "2026-01-03T00:00:00Z", "", "active", {}});
    newer.triggered_at = "2026-01-03T00:00:01Z";
    CHECK(send(newer).status == 200);
    const std::string before =
        db.scalar("select title || version_updated_at from shopify.products");
    CHECK(send(d).body.find("duplicate") != std::string::npos);
    d.webhook_id = "w-forged-id";
    CHECK(send(d).body.find("stale") != std::string::npos);
    CHECK(db.scalar("select title || version_updated_at from shopify.products") == before);
  }

  TEST_CASE_FIXTURE(fixture,
                    "keep-alive and pipelining and Expect: 100-continue and mixed-case headers") {
    for (int i = 0; i < 5; ++i) { // one connection, five requests
      signed_delivery d;
      d.webhook_id = "w-keepalive-" + std::to_string(i);
      d.body = product(100 + i);
      CHECK(send(d).status == 200);
    }
    CHECK(db.scalar("select count(*) from shopify.products") == "5");

    const std::string body = product(200);
    std::string two = signed_raw_request(body, "", "pipe-1");
    two.replace(two.find("Connection: close"), 17, "Connection: keep-alive");
    two += signed_raw_request(product(201), "", "pipe-2");
    const std::string answers = raw(two);
    CHECK(test::first_status(answers) == 200);
    CHECK(answers.find("HTTP/1.1 200", 10) != std::string::npos);
    CHECK(db.scalar("select count(*) from shopify.products where product_id in (200, 201)") == "2");

    std::string expect = signed_raw_request(product(202), "Expect: 100-continue\r\n", "expect-1");
    const std::string expect_answer = raw(expect);
    CHECK(test::first_status(expect_answer) == 100);
    CHECK(expect_answer.find("HTTP/1.1 200") != std::string::npos);

    std::string mixed = signed_raw_request(product(203), "", "mixed-1");
    for (const std::string name :
         {"X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Hmac-Sha256"}) {
      std::string lower = name;
      for (auto& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      mixed.replace(mixed.find(name), name.size(), lower);
    }
    CHECK(test::first_status(raw(mixed)) == 200);
  }

  TEST_CASE_FIXTURE(fixture, "health and readiness and metrics") {
    CHECK(client.request("GET", "/healthz", {}).status == 200);
    const auto ready = client.request("GET", "/readyz", {});
    CHECK(ready.status == 200);
    CHECK(test::field(ready.body, "ready") == "true");
    CHECK(client.request("GET", "/nope", {}).status == 404);
    CHECK(client.request("POST", "/healthz", {}, "x").status == 405);

    signed_delivery d;
    d.webhook_id = "w-metrics";
    d.body = product(6);
    d.api_version = "2025-10";
    send(d);
    send(d);
    const auto metrics = client.request("GET", "/metrics", {});
    CHECK(metrics.status == 200);
    CHECK(metrics.header("Content-Type").find("text/plain") == 0);
    const auto has = [&](const std::string& line) {
      CAPTURE(line);
      CHECK(metrics.body.find(line) != std::string::npos);
    };
    has("shopmirror_webhook_deliveries_total{shop=\"test-shop.myshopify.com\",topic=\"products/"
        "update\",outcome=\"applied\"} 1");
    has("shopmirror_webhook_deliveries_total{shop=\"test-shop.myshopify.com\",topic=\"products/"
        "update\",outcome=\"duplicate\"} 1");
    has("shopmirror_webhook_api_version_mismatches_total{shop=\"test-shop.myshopify.com\",api_"
        "version=\"2025-10\"} 2");
    has("shopmirror_ready 1");

    // Then a stale state, signed garbage, a wrong and a missing signature: each
    // moves its own count, and the histograms and gauges show the traffic.
    signed_delivery stale;
    stale.webhook_id = "w-metrics-stale";
    stale.body = test::product_json({6, "Older", "2026-01-01T00:00:00Z", "", "active", {}});
    CHECK(test::field(send(stale).body, "outcome") == "stale");
    signed_delivery garbage;
    garbage.webhook_id = "w-metrics-garbage";
    garbage.body = "{\"id\":6,";
    CHECK(send(garbage).body.find("dead_letter") != std::string::npos);
    signed_delivery forged;
    forged.webhook_id = "w-metrics-forged";
    forged.body = product(6);
    forged.secret = "not-our-secret";
    CHECK(send(forged).status == 401);
    CHECK(
        client.request("POST", "/webhooks/shopify", {{"X-Shopify-Topic", "products/update"}}, "{}")
            .status == 401);
    const auto after = client.request("GET", "/metrics", {}).body;
    // The number after a series' name and labels, or -1 if it is not there.
    const auto value = [&](const std::string& series) {
      CAPTURE(series);
      const auto at = after.find("\n" + series + " ");
      REQUIRE_MESSAGE(at != std::string::npos, after);
      return std::stod(after.substr(at + series.size() + 2));
    };
    const std::string labels = "shop=\"test-shop.myshopify.com\",topic=\"products/update\"";
    CHECK(value("shopmirror_webhook_deliveries_total{" + labels + ",outcome=\"applied\"}") == 1);
    CHECK(value("shopmirror_webhook_deliveries_total{" + labels + ",outcome=\"stale\"}") == 1);
    CHECK(value("shopmirror_webhook_deliveries_total{" + labels + ",outcome=\"dead_letter\"}") ==
          1);
    CHECK(value("shopmirror_webhook_signature_failures_total{reason=\"mismatch\"}") == 1);
    CHECK(value("shopmirror_webhook_signature_failures_total{reason=\"missing\"}") == 1);
    // Six webhook requests were handled: two copies, the stale, the garbage,
    // two refused signatures.
    CHECK(value("shopmirror_http_request_duration_seconds_count{route=\"webhook\"}") == 6);
    CHECK(value("shopmirror_http_request_duration_seconds_sum{route=\"webhook\"}") > 0);
    // Four durable deliveries, committed in one to four batches.
    const double batches = value("shopmirror_db_commit_duration_seconds_count");
    CHECK(batches >= 1);
    CHECK(batches <= 4);
    CHECK(value("shopmirror_db_batch_size_sum") == 4);
    CHECK(value("shopmirror_db_writers{state=\"total\"}") == 2);
    // A writer connects at its first batch: at least one has.
    CHECK(value("shopmirror_db_writers{state=\"connected\"}") >= 1);
    CHECK(value("shopmirror_db_writers{state=\"connected\"}") <= 2);
    CHECK(value("shopmirror_db_writers{state=\"busy\"}") == 0);
    CHECK(value("shopmirror_db_queue_depth") == 0);
    CHECK(value("shopmirror_http_connections") >= 1);
  }

  TEST_CASE_FIXTURE(fixture, "shopmirror send signs and posts a payload file") {
    test::child_process sender({test::shopmirror_binary(), "send", "--url",
                                service.base_url() + "/webhooks/shopify", "--secret", secret,
                                "--topic", "products/create", "--shop", "cli.myshopify.com",
                                std::string(SHOPMIRROR_FIXTURES) +
                                    "/shopify/products-create.shopify-reference-sample.json"},
                               {});
    CHECK(sender.wait(std::chrono::seconds(20)) == 0);
    CHECK(sender.output().find("HTTP 200") != std::string::npos);
    CHECK(db.scalar("select title from shopify.products where shop_domain = 'cli.myshopify.com' "
                    "and product_id = 788032119674292922") == "Example T-Shirt");
  }

  TEST_CASE_FIXTURE(fixture, "SIGTERM drains and exits 0") {
    service.process().send_signal(SIGTERM);
    CHECK(service.process().wait(std::chrono::seconds(15)) == 0);
    CHECK(test::logged(service.process().output(), "stopped"));
  }

  TEST_CASE("a bad setting stops the start with a message naming it") {
    test::child_process bad({test::shopmirror_binary(), "serve"},
                            {{"SHOPMIRROR_DATABASE_URL", "host=/tmp dbname=x"},
                             {"SHOPMIRROR_WEBHOOK_SECRETS", "s"},
                             {"SHOPMIRROR_MAX_BODY_BYTES", "eight megabytes"}});
    CHECK(bad.wait(std::chrono::seconds(10)) == 2);
    CHECK(bad.output().find("SHOPMIRROR_MAX_BODY_BYTES") != std::string::npos);

    test::child_process no_secret(
        {test::shopmirror_binary(), "serve"},
        {{"SHOPMIRROR_DATABASE_URL", "host=/tmp dbname=x"}, {"SHOPMIRROR_WEBHOOK_SECRETS", ""}});
    CHECK(no_secret.wait(std::chrono::seconds(10)) == 2);
    CHECK(no_secret.output().find("SHOPMIRROR_WEBHOOK_SECRETS") != std::string::npos);
  }
}

// The apply path against a real PostgreSQL: the ordering rule, tombstones,
// the delivery log, dead letters and group commit's isolation of bad items.

#include "db/delivery_store.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <array>
#include <thread>

using namespace shopmirror;
using model::apply_outcome;
using test::item_from_body;
using test::product_json;

namespace {

const std::string shop = "test-shop.myshopify.com";

// Everything a consumer can see of one product, as text: the row (but for
// applied_at, the database's own clock) and its variants.
std::string snapshot(const test::test_database& db, std::int64_t id) {
  const std::string where = "shop_domain = '" + shop + "' and product_id = " + std::to_string(id);
  std::string out;
  for (const auto& row :
       db.query("select title, handle, vendor, product_type, status, tags, body_html, "
                "created_at, updated_at, published_at, version_updated_at, version_observed_at, "
                "content_observed_at, deleted_at, source from shopify.products where " +
                where)) {
    for (const auto& value : row) {
      out += value.value_or("NULL") + "|";
    }
  }
  out += "\n";
  for (const auto& row :
       db.query("select variant_id, sku, title, price, compare_at_price, position, option1, "
                "inventory_quantity, updated_at from shopify.product_variants where " +
                where + " order by variant_id")) {
    for (const auto& value : row) {
      out += value.value_or("NULL") + "|";
    }
    out += "\n";
  }
  return out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

apply_outcome apply_one(db::delivery_store& store, const model::delivery_item& item) {
  const auto outcomes = store.apply(std::span(&item, 1));
  REQUIRE(outcomes.size() == 1);
  return outcomes[0];
}

// create, two updates and a delete of product `id`, each a distinct delivery.
std::array<model::delivery_item, 4> lifecycle(std::int64_t id) {
  test::product_spec p{id,    "Created", "2026-01-01T10:00:00Z",
                       "new", "draft",   {{id * 10 + 1, "5.00", "A", 1, 1}}};
  const auto create = item_from_body("products/create", product_json(p), "c-" + std::to_string(id),
                                     "2026-01-01T10:00:01Z");
  p.title = "First update";
  p.updated_at = "2026-01-01T11:00:00Z";
  p.status = "active";
  p.variants.push_back({id * 10 + 2, "6.00", "B", 2, 2});
  const auto update1 = item_from_body("products/update", product_json(p),
                                      "u1-" + std::to_string(id), "2026-01-01T11:00:01Z");
  p.title = "Second update";
  p.updated_at = "2026-01-01T12:00:00Z";
  p.tags = "sale, summer";
  p.variants.erase(p.variants.begin()); // variant 1 removed
  p.variants[0].price = "4.50";
  const auto update2 = item_from_body("products/update", product_json(p),
                                      "u2-" + std::to_string(id), "2026-01-01T12:00:01Z");
  const auto remove = test::delete_item(id, "d-" + std::to_string(id), "2026-01-01T13:00:00Z");
  return {create, update1, update2, remove};
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("every order of a create and two updates and a delete ends in the same row") {
    test::test_database db;
    db::delivery_store store(db.settings());
    std::array<int, 4> order{0, 1, 2, 3};
    std::vector<std::string> finals;
    std::int64_t id = 1000;
    do {
      ++id;
      const auto events = lifecycle(id);
      for (const int i : order) {
        const auto outcome = apply_one(store, events[static_cast<std::size_t>(i)]);
        CHECK((outcome == apply_outcome::applied || outcome == apply_outcome::stale));
      }
      // Ids differ per order; compare the rest.
      finals.push_back(
          replace_all(replace_all(snapshot(db, id), std::to_string(id * 10 + 2), "VARIANT"),
                      std::to_string(id), "PRODUCT"));
    } while (std::next_permutation(order.begin(), order.end()));
    REQUIRE(finals.size() == 24);
    for (const auto& f : finals) {
      CHECK(f == finals.front());
    }
    // The product is deleted, and its last known state is the second update.
    const auto row = db.query("select title, deleted_at, status, tags from shopify.products "
                              "where product_id = 1001");
    CHECK(row[0][0] == "Second update");
    CHECK(row[0][1] == "2026-01-01 13:00:00+00");
    CHECK(row[0][2] == "active");
    CHECK(row[0][3] == "{sale,summer}");
    CHECK(db.scalar("select count(*) from shopify.product_variants where product_id = 1001") ==
          "1");
    CHECK(db.scalar("select price from shopify.product_variants where product_id = 1001") ==
          "4.50");
    CHECK(db.scalar("select count(*) from shopify.live_products") == "0");
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "96");
  }

  TEST_CASE("in order each state applies and the delete tombstones") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const auto events = lifecycle(7);
    CHECK(apply_one(store, events[0]) == apply_outcome::applied);
    CHECK(db.scalar("select title from shopify.live_products where product_id = 7") == "Created");
    CHECK(apply_one(store, events[1]) == apply_outcome::applied);
    CHECK(db.scalar("select count(*) from shopify.live_product_variants where product_id = 7") ==
          "2");
    CHECK(apply_one(store, events[2]) == apply_outcome::applied);
    CHECK(db.scalar("select title from shopify.live_products where product_id = 7") ==
          "Second update");
    CHECK(apply_one(store, events[3]) == apply_outcome::applied);
    CHECK(db.scalar("select count(*) from shopify.live_products where product_id = 7") == "0");
    CHECK(db.scalar("select count(*) from shopify.products where product_id = 7") == "1");
    CHECK(db.scalar("select outcome from shopify.webhook_deliveries where webhook_id = 'd-7'") ==
          "applied");
  }

  TEST_CASE("a stale update after a delete changes nothing") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const auto events = lifecycle(8);
    apply_one(store, events[0]);
    apply_one(store, events[2]);
    apply_one(store, events[3]);
    const std::string before = snapshot(db, 8);
    CHECK(apply_one(store, events[1]) == apply_outcome::stale); // older than the second update
    CHECK(snapshot(db, 8) == before);
    CHECK(db.scalar("select outcome from shopify.webhook_deliveries where webhook_id = 'u1-8'") ==
          "stale");
    CHECK(db.scalar("select count(*) from shopify.live_products") == "0");
  }

  TEST_CASE("a delete before the create leaves a tombstone that the create cannot lift") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const auto events = lifecycle(9);
    CHECK(apply_one(store, events[3]) == apply_outcome::applied);
    CHECK(db.scalar("select deleted_at is not null and title is null from shopify.products "
                    "where product_id = 9") == "t");
    CHECK(apply_one(store, events[0]) == apply_outcome::stale);
    CHECK(db.scalar("select count(*) from shopify.live_products") == "0");
    // The late create still tells what the product was.
    CHECK(db.scalar("select title from shopify.products where product_id = 9") == "Created");
  }

  TEST_CASE("equal versions are no-ops - a later observation of the same updated_at applies") {
    test::test_database db;
    db::delivery_store store(db.settings());
    test::product_spec p{11, "One",    "2026-02-01T00:00:00Z",
                         "", "active", {{111, "1.00", "X", 1, 5}}};
    CHECK(apply_one(store, item_from_body("products/update", product_json(p), "e1",
                                          "2026-02-01T00:00:01Z")) == apply_outcome::applied);
    const std::string before = snapshot(db, 11);
    p.title = "Same version, other body";
    CHECK(apply_one(store, item_from_body("products/update", product_json(p), "e2",
                                          "2026-02-01T00:00:01Z")) == apply_outcome::stale);
    CHECK(snapshot(db, 11) == before);
    // Same updated_at observed later (inventory moves without updated_at moving).
    p.title = "One";
    p.variants[0].inventory = 4;
    CHECK(apply_one(store, item_from_body("products/update", product_json(p), "e3",
                                          "2026-02-01T00:05:00Z")) == apply_outcome::applied);
    CHECK(db.scalar(
              "select inventory_quantity from shopify.product_variants where variant_id = 111") ==
          "4");
  }

  TEST_CASE("a webhook id is applied once - whatever the payload of its copies") {
    test::test_database db;
    db::delivery_store store(db.settings());
    test::product_spec p{12, "First", "2026-03-01T00:00:00Z", "", "active", {}};
    CHECK(apply_one(store, item_from_body("products/update", product_json(p), "same-id",
                                          "2026-03-01T00:00:01Z")) == apply_outcome::applied);
    p.title = "Replayed with a newer body";
    p.updated_at = "2026-03-02T00:00:00Z";
    CHECK(apply_one(store, item_from_body("products/update", product_json(p), "same-id",
                                          "2026-03-02T00:00:01Z")) == apply_outcome::duplicate);
    CHECK(db.scalar("select title from shopify.products where product_id = 12") == "First");
    // The same id in another shop is another delivery.
    CHECK(apply_one(store, item_from_body("products/update", product_json(p), "same-id",
                                          "2026-03-02T00:00:01Z", "other.myshopify.com")) ==
          apply_outcome::applied);
  }

  TEST_CASE("the same delivery sent concurrently on many connections applies once") {
    test::test_database db;
    const auto item = item_from_body(
        "products/update",
        product_json(
            {13, "Concurrent", "2026-04-01T00:00:00Z", "", "active", {{131, "2.00", "C", 1, 1}}}),
        "racing-id", "2026-04-01T00:00:01Z");
    constexpr int threads = 12;
    std::vector<apply_outcome> outcomes(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        db::delivery_store store(db.settings());
        outcomes[static_cast<std::size_t>(t)] = apply_one(store, item);
      });
    }
    for (auto& thread : pool) {
      thread.join();
    }
    CHECK(std::count(outcomes.begin(), outcomes.end(), apply_outcome::applied) == 1);
    CHECK(std::count(outcomes.begin(), outcomes.end(), apply_outcome::duplicate) == threads - 1);
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries") == "1");
    CHECK(db.scalar("select count(*) from shopify.product_variants") == "1");
  }

  TEST_CASE("concurrent versions of one product converge on the newest") {
    test::test_database db;
    constexpr int threads = 8;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        db::delivery_store store(db.settings());
        for (int k = 0; k < 10; ++k) {
          const int version = k * threads + t;
          char updated[40];
          std::snprintf(updated, sizeof updated, "2026-05-01T00:%02d:%02dZ", version / 60,
                        version % 60);
          test::product_spec p{14,       "v" + std::to_string(version),
                               updated,  "",
                               "active", {{140 + version % 3, "1.00", "S", 1, version}}};
          apply_one(store, item_from_body("products/update", product_json(p),
                                          "w-" + std::to_string(version), std::string(updated)));
        }
      });
    }
    for (auto& thread : pool) {
      thread.join();
    }
    CHECK(db.scalar("select title from shopify.products where product_id = 14") == "v79");
    CHECK(db.scalar("select count(*) from shopify.product_variants where product_id = 14") == "1");
    CHECK(db.scalar(
              "select inventory_quantity from shopify.product_variants where product_id = 14") ==
          "79");
  }

  TEST_CASE("one batch with duplicates and several states of a product and every action") {
    test::test_database db;
    db::delivery_store store(db.settings());
    test::product_spec p{15, "Older",  "2026-06-01T00:00:00Z",
                         "", "active", {{151, "1.00", "", 1, 1}}};
    const auto older =
        item_from_body("products/update", product_json(p), "b1", "2026-06-01T00:00:01Z");
    p.title = "Newer";
    p.updated_at = "2026-06-02T00:00:00Z";
    const auto newer =
        item_from_body("products/update", product_json(p), "b2", "2026-06-02T00:00:01Z");
    const std::vector<model::delivery_item> batch = {
        older,
        newer,
        newer, // the same webhook id twice in one batch
        item_from_body("orders/create", "{\"id\":1}", "b3", std::nullopt),
        item_from_body("products/update", "{\"id\":16", "b4", std::nullopt),
        item_from_body("products/update", "{\"id\":17}", "b5", std::nullopt),
        test::delete_item(18, "b6", "2026-06-03T00:00:00Z"),
    };
    const auto outcomes = store.apply(batch);
    REQUIRE(outcomes.size() == batch.size());
    CHECK(outcomes[0] == apply_outcome::stale);
    CHECK(outcomes[1] == apply_outcome::applied);
    CHECK(outcomes[2] == apply_outcome::duplicate);
    CHECK(outcomes[3] == apply_outcome::ignored);
    CHECK(outcomes[4] == apply_outcome::dead_letter);
    CHECK(outcomes[5] == apply_outcome::refresh_requested);
    CHECK(outcomes[6] == apply_outcome::applied);
    CHECK(db.scalar("select title from shopify.products where product_id = 15") == "Newer");
    CHECK(db.scalar("select string_agg(webhook_id || '=' || outcome, ',' order by webhook_id) "
                    "from shopify.webhook_deliveries") ==
          "b1=stale,b2=applied,b3=ignored,b4=dead_letter,b5=refresh_requested,b6=applied");
    CHECK(db.scalar("select product_id from shopify.product_refresh_requests") == "17");
    CHECK(db.scalar("select count(*) from shopify.products where product_id = 18 and deleted_at is "
                    "not null") == "1");
  }

  TEST_CASE("dead letters keep the raw body and the reason") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const std::string body = "{\"id\":5,\"title\":\"\xff\xfe not UTF-8\"";
    CHECK(apply_one(store, item_from_body("products/update", body, "dl-1", std::nullopt)) ==
          apply_outcome::dead_letter);
    const auto rows = db.query("select encode(body, 'hex'), reason, topic, "
                               "headers->>'X-Shopify-Webhook-Id' from shopify.dead_letters");
    REQUIRE(rows.size() == 1);
    std::string hex;
    for (const unsigned char c : body) {
      static const char* digits = "0123456789abcdef";
      hex += digits[c >> 4];
      hex += digits[c & 15];
    }
    CHECK(rows[0][0] == hex);
    CHECK(rows[0][1]->find("malformed JSON") != std::string::npos);
    CHECK(rows[0][2] == "products/update");
    CHECK(rows[0][3] == "dl-1");
  }

  TEST_CASE("an item the database refuses is isolated - its neighbours apply") {
    test::test_database db;
    db::delivery_store store(db.settings());
    auto good1 = item_from_body(
        "products/update", product_json({21, "Good", "2026-07-01T00:00:00Z", "", "active", {}}),
        "g1", std::nullopt);
    auto bad = item_from_body("products/update",
                              product_json({22, "Bad", "2026-07-01T00:00:00Z", "", "active", {}}),
                              "x1", std::nullopt);
    // The mapping accepted it, but PostgreSQL will not take this source as jsonb.
    std::get<model::upsert_product>(bad.action).source = "{\"broken\": ";
    auto good2 = item_from_body(
        "products/update", product_json({23, "Good too", "2026-07-01T00:00:00Z", "", "active", {}}),
        "g2", std::nullopt);
    const std::vector<model::delivery_item> batch = {good1, bad, good2};
    const auto outcomes = store.apply(batch);
    CHECK(outcomes[0] == apply_outcome::applied);
    CHECK(outcomes[1] == apply_outcome::dead_letter);
    CHECK(outcomes[2] == apply_outcome::applied);
    CHECK(db.scalar("select count(*) from shopify.live_products") == "2");
    CHECK(db.scalar("select reason like 'refused by the database:%' from shopify.dead_letters") ==
          "t");
    CHECK(db.scalar("select convert_from(body, 'UTF8') from shopify.dead_letters") ==
          "{\"broken\": ");
  }

  TEST_CASE("a trimmed (include_fields) payload keeps what it leaves out") {
    test::test_database db;
    db::delivery_store store(db.settings());
    const std::string full = product_json({24,
                                           "Full",
                                           "2025-04-22T19:00:00Z",
                                           "x, y",
                                           "active",
                                           {{123456789, "30.00", "TSHIRT-001", 1, 9}}});
    apply_one(store, item_from_body("products/update", full, "f1", "2025-04-22T19:00:01Z"));
    const std::string trimmed =
        R"({"id":24,"variants":[{"id":123456789,"price":"29.99"}],"updated_at":"2025-04-22T14:30:00-05:00"})";
    CHECK(apply_one(store, item_from_body("products/update", trimmed, "f2",
                                          "2025-04-22T19:30:01Z")) == apply_outcome::applied);
    const auto row =
        db.query("select p.title, p.tags, v.price, v.sku, v.inventory_quantity, "
                 "p.updated_at, p.source->>'handle', p.source->'variants'->0->>'price' "
                 "from shopify.products p join shopify.product_variants v "
                 "using (shop_domain, product_id) where product_id = 24");
    REQUIRE(row.size() == 1);
    CHECK(row[0][0] == "Full");
    CHECK(row[0][1] == "{x,y}");
    CHECK(row[0][2] == "29.99");
    CHECK(row[0][3] == "TSHIRT-001");
    CHECK(row[0][4] == "9");
    CHECK(row[0][5] == "2025-04-22 19:30:00+00");
    CHECK(row[0][6] == "product-24");
    CHECK(row[0][7] == "29.99");
  }

  TEST_CASE("every order of whole and trimmed states of neighbouring events ends in the same row") {
    // Event 1, whole. Event 2 reaches two subscriptions: one trimmed
    // (include_fields: title, variants' id and price), one whole; variant 2
    // is gone and 3 new. Event 3 reaches the trimmed subscription only.
    const auto deliveries = [](std::int64_t id) {
      const auto v = [&](int n) { return id * 10 + n; };
      const std::string i = std::to_string(id);
      const std::string w1 =
          product_json({id,
                        "one",
                        "2026-03-01T10:00:00Z",
                        "a",
                        "draft",
                        {{v(1), "10.00", "S1", 1, 1}, {v(2), "11.00", "S2", 2, 1}}});
      const std::string t2 = R"({"id":)" + i +
                             R"(,"title":"two","updated_at":"2026-03-01T11:00:00Z",)"
                             R"("variants":[{"id":)" +
                             std::to_string(v(1)) +
                             R"(,"price":"20.00"},)"
                             R"({"id":)" +
                             std::to_string(v(3)) + R"(,"price":"30.00"}]})";
      const std::string w2 =
          product_json({id,
                        "two",
                        "2026-03-01T11:00:00Z",
                        "b",
                        "active",
                        {{v(1), "20.00", "S1", 1, 2}, {v(3), "30.00", "S3", 2, 3}}});
      const std::string t3 = R"({"id":)" + i +
                             R"(,"title":"three","updated_at":"2026-03-01T12:00:00Z",)"
                             R"("variants":[{"id":)" +
                             std::to_string(v(1)) +
                             R"(,"price":"40.00"},)"
                             R"({"id":)" +
                             std::to_string(v(3)) + R"(,"price":"50.00"}]})";
      return std::array<model::delivery_item, 4>{
          item_from_body("products/create", w1, "w1-" + i, "2026-03-01T10:00:01Z"),
          item_from_body("products/update", t2, "t2-" + i, "2026-03-01T11:00:01Z"),
          item_from_body("products/update", w2, "w2-" + i, "2026-03-01T11:00:01Z"),
          item_from_body("products/update", t3, "t3-" + i, "2026-03-01T12:00:01Z")};
    };
    // Ids differ per order; compare the rest.
    const auto normalized = [](const test::test_database& db, std::int64_t id) {
      std::string text = snapshot(db, id);
      for (int n = 1; n <= 3; ++n) {
        text = replace_all(text, std::to_string(id * 10 + n), "VARIANT" + std::to_string(n));
      }
      return replace_all(text, std::to_string(id), "PRODUCT");
    };

    test::test_database db;
    db::delivery_store store(db.settings());
    std::array<int, 4> order{0, 1, 2, 3};
    std::vector<std::string> finals;
    std::int64_t id = 2000;
    do {
      ++id;
      const auto items = deliveries(id);
      for (const int i : order) {
        apply_one(store, items[static_cast<std::size_t>(i)]);
      }
      finals.push_back(normalized(db, id));
      // And all four in one batch, in this order.
      const auto batched = deliveries(id + 500);
      std::vector<model::delivery_item> batch;
      for (const int i : order) {
        batch.push_back(batched[static_cast<std::size_t>(i)]);
      }
      store.apply(batch);
      CHECK(normalized(db, id + 500) == finals.back());
    } while (std::next_permutation(order.begin(), order.end()));
    REQUIRE(finals.size() == 24);
    for (const auto& f : finals) {
      CHECK(f == finals.front());
    }
    // Each field from the newest state that carried it.
    const auto row = db.query("select p.title, p.tags, p.status, p.updated_at, "
                              "string_agg(v.variant_id - 20010 || ':' || v.price || ':' || "
                              "v.inventory_quantity || ':' || v.sku, ' ' order by v.variant_id) "
                              "from shopify.products p join shopify.product_variants v "
                              "using (shop_domain, product_id) where product_id = 2001 "
                              "group by p.title, p.tags, p.status, p.updated_at");
    REQUIRE(row.size() == 1);
    CHECK(row[0][0] == "three");
    CHECK(row[0][1] == "{b}");
    CHECK(row[0][2] == "active");
    CHECK(row[0][3] == "2026-03-01 12:00:00+00");
    CHECK(row[0][4] == "1:40.00:2:S1 3:50.00:3:S3");
  }

  TEST_CASE(
      "a category follows the ordering rule whichever order whole and trimmed states arrive in") {
    // Event 1, whole, in category aa-1. Event 2 reaches a subscription whose
    // include_fields has title and category only: aa-2. Event 3 reaches a
    // subscription without the category. Then event 4, whole, without one.
    const auto deliveries = [](std::int64_t id) {
      const std::string i = std::to_string(id);
      const std::string w1 = product_json(
          {id, "one", "2026-03-01T10:00:00Z", "a", "draft", {{id * 10 + 1, "10.00", "S1", 1, 1}}},
          "aa-1");
      const std::string t2 =
          R"({"id":)" + i +
          R"(,"title":"two","updated_at":"2026-03-01T11:00:00Z",)"
          R"("category":{"admin_graphql_api_id":"gid://shopify/TaxonomyCategory/aa-2",)"
          R"("name":"Two","full_name":"Apparel > Two"}})";
      const std::string t3 =
          R"({"id":)" + i + R"(,"title":"three","updated_at":"2026-03-01T12:00:00Z"})";
      return std::array<model::delivery_item, 3>{
          item_from_body("products/create", w1, "w1-" + i, "2026-03-01T10:00:01Z"),
          item_from_body("products/update", t2, "t2-" + i, "2026-03-01T11:00:01Z"),
          item_from_body("products/update", t3, "t3-" + i, "2026-03-01T12:00:01Z")};
    };
    const auto category_of = [](const test::test_database& db, std::int64_t id) {
      return db.scalar("select title || ' ' || coalesce(category_id, '-') || ' ' || "
                       "coalesce(category_name, '-') || ' ' || coalesce(category_full_name, '-') "
                       "from shopify.products where product_id = " +
                       std::to_string(id));
    };
    test::test_database db;
    db::delivery_store store(db.settings());
    std::array<int, 3> order{0, 1, 2};
    std::int64_t id = 3000;
    do {
      ++id;
      CAPTURE(id);
      const auto items = deliveries(id);
      for (const int i : order) {
        apply_one(store, items[static_cast<std::size_t>(i)]);
      }
      CHECK(category_of(db, id) == "three gid://shopify/TaxonomyCategory/aa-2 Two Apparel > Two");
    } while (std::next_permutation(order.begin(), order.end()));

    // A whole state without a category clears it.
    apply_one(store, item_from_body("products/update",
                                    product_json({id,
                                                  "four",
                                                  "2026-03-01T13:00:00Z",
                                                  "a",
                                                  "draft",
                                                  {{id * 10 + 1, "10.00", "S1", 1, 1}}}),
                                    "w4", "2026-03-01T13:00:01Z"));
    CHECK(category_of(db, id) == "four - - -");
  }

  TEST_CASE("a trimmed state that adds a variant before the whole state that has it") {
    // The whole state of event 2 is lost: variant 3 has the fields the
    // trimmed states carried, and nothing else, in either order.
    for (const bool trimmed_first : {true, false}) {
      CAPTURE(trimmed_first);
      test::test_database db;
      db::delivery_store store(db.settings());
      const auto w1 = item_from_body(
          "products/create",
          product_json(
              {5, "one", "2026-03-01T10:00:00Z", "a", "draft", {{51, "10.00", "S1", 1, 1}}}),
          "w1", "2026-03-01T10:00:01Z");
      const auto t2 = item_from_body(
          "products/update",
          R"({"id":5,"title":"two","updated_at":"2026-03-01T11:00:00Z","variants":[{"id":51,"price":"20.00"},{"id":53,"price":"30.00"}]})",
          "t2", "2026-03-01T11:00:01Z");
      apply_one(store, trimmed_first ? t2 : w1);
      apply_one(store, trimmed_first ? w1 : t2);
      CHECK(db.scalar("select title || ' ' || array_to_string(tags, ',') || ' ' || status from "
                      "shopify.products where product_id = 5") == "two a draft");
      CHECK(db.scalar("select string_agg(variant_id || ':' || coalesce(price::text, '-') || ':' || "
                      "coalesce(sku, '-') || ':' || coalesce(inventory_quantity::text, '-'), ' ' "
                      "order by variant_id) from shopify.product_variants where product_id = 5") ==
            "51:20.00:S1:1 53:30.00:-:-");
    }
  }

  TEST_CASE("a batch that runs out of time runs again without its heaviest delivery") {
    test::test_database db;
    auto settings = db.settings();
    // The heavy delivery's product row is held by another session below, so
    // its batch runs out of time however fast the machine is; the timeout is
    // far more than four small products take even on a loaded machine, and
    // the lock wait outlasts it, so that it is the statement timeout that
    // ends the batch (not the lock timeout, a path of its own).
    settings.statement_timeout = std::chrono::milliseconds(1500);
    settings.lock_timeout = std::chrono::milliseconds(60000);
    db::delivery_store store(settings);
    // A session's first calls plan the statements of the apply path (about
    // a tenth of a second here); a plan made before a timeout is kept. Done
    // first, so that the timeout below measures the work, not the planning.
    apply_outcome warm = apply_outcome::retry_later;
    for (int attempt = 0; attempt < 100 && warm != apply_outcome::applied; ++attempt) {
      warm = apply_one(
          store,
          item_from_body(
              "products/create",
              product_json(
                  {99, "Warm", "2026-01-01T00:00:00Z", "x", "active", {{990, "1.00", "S", 1, 1}}}),
              "warm-up", std::nullopt));
    }
    REQUIRE(warm == apply_outcome::applied);
    REQUIRE(apply_one(store, item_from_body("products/create",
                                            product_json({900,
                                                          "Heavy before",
                                                          "2025-12-01T00:00:00Z",
                                                          "x",
                                                          "active",
                                                          {{9001, "1.00", "S", 1, 1}}}),
                                            "heavy-before", std::nullopt)) ==
            apply_outcome::applied);
    pqxx::connection holder(db.url());
    pqxx::work held(holder);
    held.exec("select 1 from shopify.products where product_id = 900 for update");
    test::product_spec heavy{900, "Heavy", "2026-01-01T00:00:00Z", "x", "active", {}};
    for (int v = 1; v <= 2048; ++v) {
      heavy.variants.push_back(
          {900000 + v, "1.00", std::string(255, static_cast<char>('a' + v % 26)), v, v});
    }
    std::vector<model::delivery_item> batch;
    std::string heavy_body = product_json(heavy);
    const std::string body_html = "\"body_html\":\"<p>Body \\/ 900<\\/p>\"";
    REQUIRE(heavy_body.find(body_html) != std::string::npos);
    heavy_body.replace(heavy_body.find(body_html), body_html.size(),
                       "\"body_html\":\"" + std::string(4 * 1024 * 1024, 'x') + "\"");
    batch.push_back(item_from_body("products/create", heavy_body, "heavy", std::nullopt));
    for (int id = 1; id <= 4; ++id) {
      batch.push_back(item_from_body(
          "products/create",
          product_json(
              {id, "Light", "2026-01-01T00:00:00Z", "x", "active", {{id * 10, "1.00", "S", 1, 1}}}),
          "light-" + std::to_string(id), std::nullopt));
    }
    const auto outcomes = store.apply(batch);
    held.abort();
    REQUIRE(outcomes.size() == 5);
    CHECK(outcomes[0] == apply_outcome::retry_later); // Shopify sends it again
    for (std::size_t i = 1; i < 5; ++i) {
      CHECK(outcomes[i] == apply_outcome::applied);
    }
    // The warm-up, the light four and the heavy one's earlier state.
    CHECK(db.scalar("select count(*) from shopify.products") == "6");
    CHECK(db.scalar("select title from shopify.products where product_id = 900") == "Heavy before");
    CHECK(db.scalar("select count(*) from shopify.webhook_deliveries where webhook_id = 'heavy'") ==
          "0");
    // Sent again once the row is free, it applies.
    CHECK(apply_one(store, batch[0]) == apply_outcome::applied);
    CHECK(db.scalar("select title from shopify.products where product_id = 900") == "Heavy");
  }

  TEST_CASE("an app table's foreign key to a product survives its delete") {
    test::test_database db;
    db::delivery_store store(db.settings());
    apply_one(
        store,
        item_from_body("products/create",
                       product_json({31, "Webinar kit", "2026-08-01T00:00:00Z", "", "active", {}}),
                       "k1", std::nullopt));
    db.execute("create table kol_product_links ("
               "  kol_id bigint not null,"
               "  shop_domain text not null,"
               "  product_id bigint not null,"
               "  foreign key (shop_domain, product_id) references shopify.products (shop_domain, "
               "product_id))");
    db.execute("insert into kol_product_links values (1, '" + shop + "', 31)");
    CHECK(apply_one(store, test::delete_item(31, "k2", "2026-08-02T00:00:00Z")) ==
          apply_outcome::applied);
    CHECK(db.scalar(
              "select p.title || ' deleted=' || (p.deleted_at is not null) "
              "from kol_product_links l join shopify.products p using (shop_domain, product_id)") ==
          "Webinar kit deleted=true");
  }

  TEST_CASE("plans made while the mirror was empty still read by key once it has grown") {
    // Each connection caches its generic plans at its first batch; on empty
    // tables those were sequential scans, kept while the tables grew, so that
    // every later batch read every row (0004_key_plans.sql). One transaction,
    // so that PostgreSQL's per-transaction scan counters show every scan.
    test::test_database db;
    pqxx::connection connection(db.url());
    connection.prepare("apply", db::apply_statement_sql());
    pqxx::work tx(connection);
    const db::input_types types = db::lookup_input_types(tx);
    const auto apply = [&](const model::delivery_item& item) {
      std::vector<pqxx::binarystring> values;
      for (const auto& value : db::apply_parameters(std::span(&item, 1), types)) {
        values.emplace_back(value.data(), value.size()); // sent as binary parameters
      }
      const auto rows = tx.exec_prepared("apply", pqxx::prepare::make_dynamic_params(values));
      REQUIRE(rows.size() == 1);
      return rows[0][1].as<std::string>();
    };
    test::product_spec p{7,  "First",  "2026-01-01T10:00:00Z",
                         "", "active", {{71, "5.00", "A", 1, 1}}};
    CHECK(apply(item_from_body("products/create", product_json(p), "g-1", std::nullopt)) ==
          "applied");

    // The mirror grows: 20,000 products of 5 variants each.
    tx.exec("insert into shopify.products (shop_domain, product_id, version_updated_at, "
            "version_observed_at) select '" +
            shop +
            "', g, now(), now() "
            "from generate_series(1000, 20999) g");
    tx.exec("insert into shopify.product_variants (shop_domain, variant_id, product_id) "
            "select '" +
            shop +
            "', g * 10 + k, g from generate_series(1000, 20999) g, "
            "generate_series(1, 5) k");

    p.title = "Second";
    p.updated_at = "2026-01-01T11:00:00Z";
    p.variants.push_back({72, "6.00", "B", 2, 2});
    CHECK(apply(item_from_body("products/update", product_json(p), "g-2", std::nullopt)) ==
          "applied");
    p.title = "Third";
    p.updated_at = "2026-01-01T12:00:00Z";
    p.variants.erase(p.variants.begin()); // the delete of the variants not listed runs
    CHECK(apply(item_from_body("products/update", product_json(p), "g-3", std::nullopt)) ==
          "applied");
    CHECK(apply(test::delete_item(7, "g-4", "2026-01-01T13:00:00Z")) == "applied");

    for (const char* table :
         {"shopify.products", "shopify.product_variants", "shopify.webhook_deliveries"}) {
      INFO(table);
      CHECK(tx.exec1(std::string("select pg_stat_get_xact_numscans('") + table + "'::regclass)")[0]
                .as<int>() == 0);
    }
    CHECK(tx.exec1("select string_agg(variant_id::text, ',') from shopify.product_variants "
                   "where product_id = 7")[0]
              .as<std::string>() == "72");
  }
}

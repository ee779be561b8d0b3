// The counting behind the delivery log's summaries and limits: pure, the
// time passed in.

#include "ingest/delivery_log.hpp"

#include <doctest/doctest.h>

using namespace shopmirror::ingest;

TEST_SUITE("ingest") {

  TEST_CASE("the delivery tally counts per shop and outcome and summarizes once an interval") {
    using namespace std::chrono_literals;
    const auto start = delivery_tally::clock::time_point{} + 1h;
    delivery_tally tally(10s, 2, start);
    CHECK_FALSE(tally.take(start + 10s)); // nothing happened: no summary
    for (int i = 0; i < 1000; ++i) {
      tally.count("a.myshopify.com", "applied");
    }
    tally.count("b.myshopify.com", "applied");
    tally.count("a.myshopify.com", "duplicate");
    CHECK_FALSE(tally.take(start + 15s)); // the interval began again at 10 s
    const auto summary = tally.take(start + 20s);
    REQUIRE(summary);
    CHECK(summary->deliveries.size() == 3);
    CHECK(summary->deliveries.at({"a.myshopify.com", "applied"}) == 1000);
    CHECK(summary->deliveries.at({"b.myshopify.com", "applied"}) == 1);
    CHECK(summary->deliveries.at({"a.myshopify.com", "duplicate"}) == 1);
    CHECK(summary->covered == 10s);
    CHECK(summary->suppressed.empty());
    CHECK_FALSE(tally.take(start + 40s)); // counting started over
  }

  TEST_CASE("lines one by one are capped per kind and interval, the rest counted as suppressed") {
    using namespace std::chrono_literals;
    const auto start = delivery_tally::clock::time_point{} + 1h;
    delivery_tally tally(10s, 2, start);
    CHECK(tally.admit("retry_later", start));
    CHECK(tally.admit("retry_later", start + 1s));
    CHECK_FALSE(tally.admit("retry_later", start + 2s));
    CHECK_FALSE(tally.admit("retry_later", start + 3s));
    CHECK(tally.admit("dead_letter", start + 3s));  // each kind has its own allowance
    CHECK(tally.admit("retry_later", start + 12s)); // a new interval
    const auto summary = tally.take(start + 12s);
    REQUIRE(summary);
    CHECK(summary->deliveries.empty());
    CHECK(summary->suppressed.size() == 1);
    CHECK(summary->suppressed.at("retry_later") == 2);
    // The last summary, when the service stops, is taken early.
    CHECK(tally.admit("retry_later", start + 13s));
    CHECK_FALSE(tally.admit("retry_later", start + 13s));
    CHECK_FALSE(tally.take(start + 14s));
    const auto last = tally.take(start + 14s, true);
    REQUIRE(last);
    CHECK(last->suppressed.at("retry_later") == 1);
    CHECK(last->covered == 2s);
  }

} // TEST_SUITE

#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <doctest/doctest.h>

using namespace shopmirror;

TEST_SUITE("telemetry") {

TEST_CASE("JSON escaping keeps log lines valid whatever the input") {
  std::string out;
  telemetry::append_json_escaped(out, "a\"b\\c\nd\x01");
  CHECK(out == "a\\\"b\\\\c\\nd\\u0001");
  out.clear();
  telemetry::append_json_escaped(out, "caf\xc3\xa9 \xff \xe2\x82");
  CHECK(out == "caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
  out.clear();
  telemetry::append_json_escaped(out, "\xed\xa0\x80"); // a UTF-16 surrogate in UTF-8
  CHECK(out == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_CASE("the rate limiter lets a burst through per window - then counts what it drops") {
  telemetry::rate_limiter limiter(2, std::chrono::seconds(10));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  CHECK(limiter.allow("mismatch", t0).allowed);
  CHECK(limiter.allow("mismatch", t0).allowed);
  CHECK_FALSE(limiter.allow("mismatch", t0).allowed);
  CHECK_FALSE(limiter.allow("mismatch", t0).allowed);
  CHECK(limiter.allow("missing", t0).allowed); // keys are independent
  const auto later = limiter.allow("mismatch", t0 + std::chrono::seconds(11));
  CHECK(later.allowed);
  CHECK(later.suppressed == 2);
}

TEST_CASE("Prometheus exposition") {
  telemetry::registry registry;
  auto& deliveries = registry.add_counter("t_deliveries_total", "Deliveries.", {"shop", "outcome"});
  auto& latency = registry.add_histogram("t_latency_seconds", "Latency.", {}, {0.1, 1});
  auto& depth = registry.add_gauge("t_depth", "Depth.");
  deliveries.with({"a.myshopify.com", "applied"}).inc(3);
  deliveries.with({"b\"x", "stale"}).inc();
  latency.with({}).observe(0.05);
  latency.with({}).observe(0.5);
  latency.with({}).observe(5);
  registry.on_collect([&] { depth.with({}).set(7); });
  const std::string text = registry.expose();
  CHECK(text.find("# TYPE t_deliveries_total counter") != std::string::npos);
  CHECK(text.find("t_deliveries_total{shop=\"a.myshopify.com\",outcome=\"applied\"} 3") !=
        std::string::npos);
  CHECK(text.find("t_deliveries_total{shop=\"b\\\"x\",outcome=\"stale\"} 1") != std::string::npos);
  CHECK(text.find("t_latency_seconds_bucket{le=\"0.1\"} 1") != std::string::npos);
  CHECK(text.find("t_latency_seconds_bucket{le=\"1\"} 2") != std::string::npos);
  CHECK(text.find("t_latency_seconds_bucket{le=\"+Inf\"} 3") != std::string::npos);
  CHECK(text.find("t_latency_seconds_count 3") != std::string::npos);
  CHECK(text.find("t_depth 7") != std::string::npos);
}

}

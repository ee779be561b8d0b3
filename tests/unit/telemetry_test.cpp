#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/process_metrics.hpp"

#include <cstdlib>
#include <ctime>

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
    auto& deliveries =
        registry.add_counter("t_deliveries_total", "Deliveries.", {"shop", "outcome"});
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
    CHECK(text.find("t_deliveries_total{shop=\"b\\\"x\",outcome=\"stale\"} 1") !=
          std::string::npos);
    CHECK(text.find("t_latency_seconds_bucket{le=\"0.1\"} 1") != std::string::npos);
    CHECK(text.find("t_latency_seconds_bucket{le=\"1\"} 2") != std::string::npos);
    CHECK(text.find("t_latency_seconds_bucket{le=\"+Inf\"} 3") != std::string::npos);
    CHECK(text.find("t_latency_seconds_count 3") != std::string::npos);
    CHECK(text.find("t_depth 7") != std::string::npos);
  }

  TEST_CASE("/proc/self/stat is read past a command name with spaces and parentheses") {
    // Fields 3.. of a real line, after a name that would break a naive split.
    const std::string line =
        "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 5 0 123456 "
        "987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
    const auto stat = telemetry::parse_proc_stat(line);
    REQUIRE(stat.has_value());
    CHECK(stat->utime_ticks == 250);
    CHECK(stat->stime_ticks == 75);
    CHECK(stat->start_ticks == 123456);
    CHECK(stat->vsize_bytes == 987654321);
    CHECK_FALSE(telemetry::parse_proc_stat("4242 no parentheses 1 2 3").has_value());
    CHECK_FALSE(telemetry::parse_proc_stat("4242 (short) S 1 2").has_value());
  }

  TEST_CASE("process metrics describe this process") {
    // Burn a little CPU so the count cannot be zero.
    volatile double x = 0;
    for (int i = 0; i < 20'000'000; ++i) {
      x = x + 1;
    }
    const auto sample = telemetry::sample_process();
    REQUIRE(sample.has_value());
    CHECK(sample->cpu_seconds > 0);
    CHECK(sample->resident_bytes > 1024 * 1024);
    CHECK(sample->virtual_bytes >= sample->resident_bytes);
    CHECK(sample->open_fds >= 3);
    CHECK(sample->max_fds >= sample->open_fds);
    // Started within the last hour (this test binary), and not in the future.
    const double now = static_cast<double>(std::time(nullptr));
    CHECK(sample->start_time_seconds <= now + 1);
    CHECK(sample->start_time_seconds > now - 3600);

    telemetry::registry registry;
    telemetry::add_process_metrics(registry, "9.9.9");
    const std::string text = registry.expose();
    CHECK(text.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
    CHECK(text.find("\nprocess_cpu_seconds_total ") != std::string::npos);
    CHECK(text.find("# TYPE process_resident_memory_bytes gauge") != std::string::npos);
    CHECK(text.find("\nprocess_open_fds ") != std::string::npos);
    CHECK(text.find("\nprocess_start_time_seconds ") != std::string::npos);
    CHECK(text.find("shopmirror_build_info{version=\"9.9.9\"} 1") != std::string::npos);
  }
}

// shopmirror-loadgen: signed product webhooks at a fixed rate or as fast as
// the service answers, over kept-alive connections, then a check of the
// database against what was acknowledged.
//
//   shopmirror-loadgen --url http://127.0.0.1:8080/webhooks/shopify --secret S
//     --rate 8000 --duration 60 --connections 64 --check-db "host=... dbname=..."
//
// At a fixed rate each request has an intended send time, and its latency is
// measured from that time, so a stalled service cannot hide its stall by
// slowing the sender down (no coordinated omission).

#include "bench/process_cpu.hpp"
#include "cli/arguments.hpp"
#include "crypto/base64.hpp"
#include "crypto/hmac.hpp"
#include "net/url.hpp"
#include "tests/support/payloads.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <pqxx/pqxx>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include <unistd.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using clock_type = std::chrono::steady_clock;
using namespace shopmirror;

namespace {

struct options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string target = "/webhooks/shopify";
  std::string secret;
  std::string shop = "bench.myshopify.com";
  double rate = 0; // requests per second; 0 = as fast as answered
  double duration = 10;
  int connections = 32;
  int products = 10000;
  test::workload workload = test::workload::worst;
  double duplicate_share = 0.02;
  double stale_share = 0.02;
  std::uint64_t seed = 1;
  std::string check_db;
  int watch_pid = 0;
  int postgres_pid = 0;
};

struct request {
  std::string webhook_id;
  std::int64_t product = 0;
  int version = 0;
  /// The whole HTTP request as sent: headers as Shopify sends them, then
  /// the body. Built once; a duplicate resends the same bytes.
  std::string wire;
};

struct result {
  std::string webhook_id;
  std::int64_t product = 0;
  int version = 0;
  int status = 0; // 0: no answer (connection failed)
  std::string outcome;
};

// Makes each next request: mostly a product's next version, some exact
// duplicates of earlier deliveries, some older versions sent late.
class generator {
public:
  explicit generator(const options& o) : options_(o), key_(o.secret), random_(o.seed) {
    variants_.resize(static_cast<std::size_t>(o.products));
    for (auto& v : variants_) {
      v = test::variant_count(random_);
    }
    versions_.assign(static_cast<std::size_t>(o.products), 0);
  }

  // Shared, not copied: a duplicate resends the very request it repeats, and
  // copying each request's few kilobytes into the recent ones cost the
  // machine the service is measured on.
  std::shared_ptr<const request> next() {
    const double p = std::uniform_real_distribution<double>(0, 1)(random_);
    if (p < options_.duplicate_share && !recent_.empty()) {
      return recent_[std::uniform_int_distribution<std::size_t>(0, recent_.size() - 1)(random_)];
    }
    const auto index = std::uniform_int_distribution<std::size_t>(
        0, static_cast<std::size_t>(options_.products) - 1)(random_);
    auto made = std::make_shared<request>();
    request& r = *made;
    r.product = 7'000'000'000'000 + static_cast<std::int64_t>(index);
    if (p < options_.duplicate_share + options_.stale_share && versions_[index] >= 2) {
      r.version = std::uniform_int_distribution<int>(1, versions_[index] - 1)(random_);
    } else {
      r.version = ++versions_[index];
    }
    r.webhook_id = "lg-" + std::to_string(options_.seed) + "-" + std::to_string(++counter_);
    const std::string body =
        test::product_body(r.product, r.version, variants_[index], options_.workload);
    const std::string signature = crypto::base64_encode(key_.sign(body));
    const std::string triggered_at = test::updated_at_of(r.version);
    const std::string length = std::to_string(body.size());
    // Appended in place: the request is written once, into room for all of it.
    r.wire.reserve(body.size() + 512);
    for (const std::string_view piece : std::initializer_list<std::string_view>{
             "POST ", options_.target, " HTTP/1.1\r\nHost: ", options_.host,
             "\r\nUser-Agent: Shopify-Captain-Hook\r\nContent-Type: application/json"
             "\r\nX-Shopify-Topic: products/update\r\nX-Shopify-Hmac-Sha256: ",
             signature, "\r\nX-Shopify-Shop-Domain: ", options_.shop,
             "\r\nX-Shopify-API-Version: 2026-10\r\nX-Shopify-Webhook-Id: ", r.webhook_id,
             "\r\nX-Shopify-Triggered-At: ", triggered_at, "\r\nContent-Length: ", length,
             "\r\n\r\n", body}) {
      r.wire += piece;
    }
    if (recent_.size() < 1024) {
      recent_.push_back(made);
    } else {
      recent_[counter_ % 1024] = made;
    }
    return made;
  }

private:
  const options& options_;
  crypto::hmac_sha256_key key_;
  std::mt19937_64 random_;
  std::vector<int> variants_;
  std::vector<int> versions_;
  std::vector<std::shared_ptr<const request>> recent_;
  std::uint64_t counter_ = 0;
};

struct run_state {
  const options* o = nullptr;
  generator* make = nullptr;
  clock_type::time_point start;
  clock_type::time_point end;
  std::uint64_t next_slot = 0;
  std::vector<result> results;
  std::vector<double> latencies_ms;
  std::uint64_t connection_errors = 0;
};

std::string outcome_of(const std::string& body) {
  const auto at = body.find("\"outcome\":\"");
  if (at == std::string::npos) {
    return "";
  }
  return body.substr(at + 11, body.find('"', at + 11) - at - 11);
}

asio::awaitable<void> connection(run_state& s, asio::ip::tcp::resolver::results_type endpoints) {
  auto executor = co_await asio::this_coro::executor;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  asio::steady_timer timer(executor);
  const auto use = asio::as_tuple(asio::use_awaitable);
  for (;;) {
    clock_type::time_point intended = clock_type::now();
    if (s.o->rate > 0) {
      const std::uint64_t slot = s.next_slot++;
      intended =
          s.start + std::chrono::duration_cast<clock_type::duration>(
                        std::chrono::duration<double>(static_cast<double>(slot) / s.o->rate));
      if (intended >= s.end) {
        co_return;
      }
      if (intended > clock_type::now()) {
        timer.expires_at(intended);
        co_await timer.async_wait(use);
      }
    } else if (clock_type::now() >= s.end) {
      co_return;
    }
    const std::shared_ptr<const request> next = s.make->next();
    const request& r = *next;
    if (!stream) {
      stream.emplace(executor);
      stream->expires_after(std::chrono::seconds(5));
      auto [ec, ep] = co_await stream->async_connect(endpoints, use);
      if (ec) {
        ++s.connection_errors;
        s.results.push_back({r.webhook_id, r.product, r.version, 0, ""});
        stream.reset();
        continue;
      }
      stream->socket().set_option(asio::ip::tcp::no_delay(true));
    }
    if (s.o->rate <= 0) {
      intended = clock_type::now();
    }
    stream->expires_after(std::chrono::seconds(10));
    auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(r.wire), use);
    http::response<http::string_body> res;
    beast::error_code rec = wec;
    if (!wec) {
      auto [ec, n] = co_await http::async_read(*stream, buffer, res, use);
      rec = ec;
    }
    if (rec) {
      ++s.connection_errors;
      s.results.push_back({r.webhook_id, r.product, r.version, 0, ""});
      stream.reset();
      buffer.clear();
      continue;
    }
    s.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(clock_type::now() - intended).count());
    s.results.push_back({r.webhook_id, r.product, r.version, static_cast<int>(res.result_int()),
                         outcome_of(res.body())});
    if (!res.keep_alive()) {
      stream.reset();
    }
  }
}

long rss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return 0;
}

// CPU time in clock ticks, read before and after the run. Per request, the
// service's share is far steadier than its throughput on a shared machine,
// and the shares show where the cores went.
struct cpu_ticks {
  long long service = 0;  // the watched process
  long long postgres = 0; // the watched PostgreSQL server, every process of it
  long long self = 0;     // this load generator
  long long machine = 0;  // every CPU busy
};

cpu_ticks read_cpu(const options& o) {
  cpu_ticks t;
  if (o.watch_pid > 0) {
    t.service = bench::process_ticks(o.watch_pid);
  }
  if (o.postgres_pid > 0) {
    t.postgres = bench::process_tree_ticks(o.postgres_pid);
  }
  t.self = bench::process_ticks(static_cast<int>(getpid()));
  t.machine = bench::machine_ticks();
  return t;
}

// Where the cores went, per answered request.
void print_cpu(const options& o, const cpu_ticks& after, const cpu_ticks& before,
               std::uint64_t answered, double seconds) {
  const auto per_request = [&](long long ticks) {
    return static_cast<double>(ticks) * bench::micros_per_tick() / static_cast<double>(answered);
  };
  const long long service = after.service - before.service;
  const long long postgres = after.postgres - before.postgres;
  const long long self = after.self - before.self;
  const long long machine = after.machine - before.machine;
  std::printf("cpu us per answered request: machine %.1f = ", per_request(machine));
  if (o.watch_pid > 0) {
    std::printf("service %.1f + ", per_request(service));
  }
  if (o.postgres_pid > 0) {
    std::printf("PostgreSQL %.1f + ", per_request(postgres));
  }
  std::printf("load generator %.1f + the rest %.1f; %.2f of %ld cores busy\n", per_request(self),
              per_request(machine - service - postgres - self),
              static_cast<double>(machine) * bench::micros_per_tick() / 1e6 / seconds,
              sysconf(_SC_NPROCESSORS_ONLN));
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

// The database against what the service acknowledged. Returns the number of
// violations.
int check(const options& o, const std::vector<result>& results) {
  pqxx::connection connection(o.check_db);
  pqxx::work tx(connection);
  tx.exec("create temporary table acked (webhook_id text primary key) on commit drop");
  tx.exec("create temporary table newest (product_id bigint primary key, updated_at timestamptz, "
          "observed_at timestamptz) on commit drop");
  std::map<std::int64_t, int> newest;
  std::unordered_map<std::string, int> applied_answers;
  std::size_t acked = 0;
  {
    pqxx::stream_to acked_rows(tx, "acked", std::vector<std::string>{"webhook_id"});
    std::unordered_map<std::string, bool> seen;
    for (const auto& r : results) {
      if (r.status != 200) {
        continue;
      }
      if (!seen.emplace(r.webhook_id, true).second) {
        continue;
      }
      acked_rows << std::make_tuple(r.webhook_id);
      ++acked;
    }
    acked_rows.complete();
  }
  for (const auto& r : results) {
    if (r.status == 200) {
      auto& v = newest[r.product];
      v = std::max(v, r.version);
      if (r.outcome == "applied") {
        ++applied_answers[r.webhook_id];
      }
    }
  }
  {
    // The newest version's updated_at is its edit's; it was observed when
    // it was triggered (X-Shopify-Triggered-At: the version's own time).
    pqxx::stream_to rows(tx, "newest",
                         std::vector<std::string>{"product_id", "updated_at", "observed_at"});
    for (const auto& [product, version] : newest) {
      rows << std::make_tuple(product, test::updated_at_of(test::edit_of(o.workload, version)),
                              test::updated_at_of(version));
    }
    rows.complete();
  }
  const auto missing = tx.exec1("select count(*) from acked a where not exists (select 1 from "
                                "shopify.webhook_deliveries d where d.shop_domain = " +
                                tx.quote(o.shop) + " and d.webhook_id = a.webhook_id)")[0]
                           .as<long>();
  const auto wrong = tx.exec1("select count(*) from newest n left join shopify.products p on "
                              "p.shop_domain = " +
                              tx.quote(o.shop) +
                              " and p.product_id = n.product_id where p.updated_at is distinct "
                              "from n.updated_at or p.version_observed_at is distinct from "
                              "n.observed_at")[0]
                         .as<long>();
  long twice = 0;
  for (const auto& [id, n] : applied_answers) {
    twice += n > 1 ? 1 : 0;
  }
  std::printf("check: %zu acknowledged deliveries, %ld missing from the delivery log, %ld "
              "applied twice, %zu products, %ld not at the newest acknowledged version\n",
              acked, missing, twice, newest.size(), wrong);
  return static_cast<int>(missing + twice + wrong);
}

const cli::command_spec program{
    .name = "",
    .usage = "usage: shopmirror-loadgen --url http://HOST:PORT/webhooks/shopify --secret S\n"
             "  [--rate PER_SECOND (0: as fast as answered)] [--duration SECONDS]\n"
             "  [--connections N] [--products N] [--duplicates SHARE] [--stale SHARE]\n"
             "  [--workload worst|inventory]\n"
             "  [--seed N] [--shop DOMAIN] [--check-db LIBPQ_URL] [--watch-pid PID]\n"
             "  [--postgres-pid POSTMASTER_PID]\n",
    .valued = {"--url", "--secret", "--shop", "--rate", "--duration", "--connections", "--products",
               "--duplicates", "--stale", "--workload", "--seed", "--check-db", "--watch-pid",
               "--postgres-pid"},
    .program = "shopmirror-loadgen",
};

options read_options(const cli::arguments& args) {
  options o;
  if (args.has("--url")) {
    const auto url = net::parse_url(args.value_or("--url", ""));
    if (!url || url->tls) {
      throw cli::argument_error("--url is an http:// URL (the load goes to loopback, unencrypted)");
    }
    o.host = url->host;
    o.port = url->port.empty() ? "80" : url->port;
    o.target = url->target == "/" ? "/webhooks/shopify" : url->target;
  }
  o.secret = args.required("--secret");
  o.shop = args.value_or("--shop", o.shop);
  o.rate = args.number_or("--rate", o.rate, 0);
  o.duration = args.number_or("--duration", o.duration, 0);
  o.connections = static_cast<int>(args.integer_or("--connections", o.connections, 1, 100000));
  o.products = static_cast<int>(args.integer_or("--products", o.products, 1, 100000000));
  o.duplicate_share = args.number_or("--duplicates", o.duplicate_share, 0);
  o.stale_share = args.number_or("--stale", o.stale_share, 0);
  if (args.has("--workload")) {
    const auto w = test::parse_workload(args.value_or("--workload", ""));
    if (!w) {
      throw cli::argument_error("--workload is worst or inventory");
    }
    o.workload = *w;
  }
  o.seed = static_cast<std::uint64_t>(args.integer_or("--seed", 1, 0));
  o.check_db = args.value_or("--check-db", "");
  o.watch_pid = static_cast<int>(args.integer_or("--watch-pid", 0, 0, 1 << 30));
  o.postgres_pid = static_cast<int>(args.integer_or("--postgres-pid", 0, 0, 1 << 30));
  return o;
}

} // namespace

int run(const options& o) {
  asio::io_context context(1);
  asio::ip::tcp::resolver resolver(context);
  const auto endpoints = resolver.resolve(o.host, o.port);
  generator make(o);
  run_state s;
  s.o = &o;
  s.make = &make;
  s.start = clock_type::now() + std::chrono::milliseconds(50);
  s.end = s.start + std::chrono::duration_cast<clock_type::duration>(
                        std::chrono::duration<double>(o.duration));
  for (int c = 0; c < o.connections; ++c) {
    asio::co_spawn(context, connection(s, endpoints), asio::detached);
  }
  long peak_rss = 0;
  asio::steady_timer sampler(context);
  std::function<void()> sample = [&] {
    if (o.watch_pid > 0) {
      peak_rss = std::max(peak_rss, rss_kb(o.watch_pid));
    }
    if (clock_type::now() < s.end) {
      sampler.expires_after(std::chrono::milliseconds(100));
      sampler.async_wait([&](beast::error_code) { sample(); });
    }
  };
  sample();
  const cpu_ticks cpu_before = read_cpu(o);
  context.run();
  const cpu_ticks cpu_after = read_cpu(o);
  const double seconds = std::chrono::duration<double>(clock_type::now() - s.start).count();

  std::map<int, std::uint64_t> statuses;
  std::map<std::string, std::uint64_t> outcomes;
  for (const auto& r : s.results) {
    ++statuses[r.status];
    if (r.status == 200) {
      ++outcomes[r.outcome];
    }
  }
  std::sort(s.latencies_ms.begin(), s.latencies_ms.end());
  std::printf("requests: %zu in %.1f s = %.0f/s (target %s)\n", s.results.size(), seconds,
              static_cast<double>(s.results.size()) / seconds,
              o.rate > 0 ? std::to_string(static_cast<long>(o.rate)).c_str()
                         : "as fast as answered");
  std::printf("statuses:");
  for (const auto& [status, n] : statuses) {
    std::printf(" %s=%llu", status == 0 ? "no-answer" : std::to_string(status).c_str(),
                static_cast<unsigned long long>(n));
  }
  std::printf("\noutcomes:");
  for (const auto& [outcome, n] : outcomes) {
    std::printf(" %s=%llu", outcome.c_str(), static_cast<unsigned long long>(n));
  }
  std::printf("\nlatency ms: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
              percentile(s.latencies_ms, 0.50), percentile(s.latencies_ms, 0.99),
              percentile(s.latencies_ms, 0.999),
              s.latencies_ms.empty() ? 0.0 : s.latencies_ms.back());
  if (o.watch_pid > 0) {
    std::printf("service peak RSS: %.1f MB\n", static_cast<double>(peak_rss) / 1024.0);
  }
  const auto unanswered = statuses.find(0);
  const std::uint64_t answered =
      s.results.size() - (unanswered == statuses.end() ? 0 : unanswered->second);
  if (answered > 0) {
    print_cpu(o, cpu_after, cpu_before, answered, seconds);
  }
  if (!o.check_db.empty()) {
    return check(o, s.results) == 0 ? 0 : 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  return cli::run_program(program, argc, argv,
                          [](const cli::arguments& args) { return run(read_options(args)); });
}

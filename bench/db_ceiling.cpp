// shopmirror-db-ceiling: the database's ceiling for webhooks, measured with
// the service's own database path. Several clients, each a thread with a
// db::delivery_store of its own (the very code a writer thread runs: the
// same statement, the same parameters in the same wire format), apply
// batches of realistic product updates for a while; the rate of committed
// deliveries is the most the database can take, with no HTTP, signature or
// JSON work beside it.
//
//   shopmirror-db-ceiling --database URL --batch 64 --clients 2 --duration 60
//                         [--workload worst|inventory] [--postgres-pid PID]
//
// With --postgres-pid (the postmaster's, first line of postmaster.pid), it
// also reports the CPU the whole server spent per committed webhook: the
// cost of the apply path in the database, steadier than the rate on a
// shared machine.
//
// Products (10,000, with test::variant_count's variants) are mapped once
// before the clock starts; each delivery is a copy with a new webhook id
// and a newer version of a random product, so every state applies. Under
// the worst workload (the default) each version moves updated_at, so every
// variant is rewritten; under `inventory` (tests/support/payloads.hpp) 9 versions
// in 10 change one variant's inventory and keep updated_at, as the load
// generator's updates do with the same option.

#include "bench/process_cpu.hpp"
#include "cli/arguments.hpp"
#include "db/delivery_store.hpp"
#include "model/webhook_payload.hpp"
#include "tests/support/payloads.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace shopmirror;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::string database;
  int batch = 64;
  int clients = 2;
  double duration = 60;
  int products = 10000;
  test::workload workload = test::workload::worst;
  int postgres_pid = 0;
};

const cli::command_spec program{
    .name = "",
    .usage =
        "usage: shopmirror-db-ceiling --database URL [--batch N] [--clients N] "
        "[--duration SECONDS] [--products N] [--workload worst|inventory] [--postgres-pid PID]\n",
    .valued = {"--database", "--batch", "--clients", "--duration", "--products", "--workload",
               "--postgres-pid"},
    .program = "shopmirror-db-ceiling",
};

options read_options(const cli::arguments& args) {
  options o;
  o.database = args.required("--database");
  o.batch = static_cast<int>(args.integer_or("--batch", o.batch, 1, 100000));
  o.clients = static_cast<int>(args.integer_or("--clients", o.clients, 1, 1000));
  o.duration = args.number_or("--duration", o.duration, 0);
  o.products = static_cast<int>(args.integer_or("--products", o.products, 1, 100000000));
  o.postgres_pid = static_cast<int>(args.integer_or("--postgres-pid", 0, 0, 1 << 30));
  if (args.has("--workload")) {
    const auto w = test::parse_workload(args.value_or("--workload", ""));
    if (!w) {
      throw cli::argument_error("--workload is worst or inventory");
    }
    o.workload = *w;
  }
  if (o.duration <= 0) {
    throw cli::argument_error("--duration is a number of seconds above 0");
  }
  return o;
}

model::upsert_product mapped(std::int64_t product, int variants) {
  auto action =
      model::action_for(model::webhook_topic::products_update, "bench.myshopify.com",
                        test::product_body(product, 1, variants), model::stub_fetch::possible);
  auto* upsert = std::get_if<model::upsert_product>(&action);
  if (upsert == nullptr) {
    std::fprintf(stderr, "a generated product does not map\n");
    std::exit(1);
  }
  return std::move(*upsert);
}

// What the clients share: the products, each one's latest version, and the
// counts of outcomes.
struct shared_state {
  std::vector<model::upsert_product> templates;
  std::vector<std::atomic<std::int64_t>> versions;
  std::atomic<std::uint64_t> committed{0};
  std::atomic<std::uint64_t> refused{0};
  // A database that still holds an earlier run's rows answers its repeated
  // webhook ids as duplicates, which is far cheaper than applying them. (A
  // few stale versions are expected: two clients may race on one product.)
  std::atomic<std::uint64_t> duplicates{0};
};

// The next delivery of a random product: its next version under the workload.
model::delivery_item next_delivery(const options& o, shared_state& s, std::mt19937_64& pick,
                                   int client, std::uint64_t counter) {
  std::uniform_int_distribution<std::size_t> product(0, s.templates.size() - 1);
  const std::size_t index = product(pick);
  model::upsert_product upsert = s.templates[index];
  // A second per edit, as test::product_body's versions move.
  const auto version = static_cast<int>(s.versions[index].fetch_add(1) + 1);
  upsert.state.updated_at.micros_since_epoch +=
      std::int64_t{test::edit_of(o.workload, version)} * 1'000'000;
  const int count = static_cast<int>(upsert.state.variants.size());
  for (int v = 0; v < count; ++v) {
    auto& variant = upsert.state.variants[static_cast<std::size_t>(v)];
    variant.updated_at = upsert.state.updated_at;
    if (o.workload == test::workload::inventory) {
      variant.inventory_quantity = test::inventory_at(o.workload, version, v + 1, count);
    }
  }
  model::delivery meta;
  meta.shop_domain = "bench.myshopify.com";
  meta.webhook_id = "ceiling-" + std::to_string(client) + "-" + std::to_string(counter);
  meta.topic = "products/update";
  meta.api_version = "2026-10";
  meta.received_at = model::now();
  meta.triggered_at = meta.received_at;
  return {std::move(meta), std::move(upsert)};
}

// One client: a db::delivery_store of its own applying batches until `end`.
// Its connection stays open until `measured`: a backend that exits while the
// server's CPU is read could be counted in neither its parent's reaped
// children nor the live ones.
void run_client(const options& o, shared_state& s, int client, clock_type::time_point end,
                std::latch& finished, std::latch& measured) {
  db::db_settings settings;
  settings.url = o.database;
  settings.statement_timeout = std::chrono::milliseconds(30000);
  settings.lock_timeout = std::chrono::milliseconds(30000);
  db::delivery_store store(settings);
  std::mt19937_64 pick(1000 + static_cast<std::uint64_t>(client));
  std::uint64_t counter = 0;
  std::vector<model::delivery_item> items;
  while (clock_type::now() < end) {
    items.clear();
    for (int i = 0; i < o.batch; ++i) {
      items.push_back(next_delivery(o, s, pick, client, ++counter));
    }
    for (const model::apply_outcome outcome : store.apply(items)) {
      (model::is_durable(outcome) ? s.committed : s.refused).fetch_add(1);
      if (outcome == model::apply_outcome::duplicate) {
        s.duplicates.fetch_add(1);
      }
    }
  }
  finished.count_down();
  measured.wait();
}

} // namespace

int run(const options& o) {
  std::mt19937_64 random(42);
  shared_state s;
  s.templates.reserve(static_cast<std::size_t>(o.products));
  for (int p = 0; p < o.products; ++p) {
    s.templates.push_back(mapped(7'000'000'000'000 + p, test::variant_count(random)));
  }
  s.versions = std::vector<std::atomic<std::int64_t>>(static_cast<std::size_t>(o.products));

  const long long postgres_before =
      o.postgres_pid > 0 ? bench::process_tree_ticks(o.postgres_pid) : 0;
  const auto start = clock_type::now();
  const auto end = start + std::chrono::duration_cast<clock_type::duration>(
                               std::chrono::duration<double>(o.duration));
  std::latch finished(o.clients);
  std::latch measured(1);
  std::vector<std::thread> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.emplace_back([&, c] { run_client(o, s, c, end, finished, measured); });
  }
  finished.wait();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  const long long postgres_ticks =
      o.postgres_pid > 0 ? bench::process_tree_ticks(o.postgres_pid) - postgres_before : 0;
  measured.count_down();
  for (auto& client : clients) {
    client.join();
  }
  const auto committed = s.committed.load();
  std::printf("ceiling batch=%d clients=%d: %.0f webhooks/s (%llu committed in %.1f s, %llu "
              "refused)\n",
              o.batch, o.clients, static_cast<double>(committed) / seconds,
              static_cast<unsigned long long>(committed), seconds,
              static_cast<unsigned long long>(s.refused.load()));
  if (o.postgres_pid > 0 && committed > 0) {
    const long long ticks = postgres_ticks;
    std::printf("PostgreSQL cpu us per webhook: %.1f (%.2f cores busy)\n",
                static_cast<double>(ticks) * bench::micros_per_tick() /
                    static_cast<double>(committed),
                static_cast<double>(ticks) * bench::micros_per_tick() / 1e6 / seconds);
  }
  if (s.duplicates.load() > 0) {
    std::fprintf(stderr,
                 "%llu deliveries were duplicates: the database holds an earlier run's rows, so "
                 "this rate is not the ceiling; truncate shopify.webhook_deliveries, "
                 "shopify.product_variants and shopify.products first (bench/webhooks.sh does)\n",
                 static_cast<unsigned long long>(s.duplicates.load()));
    return 1;
  }
  return s.refused.load() == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  return cli::run_program(program, argc, argv,
                          [](const cli::arguments& args) { return run(read_options(args)); });
}

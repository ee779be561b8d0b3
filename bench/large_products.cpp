// How long the apply path takes for one product with many variants: a
// products/create of a product with N variants (the insert), then a
// products/update that changes every variant (the update), each applied
// alone through the service's own database path (db::delivery_store: the
// statement and parameters a writer thread sends), so the figure is the
// database's time plus the round trip. Shopify allows 2,048 variants per
// product; variant fields run to 255 characters. See bench/large_products.sh.
//
//   shopmirror-large-products --url CONNINFO [--variants 100,1000,2048]
//                             [--runs 5] [--field-length 255] [--trimmed]
//
// --trimmed leaves each variant's barcode out, as a subscription's
// include_fields may: the apply path then merges field by field.

#include "cli/arguments.hpp"
#include "db/delivery_store.hpp"
#include "model/webhook_payload.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace shopmirror;

namespace {

struct options {
  std::string url;
  std::vector<int> variants{100, 1000, 2048};
  int runs = 5;
  std::size_t field_length = 255;
  bool trimmed = false;
};

const cli::command_spec program{
    .name = "",
    .usage = "usage: shopmirror-large-products --url CONNINFO [--variants 100,1000,2048] "
             "[--runs 5] [--field-length 255] [--trimmed]\n",
    .flags = {"--trimmed"},
    .valued = {"--url", "--variants", "--runs", "--field-length"},
    .program = "shopmirror-large-products",
};

options read_options(const cli::arguments& args) {
  options o;
  o.url = args.required("--url");
  const auto counts = args.counts_or("--variants", {o.variants.begin(), o.variants.end()}, 100000);
  o.variants.assign(counts.begin(), counts.end());
  o.runs = static_cast<int>(args.integer_or("--runs", o.runs, 1, 1000));
  o.field_length = static_cast<std::size_t>(
      args.integer_or("--field-length", static_cast<std::int64_t>(o.field_length), 1, 1000000));
  o.trimmed = args.has("--trimmed");
  return o;
}

/// `text` padded with a letter pattern to `length` characters.
std::string padded(std::string text, std::size_t length) {
  while (text.size() < length) {
    text += static_cast<char>('a' + text.size() % 26);
  }
  text.resize(length);
  return text;
}

/// A products/create or update body: `variants` variants whose text fields
/// are `length` characters; `version` moves updated_at, every price and
/// inventory level, and every text field.
std::string product_body(std::int64_t id, int variants, int version, std::size_t length,
                         bool trimmed) {
  char updated[32];
  std::snprintf(updated, sizeof updated, "2026-06-01T10:%02d:%02dZ", version / 60 % 60,
                version % 60);
  std::string body =
      R"({"id":)" + std::to_string(id) + R"(,"title":")" +
      padded("Large product " + std::to_string(id) + " v" + std::to_string(version), length) +
      R"(","handle":"large-)" + std::to_string(id) +
      R"(","vendor":"Acme","product_type":"Parts","status":"active",)"
      R"("tags":"bulk, large","body_html":"<p>Many variants.</p>",)"
      R"("created_at":"2026-01-01T00:00:00Z","published_at":null,"category":null,)"
      R"("updated_at":")" +
      updated + R"(","variants":[)";
  for (int v = 1; v <= variants; ++v) {
    const std::string n = std::to_string(v) + "-" + std::to_string(version) + "-";
    body += v == 1 ? "" : ",";
    body += R"({"id":)" + std::to_string(id * 10000 + v) + R"(,"product_id":)" +
            std::to_string(id) + R"(,"title":")" + padded("T" + n, length) + R"(","sku":")" +
            padded("SKU" + n, length) + R"(","price":")" + std::to_string(10 + version) + "." +
            std::to_string(v % 100) + R"(","compare_at_price":null,"position":)" +
            std::to_string(v) + R"(,"option1":")" + padded("A" + n, length) + R"(","option2":")" +
            padded("B" + n, length) + R"(","option3":")" + padded("C" + n, length) +
            (trimmed ? std::string() : R"(","barcode":")" + padded("0" + n, length)) +
            R"(","inventory_quantity":)" + std::to_string((v * 7 + version) % 1000) +
            R"(,"updated_at":")" + updated + R"("})";
  }
  body += "]}";
  return body;
}

model::delivery_item delivery(const std::string& topic, std::string body, const std::string& id) {
  model::delivery meta;
  meta.shop_domain = "bench-large.myshopify.com";
  meta.webhook_id = id;
  meta.topic = topic;
  meta.received_at = model::now();
  return {meta, model::action_for(model::parse_topic(topic), meta.shop_domain, std::move(body),
                                  model::stub_fetch::possible)};
}

/// Applies one delivery alone and returns its milliseconds; exits if it was
/// not applied.
double applied_ms(db::delivery_store& store, const model::delivery_item& item) {
  const auto start = std::chrono::steady_clock::now();
  const auto outcome = store.apply(std::span(&item, 1)).front();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (outcome != model::apply_outcome::applied) {
    std::fprintf(stderr, "%s was not applied: %s\n", item.meta.webhook_id.c_str(),
                 std::string(model::to_string(outcome)).c_str());
    std::exit(1);
  }
  return ms;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

} // namespace

int run(const options& o) {
  db::db_settings settings;
  settings.url = o.url;
  // The service's 2 s would fail the slow cases this is here to show.
  settings.statement_timeout = std::chrono::minutes(5);
  db::delivery_store store(settings);
  // Each run's product is new, so the insert is an insert (ids from the
  // clock, so another invocation on the same database makes new ones too).
  const std::int64_t base = model::now().micros_since_epoch / 1000 % 1000000000 * 100000;
  std::printf("variants  field_chars  variant_fields  body_KB  insert_ms(median)  "
              "update_ms(median)  update/insert  runs\n");
  for (const int variants : o.variants) {
    std::vector<double> inserts;
    std::vector<double> updates;
    std::size_t body_bytes = 0;
    for (int run = 0; run < o.runs; ++run) {
      const std::int64_t id = base + variants * 10 + run;
      std::string created = product_body(id, variants, 1, o.field_length, o.trimmed);
      body_bytes = created.size();
      inserts.push_back(applied_ms(
          store, delivery("products/create", std::move(created), "c-" + std::to_string(id))));
      updates.push_back(
          applied_ms(store, delivery("products/update",
                                     product_body(id, variants, 2, o.field_length, o.trimmed),
                                     "u-" + std::to_string(id))));
    }
    const double insert = median(inserts);
    const double update = median(updates);
    std::printf("%8d  %11zu  %14s  %7zu  %17.1f  %17.1f  %13.2f  %4d\n", variants, o.field_length,
                o.trimmed ? "no barcode" : "all", body_bytes / 1024, insert, update,
                update / insert, o.runs);
    std::fflush(stdout);
  }
  return 0;
}

int main(int argc, char** argv) {
  return cli::run_program(program, argc, argv,
                          [](const cli::arguments& args) { return run(read_options(args)); });
}

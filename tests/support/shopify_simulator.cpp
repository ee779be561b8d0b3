#include "tests/support/shopify_simulator.hpp"

#include "model/timestamp.hpp"
#include "tests/support/webhooks.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <set>
#include <sstream>
#include <thread>

namespace shopmirror::test {
namespace {

const model::timestamp epoch = *model::parse_rfc3339("2026-01-01T00:00:00Z");

std::string triggered_time(int version) {
  // Shopify triggers the delivery just after the change.
  return model::format_rfc3339(model::timestamp{epoch.micros_since_epoch +
                                                static_cast<std::int64_t>(version) * 1'000'000 +
                                                500'000});
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

} // namespace

std::string product_body(const product_truth& p) {
  product_spec spec;
  spec.id = p.id;
  spec.title = p.title;
  spec.updated_at = version_time(p.version);
  spec.tags = p.tags;
  spec.status = p.status;
  for (const auto& v : p.variants) {
    spec.variants.push_back({v.id, v.price, "SKU-" + std::to_string(v.id), v.position, v.inventory});
  }
  return product_json(spec);
}

std::string version_time(int version) {
  return model::format_rfc3339(
      model::timestamp{epoch.micros_since_epoch + static_cast<std::int64_t>(version) * 1'000'000});
}

history make_history(const history_options& options) {
  history h;
  h.options = options;
  std::mt19937_64 random(options.seed);
  const auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(random) < p; };
  const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
  static const std::vector<std::string> tag_pool = {"cotton", "sale", "summer", "new", "gift"};
  static const std::vector<std::string> statuses = {"active", "draft", "archived"};

  std::map<std::int64_t, product_truth> state;
  std::int64_t next_id = 8'000'000'000'000;
  int now = 0;
  std::int64_t next_variant = 1;
  for (int e = 0; e < options.events; ++e) {
    now += 1 + pick(3);
    // Choose a live product to change, or create one (ids are never reused).
    std::vector<std::int64_t> live;
    for (const auto& [id, p] : state) {
      if (!p.deleted) {
        live.push_back(id);
      }
    }
    const bool create = live.empty() || (static_cast<int>(state.size()) < options.products &&
                                         chance(0.3));
    product_truth p;
    std::string topic;
    if (create) {
      p.id = next_id++;
      p.status = "active";
      topic = "products/create";
    } else {
      p = state[live[static_cast<std::size_t>(pick(static_cast<int>(live.size())))]];
      topic = chance(options.delete_share) ? "products/delete" : "products/update";
    }
    p.version = now;
    if (topic == "products/delete") {
      p.deleted = true;
    } else {
      p.title = "P" + std::to_string(p.id % 100000) + " v" + std::to_string(now);
      std::vector<std::string> tags;
      for (const auto& tag : tag_pool) {
        if (chance(0.4)) {
          tags.push_back(tag);
        }
      }
      std::sort(tags.begin(), tags.end());
      p.tags = join(tags);
      p.status = chance(0.2) ? statuses[static_cast<std::size_t>(pick(3))] : p.status;
      if (p.variants.empty() || chance(0.2)) {
        p.variants.push_back({next_variant++, "10.00", 0, 0});
      }
      if (p.variants.size() > 1 && chance(0.15)) {
        p.variants.erase(p.variants.begin() + pick(static_cast<int>(p.variants.size())));
      }
      int position = 1;
      for (auto& v : p.variants) {
        v.position = position++;
        if (chance(0.5)) {
          v.price = std::to_string(1 + pick(90)) + "." + std::to_string(10 + pick(90));
        }
        v.inventory = pick(500);
      }
    }
    event ev;
    ev.webhook_id = "sim-" + std::to_string(options.seed) + "-" + std::to_string(e);
    ev.topic = topic;
    ev.body = p.deleted ? delete_json(p.id) : product_body(p);
    ev.triggered_at = triggered_time(now);
    ev.after = p;
    ev.dropped = chance(options.drop_share);
    state[p.id] = p;
    h.events.push_back(ev);
  }
  h.final_truth = state;

  // Any order within a window: each delivery may be overtaken by up to
  // max_delay later ones; some are delivered twice.
  std::vector<std::pair<double, std::size_t>> keyed;
  for (std::size_t i = 0; i < h.events.size(); ++i) {
    if (h.events[i].dropped) {
      continue;
    }
    keyed.emplace_back(static_cast<double>(i) + std::uniform_real_distribution<double>(
                                                    0, options.max_delay)(random), i);
    if (chance(options.duplicate_share)) {
      keyed.emplace_back(static_cast<double>(i) + std::uniform_real_distribution<double>(
                                                      0, 2.0 * options.max_delay)(random), i);
    }
  }
  std::sort(keyed.begin(), keyed.end());
  for (const auto& [key, index] : keyed) {
    h.delivery_order.push_back(index);
  }
  return h;
}

delivery_simulator::delivery_simulator(const history& h, std::string secret)
    : history_(h), secret_(std::move(secret)), acknowledged_(h.events.size(), false) {}

void delivery_simulator::deliver(const std::function<net::http_client()>& client_for,
                                 int workers, int max_attempts, std::chrono::milliseconds pause) {
  struct job {
    std::size_t event;
    int number;
    std::chrono::steady_clock::time_point not_before;
  };
  std::deque<job> queue;
  for (const auto index : history_.delivery_order) {
    queue.push_back({index, 1, {}});
  }
  std::mutex queue_mutex;
  std::condition_variable changed;
  int in_flight = 0;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      std::optional<net::http_client> client;
      for (;;) {
        job next{};
        {
          std::unique_lock lock(queue_mutex);
          changed.wait(lock, [&] { return !queue.empty() || in_flight == 0; });
          if (queue.empty()) {
            return; // nothing queued and nothing in flight that could requeue
          }
          next = queue.front();
          queue.pop_front();
          ++in_flight;
        }
        std::this_thread::sleep_until(next.not_before);
        const event& ev = history_.events[next.event];
        signed_delivery d;
        d.topic = ev.topic;
        d.shop = history_.options.shop;
        d.webhook_id = ev.webhook_id;
        d.body = ev.body;
        d.secret = secret_;
        d.triggered_at = ev.triggered_at;
        attempt a;
        a.event = next.event;
        a.number = next.number;
        const auto started = std::chrono::steady_clock::now();
        try {
          if (!client) {
            client.emplace(client_for());
          }
          const auto r = post_webhook(*client, d);
          a.status = static_cast<int>(r.status);
          const auto at = r.body.find("\"outcome\":\"");
          if (at != std::string::npos) {
            a.outcome = r.body.substr(at + 11, r.body.find('"', at + 11) - at - 11);
          }
        } catch (const std::exception&) {
          a.status = 0;
          client.reset();
        }
        a.latency_ms = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - started)
                           .count();
        const bool ok = a.status >= 200 && a.status < 300;
        {
          std::lock_guard lock(mutex_);
          attempts_.push_back(a);
          if (ok && !acknowledged_[next.event]) {
            acknowledged_[next.event] = true;
            ++acknowledged_count_;
          }
        }
        {
          std::lock_guard lock(queue_mutex);
          if (!ok && next.number < max_attempts) {
            queue.push_back({next.event, next.number + 1, std::chrono::steady_clock::now() + pause});
          }
          --in_flight;
        }
        changed.notify_all();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
}

std::vector<std::size_t> delivery_simulator::undelivered() const {
  std::vector<std::size_t> out;
  std::set<std::size_t> attempted(history_.delivery_order.begin(), history_.delivery_order.end());
  for (const auto index : attempted) {
    if (!acknowledged_[index]) {
      out.push_back(index);
    }
  }
  return out;
}

std::string check_report::summary() const {
  std::ostringstream out;
  out << acknowledged << " acknowledged deliveries, " << lost.size() << " lost, "
      << applied_twice.size() << " applied twice; " << products_checked << " products, "
      << wrong.size() << " wrong";
  for (const auto& w : wrong) {
    out << "\n  " << w;
  }
  for (const auto& l : lost) {
    out << "\n  lost " << l;
  }
  return out.str();
}

std::vector<std::string> compare_mirror(const std::map<std::int64_t, product_truth>& expected,
                                        const std::string& shop, const test_database& db) {
  std::vector<std::string> wrong;
  // Every typed column, as text; times as seconds after the history's epoch.
  const std::string seconds = "extract(epoch from %s - '2026-01-01T00:00:00Z')::bigint";
  const auto since_epoch = [&](const std::string& column) {
    std::string sql = seconds;
    sql.replace(sql.find("%s"), 2, column);
    return "coalesce(" + sql + "::text, 'NULL')";
  };
  std::map<std::int64_t, std::string> products;
  std::map<std::int64_t, bool> deleted;
  for (auto& r : db.query(
           "select product_id, deleted_at is not null, concat_ws(' | ', title, "
           "array_to_string(tags, ','), status, " + since_epoch("updated_at") + ", handle, vendor, "
           "product_type, body_html, " + since_epoch("created_at") + ", " +
           since_epoch("published_at") + ") from shopify.products where shop_domain = '" + shop +
           "'")) {
    const std::int64_t id = std::stoll(*r[0]);
    deleted[id] = *r[1] == "t";
    products[id] = r[2].value_or("");
  }
  std::map<std::int64_t, std::string> variants;
  for (auto& r : db.query(
           "select product_id, string_agg(concat_ws(':', variant_id, price, inventory_quantity, "
           "position, sku, title, coalesce(compare_at_price::text, 'NULL'), option1, "
           "coalesce(option2, 'NULL'), coalesce(option3, 'NULL'), coalesce(barcode, 'NULL'), " +
           since_epoch("updated_at") + "), ' ' order by variant_id) from "
           "shopify.product_variants where shop_domain = '" + shop + "' group by product_id")) {
    variants[std::stoll(*r[0])] = *r[1];
  }
  for (const auto& [id, p] : expected) {
    const std::string name = "product " + std::to_string(id);
    if (products.count(id) == 0) {
      wrong.push_back(name + ": missing");
      continue;
    }
    if (deleted[id] != p.deleted) {
      wrong.push_back(name + std::string(": deleted is ") + (deleted[id] ? "true" : "false"));
    }
    if (p.title.empty()) {
      continue; // content unknown: only existence and the tombstone are checked
    }
    // What product_body() sends for this state: the fields the history
    // varies, and the ones it derives from the ids.
    const std::string version = std::to_string(p.version);
    const std::string expected_product =
        p.title + " | " + p.tags + " | " + p.status + " | " + version + " | product-" +
        std::to_string(id) + " | Acme | Shirts | <p>Body / " + std::to_string(id) +
        "</p> | -31536000 | NULL";
    std::string expected_variants;
    auto sorted = p.variants;
    std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.id < b.id; });
    for (const auto& v : sorted) {
      expected_variants += (expected_variants.empty() ? "" : " ") + std::to_string(v.id) + ":" +
                           v.price + ":" + std::to_string(v.inventory) + ":" +
                           std::to_string(v.position) + ":SKU-" + std::to_string(v.id) +
                           ":Variant " + std::to_string(v.id) + ":NULL:Size " +
                           std::to_string(v.position) + ":NULL:NULL:NULL:" + version;
    }
    if (products[id] != expected_product || variants[id] != expected_variants) {
      wrong.push_back(name + ": is {" + products[id] + " || " + variants[id] + "} expected {" +
                      expected_product + " || " + expected_variants + "}");
    }
  }
  for (const auto& [id, text] : products) {
    if (expected.count(id) == 0) {
      wrong.push_back("product " + std::to_string(id) + ": in the mirror but never acknowledged");
    }
  }
  return wrong;
}

check_report check_deliveries(const history& h, const std::vector<attempt>& attempts,
                              const test_database& db) {
  check_report report;
  std::set<std::size_t> acked;
  std::map<std::size_t, int> applied;
  for (const auto& a : attempts) {
    if (a.status >= 200 && a.status < 300) {
      acked.insert(a.event);
      applied[a.event] += a.outcome == "applied" ? 1 : 0;
    }
  }
  report.acknowledged = acked.size();
  std::set<std::string> logged;
  for (const auto& r : db.query("select webhook_id from shopify.webhook_deliveries where "
                                "shop_domain = '" + h.options.shop + "'")) {
    logged.insert(*r[0]);
  }
  for (const auto index : acked) {
    if (logged.count(h.events[index].webhook_id) == 0) {
      report.lost.push_back(h.events[index].webhook_id);
    }
    if (applied[index] > 1) {
      report.applied_twice.push_back(h.events[index].webhook_id);
    }
  }
  // What the mirror must hold: per product, deleted if the newest
  // acknowledged event is a delete, with the content of the newest
  // acknowledged live state (events are in Shopify's order).
  std::map<std::int64_t, product_truth> expected;
  for (std::size_t i = 0; i < h.events.size(); ++i) {
    if (acked.count(i) == 0) {
      continue;
    }
    const product_truth& after = h.events[i].after;
    product_truth& e = expected[after.id];
    e.id = after.id;
    if (after.deleted) {
      e.deleted = true; // the last event of a product; its content stays the last known
    } else {
      const bool deleted = e.deleted;
      e = after;
      e.deleted = deleted;
    }
  }
  report.wrong = compare_mirror(expected, h.options.shop, db);
  report.products_checked = expected.size();
  return report;
}

} // namespace shopmirror::test

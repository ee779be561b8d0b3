#include "tests/support/shopify_simulator.hpp"

#include "model/timestamp.hpp"
#include "tests/support/webhooks.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <sstream>
#include <thread>

namespace shopmirror::test {
namespace {

const model::timestamp epoch = *model::parse_rfc3339("2026-01-01T00:00:00Z");

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

/// The body a subscription with include_fields id, title, updated_at,
/// variants.id, variants.price and variants.inventory_quantity receives.
std::string trimmed_body(const product_truth& p) {
  std::ostringstream out;
  out << "{\"id\":" << p.id << ",\"title\":\"" << p.title << "\",\"updated_at\":\""
      << version_time(p.version) << "\",\"variants\":[";
  for (std::size_t i = 0; i < p.variants.size(); ++i) {
    const auto& v = p.variants[i];
    out << (i ? "," : "") << "{\"id\":" << v.id << ",\"price\":\"" << v.price
        << "\",\"inventory_quantity\":" << v.inventory << "}";
  }
  out << "]}";
  return out.str();
}

// --- The mirror's rule, as the checker models it ----------------------------

/// A state's version: (Shopify's updated_at, when it was observed).
struct stamp {
  std::int64_t updated = std::numeric_limits<std::int64_t>::min();
  std::int64_t observed = std::numeric_limits<std::int64_t>::min();
  auto operator<=>(const stamp&) const = default;
};

const std::vector<std::string> product_keys = {
    "title",        "tags",      "status",     "handle",       "vendor",
    "product_type", "body_html", "created_at", "published_at", "category"};
const std::vector<std::string> variant_keys = {"price",     "inventory_quantity",
                                               "position",  "sku",
                                               "title",     "compare_at_price",
                                               "option1",   "option2",
                                               "option3",   "barcode",
                                               "updated_at"};

/// A product field's value as the mirror reads it back (see read_mirror).
std::string product_value(const product_truth& p, const std::string& key) {
  if (key == "title") {
    return p.title;
  }
  if (key == "tags") {
    return p.tags;
  }
  if (key == "status") {
    return p.status;
  }
  if (key == "handle") {
    return "product-" + std::to_string(p.id);
  }
  if (key == "vendor") {
    return "Acme";
  }
  if (key == "product_type") {
    return "Shirts";
  }
  if (key == "body_html") {
    return "<p>Body / " + std::to_string(p.id) + "</p>";
  }
  if (key == "created_at") {
    return "-31536000"; // 2025-01-01, in seconds after the epoch
  }
  if (key == "category") {
    return p.category.empty() ? "NULL" : "gid://shopify/TaxonomyCategory/" + p.category;
  }
  return "NULL"; // published_at
}

std::string variant_value(const product_truth& p, const variant_truth& v, const std::string& key) {
  if (key == "price") {
    return v.price;
  }
  if (key == "inventory_quantity") {
    return std::to_string(v.inventory);
  }
  if (key == "position") {
    return std::to_string(v.position);
  }
  if (key == "sku") {
    return "SKU-" + std::to_string(v.id);
  }
  if (key == "title") {
    return "Variant " + std::to_string(v.id);
  }
  if (key == "option1") {
    return "Size " + std::to_string(v.position);
  }
  if (key == "updated_at") {
    return std::to_string(p.version);
  }
  if (key == "barcode" && !v.barcodes.empty()) {
    return v.barcodes.front().value;
  }
  return "NULL"; // compare_at_price, option2, option3, barcode
}

/// One product under the mirror's rule: live or deleted by the newest state
/// or delete; each field, and the list of variants, from the newest state
/// that carried it; an equal version changes nothing.
class modeled_product {
public:
  void state(const product_truth& p, body_kind kind, stamp v) {
    if (existence_ < v) {
      existence_ = v;
      deleted_ = false;
    }
    if (content_ < v) {
      content_ = v;
    }
    const bool whole = kind == body_kind::whole;
    for (const auto& key : product_keys) {
      if ((whole || key == "title") && fields_[key].first < v) {
        fields_[key] = {v, product_value(p, key)};
      }
    }
    if (membership_.first < v) {
      membership_.first = v;
      membership_.second.clear();
      for (const auto& variant : p.variants) {
        membership_.second.push_back(variant.id);
      }
    }
    for (const auto& key : variant_keys) {
      if (!whole && key != "price" && key != "inventory_quantity") {
        continue;
      }
      auto& field = variant_fields_[key];
      if (field.first < v) {
        field.first = v;
        field.second.clear();
        for (const auto& variant : p.variants) {
          field.second[variant.id] = variant_value(p, variant, key);
        }
      }
    }
  }

  void remove(stamp v) {
    if (existence_ < v) {
      existence_ = v;
      deleted_ = true;
    }
  }

  mirror_product rendered() const {
    mirror_product out;
    out.deleted = deleted_;
    const auto value = [&](const std::string& key) {
      const auto it = fields_.find(key);
      if (it != fields_.end()) {
        return it->second.second;
      }
      return std::string(key == "tags" ? "" : "NULL"); // tags are never null: {} at worst
    };
    out.columns = value("title") + " | " + value("tags") + " | " + value("status") + " | " +
                  (content_ == stamp{} ? "NULL" : std::to_string(content_.updated)) + " | " +
                  value("handle") + " | " + value("vendor") + " | " + value("product_type") +
                  " | " + value("body_html") + " | " + value("created_at") + " | " +
                  value("published_at") + " | " + value("category");
    std::vector<std::int64_t> ids = membership_.second;
    std::sort(ids.begin(), ids.end());
    for (const auto id : ids) {
      std::string row = std::to_string(id);
      for (const auto& key : variant_keys) {
        const auto field = variant_fields_.find(key);
        const auto it = field == variant_fields_.end()
                            ? decltype(field->second.second)::const_iterator{}
                            : field->second.second.find(id);
        row += ":" + (field == variant_fields_.end() || it == field->second.second.end()
                          ? std::string("NULL")
                          : it->second);
      }
      out.variants += (out.variants.empty() ? "" : " ") + row;
    }
    return out;
  }

private:
  stamp existence_;
  bool deleted_ = false;
  stamp content_;
  std::map<std::string, std::pair<stamp, std::string>> fields_;
  std::pair<stamp, std::vector<std::int64_t>> membership_;
  std::map<std::string, std::pair<stamp, std::map<std::int64_t, std::string>>> variant_fields_;
};

} // namespace

std::string product_body(const product_truth& p) {
  product_spec spec;
  spec.id = p.id;
  spec.title = p.title;
  spec.updated_at = version_time(p.version);
  spec.tags = p.tags;
  spec.status = p.status;
  std::map<std::int64_t, std::string> barcodes;
  for (const auto& v : p.variants) {
    spec.variants.push_back(
        {v.id, v.price, "SKU-" + std::to_string(v.id), v.position, v.inventory});
    if (!v.barcodes.empty()) {
      barcodes[v.id] = v.barcodes.front().value;
    }
  }
  return product_json(spec, p.category, barcodes);
}

std::string version_time(int version) {
  return model::format_rfc3339(
      model::timestamp{epoch.micros_since_epoch + static_cast<std::int64_t>(version) * 1'000'000});
}

history make_history(const history_options& options) {
  history h;
  h.options = options;
  std::mt19937_64 random(options.seed);
  const auto chance = [&](double p) {
    return std::uniform_real_distribution<double>(0, 1)(random) < p;
  };
  const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
  static const std::vector<std::string> tag_pool = {"cotton", "sale", "summer", "new", "gift"};
  static const std::vector<std::string> statuses = {"active", "draft", "archived"};

  std::map<std::int64_t, product_truth> state;
  std::int64_t next_id = 8'000'000'000'000;
  std::int64_t now_ms = 0;
  std::int64_t next_variant = 1;
  for (int e = 0; e < options.events; ++e) {
    // At least a second between events, so a version that moves is newer.
    now_ms += 1000 + pick(2000);
    std::vector<std::int64_t> live;
    for (const auto& [id, p] : state) {
      if (!p.deleted) {
        live.push_back(id);
      }
    }
    const bool heavy = e == 0 && options.heavy_variants > 0;
    const bool create =
        heavy || live.empty() || (static_cast<int>(state.size()) < options.products && chance(0.3));
    product_truth p;
    event ev;
    if (create) {
      p.id = next_id++;
      p.status = "active";
      ev.kind = event_kind::create;
    } else {
      p = state[live[static_cast<std::size_t>(pick(static_cast<int>(live.size())))]];
      const double roll = std::uniform_real_distribution<double>(0, 1)(random);
      ev.kind = roll < options.delete_share                               ? event_kind::remove
                : roll < options.delete_share + options.same_second_share ? event_kind::same_second
                : roll < options.delete_share + options.same_second_share + options.inventory_share
                    ? event_kind::inventory
                : roll < options.delete_share + options.same_second_share +
                             options.inventory_share + options.barcodes_share
                    ? event_kind::barcodes
                    : event_kind::update;
    }
    if (ev.kind != event_kind::same_second && ev.kind != event_kind::inventory &&
        ev.kind != event_kind::barcodes) {
      p.version = static_cast<int>(now_ms / 1000);
    }
    if (ev.kind == event_kind::remove) {
      p.deleted = true;
    } else if (ev.kind == event_kind::inventory) {
      for (auto& v : p.variants) {
        v.inventory = pick(500);
      }
    } else if (ev.kind == event_kind::barcodes) {
      static const std::vector<std::optional<std::string>> types = {"UPC", "EAN", std::nullopt};
      auto& v = p.variants[static_cast<std::size_t>(pick(static_cast<int>(p.variants.size())))];
      // Half the time the first barcode stays and only the others change:
      // the webhook's `barcode` is then what it was.
      const bool keep_first = !v.barcodes.empty() && chance(0.5);
      std::vector<model::barcode> barcodes;
      if (keep_first) {
        barcodes.push_back(v.barcodes.front());
      }
      for (int n = pick(keep_first ? 3 : 4); n > 0; --n) {
        barcodes.push_back(
            {types[static_cast<std::size_t>(pick(3))],
             "B" + std::to_string(v.id) + "-" + std::to_string(e) + "-" + std::to_string(n)});
      }
      v.barcodes = std::move(barcodes);
    } else {
      p.title = "P" + std::to_string(p.id % 100000) + " e" + std::to_string(e);
      // No random draw, so a seed's history stays as it was: a category
      // that changes with the title, now and then to none.
      p.category = e % 4 == 0 ? std::string() : "aa-1-" + std::to_string(e % 5);
      if (ev.kind != event_kind::same_second) {
        std::vector<std::string> tags;
        for (const auto& tag : tag_pool) {
          if (chance(0.4)) {
            tags.push_back(tag);
          }
        }
        std::sort(tags.begin(), tags.end());
        p.tags = join(tags);
        p.status = chance(0.2) ? statuses[static_cast<std::size_t>(pick(3))] : p.status;
        if (heavy) {
          for (int v = 0; v < options.heavy_variants; ++v) {
            p.variants.push_back({next_variant++, "10.00", 0, 0, {}});
          }
        }
        if (p.variants.empty() || chance(0.2)) {
          p.variants.push_back({next_variant++, "10.00", 0, 0, {}});
        }
        if (p.variants.size() > 1 && chance(0.15)) {
          p.variants.erase(p.variants.begin() + pick(static_cast<int>(p.variants.size())));
        }
      }
      int position = 1;
      for (auto& v : p.variants) {
        v.position = position++;
        if (chance(0.5)) {
          v.price = std::to_string(1 + pick(90)) + "." + std::to_string(10 + pick(90));
        }
        if (ev.kind != event_kind::same_second) {
          v.inventory = pick(500);
        }
      }
    }
    // Shopify triggers the deliveries just after the change.
    ev.triggered_micros = epoch.micros_since_epoch + now_ms * 1000 + 500'000;
    ev.triggered_at = model::format_rfc3339(model::timestamp{ev.triggered_micros});
    ev.after = p;
    state[p.id] = p;

    const std::string topic = ev.kind == event_kind::remove   ? "products/delete"
                              : ev.kind == event_kind::create ? "products/create"
                                                              : "products/update";
    const auto plan = [&](const std::string& webhook_id, body_kind kind) {
      planned_delivery d;
      d.event = static_cast<std::size_t>(e);
      d.webhook_id = webhook_id;
      d.topic = topic;
      d.kind = kind;
      d.body = p.deleted                    ? delete_json(p.id)
               : kind == body_kind::stub    ? delete_json(p.id) // {"id": N}
               : kind == body_kind::trimmed ? trimmed_body(p)
                                            : product_body(p);
      d.triggered_at = ev.triggered_at;
      d.dropped = chance(options.drop_share);
      h.deliveries.push_back(std::move(d));
    };
    const std::string id = "sim-" + std::to_string(options.seed) + "-" + std::to_string(e);
    plan(id, !p.deleted && chance(options.stub_share) ? body_kind::stub : body_kind::whole);
    if (chance(options.second_subscription_share)) {
      // Another subscription to the same topic: another webhook id, maybe
      // a trimmed body (deletes are {"id"} either way).
      plan(id + "-b",
           !p.deleted && chance(options.trimmed_share) ? body_kind::trimmed : body_kind::whole);
    }
    h.events.push_back(std::move(ev));
  }
  h.final_truth = state;

  // Any order within a window: each delivery may be overtaken by up to
  // max_delay later ones; some are delivered twice.
  std::vector<std::pair<double, std::size_t>> keyed;
  for (std::size_t i = 0; i < h.deliveries.size(); ++i) {
    if (h.deliveries[i].dropped) {
      continue;
    }
    keyed.emplace_back(static_cast<double>(i) +
                           std::uniform_real_distribution<double>(0, options.max_delay)(random),
                       i);
    if (chance(options.duplicate_share)) {
      keyed.emplace_back(static_cast<double>(i) + std::uniform_real_distribution<double>(
                                                      0, 2.0 * options.max_delay)(random),
                         i);
    }
  }
  std::sort(keyed.begin(), keyed.end());
  for (const auto& [key, index] : keyed) {
    h.delivery_order.push_back(index);
  }
  return h;
}

delivery_simulator::delivery_simulator(const history& h, std::string secret)
    : history_(h), secret_(std::move(secret)), acknowledged_(h.deliveries.size(), false) {}

void delivery_simulator::deliver(const std::function<net::http_client()>& client_for, int workers,
                                 int max_attempts, std::chrono::milliseconds pause) {
  struct job {
    std::size_t delivery;
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
        const planned_delivery& planned = history_.deliveries[next.delivery];
        signed_delivery d;
        d.topic = planned.topic;
        d.shop = history_.options.shop;
        d.webhook_id = planned.webhook_id;
        d.body = planned.body;
        d.secret = secret_;
        d.triggered_at = planned.triggered_at;
        attempt a;
        a.delivery = next.delivery;
        a.number = next.number;
        const auto started = std::chrono::steady_clock::now();
        try {
          if (!client) {
            client.emplace(client_for());
          }
          const auto r = post_webhook(*client, d);
          a.status = static_cast<int>(r.status);
          // Parsed here, not with test::field: this is a sender thread, where
          // a failed assertion would not be the test's.
          rapidjson::Document answer;
          answer.Parse(r.body.c_str(), r.body.size());
          if (!answer.HasParseError() && answer.IsObject() && answer.HasMember("outcome") &&
              answer["outcome"].IsString()) {
            a.outcome = answer["outcome"].GetString();
          }
        } catch (const std::exception&) {
          a.status = 0;
          client.reset();
        }
        a.answered_at = std::chrono::steady_clock::now();
        a.latency_ms = std::chrono::duration<double, std::milli>(a.answered_at - started).count();
        const bool ok = a.status >= 200 && a.status < 300;
        {
          std::lock_guard lock(mutex_);
          attempts_.push_back(a);
          if (ok && !acknowledged_[next.delivery]) {
            acknowledged_[next.delivery] = true;
            ++acknowledged_count_;
          }
        }
        {
          std::lock_guard lock(queue_mutex);
          if (!ok && next.number < max_attempts) {
            queue.push_back(
                {next.delivery, next.number + 1, std::chrono::steady_clock::now() + pause});
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

std::map<std::int64_t, mirror_product> read_mirror(const std::string& shop,
                                                   const test_database& db) {
  // Every typed column, as text; times as seconds after the history's epoch.
  const auto text = [](const std::string& column) {
    return "coalesce(" + column + "::text, 'NULL')";
  };
  const auto seconds = [&](const std::string& column) {
    return text("extract(epoch from " + column + " - '2026-01-01T00:00:00Z')::bigint");
  };
  std::map<std::int64_t, mirror_product> out;
  for (auto& r :
       db.query("select product_id, deleted_at is not null, concat_ws(' | ', " + text("title") +
                ", " + "array_to_string(tags, ','), " + text("status") + ", " +
                seconds("updated_at") + ", " + text("handle") + ", " + text("vendor") + ", " +
                text("product_type") + ", " + text("body_html") + ", " + seconds("created_at") +
                ", " + seconds("published_at") + ", " + text("category_id") +
                ") from shopify.products where shop_domain = '" + shop + "'")) {
    mirror_product& p = out[std::stoll(*r[0])];
    p.deleted = *r[1] == "t";
    p.columns = r[2].value_or("");
  }
  for (auto& r :
       db.query("select product_id, string_agg(concat_ws(':', variant_id, " + text("price") + ", " +
                text("inventory_quantity") + ", " + text("position") + ", " + text("sku") + ", " +
                text("title") + ", " + text("compare_at_price") + ", " + text("option1") + ", " +
                text("option2") + ", " + text("option3") + ", " + text("barcode") + ", " +
                seconds("updated_at") +
                "), ' ' order by variant_id) from shopify.product_variants "
                "where shop_domain = '" +
                shop + "' group by product_id")) {
    out[std::stoll(*r[0])].variants = *r[1];
  }
  return out;
}

std::vector<std::string> compare_mirror(const std::map<std::int64_t, mirror_product>& expected,
                                        const std::string& shop, const test_database& db) {
  std::vector<std::string> wrong;
  const auto actual = read_mirror(shop, db);
  for (const auto& [id, e] : expected) {
    const std::string name = "product " + std::to_string(id);
    const auto it = actual.find(id);
    if (it == actual.end()) {
      wrong.push_back(name + ": missing");
      continue;
    }
    const mirror_product& a = it->second;
    if (a.deleted != e.deleted) {
      wrong.push_back(name + std::string(": deleted is ") + (a.deleted ? "true" : "false"));
    }
    if (e.content_known && (a.columns != e.columns || a.variants != e.variants)) {
      wrong.push_back(name + ": is {" + a.columns + " || " + a.variants + "} expected {" +
                      e.columns + " || " + e.variants + "}");
    }
  }
  for (const auto& [id, a] : actual) {
    if (expected.count(id) == 0) {
      wrong.push_back("product " + std::to_string(id) + ": in the mirror but never expected");
    }
  }
  return wrong;
}

std::map<std::int64_t, mirror_product>
truth_after_reconcile(const history& h, const std::set<std::int64_t>& reached) {
  std::map<std::int64_t, mirror_product> expected;
  for (const auto& [id, p] : h.final_truth) {
    if (p.deleted) {
      if (reached.count(id) != 0) {
        mirror_product tombstone;
        tombstone.deleted = true;
        tombstone.content_known = false;
        expected[id] = tombstone;
      }
      continue;
    }
    modeled_product model;
    model.state(p, body_kind::whole, stamp{p.version, 0});
    expected[id] = model.rendered();
  }
  return expected;
}

check_report check_deliveries(const history& h, const std::vector<attempt>& attempts,
                              const test_database& db, const later_effects& later) {
  check_report report;
  std::set<std::size_t> acked;
  std::map<std::size_t, int> applied;
  for (const auto& a : attempts) {
    if (a.status >= 200 && a.status < 300) {
      acked.insert(a.delivery);
      applied[a.delivery] += a.outcome == "applied" ? 1 : 0;
    }
  }
  report.acknowledged = acked.size();
  std::set<std::string> logged;
  for (const auto& r : db.query("select webhook_id from shopify.webhook_deliveries where "
                                "shop_domain = '" +
                                h.options.shop + "'")) {
    logged.insert(*r[0]);
  }
  for (const auto index : acked) {
    if (logged.count(h.deliveries[index].webhook_id) == 0) {
      report.lost.push_back(h.deliveries[index].webhook_id);
    }
    if (applied[index] > 1) {
      report.applied_twice.push_back(h.deliveries[index].webhook_id);
    }
  }
  // What the mirror must hold: the rule applied to every acknowledged
  // delivery, in any order (it is order-independent, which is the point).
  std::map<std::int64_t, modeled_product> model;
  std::set<std::int64_t> stubbed;
  for (const auto index : acked) {
    const planned_delivery& d = h.deliveries[index];
    const event& ev = h.events[d.event];
    if (ev.after.deleted) {
      // A delete's version is its time, after every state of the product
      // (none follows it: Shopify never revives a deleted product).
      model[ev.after.id].remove(
          stamp{std::numeric_limits<std::int64_t>::max() / 4, ev.triggered_micros});
    } else if (d.kind == body_kind::stub) {
      stubbed.insert(ev.after.id);
    } else {
      model[ev.after.id].state(ev.after, d.kind, stamp{ev.after.version, ev.triggered_micros});
    }
  }
  if (later.stubs_fetched) {
    // Fetched from the Admin API after every delivery: Shopify's final
    // state, observed then (a deleted product is not there to fetch).
    for (const auto id : stubbed) {
      const product_truth& truth = h.final_truth.at(id);
      if (!truth.deleted) {
        model[id].state(truth, body_kind::whole,
                        stamp{truth.version, std::numeric_limits<std::int64_t>::max() / 2});
      }
    }
  }
  for (const auto id : later.replayed_deletes) {
    model[id].remove(
        stamp{std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()});
  }
  std::map<std::int64_t, mirror_product> expected;
  for (const auto& [id, m] : model) {
    expected[id] = m.rendered();
  }
  report.wrong = compare_mirror(expected, h.options.shop, db);
  report.products_checked = expected.size();
  return report;
}

} // namespace shopmirror::test

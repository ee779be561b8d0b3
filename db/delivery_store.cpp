#include "db/delivery_store.hpp"

#include "db/binary_array.hpp"
#include "db/errors.hpp"
#include "db/pg_session.hpp"
#include "db/product_columns.hpp"
#include "telemetry/log.hpp"

#include <pqxx/pqxx>

#include <string>
#include <variant>

namespace shopmirror::db {
namespace {

using model::apply_outcome;

constexpr const char* apply_statement = "shopmirror_apply_deliveries";

// Must match the signature of shopify.apply_deliveries (0011_apply_inputs.sql).
// The product and variant records go as arrays of their composite types
// in the binary format: text arrays of record literals would be parsed
// field by field by the server, which the binary arrays were made to avoid
// (db/binary_array.hpp).
constexpr const char* apply_sql =
    "select delivery_slot, delivery_outcome from shopify.apply_deliveries("
    "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], "
    "$7::timestamptz[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::bytea[], "
    "$13::shopify.product_input[], $14::shopify.variant_input[])";

constexpr std::size_t delivery_parameters = 12;
constexpr std::size_t parameter_count = delivery_parameters + 2;

// d_action: what shopify.apply_deliveries does with a delivery. Where one
// changes, so must the function (0008_compliance.sql).
const char* action_name(const model::delivery_action& action) {
  struct name_of {
    const char* operator()(const model::upsert_product&) const { return "upsert"; }
    const char* operator()(const model::delete_product&) const { return "delete"; }
    const char* operator()(const model::refresh_product&) const { return "refresh"; }
    const char* operator()(const model::ignore_delivery&) const { return "ignore"; }
    const char* operator()(const model::dead_letter&) const { return "dead_letter"; }
    const char* operator()(const model::record_compliance_request&) const { return "compliance"; }
    const char* operator()(const model::redact_shop&) const { return "redact_shop"; }
    const char* operator()(const model::uninstall_app&) const { return "uninstall"; }
  };
  return std::visit(name_of{}, action);
}

// What is kept of a compliance or uninstall request, or null for the rest.
const std::string* request_record(const model::delivery_action& action) {
  if (const auto* request = std::get_if<model::record_compliance_request>(&action)) {
    return &request->record;
  }
  if (const auto* redaction = std::get_if<model::redact_shop>(&action)) {
    return &redaction->record;
  }
  if (const auto* uninstall = std::get_if<model::uninstall_app>(&action)) {
    return &uninstall->record;
  }
  return nullptr;
}

// The parameters of shopify.apply_deliveries: one array per column of the
// delivery's own (d_*, in the function's order), then its product state and
// variants as records.
struct batch_arrays {
  binary_array shop{pg_element::text};
  binary_array webhook_id{pg_element::text};
  binary_array topic{pg_element::text};
  binary_array event_id{pg_element::text};
  binary_array api_version{pg_element::text};
  binary_array triggered_at{pg_element::timestamptz};
  binary_array received_at{pg_element::timestamptz};
  binary_array action{pg_element::text};
  binary_array product_id{pg_element::int8};
  binary_array reason{pg_element::text};
  binary_array headers{pg_element::text};
  binary_array body{pg_element::bytea};
  product_columns products;

  explicit batch_arrays(input_types types) : products(types) {}

  void add(const model::delivery_item& item, std::int64_t slot) {
    const model::delivery& meta = item.meta;
    shop.add(meta.shop_domain);
    webhook_id.add(meta.webhook_id);
    topic.add(meta.topic);
    event_id.add(meta.event_id);
    api_version.add(meta.api_version);
    triggered_at.add(meta.triggered_at);
    received_at.add(meta.received_at);

    const auto* upsert = std::get_if<model::upsert_product>(&item.action);
    const auto* remove = std::get_if<model::delete_product>(&item.action);
    const auto* refresh = std::get_if<model::refresh_product>(&item.action);
    const auto* dead = std::get_if<model::dead_letter>(&item.action);

    action.add(action_name(item.action));
    std::optional<std::int64_t> id;
    if (upsert) {
      id = upsert->state.id;
    } else if (remove) {
      id = remove->product_id;
    } else if (refresh) {
      id = refresh->product_id;
    } else if (dead) {
      id = dead->product_id;
    }
    product_id.add(id);
    // d_body is a dead letter's raw body, or what is kept of a compliance
    // or uninstall request (shopify.apply_deliveries reads its ids).
    if (dead) {
      reason.add(dead->reason);
      headers.add(model::headers_json(meta));
      body.add(dead->body);
    } else if (const std::string* record = request_record(item.action)) {
      reason.add_null();
      headers.add_null();
      body.add(*record);
    } else {
      reason.add_null();
      headers.add_null();
      body.add_null();
    }

    if (upsert) {
      products.add_state(upsert->state, upsert->source, meta.observed_at(), slot);
    } else if (remove) {
      products.add_delete(remove->product_id, meta.observed_at());
    } else {
      products.add_none();
    }
  }
};

// SQLSTATE query_canceled: what statement_timeout raises.
const std::string statement_timeout = "57014";

// How much work a delivery is for the database: its document's size.
std::size_t weight_of(const model::delivery_item& item) {
  if (const auto* upsert = std::get_if<model::upsert_product>(&item.action)) {
    return upsert->source.size() + upsert->state.variants.size() * 64;
  }
  if (const auto* dead = std::get_if<model::dead_letter>(&item.action)) {
    return dead->body.size();
  }
  if (const std::string* record = request_record(item.action)) {
    return record->size();
  }
  return 0;
}

// The function answers in model::to_string's spelling; anything else (a
// newer schema's outcome) counts as failed.
apply_outcome parse_outcome(std::string_view text) {
  for (const apply_outcome outcome :
       {apply_outcome::applied, apply_outcome::stale, apply_outcome::duplicate,
        apply_outcome::ignored, apply_outcome::dead_letter, apply_outcome::refresh_requested,
        apply_outcome::recorded, apply_outcome::redaction_requested, apply_outcome::uninstalled}) {
    if (model::to_string(outcome) == text) {
      return outcome;
    }
  }
  return apply_outcome::failed;
}

// The item as a dead letter, for when the database refused its data.
model::delivery_item as_dead_letter(const model::delivery_item& item, const std::string& reason) {
  model::dead_letter dead;
  dead.reason = "refused by the database: " + reason;
  dead.kind = model::dead_letter_kind::refused;
  if (const auto* upsert = std::get_if<model::upsert_product>(&item.action)) {
    dead.product_id = upsert->state.id;
    dead.body = upsert->source;
  } else if (const auto* earlier = std::get_if<model::dead_letter>(&item.action)) {
    dead = *earlier;
    dead.reason = "refused by the database: " + reason;
    dead.kind = model::dead_letter_kind::refused;
  } else if (const std::string* record = request_record(item.action)) {
    // What was kept of the request is itself a body of its topic: a replay
    // of the dead letter records it.
    dead.body = *record;
  }
  return {item.meta, std::move(dead)};
}

} // namespace

delivery_store::delivery_store(db_settings settings)
    : session_(std::make_unique<pg_session>(
          std::move(settings), std::vector<prepared_statement>{{apply_statement, apply_sql}},
          [this](pqxx::connection& connection) {
            pqxx::nontransaction tx(connection);
            types_ = lookup_input_types(tx);
          })) {}

delivery_store::~delivery_store() = default;

bool delivery_store::connected() const noexcept {
  return session_->connected();
}

std::vector<std::string> apply_parameters(std::span<const model::delivery_item> items,
                                          input_types types) {
  batch_arrays arrays(types);
  std::int64_t slot = 1;
  for (const auto& item : items) {
    arrays.add(item, slot++);
  }
  std::vector<std::string> values;
  values.reserve(parameter_count);
  for (binary_array* column :
       {&arrays.shop, &arrays.webhook_id, &arrays.topic, &arrays.event_id, &arrays.api_version,
        &arrays.triggered_at, &arrays.received_at, &arrays.action, &arrays.product_id,
        &arrays.reason, &arrays.headers, &arrays.body}) {
    values.push_back(column->take());
  }
  arrays.products.take_into(values);
  return values;
}

const char* apply_statement_sql() noexcept {
  return apply_sql;
}

std::vector<apply_outcome> delivery_store::call(std::span<const model::delivery_item> items) {
  pqxx::connection& connection = session_->connection();
  const std::vector<std::string> values = apply_parameters(items, types_);
  // One statement in autocommit: the function's work commits as a whole
  // before the result arrives, which is what makes a 200 durable.
  pqxx::nontransaction tx(connection);
  const pqxx::result rows = exec_binary(tx, apply_statement, values);
  std::vector<apply_outcome> outcomes(items.size(), apply_outcome::failed);
  for (const auto& row : rows) {
    const auto index = row[0].as<std::size_t>() - 1;
    if (index < outcomes.size()) {
      outcomes[index] = parse_outcome(row[1].c_str());
    }
  }
  return outcomes;
}

// A batch whose statement ran out of time may owe it to one heavy delivery
// (a product with thousands of variants): that one is answered retry_later
// (Shopify sends it again, and alone it has the whole statement timeout),
// and the others run again at once, so that light deliveries behind a heavy
// one are still committed within their deadline. Once only: if the rest
// times out too, the database itself is slow.
std::vector<apply_outcome>
delivery_store::without_heaviest(std::span<const model::delivery_item> items) {
  std::size_t heaviest = 0;
  std::size_t most = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (const std::size_t weight = weight_of(items[i]); weight > most) {
      most = weight;
      heaviest = i;
    }
  }
  telemetry::log_event(telemetry::level::warn, "db_batch_timed_out")
      .field("shop", items[heaviest].meta.shop_domain)
      .field("webhook_id", items[heaviest].meta.webhook_id)
      .field("set_aside_bytes", static_cast<std::uint64_t>(most))
      .field("batch", static_cast<std::uint64_t>(items.size()));
  std::vector<model::delivery_item> rest;
  rest.reserve(items.size() - 1);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != heaviest) {
      rest.push_back(items[i]);
    }
  }
  const std::vector<apply_outcome> applied = apply_isolating(rest, 1);
  std::vector<apply_outcome> outcomes;
  outcomes.reserve(items.size());
  for (std::size_t i = 0, k = 0; i < items.size(); ++i) {
    outcomes.push_back(i == heaviest ? apply_outcome::retry_later : applied[k++]);
  }
  return outcomes;
}

std::vector<apply_outcome> delivery_store::apply(std::span<const model::delivery_item> items) {
  if (items.empty()) {
    return {};
  }
  return apply_isolating(items, 0);
}

std::vector<apply_outcome>
delivery_store::apply_isolating(std::span<const model::delivery_item> items, int attempt) {
  try {
    return call(items);
  } catch (...) {
    const failure f = classify_current_exception();
    switch (f.kind) {
    case failure_kind::connection_lost:
      session_->reset();
      telemetry::log_event(telemetry::level::warn, "db_unavailable")
          .field("error", f.message)
          .field("batch", static_cast<std::uint64_t>(items.size()));
      return std::vector<apply_outcome>(items.size(), apply_outcome::retry_later);
    case failure_kind::transient:
      if (attempt < 2) {
        return apply_isolating(items, attempt + 1);
      }
      return std::vector<apply_outcome>(items.size(), apply_outcome::retry_later);
    case failure_kind::busy:
      telemetry::log_event(telemetry::level::warn, "db_busy")
          .field("sqlstate", f.sqlstate)
          .field("error", f.message)
          .field("batch", static_cast<std::uint64_t>(items.size()));
      if (f.sqlstate == statement_timeout && items.size() > 1 && attempt == 0) {
        return without_heaviest(items);
      }
      // The whole database is slow or not ready: trying items one by one
      // would only multiply the wait.
      return std::vector<apply_outcome>(items.size(), apply_outcome::retry_later);
    case failure_kind::row_locked:
    case failure_kind::bad_item:
    case failure_kind::bug:
      break;
    }
    if (items.size() > 1) {
      return each_alone(items);
    }
    return refused_alone(items.front(), f);
  }
}

std::vector<apply_outcome> delivery_store::each_alone(std::span<const model::delivery_item> items) {
  // One item may be at fault (refused data, a locked row): apply each on
  // its own, so that it cannot fail its neighbours.
  std::vector<apply_outcome> outcomes;
  outcomes.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    outcomes.push_back(apply_isolating(items.subspan(i, 1), 0).front());
  }
  return outcomes;
}

std::vector<apply_outcome> delivery_store::refused_alone(const model::delivery_item& item,
                                                         const failure& f) {
  if (f.kind == failure_kind::row_locked) {
    telemetry::log_event(telemetry::level::warn, "db_row_locked")
        .field("shop", item.meta.shop_domain)
        .field("webhook_id", item.meta.webhook_id)
        .field("sqlstate", f.sqlstate)
        .field("error", f.message);
    return {apply_outcome::retry_later};
  }
  if (f.kind == failure_kind::bad_item &&
      !std::holds_alternative<model::dead_letter>(item.action)) {
    telemetry::log_event(telemetry::level::warn, "db_refused_item")
        .field("sqlstate", f.sqlstate)
        .field("shop", item.meta.shop_domain)
        .field("webhook_id", item.meta.webhook_id);
    const model::delivery_item dead = as_dead_letter(item, f.message);
    return apply_isolating(std::span(&dead, 1), 0);
  }
  telemetry::log_event(telemetry::level::error, "db_error")
      .field("sqlstate", f.sqlstate)
      .field("error", f.message)
      .field("shop", item.meta.shop_domain)
      .field("webhook_id", item.meta.webhook_id);
  return {apply_outcome::failed};
}

} // namespace shopmirror::db

#include "ingest/reconcile_api.hpp"

#include "net/url.hpp"

#include "crypto/constant_time.hpp"
#include "db/errors.hpp"
#include "ingest/json_writer.hpp"
#include "telemetry/log.hpp"

#include <rapidjson/document.h>

#include <charconv>
#include <map>
#include <vector>

namespace shopmirror::ingest {
namespace {

// The members of one shop's answer to a trigger (the object is the
// caller's to open and close).
void write_trigger_members(json_writer& w, const std::string& shop,
                           const reconcile::trigger_result& result) {
  w.Key("shop");
  write_string(w, shop);
  w.Key("run_id");
  if (result.run_id) {
    w.Int64(*result.run_id);
  } else {
    w.Null();
  }
  w.Key("started");
  w.Bool(result.started);
  if (!result.error.empty()) {
    w.Key("error");
    write_string(w, result.error);
    if (result.uninstalled) {
      w.Key("uninstalled");
      w.Bool(true);
    }
  }
}

void write_run(json_writer& w, const db::run_record& run) {
  w.StartObject();
  w.Key("id");
  w.Int64(run.id);
  w.Key("shop");
  write_string(w, run.shop);
  w.Key("trigger");
  write_string(w, to_string(run.trigger));
  w.Key("mode");
  write_string(w, to_string(run.mode));
  w.Key("since");
  write_time(w, run.since);
  w.Key("dry_run");
  w.Bool(run.dry_run);
  w.Key("started_at");
  write_time(w, run.started_at);
  w.Key("finished_at");
  write_time(w, run.finished_at);
  w.Key("status");
  write_string(w, to_string(run.status));
  w.Key("error");
  write_text(w, run.error);
  const std::pair<const char*, std::int64_t> counts[] = {
      {"listed", run.listed},         {"inserted", run.inserted}, {"updated", run.updated},
      {"unchanged", run.unchanged},   {"revived", run.revived},   {"failed", run.failed},
      {"tombstoned", run.tombstoned},
  };
  for (const auto& [name, value] : counts) {
    w.Key(name);
    w.Int64(value);
  }
  w.Key("max_sweep");
  w.Double(run.max_sweep);
  w.Key("held_sweep");
  if (run.held_sweep) {
    w.Int64(*run.held_sweep);
  } else {
    w.Null();
  }
  w.Key("sweep_confirmed_at");
  write_time(w, run.sweep_confirmed_at);
  w.EndObject();
}

http_response error(http::status status, std::string_view message) {
  return make_response(status, json_error(message));
}

// What POST /reconcile asks for: the run and the shops, or why not.
struct trigger_request {
  std::optional<http_response> refused;
  db::run_request base;
  std::vector<std::string> shops;
};

trigger_request refuse(http::status status, std::string_view message) {
  trigger_request out;
  out.refused = error(status, message);
  return out;
}

trigger_request read_trigger(const http_request& request,
                             const reconcile::coordinator& coordinator) {
  const auto parsed = net::query_parameters(request.target());
  if (!parsed) {
    return refuse(http::status::bad_request, "the request target is not a path and query");
  }
  const auto& params = *parsed;
  for (const auto& [name, value] : params) {
    if (name != "shop" && name != "mode" && name != "since" && name != "dry_run") {
      return refuse(http::status::bad_request, "unknown parameter " + name);
    }
  }
  trigger_request out;
  out.base.trigger = db::run_trigger::api;
  out.base.mode = coordinator.settings().mode;
  out.base.max_sweep = coordinator.settings().max_sweep;
  if (const auto mode = params.find("mode"); mode != params.end()) {
    const auto chosen = db::parse_listing_mode(mode->second);
    if (!chosen) {
      return refuse(http::status::bad_request, "mode is bulk or paginated");
    }
    out.base.mode = *chosen;
  }
  if (const auto since = params.find("since"); since != params.end()) {
    out.base.since = model::parse_rfc3339(since->second);
    if (!out.base.since) {
      return refuse(http::status::bad_request, "since is not an RFC 3339 time");
    }
    out.base.mode = db::run_mode::since;
  }
  if (const auto dry = params.find("dry_run"); dry != params.end()) {
    out.base.dry_run = dry->second.empty() || dry->second == "1" || dry->second == "true";
  }
  if (const auto shop = params.find("shop"); shop != params.end()) {
    if (coordinator.find_shop(shop->second) == nullptr) {
      return refuse(http::status::not_found, "no such shop is configured");
    }
    out.shops.push_back(shop->second);
  } else {
    for (const auto& configured : coordinator.shops()) {
      out.shops.push_back(configured.domain);
    }
  }
  return out;
}

// {"runs": [one answer per shop]}; asked for one shop, that shop's answer
// is also the object's own members.
std::string trigger_body(const std::vector<std::string>& shops,
                         const std::vector<reconcile::trigger_result>& results) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  if (shops.size() == 1) {
    write_trigger_members(w, shops.front(), results.front());
  }
  w.Key("runs");
  w.StartArray();
  for (std::size_t i = 0; i < shops.size(); ++i) {
    w.StartObject();
    write_trigger_members(w, shops[i], results[i]);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

// The status of the answer follows from the worst of the shops' results.
http::status trigger_status(const std::vector<reconcile::trigger_result>& results) {
  bool failed = false;
  bool failed_for_good = false;
  std::size_t uninstalled = 0;
  for (const auto& result : results) {
    if (result.error.empty()) {
      continue;
    }
    if (result.uninstalled) {
      ++uninstalled;
    } else {
      failed = true;
      failed_for_good = failed_for_good || !result.retry_later;
    }
  }
  if (failed_for_good) {
    // The database refused in a way a retry would meet again.
    return http::status::internal_server_error;
  }
  if (failed) {
    // Nothing could be recorded (the database is down or busy): retry later.
    return http::status::service_unavailable;
  }
  // Every shop asked for is uninstalled: retrying will not help, a
  // reinstall will. Uninstalled shops among others are skipped.
  return !results.empty() && uninstalled == results.size() ? http::status::conflict
                                                           : http::status::accepted;
}

http_response trigger(const http_request& request, reconcile::coordinator& coordinator) {
  const trigger_request asked = read_trigger(request, coordinator);
  if (asked.refused) {
    return *asked.refused;
  }
  std::vector<reconcile::trigger_result> results;
  for (const auto& shop : asked.shops) {
    db::run_request one = asked.base;
    one.shop = shop;
    const reconcile::trigger_result& result = results.emplace_back(coordinator.trigger(one));
    telemetry::log_event(result.error.empty() || result.uninstalled ? telemetry::level::info
                                                                    : telemetry::level::error,
                         "reconcile_triggered")
        .field("shop", shop)
        .field("trigger", "api")
        .field("run_id", result.run_id.value_or(0))
        .field("started", result.started)
        .field("error", result.error);
  }
  const http::status status = trigger_status(results);
  auto response = make_response(status, trigger_body(asked.shops, results));
  if (status == http::status::service_unavailable) {
    response.set(http::field::retry_after, "5");
  }
  return response;
}

// The latest runs, and the refresh requests that keep failing.
http_response latest_runs(const db::db_settings& database) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("runs");
  w.StartArray();
  for (const auto& run : db::list_runs(database, 50)) {
    write_run(w, run);
  }
  w.EndArray();
  // Stub payloads whose product could not be fetched: each one is a
  // product the mirror may be missing until it is.
  w.Key("failing_refreshes");
  w.StartArray();
  for (const auto& refresh : db::failing_refreshes(database, 50)) {
    w.StartObject();
    w.Key("shop");
    write_string(w, refresh.shop);
    w.Key("product_id");
    w.Int64(refresh.product_id);
    w.Key("requested_at");
    write_string(w, refresh.requested_at);
    w.Key("attempts");
    w.Int(refresh.attempts);
    w.Key("last_error");
    write_string(w, refresh.last_error);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return make_response(http::status::ok, std::string(buffer.GetString(), buffer.GetSize()));
}

// One run, with the products it could not read or apply (the first 100).
http_response one_run(const db::db_settings& database, std::string_view id_text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc{} || end != id_text.data() + id_text.size()) {
    return error(http::status::not_found, "no such run");
  }
  const auto run = db::find_run(database, id);
  if (!run) {
    return error(http::status::not_found, "no such run");
  }
  rapidjson::Document doc;
  doc.Parse(run_json(*run).c_str());
  rapidjson::Value failures(rapidjson::kArrayType);
  for (const auto& failed : db::run_failures(database, id, 100)) {
    rapidjson::Value entry(rapidjson::kObjectType);
    rapidjson::Value product_id;
    if (failed.product_id) {
      product_id.SetInt64(*failed.product_id);
    }
    entry.AddMember("product_id", product_id, doc.GetAllocator());
    entry.AddMember("reason", rapidjson::Value(failed.reason.c_str(), doc.GetAllocator()),
                    doc.GetAllocator());
    failures.PushBack(entry, doc.GetAllocator());
  }
  doc.AddMember("failures", failures, doc.GetAllocator());
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  doc.Accept(w);
  return make_response(http::status::ok, std::string(buffer.GetString(), buffer.GetSize()));
}

http_response runs(const http_request& request, const db::db_settings& database) {
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));
  constexpr std::string_view prefix = "/reconcile/runs";
  std::string_view rest = path.substr(prefix.size());
  if (rest.empty() || rest == "/") {
    return latest_runs(database);
  }
  rest.remove_prefix(1);
  return one_run(database, rest);
}

} // namespace

bool bearer_matches(const http_request& request, const std::string& token) {
  const std::string_view header = request[http::field::authorization];
  constexpr std::string_view scheme = "Bearer ";
  if (token.empty() || header.size() <= scheme.size() ||
      header.substr(0, scheme.size()) != scheme) {
    return false;
  }
  return crypto::secret_equal(header.substr(scheme.size()), token);
}

std::string run_json(const db::run_record& run) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  write_run(w, run);
  return {buffer.GetString(), buffer.GetSize()};
}

http_response answer_reconcile(const http_request& request, reconcile::coordinator& coordinator,
                               const db::db_settings& database) {
  if (!bearer_matches(request, coordinator.settings().trigger_token)) {
    auto response = error(http::status::unauthorized, "a bearer token is required");
    response.set(http::field::www_authenticate, "Bearer");
    return response;
  }
  try {
    if (request.target().substr(0, 15) == "/reconcile/runs") {
      return runs(request, database);
    }
    return trigger(request, coordinator);
  } catch (const db::database_error& e) {
    telemetry::log_event(telemetry::level::error, "reconcile_api_failed")
        .field("error", e.what())
        .field("sqlstate", e.sqlstate())
        .field("failure", db::to_string(e.kind()));
    if (!e.retry_later()) {
      return error(http::status::internal_server_error, "the database failed");
    }
    auto response = error(http::status::service_unavailable, "the database cannot be reached");
    response.set(http::field::retry_after, "5");
    return response;
  } catch (const std::exception& e) {
    telemetry::log_event(telemetry::level::error, "reconcile_api_failed").field("error", e.what());
    return error(http::status::internal_server_error, "internal error");
  }
}

} // namespace shopmirror::ingest

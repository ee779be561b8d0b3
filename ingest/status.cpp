#include "ingest/status.hpp"

#include "crypto/base64.hpp"
#include "crypto/constant_time.hpp"
#include "ingest/json_writer.hpp"
#include "ingest/reconcile_api.hpp"

#include <algorithm>
#include <numeric>

namespace shopmirror::ingest {
namespace {

constexpr const char* subscriptions_note =
    "not recorded in the database: each replica's last check is in its /metrics "
    "(shopmirror_webhook_subscription_state), or run shopmirror subscriptions check";

std::int64_t total(const std::map<std::string, std::int64_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), std::int64_t{0},
                         [](std::int64_t sum, const auto& entry) { return sum + entry.second; });
}

/// UTC to the second, "2026-12-05 10:50:11": what a person reads (the
/// table and the page say UTC once); JSON keeps RFC 3339 and microseconds.
std::string short_time(const std::optional<model::timestamp>& t) {
  if (!t) {
    return "-";
  }
  std::string text = model::format_rfc3339(*t).substr(0, 19);
  text[10] = ' ';
  return text;
}

std::string outcomes_text(const std::map<std::string, std::int64_t>& counts) {
  std::string out = std::to_string(total(counts));
  if (counts.empty()) {
    return out;
  }
  out += " (";
  bool first = true;
  for (const auto& [outcome, count] : counts) {
    out += (first ? "" : ", ") + outcome + " " + std::to_string(count);
    first = false;
  }
  return out + ")";
}

std::string run_text(const db::run_record& run) {
  std::string status(to_string(run.status));
  if (run.status == db::run_status::held) {
    status = "HELD (sweep of " + std::to_string(run.held_sweep.value_or(0)) + ")";
  } else if (db::is_failure(run.status)) {
    std::transform(status.begin(), status.end(), status.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  }
  return "#" + std::to_string(run.id) + " " + status;
}

std::string credentials_text(const db::status_report& report, const db::shop_status& shop) {
  if (!report.credentials_readable) {
    return "not readable by this role";
  }
  if (!shop.credentials) {
    return "none stored";
  }
  return shop.credentials->kind + ", " + shop.credentials->state;
}

/// The columns of the summary and of each shop's runs, shared by the
/// terminal table and the page, so that both say the same.
const std::vector<std::string>& summary_header() {
  static const std::vector<std::string> names = {
      "SHOP",     "STATE",        "DELIVERIES LAST HOUR",  "LAST DELIVERY",
      "LAST RUN", "DEAD LETTERS", "REFRESHES DUE/FAILING", "CREDENTIALS",
      "INSTALLED"};
  return names;
}

std::vector<std::string> summary_row(const db::status_report& report, const db::shop_status& shop) {
  return {shop.shop,
          shop.attention().empty() ? "ok" : "ATTENTION",
          outcomes_text(shop.deliveries_last_hour),
          shop.last_delivery_at ? short_time(shop.last_delivery_at)
                                : "none in " + std::to_string(db::status_lookback_hours) + " h",
          shop.runs.empty() ? "none" : run_text(shop.runs.front()),
          std::to_string(shop.dead_letters_pending),
          std::to_string(shop.refreshes_due) + "/" + std::to_string(shop.refreshes_failing),
          credentials_text(report, shop),
          shop.uninstalled_at ? "NO" : "yes"};
}

// A held run's sweep is in its status: HELD (sweep of N).
const std::vector<std::string>& runs_header() {
  static const std::vector<std::string> names = {
      "RUN",      "STATUS",  "TRIGGER/MODE", "STARTED", "FINISHED", "LISTED",
      "INSERTED", "UPDATED", "UNCHANGED",    "REVIVED", "FAILED",   "TOMBSTONED"};
  return names;
}

std::vector<std::string> runs_row(const db::run_record& run) {
  std::string status = run_text(run);
  status = status.substr(status.find(' ') + 1);
  return {std::to_string(run.id),
          status,
          std::string(to_string(run.trigger)) + "/" + std::string(to_string(run.mode)) +
              (run.dry_run ? " (dry run)" : ""),
          short_time(run.started_at),
          short_time(run.finished_at),
          std::to_string(run.listed),
          std::to_string(run.inserted),
          std::to_string(run.updated),
          std::to_string(run.unchanged),
          std::to_string(run.revived),
          std::to_string(run.failed),
          std::to_string(run.tombstoned)};
}

std::string aligned(const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows, std::string_view indent) {
  std::vector<std::size_t> widths(header.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  std::for_each(rows.begin(), rows.end(), measure);
  std::string out;
  const auto print = [&](const std::vector<std::string>& row) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    out += line + "\n";
  };
  print(header);
  std::for_each(rows.begin(), rows.end(), print);
  return out;
}

bool is_failure(const db::run_record& run) {
  return db::is_failure(run.status);
}

http_response status_error(http::status status, bool html, std::string_view message) {
  if (html) {
    return make_response(status,
                         "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                         "<title>shopmirror status</title></head><body><p>" +
                             html_escaped(message) + "</p></body></html>\n",
                         "text/html; charset=utf-8");
  }
  return make_response(status, json_error(message));
}

constexpr const char* page_style = R"css(
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.25rem; color: #1b1b1b;
       background: #fafafa; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; }
p.as-of { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; background: #fff; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: #eee; font-weight: 600; }
td.shop, td.time, td.run, td.number { white-space: nowrap; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
td.state { font-weight: 700; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .6rem; font-size: .85rem;
         font-weight: 700; }
.badge.ok { background: #d7f0dc; color: #145a26; }
.badge.attention { background: #ffe3a3; color: #6b4300; }
tr.held td { background: #fff1c7; }
tr.failed td { background: #fddcdc; }
tr.attention td.state { color: #6b4300; }
strong.held { color: #8a4b00; }
strong.failed { color: #a30000; }
ul.attention { margin: .25rem 0 .75rem; padding-left: 1.25rem; }
ul.attention li { color: #6b1f00; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; margin: .25rem 0; }
dt { font-weight: 600; }
dd { margin: 0; }
p.note { color: #555; font-size: .9rem; }
)css";

/// A heading as a page shows it: "DEAD LETTERS" reads "Dead letters".
std::string heading(const std::string& name) {
  std::string out = name;
  for (std::size_t i = 1; i < out.size(); ++i) {
    out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
  }
  return out;
}

/// `column_classes` style each column (number, time, ... in page_style);
/// `row_classes` mark rows (held, failed, attention).
void html_table(std::string& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows,
                const std::vector<std::string>& row_classes,
                const std::vector<std::string>& column_classes) {
  out += "<table><thead><tr>";
  for (std::size_t i = 0; i < header.size(); ++i) {
    out += "<th scope=\"col\" class=\"" + column_classes[i] + "\">" +
           html_escaped(heading(header[i])) + "</th>";
  }
  out += "</tr></thead><tbody>\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out += row_classes[r].empty() ? "<tr>" : "<tr class=\"" + row_classes[r] + "\">";
    for (std::size_t i = 0; i < rows[r].size(); ++i) {
      const std::string& cell = rows[r][i];
      out += column_classes[i].empty() ? "<td>" : "<td class=\"" + column_classes[i] + "\">";
      // Only a run's status is written in capitals: HELD, FAILED, INTERRUPTED.
      if (cell.find("HELD") != std::string::npos) {
        out += "<strong class=\"held\">" + html_escaped(cell) + "</strong>";
      } else if (cell.find("FAILED") != std::string::npos ||
                 cell.find("INTERRUPTED") != std::string::npos) {
        out += "<strong class=\"failed\">" + html_escaped(cell) + "</strong>";
      } else {
        out += html_escaped(cell);
      }
      out += "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
}

std::optional<std::string> basic_password(std::string_view credentials) {
  const auto decoded = crypto::base64_decode(credentials);
  if (!decoded) {
    return std::nullopt;
  }
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  return decoded->substr(colon + 1);
}

} // namespace

std::string html_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

namespace {

void write_deliveries(json_writer& w, const db::shop_status& shop) {
  w.Key("deliveries_last_hour");
  w.StartObject();
  w.Key("total");
  w.Int64(total(shop.deliveries_last_hour));
  w.Key("by_outcome");
  w.StartObject();
  for (const auto& [outcome, count] : shop.deliveries_last_hour) {
    w.Key(outcome.c_str(), static_cast<rapidjson::SizeType>(outcome.size()));
    w.Int64(count);
  }
  w.EndObject();
  w.EndObject();
  w.Key("last_delivery_at");
  write_time(w, shop.last_delivery_at);
  w.Key("last_delivery_lookback_hours");
  w.Int(db::status_lookback_hours);
}

void write_runs(json_writer& w, const db::shop_status& shop) {
  w.Key("held_sweeps");
  w.StartArray();
  for (const auto* run : shop.held_runs()) {
    w.StartObject();
    w.Key("run_id");
    w.Int64(run->id);
    w.Key("held_sweep");
    w.Int64(run->held_sweep.value_or(0));
    w.EndObject();
  }
  w.EndArray();
  w.Key("reconcile_runs");
  w.StartArray();
  for (const auto& run : shop.runs) {
    // The very object GET /reconcile/runs shows for it.
    const std::string json = run_json(run);
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  w.EndArray();
}

void write_backlogs(json_writer& w, const db::shop_status& shop) {
  w.Key("dead_letters");
  w.StartObject();
  w.Key("pending");
  w.Int64(shop.dead_letters_pending);
  w.Key("oldest_received_at");
  write_time(w, shop.oldest_dead_letter_at);
  w.EndObject();
  w.Key("refresh_requests");
  w.StartObject();
  w.Key("due");
  w.Int64(shop.refreshes_due);
  w.Key("failing");
  w.Int64(shop.refreshes_failing);
  w.EndObject();
}

void write_access(json_writer& w, const db::shop_status& shop) {
  w.Key("installed");
  w.Bool(!shop.uninstalled_at);
  w.Key("uninstalled_at");
  write_time(w, shop.uninstalled_at);
  w.Key("credentials");
  if (!shop.credentials) {
    w.Null();
    return;
  }
  const auto& c = *shop.credentials;
  w.StartObject();
  w.Key("kind");
  write_string(w, c.kind);
  w.Key("state");
  write_string(w, c.state);
  w.Key("access_expires_at");
  write_time(w, c.access_expires_at);
  w.Key("refresh_expires_at");
  write_time(w, c.refresh_expires_at);
  w.Key("renewed_at");
  write_time(w, c.renewed_at);
  w.Key("last_error");
  write_text(w, c.last_error);
  w.EndObject();
}

void write_shop(json_writer& w, const db::shop_status& shop) {
  w.StartObject();
  w.Key("shop");
  write_string(w, shop.shop);
  const auto attention = shop.attention();
  w.Key("ok");
  w.Bool(attention.empty());
  w.Key("attention");
  w.StartArray();
  for (const auto& line : attention) {
    write_string(w, line);
  }
  w.EndArray();
  write_deliveries(w, shop);
  write_runs(w, shop);
  write_backlogs(w, shop);
  write_access(w, shop);
  w.EndObject();
}

} // namespace

std::string status_json(const db::status_report& report) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("as_of");
  write_time(w, report.as_of);
  w.Key("ok");
  w.Bool(std::all_of(report.shops.begin(), report.shops.end(),
                     [](const db::shop_status& s) { return s.attention().empty(); }));
  w.Key("credentials_readable");
  w.Bool(report.credentials_readable);
  w.Key("subscriptions");
  w.StartObject();
  w.Key("recorded");
  w.Bool(false);
  w.Key("note");
  write_string(w, subscriptions_note);
  w.EndObject();
  w.Key("shops");
  w.StartArray();
  for (const auto& shop : report.shops) {
    write_shop(w, shop);
  }
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string status_table(const db::status_report& report) {
  std::string out = "shopmirror status at " + short_time(report.as_of) +
                    " UTC, from the database (all times UTC)\n\n";
  if (report.shops.empty()) {
    out += "no shop is configured or recorded\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& shop : report.shops) {
      rows.push_back(summary_row(report, shop));
    }
    out += aligned(summary_header(), rows, "");
  }
  for (const auto& shop : report.shops) {
    out += "\n" + shop.shop + "\n";
    for (const auto& line : shop.attention()) {
      out += "  ! " + line + "\n";
    }
    if (shop.credentials) {
      out += "  credentials: " + credentials_text(report, shop) + ", access token expires " +
             short_time(shop.credentials->access_expires_at) + ", refresh token expires " +
             short_time(shop.credentials->refresh_expires_at) + ", renewed " +
             short_time(shop.credentials->renewed_at) + "\n";
    }
    if (shop.runs.empty()) {
      out += "  no reconcile run yet\n";
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& run : shop.runs) {
        rows.push_back(runs_row(run));
      }
      out += aligned(runs_header(), rows, "  ");
    }
  }
  out += std::string("\nwebhook subscriptions: ") + subscriptions_note + "\n";
  return out;
}

namespace {

void html_summary(std::string& out, const db::status_report& report) {
  if (report.shops.empty()) {
    out += "<p>No shop is configured or recorded.</p>\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> classes;
  for (const auto& shop : report.shops) {
    rows.push_back(summary_row(report, shop));
    std::string cls = shop.attention().empty() ? "" : "attention";
    if (!shop.held_runs().empty()) {
      cls += " held";
    } else if (!shop.runs.empty() && is_failure(shop.runs.front())) {
      cls += " failed";
    }
    classes.push_back(cls);
  }
  html_table(out, summary_header(), rows, classes,
             {"shop", "state", "", "time", "run", "number", "number", "", ""});
}

void html_facts(std::string& out, const db::status_report& report, const db::shop_status& shop) {
  out += "<dl>\n<dt>Deliveries in the last hour</dt><dd>" +
         html_escaped(outcomes_text(shop.deliveries_last_hour)) +
         "</dd>\n<dt>Last delivery</dt><dd>" +
         html_escaped(shop.last_delivery_at
                          ? short_time(shop.last_delivery_at)
                          : "none in " + std::to_string(db::status_lookback_hours) + " h") +
         "</dd>\n<dt>Dead letters pending</dt><dd>" + std::to_string(shop.dead_letters_pending) +
         "</dd>\n<dt>Refresh requests</dt><dd>" + std::to_string(shop.refreshes_due) + " due, " +
         std::to_string(shop.refreshes_failing) + " failing</dd>\n<dt>Installed</dt><dd>" +
         (shop.uninstalled_at ? "no, uninstalled " + html_escaped(short_time(shop.uninstalled_at))
                              : std::string("yes")) +
         "</dd>\n<dt>Credentials</dt><dd>" + html_escaped(credentials_text(report, shop));
  if (shop.credentials) {
    out +=
        html_escaped(", access token expires " + short_time(shop.credentials->access_expires_at) +
                     ", refresh token expires " + short_time(shop.credentials->refresh_expires_at));
  }
  out += "</dd>\n</dl>\n";
}

void html_runs(std::string& out, const db::shop_status& shop) {
  if (shop.runs.empty()) {
    out += "<p>No reconcile run yet.</p>\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> classes;
  for (const auto& run : shop.runs) {
    rows.push_back(runs_row(run));
    classes.emplace_back(run.status == db::run_status::held ? "held"
                         : is_failure(run)                  ? "failed"
                                                            : "");
  }
  html_table(out, runs_header(), rows, classes,
             {"number", "run", "", "time", "time", "number", "number", "number", "number", "number",
              "number", "number"});
}

void html_shop(std::string& out, const db::status_report& report, const db::shop_status& shop) {
  const auto attention = shop.attention();
  out += "<section class=\"shop\">\n<h2>" + html_escaped(shop.shop) + " <span class=\"badge " +
         (attention.empty() ? "ok\">ok" : "attention\">needs attention") + "</span></h2>\n";
  if (!attention.empty()) {
    out += "<ul class=\"attention\">\n";
    for (const auto& line : attention) {
      out += "<li>" + html_escaped(line) + "</li>\n";
    }
    out += "</ul>\n";
  }
  html_facts(out, report, shop);
  html_runs(out, shop);
  out += "</section>\n";
}

} // namespace

std::string status_html(const db::status_report& report) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>shopmirror status</title>\n<style>";
  out += page_style;
  out +=
      "</style>\n</head>\n<body>\n<h1>shopmirror status</h1>\n<p class=\"as-of\">As of <time>" +
      html_escaped(short_time(report.as_of)) +
      "</time> UTC, read from the database: every replica shows the same. All times are UTC.</p>\n";
  html_summary(out, report);
  for (const auto& shop : report.shops) {
    html_shop(out, report, shop);
  }
  out += "<p class=\"note\">Webhook subscriptions: " + html_escaped(subscriptions_note) +
         ".</p>\n</body>\n</html>\n";
  return out;
}

bool status_authorized(const http_request& request, const std::vector<std::string>& tokens) {
  const std::string_view header = request[http::field::authorization];
  std::optional<std::string> presented;
  if (header.substr(0, 7) == "Bearer ") {
    presented = std::string(header.substr(7));
  } else if (header.substr(0, 6) == "Basic ") {
    presented = basic_password(header.substr(6));
  }
  if (!presented || presented->empty()) {
    return false;
  }
  bool matched = false;
  for (const auto& token : tokens) {
    // Every token is compared, so the time taken says nothing about which.
    matched = (!token.empty() && crypto::secret_equal(*presented, token)) || matched;
  }
  return matched;
}

http_response answer_status(const http_request& request, const std::vector<std::string>& tokens,
                            const db::db_settings& database,
                            const std::vector<std::string>& configured_shops) {
  const std::string_view path = request.target().substr(0, request.target().find('?'));
  const bool html = path == "/status/";
  if (!status_authorized(request, tokens)) {
    auto response = status_error(http::status::unauthorized, html, "a token is required");
    // A browser asks its user for the token (as the password) on Basic.
    response.set(http::field::www_authenticate,
                 html ? "Basic realm=\"shopmirror status\", charset=\"UTF-8\"" : "Bearer");
    return response;
  }
  const db::status_reading reading = db::read_status(database, configured_shops);
  if (reading.failure != db::status_failure::none) {
    const bool unavailable = reading.failure == db::status_failure::unavailable;
    auto response = status_error(
        unavailable ? http::status::service_unavailable : http::status::internal_server_error, html,
        unavailable ? "the database cannot be read now" : "the status could not be read");
    if (unavailable) {
      response.set(http::field::retry_after, "5");
    }
    return response;
  }
  auto response = html ? make_response(http::status::ok, status_html(reading.report),
                                       "text/html; charset=utf-8")
                       : make_response(http::status::ok, status_json(reading.report));
  response.set(http::field::cache_control, "no-store");
  if (html) {
    // The page has no script, and a browser is told so.
    response.set("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  }
  return response;
}

} // namespace shopmirror::ingest

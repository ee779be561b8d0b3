#include "cli/config.hpp"

#include "cli/config_values.hpp"
#include "db/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>
#include <thread>

extern char** environ;

namespace shopmirror::cli {
namespace {

// Every variable the service reads: any other SHOPMIRROR_ name is reported
// at start-up as unknown (a misspelt setting would otherwise be ignored).
const std::set<std::string, std::less<>> known_names = {
    "SHOPMIRROR_DATABASE_URL",
    "SHOPMIRROR_LISTEN",
    "SHOPMIRROR_WEBHOOK_SECRETS",
    "SHOPMIRROR_WEBHOOK_SECRETS_FILE",
    "SHOPMIRROR_MAX_BODY_BYTES",
    "SHOPMIRROR_ACK_TIMEOUT_MS",
    "SHOPMIRROR_READ_TIMEOUT_MS",
    "SHOPMIRROR_IDLE_TIMEOUT_MS",
    "SHOPMIRROR_DRAIN_TIMEOUT_MS",
    "SHOPMIRROR_MAX_CONNECTIONS",
    "SHOPMIRROR_IO_THREADS",
    "SHOPMIRROR_DB_CONNECTIONS",
    "SHOPMIRROR_DB_BATCH_MAX",
    "SHOPMIRROR_DB_BATCH_WAIT_US",
    "SHOPMIRROR_QUEUE_CAPACITY",
    "SHOPMIRROR_DB_CONNECT_TIMEOUT_MS",
    "SHOPMIRROR_DB_STATEMENT_TIMEOUT_MS",
    "SHOPMIRROR_DB_LOCK_TIMEOUT_MS",
    "SHOPMIRROR_DB_KEEPALIVE_IDLE",
    "SHOPMIRROR_DB_KEEPALIVE_INTERVAL",
    "SHOPMIRROR_DB_KEEPALIVE_COUNT",
    "SHOPMIRROR_DB_TCP_USER_TIMEOUT_MS",
    "SHOPMIRROR_MIGRATE_ON_START",
    "SHOPMIRROR_API_VERSION",
    "SHOPMIRROR_LOG_LEVEL",
    "SHOPMIRROR_DELIVERY_RETENTION",
    "SHOPMIRROR_PRUNE_EVERY",
    "SHOPMIRROR_ERASE_BATCH",
    "SHOPMIRROR_ERASE_INTERVAL_MS",
    "SHOPMIRROR_TRUSTED_PROXIES",
    "SHOPMIRROR_SHOP",
    "SHOPMIRROR_ADMIN_TOKEN",
    "SHOPMIRROR_ADMIN_TOKEN_FILE",
    "SHOPMIRROR_ADMIN_API_URL",
    "SHOPMIRROR_CONFIG",
    "SHOPMIRROR_RECONCILE_AT",
    "SHOPMIRROR_RECONCILE_TOKEN",
    "SHOPMIRROR_RECONCILE_MODE",
    "SHOPMIRROR_RECONCILE_PAGE_SIZE",
    "SHOPMIRROR_RECONCILE_JITTER",
    "SHOPMIRROR_REFRESH_INTERVAL_MS",
    "SHOPMIRROR_RECONCILE_MAX_ATTEMPTS",
    "SHOPMIRROR_RECONCILE_RETRY_BASE_MS",
    "SHOPMIRROR_RECONCILE_CONNECTIONS",
    "SHOPMIRROR_RECONCILE_MAX_SWEEP",
    "SHOPMIRROR_ADMIN_AUTH",
    "SHOPMIRROR_CLIENT_ID",
    "SHOPMIRROR_CLIENT_SECRET",
    "SHOPMIRROR_CLIENT_SECRET_FILE",
    "SHOPMIRROR_APP_PRIVATE_KEY_FILE",
    "SHOPMIRROR_APP_KEY_ID",
    "SHOPMIRROR_CREDENTIALS_KEY",
    "SHOPMIRROR_CREDENTIALS_KEY_FILE",
    "SHOPMIRROR_PUBLIC_URL",
    "SHOPMIRROR_SUBSCRIPTION_CHECK_EVERY",
    "SHOPMIRROR_RECONCILE_BULK_TIMEOUT",
    "SHOPMIRROR_STATUS_TOKEN",
    "SHOPMIRROR_STATUS_TOKEN_FILE",
};

} // namespace

ingest::listen_address parse_listen(const std::string& name, const std::string& value) {
  const std::string text = trim(value);
  const auto colon = text.rfind(':');
  const auto fail = [&](const std::string& why) {
    return config_error(name + "=\"" + value + "\" " + why + " (expected host:port, e.g. " +
                        "127.0.0.1:8080)");
  };
  if (colon == std::string::npos || colon == 0) {
    throw fail("has no host or no port");
  }
  ingest::listen_address address;
  address.host = text.substr(0, colon);
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2); // [::1]
  }
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535) {
    throw fail("has a port that is not a number from 0 to 65535");
  }
  address.port = static_cast<std::uint16_t>(port);
  return address;
}

void config::require_database() const {
  if (database.url.empty()) {
    throw config_error("SHOPMIRROR_DATABASE_URL is not set (a libpq connection string or URI, "
                       "e.g. postgresql://shopmirror@localhost/shopmirror)");
  }
}

void config::require_shops() const {
  if (shops.empty()) {
    throw config_error("no shop to reconcile: set SHOPMIRROR_SHOP (name.myshopify.com) and "
                       "SHOPMIRROR_ADMIN_TOKEN, or SHOPMIRROR_CONFIG (a file naming several)");
  }
}

void config::require_secrets() const {
  const bool shop_keys = std::any_of(
      shops.begin(), shops.end(), [](const auto& shop) { return !shop.webhook_secrets.empty(); });
  if (webhook_secrets.empty() && !shop_keys) {
    throw config_error("SHOPMIRROR_WEBHOOK_SECRETS is not set (the app's client secret; "
                       "several, comma-separated, during a rotation), nor is "
                       "SHOPMIRROR_WEBHOOK_SECRETS_FILE");
  }
}

namespace {

std::vector<std::string> unknown_variables(const std::vector<std::string>& names) {
  std::vector<std::string> unknown;
  for (const auto& name : names) {
    if (name.rfind("SHOPMIRROR_", 0) == 0 && known_names.count(name) == 0 &&
        name.rfind("SHOPMIRROR_TEST_", 0) != 0) {
      unknown.push_back(name);
    }
  }
  return unknown;
}

void load_database(const env_lookup& lookup, db::db_settings& d) {
  if (const auto url = lookup("SHOPMIRROR_DATABASE_URL")) {
    d.url = trim(*url);
    if (d.url.empty()) {
      throw config_error("SHOPMIRROR_DATABASE_URL is empty");
    }
    if (const auto problem = db::validate_url(d.url)) {
      // libpq quotes the value back, and it may hold a password: then the
      // message names the variable only.
      const bool may_hold_password =
          d.url.find('@') != std::string::npos || d.url.find("password") != std::string::npos;
      throw config_error("SHOPMIRROR_DATABASE_URL is not a valid libpq connection string" +
                         (may_hold_password
                              ? std::string(" (details withheld: it may hold a password)")
                              : ": " + *problem));
    }
  }
  d.connect_timeout =
      millis(lookup, "SHOPMIRROR_DB_CONNECT_TIMEOUT_MS", d.connect_timeout, 1000, 60000);
  d.statement_timeout =
      millis(lookup, "SHOPMIRROR_DB_STATEMENT_TIMEOUT_MS", d.statement_timeout, 100, 600000);
  d.lock_timeout = millis(lookup, "SHOPMIRROR_DB_LOCK_TIMEOUT_MS", d.lock_timeout, 10, 600000);
  d.keepalive_idle =
      duration(lookup, "SHOPMIRROR_DB_KEEPALIVE_IDLE", d.keepalive_idle, std::chrono::seconds(1));
  d.keepalive_interval = duration(lookup, "SHOPMIRROR_DB_KEEPALIVE_INTERVAL", d.keepalive_interval,
                                  std::chrono::seconds(1));
  d.keepalive_count =
      static_cast<int>(integer(lookup, "SHOPMIRROR_DB_KEEPALIVE_COUNT",
                               static_cast<std::uint64_t>(d.keepalive_count), 1, 100));
  d.tcp_user_timeout =
      millis(lookup, "SHOPMIRROR_DB_TCP_USER_TIMEOUT_MS", d.tcp_user_timeout, 0, 3600000);
}

std::vector<std::string> load_webhook_secrets(const env_lookup& lookup) {
  const auto secrets = lookup("SHOPMIRROR_WEBHOOK_SECRETS");
  const auto secrets_file = lookup("SHOPMIRROR_WEBHOOK_SECRETS_FILE");
  if (secrets && secrets_file) {
    throw config_error("SHOPMIRROR_WEBHOOK_SECRETS and SHOPMIRROR_WEBHOOK_SECRETS_FILE are both "
                       "set; set one");
  }
  if (secrets) {
    auto list = split_list(*secrets, ',');
    if (list.empty()) {
      throw config_error("SHOPMIRROR_WEBHOOK_SECRETS holds no secret");
    }
    return list;
  }
  if (secrets_file) {
    auto list = split_list(read_file("SHOPMIRROR_WEBHOOK_SECRETS_FILE", *secrets_file), '\n');
    if (list.empty()) {
      throw config_error("SHOPMIRROR_WEBHOOK_SECRETS_FILE=\"" + *secrets_file +
                         "\" holds no secret (one a line)");
    }
    return list;
  }
  return {};
}

// The HTTP server's limits and threads.
void load_server(const env_lookup& lookup, config& c) {
  if (const auto listen = lookup("SHOPMIRROR_LISTEN")) {
    c.listen = parse_listen("SHOPMIRROR_LISTEN", *listen);
  }
  c.max_body_bytes =
      integer(lookup, "SHOPMIRROR_MAX_BODY_BYTES", c.max_body_bytes, 1024, 1024ULL * 1024 * 1024);
  c.ack_timeout = millis(lookup, "SHOPMIRROR_ACK_TIMEOUT_MS", c.ack_timeout, 50, 4500);
  c.read_timeout = millis(lookup, "SHOPMIRROR_READ_TIMEOUT_MS", c.read_timeout, 100, 600000);
  c.idle_timeout = millis(lookup, "SHOPMIRROR_IDLE_TIMEOUT_MS", c.idle_timeout, 100, 3600000);
  c.drain_timeout = millis(lookup, "SHOPMIRROR_DRAIN_TIMEOUT_MS", c.drain_timeout, 0, 600000);
  c.max_connections = integer(lookup, "SHOPMIRROR_MAX_CONNECTIONS", c.max_connections, 1, 1000000);
  // Half the cores: the writer threads and, where it shares the machine,
  // the database need the rest. On two cores, one I/O thread served as many
  // webhooks as two with less CPU per webhook (README, Performance).
  const std::size_t half_the_cores = std::max(1U, std::thread::hardware_concurrency() / 2);
  c.io_threads = integer(lookup, "SHOPMIRROR_IO_THREADS", half_the_cores, 1, 256);
}

void load_writer(const env_lookup& lookup, db::writer_settings& w) {
  w.connections = integer(lookup, "SHOPMIRROR_DB_CONNECTIONS", w.connections, 1, 256);
  w.max_batch = integer(lookup, "SHOPMIRROR_DB_BATCH_MAX", w.max_batch, 1, 10000);
  w.max_wait = std::chrono::microseconds(static_cast<std::int64_t>(
      integer(lookup, "SHOPMIRROR_DB_BATCH_WAIT_US", static_cast<std::uint64_t>(w.max_wait.count()),
              0, 1000000)));
  w.queue_capacity = integer(lookup, "SHOPMIRROR_QUEUE_CAPACITY", w.queue_capacity, 1, 10000000);
}

// A dated version (2026-10) or "unstable".
std::optional<std::string> load_api_version(const env_lookup& lookup) {
  const auto version = lookup("SHOPMIRROR_API_VERSION");
  if (!version) {
    return std::nullopt;
  }
  const std::string text = trim(*version);
  const auto digits = [&](std::size_t from, std::size_t to) {
    return std::all_of(text.begin() + static_cast<std::ptrdiff_t>(from),
                       text.begin() + static_cast<std::ptrdiff_t>(to),
                       [](unsigned char ch) { return std::isdigit(ch) != 0; });
  };
  const bool dated = text.size() == 7 && digits(0, 4) && text[4] == '-' && digits(5, 7);
  if (!dated && text != "unstable") {
    throw config_error("SHOPMIRROR_API_VERSION=\"" + *version +
                       "\" is not an API version such as 2026-10");
  }
  return text;
}

// The delivery log's pruning and the erasure worker's pace.
void load_housekeeping(const env_lookup& lookup, config& c) {
  c.delivery_retention = duration(lookup, "SHOPMIRROR_DELIVERY_RETENTION", c.delivery_retention,
                                  std::chrono::hours(1));
  c.prune_every =
      duration(lookup, "SHOPMIRROR_PRUNE_EVERY", c.prune_every, std::chrono::seconds(1));
  c.erasure.batch_rows =
      integer(lookup, "SHOPMIRROR_ERASE_BATCH", c.erasure.batch_rows, 10, 100000);
  c.erasure.interval =
      millis(lookup, "SHOPMIRROR_ERASE_INTERVAL_MS", c.erasure.interval, 10, 3600000);
}

std::vector<std::string> load_trusted_proxies(const env_lookup& lookup,
                                              std::vector<std::string> fallback) {
  const auto proxies = lookup("SHOPMIRROR_TRUSTED_PROXIES");
  if (!proxies) {
    return fallback;
  }
  auto addresses = split_list(*proxies, ',');
  for (const auto& address : addresses) {
    const bool plausible =
        address.find_first_not_of("0123456789abcdefABCDEF.:") == std::string::npos;
    if (!plausible) {
      throw config_error("SHOPMIRROR_TRUSTED_PROXIES holds \"" + address +
                         "\", which is not an IP address");
    }
  }
  return addresses;
}

std::optional<std::string> load_log_level(const env_lookup& lookup) {
  const auto level = lookup("SHOPMIRROR_LOG_LEVEL");
  if (!level) {
    return std::nullopt;
  }
  const std::string text = trim(*level);
  if (text != "debug" && text != "info" && text != "warn" && text != "error") {
    throw config_error("SHOPMIRROR_LOG_LEVEL=\"" + *level +
                       "\" is not one of debug, info, warn, error");
  }
  return text;
}

} // namespace

config load_config(const env_lookup& lookup, const std::vector<std::string>& names) {
  config c;
  c.unknown_variables = unknown_variables(names);
  load_database(lookup, c.database);
  c.webhook_secrets = load_webhook_secrets(lookup);
  load_server(lookup, c);
  load_writer(lookup, c.writer);
  c.migrate_on_start = boolean(lookup, "SHOPMIRROR_MIGRATE_ON_START", c.migrate_on_start);
  if (auto version = load_api_version(lookup)) {
    c.api_version = std::move(*version);
  }
  load_housekeeping(lookup, c);
  c.trusted_proxies = load_trusted_proxies(lookup, c.trusted_proxies);
  if (auto level = load_log_level(lookup)) {
    c.log_level = std::move(*level);
  }
  c.reconcile.api_version = c.api_version;
  load_shop_config(lookup, c);
  return c;
}

config load_config_from_environment() {
  std::vector<std::string> names;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    names.emplace_back(text.substr(0, text.find('=')));
  }
  return load_config(
      [](const std::string& name) -> std::optional<std::string> {
        // Read at start-up, before any thread; nothing here calls setenv.
        const char* value = std::getenv(name.c_str()); // NOLINT(concurrency-mt-unsafe)
        if (value == nullptr) {
          return std::nullopt;
        }
        return std::string(value);
      },
      names);
}

} // namespace shopmirror::cli

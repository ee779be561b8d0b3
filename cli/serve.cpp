#include "cli/commands.hpp"
#include "cli/housekeeping.hpp"
#include "crypto/signature.hpp"
#include "db/health.hpp"
#include "db/writer.hpp"
#include "ingest/erasure_worker.hpp"
#include "ingest/http_server.hpp"
#include "ingest/service.hpp"
#include "ingest/service_metrics.hpp"
#include "reconcile/coordinator.hpp"
#include "reconcile/metrics.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"
#include "telemetry/process_metrics.hpp"

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>

#include <sys/resource.h>

namespace shopmirror::cli {
namespace {

namespace asio = boost::asio;
using telemetry::level;
using telemetry::log_event;

// Each connection is a descriptor; the default soft limit (1024) would cap
// connections below SHOPMIRROR_MAX_CONNECTIONS.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// After SIGTERM: wait for the connections to finish, but not past the drain
// timeout, then stop the I/O threads.
void watch_drain(ingest::http_server& server, const std::shared_ptr<asio::steady_timer>& timer,
                 std::chrono::steady_clock::time_point give_up) {
  if (server.open_connections() == 0 || std::chrono::steady_clock::now() >= give_up) {
    log_event(level::info, "drained")
        .field("open_connections", static_cast<std::uint64_t>(server.open_connections()))
        .field("in_flight", static_cast<std::uint64_t>(server.requests_in_flight()));
    server.stop();
    return;
  }
  timer->expires_after(std::chrono::milliseconds(20));
  timer->async_wait([&server, timer, give_up](boost::system::error_code) {
    watch_drain(server, timer, give_up);
  });
}

/// Behind a pooler in transaction mode, deliveries would apply with some
/// answers 500 and the reconcile lock would not hold: refuse to start, as
/// for a bad setting. A database not reachable yet is not refused; the
/// readiness check makes the same test once it answers.
void refuse_shared_sessions(const db::db_settings& database) {
  bool shared = false;
  try {
    shared = db::sessions_are_shared(database);
  } catch (const std::exception&) {
    return;
  }
  if (shared) {
    throw config_error("SHOPMIRROR_DATABASE_URL leads through a pooler in transaction mode "
                       "(PgBouncer pool_mode=transaction): two connections were served by one "
                       "database session; shopmirror needs a session per connection (use "
                       "session mode, or connect to PostgreSQL directly)");
  }
}

// The part of the configuration the service's requests read.
ingest::service_settings service_settings_of(const config& settings) {
  ingest::service_settings out;
  out.database = settings.database;
  out.max_body_bytes = settings.max_body_bytes;
  out.ack_timeout = settings.ack_timeout;
  out.api_version = settings.api_version;
  for (const auto& shop : settings.shops) {
    out.shops.push_back(shop.domain);
  }
  for (const auto* token : {&settings.status_token, &settings.reconcile.trigger_token}) {
    if (!token->empty()) {
      out.status_tokens.push_back(*token);
    }
  }
  return out;
}

// What must hold before anything starts: a bad setting stops here, named.
void check_settings(const config& settings) {
  settings.require_database();
  settings.require_secrets();
  for (const auto& name : settings.unknown_variables) {
    log_event(level::warn, "unknown_setting").field("variable", name);
  }
  if (!settings.reconcile.trigger_token.empty()) {
    settings.require_shops();
  }
  refuse_shared_sessions(settings.database);
}

crypto::webhook_verifier verifier_of(const config& settings) {
  std::map<std::string, std::vector<std::string>> shop_secrets;
  for (const auto& shop : settings.shops) {
    if (!shop.webhook_secrets.empty()) {
      shop_secrets[shop.domain] = shop.webhook_secrets;
    }
  }
  return crypto::webhook_verifier(settings.webhook_secrets, shop_secrets);
}

// Reconcile needs Admin API access: only with shops configured.
std::unique_ptr<reconcile::coordinator> reconciler_of(const config& settings,
                                                      reconcile::reconcile_metrics& metrics) {
  if (settings.shops.empty()) {
    log_event(level::warn, "reconcile_disabled")
        .field("reason", "no shop configured (SHOPMIRROR_SHOP or SHOPMIRROR_CONFIG): no nightly "
                         "reconcile, and stub payloads are kept as dead letters");
    return nullptr;
  }
  return std::make_unique<reconcile::coordinator>(settings.shops, settings.reconcile,
                                                  settings.database, &metrics);
}

ingest::server_settings server_settings_of(const config& settings,
                                           ingest::service_metrics& metrics) {
  ingest::server_settings out;
  out.listen = settings.listen;
  out.read_timeout = settings.read_timeout;
  out.idle_timeout = settings.idle_timeout;
  out.max_connections = settings.max_connections;
  out.io_threads = settings.io_threads;
  out.trusted_proxies = settings.trusted_proxies;
  out.on_connection_refused = [&metrics] { metrics.connections_refused.with({}).inc(); };
  return out;
}

std::uint16_t listen_on(ingest::http_server& server, const config& settings) {
  try {
    return server.listen();
  } catch (const std::exception& e) {
    throw config_error("SHOPMIRROR_LISTEN=\"" + settings.listen.host + ":" +
                       std::to_string(settings.listen.port) + "\": cannot listen: " + e.what());
  }
}

// The gauges a scrape reads from the parts as they are at that moment.
void collect_gauges(telemetry::registry& registry, ingest::service_metrics& metrics,
                    db::delivery_writer& writer, ingest::http_server& server,
                    db::readiness_monitor& readiness) {
  registry.on_collect([&] {
    metrics.db_writers.with({"total"}).set(static_cast<double>(writer.writer_count()));
    metrics.db_writers.with({"busy"}).set(static_cast<double>(writer.busy_writers()));
    metrics.db_writers.with({"connected"}).set(static_cast<double>(writer.connected_writers()));
    metrics.db_queue_depth.with({}).set(static_cast<double>(writer.queue_depth()));
    metrics.http_connections.with({}).set(static_cast<double>(server.open_connections()));
    metrics.http_in_flight.with({}).set(static_cast<double>(server.requests_in_flight()));
    metrics.ready.with({}).set(readiness.current().ready ? 1.0 : 0.0);
  });
}

void log_listening(const config& settings, std::uint16_t port,
                   const crypto::webhook_verifier& verifier, const db::readiness& first) {
  log_event(level::info, "listening")
      .field("host", settings.listen.host)
      .field("port", static_cast<std::int64_t>(port))
      .field("secrets", static_cast<std::uint64_t>(verifier.secret_count()))
      .field("shops", static_cast<std::uint64_t>(settings.shops.size()))
      .field("ready", first.ready)
      .field("schema_version", first.schema_version)
      .field("max_body_bytes", settings.max_body_bytes)
      .field("ack_timeout_ms", static_cast<std::int64_t>(settings.ack_timeout.count()));
}

// SIGTERM or SIGINT: stop taking connections and drain the open ones.
void drain_on_signal(asio::signal_set& signals, ingest::http_server& server,
                     std::chrono::milliseconds drain_timeout) {
  signals.async_wait([&server, drain_timeout](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log_event(level::info, "draining")
        .field("signal", signal == SIGTERM ? "SIGTERM" : "SIGINT")
        .field("in_flight", static_cast<std::uint64_t>(server.requests_in_flight()));
    server.begin_drain();
    watch_drain(server, std::make_shared<asio::steady_timer>(server.context()),
                std::chrono::steady_clock::now() + drain_timeout);
  });
}

} // namespace

const command_spec serve_command{
    .name = "serve",
    .usage = "usage: shopmirror serve\n"
             "  Receives Shopify webhooks and applies them to PostgreSQL until SIGTERM or SIGINT\n"
             "  (settings: SHOPMIRROR_* environment variables, see deploy/env.example).\n",
};

int run_serve(const config& settings) {
  check_settings(settings);
  raise_descriptor_limit();

  telemetry::registry registry;
  ingest::service_metrics metrics(registry);
  telemetry::add_process_metrics(registry, SHOPMIRROR_VERSION);
  const crypto::webhook_verifier verifier = verifier_of(settings);
  reconcile::reconcile_metrics reconcile_metrics(registry);
  const std::unique_ptr<reconcile::coordinator> reconciler =
      reconciler_of(settings, reconcile_metrics);
  db::readiness_monitor readiness(settings.database, settings.migrate_on_start);
  db::delivery_writer writer(
      settings.database, settings.writer,
      {&metrics.db_commit_seconds.with({}), &metrics.db_batch_size.with({})});
  // shop/redact requests are erased here, whether or not shops are
  // configured for reconcile.
  ingest::erasure_worker eraser(settings.database, settings.erasure, metrics);
  ingest::delivery_log deliveries;
  ingest::service application(service_settings_of(settings), verifier, writer, readiness, registry,
                              metrics, deliveries, reconciler.get(), &eraser);
  ingest::http_server server(server_settings_of(settings, metrics), application);
  const std::uint16_t port = listen_on(server, settings);
  collect_gauges(registry, metrics, writer, server, readiness);

  // A first look at the database before announcing readiness; if it is not
  // there yet the service starts anyway and answers 503 until it is.
  log_listening(settings, port, verifier, readiness.check_now());
  asio::signal_set signals(server.context(), SIGTERM, SIGINT);
  drain_on_signal(signals, server, settings.drain_timeout);

  housekeeping pruning(settings);
  if (reconciler) {
    reconciler->start_background();
  }
  server.run();
  if (reconciler) {
    // A run cut short ends failed and sweeps nothing; the next one repairs.
    reconciler->stop();
  }
  // An erasure cut short is taken up again, here or by another replica.
  eraser.stop();
  pruning.stop();
  writer.stop();
  readiness.stop();
  deliveries.stop();
  // The line is written as its builder goes out of scope.
  log_event(level::info, "stopped"); // NOLINT(bugprone-unused-raii)
  return 0;
}

} // namespace shopmirror::cli

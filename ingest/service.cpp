#include "ingest/service.hpp"

#include "ingest/json_writer.hpp"
#include "ingest/reconcile_api.hpp"
#include "ingest/status.hpp"
#include "ingest/webhook.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>

namespace shopmirror::ingest {
namespace {

namespace asio = boost::asio;

constexpr std::uint64_t small_body_limit = 64 * 1024;

http_response method_not_allowed(std::string_view allowed) {
  auto response = make_response(http::status::method_not_allowed, json_error("method not allowed"));
  response.set(http::field::allow, allowed);
  return response;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Shopify's mandatory compliance topics and app/uninstalled: counted and
/// logged as compliance requests.
bool is_compliance_topic(model::webhook_topic topic) {
  switch (topic) {
  case model::webhook_topic::customers_data_request:
  case model::webhook_topic::customers_redact:
  case model::webhook_topic::shop_redact:
  case model::webhook_topic::app_uninstalled:
    return true;
  case model::webhook_topic::products_create:
  case model::webhook_topic::products_update:
  case model::webhook_topic::products_delete:
  case model::webhook_topic::other:
    break;
  }
  return false;
}

} // namespace

route route_of(std::string_view target) noexcept {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/webhooks/shopify") {
    return route::webhook;
  }
  if (path == "/healthz") {
    return route::healthz;
  }
  if (path == "/readyz") {
    return route::readyz;
  }
  if (path == "/metrics") {
    return route::metrics;
  }
  if (path == "/reconcile") {
    return route::reconcile;
  }
  if (path == "/reconcile/runs" || path.substr(0, 16) == "/reconcile/runs/") {
    return route::reconcile_runs;
  }
  if (path == "/status" || path == "/status/") {
    return route::status;
  }
  return route::not_found;
}

std::string_view to_string(route r) noexcept {
  switch (r) {
  case route::webhook:
    return "webhook";
  case route::healthz:
    return "healthz";
  case route::readyz:
    return "readyz";
  case route::metrics:
    return "metrics";
  case route::reconcile:
    return "reconcile";
  case route::reconcile_runs:
    return "reconcile_runs";
  case route::status:
    return "status";
  case route::not_found:
    return "not_found";
  }
  return "not_found";
}

service::service(service_settings settings, const crypto::webhook_verifier& verifier,
                 db::delivery_writer& writer, db::readiness_monitor& readiness,
                 telemetry::registry& registry, service_metrics& metrics, delivery_log& deliveries,
                 reconcile::coordinator* reconciler, erasure_worker* eraser)
    : settings_(std::move(settings)), verifier_(verifier), writer_(writer), readiness_(readiness),
      registry_(registry), metrics_(metrics), deliveries_(deliveries), reconciler_(reconciler),
      eraser_(eraser) {}

header_decision service::on_header(const http_header& header) {
  header_decision decision;
  const route r = route_of(header.target());
  switch (r) {
  case route::webhook:
    decision.early = webhook_answer_from_header(header, settings_.max_body_bytes);
    decision.body_limit = settings_.max_body_bytes;
    break;
  case route::healthz:
  case route::readyz:
  case route::metrics:
    if (header.method() != http::verb::get) {
      decision.early = method_not_allowed("GET");
    }
    decision.body_limit = small_body_limit;
    break;
  case route::reconcile:
  case route::reconcile_runs:
    if (reconciler_ == nullptr || reconciler_->settings().trigger_token.empty()) {
      decision.early =
          make_response(http::status::not_found, json_error("reconcile is not enabled here "
                                                            "(SHOPMIRROR_RECONCILE_TOKEN)"));
    } else if (r == route::reconcile && header.method() != http::verb::post) {
      decision.early = method_not_allowed("POST");
    } else if (r == route::reconcile_runs && header.method() != http::verb::get) {
      decision.early = method_not_allowed("GET");
    }
    decision.body_limit = small_body_limit;
    break;
  case route::status:
    if (settings_.status_tokens.empty()) {
      decision.early =
          make_response(http::status::not_found, json_error("status is not enabled here "
                                                            "(SHOPMIRROR_STATUS_TOKEN)"));
    } else if (header.method() != http::verb::get) {
      decision.early = method_not_allowed("GET");
    }
    decision.body_limit = small_body_limit;
    break;
  case route::not_found:
    decision.early = make_response(http::status::not_found, json_error("not found"));
    break;
  }
  if (decision.early) {
    metrics_.http_requests
        .with({to_string(r), std::to_string(static_cast<unsigned>(decision.early->result()))})
        .inc();
  }
  return decision;
}

asio::awaitable<http_response> service::handle(http_request request, request_context context) {
  const route r = route_of(request.target());
  http_response response;
  switch (r) {
  case route::webhook:
    response = co_await webhook(std::move(request), context);
    break;
  case route::healthz:
    response = make_response(http::status::ok, "{\"status\":\"alive\"}");
    break;
  case route::readyz:
    response = readyz();
    break;
  case route::metrics:
    response = make_response(http::status::ok, registry_.expose(),
                             "text/plain; version=0.0.4; charset=utf-8");
    break;
  case route::reconcile:
  case route::reconcile_runs:
    response = co_await reconcile_request(std::move(request));
    break;
  case route::status:
    response = co_await status_request(std::move(request));
    break;
  case route::not_found:
    response = make_response(http::status::not_found, json_error("not found"));
    break;
  }
  metrics_.http_requests
      .with({to_string(r), std::to_string(static_cast<unsigned>(response.result()))})
      .inc();
  metrics_.request_seconds.with({to_string(r)}).observe(seconds_since(context.started));
  co_return response;
}

http_response service::readyz() const {
  const db::readiness state = readiness_.current();
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("ready");
  w.Bool(state.ready);
  w.Key("schema_version");
  w.Int64(state.schema_version);
  w.Key("reason");
  write_string(w, state.reason);
  w.EndObject();
  return make_response(state.ready ? http::status::ok : http::status::service_unavailable,
                       std::string(buffer.GetString(), buffer.GetSize()));
}

// The answer needs the database: the coroutine moves to the blocking pool
// for it, and back to its I/O thread to answer.
asio::awaitable<http_response> service::reconcile_request(http_request request) {
  const auto io = co_await asio::this_coro::executor;
  co_await asio::post(blocking_, asio::use_awaitable);
  http_response response = answer_reconcile(request, *reconciler_, settings_.database);
  co_await asio::post(io, asio::use_awaitable);
  co_return response;
}

asio::awaitable<http_response> service::status_request(http_request request) {
  const auto io = co_await asio::this_coro::executor;
  co_await asio::post(blocking_, asio::use_awaitable);
  http_response response =
      answer_status(request, settings_.status_tokens, settings_.database, settings_.shops);
  co_await asio::post(io, asio::use_awaitable);
  co_return response;
}

// request -> verify -> parse -> apply -> answer.
asio::awaitable<http_response> service::webhook(http_request request,
                                                const request_context& context) {
  webhook_verdict verdict =
      classify_webhook(request.method(), request.base(), std::move(request.body()), verifier_,
                       settings_.max_body_bytes, model::now(), [this](std::string_view shop) {
                         return reconciler_ != nullptr && reconciler_->find_shop(shop) != nullptr;
                       });

  if (auto* rejection = std::get_if<webhook_rejection>(&verdict)) {
    if (rejection->signature) {
      refused_signature(*rejection->signature, context);
    }
    // Moved once: the analyzer loses its way in the coroutine's frame.
    co_return make_response(rejection->status,
                            std::move(rejection->body)); // NOLINT(clang-analyzer-cplusplus.Move)
  }

  auto& item = std::get<model::delivery_item>(verdict);
  const model::delivery meta = item.meta; // kept for the log after the item moves on
  // A delivery the database refused becomes a dead letter there.
  const auto* dead = std::get_if<model::dead_letter>(&item.action);
  const model::dead_letter_kind dead_kind =
      dead != nullptr ? dead->kind : model::dead_letter_kind::refused;
  if (meta.api_version && *meta.api_version != settings_.api_version) {
    metrics_.api_version_mismatches.with({meta.shop_domain, *meta.api_version}).inc();
  }
  const auto deadline = context.started + settings_.ack_timeout;
  const model::apply_outcome outcome = co_await apply(std::move(item), deadline);

  metrics_.deliveries.with({meta.shop_domain, meta.topic, model::to_string(outcome)}).inc();
  if (outcome == model::apply_outcome::dead_letter) {
    metrics_.dead_letters.with({meta.shop_domain, model::to_string(dead_kind)}).inc();
  }
  nudge_workers(outcome);
  record_delivery(meta, outcome, context);
  co_return answer_for(outcome);
}

void service::refused_signature(crypto::signature_status status, const request_context& context) {
  const std::string_view reason = crypto::to_string(status);
  metrics_.signature_failures.with({reason}).inc();
  // Anyone can send a bad signature: warn, but only a few times a minute.
  if (const auto allowed = signature_warnings_.allow(reason); allowed.allowed) {
    telemetry::log_event(telemetry::level::warn, "signature_refused")
        .field("reason", reason)
        .field("client", context.client_address)
        .field("request_id", context.request_id)
        .field("suppressed", allowed.suppressed);
  }
}

void service::nudge_workers(model::apply_outcome outcome) {
  if (outcome == model::apply_outcome::refresh_requested && reconciler_ != nullptr) {
    reconciler_->nudge_refresh();
  }
  if (outcome == model::apply_outcome::redaction_requested && eraser_ != nullptr) {
    eraser_->nudge();
  }
}

void service::record_delivery(const model::delivery& meta, model::apply_outcome outcome,
                              const request_context& context) {
  const bool durable = model::is_durable(outcome);
  // Only the four known topics reach this label: its values are bounded.
  const bool compliance = is_compliance_topic(model::parse_topic(meta.topic));
  if (compliance && durable) {
    metrics_.compliance_requests.with({meta.topic, model::to_string(outcome)}).inc();
  }
  deliveries_.record({.event = compliance ? "compliance_request" : "delivery",
                      .meta = &meta,
                      .outcome = outcome,
                      .ms = seconds_since(context.started) * 1000.0,
                      .client = context.client_address,
                      .request_id = context.request_id});
}

// Hands the delivery to a database writer and waits for its commit, but
// never past the deadline: then the answer is 503 and Shopify retries.
//
// One timer is both the deadline and the wake-up: the writer's completion
// is posted to this coroutine's strand, where it records the outcome and
// cancels the timer. A strand runs one handler at a time, so the outcome
// needs no lock, and the completion (even one run at once, inside submit)
// runs only after the wait has begun. A channel raced against a timer, as
// before, took several more heap blocks per delivery (README, Performance).
asio::awaitable<model::apply_outcome>
service::apply(model::delivery_item item, std::chrono::steady_clock::time_point deadline) {
  struct waiting {
    explicit waiting(const asio::any_io_executor& executor) : timer(executor) {}
    asio::steady_timer timer;
    std::optional<model::apply_outcome> outcome;
  };
  const auto executor = co_await asio::this_coro::executor;
  // Shared with the completion: a writer may finish after we stopped waiting.
  auto state = std::make_shared<waiting>(executor);
  state->timer.expires_at(deadline);
  writer_.submit(std::move(item), deadline, [state](model::apply_outcome outcome) {
    asio::post(state->timer.get_executor(), [state, outcome] {
      state->outcome = outcome;
      state->timer.cancel();
    });
  });
  co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return state->outcome.value_or(model::apply_outcome::retry_later);
}

} // namespace shopmirror::ingest

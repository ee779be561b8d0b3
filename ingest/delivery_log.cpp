#include "ingest/delivery_log.hpp"

#include "telemetry/log.hpp"

namespace shopmirror::ingest {

delivery_tally::delivery_tally(clock::duration interval, std::uint32_t lines_per_kind,
                               clock::time_point start)
    : interval_(interval), lines_per_kind_(lines_per_kind), summary_start_(start),
      lines_start_(start) {}

void delivery_tally::count(std::string_view shop, std::string_view outcome) {
  const std::pair<std::string_view, std::string_view> key(shop, outcome);
  std::lock_guard lock(mutex_);
  auto found = pending_.deliveries.find(key);
  if (found == pending_.deliveries.end()) {
    found = pending_.deliveries.emplace(std::pair<std::string, std::string>(key), 0).first;
  }
  ++found->second;
}

bool delivery_tally::admit(std::string_view kind, clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now - lines_start_ >= interval_) {
    lines_.clear();
    lines_start_ = now;
  }
  auto used = lines_.find(kind);
  if (used == lines_.end()) {
    used = lines_.emplace(std::string(kind), 0).first;
  }
  if (used->second < lines_per_kind_) {
    ++used->second;
    return true;
  }
  ++pending_.suppressed[std::string(kind)];
  return false;
}

std::optional<delivery_tally::summary> delivery_tally::take(clock::time_point now, bool final) {
  std::lock_guard lock(mutex_);
  if (!final && now - summary_start_ < interval_) {
    return std::nullopt;
  }
  summary taken = std::move(pending_);
  pending_ = {};
  taken.covered = now - summary_start_;
  summary_start_ = now;
  if (taken.deliveries.empty() && taken.suppressed.empty()) {
    return std::nullopt;
  }
  return taken;
}

namespace {

// The outcomes someone may need to look at: each gets a line of its own
// (within the limit), the others only a count.
std::optional<telemetry::level> individual_level(model::apply_outcome outcome) {
  switch (outcome) {
  case model::apply_outcome::retry_later: // answered 503
  case model::apply_outcome::failed:
  case model::apply_outcome::dead_letter:
    return telemetry::level::warn;
  case model::apply_outcome::stale:
    return telemetry::level::info;
  case model::apply_outcome::applied:
  case model::apply_outcome::duplicate:
  case model::apply_outcome::ignored:
  case model::apply_outcome::refresh_requested:
  case model::apply_outcome::recorded:
  case model::apply_outcome::redaction_requested:
  case model::apply_outcome::uninstalled:
    break;
  }
  return std::nullopt;
}

} // namespace

delivery_log::delivery_log(std::chrono::milliseconds interval, std::uint32_t lines_per_kind)
    : tally_(interval, lines_per_kind, delivery_tally::clock::now()), interval_(interval) {
  loop_.start([this] { run(); });
}

delivery_log::~delivery_log() {
  stop();
}

void delivery_log::record(const entry& delivery) {
  const std::string_view outcome = model::to_string(delivery.outcome);
  tally_.count(delivery.meta->shop_domain, outcome);
  // Compliance requests are rare and each one matters: always a line.
  const bool compliance = delivery.event == "compliance_request";
  telemetry::level line_level = telemetry::level::debug;
  if (const auto individual = individual_level(delivery.outcome); individual) {
    if (tally_.admit(outcome, delivery_tally::clock::now())) {
      line_level = *individual;
    }
  } else if (compliance) {
    line_level = telemetry::level::info;
  }
  telemetry::log_event(line_level, delivery.event)
      .field("shop", delivery.meta->shop_domain)
      .field("topic", delivery.meta->topic)
      .field("webhook_id", delivery.meta->webhook_id)
      .field("outcome", outcome)
      .field("ms", delivery.ms)
      .field("client", delivery.client)
      .field("request_id", delivery.request_id);
}

void delivery_log::stop() {
  if (!loop_.stop()) {
    return;
  }
  if (const auto last = tally_.take(delivery_tally::clock::now(), true)) {
    write(*last);
  }
}

void delivery_log::run() {
  while (!loop_.wait_for(interval_)) {
    if (const auto due = tally_.take(delivery_tally::clock::now())) {
      write(*due);
    }
  }
}

void delivery_log::write(const delivery_tally::summary& summary) {
  const double seconds = std::chrono::duration<double>(summary.covered).count();
  for (const auto& [key, count] : summary.deliveries) {
    telemetry::log_event(telemetry::level::info, "deliveries")
        .field("shop", key.first)
        .field("outcome", key.second)
        .field("count", count)
        .field("seconds", seconds);
  }
  for (const auto& [kind, count] : summary.suppressed) {
    telemetry::log_event(telemetry::level::info, "delivery_lines_suppressed")
        .field("outcome", kind)
        .field("suppressed", count)
        .field("seconds", seconds);
  }
}

} // namespace shopmirror::ingest

#include "telemetry/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace shopmirror::telemetry {
namespace {

std::string format_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  // The shortest text that reads back as the same double: 0.1, not
  // 0.10000000000000001.
  char text[40];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"` without the closing brace, so `le` can be appended.
std::string open_labels(const std::vector<std::string>& names,
                        const std::vector<std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += i == 0 ? "{" : ",";
    out += names[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out += '"';
  }
  return out;
}

std::string close_labels(const std::string& open) {
  return open.empty() ? "" : open + "}";
}

template <class Family> void header(std::string& out, const Family& f, std::string_view type) {
  out += "# HELP " + f.name() + " " + f.help() + "\n";
  out += "# TYPE " + f.name() + " " + std::string(type) + "\n";
}

} // namespace

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void histogram::observe(double value) noexcept {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  const auto index = static_cast<std::size_t>(it - bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

namespace {

// A new family at the end of `families`, whose series are made by `make`.
template <class Metric, class Make>
family<Metric>& append_family(std::vector<std::unique_ptr<family<Metric>>>& families,
                              std::string name, std::string help,
                              std::vector<std::string> label_names, Make make) {
  families.push_back(std::make_unique<family<Metric>>(std::move(name), std::move(help),
                                                      std::move(label_names), std::move(make)));
  return *families.back();
}

} // namespace

counter_family& registry::add_counter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  return append_family(counters_, std::move(name), std::move(help), std::move(label_names),
                       [] { return std::make_unique<counter>(); });
}

gauge_family& registry::add_gauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  return append_family(gauges_, std::move(name), std::move(help), std::move(label_names),
                       [] { return std::make_unique<gauge>(); });
}

gauge_family& registry::add_sampled_counter(std::string name, std::string help,
                                            std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  return append_family(sampled_counters_, std::move(name), std::move(help), std::move(label_names),
                       [] { return std::make_unique<gauge>(); });
}

histogram_family& registry::add_histogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  return append_family(
      histograms_, std::move(name), std::move(help), std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<histogram>(bounds); });
}

void registry::on_collect(std::function<void()> refresh) {
  std::lock_guard lock(mutex_);
  refreshers_.push_back(std::move(refresh));
}

std::string registry::expose() const {
  std::lock_guard lock(mutex_);
  for (const auto& refresh : refreshers_) {
    refresh();
  }
  std::string out;
  out.reserve(8192);
  for (const auto& f : counters_) {
    header(out, *f, "counter");
    f->for_each([&](const std::vector<std::string>& labels, const counter& c) {
      out += f->name() + close_labels(open_labels(f->label_names(), labels)) + " " +
             std::to_string(c.value()) + "\n";
    });
  }
  const auto expose_values = [&](const auto& families, std::string_view type) {
    for (const auto& f : families) {
      header(out, *f, type);
      f->for_each([&](const std::vector<std::string>& labels, const gauge& g) {
        out += f->name() + close_labels(open_labels(f->label_names(), labels)) + " " +
               format_value(g.value()) + "\n";
      });
    }
  };
  expose_values(sampled_counters_, "counter");
  expose_values(gauges_, "gauge");
  for (const auto& f : histograms_) {
    header(out, *f, "histogram");
    f->for_each([&](const std::vector<std::string>& labels, const histogram& h) {
      const std::string open = open_labels(f->label_names(), labels);
      const std::string prefix = open.empty() ? "{" : open + ",";
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
        cumulative += h.bucket(i);
        const std::string le = i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf";
        out.append(f->name()).append("_bucket").append(prefix).append("le=\"").append(le);
        out.append("\"} ").append(std::to_string(cumulative)).append("\n");
      }
      out += f->name() + "_sum" + close_labels(open) + " " + format_value(h.sum()) + "\n";
      out += f->name() + "_count" + close_labels(open) + " " + std::to_string(cumulative) + "\n";
    });
  }
  return out;
}

} // namespace shopmirror::telemetry

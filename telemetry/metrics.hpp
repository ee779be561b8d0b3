#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::telemetry {

/// A monotonically increasing count. Lock-free.
class counter {
public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down. Lock-free.
class gauge {
public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> value_{0};
};

/// A Prometheus histogram over fixed upper bounds (seconds, usually). Lock-free.
class histogram {
public:
  explicit histogram(std::vector<double> bounds);
  void observe(double value) noexcept;

  const std::vector<double>& bounds() const noexcept { return bounds_; }
  /// Non-cumulative count of bucket `i` (the last one is +Inf).
  std::uint64_t bucket(std::size_t i) const noexcept {
    return counts_[i].load(std::memory_order_relaxed);
  }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

/// Default latency buckets, in seconds, from 0.5 ms to 5 s (Shopify's limit).
std::vector<double> latency_buckets();

/// One metric name with a fixed list of label names; each combination of
/// label values is its own series, created on first use and kept for the
/// life of the process. Thread-safe.
template <class Metric> class family {
public:
  family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  /// The series for these label values, in the order of the label names.
  /// Finding an existing series allocates nothing: this runs several times
  /// for every request.
  Metric& with(std::initializer_list<std::string_view> values) {
    std::lock_guard lock(mutex_);
    auto found = series_.find(values);
    if (found == series_.end()) {
      found =
          series_.emplace(std::vector<std::string>(values.begin(), values.end()), make_()).first;
    }
    return *found->second;
  }

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }

  /// Calls f(label_values, metric) for each series, under the family's lock.
  template <class F> void for_each(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const auto& [labels, metric] : series_) {
      f(labels, *metric);
    }
  }

private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  // Orders label values as strings whether they are held or looked up.
  struct labels_less {
    using is_transparent = void;
    template <class A, class B> bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(
          a.begin(), a.end(), b.begin(), b.end(),
          [](std::string_view x, std::string_view y) { return x < y; });
    }
  };

  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, labels_less> series_;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

/// Every metric of the process, rendered in Prometheus text format 0.0.4.
class registry {
public:
  counter_family& add_counter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  gauge_family& add_gauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  /// A counter kept elsewhere (the kernel's CPU time, say) and sampled
  /// into the gauge by an on_collect refresher; exposed as a counter.
  gauge_family& add_sampled_counter(std::string name, std::string help,
                                    std::vector<std::string> label_names = {});
  histogram_family& add_histogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds = latency_buckets());

  /// Runs before each exposition, to sample gauges from their sources.
  void on_collect(std::function<void()> refresh);

  std::string expose() const;

private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<counter_family>> counters_;
  std::vector<std::unique_ptr<gauge_family>> gauges_;
  std::vector<std::unique_ptr<gauge_family>> sampled_counters_;
  std::vector<std::unique_ptr<histogram_family>> histograms_;
  std::vector<std::function<void()>> refreshers_;
};

} // namespace shopmirror::telemetry

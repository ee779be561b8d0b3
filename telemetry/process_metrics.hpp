#pragma once

#include "telemetry/metrics.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::telemetry {

/// What the kernel says about this process, as the standard `process_*`
/// metrics have it.
struct process_sample {
  double cpu_seconds = 0; ///< user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0; ///< since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;
};

/// Reads /proc/self (stat, statm, fd) and the file-descriptor limit.
/// Nothing outside /proc/self is needed, so it works under systemd's
/// `ProcSubset=pid`. nullopt when /proc is not readable.
std::optional<process_sample> sample_process();

/// Parses the text of /proc/self/stat; the clock ticks per second and page
/// size come from the caller. Exposed for tests. nullopt on a malformed line.
struct proc_stat {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double start_ticks = 0; ///< since boot
  double vsize_bytes = 0;
};
std::optional<proc_stat> parse_proc_stat(std::string_view text);

/// Registers `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_start_time_seconds`,
/// `process_open_fds`, `process_max_fds`, sampled at each scrape, and
/// `shopmirror_build_info{version}` (always 1).
void add_process_metrics(registry& r, const std::string& version);

} // namespace shopmirror::telemetry

#include "telemetry/process_metrics.hpp"

#include <charconv>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace shopmirror::telemetry {

namespace {

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

double seconds_of(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

} // namespace

std::optional<proc_stat> parse_proc_stat(std::string_view text) {
  // The command name (field 2) is in parentheses and may hold spaces and
  // parentheses itself: the fields that follow start after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  std::vector<std::string_view> fields; // fields 3 onwards
  std::size_t at = close + 1;
  while (at < text.size()) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) {
      ++at;
    }
    const std::size_t begin = at;
    while (at < text.size() && text[at] != ' ' && text[at] != '\n') {
      ++at;
    }
    if (at > begin) {
      fields.push_back(text.substr(begin, at - begin));
    }
  }
  // proc(5): utime is field 14, stime 15, starttime 22, vsize 23.
  const auto field = [&](std::size_t number, double& out) {
    const std::size_t index = number - 3;
    if (index >= fields.size()) {
      return false;
    }
    unsigned long long value = 0;
    const auto f = fields[index];
    const auto [end, error] = std::from_chars(f.data(), f.data() + f.size(), value);
    if (error != std::errc{} || end != f.data() + f.size()) {
      return false;
    }
    out = static_cast<double>(value);
    return true;
  };
  proc_stat out;
  if (!field(14, out.utime_ticks) || !field(15, out.stime_ticks) || !field(22, out.start_ticks) ||
      !field(23, out.vsize_bytes)) {
    return std::nullopt;
  }
  return out;
}

std::optional<process_sample> sample_process() {
  const auto stat_text = read_file("/proc/self/stat");
  const auto statm_text = read_file("/proc/self/statm");
  if (!stat_text || !statm_text) {
    return std::nullopt;
  }
  const auto stat = parse_proc_stat(*stat_text);
  if (!stat) {
    return std::nullopt;
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  process_sample out;
  out.cpu_seconds = (stat->utime_ticks + stat->stime_ticks) / ticks;
  out.virtual_bytes = stat->vsize_bytes;
  std::istringstream statm(*statm_text);
  double size_pages = 0;
  double resident_pages = 0;
  statm >> size_pages >> resident_pages;
  out.resident_bytes = resident_pages * page;
  // Boot time from the clocks rather than /proc/stat, which a sandbox
  // with ProcSubset=pid hides.
  const double booted_at = seconds_of(CLOCK_REALTIME) - seconds_of(CLOCK_BOOTTIME);
  out.start_time_seconds = booted_at + stat->start_ticks / ticks;
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    out.open_fds += 1;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.max_fds = static_cast<double>(limit.rlim_cur);
  }
  return out;
}

void add_process_metrics(registry& r, const std::string& version) {
  auto& cpu = r.add_sampled_counter("process_cpu_seconds_total",
                                    "User and system CPU time spent, in seconds.");
  auto& resident = r.add_gauge("process_resident_memory_bytes", "Resident memory, in bytes.");
  auto& virtual_memory = r.add_gauge("process_virtual_memory_bytes", "Virtual memory, in bytes.");
  auto& start = r.add_gauge("process_start_time_seconds",
                            "When the process started, in seconds since the Unix epoch.");
  auto& open_fds = r.add_gauge("process_open_fds", "Open file descriptors.");
  auto& max_fds = r.add_gauge("process_max_fds", "The limit on open file descriptors.");
  r.add_gauge("shopmirror_build_info", "Always 1; the version running, as a label.", {"version"})
      .with({version})
      .set(1);
  r.on_collect([&] {
    const auto sample = sample_process();
    if (!sample) {
      return; // the last values stay; nothing to sample from
    }
    cpu.with({}).set(sample->cpu_seconds);
    resident.with({}).set(sample->resident_bytes);
    virtual_memory.with({}).set(sample->virtual_bytes);
    start.with({}).set(sample->start_time_seconds);
    open_fds.with({}).set(sample->open_fds);
    max_fds.with({}).set(sample->max_fds);
  });
}

} // namespace shopmirror::telemetry

#include "bench/process_cpu.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace shopmirror::bench {

namespace {

// The fields of /proc/PID/stat after the command name, which is in
// parentheses and may hold spaces; fields()[0] is field 3 (state).
std::vector<long long> stat_fields(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  std::vector<long long> fields;
  if (close == std::string::npos) {
    return fields;
  }
  std::istringstream words(line.substr(close + 2));
  std::string word;
  words >> word; // state, a letter
  fields.push_back(0);
  while (words >> word && fields.size() < 15) {
    fields.push_back(std::stoll(word));
  }
  return fields;
}

// proc(5) numbers the fields from 1: ppid 4, utime 14, stime 15, cutime 16,
// cstime 17.
long long field(const std::vector<long long>& fields, int number) {
  const auto index = static_cast<std::size_t>(number - 3);
  return index < fields.size() ? fields[index] : 0;
}

} // namespace

long long process_ticks(int pid) {
  const auto fields = stat_fields(pid);
  return field(fields, 14) + field(fields, 15);
}

long long process_tree_ticks(int parent) {
  const auto own = stat_fields(parent);
  long long total = field(own, 14) + field(own, 15) + field(own, 16) + field(own, 17);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return total;
  }
  while (const dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') {
      continue;
    }
    const auto fields = stat_fields(static_cast<int>(pid));
    if (field(fields, 4) == parent) {
      total += field(fields, 14) + field(fields, 15);
    }
  }
  closedir(proc);
  return total;
}

long long machine_ticks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
  return user + nice + system + irq + softirq;
}

double micros_per_tick() {
  return 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

} // namespace shopmirror::bench

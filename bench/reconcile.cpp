// shopmirror-reconcile-bench: how fast `shopmirror reconcile` mirrors a whole
// catalog, and how much memory it takes. For each catalog size it fills an
// Admin API stand-in with a generated catalog (tests/support/catalog.hpp), empties
// the shop's rows, runs the real binary as a child process against the
// stand-in twice (into an empty mirror, then again with nothing changed),
// and reports wall time, products/s and the child's peak resident memory.
//
//   shopmirror-reconcile-bench --database-url URL [--products 10000,100000]
//     [--mode bulk|paginated] [--binary PATH] [--seed N] [--timeout SECONDS]
//     [--bucket-size POINTS] [--restore-rate POINTS_PER_S]
//
// The database must be migrated. Exits non-zero when a run fails or its
// result disagrees with the catalog.

#include "cli/arguments.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/catalog.hpp"

#include <pqxx/pqxx>
#include <rapidjson/document.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace shopmirror;
namespace fs = std::filesystem;

namespace {

constexpr const char* shop = "bench.myshopify.com";

// The spawner's process group, killed with any running reconcile if we are
// stopped (bench/reconcile.sh's cleanup sends SIGTERM), so no reconcile
// outlives the benchmark.
volatile std::sig_atomic_t children_group = 0;

extern "C" void stop_children_and_exit(int signal) {
  if (children_group > 0) {
    kill(-static_cast<pid_t>(children_group), SIGKILL);
  }
  _exit(128 + signal);
}

struct options {
  std::string database_url;
  std::vector<std::size_t> sizes{10000};
  std::string mode = "bulk";
  std::string binary;
  std::uint64_t seed = 1;
  int timeout_seconds = 3600;
  double bucket_size = 2000;
  double restore_rate = 100;
};

const cli::command_spec program{
    .name = "",
    .usage = "usage: shopmirror-reconcile-bench --database-url URL [--products N[,N...]] "
             "[--mode bulk|paginated] [--binary PATH] [--seed N] [--timeout SECONDS] "
             "[--bucket-size POINTS] [--restore-rate POINTS_PER_S]\n",
    .valued = {"--database-url", "--products", "--mode", "--binary", "--seed", "--timeout",
               "--bucket-size", "--restore-rate"},
    .program = "shopmirror-reconcile-bench",
};

// The shopmirror binary next to this one in the build tree.
std::string default_binary() {
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return "shopmirror";
  }
  return (self.parent_path().parent_path() / "cli" / "shopmirror").string();
}

options read_options(const cli::arguments& args) {
  options o;
  o.database_url = args.required("--database-url");
  const auto counts = args.counts_or("--products", {o.sizes.begin(), o.sizes.end()}, 100000000);
  o.sizes.assign(counts.begin(), counts.end());
  o.mode = args.value_or("--mode", o.mode);
  if (o.mode != "bulk" && o.mode != "paginated") {
    throw cli::argument_error("--mode is bulk or paginated");
  }
  o.binary = args.value_or("--binary", default_binary());
  o.seed = static_cast<std::uint64_t>(args.integer_or("--seed", 1, 0));
  o.timeout_seconds = static_cast<int>(args.integer_or("--timeout", o.timeout_seconds, 1, 86400));
  o.bucket_size = args.number_or("--bucket-size", o.bucket_size, 1);
  o.restore_rate = args.number_or("--restore-rate", o.restore_rate, 1);
  return o;
}

struct child_result {
  std::optional<int> exit_status; ///< empty: killed at the timeout
  double wall_seconds = 0;
  double peak_rss_mb = 0;
  std::string output; ///< stdout
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// What the spawner reports about one child.
struct spawn_outcome {
  int exit_status = -1; ///< -1: killed at the timeout
  double wall_seconds = 0;
  long peak_rss_kib = 0;
};

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n <= 0) {
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = read(fd, p, size);
    if (n <= 0) {
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_strings(int fd, const std::vector<std::string>& strings) {
  const auto count = static_cast<std::uint32_t>(strings.size());
  bool ok = write_all(fd, &count, sizeof count);
  for (const auto& s : strings) {
    const auto size = static_cast<std::uint32_t>(s.size());
    ok = ok && write_all(fd, &size, sizeof size) && write_all(fd, s.data(), s.size());
  }
  return ok;
}

std::optional<std::vector<std::string>> read_strings(int fd) {
  std::uint32_t count = 0;
  if (!read_all(fd, &count, sizeof count)) {
    return std::nullopt;
  }
  std::vector<std::string> strings(count);
  for (auto& s : strings) {
    std::uint32_t size = 0;
    if (!read_all(fd, &size, sizeof size)) {
      return std::nullopt;
    }
    s.resize(size);
    if (!read_all(fd, s.data(), size)) {
      return std::nullopt;
    }
  }
  return strings;
}

// Runs one child to its end (or kills it at the timeout), stdout and
// stderr to files; measures its wall time and peak RSS (wait4).
spawn_outcome spawn_and_wait(std::vector<std::string> args, std::vector<std::string> env_strings,
                             const std::string& out_path, const std::string& err_path,
                             int timeout_seconds) {
  std::vector<char*> env;
  for (auto& s : env_strings) {
    env.push_back(s.data());
  }
  env.push_back(nullptr);
  std::vector<char*> arg_pointers;
  for (auto& s : args) {
    arg_pointers.push_back(s.data());
  }
  arg_pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const auto start = std::chrono::steady_clock::now();
  const int spawned =
      posix_spawn(&pid, arg_pointers[0], &actions, nullptr, arg_pointers.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  spawn_outcome outcome;
  if (spawned != 0) {
    std::ofstream(err_path) << "cannot start " << args[0] << ": " << std::strerror(spawned) << "\n";
    outcome.exit_status = 127;
    return outcome;
  }
  int status = 0;
  rusage usage{};
  const auto deadline = start + std::chrono::seconds(timeout_seconds);
  bool timed_out = false;
  while (wait4(pid, &status, WNOHANG, &usage) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      wait4(pid, &status, 0, &usage);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  outcome.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  outcome.peak_rss_kib = usage.ru_maxrss; // Linux: KiB
  if (!timed_out) {
    outcome.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return outcome;
}

// Starts children for the benchmark from a small process forked before any
// catalog is built. A child's ru_maxrss counts the memory of the process it
// was forked from (Linux records the old image's high-water mark at exec),
// so forking the reconcile from the benchmark itself would report the
// stand-in's catalog as the reconcile's memory.
class spawner {
public:
  spawner() {
    int requests[2];
    int replies[2];
    if (pipe(requests) != 0 || pipe(replies) != 0) {
      std::perror("pipe");
      std::exit(1);
    }
    pid_ = fork();
    if (pid_ < 0) {
      std::perror("fork");
      std::exit(1);
    }
    if (pid_ == 0) {
      // Its own process group, with its children: one kill stops them all.
      setpgid(0, 0);
      close(requests[1]);
      close(replies[0]);
      serve(requests[0], replies[1]);
    }
    setpgid(pid_, pid_);
    close(requests[0]);
    close(replies[1]);
    to_ = requests[1];
    from_ = replies[0];
  }
  ~spawner() {
    close(to_);
    close(from_);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  spawner(const spawner&) = delete;
  spawner& operator=(const spawner&) = delete;

  pid_t process_group() const noexcept { return pid_; }

  spawn_outcome run(const std::vector<std::string>& args, const std::vector<std::string>& env,
                    const std::string& out_path, const std::string& err_path, int timeout_seconds) {
    spawn_outcome outcome;
    if (!write_strings(to_, {out_path, err_path, std::to_string(timeout_seconds)}) ||
        !write_strings(to_, args) || !write_strings(to_, env) ||
        !read_all(from_, &outcome, sizeof outcome)) {
      std::cerr << "the spawner process is gone\n";
      std::exit(1);
    }
    return outcome;
  }

private:
  [[noreturn]] static void serve(int in, int out) {
    for (;;) {
      const auto head = read_strings(in);
      const auto args = head ? read_strings(in) : std::nullopt;
      const auto env = args ? read_strings(in) : std::nullopt;
      if (!env || head->size() != 3) {
        _exit(0);
      }
      const spawn_outcome outcome =
          spawn_and_wait(*args, *env, (*head)[0], (*head)[1], std::atoi((*head)[2].c_str()));
      if (!write_all(out, &outcome, sizeof outcome)) {
        _exit(0);
      }
    }
  }

  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
};

// Runs `argv` with `extra` added to this process's environment, through the
// spawner; the child's stdout is in the result, its stderr shown on failure.
child_result run_child(spawner& children, const std::vector<std::string>& argv,
                       const std::vector<std::pair<std::string, std::string>>& extra,
                       const fs::path& scratch, int timeout_seconds) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [key, value] : extra) {
      overridden = overridden || key == name;
    }
    if (!overridden) {
      env.push_back(entry);
    }
  }
  for (const auto& [key, value] : extra) {
    env.push_back(key + "=" + value);
  }
  const fs::path out_path = scratch / "reconcile.out";
  const fs::path err_path = scratch / "reconcile.err";
  const spawn_outcome outcome =
      children.run(argv, env, out_path.string(), err_path.string(), timeout_seconds);
  child_result result;
  result.wall_seconds = outcome.wall_seconds;
  result.peak_rss_mb = static_cast<double>(outcome.peak_rss_kib) / 1024.0;
  result.output = read_file(out_path);
  if (outcome.exit_status < 0) {
    std::cerr << "reconcile did not finish within " << timeout_seconds << " s; its log:\n"
              << read_file(err_path);
  } else {
    result.exit_status = outcome.exit_status;
    if (outcome.exit_status != 0) {
      std::cerr << "reconcile exited with " << outcome.exit_status << "; its log:\n"
                << read_file(err_path);
    }
  }
  return result;
}

// The counts in the JSON line `shopmirror reconcile` prints for the shop.
struct run_summary {
  std::string status;
  std::int64_t inserted = -1;
  std::int64_t updated = -1;
  std::int64_t unchanged = -1;
  std::int64_t tombstoned = -1;
};

std::optional<run_summary> summary_for_shop(const std::string& output) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("shop") || !d["shop"].IsString() ||
        std::string(d["shop"].GetString()) != shop) {
      continue;
    }
    run_summary s;
    auto count = [&](const char* name) -> std::int64_t {
      return d.HasMember(name) && d[name].IsInt64() ? d[name].GetInt64() : -1;
    };
    if (d.HasMember("status") && d["status"].IsString()) {
      s.status = d["status"].GetString();
    }
    s.inserted = count("inserted");
    s.updated = count("updated");
    s.unchanged = count("unchanged");
    s.tombstoned = count("tombstoned");
    return s;
  }
  return std::nullopt;
}

void reset_shop(const std::string& database_url) {
  pqxx::connection connection(database_url);
  pqxx::work tx(connection);
  tx.exec_params("delete from shopify.product_variants where shop_domain = $1", shop);
  tx.exec_params("delete from shopify.products where shop_domain = $1", shop);
  tx.commit();
}

std::int64_t live_products(const std::string& database_url) {
  pqxx::connection connection(database_url);
  pqxx::work tx(connection);
  return tx
      .exec_params1("select count(*) from shopify.products where shop_domain = $1 and "
                    "deleted_at is null",
                    shop)[0]
      .as<std::int64_t>();
}

} // namespace

int run(const options& o) {
  // First, while this process is small (see spawner).
  spawner children;
  children_group = children.process_group();
  std::signal(SIGTERM, stop_children_and_exit);
  std::signal(SIGINT, stop_children_and_exit);
  const fs::path scratch =
      fs::temp_directory_path() / ("shopmirror-reconcile-bench-" + std::to_string(getpid()));
  fs::create_directories(scratch);
  bool all_ok = true;

  for (const std::size_t size : o.sizes) {
    test::admin_api_settings settings;
    settings.maximum_available = o.bucket_size;
    settings.restore_rate = o.restore_rate;
    settings.shop_domain = shop;
    test::admin_api_stand_in api(settings);
    const test::catalog_options catalog{o.seed};
    const auto fill_start = std::chrono::steady_clock::now();
    std::size_t variants = 0;
    api.fill(size, [&](std::size_t index) {
      auto product = test::catalog_product(index, catalog);
      variants += product.variants.size();
      return product;
    });
    std::printf(
        "catalog: %zu products, %zu variants (generated in %.1f s)\n", size, variants,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count());
    reset_shop(o.database_url);

    const std::vector<std::pair<std::string, std::string>> env = {
        {"SHOPMIRROR_DATABASE_URL", o.database_url},
        {"SHOPMIRROR_SHOP", shop},
        {"SHOPMIRROR_ADMIN_TOKEN", api.access_token()},
        {"SHOPMIRROR_ADMIN_API_URL", api.base_url()},
        {"SHOPMIRROR_RECONCILE_MODE", o.mode}};
    for (const char* phase : {"into an empty mirror", "nothing changed"}) {
      const bool first = std::string(phase) == "into an empty mirror";
      api.reset_counters();
      const auto result =
          run_child(children, {o.binary, "reconcile"}, env, scratch, o.timeout_seconds);
      const auto counters = api.counters();
      const auto summary = summary_for_shop(result.output);
      bool ok = result.exit_status == 0 && summary && summary->status == "succeeded";
      if (ok) {
        ok = first ? summary->inserted == static_cast<std::int64_t>(size)
                   : summary->unchanged == static_cast<std::int64_t>(size);
        ok = ok && live_products(o.database_url) == static_cast<std::int64_t>(size);
      }
      int requests = 0;
      for (const auto& [name, n] : counters.requests) {
        requests += n;
      }
      if (ok) {
        std::printf("reconcile %s, %zu products, %s: %.2f s, %.0f products/s, peak RSS %.1f MB; "
                    "stand-in: %d requests, %d throttled, %d bulk operations\n",
                    o.mode.c_str(), size, phase, result.wall_seconds,
                    static_cast<double>(size) / result.wall_seconds, result.peak_rss_mb, requests,
                    counters.throttled, counters.bulk_started);
      } else {
        const std::string why = !result.exit_status ? "timed out"
                                : *result.exit_status != 0
                                    ? "exit status " + std::to_string(*result.exit_status)
                                    : "a result that does not match the catalog";
        std::printf("reconcile %s, %zu products, %s: FAILED (%s after %.2f s, peak RSS %.1f MB); "
                    "stand-in: %d requests, %d throttled, %d bulk operations\n",
                    o.mode.c_str(), size, phase, why.c_str(), result.wall_seconds,
                    result.peak_rss_mb, requests, counters.throttled, counters.bulk_started);
      }
      if (summary) {
        std::printf("  status=%s inserted=%lld updated=%lld unchanged=%lld tombstoned=%lld\n",
                    summary->status.c_str(), static_cast<long long>(summary->inserted),
                    static_cast<long long>(summary->updated),
                    static_cast<long long>(summary->unchanged),
                    static_cast<long long>(summary->tombstoned));
      } else {
        std::printf("  no result line for %s in its output:\n%s\n", shop, result.output.c_str());
      }
      std::fflush(stdout);
      all_ok = all_ok && ok;
      if (!ok) {
        break;
      }
    }
  }
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
  return all_ok ? 0 : 1;
}

int main(int argc, char** argv) {
  return cli::run_program(program, argc, argv,
                          [](const cli::arguments& args) { return run(read_options(args)); });
}

#include "tests/support/child_process.hpp"

#include "tests/support/json.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

extern char** environ;

namespace shopmirror::test {

// SHOPMIRROR_TEST_BINARY runs the end-to-end tests against another build
// (an earlier release, to see a new test fail where the defect it covers is).
std::string shopmirror_binary() {
  const char* other = std::getenv("SHOPMIRROR_TEST_BINARY");
  return other != nullptr && *other != '\0' ? other : SHOPMIRROR_BINARY;
}

child_process::child_process(std::vector<std::string> argv, const environment& extra) {
  char pattern[] = "/tmp/shopmirror-child-XXXXXX";
  const int fd = ::mkstemp(pattern);
  if (fd < 0) {
    throw std::runtime_error("mkstemp failed");
  }
  log_path_ = pattern;

  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const auto eq = text.find('=');
    env[text.substr(0, eq)] = eq == std::string::npos ? "" : text.substr(eq + 1);
  }
  for (const auto& [key, value] : extra) {
    env[key] = value;
  }
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env) {
    env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fd);
  const int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fd);
  if (rc != 0) {
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

child_process::~child_process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ::unlink(log_path_.c_str());
}

void child_process::send_signal(int signal) const {
  if (pid_ > 0) {
    ::kill(pid_, signal);
  }
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= until) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

bool child_process::running() {
  return !wait(std::chrono::milliseconds(0)).has_value();
}

namespace {

// The inodes of the sockets listening on TCP `port`, as /proc/<pid>/fd
// names them ("socket:[inode]"), from the process's own network namespace.
std::set<std::string> listening_sockets(pid_t pid, std::uint16_t port) {
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, ":%04X", static_cast<unsigned>(port));
  std::set<std::string> inodes;
  std::ifstream table("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line;
  std::getline(table, line); // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    constexpr std::string_view listen_state = "0A";
    if (state == listen_state && local.size() > 5 &&
        local.compare(local.size() - 5, 5, suffix) == 0) {
      inodes.insert("socket:[" + inode + "]");
    }
  }
  return inodes;
}

bool holds_any(pid_t pid, const std::set<std::string>& sockets) {
  std::error_code ec;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code unreadable;
    if (sockets.count(std::filesystem::read_symlink(fd.path(), unreadable).string()) != 0) {
      return true;
    }
  }
  return false;
}

} // namespace

bool child_process::wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout) {
  // Connecting would be answered by whoever holds the port, even when that
  // is another test's server and this program failed to bind: so the
  // listening socket is looked for among the program's own.
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (holds_any(pid_, listening_sockets(pid_, port))) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string child_process::output() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string> child_process::wait_for_log(const log_fields& fields,
                                                       std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto line = find_log_line(output(), fields)) {
      return line;
    }
    if (std::chrono::steady_clock::now() >= until) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

environment service_environment(const std::string& database_url,
                                const std::vector<std::string>& secrets, const environment& extra) {
  environment env = {{"SHOPMIRROR_DATABASE_URL", database_url},
                     {"SHOPMIRROR_WEBHOOK_SECRETS", join(secrets)},
                     {"SHOPMIRROR_LISTEN", "127.0.0.1:0"},
                     {"SHOPMIRROR_IO_THREADS", "2"},
                     {"SHOPMIRROR_DB_CONNECTIONS", "2"}};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

} // namespace

std::optional<std::uint16_t> listening_port(const child_process& serve,
                                            std::chrono::milliseconds timeout) {
  const auto line = serve.wait_for_log({{"event", "listening"}}, timeout);
  if (!line) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(std::stoi(field(*line, "port")));
}

service_process::service_process(const std::string& database_url,
                                 const std::vector<std::string>& secrets, const environment& extra)
    : process_({shopmirror_binary(), "serve"}, service_environment(database_url, secrets, extra)) {
  const auto port = listening_port(process_, std::chrono::seconds(20));
  if (!port) {
    throw std::runtime_error("shopmirror serve did not start:\n" + process_.output());
  }
  port_ = *port;
}

} // namespace shopmirror::test

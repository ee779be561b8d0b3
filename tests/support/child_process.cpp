#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
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

bool child_process::running() { return !wait(std::chrono::milliseconds(0)).has_value(); }

std::string child_process::output() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string> child_process::wait_for_line(std::string_view needle,
                                                        std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::istringstream lines(output());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find(needle) != std::string::npos) {
        return line;
      }
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
                                const std::vector<std::string>& secrets,
                                const environment& extra) {
  environment env = {{"SHOPMIRROR_DATABASE_URL", database_url},
                     {"SHOPMIRROR_WEBHOOK_SECRETS", join(secrets)},
                     {"SHOPMIRROR_LISTEN", "127.0.0.1:0"},
                     {"SHOPMIRROR_IO_THREADS", "2"},
                     {"SHOPMIRROR_DB_CONNECTIONS", "2"}};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

} // namespace

service_process::service_process(const std::string& database_url,
                                 const std::vector<std::string>& secrets,
                                 const environment& extra)
    : process_({shopmirror_binary(), "serve"}, service_environment(database_url, secrets, extra)) {
  const auto line = process_.wait_for_line("\"event\":\"listening\"", std::chrono::seconds(20));
  if (!line) {
    throw std::runtime_error("shopmirror serve did not start:\n" + process_.output());
  }
  const auto at = line->find("\"port\":");
  port_ = static_cast<std::uint16_t>(std::stoi(line->substr(at + 7)));
}

} // namespace shopmirror::test

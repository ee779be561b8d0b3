#pragma once

#include "tests/support/json.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shopmirror::test {

using environment = std::vector<std::pair<std::string, std::string>>;

/// A program the test started, with its stdout and stderr in a log file.
/// It is killed (SIGKILL) and reaped when the object goes, so no test leaves
/// a process behind.
class child_process {
public:
  /// `extra` is added to (or overrides) this process's environment.
  child_process(std::vector<std::string> argv, const environment& extra);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void send_signal(int signal) const;
  /// The exit status (or 128 + signal), once it has exited within `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

  /// Whether this process itself (not another that took the port first)
  /// listens on TCP `port`; waits up to `timeout` for it, and returns false
  /// at once if the process has exited.
  bool wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout);

  /// Everything it has written so far.
  std::string output() const;
  /// Waits for a JSON log line with every one of `fields` (compared as
  /// parsed members, as field() gives them); returns that line.
  std::optional<std::string> wait_for_log(const log_fields& fields,
                                          std::chrono::milliseconds timeout) const;

private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

/// The shopmirror binary under test.
std::string shopmirror_binary();

/// The port a `shopmirror serve` reports in its "listening" log line (it
/// may have been told port 0); nullopt when it has not said so in `timeout`.
std::optional<std::uint16_t> listening_port(const child_process& serve,
                                            std::chrono::milliseconds timeout);

/// A `shopmirror serve` on 127.0.0.1 and a port of its own.
class service_process {
public:
  service_process(const std::string& database_url, const std::vector<std::string>& secrets,
                  const environment& extra = {});

  std::uint16_t port() const noexcept { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  child_process& process() noexcept { return process_; }

private:
  child_process process_;
  std::uint16_t port_ = 0;
};

} // namespace shopmirror::test

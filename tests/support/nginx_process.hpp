#pragma once

#include "tests/support/child_process.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shopmirror::test {

/// A real nginx (Debian's) running the configuration shipped in
/// deploy/nginx/, in front of shopmirror processes on `upstream_ports`. In
/// `plain` mode it serves the shipped locations over plain HTTP; in `tls`
/// mode it runs the shipped TLS site itself, with a throwaway self-signed
/// ECDSA certificate. Listens on 127.0.0.1:port(). Single-process mode, so
/// stopping it stops everything it started.
class nginx_process {
public:
  enum class mode { plain, tls };
  nginx_process(const std::vector<std::uint16_t>& upstream_ports, mode how);
  ~nginx_process();
  nginx_process(const nginx_process&) = delete;
  nginx_process& operator=(const nginx_process&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  /// In TLS mode, the CA that signed the site's certificate (for "localhost").
  std::string ca_file() const { return directory_ + "/ca.pem"; }
  std::string error_log() const;
  /// In the shipped `shopmirror` format.
  std::string access_log() const;

private:
  /// Writes the configuration for port_ and starts nginx on it.
  void launch(const std::vector<std::uint16_t>& upstream_ports, mode how);
  std::string read_log(const std::string& name) const;

  std::string directory_;
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> process_;
};

/// The text of a file under deploy/.
std::string deploy_file(const std::string& relative_path);

} // namespace shopmirror::test

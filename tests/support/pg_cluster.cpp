#include "tests/support/pg_cluster.hpp"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string_view>

namespace shopmirror::test {

std::string pg_bin(const std::string& program) {
  return "/usr/lib/postgresql/15/bin/" + program;
}

int run_as_postgres(const std::string& command) {
  std::string full = command;
  if (geteuid() == 0) {
    full = "runuser -u postgres -- sh -c '" + command + "'";
  }
  const int status = std::system(full.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

// A socket bound to a port of the kernel's choosing on 127.0.0.1; the port
// is written to `port`.
int bind_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    throw std::runtime_error("cannot bind a socket on 127.0.0.1");
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::uint16_t free_port() {
  std::uint16_t port = 0;
  ::close(bind_loopback(port));
  return port;
}

} // namespace

std::uint16_t start_on_free_port(const std::function<void(std::uint16_t)>& start) {
  constexpr int attempts = 5;
  for (int attempt = 1;; ++attempt) {
    const std::uint16_t port = free_port();
    try {
      start(port);
      return port;
    } catch (const std::runtime_error& e) {
      if (attempt == attempts ||
          std::string_view(e.what()).find("Address already in use") == std::string_view::npos) {
        throw;
      }
    }
  }
}

refused_port::refused_port() {
  fd_ = bind_loopback(port_);
}

refused_port::~refused_port() {
  ::close(fd_);
}

void pg_cluster::make_directory() {
  char pattern[] = "/tmp/shopmirror-pg-XXXXXX";
  const char* made = ::mkdtemp(pattern);
  if (made == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  directory_ = made;
  if (geteuid() == 0) {
    if (const passwd* pg = ::getpwnam("postgres")) {
      if (::chown(directory_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
        throw std::runtime_error("cannot hand " + directory_ + " to the postgres user");
      }
    }
  }
  // Without TCP the port only names the socket file in this cluster's own
  // directory, so no other server can collide with it.
  port_ = 5432;
}

pg_cluster::pg_cluster(bool tcp) : tcp_(tcp) {
  make_directory();
  if (run_as_postgres(pg_bin("initdb") + " -D " + directory_ +
                      "/data -A trust -U postgres -E UTF8 --locale=C.UTF-8 > " + directory_ +
                      "/initdb.log 2>&1") != 0) {
    throw std::runtime_error("initdb failed, see " + directory_ + "/initdb.log");
  }
  if (tcp_) {
    // A restart later keeps this port: the clients know it.
    port_ = start_on_free_port([this](std::uint16_t port) { start_listening_on(port); });
  } else {
    start();
  }
}

void pg_cluster::start_listening_on(std::uint16_t port) {
  port_ = port;
  try {
    start();
  } catch (const std::runtime_error& e) {
    std::ifstream log(directory_ + "/server.log");
    throw std::runtime_error(e.what() + std::string(":\n") +
                             std::string(std::istreambuf_iterator<char>(log), {}));
  }
}

pg_cluster::pg_cluster(const pg_cluster& primary, const std::string& name) {
  make_directory();
  if (run_as_postgres(pg_bin("pg_basebackup") + " -h " + primary.directory() + " -p " +
                      std::to_string(primary.port()) + " -U postgres -D " + directory_ +
                      "/data -X stream -c fast -R > " + directory_ + "/basebackup.log 2>&1") != 0) {
    throw std::runtime_error("pg_basebackup failed, see " + directory_ + "/basebackup.log");
  }
  // The name the primary's synchronous_standby_names refers to (the last
  // setting in the file wins over the one pg_basebackup -R wrote).
  std::ofstream conf(directory_ + "/data/postgresql.auto.conf", std::ios::app);
  conf << "primary_conninfo = 'host=" << primary.directory() << " port=" << primary.port()
       << " user=postgres application_name=" << name << "'\n";
  if (!conf.flush()) {
    throw std::runtime_error("cannot configure the standby in " + directory_);
  }
  start();
}

void pg_cluster::kill() {
  const std::string pid_file = directory_ + "/data/postmaster.pid";
  run_as_postgres("pid=$(head -n 1 " + pid_file + ") && pkill -KILL -P $pid; kill -KILL $pid");
  for (int i = 0; i < 100 && running(); ++i) {
    ::usleep(20'000);
  }
}

void pg_cluster::promote() {
  if (run_as_postgres(pg_bin("pg_ctl") + " -D " + directory_ + "/data -w -t 30 promote > " +
                      directory_ + "/promote.log 2>&1") != 0) {
    throw std::runtime_error("pg_ctl promote failed, see " + directory_ + "/promote.log");
  }
}

pg_cluster::~pg_cluster() {
  run_as_postgres(pg_bin("pg_ctl") + " -D " + directory_ +
                  "/data -m immediate stop > /dev/null 2>&1");
  std::system(("rm -rf " + directory_).c_str());
}

void pg_cluster::start() {
  const std::string listen = tcp_ ? "127.0.0.1" : "";
  // fsync off: these servers hold test data only, and a stop -m immediate
  // still leaves the WAL in the page cache for recovery.
  const std::string options = "-p " + std::to_string(port_) + " -k " + directory_ +
                              " -c listen_addresses=" + (listen.empty() ? "\"\"" : listen) +
                              " -c fsync=off -c max_connections=200";
  if (run_as_postgres(pg_bin("pg_ctl") + " -D " + directory_ + "/data -w -t 30 -o \"" + options +
                      "\" -l " + directory_ + "/server.log start > /dev/null 2>&1") != 0) {
    throw std::runtime_error("PostgreSQL did not start, see " + directory_ + "/server.log");
  }
}

void pg_cluster::stop_immediate() {
  run_as_postgres(pg_bin("pg_ctl") + " -D " + directory_ +
                  "/data -m immediate stop > /dev/null 2>&1");
}

void pg_cluster::stop_fast() {
  run_as_postgres(pg_bin("pg_ctl") + " -D " + directory_ +
                  "/data -m fast -w stop > /dev/null 2>&1");
}

bool pg_cluster::running() const {
  return run_as_postgres(pg_bin("pg_ctl") + " -D " + directory_ +
                         "/data status > /dev/null 2>&1") == 0;
}

std::string pg_cluster::url(const std::string& database) const {
  return "host=" + directory_ + " port=" + std::to_string(port_) +
         " user=postgres dbname=" + database;
}

void pg_cluster::psql(const std::string& database, const std::string& sql) const {
  const std::string command = "psql -X -q -v ON_ERROR_STOP=1 -h " + directory_ + " -p " +
                              std::to_string(port_) + " -U postgres -d " + database + " -c \"" +
                              sql + "\" > /dev/null";
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("psql failed: " + sql);
  }
}

} // namespace shopmirror::test

#include "tests/support/pgbouncer_process.hpp"

#include "tests/support/pg_cluster.hpp"
#include "tests/support/test_database.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

namespace shopmirror::test {
namespace {

std::map<std::string, std::string> parse_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    throw std::runtime_error("cannot parse the server's connection string");
  }
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) {
      out[o->keyword] = o->val;
    }
  }
  PQconninfoFree(options);
  return out;
}

} // namespace

pgbouncer_process::pgbouncer_process(const std::string& server, const std::string& pool_mode,
                                     int pool_size) {
  char pattern[] = "/tmp/shopmirror-pgbouncer-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  directory_ = pattern;
  const auto values = parse_conninfo(server);
  const std::string host = values.count("host") != 0 ? values.at("host") : "/var/run/postgresql";
  const std::string server_port = values.count("port") != 0 ? values.at("port") : "5432";
  port_ = start_on_free_port(
      [&](std::uint16_t port) { launch(port, host, server_port, pool_mode, pool_size); });
}

void pgbouncer_process::launch(std::uint16_t port, const std::string& host,
                               const std::string& server_port, const std::string& pool_mode,
                               int pool_size) {
  std::remove((directory_ + "/pgbouncer.log").c_str()); // an earlier attempt's
  std::ofstream(directory_ + "/pgbouncer.ini")
      << "[databases]\n"
      << "* = host=" << host << " port=" << server_port << " user=postgres\n"
      << "[pgbouncer]\n"
      << "listen_addr = 127.0.0.1\n"
      << "listen_port = " << port << "\n"
      << "unix_socket_dir =\n"
      << "auth_type = any\n"
      << "pool_mode = " << pool_mode << "\n"
      << "default_pool_size = " << pool_size << "\n"
      << "max_client_conn = 2000\n"
      << "server_reset_query = DISCARD ALL\n"
      << "logfile = " << directory_ << "/pgbouncer.log\n";
  std::vector<std::string> argv = {"/usr/sbin/pgbouncer", directory_ + "/pgbouncer.ini"};
  if (::geteuid() == 0) {
    // PgBouncer refuses to run as root; setpriv execs it, so the pid is its own.
    if (const passwd* pg = ::getpwnam("postgres")) {
      if (::chown(directory_.c_str(), pg->pw_uid, pg->pw_gid) != 0) {
        throw std::runtime_error("cannot hand " + directory_ + " to the postgres user");
      }
    }
    argv.insert(argv.begin(),
                {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"});
  }
  process_ = std::make_unique<child_process>(argv, environment{});
  if (!process_->wait_until_listening(port, std::chrono::seconds(10))) {
    std::ifstream log(directory_ + "/pgbouncer.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    throw std::runtime_error("pgbouncer did not start:\n" + process_->output() + text);
  }
}

pgbouncer_process::~pgbouncer_process() {
  if (process_) {
    process_->send_signal(SIGTERM);
    process_->wait(std::chrono::seconds(5));
    process_.reset(); // SIGKILL if it is still there
  }
  std::system(("rm -rf " + directory_).c_str());
}

std::string pgbouncer_process::url(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

const pgbouncer_process* shared_pgbouncer() {
  const char* mode = std::getenv("SHOPMIRROR_TEST_PGBOUNCER");
  if (mode == nullptr || *mode == '\0') {
    return nullptr;
  }
  static std::once_flag once;
  static std::unique_ptr<pgbouncer_process> shared;
  std::call_once(
      once, [&] { shared = std::make_unique<pgbouncer_process>(shared_server_url(), mode, 50); });
  return shared.get();
}

} // namespace shopmirror::test

#include "ingest/config.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>

using namespace shopmirror;

namespace {

ingest::config load(const std::map<std::string, std::string>& vars) {
  std::vector<std::string> names;
  for (const auto& [name, value] : vars) {
    names.push_back(name);
  }
  return ingest::load_config(
      [&](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) {
          return std::nullopt;
        }
        return it->second;
      },
      names);
}

// The message of the config_error the settings raise.
std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    load(vars);
  } catch (const ingest::config_error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_SUITE("ingest") {

TEST_CASE("defaults") {
  const auto c = load({});
  CHECK(c.listen.host == "127.0.0.1");
  CHECK(c.listen.port == 8080);
  CHECK(c.max_body_bytes == 8 * 1024 * 1024);
  CHECK(c.webhook_secrets.empty());
  CHECK(c.ack_timeout.count() < 5000);
  CHECK_THROWS_AS(c.require_database(), ingest::config_error);
  CHECK_THROWS_AS(c.require_secrets(), ingest::config_error);
}

TEST_CASE("values are read and validated") {
  const auto c = load({{"SHOPMIRROR_DATABASE_URL", "postgresql://u@localhost/db"},
                       {"SHOPMIRROR_LISTEN", "[::1]:9090"},
                       {"SHOPMIRROR_WEBHOOK_SECRETS", " new , old ,"},
                       {"SHOPMIRROR_MAX_BODY_BYTES", "1048576"},
                       {"SHOPMIRROR_MIGRATE_ON_START", "false"}});
  CHECK(c.database.url == "postgresql://u@localhost/db");
  CHECK(c.listen.host == "::1");
  CHECK(c.listen.port == 9090);
  CHECK(c.webhook_secrets == std::vector<std::string>{"new", "old"});
  CHECK(c.max_body_bytes == 1048576);
  CHECK_FALSE(c.migrate_on_start);
  CHECK_NOTHROW(c.require_database());
  CHECK_NOTHROW(c.require_secrets());
}

TEST_CASE("a bad value names its variable") {
  const std::map<std::string, std::string> bad[] = {
      {{"SHOPMIRROR_LISTEN", "8080"}},
      {{"SHOPMIRROR_LISTEN", "127.0.0.1:99999"}},
      {{"SHOPMIRROR_MAX_BODY_BYTES", "lots"}},
      {{"SHOPMIRROR_MAX_BODY_BYTES", "-1"}},
      {{"SHOPMIRROR_ACK_TIMEOUT_MS", "6000"}},
      {{"SHOPMIRROR_DB_CONNECTIONS", "0"}},
      {{"SHOPMIRROR_MIGRATE_ON_START", "maybe"}},
      {{"SHOPMIRROR_DATABASE_URL", "host=x port"}},
      {{"SHOPMIRROR_DATABASE_URL", "postgresql://[bad"}},
      {{"SHOPMIRROR_WEBHOOK_SECRETS", " , "}},
      {{"SHOPMIRROR_API_VERSION", "latest"}},
      {{"SHOPMIRROR_LOG_LEVEL", "loud"}},
      {{"SHOPMIRROR_WEBHOOK_SECRETS_FILE", "/nonexistent/secrets"}},
  };
  for (const auto& vars : bad) {
    const std::string name = vars.begin()->first;
    CAPTURE(name);
    const std::string message = error_of(vars);
    CHECK(message.find(name) != std::string::npos);
  }
}

TEST_CASE("a database URL with a password is never echoed") {
  const std::string message =
      error_of({{"SHOPMIRROR_DATABASE_URL", "postgresql://u:s3cr3t@[bad/db"}});
  CHECK(message.find("SHOPMIRROR_DATABASE_URL") != std::string::npos);
  CHECK(message.find("s3cr3t") == std::string::npos);
}

TEST_CASE("secrets from a file one a line and not from both sources") {
  char path[] = "/tmp/shopmirror-secrets-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  {
    std::ofstream out(path);
    out << "# rotated 2026-11\nnew-secret\n\n  old-secret  \n";
  }
  const auto c = load({{"SHOPMIRROR_WEBHOOK_SECRETS_FILE", path}});
  CHECK(c.webhook_secrets == std::vector<std::string>{"new-secret", "old-secret"});
  CHECK(error_of({{"SHOPMIRROR_WEBHOOK_SECRETS_FILE", path}, {"SHOPMIRROR_WEBHOOK_SECRETS", "x"}})
            .find("both") != std::string::npos);
  std::remove(path);
}

TEST_CASE("unknown SHOPMIRROR_ variables are reported") {
  const auto c = load({{"SHOPMIRROR_LISTN", "127.0.0.1:1"}, {"OTHER", "x"}});
  CHECK(c.unknown_variables == std::vector<std::string>{"SHOPMIRROR_LISTN"});
}

}

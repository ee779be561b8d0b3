#include "cli/config.hpp"
#include "db/settings.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>

using namespace shopmirror;

namespace {

cli::config load(const std::map<std::string, std::string>& vars) {
  std::vector<std::string> names;
  for (const auto& [name, value] : vars) {
    names.push_back(name);
  }
  return cli::load_config(
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
  } catch (const cli::config_error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_SUITE("cli") {

  TEST_CASE("defaults") {
    const auto c = load({});
    CHECK(c.listen.host == "127.0.0.1");
    CHECK(c.listen.port == 8080);
    CHECK(c.max_body_bytes == 8 * 1024 * 1024);
    CHECK(c.webhook_secrets.empty());
    CHECK(c.ack_timeout.count() < 5000);
    CHECK_THROWS_AS(c.require_database(), cli::config_error);
    CHECK_THROWS_AS(c.require_secrets(), cli::config_error);
  }

  TEST_CASE("a setting left unset keeps its default") {
    // Each part of the configuration is read by its own function; none may
    // replace a default with an empty value when its variable is unset.
    const auto c = load({});
    const cli::config d;
    CHECK(c.trusted_proxies == d.trusted_proxies);
    CHECK(c.api_version == d.api_version);
    CHECK(c.log_level == d.log_level);
    CHECK(c.migrate_on_start == d.migrate_on_start);
    CHECK(c.read_timeout == d.read_timeout);
    CHECK(c.idle_timeout == d.idle_timeout);
    CHECK(c.drain_timeout == d.drain_timeout);
    CHECK(c.max_connections == d.max_connections);
    CHECK(c.delivery_retention == d.delivery_retention);
    CHECK(c.prune_every == d.prune_every);
    CHECK(c.erasure.batch_rows == d.erasure.batch_rows);
    CHECK(c.erasure.interval == d.erasure.interval);
    CHECK(c.writer.connections == d.writer.connections);
    CHECK(c.writer.max_batch == d.writer.max_batch);
    CHECK(c.writer.max_wait == d.writer.max_wait);
    CHECK(c.writer.queue_capacity == d.writer.queue_capacity);
    CHECK(c.database.statement_timeout == d.database.statement_timeout);
    CHECK(c.database.lock_timeout == d.database.lock_timeout);
    CHECK(c.database.keepalive_count == d.database.keepalive_count);
    CHECK(c.reconcile.daily_at_minute == d.reconcile.daily_at_minute);
    CHECK(c.reconcile.jitter == d.reconcile.jitter);
    CHECK(c.reconcile.mode == d.reconcile.mode);
    CHECK(c.reconcile.page_size == d.reconcile.page_size);
    CHECK(c.reconcile.max_sweep == d.reconcile.max_sweep);
    CHECK(c.reconcile.apply_connections == d.reconcile.apply_connections);
    CHECK(c.reconcile.max_attempts == d.reconcile.max_attempts);
    CHECK(c.reconcile.bulk_timeout == d.reconcile.bulk_timeout);
    CHECK(c.reconcile.refresh_interval == d.reconcile.refresh_interval);
    CHECK(c.shops.empty());
    CHECK(c.status_token.empty());
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

  TEST_CASE("every database connection gets keepalives, and multi-host strings pass through") {
    const auto settings =
        load({{"SHOPMIRROR_DATABASE_URL", "host=pg-a,pg-b port=5432,5433 dbname=shop "
                                          "target_session_attrs=read-write"},
              {"SHOPMIRROR_DB_KEEPALIVE_IDLE", "30s"},
              {"SHOPMIRROR_DB_KEEPALIVE_COUNT", "4"}})
            .database;
    CHECK(settings.keepalive_idle == std::chrono::seconds(30));
    CHECK(settings.keepalive_interval == std::chrono::seconds(2));
    CHECK(settings.keepalive_count == 4);
    CHECK(settings.tcp_user_timeout == std::chrono::milliseconds(10000));
    const std::string conninfo = db::connection_string(settings);
    CHECK(conninfo.find("host=pg-a,pg-b port=5432,5433") == 0);
    CHECK(conninfo.find("target_session_attrs=read-write") != std::string::npos);
    CHECK(conninfo.find("keepalives='1'") != std::string::npos);
    CHECK(conninfo.find("keepalives_idle='30'") != std::string::npos);
    CHECK(conninfo.find("keepalives_interval='2'") != std::string::npos);
    CHECK(conninfo.find("keepalives_count='4'") != std::string::npos);
    CHECK(conninfo.find("tcp_user_timeout='10000'") != std::string::npos);
    CHECK_FALSE(db::validate_url(conninfo).has_value());

    // The URI form, and a value the URL sets itself wins.
    db::db_settings uri;
    uri.url = "postgresql://app@pg-a:5432,pg-b:5433/shop?target_session_attrs=read-write"
              "&keepalives_idle=60";
    const std::string from_uri = db::connection_string(uri);
    CHECK(from_uri.find("keepalives_idle=60") != std::string::npos);
    CHECK(from_uri.find("keepalives_idle=5") == std::string::npos);
    CHECK(from_uri.find("&keepalives=1") != std::string::npos);
    CHECK(from_uri.find("&tcp_user_timeout=10000") != std::string::npos);
    CHECK_FALSE(db::validate_url(from_uri).has_value());

    CHECK(error_of({{"SHOPMIRROR_DATABASE_URL", "dbname=x"},
                    {"SHOPMIRROR_DB_KEEPALIVE_INTERVAL", "soon"}})
              .find("SHOPMIRROR_DB_KEEPALIVE_INTERVAL") != std::string::npos);
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

  TEST_CASE("the status token from the environment or a file, never short, never both") {
    CHECK(load({}).status_token.empty());
    CHECK(load({{"SHOPMIRROR_STATUS_TOKEN", " status-token-0123456789 "}}).status_token ==
          "status-token-0123456789");
    const auto short_token = error_of({{"SHOPMIRROR_STATUS_TOKEN", "short"}});
    CHECK(short_token.find("SHOPMIRROR_STATUS_TOKEN is shorter than 16 characters") == 0);
    CHECK(short_token.find("short\"") == std::string::npos);
    char path[] = "/tmp/shopmirror-status-token-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    {
      std::ofstream out(path);
      out << "from-a-file-0123456789\n";
    }
    CHECK(load({{"SHOPMIRROR_STATUS_TOKEN_FILE", path}}).status_token == "from-a-file-0123456789");
    CHECK(error_of({{"SHOPMIRROR_STATUS_TOKEN_FILE", path}, {"SHOPMIRROR_STATUS_TOKEN", "x"}})
              .find("both set") != std::string::npos);
    CHECK(load({{"SHOPMIRROR_STATUS_TOKEN_FILE", path}}).unknown_variables.empty());
    std::remove(path);
  }

  TEST_CASE("unknown SHOPMIRROR_ variables are reported") {
    const auto c = load({{"SHOPMIRROR_LISTN", "127.0.0.1:1"}, {"OTHER", "x"}});
    CHECK(c.unknown_variables == std::vector<std::string>{"SHOPMIRROR_LISTN"});
  }
}

namespace {

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/shopmirror-config-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::FILE* file = fdopen(fd, "w");
  std::fputs(text.c_str(), file);
  std::fclose(file);
  return path;
}

} // namespace

TEST_SUITE("cli") {

  TEST_CASE("one shop comes from SHOPMIRROR_SHOP and SHOPMIRROR_ADMIN_TOKEN") {
    const auto c = load({{"SHOPMIRROR_SHOP", "demo.myshopify.com"},
                         {"SHOPMIRROR_ADMIN_TOKEN", "shpat_x"},
                         {"SHOPMIRROR_ADMIN_API_URL", "http://127.0.0.1:9"},
                         {"SHOPMIRROR_RECONCILE_AT", "04:30"},
                         {"SHOPMIRROR_RECONCILE_MODE", "paginated"},
                         {"SHOPMIRROR_RECONCILE_BULK_TIMEOUT", "90m"},
                         {"SHOPMIRROR_API_VERSION", "2026-07"}});
    REQUIRE(c.shops.size() == 1);
    CHECK(c.shops[0].domain == "demo.myshopify.com");
    CHECK(c.shops[0].base_url() == "http://127.0.0.1:9");
    CHECK(c.reconcile.daily_at_minute == std::optional<int>(270));
    CHECK(c.reconcile.mode == db::run_mode::paginated);
    CHECK(c.reconcile.api_version == "2026-07");
    CHECK(c.reconcile.bulk_timeout == std::chrono::minutes(90));
    CHECK(load({}).reconcile.bulk_timeout == std::chrono::hours(6));
    CHECK(load({{"SHOPMIRROR_SHOP", "demo.myshopify.com"}, {"SHOPMIRROR_ADMIN_TOKEN", "t"}})
              .shops[0]
              .base_url() == "https://demo.myshopify.com");
    CHECK_FALSE(load({{"SHOPMIRROR_RECONCILE_AT", "off"}}).reconcile.daily_at_minute.has_value());
    CHECK(load({}).shops.empty());
  }

  TEST_CASE("bad reconcile settings name their variable") {
    CHECK(error_of({{"SHOPMIRROR_SHOP", "demo.example.com"}, {"SHOPMIRROR_ADMIN_TOKEN", "t"}})
              .find("SHOPMIRROR_SHOP=") == 0);
    CHECK(error_of({{"SHOPMIRROR_SHOP", "demo.myshopify.com"}}).find("SHOPMIRROR_ADMIN_TOKEN") !=
          std::string::npos);
    CHECK(error_of({{"SHOPMIRROR_ADMIN_TOKEN", "t"}}).find("needs SHOPMIRROR_SHOP") !=
          std::string::npos);
    CHECK(error_of({{"SHOPMIRROR_RECONCILE_AT", "25:00"}}).find("SHOPMIRROR_RECONCILE_AT=") == 0);
    CHECK(error_of({{"SHOPMIRROR_RECONCILE_MODE", "rest"}}).find("SHOPMIRROR_RECONCILE_MODE=") ==
          0);
    CHECK(error_of({{"SHOPMIRROR_RECONCILE_BULK_TIMEOUT", "0s"}})
              .find("SHOPMIRROR_RECONCILE_BULK_TIMEOUT=") == 0);
    CHECK(error_of({{"SHOPMIRROR_RECONCILE_TOKEN", "short"}}).find("SHOPMIRROR_RECONCILE_TOKEN") ==
          0);
    CHECK(error_of({{"SHOPMIRROR_SHOP", "a.myshopify.com"},
                    {"SHOPMIRROR_ADMIN_TOKEN", "t"},
                    {"SHOPMIRROR_ADMIN_API_URL", "ftp://x"}})
              .find("SHOPMIRROR_ADMIN_API_URL=") == 0);
  }

  TEST_CASE("credentials that renew themselves: each kind takes what it needs and names what is "
            "missing") {
    const std::string key = "q1Jd8m6uQ5GYmBw1iVYbq2cL0y3f2d6m9N0kYzP3r8E=";
    const std::string shop = "demo.myshopify.com";
    const auto with = [&](std::map<std::string, std::string> extra) {
      extra["SHOPMIRROR_SHOP"] = shop;
      extra["SHOPMIRROR_CREDENTIALS_KEY"] = key;
      return extra;
    };
    const auto cc = load(with({{"SHOPMIRROR_ADMIN_AUTH", "client_credentials"},
                               {"SHOPMIRROR_CLIENT_ID", "id"},
                               {"SHOPMIRROR_CLIENT_SECRET", "secret"}}));
    REQUIRE(cc.shops.size() == 1);
    CHECK(cc.shops[0].auth == reconcile::auth_kind::client_credentials);
    CHECK(cc.shops[0].client_secret == "secret");
    CHECK(cc.reconcile.credentials_key.has_value());

    CHECK(
        error_of(
            with({{"SHOPMIRROR_ADMIN_AUTH", "client_credentials"}, {"SHOPMIRROR_CLIENT_ID", "id"}}))
            .find("SHOPMIRROR_ADMIN_AUTH=client_credentials needs SHOPMIRROR_CLIENT_SECRET") == 0);
    CHECK(error_of(with({{"SHOPMIRROR_ADMIN_AUTH", "expiring_offline"},
                         {"SHOPMIRROR_CLIENT_SECRET", "s"}}))
              .find("needs SHOPMIRROR_CLIENT_ID") != std::string::npos);
    CHECK(error_of(with({{"SHOPMIRROR_ADMIN_AUTH", "client_credentials"},
                         {"SHOPMIRROR_CLIENT_ID", "id"},
                         {"SHOPMIRROR_CLIENT_SECRET", "s"},
                         {"SHOPMIRROR_ADMIN_TOKEN", "t"}}))
              .find("SHOPMIRROR_ADMIN_TOKEN is set, but SHOPMIRROR_ADMIN_AUTH=client_credentials "
                    "does not use it") == 0);
    CHECK(error_of(
              with({{"SHOPMIRROR_ADMIN_AUTH", "application_only"}, {"SHOPMIRROR_CLIENT_ID", "id"}}))
              .find("needs SHOPMIRROR_APP_PRIVATE_KEY_FILE") != std::string::npos);
    const std::string not_a_key = write_temp("not a key");
    CHECK(error_of(with({{"SHOPMIRROR_ADMIN_AUTH", "application_only"},
                         {"SHOPMIRROR_CLIENT_ID", "id"},
                         {"SHOPMIRROR_APP_PRIVATE_KEY_FILE", not_a_key}}))
              .find("SHOPMIRROR_APP_PRIVATE_KEY_FILE=\"" + not_a_key +
                    "\": not a PEM private key") == 0);
    std::remove(not_a_key.c_str());
    CHECK(error_of(with({{"SHOPMIRROR_ADMIN_AUTH", "oauth"}}))
              .find("SHOPMIRROR_ADMIN_AUTH=\"oauth\" is not one of") == 0);
    // Stored tokens are sealed: no key, no start; a bad key is named, never shown.
    CHECK(error_of({{"SHOPMIRROR_SHOP", shop},
                    {"SHOPMIRROR_ADMIN_AUTH", "client_credentials"},
                    {"SHOPMIRROR_CLIENT_ID", "id"},
                    {"SHOPMIRROR_CLIENT_SECRET", "s"}})
              .find("set SHOPMIRROR_CREDENTIALS_KEY") != std::string::npos);
    const auto bad_key = error_of({{"SHOPMIRROR_CREDENTIALS_KEY", "dG9vIHNob3J0"}});
    CHECK(bad_key.find("SHOPMIRROR_CREDENTIALS_KEY is not 32 bytes in base64") == 0);
    CHECK(bad_key.find("dG9vIHNob3J0") == std::string::npos);
    // The default stays a static token.
    CHECK(load({{"SHOPMIRROR_SHOP", shop}, {"SHOPMIRROR_ADMIN_TOKEN", "t"}}).shops[0].auth ==
          reconcile::auth_kind::static_token);
    // In the file, the same keys under their own names.
    const std::string path = write_temp(R"({"shops": [{"domain": "one.myshopify.com",
    "auth": "expiring_offline", "client_id": "id"}]})");
    CHECK(error_of({{"SHOPMIRROR_CONFIG", path}, {"SHOPMIRROR_CREDENTIALS_KEY", key}})
              .find("shops[0].auth=expiring_offline needs SHOPMIRROR_CONFIG") != std::string::npos);
    std::remove(path.c_str());
  }

  TEST_CASE("several shops come from the SHOPMIRROR_CONFIG file") {
    const std::string token_file = write_temp("shpat_from_file\n");
    const std::string path = write_temp(R"({"shops": [
    {"domain": "one.myshopify.com", "admin_token": "shpat_1",
     "admin_api_url": "http://127.0.0.1:1", "webhook_secrets": ["own-key"]},
    {"domain": "two.myshopify.com", "admin_token_file": ")" +
                                        token_file + R"("}
  ]})");
    const auto c = load({{"SHOPMIRROR_CONFIG", path}});
    REQUIRE(c.shops.size() == 2);
    CHECK(c.shops[0].webhook_secrets == std::vector<std::string>{"own-key"});
    CHECK(c.shops[1].admin_token == "shpat_from_file");
    CHECK(c.shops[1].base_url() == "https://two.myshopify.com");
    // Shop keys are enough to verify webhooks without app-wide secrets.
    CHECK_NOTHROW(c.require_secrets());
    std::remove(path.c_str());
    std::remove(token_file.c_str());
  }

  TEST_CASE("a bad SHOPMIRROR_CONFIG file is refused with the place of the mistake") {
    const auto error_for = [](const std::string& text) {
      const std::string path = write_temp(text);
      const std::string message = error_of({{"SHOPMIRROR_CONFIG", path}});
      std::remove(path.c_str());
      return message;
    };
    CHECK(error_for("{").find("is not JSON") != std::string::npos);
    CHECK(error_for(R"({"shop": []})").find("no \"shops\" list") != std::string::npos);
    CHECK(error_for(R"({"shops": [{"domain": "x.myshopify.com", "admin_tokn": "t"}]})")
              .find("shops[0]: unknown key \"admin_tokn\"") != std::string::npos);
    CHECK(error_for(R"({"shops": [{"domain": "x.myshopify.com"}]})")
              .find("has no Admin API access token: set SHOPMIRROR_CONFIG") != std::string::npos);
    CHECK(error_for(R"({"shops": [{"domain": "x.myshopify.com", "admin_token": "t"},
                                {"domain": "x.myshopify.com", "admin_token": "u"}]})")
              .find("shops[1].domain=\"x.myshopify.com\" is listed twice") != std::string::npos);
    CHECK(error_of({{"SHOPMIRROR_CONFIG", "/nonexistent/shops.json"}}).find("cannot be read") !=
          std::string::npos);
    CHECK(error_of({{"SHOPMIRROR_CONFIG", "/x"}, {"SHOPMIRROR_SHOP", "a.myshopify.com"}})
              .find("must not be set with it") != std::string::npos);
  }

} // TEST_SUITE

// The commands as an operator meets them: --help and mistakes, send's
// secret, check and health, run as the real binary.

#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

using namespace shopmirror;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> all_commands = {
    "serve", "migrate",       "check", "health",       "reconcile", "credentials",
    "send",  "subscriptions", "prune", "dead-letters", "status",    "version"};

struct command_output {
  int status = -1;
  std::string output;
};

// Runs `shopmirror <args>` with only stdout kept, or only stderr.
enum class stream { stdout_only, stderr_only, both };

command_output run(std::vector<std::string> args, const test::environment& env,
                   stream kept = stream::both) {
  args.insert(args.begin(), test::shopmirror_binary());
  if (kept != stream::both) {
    args.insert(args.begin(), {"/bin/sh", "-c",
                               kept == stream::stdout_only ? "exec \"$0\" \"$@\" 2>/dev/null"
                                                           : "exec \"$0\" \"$@\" >/dev/null"});
  }
  test::child_process process(args, env);
  const auto status = process.wait(60s);
  REQUIRE(status);
  return {*status, process.output()};
}

bool has(const std::string& output, const std::string& text) {
  return output.find(text) != std::string::npos;
}

/// A file of the test's own, removed at the end.
class temp_file {
public:
  explicit temp_file(const std::string& content)
      : path_("/tmp/shopmirror-commands-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter_++)) {
    std::ofstream(path_) << content;
  }
  ~temp_file() { std::remove(path_.c_str()); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

private:
  static inline int counter_ = 0;
  std::string path_;
};

std::string schema_of(const test::test_database& db) {
  return db.scalar("select count(*) from pg_namespace where nspname = 'shopify'");
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("every command answers --help with its usage on stdout and touches nothing") {
    test::test_database db(false);
    // A setting that would stop any command: --help reads no setting.
    const test::environment env = {{"SHOPMIRROR_DATABASE_URL", db.url()},
                                   {"SHOPMIRROR_LOG_LEVEL", "loud"}};
    for (const auto& command : all_commands) {
      for (const std::string help : {"--help", "-h"}) {
        CAPTURE(command);
        CAPTURE(help);
        const auto answer = run({command, help}, env, stream::stdout_only);
        CHECK(answer.status == 0);
        CHECK(answer.output.rfind("usage: shopmirror " + command, 0) == 0);
        CHECK(run({command, help}, env, stream::stderr_only).output.empty());
      }
    }
    // After a subcommand and beside other options too.
    CHECK(run({"migrate", "--bogus", "--help"}, env).status == 0);
    CHECK(run({"dead-letters", "replay", "-h"}, env).status == 0);
    CHECK(run({"reconcile", "--dry-run", "--help"}, env).status == 0);
    CHECK(run({"send", "--help"}, env).status == 0);
    CHECK(schema_of(db) == "0"); // migrate --help did not migrate

    const auto top = run({"--help"}, env, stream::stdout_only);
    CHECK(top.status == 0);
    CHECK(has(top.output, "  check "));
    CHECK(has(top.output, "  health "));
  }

  TEST_CASE(
      "an unknown option or a stray argument exits 2 with the usage on stderr, doing nothing") {
    test::test_database db(false);
    const test::environment env = {{"SHOPMIRROR_DATABASE_URL", db.url()},
                                   {"SHOPMIRROR_WEBHOOK_SECRETS", "s"}};
    for (const auto& command : all_commands) {
      CAPTURE(command);
      const auto refused = run({command, "--bogus"}, env, stream::stderr_only);
      CHECK(refused.status == 2);
      CHECK(has(refused.output, "unknown option \"--bogus\""));
      CHECK(has(refused.output, "usage: shopmirror " + command));
      CHECK(run({command, "--bogus"}, env, stream::stdout_only).output.empty());
    }
    const auto stray = run({"migrate", "now"}, env, stream::stderr_only);
    CHECK(stray.status == 2);
    CHECK(has(stray.output, "unexpected argument \"now\""));
    CHECK(run({"version", "extra"}, env).status == 2);
    CHECK(run({"serve", "--port", "1"}, env).status == 2);
    CHECK(run({"prune", "all"}, env).status == 2);
    CHECK(has(run({"dead-letters", "burn"}, env).output, "unknown subcommand \"burn\""));
    CHECK(run({"dead-letters", "list", "7"}, env).status == 2);
    CHECK(run({"dead-letters", "replay", "seven"}, env).status == 2);
    CHECK(run({"reconcile", "--shop"}, env).status == 2);
    CHECK(run({"send"}, env).status == 2); // no payload file
    CHECK(run({"send", "a.json", "b.json"}, env).status == 2);
    CHECK(schema_of(db) == "0");
    // A known command still runs.
    CHECK(run({"migrate"}, env).status == 0);
    CHECK(schema_of(db) == "1");
  }

  TEST_CASE("send takes its secret from --secret-file, or the service's own settings") {
    test::test_database db;
    const std::string secret = "send-secret-0123";
    test::service_process service(db.url(), {secret});
    const temp_file payload(test::product_json(
        {801, "Sent", "2026-03-01T00:00:00Z", "", "active", {{8010, "1.00", "S", 1, 1}}}));
    const temp_file secret_file(secret + "\nan-older-secret\n");
    const temp_file wrong_file("not-the-secret\n");
    const std::string url = service.base_url() + "/webhooks/shopify";

    auto sent = run({"send", "--url", url, "--webhook-id", "s-file", "--secret-file",
                     secret_file.path(), payload.path()},
                    {});
    CHECK_MESSAGE(sent.status == 0, sent.output);
    CHECK(has(sent.output, "HTTP 200"));

    sent = run({"send", "--url", url, "--webhook-id", "s-env", payload.path()},
               {{"SHOPMIRROR_WEBHOOK_SECRETS", secret}});
    CHECK_MESSAGE(sent.status == 0, sent.output);

    sent = run({"send", "--url", url, "--webhook-id", "s-env-file", payload.path()},
               {{"SHOPMIRROR_WEBHOOK_SECRETS_FILE", secret_file.path()}});
    CHECK_MESSAGE(sent.status == 0, sent.output);

    sent = run({"send", "--url", url, "--webhook-id", "s-wrong", "--secret-file", wrong_file.path(),
                payload.path()},
               {});
    CHECK(sent.status == 1);
    CHECK(has(sent.output, "HTTP 401"));

    sent = run({"send", "--url", url, "--secret-file", "/nonexistent/secret", payload.path()}, {});
    CHECK(sent.status == 2);
    CHECK(has(sent.output, "--secret-file \"/nonexistent/secret\" cannot be read"));
    sent = run({"send", "--url", url, "--secret", secret, "--secret-file", secret_file.path(),
                payload.path()},
               {});
    CHECK(sent.status == 2);
    CHECK(has(run({"send", "--help"}, {}).output, "other users of the\n"));

    CHECK(db.scalar("select string_agg(webhook_id, ',' order by webhook_id) from "
                    "shopify.webhook_deliveries") == "s-env,s-env-file,s-file");
  }

  TEST_CASE("health: 0 while the service is ready, 1 when nothing answers") {
    test::test_database db;
    test::service_process service(db.url(), {"health-secret"});
    const auto ready = run({"health", "--url", service.base_url() + "/readyz"}, {});
    CHECK_MESSAGE(ready.status == 0, ready.output);
    CHECK(has(ready.output, "ready: HTTP 200"));
    // The address from SHOPMIRROR_LISTEN, the wildcard asked on loopback.
    CHECK(run({"health"}, {{"SHOPMIRROR_LISTEN", "0.0.0.0:" + std::to_string(service.port())}})
              .status == 0);

    const test::refused_port closed;
    REQUIRE(closed.port() != 0);
    const auto down =
        run({"health"}, {{"SHOPMIRROR_LISTEN", "127.0.0.1:" + std::to_string(closed.port())}});
    CHECK(down.status == 1);
    CHECK(has(down.output, "not ready"));
    // An answer that is not 200 is not ready either.
    const auto not_found = run({"health", "--url", service.base_url() + "/nothing"}, {});
    CHECK(not_found.status == 1);
    CHECK(has(not_found.output, "not ready: HTTP 404"));
  }

  TEST_CASE("check: one line each, 0 when all pass, and each failure named") {
    const std::string address = "https://mirror.example.com/webhooks/shopify";
    test::test_database db;
    test::admin_api_stand_in shopify;
    for (const std::string topic : {"PRODUCTS_CREATE", "PRODUCTS_UPDATE", "PRODUCTS_DELETE"}) {
      shopify.subscriptions().add({"", topic, address, "JSON", {}, ""});
    }
    test::environment env = test::admin_env(shopify, db);
    env.emplace_back("SHOPMIRROR_PUBLIC_URL", address);
    env.emplace_back("SHOPMIRROR_WEBHOOK_SECRETS", "check-secret");
    const std::string shop = test::reconcile_shop;

    const int mutations = shopify.subscriptions().mutations();
    const auto passed = run({"check"}, env, stream::stdout_only);
    CHECK_MESSAGE(passed.status == 0, passed.output);
    CHECK(has(passed.output, "ok    settings\n"));
    CHECK(has(passed.output, "ok    database answers\n"));
    CHECK(has(passed.output, ", every migration applied\n"));
    CHECK(has(passed.output, "ok    shop " + shop + ": the Admin API answers for it\n"));
    CHECK(has(passed.output, "ok    shop " + shop + ": webhook subscriptions as needed\n"));
    CHECK_FALSE(has(passed.output, "FAIL"));
    CHECK(shopify.subscriptions().mutations() == mutations); // check only looks

    SUBCASE("a bad setting is named") {
      auto bad = env;
      bad.emplace_back("SHOPMIRROR_ACK_TIMEOUT_MS", "soon");
      const auto failed = run({"check"}, bad, stream::stdout_only);
      CHECK(failed.status == 1);
      CHECK(has(failed.output, "FAIL  settings: SHOPMIRROR_ACK_TIMEOUT_MS"));
    }
    SUBCASE("a database that is not there") {
      auto wrong = env;
      const test::refused_port closed;
      for (auto& [name, value] : wrong) {
        if (name == "SHOPMIRROR_DATABASE_URL") {
          value = "host=127.0.0.1 port=" + std::to_string(closed.port()) +
                  " dbname=nothing connect_timeout=2";
        }
      }
      const auto failed = run({"check"}, wrong, stream::stdout_only);
      CHECK(failed.status == 1);
      CHECK(has(failed.output, "FAIL  database: cannot read the schema version"));
    }
    SUBCASE("a migration not applied") {
      db.execute("delete from shopify.schema_migrations "
                 "where version = (select max(version) from shopify.schema_migrations)");
      const auto failed = run({"check"}, env, stream::stdout_only);
      CHECK(failed.status == 1);
      CHECK(has(failed.output, "FAIL  schema at version "));
      CHECK(has(failed.output, "run shopmirror migrate"));
      CHECK(has(failed.output, "ok    shop " + shop + ": webhook subscriptions as needed\n"));
    }
    SUBCASE("an Admin API that answers for another shop") {
      test::admin_api_settings other;
      other.shop_domain = "another-shop.myshopify.com";
      test::admin_api_stand_in elsewhere(other);
      auto wrong = test::admin_env(elsewhere, db);
      wrong.emplace_back("SHOPMIRROR_PUBLIC_URL", address);
      wrong.emplace_back("SHOPMIRROR_WEBHOOK_SECRETS", "check-secret");
      const auto failed = run({"check"}, wrong, stream::stdout_only);
      CHECK(failed.status == 1);
      CHECK(has(failed.output, "FAIL  shop " + shop +
                                   ": the Admin API answers for "
                                   "another-shop.myshopify.com, not " +
                                   shop));
    }
    SUBCASE("a webhook subscription missing") {
      for (const auto& s : shopify.subscriptions().list()) {
        if (s.topic == "PRODUCTS_DELETE") {
          shopify.subscriptions().remove(s.id);
        }
      }
      const auto failed = run({"check"}, env, stream::stdout_only);
      CHECK(failed.status == 1);
      CHECK(has(failed.output,
                "FAIL  shop " + shop + ": webhook subscriptions: PRODUCTS_DELETE missing"));
    }
  }

} // TEST_SUITE

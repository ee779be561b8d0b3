// Admin API credentials that renew themselves, end to end: the real binary
// against the stand-in's token endpoint (tests/support/token_authority.hpp),
// with token lifetimes compressed from hours to a second, so that a day of
// nightly and on-demand runs crosses many expiries in a few seconds.

#include "crypto/jws.hpp"
#include "tests/support/admin_api_stand_in.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/reconcile_runs.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

using namespace shopmirror;
using namespace std::chrono_literals;
using test::field;

namespace {

// 32 bytes, base64: what SHOPMIRROR_CREDENTIALS_KEY holds.
const std::string sealing_key = "q1Jd8m6uQ5GYmBw1iVYbq2cL0y3f2d6m9N0kYzP3r8E=";

/// A file of the test's own, removed at the end.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& content) {
    char pattern[] = "/tmp/shopmirror-credentials-XXXXXX";
    const int fd = ::mkstemp(pattern);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fd);
    path = pattern;
  }
  ~temp_file() { std::remove(path.c_str()); }
};

/// A stand-in whose tokens last `lifetime` (every kind), and an
/// application-only key pair registered with it.
struct shop {
  crypto::signing_key key = crypto::signing_key::generate("ES256");
  std::unique_ptr<test::admin_api_stand_in> shopify;
  std::unique_ptr<temp_file> private_key;

  explicit shop(std::chrono::seconds lifetime) {
    test::admin_api_settings settings;
    settings.oauth.client_credentials_lifetime = lifetime;
    settings.oauth.assertion_lifetime = lifetime;
    settings.oauth.offline_lifetime = lifetime;
    settings.oauth.assertion_public_key = key.public_pem();
    settings.bulk_complete_at_start = true;
    shopify = std::make_unique<test::admin_api_stand_in>(settings);
    shopify->put_product(test::state_of(test::spec(1, "2026-01-01T00:00:00Z", "one")));
    private_key = std::make_unique<temp_file>(key.private_pem());
  }

  /// shopmirror's settings for `kind`, against this shop.
  test::environment env(const test::test_database& db, const std::string& kind) const {
    test::environment e = {{"SHOPMIRROR_DATABASE_URL", db.url()},
                           {"SHOPMIRROR_SHOP", test::reconcile_shop},
                           {"SHOPMIRROR_ADMIN_API_URL", shopify->base_url()},
                           {"SHOPMIRROR_ADMIN_AUTH", kind},
                           {"SHOPMIRROR_CLIENT_ID", "stand-in-client-id"},
                           {"SHOPMIRROR_CREDENTIALS_KEY", sealing_key},
                           {"SHOPMIRROR_RECONCILE_AT", "off"},
                           {"SHOPMIRROR_RECONCILE_RETRY_BASE_MS", "20"},
                           {"SHOPMIRROR_RECONCILE_TOKEN", test::reconcile_bearer},
                           {"SHOPMIRROR_REFRESH_INTERVAL_MS", "50"}};
    if (kind == "application_only") {
      e.emplace_back("SHOPMIRROR_APP_PRIVATE_KEY_FILE", private_key->path);
    } else {
      e.emplace_back("SHOPMIRROR_CLIENT_SECRET", "stand-in-client-secret");
    }
    return e;
  }
};

struct command_output {
  int status = -1;
  std::string output;
};

command_output run(std::vector<std::string> args, const test::environment& env) {
  args.insert(args.begin(), test::shopmirror_binary());
  test::child_process command(args, env);
  const auto status = command.wait(120s);
  REQUIRE(status);
  return {*status, command.output()};
}

/// Hands the stand-in's expiring offline grant to shopmirror, as an
/// operator would: Shopify's token response in a file.
void import_grant(shop& s, const test::environment& env) {
  const temp_file grant(s.shopify->oauth().install_offline_grant());
  const auto imported =
      run({"credentials", "import", "--shop", test::reconcile_shop, "--file", grant.path}, env);
  REQUIRE_MESSAGE(imported.status == 0, imported.output);
}

/// Nothing a test's shop issued or received appears in `text`.
void check_no_secret_in(const shop& s, const std::string& text, const std::string& where) {
  for (const auto& secret : s.shopify->oauth().secrets_seen()) {
    CHECK_MESSAGE(text.find(secret) == std::string::npos, "a token or assertion in " << where);
  }
  CHECK_MESSAGE(text.find("stand-in-client-secret") == std::string::npos,
                "the client secret in " << where);
  CHECK_MESSAGE(text.find(sealing_key) == std::string::npos, "the sealing key in " << where);
}

} // namespace

TEST_SUITE("e2e") {

  TEST_CASE("each credential kind keeps reconciling through a day of expiries") {
    for (const std::string kind : {"client_credentials", "application_only", "expiring_offline"}) {
      CAPTURE(kind);
      test::test_database db;
      shop s(1s); // "an hour" is a second
      const auto env = s.env(db, kind);
      if (kind == "expiring_offline") {
        import_grant(s, env);
      }
      test::service_process service(db.url(), {test::reconcile_secret}, env);
      auto client = test::local_client(service.port());
      const auto started = std::chrono::steady_clock::now();
      int succeeded = 0;
      for (int hour = 0; hour < 24; ++hour) {
        if (hour == 12) {
          // A renewal whose answer is lost on the way: for a rotating grant,
          // the refresh token it used must still work.
          s.shopify->oauth().lose_next_answer();
        }
        const auto result = test::run_through_endpoint(client, "/reconcile");
        succeeded += field(result, "status") == "succeeded" ? 1 : 0;
        CHECK_MESSAGE(field(result, "status") == "succeeded", result);
        std::this_thread::sleep_for(300ms);
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const auto counters = s.shopify->oauth().counters();
      const int grants = counters.client_credentials + counters.assertions + counters.refreshes;
      MESSAGE(kind << ": 24 runs in " << seconds << " s, " << grants << " tokens granted, "
                   << counters.lost_answers << " answer lost");
      CHECK(succeeded == 24);
      // One renewal a lifetime or so, never one a request.
      CHECK(grants >= static_cast<int>(seconds / 2));
      CHECK(grants <= static_cast<int>(seconds * 2) + 4);
      CHECK(counters.lost_answers == 1);
      CHECK(counters.refused == 0);
      CHECK(counters.stale_refresh == 0);
      CHECK(s.shopify->counters().unauthorized <= 2); // at most a token that expired in flight
      // No token, secret or assertion in a log line, a run record or /metrics.
      check_no_secret_in(s, service.process().output(), "the service's log");
      check_no_secret_in(s,
                         client
                             .request("GET", "/reconcile/runs",
                                      {{"Authorization", "Bearer " + test::reconcile_bearer}})
                             .body,
                         "the run records");
      check_no_secret_in(s, client.request("GET", "/metrics", {}).body, "/metrics");
      // At rest, every token is sealed.
      for (const auto& secret : s.shopify->oauth().secrets_seen()) {
        CHECK(db.scalar("select count(*) from shopmirror.admin_credentials where "
                        "position(convert_to('" +
                        secret +
                        "', 'UTF8') in coalesce(access_token, '') "
                        "|| coalesce(refresh_token, '')) > 0") == "0");
      }
      const auto status = run({"credentials", "status"}, env);
      CHECK(status.output.find(test::reconcile_shop + "\t" + kind + "\tactive") !=
            std::string::npos);
      check_no_secret_in(s, status.output, "credentials status");
    }
  }

  TEST_CASE("replicas share one token per shop and renew it one at a time") {
    test::test_database db;
    shop s(1s);
    const auto env = s.env(db, "expiring_offline");
    import_grant(s, env);
    test::service_process one(db.url(), {test::reconcile_secret}, env);
    test::service_process two(db.url(), {test::reconcile_secret}, env);
    for (int id = 2; id <= 40; ++id) {
      s.shopify->put_product(test::state_of(test::spec(id, "2026-01-01T00:00:00Z", "stub me")));
    }
    // Stubs to both replicas over a few token lifetimes: each replica's
    // refresh worker needs a token while the other's may be renewing.
    std::atomic<int> answered{0};
    const auto send_stubs = [&](std::uint16_t port, int first) {
      for (int id = first; id <= 40; id += 2) {
        test::send(port, "products/update", test::delete_json(id), "stub-" + std::to_string(id));
        answered.fetch_add(1);
        std::this_thread::sleep_for(120ms);
      }
    };
    std::thread a(send_stubs, one.port(), 2);
    std::thread b(send_stubs, two.port(), 3);
    a.join();
    b.join();
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (db.scalar("select count(*) from shopify.product_refresh_requests") != "0" &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(100ms);
    }
    CHECK(answered.load() == 39);
    CHECK(db.scalar("select count(*) from shopify.products where title = 'stub me'") == "39");
    const auto counters = s.shopify->oauth().counters();
    MESSAGE(counters.refreshes << " refreshes for two replicas");
    CHECK(counters.refreshes >= 2);
    // Two refreshers of one grant would have used a retired refresh token.
    CHECK(counters.stale_refresh == 0);
    CHECK(counters.refused == 0);
  }

  TEST_CASE("a 401 renews the token once and a second 401 fails the run naming shop and kind") {
    test::test_database db;
    shop s(3600s);
    const auto env = s.env(db, "client_credentials");
    CHECK(test::field(test::run_line(run({"reconcile"}, env).output), "status") == "succeeded");
    CHECK(s.shopify->oauth().counters().client_credentials == 1);

    // The token stopped working before its time: one renewal, and on.
    s.shopify->oauth().expire_access_tokens();
    CHECK(test::field(test::run_line(run({"reconcile"}, env).output), "status") == "succeeded");
    CHECK(s.shopify->oauth().counters().client_credentials == 2);

    // No token works any more: renewed once, then the run fails.
    s.shopify->oauth().refuse_all_access();
    const auto failed = run({"reconcile"}, env);
    CHECK(failed.status == 1);
    const auto line = test::run_line(failed.output);
    CHECK(field(line, "status") == "failed");
    CHECK(field(line, "error")
              .find("refused the client_credentials credentials (HTTP 401) after "
                    "they were renewed") != std::string::npos);
    CHECK(field(line, "error").find(test::reconcile_shop) != std::string::npos);
    CHECK(s.shopify->oauth().counters().client_credentials == 3);
    check_no_secret_in(s, failed.output, "the command's output");
  }

  TEST_CASE("a revoked grant fails the run with the reason and shows in the status") {
    test::test_database db;
    shop s(1s);
    const auto env = s.env(db, "expiring_offline");
    import_grant(s, env);
    CHECK(test::field(test::run_line(run({"reconcile"}, env).output), "status") == "succeeded");
    s.shopify->oauth().revoke();
    std::this_thread::sleep_for(1100ms); // the token in hand expires
    const auto failed = run({"reconcile"}, env);
    CHECK(failed.status == 1);
    const auto error = field(test::run_line(failed.output), "error");
    CHECK(error.find("the expiring_offline credentials of test-shop.myshopify.com could not be "
                     "renewed") != std::string::npos);
    CHECK(error.find("active refresh_token") != std::string::npos);
    const auto status = run({"credentials", "status"}, env);
    CHECK(status.output.find("\texpiring_offline\trefused\t") != std::string::npos);
    check_no_secret_in(s, failed.output + status.output, "the command's output");
    // A new grant handed over brings it back.
    import_grant(s, env);
    CHECK(test::field(test::run_line(run({"reconcile"}, env).output), "status") == "succeeded");
  }

  TEST_CASE("credentials commands: import refuses what is not a grant, keygen and jwk") {
    test::test_database db;
    shop s(3600s);
    const auto env = s.env(db, "expiring_offline");
    const temp_file not_a_grant(R"({"access_token":"shpat_x"})");
    const auto refused = run(
        {"credentials", "import", "--shop", test::reconcile_shop, "--file", not_a_grant.path}, env);
    CHECK(refused.status == 2);
    CHECK(refused.output.find("need access_token and refresh_token") != std::string::npos);
    CHECK(refused.output.find("shpat_x") == std::string::npos);

    const std::string key_path = "/tmp/shopmirror-keygen-" + std::to_string(::getpid());
    std::remove(key_path.c_str());
    const auto made = run({"credentials", "keygen", "--out", key_path, "--kid", "k1"}, env);
    REQUIRE(made.status == 0);
    // The public JWK, and nothing else, on its output.
    CHECK(test::field(made.output, "kty") == "EC");
    CHECK(test::field(made.output, "crv") == "P-256");
    CHECK(test::field(made.output, "kid") == "k1");
    CHECK_FALSE(test::has_field(made.output, "d")); // the private part stays in the file
    struct stat info {};
    REQUIRE(::stat(key_path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    const auto shown = run({"credentials", "jwk", "--key", key_path, "--kid", "k1"}, env);
    CHECK(shown.status == 0);
    CHECK(shown.output.find(made.output.substr(0, made.output.find('\n'))) != std::string::npos);
    // Never over an existing key.
    CHECK(run({"credentials", "keygen", "--out", key_path}, env).status == 2);
    std::remove(key_path.c_str());
  }

} // TEST_SUITE

// The deployment files other than nginx's, checked by the tools that read them.

#include "tests/support/child_process.hpp"
#include "tests/support/nginx_process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/webhooks.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

using namespace shopmirror;

TEST_SUITE("e2e") {

  TEST_CASE("the systemd unit verifies and its sandbox rates as exposed at most 2 of 10") {
    char directory[] = "/tmp/shopmirror-unit-XXXXXX";
    REQUIRE(::mkdtemp(directory) != nullptr);
    const std::string unit_path = std::string(directory) + "/shopmirror.service";
    std::string unit = test::deploy_file("systemd/shopmirror.service");
    // The installed binary path becomes the one just built; the environment
    // file (not present here) becomes optional.
    const auto at = unit.find("/usr/local/bin/shopmirror serve");
    REQUIRE(at != std::string::npos);
    unit.replace(at, std::string("/usr/local/bin/shopmirror").size(), test::shopmirror_binary());
    const auto env = unit.find("EnvironmentFile=/etc/shopmirror/env");
    REQUIRE(env != std::string::npos);
    unit.replace(env, std::string("EnvironmentFile=").size(), "EnvironmentFile=-");
    std::ofstream(unit_path) << unit;

    test::child_process verify({"/usr/bin/systemd-analyze", "verify", unit_path}, {});
    CHECK(verify.wait(std::chrono::seconds(30)) == 0);
    CHECK(verify.output().empty());
    // The threshold is in tenths: 20 is an exposure of 2.0.
    test::child_process security(
        {"/usr/bin/systemd-analyze", "security", "--offline=yes", "--threshold=20", unit_path}, {});
    CHECK(security.wait(std::chrono::seconds(30)) == 0);
    std::remove(unit_path.c_str());
    ::rmdir(directory);
  }

  TEST_CASE("the shipped Prometheus rules load and every alert's unit tests pass") {
    // promtool comes with Debian's prometheus package, which scripts/test
    // installs: without it this fails rather than passing unchecked.
    REQUIRE_MESSAGE(::access("/usr/bin/promtool", X_OK) == 0,
                    "promtool is missing: apt-get install prometheus");
    const std::string directory = std::string(SHOPMIRROR_SOURCE_DIR) + "/deploy/prometheus";
    test::child_process check({"/usr/bin/promtool", "check", "rules", directory + "/alerts.yml"},
                              {});
    CHECK_MESSAGE(check.wait(std::chrono::seconds(60)) == 0, check.output());
    // Relative to the test file, as rule_files is.
    test::child_process rules({"/bin/sh", "-c",
                               "cd \"$0\" && exec /usr/bin/promtool test rules alerts_test.yml",
                               directory},
                              {});
    const auto status = rules.wait(std::chrono::seconds(120));
    MESSAGE(rules.output());
    CHECK(status == 0);
    CHECK(rules.output().find("SUCCESS") != std::string::npos);
  }

  TEST_CASE("secrets the unit hands over through LoadCredential reach the service") {
    // As systemd does it: the credential in a directory of its own, named by
    // $CREDENTIALS_DIRECTORY; the env file names it by a relative path.
    char directory[] = "/tmp/shopmirror-credentials-XXXXXX";
    REQUIRE(::mkdtemp(directory) != nullptr);
    const std::string secret = "from-the-credentials-directory";
    std::ofstream(std::string(directory) + "/webhook-secrets") << "# rotated 2026-12\n"
                                                               << secret << "\n";
    test::test_database db;
    test::child_process service({test::shopmirror_binary(), "serve"},
                                {{"SHOPMIRROR_DATABASE_URL", db.url()},
                                 {"SHOPMIRROR_WEBHOOK_SECRETS_FILE", "webhook-secrets"},
                                 {"CREDENTIALS_DIRECTORY", directory},
                                 {"SHOPMIRROR_LISTEN", "127.0.0.1:0"}});
    const auto port = test::listening_port(service, std::chrono::seconds(20));
    REQUIRE_MESSAGE(port.has_value(), service.output());
    auto client = test::local_client(*port);
    test::signed_delivery delivery;
    delivery.webhook_id = "w-credential";
    delivery.body =
        test::product_json({77, "Seventy-seven", "2026-12-01T00:00:00Z", "", "active", {}});
    delivery.secret = secret;
    CHECK(test::post_webhook(client, delivery).status == 200);
    delivery.secret = "not-the-secret";
    delivery.webhook_id = "w-credential-forged";
    CHECK(test::post_webhook(client, delivery).status == 401);

    // A relative path without the directory is an error naming the setting.
    test::child_process without({test::shopmirror_binary(), "serve"},
                                {{"SHOPMIRROR_DATABASE_URL", db.url()},
                                 {"SHOPMIRROR_WEBHOOK_SECRETS_FILE", "webhook-secrets"},
                                 {"CREDENTIALS_DIRECTORY", ""},
                                 {"SHOPMIRROR_LISTEN", "127.0.0.1:0"}});
    CHECK(without.wait(std::chrono::seconds(20)) != 0);
    // In the JSON log line, the quotes are escaped.
    CHECK(without.output().find(
              R"(SHOPMIRROR_WEBHOOK_SECRETS_FILE=\"webhook-secrets\" cannot be read)") !=
          std::string::npos);
    service.send_signal(SIGTERM);
    service.wait(std::chrono::seconds(20));
    std::remove((std::string(directory) + "/webhook-secrets").c_str());
    ::rmdir(directory);
  }

  TEST_CASE("the README's install steps run as written into a scratch root") {
    std::ifstream readme(std::string(SHOPMIRROR_SOURCE_DIR) + "/README.md");
    REQUIRE(readme);
    std::string text((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
    const auto begin = text.find("<!-- install:begin -->");
    const auto end = text.find("<!-- install:end -->");
    REQUIRE(begin != std::string::npos);
    REQUIRE(end != std::string::npos);
    const auto code = text.find("```sh\n", begin);
    REQUIRE(code < end);
    const auto close = text.find("```", code + 6);
    const std::string block = text.substr(code + 6, close - code - 6);

    char directory[] = "/tmp/shopmirror-root-XXXXXX";
    REQUIRE(::mkdtemp(directory) != nullptr);
    const std::string root = directory;
    // Every absolute target moves below the scratch root; systemctl needs a
    // running systemd, which is not here. The binary is the one just built.
    std::string script = "set -eux\n";
    std::istringstream lines(block);
    int commands = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line.rfind("systemctl ", 0) == 0) {
        continue;
      }
      for (const std::string prefix : {" /usr/local/", " /etc/"}) {
        for (auto at = line.find(prefix); at != std::string::npos;
             at = line.find(prefix, at + root.size() + prefix.size())) {
          line.insert(at + 1, root);
        }
      }
      const std::string built = "build/release/cli/shopmirror";
      if (const auto at = line.find(built); at != std::string::npos) {
        line.replace(at, built.size(), test::shopmirror_binary());
      }
      script += line + "\n";
      ++commands;
    }
    REQUIRE(commands >= 4);
    test::child_process install({"/bin/sh", "-c", "cd \"$0\" && " + script, SHOPMIRROR_SOURCE_DIR},
                                {});
    CHECK_MESSAGE(install.wait(std::chrono::seconds(60)) == 0, install.output());

    struct stat info {};
    REQUIRE(::stat((root + "/usr/local/bin/shopmirror").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0755);
    REQUIRE(::stat((root + "/etc/shopmirror/env").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    REQUIRE(::stat((root + "/etc/shopmirror/webhook-secrets").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    const std::string unit = root + "/etc/systemd/system/shopmirror.service";
    REQUIRE(::stat(unit.c_str(), &info) == 0);

    // What landed is what the other tests check: the unit verified above.
    std::ifstream installed(unit);
    CHECK(std::string((std::istreambuf_iterator<char>(installed)),
                      std::istreambuf_iterator<char>()) ==
          test::deploy_file("systemd/shopmirror.service"));
    test::child_process cleanup({"/bin/rm", "-rf", root}, {});
    cleanup.wait(std::chrono::seconds(30));
  }
}

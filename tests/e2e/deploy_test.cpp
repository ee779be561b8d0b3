// The deployment files other than nginx's, checked by the tools that read them.

#include "tests/support/child_process.hpp"
#include "tests/support/nginx_process.hpp"

#include <doctest/doctest.h>

#include <fstream>

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
  test::child_process security({"/usr/bin/systemd-analyze", "security", "--offline=yes",
                                "--threshold=20", unit_path},
                               {});
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
  test::child_process rules({"/bin/sh", "-c", "cd \"$0\" && exec /usr/bin/promtool test rules alerts_test.yml",
                             directory},
                            {});
  const auto status = rules.wait(std::chrono::seconds(120));
  MESSAGE(rules.output());
  CHECK(status == 0);
  CHECK(rules.output().find("SUCCESS") != std::string::npos);
}

}

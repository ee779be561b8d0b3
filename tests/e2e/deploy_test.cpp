// The deployment files other than nginx's, checked by the tools that read them.

#include "tests/support/child_process.hpp"
#include "tests/support/nginx_process.hpp"

#include <doctest/doctest.h>

#include <fstream>

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

}

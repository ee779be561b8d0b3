// The status page as a real browser shows it: headless Chromium (Debian's
// `chromium`) loads GET /status/ from a running service, the test reads the
// DOM Chromium built, and a screenshot is kept for a person to look at.
//
// The token: the page answers 401 with a Basic challenge, and takes the
// token as the Basic password. That is what a person's browser does with
// it (it asks once, then sends it on every request), and Chromium answers
// the challenge with the credentials of the URL it was given
// (http://status:TOKEN@127.0.0.1:PORT/status/), so they travel only in the
// Authorization header: unlike a query parameter they are not written to
// access logs, history or a Referer. They are on Chromium's command line,
// which here is a throwaway token on a test machine.
//
// Without the chromium binary the test reports itself skipped (the CTest
// property SKIP_REGULAR_EXPRESSION, tests/CMakeLists.txt), never passed.

#include "tests/support/child_process.hpp"
#include "tests/support/status_rows.hpp"
#include "tests/support/test_database.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

using namespace shopmirror;

namespace {

/// Debian's chromium, or the one SHOPMIRROR_TEST_CHROMIUM names.
std::string chromium_path() {
  const char* other = std::getenv("SHOPMIRROR_TEST_CHROMIUM");
  return other != nullptr && *other != '\0' ? other : "/usr/bin/chromium";
}

const std::string status_token = "status-token-0123456789abcdef";

/// A directory of the test's own, removed when it goes.
class scratch_directory {
public:
  scratch_directory() {
    char pattern[] = "/tmp/shopmirror-chromium-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~scratch_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  scratch_directory(const scratch_directory&) = delete;
  scratch_directory& operator=(const scratch_directory&) = delete;
  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
};

/// Runs headless Chromium with `args` and returns what it printed, or
/// nothing if it did not finish within a minute. It runs in a session of
/// its own (setsid), so that on a timeout its whole process group (the
/// browser and the renderers it started) is killed by the browser's pid.
std::optional<std::string> run_chromium(const scratch_directory& profile,
                                        std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/setsid", chromium_path(), "--headless=new",
                                   // Chromium's sandbox refuses to run as root.
                                   "--no-sandbox", "--disable-gpu", "--no-first-run",
                                   "--disable-extensions", "--user-data-dir=" + profile.path()};
  argv.insert(argv.end(), args.begin(), args.end());
  test::child_process browser(argv, {});
  const auto status = browser.wait(std::chrono::seconds(60));
  if (!status) {
    ::kill(-browser.pid(), SIGKILL);
    return std::nullopt;
  }
  return browser.output();
}

std::string artifacts_directory() {
  std::string dir = SHOPMIRROR_TEST_ARTIFACTS;
  std::filesystem::create_directories(dir);
  return dir;
}

} // namespace

TEST_SUITE("browser") {

  TEST_CASE("the status page in headless Chromium shows each shop and marks the held sweep") {
    if (::access(chromium_path().c_str(), X_OK) != 0) {
      std::cout << "SKIPPED: " << chromium_path()
                << " is not installed (Debian package chromium, in TEST_PACKAGES)\n";
      return;
    }
    test::test_database db;
    const auto shops = test::seed_status_rows(db);
    test::service_process service(db.url(), {"status-secret"},
                                  {{"SHOPMIRROR_STATUS_TOKEN", status_token}});
    const std::string page = "http://127.0.0.1:" + std::to_string(service.port()) + "/status/";
    const std::string with_token = "http://status:" + status_token +
                                   "@127.0.0.1:" + std::to_string(service.port()) + "/status/";
    scratch_directory profile;

    // Without the token the browser gets no status (headless, it cannot ask
    // for the password, and shows nothing).
    const auto refused = run_chromium(profile, {"--dump-dom", page});
    REQUIRE_MESSAGE(refused, "chromium did not finish within a minute");
    CHECK(refused->find("<h1>shopmirror status</h1>") == std::string::npos);
    CHECK(refused->find(shops.busy) == std::string::npos);

    const auto dom = run_chromium(profile, {"--dump-dom", with_token});
    REQUIRE_MESSAGE(dom, "chromium did not finish within a minute");
    CAPTURE(*dom);
    CHECK(dom->find("<h1>shopmirror status</h1>") != std::string::npos);
    CHECK(dom->find("<h2>" + shops.busy) != std::string::npos);
    CHECK(dom->find("<h2>" + shops.quiet) != std::string::npos);
    CHECK(dom->find("<tr class=\"held\">") != std::string::npos);
    CHECK(dom->find("<strong class=\"held\">HELD (sweep of 40)</strong>") != std::string::npos);
    CHECK(dom->find("<tr class=\"failed\">") != std::string::npos);
    // The error that holds markup is text in the DOM: no element came of it.
    CHECK(dom->find("&lt;script&gt;alert('x')&lt;/script&gt; &amp; gave up") != std::string::npos);
    CHECK(dom->find("<script") == std::string::npos);

    const std::string screenshot = artifacts_directory() + "/status-page.png";
    std::filesystem::remove(screenshot);
    const auto shot = run_chromium(profile, {"--screenshot=" + screenshot, "--window-size=1200,900",
                                             "--hide-scrollbars", with_token});
    REQUIRE_MESSAGE(shot, "chromium did not finish within a minute");
    REQUIRE(std::filesystem::exists(screenshot));
    std::ifstream png(screenshot, std::ios::binary);
    std::string signature(8, '\0');
    png.read(signature.data(), 8);
    CHECK(signature == "\x89PNG\r\n\x1a\n");
    CHECK(std::filesystem::file_size(screenshot) > 10'000); // a page, not a blank
    std::cout << "status page screenshot: " << screenshot << "\n";
  }

} // TEST_SUITE

// The project's words point somewhere: every repository path that a source
// file, script, migration or document names exists, and every README
// section that a comment cites is a section of the README. A file moved or
// renamed without its citations fails here, not in a reader's hands.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path root = SHOPMIRROR_SOURCE_DIR;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool is_text_source(const fs::path& path) {
  static const std::set<std::string> extensions = {
      ".cpp",  ".hpp",   ".in",  ".sql",     ".sh",      ".md",  ".yml",
      ".conf", ".cmake", ".txt", ".service", ".example", ".toml"};
  const std::string name = path.filename().string();
  return extensions.count(path.extension().string()) != 0 || name == "Dockerfile" ||
         path.parent_path().filename() == "scripts" || path.parent_path().filename() == ".ci";
}

/// Every text file of the project: not the build trees, the fuzzers' inputs
/// or the test fixtures (Shopify's documents, which cite nothing of ours).
std::vector<fs::path> project_files() {
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path relative = fs::relative(it->path(), root);
    const std::string first = relative.begin()->string();
    if (it->is_directory() && (first == "build" || first == ".git" || relative == "fuzz/corpus" ||
                               relative == "fuzz/regressions" || relative == "tests/fixtures" ||
                               first.rfind("build", 0) == 0)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_text_source(it->path())) {
      files.push_back(it->path());
    }
  }
  return files;
}

/// The project's top-level directories: a cited path starts with one.
std::string top_level_pattern() {
  std::string alternatives;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name != ".git" && name.rfind("build", 0) != 0) {
      alternatives += (alternatives.empty() ? "" : "|") +
                      std::regex_replace(name, std::regex(R"(\.)"), R"(\.)");
    }
  }
  return alternatives;
}

} // namespace

TEST_SUITE("docs") {

  TEST_CASE("every repository path the project names exists") {
    // A path under a top-level directory: not part of a URL or of a longer
    // path (`/admin/api/...`), and not a placeholder (`<id>`, `{version}`).
    const std::regex cited("(^|[^A-Za-z0-9_./<>{}-])((" + top_level_pattern() +
                           R"()/[A-Za-z0-9_./-]*)(?=$|[^A-Za-z0-9_<>{}-]))");
    const auto files = project_files();
    REQUIRE(files.size() > 100);
    std::size_t citations = 0;
    std::vector<std::string> missing;
    for (const auto& file : files) {
      const std::string text = read(file);
      for (auto m = std::sregex_iterator(text.begin(), text.end(), cited);
           m != std::sregex_iterator(); ++m) {
        std::string path = (*m)[2].str();
        // Media types (the `text/` library shares their first word), and the
        // placeholders of a naming rule (`db/migrations/NNNN_name.sql`).
        if (std::regex_search(path, std::regex("^text/(plain|html|css|csv|xml)")) ||
            path.find("NNNN") != std::string::npos) {
          continue;
        }
        while (!path.empty() && (path.back() == '.' || path.back() == '/')) {
          path.pop_back(); // the end of a sentence, or a directory's slash
        }
        ++citations;
        // A file, a directory, or a pair of sources named without extension
        // (`tests/support/shopify_simulator`).
        const bool found = fs::exists(root / path) || fs::exists(file.parent_path() / path) ||
                           fs::exists(root / (path + ".hpp")) || fs::exists(root / (path + ".cpp"));
        if (!found) {
          missing.push_back(fs::relative(file, root).string() + " names " + path);
        }
      }
    }
    MESSAGE(citations << " citations in " << files.size() << " files");
    CHECK(citations > 200);
    for (const auto& line : missing) {
      FAIL_CHECK(line);
    }
  }

  TEST_CASE("every README section a comment cites is one") {
    const std::string readme = read(root / "README.md");
    std::set<std::string> sections;
    const std::regex heading(R"((^|\n)#+ ([^\n]+))");
    for (auto m = std::sregex_iterator(readme.begin(), readme.end(), heading);
         m != std::sregex_iterator(); ++m) {
      sections.insert((*m)[2].str());
    }
    // A bold paragraph's lead (`**Rotating the webhook secret.**`) is cited
    // like a heading.
    const std::regex lead(R"(\*\*([A-Z][^*\n]+?)\.?\*\*)");
    for (auto m = std::sregex_iterator(readme.begin(), readme.end(), lead);
         m != std::sregex_iterator(); ++m) {
      sections.insert((*m)[1].str());
    }
    REQUIRE(sections.count("Performance") == 1);
    // The forms in use: README, "A section"; README "A section"; README, Word.
    const std::regex cited(R"re(README,? "([^"\n]+)"|README, ([A-Z][a-z]+))re");
    std::size_t citations = 0;
    for (const auto& file : project_files()) {
      if (file.extension() == ".md" || file.filename() == "citations_test.cpp") {
        continue;
      }
      const std::string text = read(file);
      for (auto m = std::sregex_iterator(text.begin(), text.end(), cited);
           m != std::sregex_iterator(); ++m) {
        const std::string section = (*m)[1].matched ? (*m)[1].str() : (*m)[2].str();
        ++citations;
        if (sections.count(section) == 0) {
          FAIL_CHECK(fs::relative(file, root).string() << " cites README section \"" << section
                                                       << "\", which the README does not have");
        }
      }
    }
    CHECK(citations > 10);
  }

} // TEST_SUITE

// The command line every command shares (pure).

#include "cli/command_line.hpp"

#include <doctest/doctest.h>

using namespace shopmirror::cli;

namespace {

const command_spec sample{
    .name = "sample",
    .usage = "usage: shopmirror sample list|replay [--all] [--shop DOMAIN] [ID...]\n",
    .flags = {"--all"},
    .valued = {"--shop"},
    .subcommands = {"list", "replay"},
    .max_operands = 2,
};

parse_outcome parse(std::vector<std::string> words) {
  return parse_arguments(sample, words);
}

} // namespace

TEST_SUITE("cli") {

  TEST_CASE("a command's words: subcommand, options with and without values, operands") {
    const auto read = parse({"replay", "--all", "--shop", "a.myshopify.com", "7", "--shop=b", "8"});
    CHECK_FALSE(read.help);
    CHECK(read.error.empty());
    CHECK(read.args.subcommand == "replay");
    CHECK(read.args.has("--all"));
    CHECK(read.args.value_or("--shop", "") == "b"); // the last one wins
    CHECK(read.args.operands == std::vector<std::string>{"7", "8"});
    CHECK(read.args.value_or("--missing", "fallback") == "fallback");
  }

  TEST_CASE("--help or -h anywhere is help, even beside a mistake") {
    CHECK(parse({"--help"}).help);
    CHECK(parse({"list", "-h"}).help);
    CHECK(parse({"--bogus", "--help"}).help);
    // Not swallowed as the value of an option.
    CHECK(parse({"list", "--shop", "--help"}).help);
    // After --, it is an operand.
    const auto operand = parse({"replay", "--", "--help"});
    CHECK_FALSE(operand.help);
    CHECK(operand.args.operands == std::vector<std::string>{"--help"});
  }

  TEST_CASE("mistakes say what is wrong") {
    CHECK(parse({"list", "--bogus"}).error.find("unknown option \"--bogus\"") != std::string::npos);
    CHECK(parse({"list", "--shop"}).error.find("--shop needs a value") != std::string::npos);
    CHECK(parse({"list", "--all=yes"}).error.find("unknown option") != std::string::npos);
    CHECK(parse({"burn"}).error.find("unknown subcommand \"burn\"") != std::string::npos);
    CHECK(parse({}).error.find("needs a subcommand: list|replay") != std::string::npos);
    CHECK(parse({"replay", "1", "2", "3"}).error.find("unexpected argument \"3\"") !=
          std::string::npos);
    const command_spec one_file{.name = "one", .usage = "", .min_operands = 1, .max_operands = 1};
    CHECK(parse_arguments(one_file, {}).error.find("missing argument") != std::string::npos);
    CHECK(parse_arguments(one_file, {"-"}).error.empty()); // '-' is standard input, an operand
  }

  TEST_CASE("every command has a spec whose usage starts with its own name") {
    for (const char* name : {"serve", "migrate", "check", "health", "reconcile", "credentials",
                             "subscriptions", "send", "prune", "dead-letters", "version"}) {
      const command_spec* spec = find_command(name);
      REQUIRE_MESSAGE(spec != nullptr, name);
      CHECK(spec->usage.rfind("usage: shopmirror " + std::string(name), 0) == 0);
      CHECK(parse_arguments(*spec, {"--help"}).help);
    }
    CHECK(find_command("nonsense") == nullptr);
  }

  TEST_CASE("a program's numbers are checked, and a mistake names the option") {
    const command_spec bench{
        .name = "",
        .usage = "usage: bench --url U [--runs N] [--share X]\n",
        .valued = {"--url", "--runs", "--share"},
        .program = "bench",
    };
    const auto read = [&](std::vector<std::string> words) {
      return parse_arguments(bench, words).args;
    };
    CHECK(read({"--runs", "12"}).integer_or("--runs", 5, 1, 100) == 12);
    CHECK(read({}).integer_or("--runs", 5, 1, 100) == 5);
    CHECK(read({"--share", "0.25"}).number_or("--share", 1, 0) == 0.25);
    CHECK(read({"--url", "x"}).required("--url") == "x");
    for (const std::string bad : {"0", "101", "1.5", "12x", "", "-3"}) {
      CAPTURE(bad);
      CHECK_THROWS_AS(read({"--runs", bad}).integer_or("--runs", 5, 1, 100), argument_error);
    }
    CHECK(read({"--runs", "100,1000,2048"}).counts_or("--runs", {5}, 2048) ==
          std::vector<std::int64_t>{100, 1000, 2048});
    CHECK(read({}).counts_or("--runs", {5}, 2048) == std::vector<std::int64_t>{5});
    for (const std::string bad : {"", "1,,2", "1,", ",1", "0", "2049", "1,x", "1.5"}) {
      CAPTURE(bad);
      CHECK_THROWS_AS(read({"--runs", bad}).counts_or("--runs", {5}, 2048), argument_error);
    }
    CHECK_THROWS_AS(read({"--share", "-1"}).number_or("--share", 1, 0), argument_error);
    CHECK_THROWS_AS(read({"--share", "half"}).number_or("--share", 1, 0), argument_error);
    CHECK_THROWS_WITH_AS(read({}).required("--url"), "--url is required", argument_error);
    CHECK(parse_arguments(bench, {"--nope"}).error.rfind("bench: unknown option", 0) == 0);

    std::vector<std::string> words = {"bench", "--runs", "7"};
    std::vector<char*> argv;
    for (auto& word : words) {
      argv.push_back(word.data());
    }
    int seen = 0;
    const auto body = [&](const arguments& args) {
      seen = static_cast<int>(args.integer_or("--runs", 0, 1, 100));
      return 0;
    };
    CHECK(run_program(bench, 3, argv.data(), body) == 0);
    CHECK(seen == 7);
    words[2] = "700"; // out of range: a mistake, exit status 2
    argv[2] = words[2].data();
    CHECK(run_program(bench, 3, argv.data(), body) == 2);
  }
} // TEST_SUITE

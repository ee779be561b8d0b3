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

} // TEST_SUITE

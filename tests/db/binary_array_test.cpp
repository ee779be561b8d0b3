// Binary arrays are how every batch reaches PostgreSQL: whatever a product
// holds must come back out of the array unchanged, and a value that does
// not fit its column must be refused before it is sent.

#include "db/binary_array.hpp"
#include "model/timestamp.hpp"
#include "tests/support/test_database.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace shopmirror;

namespace {

// The rows of `select ... from unnest($1::type) with ordinality` over one
// array sent as a binary parameter, each element as text (null as "NULL").
std::vector<std::string> round_trip(const test::test_database& db, const std::string& type,
                                    const std::string& element_sql, db::binary_array& array) {
  pqxx::connection connection(db.url());
  pqxx::work tx(connection);
  const std::string bytes = array.take();
  const pqxx::binarystring parameter(bytes.data(), bytes.size());
  const auto rows = tx.exec_params("select " + element_sql + " from unnest($1::" + type +
                                       ") with ordinality as t(v, n) order by n",
                                   parameter);
  std::vector<std::string> out;
  for (const auto& row : rows) {
    out.push_back(row[0].is_null() ? "NULL" : row[0].as<std::string>());
  }
  return out;
}

} // namespace

TEST_SUITE("db") {

  TEST_CASE("text arrays round-trip through PostgreSQL whatever the text holds") {
    test::test_database db;
    const std::vector<std::string> values = {
        "",
        "plain",
        "\"",
        "\\",
        "\\\"",
        "ends with a backslash\\",
        "\"quoted\" and \\escaped\\ and {braces}, commas, NULL",
        "NULL",
        "{\"admin_graphql_api_id\":\"gid:\\/\\/shopify\\/Product\\/1\",\"title\":\"Tee "
        "\\\"v2\\\"\"}",
        "multi-byte: Grüße, 日本語, 🙂",
        std::string(5000, '"'),
        std::string(300000, 'x'),
        "a\nb\tc"};
    db::binary_array array(db::pg_element::text);
    for (const auto& value : values) {
      array.add(value);
    }
    array.add_null();
    REQUIRE(array.size() == values.size() + 1);
    std::vector<std::string> expected = values;
    expected.push_back("NULL");
    CHECK(round_trip(db, "text[]", "v", array) == expected);
    // The builder starts over after take().
    CHECK(array.size() == 0);
    array.add("again");
    CHECK(round_trip(db, "text[]", "v", array) == std::vector<std::string>{"again"});
  }

  TEST_CASE("integer, timestamp, bytea and empty arrays round-trip exactly") {
    test::test_database db;
    db::binary_array big(db::pg_element::int8);
    for (const std::int64_t v :
         {std::int64_t{0}, std::int64_t{-1}, std::int64_t{9007199254740993},
          std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}) {
      big.add(v);
    }
    big.add_null();
    CHECK(round_trip(db, "bigint[]", "v::text", big) ==
          std::vector<std::string>{"0", "-1", "9007199254740993", "9223372036854775807",
                                   "-9223372036854775808", "NULL"});

    db::binary_array small(db::pg_element::int4);
    small.add(std::int64_t{2147483647});
    small.add(std::int64_t{-2147483648LL});
    small.add(std::int64_t{1023});
    CHECK(round_trip(db, "int[]", "v::text", small) ==
          std::vector<std::string>{"2147483647", "-2147483648", "1023"});

    // Before and after PostgreSQL's epoch (2000), with microseconds.
    db::binary_array times(db::pg_element::timestamptz);
    for (const char* text :
         {"2026-01-02T03:04:05.123456Z", "1999-12-31T23:59:59.999999Z", "2000-01-01T00:00:00Z",
          "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"}) {
      times.add(*model::parse_rfc3339(text));
    }
    CHECK(round_trip(db, "timestamptz[]",
                     "to_char(v at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", times) ==
          std::vector<std::string>{"2026-01-02T03:04:05.123456Z", "1999-12-31T23:59:59.999999Z",
                                   "2000-01-01T00:00:00.000000Z", "1970-01-01T00:00:00.000000Z",
                                   "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"});

    // Every byte value, NUL included: dead letters keep any body.
    std::string every_byte;
    for (int b = 0; b < 256; ++b) {
      every_byte += static_cast<char>(b);
    }
    db::binary_array bytes(db::pg_element::bytea);
    bytes.add(every_byte);
    bytes.add("");
    CHECK(round_trip(db, "bytea[]", "encode(v, 'hex')", bytes) ==
          std::vector<std::string>{
              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728"
              "292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f5051"
              "52535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a"
              "7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3"
              "a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcc"
              "cdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5"
              "f6f7f8f9fafbfcfdfeff",
              ""});

    db::binary_array none(db::pg_element::text);
    CHECK(round_trip(db, "text[]", "v", none).empty());
    // Numeric columns travel as text and are cast by the statement.
    db::binary_array prices(db::pg_element::text);
    prices.add("10.10");
    prices.add("-0.5");
    prices.add_null();
    CHECK(round_trip(db, "text[]::numeric[]", "v::text", prices) ==
          std::vector<std::string>{"10.10", "-0.5", "NULL"});
  }

  TEST_CASE("a value that does not fit its array is refused before it is sent") {
    db::binary_array ids(db::pg_element::int4);
    CHECK_THROWS_AS(ids.add(std::int64_t{2147483648LL}), std::logic_error);
    CHECK_THROWS_AS(ids.add("text"), std::logic_error);
    CHECK_THROWS_AS(ids.add(model::timestamp{}), std::logic_error);
    db::binary_array text(db::pg_element::text);
    CHECK_THROWS_AS(text.add(std::int64_t{1}), std::logic_error);
    CHECK(text.size() == 0); // nothing half-added
  }
}

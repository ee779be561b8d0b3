// Array literals are how every batch reaches PostgreSQL: whatever a product
// holds must come back out of the array unchanged.

#include "db/array_literal.hpp"
#include "tests/support/test_database.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <string>
#include <vector>

using namespace shopmirror;

TEST_SUITE("db") {

TEST_CASE("text array literals round-trip through PostgreSQL whatever the text holds") {
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
      "{\"admin_graphql_api_id\":\"gid:\\/\\/shopify\\/Product\\/1\",\"title\":\"Tee \\\"v2\\\"\"}",
      "multi-byte: Grüße, 日本語, 🙂",
      std::string(5000, '"'),
      "a\nb\tc"};
  db::array_literal literal;
  for (const auto& value : values) {
    literal.add(value);
  }
  literal.add_null();
  pqxx::connection connection(db.url());
  pqxx::work tx(connection);
  const auto rows = tx.exec_params("select v from unnest($1::text[]) with ordinality as t(v, n) "
                                   "order by n",
                                   literal.take());
  REQUIRE(rows.size() == values.size() + 1);
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i);
    CHECK(rows[i][0].as<std::string>() == values[i]);
  }
  CHECK(rows[values.size()][0].is_null());
}

}

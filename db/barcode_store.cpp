#include "db/barcode_store.hpp"

#include "db/binary_array.hpp"
#include "db/errors.hpp"
#include "db/pg_session.hpp"

#include <pqxx/pqxx>

namespace shopmirror::db {
namespace {

constexpr const char* put_statement = "shopmirror_put_barcodes";
// Must match the signature of shopify.put_barcodes (0010_barcodes.sql).
constexpr const char* put_sql = "select written, unmatched from shopify.put_barcodes("
                                "$1::text, $2::timestamptz, $3::bigint[], $4::text[])";

} // namespace

barcode_store::barcode_store(db_settings settings)
    : session_(std::make_unique<pg_session>(
          std::move(settings), std::vector<prepared_statement>{{put_statement, put_sql}})) {}

barcode_store::~barcode_store() = default;

barcodes_written barcode_store::put(const std::string& shop, model::timestamp listed_at,
                                    std::span<const model::variant_barcodes> variants) {
  if (variants.empty()) {
    return {};
  }
  binary_array ids(pg_element::int8);
  binary_array codes(pg_element::text);
  for (const auto& variant : variants) {
    ids.add(variant.variant_id);
    codes.add(model::barcodes_json(variant.barcodes));
  }
  const std::vector<std::string> values{shop, binary_timestamptz(listed_at), ids.take(),
                                        codes.take()};
  try {
    pqxx::nontransaction tx(session_->connection());
    const pqxx::row row = exec_binary(tx, put_statement, values).at(0);
    return {static_cast<std::int64_t>(variants.size()), row[0].as<std::int64_t>(),
            row[1].as<std::int64_t>()};
  } catch (...) {
    if (classify_current_exception().kind == failure_kind::connection_lost) {
      session_->reset();
    }
    rethrow_as_database_error("writing listed barcodes");
  }
}

} // namespace shopmirror::db

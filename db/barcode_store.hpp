#pragma once

#include "db/settings.hpp"
#include "model/timestamp.hpp"
#include "model/variant_barcodes.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace shopmirror::db {

class pg_session;

/// What writing listed barcodes did: rows written because they differed,
/// and listed variants the mirror does not have (skipped).
struct barcodes_written {
  std::int64_t listed = 0;
  std::int64_t written = 0;
  std::int64_t unmatched = 0;

  barcodes_written& operator+=(const barcodes_written& other) {
    listed += other.listed;
    written += other.written;
    unmatched += other.unmatched;
    return *this;
  }
};

/// The variants' barcodes as a listing showed them
/// (shopify.variant_barcodes, 0010_barcodes.sql), over a connection of its
/// own. Not thread-safe. Throws db::database_error on database trouble.
class barcode_store {
public:
  explicit barcode_store(db_settings settings);
  ~barcode_store();
  barcode_store(const barcode_store&) = delete;
  barcode_store& operator=(const barcode_store&) = delete;

  /// Writes a batch of one shop's listed barcodes, observed at `listed_at`,
  /// in one statement: what differs is replaced, the rest left alone.
  barcodes_written put(const std::string& shop, model::timestamp listed_at,
                       std::span<const model::variant_barcodes> variants);

private:
  std::unique_ptr<pg_session> session_;
};

} // namespace shopmirror::db

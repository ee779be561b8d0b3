#pragma once

#include "db/errors.hpp"
#include "db/product_columns.hpp"
#include "db/settings.hpp"
#include "model/delivery.hpp"

#include <memory>
#include <span>
#include <vector>

namespace shopmirror::db {

class pg_session;

/// The parameters of the apply statement for a batch, in the order of
/// shopify.apply_deliveries' arguments and in PostgreSQL's binary format
/// (each is sent as a binary parameter), with the record types of the
/// database it goes to (lookup_input_types). What delivery_store sends;
/// exposed for tests that run the statement inside a transaction of their
/// own.
std::vector<std::string> apply_parameters(std::span<const model::delivery_item> items,
                                          input_types types);

/// The text of the apply statement (placeholders $1..$14).
const char* apply_statement_sql() noexcept;

/// Applies batches of deliveries over one connection of its own: the apply
/// path (docs/ARCHITECTURE.md). Not thread-safe: one store per thread.
class delivery_store {
public:
  explicit delivery_store(db_settings settings);
  ~delivery_store();
  delivery_store(const delivery_store&) = delete;
  delivery_store& operator=(const delivery_store&) = delete;

  /// Applies the batch in one transaction and returns one outcome per item,
  /// in order. Never throws for database trouble: a lost or slow database
  /// yields retry_later for every item; an item the database refuses is
  /// isolated and kept as a dead letter, and its neighbours still apply.
  std::vector<model::apply_outcome> apply(std::span<const model::delivery_item> items);

  bool connected() const noexcept;

private:
  std::vector<model::apply_outcome> apply_isolating(std::span<const model::delivery_item> items,
                                                    int attempt);
  std::vector<model::apply_outcome> call(std::span<const model::delivery_item> items);
  std::vector<model::apply_outcome> without_heaviest(std::span<const model::delivery_item> items);
  /// Each item in a batch of its own, after the batch failed.
  std::vector<model::apply_outcome> each_alone(std::span<const model::delivery_item> items);
  /// One item that failed on its own: a locked row is retried later, refused
  /// data becomes a dead letter, anything else fails it.
  std::vector<model::apply_outcome> refused_alone(const model::delivery_item& item,
                                                  const failure& f);
  input_types types_;
  std::unique_ptr<pg_session> session_;
};

} // namespace shopmirror::db

#pragma once

#include "db/settings.hpp"
#include "model/delivery.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shopmirror::db {

/// Deletes delivery-log rows received more than `retention` ago, in batches
/// so that no transaction grows large. Holds an advisory lock meanwhile, so
/// replicas do not prune at the same time (one that finds it taken returns
/// nullopt). Returns the number of rows deleted. Throws db::database_error
/// (db/errors.hpp) when the database cannot be reached or refuses.
std::optional<std::uint64_t> prune_deliveries(const db_settings& settings,
                                              std::chrono::seconds retention);

/// One row of shopify.dead_letters.
struct dead_letter_record {
  std::int64_t id = 0;
  model::delivery meta;
  std::string reason;
  std::string body;
  std::optional<std::string> replayed_at;
  std::optional<std::string> replay_outcome;
};

// The functions below throw db::database_error like prune_deliveries.

/// Dead letters, oldest first: all of them, or only those not replayed yet;
/// with `ids`, just those.
std::vector<dead_letter_record> load_dead_letters(const db_settings& settings,
                                                  bool include_replayed,
                                                  const std::vector<std::int64_t>& ids,
                                                  std::size_t limit);

/// Records what replaying a dead letter came to.
void mark_replayed(const db_settings& settings, std::int64_t id, std::string_view outcome);

} // namespace shopmirror::db

#pragma once

#include "db/reconcile_store.hpp"
#include "ingest/http_types.hpp"
#include "reconcile/coordinator.hpp"

#include <string>

namespace shopmirror::ingest {

/// True if the request carries `Authorization: Bearer <token>` (constant-time).
bool bearer_matches(const http_request& request, const std::string& token);

/// Answers `POST /reconcile[?shop=&mode=&since=&dry_run=]` (202 with the run
/// ids) and `GET /reconcile/runs[/ID]` (JSON), after the bearer check. Makes
/// database round trips: call it off the I/O threads.
http_response answer_reconcile(const http_request& request, reconcile::coordinator& coordinator,
                               const db::db_settings& database);

/// A run as JSON, as the endpoint and `shopmirror reconcile` print it.
std::string run_json(const db::run_record& run);

} // namespace shopmirror::ingest

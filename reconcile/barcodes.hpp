#pragma once

// The barcodes step of a reconcile run: variants' barcodes (API 2026-10)
// are only in the GraphQL Admin API and nest too deep to come with the
// products, so a run lists them on their own after its products are
// applied, and writes the ones that changed (db/barcode_store.hpp).

#include "db/reconcile_store.hpp"
#include "db/settings.hpp"
#include "reconcile/admin_api.hpp"
#include "reconcile/cancel.hpp"
#include "reconcile/settings.hpp"

#include <string_view>

namespace shopmirror::reconcile {

/// Whether an Admin API version has `ProductVariant.barcodes`: 2026-10 and
/// later, and `unstable`.
bool has_barcodes(std::string_view api_version) noexcept;

/// Lists the shop's barcodes the way the run lists its products (bulk: a
/// bulk operation over productVariants; paginated: productVariants pages;
/// since: those pages, filtered the same way) and writes them. Never
/// throws but `cancelled`: barcodes are an addition to the mirror, and a
/// failure to list them is logged (`reconcile_barcodes_failed`) without
/// failing the run, whose products and sweep stand on their own. Does
/// nothing for a dry run or an API version without barcodes.
void reconcile_barcodes(admin_api& api, const reconcile_settings& settings,
                        const db::db_settings& database, const db::run_record& run,
                        cancel_token& cancel);

} // namespace shopmirror::reconcile

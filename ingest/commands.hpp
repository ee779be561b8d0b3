#pragma once

#include "ingest/config.hpp"

#include <string>
#include <vector>

namespace shopmirror::ingest {

/// `shopmirror serve`: the webhook service, until SIGTERM or SIGINT.
int run_serve(const config& settings);

/// `shopmirror migrate`: brings the schema up to date and exits.
int run_migrate(const config& settings);

/// `shopmirror prune`: deletes delivery-log rows older than the retention.
int run_prune(const config& settings);

/// `shopmirror dead-letters list|replay`: `args` are the words after it.
int run_dead_letters(const config& settings, const std::vector<std::string>& args);

/// `shopmirror reconcile [--since TIME] [--dry-run] [--mode M] [--shop D]`:
/// one run of each configured shop (or the one named), to the end; prints
/// each run as a JSON line. `args` are the words after `reconcile`.
int run_reconcile(const config& settings, const std::vector<std::string>& args);

/// `shopmirror credentials import|status|keygen|jwk`: the Admin API
/// credentials that renew themselves. `args` are the words after it.
int run_credentials(const config& settings, const std::vector<std::string>& args);

/// `shopmirror subscriptions check|sync [--shop D] [--dry-run]`: the webhook
/// subscriptions the mirror needs. `args` are the words after it.
int run_subscriptions(const config& settings, const std::vector<std::string>& args);

/// `shopmirror status [--shop D] [--json]`: each shop's health from the
/// database, as a table or JSON. `args` are the words after `status`.
int run_status(const config& settings, const std::vector<std::string>& args);

/// `shopmirror send [options] FILE`: signs a payload and posts it the way
/// Shopify does. `args` are the words after `send`.
int run_send(const config& settings, const std::vector<std::string>& args);

} // namespace shopmirror::ingest

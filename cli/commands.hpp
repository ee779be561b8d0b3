#pragma once

#include "cli/command_line.hpp"
#include "cli/config.hpp"

#include <string>
#include <vector>

namespace shopmirror::cli {

/// `shopmirror serve`: the webhook service, until SIGTERM or SIGINT.
int run_serve(const config& settings);

/// `shopmirror migrate`: brings the schema up to date and exits.
int run_migrate(const config& settings);

/// `shopmirror check`: the settings, the database, its schema and each
/// shop's Admin API and webhook subscriptions, one line each. Reads the
/// settings itself, so that a bad one is a line of the report.
int run_check();

/// `shopmirror health [--url URL]`: 0 when the service's /readyz answers
/// ready, 1 otherwise. Reads no setting but SHOPMIRROR_LISTEN.
int run_health(const std::vector<std::string>& args);

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

} // namespace shopmirror::cli

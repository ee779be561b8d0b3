#pragma once

#include "ingest/config.hpp"

#include <string>
#include <vector>

namespace shopmirror::ingest {

/// `shopmirror serve`: the webhook service, until SIGTERM or SIGINT.
int run_serve(const config& settings);

/// `shopmirror migrate`: brings the schema up to date and exits.
int run_migrate(const config& settings);

/// `shopmirror send [options] FILE`: signs a payload and posts it the way
/// Shopify does. `args` are the words after `send`.
int run_send(const config& settings, const std::vector<std::string>& args);

} // namespace shopmirror::ingest

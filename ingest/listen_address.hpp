#pragma once

#include <cstdint>
#include <string>

namespace shopmirror::ingest {

/// Where the HTTP server listens: the server's setting, and what
/// SHOPMIRROR_LISTEN is read into.
struct listen_address {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
};

} // namespace shopmirror::ingest

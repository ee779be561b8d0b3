#pragma once

// The HTTP vocabulary of ingest/: Beast's message types, named once.

#include <boost/beast/http.hpp>

#include <chrono>
#include <string>

namespace shopmirror::ingest {

namespace http = boost::beast::http;

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;
using http_header = http::request_header<>;

/// What the server knows about a request besides the message itself.
struct request_context {
  std::string client_address;
  std::string request_id;
  std::chrono::steady_clock::time_point started;
};

/// A response with a body and content type, keep-alive left to the server.
http_response make_response(http::status status, std::string body,
                            std::string_view content_type = "application/json");

} // namespace shopmirror::ingest

#pragma once

// The HTTP vocabulary of ingest/: Beast's message types, named once.

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>
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

/// Refuses the framing Beast's parser lets through but HTTP/1.1 does not
/// allow a server to guess at (RFC 9112 6.1): a Transfer-Encoding whose last
/// coding is not chunked leaves the body length unknown (400; Beast reads it
/// as "no body", and the body's bytes would be taken for the next request:
/// request smuggling), and a coding besides chunked is one we do not decode
/// (501). The connection is closed after the answer. `chunked` is what the
/// parser made of the header. Pure.
std::optional<http_response> answer_for_framing(const http_header& header, bool chunked);

/// What a client gets for a request that could not be read: a limit it
/// broke (413, 431) or a malformed message (400) is answered; a timeout or a
/// closed connection is not (there is nobody left to read an answer). Pure.
std::optional<http_response> answer_for_read_error(const boost::beast::error_code& ec);

/// 413, for a body over the route's limit.
http_response body_over_the_limit();

/// A response to HEAD is the header a GET would get, without the body: a
/// client reading it would otherwise take the body for the next response.
/// Call after prepare_payload, so that Content-Length stays.
void omit_body_for_head(http_response& response, http::verb method);

} // namespace shopmirror::ingest

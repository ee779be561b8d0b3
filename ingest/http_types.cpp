#include "ingest/http_types.hpp"

#include "ingest/json_writer.hpp"

namespace shopmirror::ingest {

http_response make_response(http::status status, std::string body, std::string_view content_type) {
  http_response response{status, 11};
  response.set(http::field::server, "shopmirror");
  if (!body.empty()) {
    response.set(http::field::content_type, content_type);
  }
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

std::optional<http_response> answer_for_framing(const http_header& header, bool chunked) {
  const auto codings = header.equal_range(http::field::transfer_encoding);
  if (codings.first == codings.second) {
    return std::nullopt;
  }
  if (!chunked) {
    return make_response(http::status::bad_request,
                         json_error("Transfer-Encoding must end with chunked"));
  }
  for (auto it = codings.first; it != codings.second; ++it) {
    for (const auto coding : http::token_list(it->value())) {
      if (!boost::beast::iequals(coding, "chunked")) {
        return make_response(http::status::not_implemented,
                             json_error("no transfer coding but chunked"));
      }
    }
  }
  return std::nullopt;
}

std::optional<http_response> answer_for_read_error(const boost::beast::error_code& ec) {
  if (ec == http::error::header_limit) {
    return make_response(http::status::request_header_fields_too_large,
                         json_error("headers too large"));
  }
  if (ec == http::error::body_limit) {
    return body_over_the_limit();
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return make_response(http::status::bad_request, json_error("malformed request"));
  }
  return std::nullopt;
}

http_response body_over_the_limit() {
  return make_response(http::status::payload_too_large, json_error("body over the limit"));
}

void omit_body_for_head(http_response& response, http::verb method) {
  if (method == http::verb::head) {
    response.body().clear();
  }
}

} // namespace shopmirror::ingest

#include "ingest/http_types.hpp"

namespace shopmirror::ingest {

http_response make_response(http::status status, std::string body,
                            std::string_view content_type) {
  http_response response{status, 11};
  response.set(http::field::server, "shopmirror");
  if (!body.empty()) {
    response.set(http::field::content_type, content_type);
  }
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

} // namespace shopmirror::ingest

#pragma once

// The shops' health, read from the database by db::read_status, in the
// three forms it is shown: JSON (`shopmirror status --json`, GET /status),
// a terminal table (`shopmirror status`) and an HTML page (GET /status/).

#include "db/status_store.hpp"
#include "ingest/http_types.hpp"

#include <string>
#include <vector>

namespace shopmirror::ingest {

/// The status document. Pure.
std::string status_json(const db::status_report& report);

/// The same as aligned plain text, for a terminal. Pure.
std::string status_table(const db::status_report& report);

/// The same as a page without scripts; everything from the database is
/// escaped. Pure.
std::string status_html(const db::status_report& report);

/// Text made safe for HTML element content and quoted attribute values.
std::string html_escaped(std::string_view text);

/// Whether the request may read the status: `Authorization: Bearer TOKEN`,
/// or `Basic` credentials whose password is TOKEN (what a browser sends
/// after the page's challenge), for either token given (an empty one never
/// matches). Constant-time in the token.
bool status_authorized(const http_request& request, const std::vector<std::string>& tokens);

/// Answers GET /status (JSON) and GET /status/ (HTML): 401 without a
/// token, 503 when the database cannot be read. Makes database round
/// trips: call it off the I/O threads.
http_response answer_status(const http_request& request, const std::vector<std::string>& tokens,
                            const db::db_settings& database,
                            const std::vector<std::string>& configured_shops);

} // namespace shopmirror::ingest

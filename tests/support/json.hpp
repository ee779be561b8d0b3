#pragma once

// JSON in tests, compared as parsed documents: a member is found by name,
// wherever it stands and however the text is spaced or ordered.

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace shopmirror::test {

/// `text` parsed; fails the test when it is not one JSON document.
rapidjson::Document parse_json(const std::string& text);

/// A member of the JSON object `json`, as text: a string without its quotes,
/// anything else written compactly (`42`, `true`, `null`, `[1,2]`). Fails
/// the test when `json` is not an object or lacks the member.
std::string field(const std::string& json, const std::string& name);

/// Whether the JSON object `json` has the member `name`.
bool has_field(const std::string& json, const std::string& name);

/// The elements of the array member `name` of the JSON object `json`, each
/// written compactly (objects can go to field() in turn). Fails the test
/// when the member is missing or not an array.
std::vector<std::string> elements(const std::string& json, const std::string& name);

/// The lines of a process's log that are JSON objects, parsed, in order;
/// other lines (a message of its own, a child's) are left out.
std::vector<rapidjson::Document> log_lines(const std::string& output);

/// A member of a parsed object as field() gives it, or nothing when the
/// member is not there (or `object` is no object).
std::optional<std::string> member_text(const rapidjson::Value& object, const std::string& name);

/// Members a log line must have, each with the text field() gives.
using log_fields = std::vector<std::pair<std::string, std::string>>;

/// The first log line of `output` that has every one of `fields`, as JSON
/// text (for field()), or nothing.
std::optional<std::string> find_log_line(const std::string& output, const log_fields& fields);

/// How many log lines of `output` have every one of `fields`.
std::size_t count_log_lines(const std::string& output, const log_fields& fields);

/// The first log line of `output` that is `event`, as JSON text (for
/// field()); fails the test when there is none.
std::string log_line(const std::string& output, const std::string& event);

/// Whether a log line of `output` is `event` with every one of `fields`.
bool logged(const std::string& output, const std::string& event, const log_fields& fields = {});

} // namespace shopmirror::test

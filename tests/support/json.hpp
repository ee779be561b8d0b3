#pragma once

// JSON in tests, compared as parsed documents: a member is found by name,
// wherever it stands and however the text is spaced or ordered.

#include <rapidjson/document.h>

#include <string>
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

} // namespace shopmirror::test

#pragma once

// Internal to ingest/: RapidJSON's Writer, and the values shopmirror's JSON
// answers are made of.

#include "model/timestamp.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::ingest {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void write_string(json_writer& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

/// RFC 3339, or null.
inline void write_time(json_writer& w, const std::optional<model::timestamp>& t) {
  if (t) {
    write_string(w, model::format_rfc3339(*t));
  } else {
    w.Null();
  }
}

/// The text, or null.
inline void write_text(json_writer& w, const std::optional<std::string>& text) {
  if (text) {
    write_string(w, *text);
  } else {
    w.Null();
  }
}

/// The body of an error answer: {"error": message}.
inline std::string json_error(std::string_view message) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("error");
  write_string(w, message);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

} // namespace shopmirror::ingest

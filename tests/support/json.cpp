#include "tests/support/json.hpp"

#include <doctest/doctest.h>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <sstream>

namespace shopmirror::test {
namespace {

std::string compact(const rapidjson::Value& value) {
  if (value.IsString()) {
    return {value.GetString(), value.GetStringLength()};
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

const rapidjson::Value& member(const rapidjson::Document& doc, const std::string& json,
                               const std::string& name) {
  REQUIRE_MESSAGE(doc.IsObject(), "not a JSON object: " << json);
  const auto it = doc.FindMember(name.c_str());
  REQUIRE_MESSAGE(it != doc.MemberEnd(), "no member \"" << name << "\" in " << json);
  return it->value;
}

} // namespace

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), "not JSON ("
                                            << rapidjson::GetParseError_En(doc.GetParseError())
                                            << " at " << doc.GetErrorOffset() << "): " << text);
  return doc;
}

std::string field(const std::string& json, const std::string& name) {
  const auto doc = parse_json(json);
  return compact(member(doc, json, name));
}

bool has_field(const std::string& json, const std::string& name) {
  const auto doc = parse_json(json);
  REQUIRE_MESSAGE(doc.IsObject(), "not a JSON object: " << json);
  return doc.HasMember(name.c_str());
}

std::vector<std::string> elements(const std::string& json, const std::string& name) {
  const auto doc = parse_json(json);
  const auto& array = member(doc, json, name);
  REQUIRE_MESSAGE(array.IsArray(), "\"" << name << "\" is not an array in " << json);
  std::vector<std::string> out;
  for (const auto& element : array.GetArray()) {
    out.push_back(compact(element));
  }
  return out;
}

std::vector<rapidjson::Document> log_lines(const std::string& output) {
  std::vector<rapidjson::Document> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    if (!doc.HasParseError() && doc.IsObject()) {
      out.push_back(std::move(doc));
    }
  }
  return out;
}

std::optional<std::string> member_text(const rapidjson::Value& object, const std::string& name) {
  if (!object.IsObject()) {
    return std::nullopt;
  }
  const auto it = object.FindMember(name.c_str());
  if (it == object.MemberEnd()) {
    return std::nullopt;
  }
  return compact(it->value);
}

namespace {

bool has_all(const rapidjson::Value& line, const log_fields& fields) {
  return std::all_of(fields.begin(), fields.end(), [&](const auto& wanted) {
    return member_text(line, wanted.first) == wanted.second;
  });
}

} // namespace

std::optional<std::string> find_log_line(const std::string& output, const log_fields& fields) {
  for (const auto& line : log_lines(output)) {
    if (has_all(line, fields)) {
      return compact(line);
    }
  }
  return std::nullopt;
}

std::size_t count_log_lines(const std::string& output, const log_fields& fields) {
  const auto lines = log_lines(output);
  return static_cast<std::size_t>(std::count_if(
      lines.begin(), lines.end(), [&](const auto& line) { return has_all(line, fields); }));
}

std::string log_line(const std::string& output, const std::string& event) {
  for (const auto& line : log_lines(output)) {
    if (member_text(line, "event") == event) {
      return compact(line);
    }
  }
  FAIL("no log line of event " << event << " in:\n" << output);
  return {};
}

bool logged(const std::string& output, const std::string& event, const log_fields& fields) {
  log_fields all = fields;
  all.emplace_back("event", event);
  return count_log_lines(output, all) > 0;
}

} // namespace shopmirror::test

#include "tests/support/json.hpp"

#include <doctest/doctest.h>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

} // namespace shopmirror::test

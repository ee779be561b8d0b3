#include "model/json_fields.hpp"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <vector>

namespace shopmirror::model::json {

std::string_view to_view(const rapidjson::Value& value) {
  return {value.GetString(), value.GetStringLength()};
}

const rapidjson::Value* find(const rapidjson::Value& object, std::string_view key,
                             field_error& error) {
  const rapidjson::Value* found = nullptr;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (to_view(it->name) == key) {
      if (found != nullptr) {
        error.message = "duplicate key \"" + std::string(key) + "\"";
        return nullptr;
      }
      found = &it->value;
    }
  }
  return found;
}

std::size_t nesting_depth(std::string_view text) noexcept {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
    case '"':
      in_string = true;
      break;
    case '{':
    case '[':
      deepest = std::max(deepest, ++depth);
      break;
    case '}':
    case ']':
      depth -= depth > 0 ? 1 : 0;
      break;
    default:
      break;
    }
  }
  return deepest;
}

bool contains_nul(const rapidjson::Value& root) {
  // An explicit stack: documents can nest deeper than the call stack allows.
  std::vector<const rapidjson::Value*> pending{&root};
  while (!pending.empty()) {
    const rapidjson::Value* value = pending.back();
    pending.pop_back();
    if (value->IsString()) {
      if (std::memchr(value->GetString(), '\0', value->GetStringLength()) != nullptr) {
        return true;
      }
    } else if (value->IsObject()) {
      for (auto it = value->MemberBegin(); it != value->MemberEnd(); ++it) {
        if (std::memchr(it->name.GetString(), '\0', it->name.GetStringLength()) != nullptr) {
          return true;
        }
        pending.push_back(&it->value);
      }
    } else if (value->IsArray()) {
      for (const auto& element : value->GetArray()) {
        pending.push_back(&element);
      }
    }
  }
  return false;
}

std::optional<std::int64_t> read_id(const rapidjson::Value& value) {
  if (!value.IsInt64()) {
    return std::nullopt; // doubles, ids beyond 2^63, strings, null
  }
  const std::int64_t id = value.GetInt64();
  if (id <= 0) {
    return std::nullopt;
  }
  return id;
}

std::optional<std::int64_t> read_gid(std::string_view gid, std::string_view type) {
  constexpr std::string_view prefix = "gid://shopify/";
  if (gid.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  gid.remove_prefix(prefix.size());
  if (gid.substr(0, type.size()) != type || gid.size() <= type.size() + 1 ||
      gid[type.size()] != '/') {
    return std::nullopt;
  }
  gid.remove_prefix(type.size() + 1);
  // A gid may carry a query (`?...`) in some contexts; the id ends before it.
  const std::string_view digits = gid.substr(0, gid.find('?'));
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc{} || end != digits.data() + digits.size() || id <= 0) {
    return std::nullopt;
  }
  return id;
}

bool is_decimal(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    ++i;
  }
  const std::size_t int_start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  if (i == int_start) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    const std::size_t frac_start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      ++i;
    }
    if (i == frac_start) {
      return false;
    }
  }
  // numeric(…) in PostgreSQL has room for far more, but a price of a
  // thousand digits is garbage, not a price.
  return i == text.size() && text.size() <= 64;
}

namespace {

std::string type_error(std::string_view path, std::string_view expected) {
  return std::string(path) + " is not " + std::string(expected);
}

} // namespace

namespace {

// What every reader shares: absent is false; null clears `out`; anything
// else is converted, or is a type error naming the field.
template <class T, class Convert>
bool read_with(const rapidjson::Value& object, std::string_view key, std::string_view path,
               std::optional<T>& out, field_error& error, std::string_view expected,
               Convert convert) {
  const rapidjson::Value* value = find(object, key, error);
  if (value == nullptr) {
    return false;
  }
  if (value->IsNull()) {
    out.reset();
  } else if (std::optional<T> converted = convert(*value)) {
    out = std::move(converted);
  } else {
    error.message = type_error(path, expected);
  }
  return true;
}

} // namespace

bool read_string(const rapidjson::Value& object, std::string_view key, std::string_view path,
                 std::optional<std::string>& out, field_error& error) {
  return read_with(object, key, path, out, error, "a string",
                   [](const rapidjson::Value& v) -> std::optional<std::string> {
                     if (!v.IsString()) {
                       return std::nullopt;
                     }
                     return std::string(to_view(v));
                   });
}

bool read_decimal(const rapidjson::Value& object, std::string_view key, std::string_view path,
                  std::optional<std::string>& out, field_error& error) {
  // A JSON fraction would already have been rounded through a double: only
  // decimal strings and integers are exact.
  return read_with(object, key, path, out, error, "a decimal string",
                   [](const rapidjson::Value& v) -> std::optional<std::string> {
                     if (v.IsString() && is_decimal(to_view(v))) {
                       return std::string(to_view(v));
                     }
                     if (v.IsInt64()) {
                       return std::to_string(v.GetInt64());
                     }
                     return std::nullopt;
                   });
}

bool read_timestamp(const rapidjson::Value& object, std::string_view key, std::string_view path,
                    std::optional<timestamp>& out, field_error& error) {
  return read_with(object, key, path, out, error, "an RFC 3339 time",
                   [](const rapidjson::Value& v) -> std::optional<timestamp> {
                     if (!v.IsString()) {
                       return std::nullopt;
                     }
                     return parse_rfc3339(to_view(v));
                   });
}

bool read_int64(const rapidjson::Value& object, std::string_view key, std::string_view path,
                std::optional<std::int64_t>& out, field_error& error) {
  return read_with(object, key, path, out, error, "a 64-bit integer",
                   [](const rapidjson::Value& v) -> std::optional<std::int64_t> {
                     if (!v.IsInt64()) {
                       return std::nullopt;
                     }
                     return v.GetInt64();
                   });
}

bool read_int32(const rapidjson::Value& object, std::string_view key, std::string_view path,
                std::optional<std::int32_t>& out, field_error& error) {
  return read_with(object, key, path, out, error, "a 32-bit integer",
                   [](const rapidjson::Value& v) -> std::optional<std::int32_t> {
                     if (!v.IsInt()) {
                       return std::nullopt;
                     }
                     return v.GetInt();
                   });
}

std::string parse_error_message(const rapidjson::Document& document) {
  return std::string("malformed JSON: ") + rapidjson::GetParseError_En(document.GetParseError()) +
         " at offset " + std::to_string(document.GetErrorOffset());
}

std::string parse_object(rapidjson::Document& document, std::string_view text) {
  if (const void* nul = std::memchr(text.data(), '\0', text.size()); nul != nullptr) {
    return "malformed JSON: a NUL byte at offset " +
           std::to_string(static_cast<const char*>(nul) - text.data());
  }
  if (nesting_depth(text) > max_nesting) {
    return "the document nests deeper than " + std::to_string(max_nesting) + " levels";
  }
  document.Parse<parse_flags>(text.data(), text.size());
  if (document.HasParseError()) {
    return parse_error_message(document);
  }
  if (!document.IsObject()) {
    return "the document is not a JSON object";
  }
  if (contains_nul(document)) {
    return "the document holds a NUL character (\\u0000), which PostgreSQL cannot store";
  }
  return {};
}

} // namespace shopmirror::model::json

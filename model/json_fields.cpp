// RapidJSON's vector scans of whitespace and strings, for this file's
// in-place parse alone (parsed_object). They read whole 16-byte blocks, so
// they may read past the end of a string parsed where it lies: every other
// parse in the project reads from a buffer it does not pad, and must not
// get them. Defined here, before RapidJSON is first included, they only
// add overloads and specializations for the two string streams: this file
// is the only one that parses an in-place stream (InsituStringStream), and
// it parses no other kind of string stream, so no other file's code is
// another definition of anything they define.
#if defined(__SSE2__)
#define RAPIDJSON_SSE2
#elif defined(__ARM_NEON)
#define RAPIDJSON_NEON
#endif

#include "model/json_fields.hpp"

#include "text/utf8.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

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

bool read_category(const rapidjson::Value& object, const category_keys& keys,
                   std::optional<product_category>& out, field_error& error) {
  const rapidjson::Value* value = find(object, "category", error);
  if (value == nullptr) {
    return false;
  }
  if (value->IsNull()) {
    out.reset();
    return true;
  }
  if (!value->IsObject()) {
    error.message = type_error("category", "an object");
    return true;
  }
  product_category category;
  const auto text = [&](std::string_view key, std::string& into) {
    const rapidjson::Value* member = find(*value, key, error);
    if (error) {
      return;
    }
    if (member == nullptr || !member->IsString()) {
      error.message = type_error("category." + std::string(key), "a string");
      return;
    }
    into = std::string(to_view(*member));
  };
  text(keys.id, category.id);
  text("name", category.name);
  text(keys.full_name, category.full_name);
  if (error) {
    return true;
  }
  constexpr std::string_view gid_prefix = "gid://shopify/TaxonomyCategory/";
  if (category.id.size() <= gid_prefix.size() || category.id.rfind(gid_prefix, 0) != 0) {
    error.message = type_error("category." + std::string(keys.id), "a TaxonomyCategory gid");
    return true;
  }
  out = std::move(category);
  return true;
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

namespace {

// Passes a parse's events on to the document being built, and stops the
// parse at the first nesting beyond max_nesting or string holding a NUL:
// the recursive parser then never goes deeper than the limit, and a
// document jsonb would refuse is never built.
template <class Handler> class checked_events {
public:
  enum class problem { none, too_deep, nul };

  /// `may_hold_nul`: whether a string can decode to a NUL at all. Without a
  /// raw NUL byte in the text, only a `\u0000` escape makes one, and most
  /// documents have none: their strings are not searched.
  checked_events(Handler& next, bool may_hold_nul) : next_(next), may_hold_nul_(may_hold_nul) {}

  bool Null() { return next_.Null(); }
  bool Bool(bool b) { return next_.Bool(b); }
  bool Int(int i) { return next_.Int(i); }
  bool Uint(unsigned u) { return next_.Uint(u); }
  bool Int64(std::int64_t i) { return next_.Int64(i); }
  bool Uint64(std::uint64_t u) { return next_.Uint64(u); }
  bool Double(double d) { return next_.Double(d); }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool copy) {
    return next_.RawNumber(text, length, copy);
  }
  bool String(const char* text, rapidjson::SizeType length, bool copy) {
    return clean(text, length) && next_.String(text, length, copy);
  }
  bool Key(const char* text, rapidjson::SizeType length, bool copy) {
    return clean(text, length) && next_.Key(text, length, copy);
  }
  bool StartObject() { return deeper() && next_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return next_.EndObject(members);
  }
  bool StartArray() { return deeper() && next_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return next_.EndArray(elements);
  }

  problem found() const noexcept { return found_; }

private:
  bool deeper() {
    if (++depth_ > max_nesting) {
      found_ = problem::too_deep;
      return false;
    }
    return true;
  }
  bool clean(const char* text, rapidjson::SizeType length) {
    if (may_hold_nul_ && std::memchr(text, '\0', length) != nullptr) {
      found_ = problem::nul;
      return false;
    }
    return true;
  }

  Handler& next_;
  bool may_hold_nul_;
  std::size_t depth_ = 0;
  problem found_ = problem::none;
};

} // namespace

namespace {

// The vector scans (above) read whole 16-byte blocks: the copy parsed in
// place ends in as many NULs, so that no block reaches past it.
constexpr std::size_t scan_padding = 16;

std::string why_not(const rapidjson::Document& document, rapidjson::ParseResult result,
                    checked_events<rapidjson::Document>::problem found) {
  using problem = checked_events<rapidjson::Document>::problem;
  if (found == problem::too_deep) {
    return "the document nests deeper than " + std::to_string(max_nesting) + " levels";
  }
  if (found == problem::nul) {
    return "the document holds a NUL character (\\u0000), which PostgreSQL cannot store";
  }
  if (result.IsError()) {
    return std::string("malformed JSON: ") + rapidjson::GetParseError_En(result.Code()) +
           " at offset " + std::to_string(result.Offset());
  }
  if (!document.IsObject()) {
    return "the document is not a JSON object";
  }
  return {};
}

} // namespace

parsed_object::parsed_object(std::string_view text) {
  if (const void* nul = std::memchr(text.data(), '\0', text.size()); nul != nullptr) {
    error_ = "malformed JSON: a NUL byte at offset " +
             std::to_string(static_cast<const char*>(nul) - text.data());
    return;
  }
  if (const std::size_t bad = shopmirror::text::invalid_utf8_at(text);
      bad != std::string_view::npos) {
    error_ = "malformed JSON: invalid UTF-8 at offset " + std::to_string(bad);
    return;
  }
  // The encoding is checked above, faster than the parser checks it; the
  // parser is the recursive one, which checked_events keeps shallow.
  // Over-approximate: an escaped backslash before "u0000" is no NUL, but
  // only costs the search.
  const bool may_hold_nul = text.find("\\u0000") != std::string_view::npos;
  text_.reserve(text.size() + scan_padding);
  text_.assign(text);
  text_.append(scan_padding, '\0');
  using events_type = checked_events<rapidjson::Document>;
  rapidjson::ParseResult result;
  events_type::problem found = events_type::problem::none;
  const auto generate = [&](rapidjson::Document& handler) {
    events_type events(handler, may_hold_nul);
    rapidjson::Reader reader;
    rapidjson::InsituStringStream stream(text_.data());
    result = reader.Parse<rapidjson::kParseInsituFlag>(stream, events);
    found = events.found();
    return !result.IsError();
  };
  document_.Populate(generate);
  error_ = why_not(document_, result, found);
}

} // namespace shopmirror::model::json

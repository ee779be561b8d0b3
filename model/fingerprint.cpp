#include "model/fingerprint.hpp"

#include "crypto/hmac.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace shopmirror::model {
namespace {

// The encoding is only ever hashed, never read back: each value is tagged
// (absent or present) and length-prefixed, so no two contents encode alike.
class encoder {
public:
  void text(const std::optional<std::string>& value) {
    if (!value) {
      out_ += '\0';
      return;
    }
    bytes(*value);
  }
  void bytes(std::string_view value) {
    out_ += '\1';
    integer(static_cast<std::int64_t>(value.size()));
    out_.append(value);
  }
  void decimal(const std::optional<std::string>& value) {
    text(value ? std::optional<std::string>(normalized_decimal(*value)) : std::nullopt);
  }
  void time(const std::optional<timestamp>& value) {
    number(value ? std::optional<std::int64_t>(value->micros_since_epoch) : std::nullopt);
  }
  void number(const std::optional<std::int64_t>& value) {
    if (!value) {
      out_ += '\0';
      return;
    }
    out_ += '\1';
    integer(*value);
  }
  void integer(std::int64_t value) {
    auto bits = static_cast<std::uint64_t>(value);
    char bytes[8];
    for (char& byte : bytes) {
      byte = static_cast<char>(bits & 0xffU);
      bits >>= 8U;
    }
    out_.append(bytes, sizeof bytes);
  }
  void tag(char value) { out_ += value; }
  void reserve(std::size_t size) { out_.reserve(size); }
  const std::string& encoded() const noexcept { return out_; }

private:
  std::string out_;
};

} // namespace

bool is_whole(const product_state& state) noexcept {
  return state.present == pf_all &&
         std::all_of(state.variants.begin(), state.variants.end(),
                     [](const variant_state& v) { return v.present == vf_all; });
}

std::string normalized_decimal(std::string_view decimal) {
  const bool negative = !decimal.empty() && decimal.front() == '-';
  if (negative) {
    decimal.remove_prefix(1);
  }
  std::string_view whole = decimal.substr(0, decimal.find('.'));
  std::string_view fraction =
      whole.size() < decimal.size() ? decimal.substr(whole.size() + 1) : std::string_view{};
  while (whole.size() > 1 && whole.front() == '0') {
    whole.remove_prefix(1);
  }
  while (!fraction.empty() && fraction.back() == '0') {
    fraction.remove_suffix(1);
  }
  std::string out;
  if (negative && !(whole == "0" && fraction.empty())) {
    out += '-';
  }
  out.append(whole.empty() ? "0" : whole);
  if (!fraction.empty()) {
    out += '.';
    out.append(fraction);
  }
  return out;
}

// Room for the whole encoding at once: the description is most of it, and
// a variant's fields rarely pass a few hundred bytes.
std::size_t encoded_size_hint(const product_state& state) {
  return 256 + (state.body_html ? state.body_html->size() : 0) + 256 * state.variants.size();
}

std::string content_fingerprint(const product_state& state) {
  encoder e;
  e.reserve(encoded_size_hint(state));
  e.text(state.title);
  e.text(state.handle);
  e.text(state.vendor);
  e.text(state.product_type);
  e.text(state.status);
  std::vector<const std::string*> tags;
  tags.reserve(state.tags.size());
  for (const auto& tag : state.tags) {
    tags.push_back(&tag);
  }
  std::sort(tags.begin(), tags.end(), [](const auto* a, const auto* b) { return *a < *b; });
  e.integer(static_cast<std::int64_t>(tags.size()));
  for (const auto* tag : tags) {
    e.bytes(*tag);
  }
  e.text(state.body_html);
  e.time(state.created_at);
  e.time(state.updated_at);
  e.time(state.published_at);
  // Variants as a set: by id, whatever order the document listed them in.
  std::vector<const variant_state*> variants;
  variants.reserve(state.variants.size());
  for (const auto& v : state.variants) {
    variants.push_back(&v);
  }
  std::sort(variants.begin(), variants.end(),
            [](const auto* a, const auto* b) { return a->id < b->id; });
  e.integer(static_cast<std::int64_t>(variants.size()));
  for (const auto* v : variants) {
    e.integer(v->id);
    e.text(v->sku);
    e.text(v->title);
    e.decimal(v->price);
    e.decimal(v->compare_at_price);
    e.number(v->position ? std::optional<std::int64_t>(*v->position) : std::nullopt);
    e.text(v->option1);
    e.text(v->option2);
    e.text(v->option3);
    e.text(v->barcode);
    e.number(v->inventory_quantity);
    e.time(v->updated_at);
  }
  // Fields added after fingerprints were first stored come last, and only
  // when they hold something: a product without them keeps the fingerprint
  // it had, so an upgrade does not make every stored one look stale. (The
  // encoding before them is self-delimiting, so nothing is ambiguous.)
  if (state.category) {
    e.tag('\x01'); // the category
    e.bytes(state.category->id);
    e.bytes(state.category->name);
    e.bytes(state.category->full_name);
  }
  const crypto::sha256_digest digest = crypto::sha256(e.encoded());
  return {reinterpret_cast<const char*>(digest.data()), 16};
}

} // namespace shopmirror::model

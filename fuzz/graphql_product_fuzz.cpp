// Any bytes as an Admin API answer, both ways the reconcile reads one: as a
// bulk operation's JSONL (split where the input says, as a download may be)
// and as one GraphQL product node. Never a crash or an exception: a line
// that cannot be read is a failure with its reason (a product failed, or an
// object without an id), and the rest reads on. What maps keeps the invariants
// the apply path relies on (positive ids, unique variants, sorted tags, a
// source document that jsonb stores as read).

#include "fuzz/fuzz_input.hpp"
#include "model/graphql_product.hpp"
#include "model/json_fields.hpp"
#include "reconcile/bulk_jsonl.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

using namespace shopmirror;

namespace {

void check(const model::product_state& state) {
  if (state.id <= 0 || !std::is_sorted(state.tags.begin(), state.tags.end())) {
    std::abort();
  }
  for (std::size_t i = 0; i < state.variants.size(); ++i) {
    for (std::size_t j = i + 1; j < state.variants.size(); ++j) {
      if (state.variants[i].id == state.variants[j].id) {
        std::abort();
      }
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::size_t split = in.byte();
  const std::string text(in.rest());

  reconcile::bulk_jsonl_reader reader(
      [](db::listed_product product) {
        check(product.state);
        // The source document goes to a jsonb column as it is: it must be one
        // jsonb stores exactly as read (no NUL, nesting within the limit).
        if (!model::json::parsed_object(product.source).error().empty()) {
          std::abort();
        }
      },
      [](const db::failed_product& failed) {
        if (failed.reason.empty() || (failed.product_id && *failed.product_id <= 0)) {
          std::abort();
        }
      });
  const std::size_t at = std::min(split, text.size());
  reader.feed(std::string_view(text).substr(0, at));
  reader.feed(std::string_view(text).substr(at));
  reader.finish();

  const model::json::parsed_object parsed(text);
  const rapidjson::Document& node = parsed.document();
  if (parsed.error().empty()) {
    const auto mapped = model::map_graphql_product(node);
    if (const auto* state = std::get_if<model::product_state>(&mapped)) {
      check(*state);
      if (model::json::contains_nul(node)) {
        std::abort(); // its serialization, the source, would hold \u0000
      }
    }
  }
  return 0;
}

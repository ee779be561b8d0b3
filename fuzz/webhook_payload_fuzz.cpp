// A signed body of any shape through the webhook payload mapping: never a
// crash, never an exception, and whatever maps to a product state keeps the
// invariants the apply path relies on (positive ids, variants unique, tags
// sorted and trimmed, a source document PostgreSQL can store).

#include "fuzz/fuzz_input.hpp"
#include "model/json_fields.hpp"
#include "model/webhook_payload.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

using namespace shopmirror;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  static constexpr model::product_topic topics[] = {
      model::product_topic::create, model::product_topic::update, model::product_topic::remove,
      model::product_topic::other};
  const std::uint8_t choice = in.byte();
  const model::product_topic topic = topics[choice & 3U];
  const auto fetch = (choice & 4U) != 0 ? model::stub_fetch::possible : model::stub_fetch::impossible;
  const std::string body(in.rest());

  const model::delivery_action action = model::action_for(topic, body, fetch);
  if (const auto* upsert = std::get_if<model::upsert_product>(&action)) {
    const auto& state = upsert->state;
    if (state.id <= 0 || upsert->source != body) {
      std::abort();
    }
    // The source goes to PostgreSQL's jsonb input as it is: it must be one
    // jsonb stores exactly as read (no NUL, nothing deeper than the limit:
    // jsonb's input recurses).
    rapidjson::Document source;
    if (!model::json::parse_object(source, upsert->source).empty()) {
      std::abort();
    }
    if (!std::is_sorted(state.tags.begin(), state.tags.end())) {
      std::abort();
    }
    for (const auto& tag : state.tags) {
      if (tag.empty() || tag.front() == ' ' || tag.back() == ' ') {
        std::abort();
      }
    }
    for (std::size_t i = 0; i < state.variants.size(); ++i) {
      if (state.variants[i].id <= 0) {
        std::abort();
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (state.variants[i].id == state.variants[j].id) {
          std::abort();
        }
      }
    }
  } else if (const auto* removal = std::get_if<model::delete_product>(&action)) {
    if (removal->product_id <= 0) {
      std::abort();
    }
  } else if (const auto* refresh = std::get_if<model::refresh_product>(&action)) {
    if (refresh->product_id <= 0) {
      std::abort();
    }
  } else if (const auto* dead = std::get_if<model::dead_letter>(&action)) {
    if (dead->reason.empty() || dead->body != body) {
      std::abort();
    }
  } else if (topic != model::product_topic::other) {
    std::abort(); // only other topics are ignored
  }
  return 0;
}

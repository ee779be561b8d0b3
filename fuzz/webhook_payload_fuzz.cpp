// A signed body of any shape through the webhook payload mapping: never a
// crash, never an exception, and whatever maps to a product state keeps the
// invariants the apply path relies on (positive ids, variants unique, tags
// sorted and trimmed, a source document PostgreSQL can store); what is kept
// of a compliance or uninstall request is a JSON object naming the shop of
// the header.

#include "fuzz/fuzz_input.hpp"
#include "model/json_fields.hpp"
#include "model/webhook_payload.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

using namespace shopmirror;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  static constexpr model::webhook_topic topics[] = {model::webhook_topic::products_create,
                                                    model::webhook_topic::products_update,
                                                    model::webhook_topic::products_delete,
                                                    model::webhook_topic::other,
                                                    model::webhook_topic::customers_data_request,
                                                    model::webhook_topic::customers_redact,
                                                    model::webhook_topic::shop_redact,
                                                    model::webhook_topic::app_uninstalled};
  const std::uint8_t choice = in.byte();
  const model::webhook_topic topic = topics[choice & 7U];
  const auto fetch =
      (choice & 8U) != 0 ? model::stub_fetch::possible : model::stub_fetch::impossible;
  const std::string shop = "fuzz.myshopify.com";
  const std::string body(in.rest());

  // What is kept of a request must be a JSON object jsonb stores as read,
  // and a compliance request's must name the header's shop.
  const auto check_record = [&](const std::string& record, bool names_shop) {
    const model::json::parsed_object parsed(record);
    if (!parsed.error().empty()) {
      std::abort();
    }
    const rapidjson::Document& kept = parsed.document();
    if (names_shop && (!kept.HasMember("shop_domain") || !kept["shop_domain"].IsString() ||
                       model::json::to_view(kept["shop_domain"]) != shop)) {
      std::abort();
    }
  };

  const model::delivery_action action = model::action_for(topic, shop, body, fetch);
  if (const auto* upsert = std::get_if<model::upsert_product>(&action)) {
    const auto& state = upsert->state;
    if (state.id <= 0 || upsert->source != body) {
      std::abort();
    }
    // The source goes to PostgreSQL's jsonb input as it is: it must be one
    // jsonb stores exactly as read (no NUL, nothing deeper than the limit:
    // jsonb's input recurses).
    if (!model::json::parsed_object(upsert->source).error().empty()) {
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
  } else if (const auto* request = std::get_if<model::record_compliance_request>(&action)) {
    if (request->shop_id <= 0 || request->customer_id <= 0) {
      std::abort();
    }
    check_record(request->record, true);
  } else if (const auto* redaction = std::get_if<model::redact_shop>(&action)) {
    if (redaction->shop_id <= 0) {
      std::abort();
    }
    check_record(redaction->record, true);
  } else if (const auto* uninstall = std::get_if<model::uninstall_app>(&action)) {
    check_record(uninstall->record, false);
  } else if (topic != model::webhook_topic::other) {
    std::abort(); // only other topics are ignored
  }
  return 0;
}

#include "model/variant_barcodes.hpp"

#include "model/json_fields.hpp"
#include "text/utf8.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace shopmirror::model {
namespace {

using json::field_error;

std::optional<std::int64_t> gid_of(const rapidjson::Value& object, std::string_view type,
                                   field_error& error) {
  const rapidjson::Value* id = json::find(object, "id", error);
  if (id == nullptr || !id->IsString()) {
    return std::nullopt;
  }
  return json::read_gid(json::to_view(*id), type);
}

} // namespace

std::string add_graphql_barcode(const rapidjson::Value& node, variant_barcodes& variant) {
  const std::string where = "variant " + std::to_string(variant.variant_id) + " barcode: ";
  if (!node.IsObject()) {
    return where + "not an object";
  }
  // Stored in jsonb and text, neither of which holds \u0000.
  if (json::contains_nul(node)) {
    return where + "holds a NUL character (\\u0000)";
  }
  if (variant.barcodes.size() >= max_barcodes) {
    return where + "more than " + std::to_string(max_barcodes) + " barcodes";
  }
  field_error error;
  barcode read;
  std::optional<std::string> value;
  json::read_string(node, "type", "type", read.type, error);
  json::read_string(node, "value", "value", value, error);
  if (error) {
    return where + error.message;
  }
  if (!value) {
    return where + "value is missing or null";
  }
  // PostgreSQL refuses text that is not UTF-8: one bad barcode would fail
  // the batch it came in.
  for (const std::string* field : {&*value, read.type ? &*read.type : nullptr}) {
    if (field != nullptr && text::invalid_utf8_at(*field) != std::string_view::npos) {
      return where + "not valid UTF-8";
    }
  }
  read.value = std::move(*value);
  variant.barcodes.push_back(std::move(read));
  return {};
}

std::variant<variant_barcodes, graphql_error>
map_graphql_variant_barcodes(const rapidjson::Value& node, bool barcodes_required) {
  if (!node.IsObject()) {
    return graphql_error{"a variant node is not an object"};
  }
  field_error error;
  variant_barcodes out;
  const auto id = gid_of(node, "ProductVariant", error);
  if (!id) {
    return graphql_error{error ? error.message : "a variant has no ProductVariant gid as its id"};
  }
  out.variant_id = *id;
  const std::string where = "variant " + std::to_string(*id) + ": ";
  const rapidjson::Value* product = json::find(node, "product", error);
  const auto product_id =
      product != nullptr && product->IsObject() ? gid_of(*product, "Product", error) : std::nullopt;
  if (!product_id) {
    return graphql_error{where + (error ? error.message : "product.id is not a Product gid")};
  }
  out.product_id = *product_id;
  const rapidjson::Value* barcodes = json::find(node, "barcodes", error);
  if (barcodes == nullptr) {
    if (barcodes_required) {
      return graphql_error{where + (error ? error.message : "barcodes is missing")};
    }
    return out;
  }
  const rapidjson::Value* nodes =
      barcodes->IsObject() ? json::find(*barcodes, "nodes", error) : nullptr;
  if (nodes == nullptr || !nodes->IsArray()) {
    return graphql_error{where + (error ? error.message : "barcodes.nodes is not an array")};
  }
  for (const auto& barcode : nodes->GetArray()) {
    if (std::string reason = add_graphql_barcode(barcode, out); !reason.empty()) {
      return graphql_error{std::move(reason)};
    }
  }
  return out;
}

std::string barcodes_json(const std::vector<barcode>& barcodes) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const auto& b : barcodes) {
    w.StartObject();
    w.Key("type");
    if (b.type) {
      w.String(b.type->data(), static_cast<rapidjson::SizeType>(b.type->size()));
    } else {
      w.Null();
    }
    w.Key("value");
    w.String(b.value.data(), static_cast<rapidjson::SizeType>(b.value.size()));
    w.EndObject();
  }
  w.EndArray();
  return {buffer.GetString(), buffer.GetSize()};
}

} // namespace shopmirror::model

#include "reconcile/bulk_operation.hpp"

#include <cctype>
#include <charconv>
#include <string_view>

namespace shopmirror::reconcile {
namespace {

constexpr std::string_view bulk_gid_prefix = "gid://shopify/BulkOperation/";

const rapidjson::Value* member(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) {
    return nullptr;
  }
  const auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string text_of(const rapidjson::Value* value) {
  return value != nullptr && value->IsString()
             ? std::string(value->GetString(), value->GetStringLength())
             : std::string();
}

/// An UnsignedInt64: a string of digits, as Shopify sends it (a JSON
/// number is taken too).
std::optional<std::uint64_t> count_of(const rapidjson::Value* value) {
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->IsUint64()) {
    return value->GetUint64();
  }
  if (!value->IsString()) {
    return std::nullopt;
  }
  const std::string_view digits(value->GetString(), value->GetStringLength());
  std::uint64_t out = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return out;
}

std::optional<model::timestamp> time_of(const rapidjson::Value* value) {
  if (value == nullptr || !value->IsString()) {
    return std::nullopt;
  }
  return model::parse_rfc3339({value->GetString(), value->GetStringLength()});
}

/// The first BulkOperation gid in `text`, digits and all.
std::optional<std::string> bulk_gid_in(std::string_view text) {
  const auto at = text.find(bulk_gid_prefix);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::size_t end = at + bulk_gid_prefix.size();
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])) != 0) {
    ++end;
  }
  if (end == at + bulk_gid_prefix.size()) {
    return std::nullopt;
  }
  return std::string(text.substr(at, end - at));
}

std::string count_text(const std::optional<std::uint64_t>& count) {
  return count ? std::to_string(*count) : "none";
}

} // namespace

bool bulk_operation_state::ended() const {
  return status == "COMPLETED" || status == "FAILED" || status == "CANCELED" || status == "EXPIRED";
}

bulk_operation_state read_bulk_operation(const rapidjson::Value& node) {
  bulk_operation_state out;
  out.id = text_of(member(node, "id"));
  out.status = text_of(member(node, "status"));
  out.error_code = text_of(member(node, "errorCode"));
  out.url = text_of(member(node, "url"));
  out.partial_data_url = text_of(member(node, "partialDataUrl"));
  out.object_count = count_of(member(node, "objectCount"));
  out.root_object_count = count_of(member(node, "rootObjectCount"));
  out.created_at = time_of(member(node, "createdAt"));
  out.completed_at = time_of(member(node, "completedAt"));
  return out;
}

bulk_start_refusal read_bulk_start_refusal(const rapidjson::Value* payload) {
  bulk_start_refusal out;
  const rapidjson::Value* errors = payload != nullptr ? member(*payload, "userErrors") : nullptr;
  if (errors == nullptr || !errors->IsArray() || errors->Empty()) {
    out.message = "no operation returned";
    return out;
  }
  out.message = text_of(member((*errors)[0], "message"));
  for (const auto& error : errors->GetArray()) {
    const std::string code = text_of(member(error, "code"));
    const std::string message = text_of(member(error, "message"));
    // The code is what Shopify documents; the message is what clients have
    // seen ("A bulk query operation for this app and shop is already in
    // progress: gid://shopify/BulkOperation/N."), and names the operation.
    if (code == "OPERATION_IN_PROGRESS" ||
        (code.empty() && message.find("already in progress") != std::string::npos)) {
      out.in_progress = true;
      out.message = message;
      out.running_id = bulk_gid_in(message);
      break;
    }
  }
  return out;
}

std::string bulk_count_mismatch(const bulk_operation_state& operation, std::uint64_t lines,
                                std::uint64_t roots, std::uint64_t unreadable,
                                std::string_view roots_are) {
  const std::string of = "the bulk result of " + operation.id + " holds ";
  if (!operation.object_count || *operation.object_count != lines) {
    return of + std::to_string(lines) + " objects, Shopify counted " +
           count_text(operation.object_count);
  }
  const auto& counted = operation.root_object_count;
  if (!counted || *counted < roots || *counted > roots + unreadable) {
    return of + std::to_string(roots) + " " + std::string(roots_are) +
           (unreadable > 0 ? " (and " + std::to_string(unreadable) + " unreadable lines)" : "") +
           ", Shopify counted " + count_text(counted);
  }
  return {};
}

} // namespace shopmirror::reconcile

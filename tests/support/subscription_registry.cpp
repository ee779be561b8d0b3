#include "tests/support/subscription_registry.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>

namespace shopmirror::test {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view gid_prefix = "gid://shopify/WebhookSubscription/";

const std::set<std::string>& known_topics() {
  static const std::set<std::string> topics = {"PRODUCTS_CREATE", "PRODUCTS_UPDATE",
                                               "PRODUCTS_DELETE", "APP_UNINSTALLED",
                                               "ORDERS_CREATE",   "BULK_OPERATIONS_FINISH"};
  return topics;
}

std::string text(const rapidjson::Value* object, const char* key) {
  if (object == nullptr || !object->IsObject() || !object->HasMember(key) ||
      !(*object)[key].IsString()) {
    return {};
  }
  return (*object)[key].GetString();
}

const rapidjson::Value* member(const rapidjson::Value* object, const char* key) {
  if (object == nullptr || !object->IsObject() || !object->HasMember(key)) {
    return nullptr;
  }
  return &(*object)[key];
}

void write_record(json_writer& w, const subscription_record& r, const std::string& version) {
  w.StartObject();
  w.Key("id");
  w.String(r.id.c_str());
  w.Key("topic");
  w.String(r.topic.c_str());
  w.Key("format");
  w.String(r.format.c_str());
  w.Key("uri");
  w.String(r.uri.c_str());
  w.Key("apiVersion");
  w.StartObject();
  w.Key("handle");
  w.String(version.c_str());
  w.EndObject();
  w.Key("includeFields");
  w.StartArray();
  for (const auto& f : r.include_fields) {
    w.String(f.c_str());
  }
  w.EndArray();
  w.Key("filter");
  if (r.filter.empty()) {
    w.Null();
  } else {
    w.String(r.filter.c_str());
  }
  w.EndObject();
}

/// `{"<field>": {"webhookSubscription": ..., "userErrors": [...]}}`.
std::string mutation_answer(const char* field, const subscription_record* made,
                            const std::vector<std::pair<std::string, std::string>>& errors,
                            const std::string& version) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key(field);
  w.StartObject();
  w.Key("webhookSubscription");
  if (made != nullptr) {
    write_record(w, *made, version);
  } else {
    w.Null();
  }
  w.Key("userErrors");
  w.StartArray();
  for (const auto& [at, message] : errors) {
    w.StartObject();
    w.Key("field");
    w.StartArray();
    w.String(at.c_str());
    w.EndArray();
    w.Key("message");
    w.String(message.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

/// The input's fields applied to `r`; a userError if they are not valid.
std::optional<std::pair<std::string, std::string>> apply_input(const rapidjson::Value* input,
                                                               subscription_record& r) {
  if (input == nullptr || !input->IsObject()) {
    return std::pair<std::string, std::string>{"webhookSubscription", "is required"};
  }
  if (const auto* uri = member(input, "uri"); uri != nullptr) {
    r.uri = uri->IsString() ? uri->GetString() : "";
    if (r.uri.rfind("https://", 0) != 0) {
      return std::pair<std::string, std::string>{"uri", "Address protocol is not supported: "
                                                        "use an HTTPS URL"};
    }
  }
  if (const auto* format = member(input, "format"); format != nullptr && format->IsString()) {
    r.format = format->GetString();
  }
  if (const auto* fields = member(input, "includeFields"); fields != nullptr && fields->IsArray()) {
    r.include_fields.clear();
    for (const auto& f : fields->GetArray()) {
      if (f.IsString()) {
        r.include_fields.emplace_back(f.GetString());
      }
    }
  }
  if (const auto* filter = member(input, "filter"); filter != nullptr) {
    r.filter = filter->IsString() ? filter->GetString() : "";
  }
  return std::nullopt;
}

} // namespace

subscription_registry::subscription_registry(std::string api_version)
    : api_version_(std::move(api_version)) {}

std::optional<std::string> subscription_registry::answer(std::string_view operation,
                                                         const rapidjson::Value* variables) {
  const std::lock_guard lock(mutex_);
  if (operation == "WebhookSubscriptions") {
    return list_page(variables);
  }
  if (operation == "CreateWebhookSubscription") {
    ++mutations_;
    return create(variables);
  }
  if (operation == "UpdateWebhookSubscription") {
    ++mutations_;
    return update(variables);
  }
  if (operation == "DeleteWebhookSubscription") {
    ++mutations_;
    return remove_answer(variables);
  }
  return std::nullopt;
}

std::string subscription_registry::list_page(const rapidjson::Value* variables) const {
  const auto* first = member(variables, "first");
  const int count = first != nullptr && first->IsInt() ? std::clamp(first->GetInt(), 1, 250) : 50;
  const std::string after = text(variables, "after");
  std::size_t start = 0;
  if (!after.empty()) {
    // The cursor is the id it follows.
    while (start < records_.size() && records_[start].id != after) {
      ++start;
    }
    start = std::min(records_.size(), start + 1);
  }
  const std::size_t end = std::min(records_.size(), start + static_cast<std::size_t>(count));
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("webhookSubscriptions");
  w.StartObject();
  w.Key("nodes");
  w.StartArray();
  for (std::size_t i = start; i < end; ++i) {
    write_record(w, records_[i], api_version_);
  }
  w.EndArray();
  w.Key("pageInfo");
  w.StartObject();
  w.Key("hasNextPage");
  w.Bool(end < records_.size());
  w.Key("endCursor");
  if (end > start) {
    w.String(records_[end - 1].id.c_str());
  } else {
    w.Null();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string subscription_registry::create(const rapidjson::Value* variables) {
  subscription_record r;
  r.topic = text(variables, "topic");
  if (known_topics().count(r.topic) == 0) {
    return mutation_answer("webhookSubscriptionCreate", nullptr,
                           {{"topic", "Topic is not a webhook subscription topic"}}, api_version_);
  }
  if (auto error = apply_input(member(variables, "webhookSubscription"), r)) {
    return mutation_answer("webhookSubscriptionCreate", nullptr, {*error}, api_version_);
  }
  if (r.uri.empty()) {
    return mutation_answer("webhookSubscriptionCreate", nullptr,
                           {{"uri", "Address can't be blank"}}, api_version_);
  }
  for (const auto& other : records_) {
    if (other.topic == r.topic && other.uri == r.uri) {
      return mutation_answer("webhookSubscriptionCreate", nullptr,
                             {{"uri", "Address for this topic has already been taken"}},
                             api_version_);
    }
  }
  r.id = std::string(gid_prefix) + std::to_string(next_id_++);
  records_.push_back(r);
  return mutation_answer("webhookSubscriptionCreate", &records_.back(), {}, api_version_);
}

std::string subscription_registry::update(const rapidjson::Value* variables) {
  const std::string id = text(variables, "id");
  const auto it = std::find_if(records_.begin(), records_.end(),
                               [&](const subscription_record& r) { return r.id == id; });
  if (it == records_.end()) {
    return mutation_answer("webhookSubscriptionUpdate", nullptr,
                           {{"id", "Webhook subscription does not exist"}}, api_version_);
  }
  subscription_record changed = *it;
  if (auto error = apply_input(member(variables, "webhookSubscription"), changed)) {
    return mutation_answer("webhookSubscriptionUpdate", nullptr, {*error}, api_version_);
  }
  *it = changed;
  return mutation_answer("webhookSubscriptionUpdate", &*it, {}, api_version_);
}

std::string subscription_registry::remove_answer(const rapidjson::Value* variables) {
  const std::string id = text(variables, "id");
  const auto it = std::find_if(records_.begin(), records_.end(),
                               [&](const subscription_record& r) { return r.id == id; });
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("webhookSubscriptionDelete");
  w.StartObject();
  w.Key("deletedWebhookSubscriptionId");
  const bool found = it != records_.end();
  if (found) {
    w.String(id.c_str());
    records_.erase(it);
  } else {
    w.Null();
  }
  w.Key("userErrors");
  w.StartArray();
  if (!found) {
    w.StartObject();
    w.Key("field");
    w.StartArray();
    w.String("id");
    w.EndArray();
    w.Key("message");
    w.String("Webhook subscription does not exist");
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string subscription_registry::add(subscription_record record) {
  const std::lock_guard lock(mutex_);
  record.id = std::string(gid_prefix) + std::to_string(next_id_++);
  records_.push_back(record);
  return record.id;
}

bool subscription_registry::remove(const std::string& id) {
  const std::lock_guard lock(mutex_);
  const auto it = std::find_if(records_.begin(), records_.end(),
                               [&](const subscription_record& r) { return r.id == id; });
  if (it == records_.end()) {
    return false;
  }
  records_.erase(it);
  return true;
}

std::vector<subscription_record> subscription_registry::list() const {
  const std::lock_guard lock(mutex_);
  return records_;
}

void subscription_registry::set_api_version(std::string version) {
  const std::lock_guard lock(mutex_);
  api_version_ = std::move(version);
}

int subscription_registry::mutations() const {
  const std::lock_guard lock(mutex_);
  return mutations_;
}

} // namespace shopmirror::test

#include "reconcile/subscriptions.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <functional>

namespace shopmirror::reconcile {
namespace {

constexpr const char* list_query =
    "query WebhookSubscriptions($first: Int!, $after: String) { "
    "webhookSubscriptions(first: $first, after: $after) { nodes { id topic format uri "
    "apiVersion { handle } includeFields filter } pageInfo { hasNextPage endCursor } } }";

constexpr const char* create_mutation =
    "mutation CreateWebhookSubscription($topic: WebhookSubscriptionTopic!, "
    "$webhookSubscription: WebhookSubscriptionInput!) { "
    "webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { "
    "webhookSubscription { id } userErrors { field message } } }";

constexpr const char* update_mutation =
    "mutation UpdateWebhookSubscription($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) "
    "{ webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) { "
    "webhookSubscription { id } userErrors { field message } } }";

constexpr const char* delete_mutation =
    "mutation DeleteWebhookSubscription($id: ID!) { webhookSubscriptionDelete(id: $id) { "
    "deletedWebhookSubscriptionId userErrors { field message } } }";

constexpr int page_size = 50;
// Up-front costs as Shopify computes them: a connection is 2 plus its
// `first` times a node; a mutation 10.
constexpr double list_cost = 2 + page_size * 2;
constexpr double mutation_cost = 10;

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string text_of(const rapidjson::Value& object, const char* key) {
  return object.IsObject() && object.HasMember(key) && object[key].IsString()
             ? std::string(object[key].GetString(), object[key].GetStringLength())
             : std::string();
}

/// The input that makes a subscription what the mirror needs.
void write_input(json_writer& w, const std::string& address) {
  w.Key("webhookSubscription");
  w.StartObject();
  w.Key("uri");
  w.String(address.c_str());
  w.Key("format");
  w.String("JSON");
  // Whole payloads, unfiltered: the mirror needs every field of every product.
  w.Key("includeFields");
  w.StartArray();
  w.EndArray();
  w.Key("filter");
  w.String("");
  w.EndObject();
}

/// Throws with the mutation's userErrors, if it had any.
void check_user_errors(const rapidjson::Document& doc, const char* field, const std::string& what) {
  const auto& data = doc["data"];
  if (!data.HasMember(field) || !data[field].IsObject() || !data[field].HasMember("userErrors") ||
      !data[field]["userErrors"].IsArray()) {
    throw admin_api_error(what + ": the Admin API answered without a result");
  }
  const auto& payload = data[field];
  std::string errors;
  for (const auto& e : payload["userErrors"].GetArray()) {
    errors += errors.empty() ? "" : "; ";
    errors += text_of(e, "message");
  }
  if (!errors.empty()) {
    throw admin_api_error(what + ": " + errors);
  }
}

} // namespace

const std::vector<std::string>& needed_topics() {
  static const std::vector<std::string> topics = {"PRODUCTS_CREATE", "PRODUCTS_UPDATE",
                                                  "PRODUCTS_DELETE"};
  return topics;
}

std::string_view to_string(subscription_state state) noexcept {
  switch (state) {
  case subscription_state::ok:
    return "ok";
  case subscription_state::missing:
    return "missing";
  case subscription_state::wrong:
    return "wrong";
  case subscription_state::duplicate:
    return "duplicate";
  }
  return "missing";
}

bool subscription_report::all_ok() const {
  return std::all_of(topics.begin(), topics.end(),
                     [](const topic_check& t) { return t.state == subscription_state::ok; }) &&
         api_versions.empty();
}

subscription_report compare_subscriptions(const std::vector<webhook_subscription>& listed,
                                          const std::string& address,
                                          const std::string& api_version) {
  subscription_report report;
  for (const auto& topic : needed_topics()) {
    topic_check check;
    check.topic = topic;
    for (const auto& s : listed) {
      if (s.topic == topic && s.uri == address) {
        check.ours.push_back(s);
      }
    }
    const bool as_needed =
        !check.ours.empty() &&
        std::all_of(check.ours.begin(), check.ours.end(), [](const webhook_subscription& s) {
          return s.format == "JSON" && s.include_fields.empty() && s.filter.empty();
        });
    check.state = check.ours.empty()      ? subscription_state::missing
                  : !as_needed            ? subscription_state::wrong
                  : check.ours.size() > 1 ? subscription_state::duplicate
                                          : subscription_state::ok;
    for (const auto& s : check.ours) {
      if (!s.api_version.empty() && s.api_version != api_version &&
          std::find(report.api_versions.begin(), report.api_versions.end(), s.api_version) ==
              report.api_versions.end()) {
        report.api_versions.push_back(s.api_version);
      }
    }
    report.topics.push_back(std::move(check));
  }
  for (const auto& s : listed) {
    if (s.uri != address) {
      report.others.push_back(s);
    }
  }
  return report;
}

std::vector<webhook_subscription> list_subscriptions(admin_api& api) {
  std::vector<webhook_subscription> out;
  std::string cursor;
  for (;;) {
    rapidjson::StringBuffer variables;
    json_writer w(variables);
    w.StartObject();
    w.Key("first");
    w.Int(page_size);
    w.Key("after");
    if (cursor.empty()) {
      w.Null();
    } else {
      w.String(cursor.c_str());
    }
    w.EndObject();
    const auto doc = api.graphql(list_query, variables.GetString(), list_cost);
    const auto& data = doc["data"];
    if (!data.HasMember("webhookSubscriptions") || !data["webhookSubscriptions"].IsObject() ||
        !data["webhookSubscriptions"].HasMember("nodes") ||
        !data["webhookSubscriptions"]["nodes"].IsArray()) {
      throw admin_api_error("the webhook subscriptions of " + api.shop() + " came without nodes");
    }
    const auto& connection = data["webhookSubscriptions"];
    for (const auto& node : connection["nodes"].GetArray()) {
      webhook_subscription s;
      s.id = text_of(node, "id");
      s.topic = text_of(node, "topic");
      s.uri = text_of(node, "uri");
      s.format = text_of(node, "format");
      if (node.HasMember("apiVersion") && node["apiVersion"].IsObject()) {
        s.api_version = text_of(node["apiVersion"], "handle");
      }
      if (node.HasMember("includeFields") && node["includeFields"].IsArray()) {
        for (const auto& f : node["includeFields"].GetArray()) {
          if (f.IsString()) {
            s.include_fields.emplace_back(f.GetString());
          }
        }
      }
      s.filter = text_of(node, "filter");
      out.push_back(std::move(s));
    }
    if (!connection.HasMember("pageInfo")) {
      return out;
    }
    const auto& info = connection["pageInfo"];
    if (!info.IsObject() || !info.HasMember("hasNextPage") || !info["hasNextPage"].IsBool() ||
        !info["hasNextPage"].GetBool()) {
      return out;
    }
    cursor = text_of(info, "endCursor");
    if (cursor.empty()) {
      throw admin_api_error(
          "a page of webhook subscriptions says there is more but gives no cursor");
    }
  }
}

sync_result sync_subscriptions(admin_api& api, const subscription_report& report,
                               const std::string& address, bool dry_run) {
  sync_result result;
  for (const auto& check : report.topics) {
    const auto mutate = [&](const std::string& action, const char* mutation, const char* field,
                            const std::function<void(json_writer&)>& variables) {
      result.actions.push_back(action);
      if (dry_run) {
        return;
      }
      rapidjson::StringBuffer buffer;
      json_writer w(buffer);
      w.StartObject();
      variables(w);
      w.EndObject();
      check_user_errors(api.graphql(mutation, buffer.GetString(), mutation_cost), field, action);
    };
    switch (check.state) {
    case subscription_state::ok:
      break;
    case subscription_state::missing:
      mutate("create " + check.topic + " at " + address, create_mutation,
             "webhookSubscriptionCreate", [&](json_writer& w) {
               w.Key("topic");
               w.String(check.topic.c_str());
               write_input(w, address);
             });
      break;
    case subscription_state::wrong:
    case subscription_state::duplicate:
      // The first one is made right; copies at our address go (each would
      // deliver every event once more).
      for (std::size_t i = 0; i < check.ours.size(); ++i) {
        const auto& s = check.ours[i];
        if (i == 0) {
          if (s.format != "JSON" || !s.include_fields.empty() || !s.filter.empty()) {
            mutate("update " + check.topic + " " + s.id + " to JSON, whole payloads, unfiltered",
                   update_mutation, "webhookSubscriptionUpdate", [&](json_writer& w) {
                     w.Key("id");
                     w.String(s.id.c_str());
                     write_input(w, address);
                   });
          }
        } else {
          mutate("delete " + check.topic + " " + s.id + " (a second subscription at " + address +
                     ")",
                 delete_mutation, "webhookSubscriptionDelete", [&](json_writer& w) {
                   w.Key("id");
                   w.String(s.id.c_str());
                 });
        }
      }
      break;
    }
  }
  return result;
}

} // namespace shopmirror::reconcile

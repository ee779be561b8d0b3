#include "reconcile/catalog.hpp"

#include "model/graphql_product.hpp"
#include "model/json_fields.hpp"
#include "model/webhook_payload.hpp"
#include "reconcile/bulk_jsonl.hpp"
#include "reconcile/bulk_operation.hpp"
#include "telemetry/log.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace shopmirror::reconcile {
namespace {

// The fields of a product and of a variant that the mirror keeps: the
// GraphQL names of the webhook's fields (model/graphql_product.hpp).
#define SHOPMIRROR_PRODUCT_FIELDS                                                                  \
  "id legacyResourceId title handle vendor productType status tags descriptionHtml createdAt "     \
  "updatedAt publishedAt category { id name fullName }"
#define SHOPMIRROR_VARIANT_FIELDS                                                                  \
  "id legacyResourceId sku title price compareAtPrice position selectedOptions { name value } "    \
  "barcode inventoryQuantity updatedAt"

// Up-front costs as Shopify computes them (a connection: 2 plus its `first`
// times the cost of a node).
constexpr int variants_per_product_page = 100;
constexpr double product_node_cost = 1 + 1 + 2 + variants_per_product_page; // with its category
constexpr double variants_page_cost = 1 + 2 + 250;
// Shopify refuses a single query over 1,000 points (MAX_COST_EXCEEDED).
constexpr int max_page_size = static_cast<int>((1000 - 2) / product_node_cost);

constexpr const char* products_page_query =
    "query ProductsPage($first: Int!, $after: String, $query: String) { "
    "products(first: $first, after: $after, query: $query, sortKey: ID) { "
    "nodes { " SHOPMIRROR_PRODUCT_FIELDS
    " variants(first: 100) { nodes { " SHOPMIRROR_VARIANT_FIELDS
    " } pageInfo { hasNextPage endCursor } } } pageInfo { hasNextPage endCursor } } }";

constexpr const char* variants_page_query =
    "query ProductVariantsPage($id: ID!, $after: String) { product(id: $id) { "
    "variants(first: 250, after: $after) { nodes { " SHOPMIRROR_VARIANT_FIELDS
    " } pageInfo { hasNextPage endCursor } } } }";

constexpr const char* product_query =
    "query ProductById($id: ID!) { product(id: $id) { " SHOPMIRROR_PRODUCT_FIELDS
    " variants(first: 100) { nodes { " SHOPMIRROR_VARIANT_FIELDS
    " } pageInfo { hasNextPage endCursor } } } }";

// groupObjects: each product's variants follow it, so the JSONL can be
// joined one product at a time. Passed explicitly: it defaults to false
// since 2026-01, and ungrouped output may put a product's variants anywhere
// after it.
#define SHOPMIRROR_BULK_START(name)                                                                \
  "mutation " name "($query: String!) { "                                                          \
  "bulkOperationRunQuery(query: $query, groupObjects: true) { "                                    \
  "bulkOperation { id status createdAt } userErrors { field message code } } }"
constexpr const char* bulk_products_start = SHOPMIRROR_BULK_START("StartBulkProducts");
constexpr const char* bulk_barcodes_start = SHOPMIRROR_BULK_START("StartBulkBarcodes");

constexpr const char* bulk_products_query =
    "{ products { edges { node { " SHOPMIRROR_PRODUCT_FIELDS
    " variants { edges { node { " SHOPMIRROR_VARIANT_FIELDS " } } } } } } }";

// A variant's barcodes (API 2026-10) are a connection under the variant, one
// level deeper than a bulk query may nest under products (two levels), and
// twenty of them per variant would make a products page cost ten times as
// much. So they are listed on their own, from productVariants.
constexpr const char* bulk_barcodes_query = "{ productVariants { edges { node { id product { id } "
                                            "barcodes { edges { node { type value } } } } } } }";

constexpr const char* barcodes_page_query =
    "query VariantBarcodesPage($first: Int!, $after: String, $query: String) { "
    "productVariants(first: $first, after: $after, query: $query, sortKey: ID) { "
    "nodes { id product { id } barcodes(first: 20) { nodes { type value } } } "
    "pageInfo { hasNextPage endCursor } } }";
// A variant, its product, and a connection of up to twenty barcodes.
constexpr double barcodes_node_cost = 1 + 1 + 2 + 20;
constexpr int max_barcodes_page_size = static_cast<int>((1000 - 2) / barcodes_node_cost);

constexpr const char* shop_identity_query = "query ShopIdentity { shop { myshopifyDomain } }";

// bulkOperation(id:): since 2026-01 the query for one operation (node(id:)
// was used before; currentBulkOperation, deprecated, sees only the latest).
constexpr const char* bulk_status_query =
    "query BulkOperationById($id: ID!) { bulkOperation(id: $id) { "
    "id status errorCode createdAt completedAt objectCount rootObjectCount url partialDataUrl } }";

// The app's bulk queries that are running (the filter keys are the
// reference's `operation_type` and `status`), for a refusal that does not
// name the operation in progress.
constexpr const char* running_bulk_queries_query =
    "query BulkOperations($first: Int!, $query: String!) { "
    "bulkOperations(first: $first, query: $query) { nodes { id status createdAt } } }";
constexpr int running_bulk_queries_first = 5;
constexpr const char* running_bulk_queries_filter = "operation_type:query status:running";

constexpr double bulk_start_cost = 10;
constexpr double bulk_status_cost = 1;
constexpr double running_bulk_queries_cost = 2 + running_bulk_queries_first;

// Attempts to start the operation, in all, while other bulk queries of the
// app are in progress: before each further one, those are waited for (all
// within one bulk timeout).
constexpr int max_bulk_starts = 3;

/// A GraphQL request's variables object, written by RapidJSON's Writer so
/// that every value is escaped as JSON requires.
class variables_writer {
public:
  variables_writer() { writer_.StartObject(); }

  variables_writer& text(const char* key, std::string_view value) {
    writer_.Key(key);
    writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }

  variables_writer& text_or_null(const char* key, const std::optional<std::string>& value) {
    if (value) {
      return text(key, *value);
    }
    writer_.Key(key);
    writer_.Null();
    return *this;
  }

  variables_writer& integer(const char* key, int value) {
    writer_.Key(key);
    writer_.Int(value);
    return *this;
  }

  /// Closes the object and returns its text; called once, last.
  std::string finish() {
    writer_.EndObject();
    return {buffer_.GetString(), buffer_.GetSize()};
  }

private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_{buffer_};
};

/// A page's `after`: none before the first page.
std::optional<std::string> after_cursor(const std::string& cursor) {
  return cursor.empty() ? std::nullopt : std::optional<std::string>(cursor);
}

/// The search query of a listing that takes only products (or variants)
/// updated since `since`; none for all.
std::optional<std::string> updated_since_filter(std::optional<model::timestamp> since) {
  if (!since) {
    return std::nullopt;
  }
  return "updated_at:>='" + model::format_rfc3339(*since) + "'";
}

/// The member `key` of an object, or null; const-ness follows the object.
template <class Value> Value* member(Value& object, const char* key) {
  if (!object.IsObject()) {
    return nullptr;
  }
  return object.HasMember(key) ? &object[key] : nullptr;
}

std::string text_of(const rapidjson::Value* value) {
  return value != nullptr && value->IsString() ? value->GetString() : "";
}

std::string serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

const rapidjson::Value& data_of(const rapidjson::Document& doc) {
  return doc["data"];
}

/// Fetches the variants beyond the first page of a product into `node`'s
/// variants.nodes, so it is whole. False if the product went away meanwhile.
bool complete_variants(admin_api& api, rapidjson::Value& node,
                       rapidjson::Document::AllocatorType& allocator) {
  rapidjson::Value* variants = member(node, "variants");
  const rapidjson::Value* info = variants != nullptr ? member(*variants, "pageInfo") : nullptr;
  if (info == nullptr) {
    return true;
  }
  const rapidjson::Value* more = member(*info, "hasNextPage");
  std::string cursor = text_of(member(*info, "endCursor"));
  const std::string gid = text_of(member(node, "id"));
  rapidjson::Value* nodes = member(*variants, "nodes");
  bool has_more = more != nullptr && more->IsBool() && more->GetBool();
  while (has_more && nodes != nullptr && nodes->IsArray()) {
    const auto doc = api.graphql(variants_page_query,
                                 variables_writer().text("id", gid).text("after", cursor).finish(),
                                 variants_page_cost);
    const rapidjson::Value* product = member(data_of(doc), "product");
    const rapidjson::Value* page = product != nullptr ? member(*product, "variants") : nullptr;
    if (page == nullptr) {
      return false; // deleted meanwhile: not listed, so the sweep takes it
    }
    if (const rapidjson::Value* page_nodes = member(*page, "nodes");
        page_nodes != nullptr && page_nodes->IsArray()) {
      for (const auto& v : page_nodes->GetArray()) {
        nodes->PushBack(rapidjson::Value(v, allocator), allocator);
      }
    }
    const rapidjson::Value* page_info = member(*page, "pageInfo");
    const rapidjson::Value* next = page_info ? member(*page_info, "hasNextPage") : nullptr;
    has_more = next != nullptr && next->IsBool() && next->GetBool();
    cursor = text_of(page_info ? member(*page_info, "endCursor") : nullptr);
  }
  // The first page's pageInfo no longer describes the list.
  variants->RemoveMember("pageInfo");
  return true;
}

/// A node as a product, whole; nothing if it went away while its variants
/// were being paged (half a product is never applied); failed, with why, if
/// it cannot be read.
using mapped_node = std::variant<std::monostate, db::listed_product, db::failed_product>;

mapped_node map_node(admin_api& api, rapidjson::Value& node,
                     rapidjson::Document::AllocatorType& allocator) {
  if (!complete_variants(api, node, allocator)) {
    return std::monostate{};
  }
  auto mapped = model::map_graphql_product(node);
  if (auto* error = std::get_if<model::graphql_error>(&mapped)) {
    const rapidjson::Value* gid = member(node, "id");
    const auto id = gid != nullptr && gid->IsString()
                        ? model::json::read_gid(gid->GetString(), "Product")
                        : std::nullopt;
    return db::failed_product{id, error->reason};
  }
  return db::listed_product{std::move(std::get<model::product_state>(mapped)), serialize(node)};
}

/// One poll of a bulk operation; nullopt if the Admin API knows no such
/// operation of this app.
std::optional<bulk_operation_state> poll_bulk(admin_api& api, const std::string& id) {
  const auto doc =
      api.graphql(bulk_status_query, variables_writer().text("id", id).finish(), bulk_status_cost);
  const rapidjson::Value* node = member(data_of(doc), "bulkOperation");
  if (node == nullptr || !node->IsObject()) {
    return std::nullopt;
  }
  return read_bulk_operation(*node);
}

std::string seconds_text(std::chrono::seconds s) {
  return std::to_string(s.count()) + " s";
}

/// The ids of this app's bulk queries that are running.
std::vector<std::string> running_bulk_queries(admin_api& api) {
  const auto doc = api.graphql(running_bulk_queries_query,
                               variables_writer()
                                   .integer("first", running_bulk_queries_first)
                                   .text("query", running_bulk_queries_filter)
                                   .finish(),
                               running_bulk_queries_cost);
  const rapidjson::Value* list = member(data_of(doc), "bulkOperations");
  const rapidjson::Value* nodes = list != nullptr ? member(*list, "nodes") : nullptr;
  std::vector<std::string> ids;
  if (nodes != nullptr && nodes->IsArray()) {
    for (const auto& node : nodes->GetArray()) {
      const auto operation = read_bulk_operation(node);
      if (!operation.id.empty() && !operation.ended()) {
        ids.push_back(operation.id);
      }
    }
  }
  return ids;
}

/// Polls another operation of this app until it has ended (or is no longer
/// known), by `give_up` at the latest; past it, throws bulk_not_started.
void wait_for_end(admin_api& api, const reconcile_settings& settings, cancel_token& cancel,
                  const std::string& id, std::chrono::steady_clock::time_point give_up) {
  auto pause = std::chrono::milliseconds(250);
  for (;;) {
    const auto operation = poll_bulk(api, id);
    if (!operation || operation->ended()) {
      telemetry::log_event(telemetry::level::info, "bulk_operation_in_progress_ended")
          .field("shop", api.shop())
          .field("operation", id)
          .field("status", operation ? operation->status : "unknown");
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= give_up) {
      throw bulk_not_started("another bulk query of this app (" + id + ", " + operation->status +
                             (operation->created_at
                                  ? ", created " + model::format_rfc3339(*operation->created_at)
                                  : std::string()) +
                             ") was still in progress after the bulk timeout of " +
                             seconds_text(settings.bulk_timeout));
    }
    cancel.sleep_for(
        std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(give_up - now)));
    pause = std::min(pause * 2, settings.bulk_poll_cap);
  }
}

/// Waits for the app's bulk queries in progress that refused a start, by
/// `give_up` at the latest; past it, throws bulk_not_started.
void wait_out_refusal(admin_api& api, const reconcile_settings& settings, cancel_token& cancel,
                      const bulk_start_refusal& refusal, int attempt,
                      std::chrono::steady_clock::time_point give_up) {
  const std::vector<std::string> running = refusal.running_id
                                               ? std::vector<std::string>{*refusal.running_id}
                                               : running_bulk_queries(api);
  std::string names;
  for (const auto& id : running) {
    names += (names.empty() ? "" : ",") + id;
  }
  telemetry::log_event(telemetry::level::warn, "bulk_operation_waiting")
      .field("shop", api.shop())
      .field("attempt", static_cast<std::int64_t>(attempt))
      .field("in_progress", names.empty() ? "none running now" : names)
      .field("refusal", refusal.message);
  for (const auto& id : running) {
    wait_for_end(api, settings, cancel, id, give_up);
  }
  if (running.empty()) {
    // Ended meanwhile, or not running yet (CREATED): try again shortly.
    const auto now = std::chrono::steady_clock::now();
    if (now >= give_up) {
      throw bulk_not_started("another bulk query of this app was still in progress after "
                             "the bulk timeout of " +
                             seconds_text(settings.bulk_timeout) + ": " + refusal.message);
    }
    cancel.sleep_for(
        std::min(std::chrono::milliseconds(1000),
                 std::chrono::duration_cast<std::chrono::milliseconds>(give_up - now)));
  }
}

struct started_bulk {
  std::string id;
  /// No later than Shopify began producing the result.
  model::timestamp observed;
};

/// Starts the products query. Bulk operations are per app and shop, so an
/// operation in progress that refuses the start is this app's own: one a
/// replica left running when it died, or a run the advisory lock should
/// have kept out. It is waited for (polled by id, within the bulk timeout)
/// and the start tried again, max_bulk_starts times in all. Any other
/// refusal, or one that outlasts that, throws bulk_not_started.
started_bulk start_bulk(admin_api& api, const reconcile_settings& settings, cancel_token& cancel,
                        const char* mutation, const char* query) {
  const auto give_up = std::chrono::steady_clock::now() + settings.bulk_timeout;
  for (int attempt = 1;; ++attempt) {
    // A product's state is observed no earlier than the operation's start.
    const model::timestamp asked = model::now();
    const auto doc =
        api.graphql(mutation, variables_writer().text("query", query).finish(), bulk_start_cost);
    const rapidjson::Value* result = member(data_of(doc), "bulkOperationRunQuery");
    const rapidjson::Value* operation = result ? member(*result, "bulkOperation") : nullptr;
    if (operation != nullptr && operation->IsObject()) {
      const auto started = read_bulk_operation(*operation);
      // By either clock: Shopify's own record of the start, or ours.
      const model::timestamp observed =
          started.created_at ? std::min(asked, *started.created_at) : asked;
      telemetry::log_event(telemetry::level::info, "bulk_operation_started")
          .field("shop", api.shop())
          .field("operation", started.id)
          .field("attempt", static_cast<std::int64_t>(attempt));
      return {started.id, observed};
    }
    const bulk_start_refusal refusal = read_bulk_start_refusal(result);
    if (!refusal.in_progress) {
      throw bulk_not_started("the bulk operation did not start: " + refusal.message);
    }
    if (attempt >= max_bulk_starts) {
      throw bulk_not_started("the bulk operation did not start in " +
                             std::to_string(max_bulk_starts) +
                             " attempts, each refused because another bulk query of this app "
                             "was in progress; last: " +
                             refusal.message);
    }
    wait_out_refusal(api, settings, cancel, refusal, attempt, give_up);
  }
}

struct completed_bulk {
  bulk_operation_state status;
  model::timestamp observed;
};

/// Runs `query` as a bulk operation to completion (start_bulk, then polls
/// with bulkOperation(id:)). Throws bulk_not_started, or admin_api_error if
/// it ends any other way.
completed_bulk run_bulk(admin_api& api, const reconcile_settings& settings, cancel_token& cancel,
                        const char* mutation, const char* query) {
  const started_bulk started = start_bulk(api, settings, cancel, mutation, query);
  const std::string& id = started.id;

  const auto give_up = std::chrono::steady_clock::now() + settings.bulk_timeout;
  auto pause = std::chrono::milliseconds(250);
  bulk_operation_state status;
  for (;;) {
    auto polled = poll_bulk(api, id);
    if (!polled) {
      throw admin_api_error("the bulk operation " + id + " is unknown to the Admin API");
    }
    status = std::move(*polled);
    if (status.status == "COMPLETED") {
      break;
    }
    if (status.ended()) {
      // A partial result is never applied: a run that did not see the
      // whole catalog must not sweep, and half a listing is no repair.
      throw admin_api_error("the bulk operation " + id + " ended " + status.status +
                            (status.error_code.empty() ? "" : " (" + status.error_code + ")"));
    }
    if (std::chrono::steady_clock::now() > give_up) {
      throw admin_api_error("the bulk operation " + id + " did not complete in time");
    }
    cancel.sleep_for(pause);
    pause = std::min(pause * 2, settings.bulk_poll_cap);
  }
  const auto count_field = [](const std::optional<std::uint64_t>& count) {
    return count ? static_cast<std::int64_t>(*count) : std::int64_t{-1};
  };
  telemetry::log_event(telemetry::level::info, "bulk_operation_completed")
      .field("shop", api.shop())
      .field("operation", id)
      .field("objects", count_field(status.object_count))
      .field("roots", count_field(status.root_object_count))
      .field("created_at", status.created_at ? model::format_rfc3339(*status.created_at) : "")
      .field("completed_at",
             status.completed_at ? model::format_rfc3339(*status.completed_at) : "");
  // An empty listing sweeps every product of the shop: believe one only
  // when Shopify counted no objects (it gives no file for an empty result).
  if (status.url.empty() &&
      !(status.object_count == 0u && status.root_object_count.value_or(0) == 0)) {
    throw admin_api_error("the bulk operation " + id + " completed with " +
                          (status.object_count ? std::to_string(*status.object_count) : "no") +
                          " objects but no result URL");
  }
  return {std::move(status), started.observed};
}

/// Streams a completed operation's result through `reader`, then checks
/// that it held exactly the objects and the roots (`roots`: what they are)
/// Shopify counted.
template <class Reader>
void read_bulk_result(admin_api& api, const bulk_operation_state& status, Reader& reader,
                      std::string_view roots) {
  if (!status.url.empty()) {
    api.download(status.url, [&](std::string_view piece) { reader.feed(piece); });
  }
  reader.finish();
  if (const std::string mismatch =
          bulk_count_mismatch(status, reader.lines(), reader.roots(), reader.unreadable(), roots);
      !mismatch.empty()) {
    throw admin_api_error(mismatch);
  }
}

} // namespace

void list_by_bulk_or_pages(const db::run_record& run, const std::function<void()>& by_bulk,
                           const std::function<void()>& by_pages) {
  try {
    by_bulk();
    return;
  } catch (const bulk_not_started& e) {
    telemetry::log_event(telemetry::level::warn, "bulk_operation_refused")
        .field("shop", run.shop)
        .field("run_id", run.id)
        .field("error", e.what())
        .field("fallback", to_string(db::run_mode::paginated));
  }
  by_pages();
}

void list_by_bulk_operation(admin_api& api, const reconcile_settings& settings,
                            cancel_token& cancel, const listing_sink& sink) {
  const completed_bulk done =
      run_bulk(api, settings, cancel, bulk_products_start, bulk_products_query);
  const model::timestamp observed = done.observed;
  bulk_jsonl_reader reader(
      [&](db::listed_product product) { sink.product(std::move(product), observed); },
      [&](db::failed_product failed) { sink.failed(std::move(failed)); });
  read_bulk_result(api, done.status, reader, "products");
}

void list_barcodes_by_bulk_operation(admin_api& api, const reconcile_settings& settings,
                                     cancel_token& cancel, const barcodes_sink& sink) {
  const completed_bulk done =
      run_bulk(api, settings, cancel, bulk_barcodes_start, bulk_barcodes_query);
  const model::timestamp observed = done.observed;
  bulk_barcodes_reader reader(
      [&](model::variant_barcodes variant) { sink.variant(std::move(variant), observed); },
      [&](std::string reason) { sink.failed(std::move(reason)); });
  read_bulk_result(api, done.status, reader, "variants");
}

void list_barcodes_by_pages(admin_api& api, std::optional<model::timestamp> since,
                            const barcodes_sink& sink) {
  const std::optional<std::string> filter = updated_since_filter(since);
  std::string cursor;
  for (;;) {
    // As many as one query may cost; SHOPMIRROR_RECONCILE_PAGE_SIZE counts
    // products, which cost four times as much.
    int first = max_barcodes_page_size;
    if (const auto capacity = api.bucket_capacity()) {
      first = std::clamp(static_cast<int>((*capacity - 2) / barcodes_node_cost), 1, first);
    }
    const model::timestamp observed = model::now();
    const auto doc = api.graphql(barcodes_page_query,
                                 variables_writer()
                                     .integer("first", first)
                                     .text_or_null("after", after_cursor(cursor))
                                     .text_or_null("query", filter)
                                     .finish(),
                                 2 + first * barcodes_node_cost);
    const rapidjson::Value* variants = member(data_of(doc), "productVariants");
    const rapidjson::Value* nodes = variants ? member(*variants, "nodes") : nullptr;
    if (nodes == nullptr || !nodes->IsArray()) {
      throw admin_api_error("a productVariants page came without nodes");
    }
    for (const auto& node : nodes->GetArray()) {
      auto mapped = model::map_graphql_variant_barcodes(node, true);
      if (auto* error = std::get_if<model::graphql_error>(&mapped)) {
        sink.failed(std::move(error->reason));
      } else {
        sink.variant(std::move(std::get<model::variant_barcodes>(mapped)), observed);
      }
    }
    const rapidjson::Value* info = member(*variants, "pageInfo");
    const rapidjson::Value* more = info ? member(*info, "hasNextPage") : nullptr;
    if (more == nullptr || !more->IsBool() || !more->GetBool()) {
      return;
    }
    cursor = text_of(member(*info, "endCursor"));
    if (cursor.empty()) {
      throw admin_api_error("a productVariants page says there is more but gives no cursor");
    }
  }
}

void list_by_pages(admin_api& api, const reconcile_settings& settings,
                   std::optional<model::timestamp> since, const listing_sink& sink) {
  const std::optional<std::string> filter = updated_since_filter(since);
  std::string cursor;
  for (;;) {
    // The bucket's size, once known, bounds a page; the first page is one
    // product, cheap enough for any bucket, and teaches it.
    int first = std::clamp(settings.page_size, 1, max_page_size);
    if (const auto capacity = api.bucket_capacity()) {
      first = std::clamp(static_cast<int>((*capacity - 2) / product_node_cost), 1, first);
    } else {
      first = 1;
    }
    const model::timestamp observed = model::now();
    auto doc = api.graphql(products_page_query,
                           variables_writer()
                               .integer("first", first)
                               .text_or_null("after", after_cursor(cursor))
                               .text_or_null("query", filter)
                               .finish(),
                           2 + first * product_node_cost);
    rapidjson::Value* products = member(doc["data"], "products");
    rapidjson::Value* nodes = products ? member(*products, "nodes") : nullptr;
    if (nodes == nullptr || !nodes->IsArray()) {
      throw admin_api_error("a products page came without nodes");
    }
    for (auto& node : nodes->GetArray()) {
      mapped_node mapped = map_node(api, node, doc.GetAllocator());
      if (auto* product = std::get_if<db::listed_product>(&mapped)) {
        sink.product(std::move(*product), observed);
      } else if (auto* failed = std::get_if<db::failed_product>(&mapped)) {
        sink.failed(std::move(*failed));
      }
    }
    const rapidjson::Value* info = member(*products, "pageInfo");
    const rapidjson::Value* more = info ? member(*info, "hasNextPage") : nullptr;
    if (more == nullptr || !more->IsBool() || !more->GetBool()) {
      return;
    }
    cursor = text_of(member(*info, "endCursor"));
    if (cursor.empty()) {
      throw admin_api_error("a products page says there is more but gives no cursor");
    }
  }
}

std::optional<db::listed_product> fetch_product(admin_api& api, std::int64_t product_id) {
  auto doc = api.graphql(
      product_query,
      variables_writer().text("id", "gid://shopify/Product/" + std::to_string(product_id)).finish(),
      product_node_cost);
  rapidjson::Value* product = member(doc["data"], "product");
  if (product == nullptr || product->IsNull()) {
    return std::nullopt;
  }
  mapped_node mapped = map_node(api, *product, doc.GetAllocator());
  if (auto* failed = std::get_if<db::failed_product>(&mapped)) {
    throw admin_api_error("product " + std::to_string(product_id) +
                          " cannot be read: " + failed->reason);
  }
  if (auto* listed = std::get_if<db::listed_product>(&mapped)) {
    return std::move(*listed);
  }
  return std::nullopt;
}

void verify_shop(admin_api& api, const std::string& domain) {
  const auto doc = api.graphql(shop_identity_query, "{}", 1);
  const rapidjson::Value* shop = member(data_of(doc), "shop");
  std::string answered = text_of(shop != nullptr ? member(*shop, "myshopifyDomain") : nullptr);
  std::transform(answered.begin(), answered.end(), answered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (answered != domain) {
    throw admin_api_error(
        "the Admin API answers for " + (answered.empty() ? "no shop" : answered) + ", not " +
        domain +
        ": its token or address (SHOPMIRROR_ADMIN_API_URL, admin_api_url) belongs to "
        "another store; nothing was applied");
  }
}

} // namespace shopmirror::reconcile

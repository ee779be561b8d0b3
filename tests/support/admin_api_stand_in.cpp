#include "tests/support/admin_api_stand_in.hpp"

#include "crypto/base64.hpp"
#include "ingest/http_read.hpp"
#include "model/timestamp.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <span>
#include <thread>
#include <variant>

namespace shopmirror::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view product_gid = "gid://shopify/Product/";
constexpr std::string_view variant_gid = "gid://shopify/ProductVariant/";
constexpr std::string_view bulk_gid = "gid://shopify/BulkOperation/";
constexpr int variants_per_product_node = 100;
constexpr int variants_per_variants_page = 250;
constexpr int max_page_size = 250;

// The costs the stand-in charges; the reconcile client plans by the same
// numbers (see the brief in admin_api_stand_in.hpp).
constexpr int products_page_fixed_cost = 2;
constexpr int products_page_cost_per_product = 103;
constexpr int variants_page_cost = 253;
constexpr int product_by_id_cost = 103;
// A variant, its product and barcodes(first: 20), in a productVariants page.
constexpr int barcodes_node_cost = 24;
constexpr int bulk_start_cost = 10;
constexpr int bulk_status_cost = 1;
constexpr int bulk_list_fixed_cost = 2; // plus one a node asked for

struct stored_product {
  model::product_state state;
  std::vector<std::string> option_names;
  /// Variants' barcodes set with set_barcodes, by variant id. A variant
  /// without an entry has the one its `barcode` names, or none.
  std::map<std::int64_t, std::vector<model::barcode>> barcodes;

  std::vector<model::barcode> barcodes_of(const model::variant_state& v) const {
    if (const auto it = barcodes.find(v.id); it != barcodes.end()) {
      return it->second;
    }
    if (v.barcode) {
      return {model::barcode{std::nullopt, *v.barcode}};
    }
    return {};
  }
};
using product_ptr = std::shared_ptr<const stored_product>;
using catalog_map = std::map<std::int64_t, product_ptr>;
using product_list = std::shared_ptr<const std::vector<product_ptr>>;

struct bulk_operation {
  std::int64_t id = 0;
  std::string status = "CREATED";
  int polls = 0;
  /// Status polls answered RUNNING before the one that completes it;
  /// negative: it never completes.
  int running_polls = 1;
  bool grouped = true;
  /// A productVariants query for barcodes, not a products query.
  bool barcodes = false;
  bool fails = false;
  double partial_share = 0.5;
  int root_difference = 0; // a miscounted rootObjectCount
  product_list data;       // what /bulk/<id>.jsonl serves, from completion on
  std::size_t object_count = 0;
  std::size_t root_object_count = 0;
  model::timestamp created_at;
  std::optional<model::timestamp> completed_at;

  bool in_progress() const { return status == "CREATED" || status == "RUNNING"; }
};

// What the session sends: a complete body, or the JSONL of a product list.
struct answer {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  product_list stream;
  bool grouped = true;   // how `stream` is written
  bool barcodes = false; // `stream` as the barcodes listing's lines
};

answer json_answer(unsigned status, std::string body) {
  answer a;
  a.status = status;
  a.body = std::move(body);
  a.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  return a;
}

std::string format_time(model::timestamp t) {
  const std::int64_t micros = t.micros_since_epoch;
  std::int64_t seconds = micros / 1000000;
  std::int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  const auto as_time = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&as_time, &tm);
  char text[40];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  if (fraction != 0) {
    n += static_cast<std::size_t>(
        std::snprintf(text + n, sizeof text - n, ".%06lld", static_cast<long long>(fraction)));
  }
  return std::string(text, n) + "Z";
}

std::optional<std::int64_t> parse_int64(std::string_view digits) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty()) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::int64_t> parse_gid(std::string_view gid, std::string_view prefix) {
  if (gid.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  return parse_int64(gid.substr(prefix.size()));
}

std::optional<std::int64_t> parse_cursor(std::string_view cursor) {
  const auto decoded = crypto::base64_decode(cursor);
  if (!decoded) {
    return std::nullopt;
  }
  return parse_int64(*decoded);
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

void write_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_optional(json_writer& w, const std::optional<std::string>& s) {
  if (s) {
    write_string(w, *s);
  } else {
    w.Null();
  }
}

void write_optional_time(json_writer& w, const std::optional<model::timestamp>& t) {
  if (t) {
    write_string(w, format_time(*t));
  } else {
    w.Null();
  }
}

void write_key(json_writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

// PRODUCT_FIELDS. The object is left open for the caller.
void write_product_fields(json_writer& w, const stored_product& stored) {
  const auto& p = stored.state;
  write_key(w, "id");
  write_string(w, std::string(product_gid) + std::to_string(p.id));
  write_key(w, "legacyResourceId");
  write_string(w, std::to_string(p.id));
  write_key(w, "title");
  write_optional(w, p.title);
  write_key(w, "handle");
  write_optional(w, p.handle);
  write_key(w, "vendor");
  write_optional(w, p.vendor);
  write_key(w, "productType");
  write_optional(w, p.product_type);
  write_key(w, "status");
  if (p.status) {
    write_string(w, upper(*p.status));
  } else {
    w.Null();
  }
  write_key(w, "tags");
  std::vector<std::string> tags = p.tags;
  std::sort(tags.begin(), tags.end());
  w.StartArray();
  for (const auto& tag : tags) {
    write_string(w, tag);
  }
  w.EndArray();
  write_key(w, "descriptionHtml");
  write_string(w, p.body_html.value_or(""));
  write_key(w, "createdAt");
  write_optional_time(w, p.created_at);
  write_key(w, "updatedAt");
  write_string(w, format_time(p.updated_at));
  write_key(w, "publishedAt");
  write_optional_time(w, p.published_at);
  write_key(w, "category");
  if (p.category) {
    w.StartObject();
    write_key(w, "id");
    write_string(w, p.category->id);
    write_key(w, "name");
    write_string(w, p.category->name);
    write_key(w, "fullName");
    write_string(w, p.category->full_name);
    w.EndObject();
  } else {
    w.Null();
  }
}

// VARIANT_FIELDS. The object is left open for the caller.
void write_variant_fields(json_writer& w, const model::variant_state& v,
                          const std::vector<std::string>& option_names) {
  write_key(w, "id");
  write_string(w, std::string(variant_gid) + std::to_string(v.id));
  write_key(w, "legacyResourceId");
  write_string(w, std::to_string(v.id));
  write_key(w, "sku");
  write_optional(w, v.sku);
  write_key(w, "title");
  write_optional(w, v.title);
  write_key(w, "price");
  write_optional(w, v.price);
  write_key(w, "compareAtPrice");
  write_optional(w, v.compare_at_price);
  write_key(w, "position");
  if (v.position) {
    w.Int(*v.position);
  } else {
    w.Null();
  }
  write_key(w, "selectedOptions");
  w.StartArray();
  const std::optional<std::string>* options[] = {&v.option1, &v.option2, &v.option3};
  for (std::size_t i = 0; i < 3; ++i) {
    if (!*options[i]) {
      continue;
    }
    w.StartObject();
    write_key(w, "name");
    write_string(w, i < option_names.size() ? option_names[i] : "Option" + std::to_string(i + 1));
    write_key(w, "value");
    write_string(w, **options[i]);
    w.EndObject();
  }
  w.EndArray();
  write_key(w, "barcode");
  write_optional(w, v.barcode);
  write_key(w, "inventoryQuantity");
  if (v.inventory_quantity) {
    w.Int64(*v.inventory_quantity);
  } else {
    w.Null();
  }
  write_key(w, "updatedAt");
  write_optional_time(w, v.updated_at);
}

// A connection's pageInfo, its end cursor that of the last node's id.
void write_page_info(json_writer& w, bool has_next, std::optional<std::int64_t> last_id) {
  write_key(w, "pageInfo");
  w.StartObject();
  write_key(w, "hasNextPage");
  w.Bool(has_next);
  write_key(w, "endCursor");
  if (last_id) {
    write_string(w, stand_in_cursor(*last_id));
  } else {
    w.Null();
  }
  w.EndObject();
}

// A variants connection of `p` from index `start`, at most `count` nodes.
// Returns the number of nodes written.
std::size_t write_variants_connection(json_writer& w, const stored_product& p, std::size_t start,
                                      std::size_t count) {
  const auto& variants = p.state.variants;
  const std::size_t end = std::min(variants.size(), start + count);
  w.StartObject();
  write_key(w, "nodes");
  w.StartArray();
  for (std::size_t i = start; i < end; ++i) {
    w.StartObject();
    write_variant_fields(w, variants[i], p.option_names);
    w.EndObject();
  }
  w.EndArray();
  write_key(w, "pageInfo");
  w.StartObject();
  write_key(w, "hasNextPage");
  w.Bool(end < variants.size());
  write_key(w, "endCursor");
  if (end > start) {
    write_string(w, stand_in_cursor(variants[end - 1].id));
  } else {
    w.Null();
  }
  w.EndObject();
  w.EndObject();
  return end > start ? end - start : 0;
}

// A product node with its first 100 variants; returns the variants written.
std::size_t write_product_node(json_writer& w, const stored_product& p) {
  w.StartObject();
  write_product_fields(w, p);
  write_key(w, "variants");
  const std::size_t n = write_variants_connection(w, p, 0, variants_per_product_node);
  w.EndObject();
  return n;
}

// The JSONL line of one product.
void append_product_line(std::string& out, const stored_product& p) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  write_product_fields(w, p);
  w.EndObject();
  out.append(buffer.GetString(), buffer.GetSize());
  out += '\n';
}

// The JSONL lines of one product's variants, each naming it in __parentId.
void append_variant_lines(std::string& out, const stored_product& p) {
  rapidjson::StringBuffer buffer;
  const std::string parent = std::string(product_gid) + std::to_string(p.state.id);
  for (const auto& v : p.state.variants) {
    buffer.Clear();
    json_writer w(buffer);
    w.StartObject();
    write_variant_fields(w, v, p.option_names);
    write_key(w, "__parentId");
    write_string(w, parent);
    w.EndObject();
    out.append(buffer.GetString(), buffer.GetSize());
    out += '\n';
  }
}

// A barcodes listing's node or line of a variant, without its barcodes: the
// object is left open for the caller.
void write_barcodes_variant_fields(json_writer& w, const stored_product& p,
                                   const model::variant_state& v) {
  write_key(w, "id");
  write_string(w, std::string(variant_gid) + std::to_string(v.id));
  write_key(w, "product");
  w.StartObject();
  write_key(w, "id");
  write_string(w, std::string(product_gid) + std::to_string(p.state.id));
  w.EndObject();
}

void write_barcode_fields(json_writer& w, const model::barcode& b) {
  write_key(w, "type");
  write_optional(w, b.type);
  write_key(w, "value");
  write_string(w, b.value);
}

// The barcodes listing's JSONL lines of one product's variants: each
// variant's line (`roots`), each of its barcodes' lines (`children`), or
// both, each variant followed by its barcodes.
void append_barcode_lines(std::string& out, const stored_product& p, bool roots, bool children) {
  rapidjson::StringBuffer buffer;
  for (const auto& v : p.state.variants) {
    if (roots) {
      buffer.Clear();
      json_writer w(buffer);
      w.StartObject();
      write_barcodes_variant_fields(w, p, v);
      w.EndObject();
      out.append(buffer.GetString(), buffer.GetSize());
      out += '\n';
    }
    if (!children) {
      continue;
    }
    const std::string parent = std::string(variant_gid) + std::to_string(v.id);
    for (const auto& b : p.barcodes_of(v)) {
      buffer.Clear();
      json_writer w(buffer);
      w.StartObject();
      write_barcode_fields(w, b);
      write_key(w, "__parentId");
      write_string(w, parent);
      w.EndObject();
      out.append(buffer.GetString(), buffer.GetSize());
      out += '\n';
    }
  }
}

// `updated_at:>='2026-11-28T10:00:00Z'` (or `>`), quoted or not.
struct updated_filter {
  model::timestamp since;
  bool inclusive = true;
};

std::optional<updated_filter> parse_filter(std::string_view query) {
  constexpr std::string_view field = "updated_at:";
  if (query.substr(0, field.size()) != field) {
    return std::nullopt;
  }
  query.remove_prefix(field.size());
  updated_filter filter;
  if (query.substr(0, 2) == ">=") {
    query.remove_prefix(2);
  } else if (query.substr(0, 1) == ">") {
    filter.inclusive = false;
    query.remove_prefix(1);
  } else {
    return std::nullopt;
  }
  if (query.size() >= 2 && (query.front() == '\'' || query.front() == '"') &&
      query.back() == query.front()) {
    query = query.substr(1, query.size() - 2);
  }
  const auto since = model::parse_rfc3339(query);
  if (!since) {
    return std::nullopt;
  }
  filter.since = *since;
  return filter;
}

// The identifier after the leading `query` or `mutation` keyword.
std::string operation_name(std::string_view query) {
  auto skip_space = [&] {
    while (!query.empty() && (std::isspace(static_cast<unsigned char>(query.front())) != 0)) {
      query.remove_prefix(1);
    }
  };
  skip_space();
  for (std::string_view keyword : {"query", "mutation"}) {
    if (query.substr(0, keyword.size()) == keyword) {
      query.remove_prefix(keyword.size());
      skip_space();
      std::size_t n = 0;
      while (n < query.size() &&
             (std::isalnum(static_cast<unsigned char>(query[n])) != 0 || query[n] == '_')) {
        ++n;
      }
      return std::string(query.substr(0, n));
    }
  }
  return {};
}

std::string errors_body(std::string_view message) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  write_key(w, "errors");
  w.StartArray();
  w.StartObject();
  write_key(w, "message");
  write_string(w, message);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

// A parsed GraphQL request.
struct graphql_request {
  std::string version; // the API version of the path
  std::string operation;
  std::string query; // the document's text
  rapidjson::Document document;
  const rapidjson::Value* variables = nullptr;

  const rapidjson::Value* variable(const char* name) const {
    if (variables == nullptr || !variables->IsObject()) {
      return nullptr;
    }
    const auto it = variables->FindMember(name);
    if (it == variables->MemberEnd() || it->value.IsNull()) {
      return nullptr;
    }
    return &it->value;
  }
  std::optional<std::string_view> string_variable(const char* name) const {
    const auto* v = variable(name);
    if (v == nullptr || !v->IsString()) {
      return std::nullopt;
    }
    return std::string_view(v->GetString(), v->GetStringLength());
  }
};

// Fills `r` in place: `variables` points into its document.
void parse_graphql(const std::string& body, graphql_request& r) {
  r.document.Parse(body.data(), body.size());
  if (r.document.HasParseError() || !r.document.IsObject()) {
    return;
  }
  const auto query = r.document.FindMember("query");
  if (query == r.document.MemberEnd() || !query->value.IsString()) {
    return;
  }
  r.query.assign(query->value.GetString(), query->value.GetStringLength());
  r.operation = operation_name(r.query);
  const auto variables = r.document.FindMember("variables");
  if (variables != r.document.MemberEnd()) {
    r.variables = &variables->value;
  }
}

// The groupObjects argument in a request's document: a literal, or a
// Boolean variable. `value` is unset when the argument is not given;
// `error` says why a value given cannot be read.
struct boolean_argument {
  std::optional<bool> value;
  std::string error;
};

boolean_argument group_objects_argument(const graphql_request& r) {
  constexpr std::string_view name = "groupObjects";
  const std::string_view text = r.query;
  for (std::size_t at = text.find(name); at != std::string_view::npos;
       at = text.find(name, at + name.size())) {
    if (at > 0 && text[at - 1] == '$') {
      continue; // a variable's declaration or use, not the argument
    }
    std::string_view rest = text.substr(at + name.size());
    const auto skip_space = [&] {
      while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front())) != 0) {
        rest.remove_prefix(1);
      }
    };
    skip_space();
    if (rest.empty() || rest.front() != ':') {
      continue;
    }
    rest.remove_prefix(1);
    skip_space();
    if (rest.substr(0, 4) == "true") {
      return {true, {}};
    }
    if (rest.substr(0, 5) == "false") {
      return {false, {}};
    }
    if (!rest.empty() && rest.front() == '$') {
      std::size_t n = 1;
      while (n < rest.size() &&
             (std::isalnum(static_cast<unsigned char>(rest[n])) != 0 || rest[n] == '_')) {
        ++n;
      }
      const std::string variable(rest.substr(1, n - 1));
      const auto* value = r.variable(variable.c_str());
      if (value == nullptr || !value->IsBool()) {
        return {std::nullopt,
                "Variable $" + variable + " of type Boolean! was provided invalid value"};
      }
      return {value->GetBool(), {}};
    }
    return {std::nullopt, "Argument 'groupObjects' on Field 'bulkOperationRunQuery' has an "
                          "invalid value. Expected type 'Boolean!'."};
  }
  return {};
}

// A bulkOperations search: `operation_type:query status:running`, terms in
// any order, values in any case.
struct bulk_filter {
  std::optional<std::string> operation_type;
  std::optional<std::string> status;
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::optional<bulk_filter> parse_bulk_filter(std::string_view query) {
  bulk_filter filter;
  std::size_t at = 0;
  while (at < query.size()) {
    if (std::isspace(static_cast<unsigned char>(query[at])) != 0) {
      ++at;
      continue;
    }
    std::size_t end = at;
    while (end < query.size() && std::isspace(static_cast<unsigned char>(query[end])) == 0) {
      ++end;
    }
    const std::string_view term = query.substr(at, end - at);
    at = end;
    const auto colon = term.find(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string key(term.substr(0, colon));
    const std::string value = lower(std::string(term.substr(colon + 1)));
    if (key == "operation_type" && (value == "query" || value == "mutation")) {
      filter.operation_type = value;
    } else if (key == "status" && !value.empty()) {
      filter.status = value;
    } else {
      return std::nullopt;
    }
  }
  return filter;
}

// `/admin/api/{version}/graphql.json` -> version.
std::optional<std::string> graphql_version(std::string_view path) {
  constexpr std::string_view prefix = "/admin/api/";
  constexpr std::string_view suffix = "/graphql.json";
  if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix ||
      path.substr(path.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  const auto version = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (version.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(version);
}

// `/bulk/<id>.jsonl` -> id.
std::optional<std::int64_t> bulk_download_id(std::string_view path) {
  constexpr std::string_view prefix = "/bulk/";
  constexpr std::string_view suffix = ".jsonl";
  if (path.size() <= prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix ||
      path.substr(path.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  return parse_int64(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
}

// A fault to inject, taken from the knobs for one request.
struct fault {
  enum class kind { none, drop, too_many, server_error } what = kind::none;
  unsigned status = 0;
  int retry_after = 1;
  std::chrono::milliseconds delay{0};
};

} // namespace

std::string stand_in_cursor(std::int64_t id) {
  const std::string digits = std::to_string(id);
  return crypto::base64_encode(std::span<const unsigned char>(
      reinterpret_cast<const unsigned char*>(digits.data()), digits.size()));
}

struct admin_api_stand_in::impl {
  admin_api_settings settings;
  std::string base_url;
  std::uint16_t port = 0;

  mutable std::mutex mutex;
  catalog_map catalog;
  std::function<void(std::string_view)> hook;
  admin_api_counters counters;

  // The cost bucket, leaking continuously.
  double available = 0;
  std::chrono::steady_clock::time_point leaked_at = std::chrono::steady_clock::now();

  // Bulk operations, kept so their URLs stay downloadable.
  std::map<std::int64_t, bulk_operation> bulk;
  std::int64_t next_bulk_id = 1;
  std::optional<std::string> fail_next_start;
  std::optional<double> fail_next_operation;
  std::optional<int> miscount_next_roots;

  // Fault knobs: how many requests each still applies to.
  int drops_left = 0;
  int too_many_left = 0;
  int retry_after_seconds = 1;
  int server_errors_left = 0;
  unsigned server_error_status = 503;
  int delays_left = 0;
  std::chrono::milliseconds delay{0};

  // The io_context goes before the acceptor and the thread, so it outlives
  // them; members are destroyed in reverse order.
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;

  token_authority oauth;
  subscription_registry subscriptions;

  explicit impl(admin_api_settings s) : settings(std::move(s)), oauth(settings.oauth) {
    available = settings.maximum_available;
  }

  // --- The bucket (mutex held) ---

  void leak() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - leaked_at).count();
    available = std::min(settings.maximum_available, available + seconds * settings.restore_rate);
    leaked_at = now;
  }

  void write_cost(json_writer& w, int requested, std::optional<int> actual) const {
    write_key(w, "extensions");
    w.StartObject();
    write_key(w, "cost");
    w.StartObject();
    write_key(w, "requestedQueryCost");
    w.Int(requested);
    write_key(w, "actualQueryCost");
    if (actual) {
      w.Int(*actual);
    } else {
      w.Null();
    }
    write_key(w, "throttleStatus");
    w.StartObject();
    write_key(w, "maximumAvailable");
    w.Double(settings.maximum_available);
    write_key(w, "currentlyAvailable");
    w.Int64(static_cast<std::int64_t>(std::floor(available)));
    write_key(w, "restoreRate");
    w.Double(settings.restore_rate);
    w.EndObject();
    w.EndObject();
    w.EndObject();
  }

  // Charges `requested` up front; on refusal the THROTTLED (or max cost)
  // answer to send instead.
  std::optional<answer> charge(int requested) {
    leak();
    const bool too_big = requested > settings.maximum_available;
    if (!too_big && requested <= available) {
      available -= requested;
      return std::nullopt;
    }
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "errors");
    w.StartArray();
    w.StartObject();
    write_key(w, "message");
    if (too_big) {
      ++counters.max_cost_exceeded;
      write_string(w, "Query cost is " + std::to_string(requested) +
                          ", which exceeds the single query max cost limit (" +
                          std::to_string(static_cast<int>(settings.maximum_available)) + ").");
    } else {
      ++counters.throttled;
      write_string(w, "Throttled");
    }
    write_key(w, "extensions");
    w.StartObject();
    write_key(w, "code");
    write_string(w, too_big ? "MAX_COST_EXCEEDED" : "THROTTLED");
    write_key(w, "documentation");
    write_string(w, "https://shopify.dev/api/usage/rate-limits");
    w.EndObject();
    w.EndObject();
    w.EndArray();
    write_cost(w, requested, std::nullopt);
    w.EndObject();
    return json_answer(too_big ? 200 : settings.throttled_status,
                       std::string(buffer.GetString(), buffer.GetSize()));
  }

  // Refunds what was charged but not used, and closes the response with
  // its cost.
  std::string finish(rapidjson::StringBuffer& buffer, json_writer& w, int requested, int actual) {
    available = std::min(settings.maximum_available, available + (requested - actual));
    write_cost(w, requested, actual);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
  }

  // --- The operations (mutex held) ---

  // A connection's arguments ($first, $after, $query as an updated_at
  // search), or the error answer Shopify gives for them.
  struct page_arguments {
    int first = 0;
    std::optional<std::int64_t> after_id;
    std::optional<updated_filter> filter;
  };
  static std::variant<page_arguments, answer> read_page_arguments(const graphql_request& r,
                                                                  std::string_view searched) {
    page_arguments a;
    const auto* first_value = r.variable("first");
    if (first_value == nullptr || !first_value->IsInt() || first_value->GetInt() < 1 ||
        first_value->GetInt() > max_page_size) {
      return json_answer(200, errors_body("$first must be an Int from 1 to 250"));
    }
    a.first = first_value->GetInt();
    if (const auto after = r.string_variable("after")) {
      a.after_id = parse_cursor(*after);
      if (!a.after_id) {
        return json_answer(200, errors_body("Invalid cursor for current pagination."));
      }
    }
    if (const auto query = r.string_variable("query"); query && !query->empty()) {
      a.filter = parse_filter(*query);
      if (!a.filter) {
        return json_answer(200, errors_body("stand-in: unsupported " + std::string(searched) +
                                            " search: " + std::string(*query)));
      }
    }
    return a;
  }

  answer products_page(const graphql_request& r) {
    auto arguments = read_page_arguments(r, "product");
    if (auto* refused = std::get_if<answer>(&arguments)) {
      return std::move(*refused);
    }
    const page_arguments& a = std::get<page_arguments>(arguments);
    const int first = a.first;
    const std::optional<updated_filter>& filter = a.filter;
    auto it = a.after_id ? catalog.upper_bound(*a.after_id) : catalog.begin();
    const int requested = products_page_fixed_cost + first * products_page_cost_per_product;
    if (auto refused = charge(requested)) {
      return std::move(*refused);
    }
    auto matches = [&](const stored_product& p) {
      if (!filter) {
        return true;
      }
      return filter->inclusive ? p.state.updated_at >= filter->since
                               : p.state.updated_at > filter->since;
    };
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "products");
    w.StartObject();
    write_key(w, "nodes");
    w.StartArray();
    int returned = 0;
    int actual = products_page_fixed_cost;
    std::optional<std::int64_t> last_id;
    for (; it != catalog.end() && returned < first; ++it) {
      if (!matches(*it->second)) {
        continue;
      }
      const std::size_t variants = write_product_node(w, *it->second);
      actual += 3 + static_cast<int>(variants);
      last_id = it->first;
      ++returned;
    }
    w.EndArray();
    bool has_next = false;
    for (; it != catalog.end(); ++it) {
      if (matches(*it->second)) {
        has_next = true;
        break;
      }
    }
    write_page_info(w, has_next, last_id);
    w.EndObject(); // products
    w.EndObject(); // data
    return json_answer(200, finish(buffer, w, requested, actual));
  }

  const stored_product* product_for(const graphql_request& r) const {
    const auto id = r.string_variable("id");
    if (!id) {
      return nullptr;
    }
    const auto product_id = parse_gid(*id, product_gid);
    if (!product_id) {
      return nullptr;
    }
    const auto it = catalog.find(*product_id);
    return it == catalog.end() ? nullptr : it->second.get();
  }

  answer product_variants_page(const graphql_request& r) {
    if (auto refused = charge(variants_page_cost)) {
      return std::move(*refused);
    }
    const stored_product* p = product_for(r);
    std::size_t start = 0;
    if (p != nullptr) {
      if (const auto after = r.string_variable("after")) {
        const auto after_id = parse_cursor(*after);
        const auto& variants = p->state.variants;
        const auto found = after_id ? std::find_if(variants.begin(), variants.end(),
                                                   [&](const auto& v) { return v.id == *after_id; })
                                    : variants.end();
        if (found == variants.end()) {
          available = std::min(settings.maximum_available, available + variants_page_cost);
          return json_answer(200, errors_body("Invalid cursor for current pagination."));
        }
        start = static_cast<std::size_t>(found - variants.begin()) + 1;
      }
    }
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "product");
    if (p == nullptr) {
      w.Null();
    } else {
      w.StartObject();
      write_key(w, "variants");
      write_variants_connection(w, *p, start, variants_per_variants_page);
      w.EndObject();
    }
    w.EndObject();
    return json_answer(200, finish(buffer, w, variants_page_cost, variants_page_cost));
  }

  // productVariants(first:, after:, query:, sortKey: ID) with each
  // variant's product id and barcodes(first: 20).
  answer barcodes_page(const graphql_request& r) {
    auto arguments = read_page_arguments(r, "variant");
    if (auto* refused = std::get_if<answer>(&arguments)) {
      return std::move(*refused);
    }
    const page_arguments& a = std::get<page_arguments>(arguments);
    const int first = a.first;
    const std::optional<std::int64_t>& after_id = a.after_id;
    const std::optional<updated_filter>& filter = a.filter;
    const int requested = products_page_fixed_cost + first * barcodes_node_cost;
    if (auto refused = charge(requested)) {
      return std::move(*refused);
    }
    // Every variant of the catalog that the search matches, by id.
    std::map<std::int64_t, std::pair<const stored_product*, const model::variant_state*>> found;
    for (const auto& [id, p] : catalog) {
      for (const auto& v : p->state.variants) {
        if ((after_id && v.id <= *after_id) ||
            (filter && !(v.updated_at && (filter->inclusive ? *v.updated_at >= filter->since
                                                            : *v.updated_at > filter->since)))) {
          continue;
        }
        found.emplace(v.id, std::pair{p.get(), &v});
      }
    }
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "productVariants");
    w.StartObject();
    write_key(w, "nodes");
    w.StartArray();
    int returned = 0;
    int actual = products_page_fixed_cost;
    std::optional<std::int64_t> last_id;
    for (const auto& [id, found_variant] : found) {
      if (returned == first) {
        break;
      }
      const auto& [p, v] = found_variant;
      const auto barcodes = p->barcodes_of(*v);
      w.StartObject();
      write_barcodes_variant_fields(w, *p, *v);
      write_key(w, "barcodes");
      w.StartObject();
      write_key(w, "nodes");
      w.StartArray();
      for (const auto& b : barcodes) {
        w.StartObject();
        write_barcode_fields(w, b);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
      w.EndObject();
      actual += 4 + static_cast<int>(barcodes.size());
      last_id = id;
      ++returned;
    }
    w.EndArray();
    write_page_info(w, static_cast<std::size_t>(returned) < found.size(), last_id);
    w.EndObject(); // productVariants
    w.EndObject(); // data
    return json_answer(200, finish(buffer, w, requested, actual));
  }

  answer product_by_id(const graphql_request& r) {
    if (auto refused = charge(product_by_id_cost)) {
      return std::move(*refused);
    }
    const stored_product* p = product_for(r);
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "product");
    if (p == nullptr) {
      w.Null();
    } else {
      write_product_node(w, *p);
    }
    w.EndObject();
    return json_answer(200, finish(buffer, w, product_by_id_cost, product_by_id_cost));
  }

  std::string bulk_url(std::int64_t id) const {
    return base_url + "/bulk/" + std::to_string(id) + ".jsonl";
  }

  // The catalog as it is now becomes the operation's result.
  void complete(bulk_operation& op) {
    auto data = std::make_shared<std::vector<product_ptr>>();
    data->reserve(catalog.size());
    for (const auto& [id, p] : catalog) {
      data->push_back(p);
    }
    if (op.fails) {
      data->resize(static_cast<std::size_t>(
          std::floor(static_cast<double>(data->size()) * op.partial_share)));
      op.status = "FAILED";
    } else {
      op.status = "COMPLETED";
      op.completed_at = model::now();
    }
    op.object_count = 0;
    op.root_object_count = 0;
    for (const auto& p : *data) {
      if (op.barcodes) {
        for (const auto& v : p->state.variants) {
          op.object_count += 1 + p->barcodes_of(v).size();
        }
        op.root_object_count += p->state.variants.size();
      } else {
        op.object_count += 1 + p->state.variants.size();
        op.root_object_count += 1;
      }
    }
    if (miscount_next_roots) {
      op.root_difference = *miscount_next_roots;
      miscount_next_roots.reset();
    }
    op.data = std::move(data);
  }

  // A new bulk query, CREATED now (mutex held).
  bulk_operation& create_bulk(bool grouped, int running_polls) {
    bulk_operation op;
    op.id = next_bulk_id++;
    op.grouped = grouped;
    op.running_polls = running_polls;
    op.created_at = model::now();
    return bulk.emplace(op.id, std::move(op)).first->second;
  }

  void write_user_error(json_writer& w, const std::string& message, const char* code) const {
    w.StartObject();
    write_key(w, "field");
    w.Null();
    write_key(w, "message");
    write_string(w, message);
    write_key(w, "code");
    if (code != nullptr) {
      write_string(w, code);
    } else {
      w.Null();
    }
    w.EndObject();
  }

  answer start_bulk(const graphql_request& r) {
    const boolean_argument group_objects = group_objects_argument(r);
    if (!group_objects.error.empty()) {
      return json_answer(200, errors_body(group_objects.error));
    }
    if (auto refused = charge(bulk_start_cost)) {
      return std::move(*refused);
    }
    // Shopify's default changed with 2026-01: grouped before, ungrouped since.
    const bool grouped = group_objects.value.value_or(r.version < "2026-01");
    std::optional<std::string> user_error;
    const char* code = nullptr;
    const bulk_operation* started = nullptr;
    if (fail_next_start) {
      user_error = std::move(*fail_next_start);
      fail_next_start.reset();
    } else if (const auto query = r.string_variable("query"); !query || query->empty()) {
      user_error = "Invalid bulk query: the query is empty.";
      code = "INVALID";
    } else {
      for (const auto& [id, op] : bulk) {
        if (op.in_progress()) {
          user_error = "A bulk query operation for this app and shop is already in progress" +
                       (settings.bulk_in_progress_names_operation
                            ? ": " + std::string(bulk_gid) + std::to_string(id) + "."
                            : std::string("."));
          code = "OPERATION_IN_PROGRESS";
          ++counters.bulk_in_progress;
        }
      }
      if (!user_error) {
        bulk_operation& op = create_bulk(grouped, settings.bulk_running_polls);
        // The only two queries the stand-in runs: products with their
        // variants, or productVariants with their barcodes.
        op.barcodes = query->find("productVariants") != std::string_view::npos;
        if (fail_next_operation) {
          op.fails = true;
          op.partial_share = *fail_next_operation;
          fail_next_operation.reset();
        }
        if (settings.bulk_complete_at_start) {
          complete(op);
        }
        ++(op.barcodes ? counters.bulk_barcodes_started : counters.bulk_started);
        counters.bulk_ungrouped += grouped ? 0 : 1;
        started = &op;
      }
    }
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "bulkOperationRunQuery");
    w.StartObject();
    write_key(w, "bulkOperation");
    if (started != nullptr) {
      w.StartObject();
      write_key(w, "id");
      write_string(w, std::string(bulk_gid) + std::to_string(started->id));
      write_key(w, "status");
      write_string(w, started->status);
      write_key(w, "createdAt");
      write_string(w, format_time(started->created_at));
      w.EndObject();
    } else {
      w.Null();
    }
    write_key(w, "userErrors");
    w.StartArray();
    if (user_error) {
      write_user_error(w, *user_error, code);
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
    return json_answer(200, finish(buffer, w, bulk_start_cost, bulk_start_cost));
  }

  // The BulkOperation fields, into an open object.
  void write_bulk_operation(json_writer& w, const bulk_operation& op) const {
    const bool ended = !op.in_progress();
    write_key(w, "id");
    write_string(w, std::string(bulk_gid) + std::to_string(op.id));
    write_key(w, "type");
    write_string(w, "QUERY");
    write_key(w, "status");
    write_string(w, op.status);
    write_key(w, "errorCode");
    if (op.status == "FAILED") {
      write_string(w, "INTERNAL_SERVER_ERROR");
    } else {
      w.Null();
    }
    write_key(w, "createdAt");
    write_string(w, format_time(op.created_at));
    write_key(w, "completedAt");
    write_optional_time(w, op.completed_at);
    write_key(w, "objectCount");
    write_string(w, std::to_string(ended ? op.object_count : 0));
    write_key(w, "rootObjectCount");
    const std::int64_t roots = static_cast<std::int64_t>(op.root_object_count) + op.root_difference;
    write_string(w, std::to_string(ended ? roots : 0));
    write_key(w, "url");
    if (op.status == "COMPLETED" && op.object_count > 0) {
      write_string(w, bulk_url(op.id));
    } else {
      w.Null(); // also for an empty result: Shopify gives no file
    }
    write_key(w, "partialDataUrl");
    if (op.status == "FAILED") {
      write_string(w, bulk_url(op.id));
    } else {
      w.Null();
    }
  }

  answer bulk_operation_by_id(const graphql_request& r) {
    if (auto refused = charge(bulk_status_cost)) {
      return std::move(*refused);
    }
    bulk_operation* op = nullptr;
    if (const auto id = r.string_variable("id")) {
      if (const auto bulk_id = parse_gid(*id, bulk_gid)) {
        if (const auto it = bulk.find(*bulk_id); it != bulk.end()) {
          op = &it->second;
        }
      }
    }
    if (op != nullptr && op->in_progress()) {
      ++op->polls;
      if (op->running_polls >= 0 && op->polls > op->running_polls) {
        complete(*op);
      } else {
        op->status = "RUNNING";
      }
    }
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "bulkOperation");
    if (op == nullptr) {
      w.Null();
    } else {
      w.StartObject();
      write_bulk_operation(w, *op);
      w.EndObject();
    }
    w.EndObject();
    return json_answer(200, finish(buffer, w, bulk_status_cost, bulk_status_cost));
  }

  answer bulk_operations(const graphql_request& r) {
    const auto* first_value = r.variable("first");
    if (first_value == nullptr || !first_value->IsInt() || first_value->GetInt() < 1 ||
        first_value->GetInt() > max_page_size) {
      return json_answer(200, errors_body("$first must be an Int from 1 to 250"));
    }
    const int first = first_value->GetInt();
    bulk_filter filter;
    if (const auto query = r.string_variable("query"); query && !query->empty()) {
      const auto parsed = parse_bulk_filter(*query);
      if (!parsed) {
        return json_answer(200, errors_body("stand-in: unsupported bulkOperations search: " +
                                            std::string(*query)));
      }
      filter = *parsed;
    }
    const int requested = bulk_list_fixed_cost + first;
    if (auto refused = charge(requested)) {
      return std::move(*refused);
    }
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "bulkOperations");
    w.StartObject();
    write_key(w, "nodes");
    w.StartArray();
    int returned = 0;
    // Newest first: ids grow with creation.
    for (auto it = bulk.rbegin(); it != bulk.rend() && returned < first; ++it) {
      const bulk_operation& op = it->second;
      if ((filter.operation_type && *filter.operation_type != "query") ||
          (filter.status && *filter.status != lower(op.status))) {
        continue;
      }
      w.StartObject();
      write_bulk_operation(w, op);
      w.EndObject();
      ++returned;
    }
    w.EndArray();
    w.EndObject();
    w.EndObject();
    return json_answer(200, finish(buffer, w, requested, bulk_list_fixed_cost + returned));
  }

  answer shop_identity() {
    if (auto refused = charge(1)) {
      return *refused;
    }
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    write_key(w, "data");
    w.StartObject();
    write_key(w, "shop");
    w.StartObject();
    write_key(w, "myshopifyDomain");
    write_string(w, settings.shop_domain);
    w.EndObject();
    w.EndObject();
    return json_answer(200, finish(buffer, w, 1, 1));
  }

  // --- Requests ---

  // Counts a request, records its API version, and takes the fault (if any)
  // it gets.
  fault admit(const std::string& operation, const std::optional<std::string>& version) {
    std::lock_guard lock(mutex);
    ++counters.requests[operation];
    if (version && std::find(counters.api_versions.begin(), counters.api_versions.end(),
                             *version) == counters.api_versions.end()) {
      counters.api_versions.push_back(*version);
    }
    fault f;
    if (delays_left > 0) {
      --delays_left;
      ++counters.injected_delays;
      f.delay = delay;
    }
    if (drops_left > 0) {
      --drops_left;
      ++counters.injected_drops;
      f.what = fault::kind::drop;
    } else if (too_many_left > 0) {
      --too_many_left;
      ++counters.injected_429;
      f.what = fault::kind::too_many;
      f.retry_after = retry_after_seconds;
    } else if (server_errors_left > 0) {
      --server_errors_left;
      ++counters.injected_5xx;
      f.what = fault::kind::server_error;
      f.status = server_error_status;
    }
    return f;
  }

  answer answer_graphql(const graphql_request& r, std::string_view token) {
    std::lock_guard lock(mutex);
    if (token != settings.access_token && !oauth.accepts(token)) {
      ++counters.unauthorized;
      return json_answer(
          401,
          R"x({"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"})x");
    }
    if (r.operation == "ProductsPage") {
      return products_page(r);
    }
    if (r.operation == "ProductVariantsPage") {
      return product_variants_page(r);
    }
    if (r.operation == "ProductById") {
      return product_by_id(r);
    }
    if (r.operation == "VariantBarcodesPage") {
      return barcodes_page(r);
    }
    if (r.operation == "StartBulkProducts" || r.operation == "StartBulkBarcodes") {
      return start_bulk(r);
    }
    if (r.operation == "BulkOperationById") {
      return bulk_operation_by_id(r);
    }
    if (r.operation == "BulkOperations") {
      return bulk_operations(r);
    }
    if (r.operation == "ShopIdentity") {
      return shop_identity();
    }
    if (r.operation.find("WebhookSubscription") != std::string::npos) {
      // A list costs its page; a mutation 10.
      const int cost = r.operation == "WebhookSubscriptions" ? 102 : 10;
      if (auto refused = charge(cost)) {
        return *refused;
      }
      if (const auto data = subscriptions.answer(r.operation, r.variables)) {
        rapidjson::StringBuffer buffer;
        json_writer w(buffer);
        w.StartObject();
        write_key(w, "data");
        w.RawValue(data->c_str(), data->size(), rapidjson::kObjectType);
        return json_answer(200, finish(buffer, w, cost, cost));
      }
    }
    return json_answer(200, errors_body(r.operation.empty()
                                            ? "Parse error: no query or operation name"
                                            : "stand-in: unknown operation " + r.operation));
  }

  bool lists_barcodes(std::int64_t id) const {
    std::lock_guard lock(mutex);
    const auto it = bulk.find(id);
    return it != bulk.end() && it->second.barcodes;
  }

  answer answer_download(std::int64_t id) {
    std::lock_guard lock(mutex);
    const auto it = bulk.find(id);
    if (it == bulk.end() || !it->second.data) {
      return json_answer(404, R"({"errors":"Not Found"})");
    }
    answer a;
    a.headers.emplace_back("Content-Type", "application/jsonl");
    a.stream = it->second.data;
    a.grouped = it->second.grouped;
    a.barcodes = it->second.barcodes;
    return a;
  }

  std::function<void(std::string_view)> current_hook() const {
    std::lock_guard lock(mutex);
    return hook;
  }

  // --- Sockets ---

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
          co_return;
        }
        continue;
      }
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<bool> send(beast::tcp_stream& stream, answer a, bool keep_alive) {
    stream.expires_after(std::chrono::seconds(60));
    if (!a.stream) {
      http::response<http::string_body> response{static_cast<http::status>(a.status), 11};
      for (const auto& [name, value] : a.headers) {
        response.set(name, value);
      }
      response.body() = std::move(a.body);
      response.keep_alive(keep_alive);
      response.prepare_payload();
      auto [ec, n] = co_await http::async_write(stream, response, use_tuple);
      co_return !ec;
    }
    // JSONL, generated a piece at a time as it is written: grouped, each
    // product followed by its variants; else every product, then every
    // variant.
    http::response<http::empty_body> response{http::status::ok, 11};
    for (const auto& [name, value] : a.headers) {
      response.set(name, value);
    }
    response.keep_alive(keep_alive);
    response.chunked(true);
    http::response_serializer<http::empty_body> serializer{response};
    if (auto [ec, n] = co_await http::async_write_header(stream, serializer, use_tuple); ec) {
      co_return false;
    }
    constexpr std::size_t piece = 64 * 1024;
    std::string chunk;
    chunk.reserve(piece * 2);
    const std::size_t products = a.stream->size();
    const std::size_t steps = a.grouped ? products : 2 * products;
    for (std::size_t i = 0; i <= steps; ++i) {
      if (i < steps) {
        const stored_product& p = *(*a.stream)[i % products];
        const bool roots = a.grouped || i < products;
        const bool children = a.grouped || i >= products;
        if (a.barcodes) {
          append_barcode_lines(chunk, p, roots, children);
        } else {
          if (roots) {
            append_product_line(chunk, p);
          }
          if (children) {
            append_variant_lines(chunk, p);
          }
        }
      }
      const bool last = i == steps;
      if (chunk.size() >= piece || (last && !chunk.empty())) {
        stream.expires_after(std::chrono::seconds(60));
        auto [ec, n] =
            co_await asio::async_write(stream, http::make_chunk(asio::buffer(chunk)), use_tuple);
        if (ec) {
          co_return false;
        }
        chunk.clear();
      }
    }
    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk_last(), use_tuple);
    co_return !ec;
  }

  // A kept-alive connection may wait idle for two minutes between requests.
  static constexpr ingest::read_limits read_limits{.header_limit = 16 * 1024,
                                                   .read_timeout = std::chrono::seconds(120),
                                                   .write_timeout = std::chrono::seconds(60)};

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      // Read the way the service reads its own requests: limits, framing,
      // `100 Continue` (curl and others wait for it before a larger body).
      ingest::request_read read = co_await ingest::read_request(
          stream, buffer, read_limits, [](const ingest::http_header&) {
            return ingest::header_decision{.early = std::nullopt, .body_limit = 8 * 1024 * 1024};
          });
      if (!read.request) {
        co_return;
      }
      http::request<http::string_body> request = std::move(*read.request);
      const std::string_view target = request.target();
      const std::string_view path = target.substr(0, target.find('?'));
      const bool keep_alive = request.keep_alive();

      const auto version = graphql_version(path);
      const auto download = bulk_download_id(path);
      const bool token_endpoint = path == "/admin/oauth/access_token";
      graphql_request graphql;
      std::string operation;
      if (version) {
        graphql.version = *version;
        parse_graphql(request.body(), graphql);
        operation = graphql.operation;
      } else if (download) {
        operation = lists_barcodes(*download) ? "bulk_barcodes_download" : "bulk_download";
      } else if (token_endpoint) {
        operation = "access_token";
      }
      const fault f = admit(operation, version);
      // A hook that throws (a failed REQUIRE in a test) must not take the
      // server thread down: the request gets a 500 instead.
      bool hook_threw = false;
      if (const auto h = current_hook()) {
        try {
          h(operation);
        } catch (...) {
          hook_threw = true;
        }
      }
      if (f.delay.count() > 0) {
        asio::steady_timer timer(io, f.delay);
        co_await timer.async_wait(use_tuple);
      }
      answer a;
      if (hook_threw) {
        a = json_answer(500, R"({"errors":"the stand-in's request hook threw"})");
      } else {
        switch (f.what) {
        case fault::kind::drop: {
          beast::error_code ignored;
          stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          stream.socket().close(ignored);
          co_return;
        }
        case fault::kind::too_many:
          a = json_answer(
              429,
              R"({"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})");
          a.headers.emplace_back("Retry-After", std::to_string(f.retry_after));
          break;
        case fault::kind::server_error:
          a = json_answer(f.status, R"({"errors":"Internal Server Error"})");
          break;
        case fault::kind::none:
          if (version) {
            if (request.method() != http::verb::post) {
              a = json_answer(405, R"({"errors":"Method Not Allowed"})");
            } else {
              a = answer_graphql(graphql, request["X-Shopify-Access-Token"]);
            }
          } else if (download && request.method() == http::verb::get) {
            a = answer_download(*download);
          } else if (token_endpoint && request.method() == http::verb::post) {
            const auto granted = oauth.grant(request.body());
            if (granted.drop) {
              // Granted, and the answer lost on the way.
              beast::error_code ignored;
              stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
              stream.socket().close(ignored);
              co_return;
            }
            a = json_answer(granted.status, granted.body);
          } else {
            a = json_answer(404, R"({"errors":"Not Found"})");
          }
          break;
        }
      }
      if (!co_await send(stream, std::move(a), keep_alive) || !keep_alive) {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
    }
  }
};

admin_api_stand_in::admin_api_stand_in(admin_api_settings settings)
    : impl_(std::make_unique<impl>(std::move(settings))) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->base_url = "http://127.0.0.1:" + std::to_string(impl_->port);
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

admin_api_stand_in::~admin_api_stand_in() {
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->io.stop();
  });
  impl_->thread.join();
}

std::uint16_t admin_api_stand_in::port() const noexcept {
  return impl_->port;
}

std::string admin_api_stand_in::base_url() const {
  return impl_->base_url;
}

std::string admin_api_stand_in::graphql_target(std::string_view version) {
  return "/admin/api/" + std::string(version) + "/graphql.json";
}

const std::string& admin_api_stand_in::access_token() const noexcept {
  return impl_->settings.access_token;
}

void admin_api_stand_in::put_product(model::product_state product,
                                     std::vector<std::string> option_names) {
  auto stored = std::make_shared<stored_product>(
      stored_product{std::move(product), std::move(option_names), {}});
  std::lock_guard lock(impl_->mutex);
  const std::int64_t id = stored->state.id;
  // A variant keeps its barcodes while its first is still its `barcode`, as
  // in Shopify, where the first barcode is what `barcode` returns.
  if (const auto it = impl_->catalog.find(id); it != impl_->catalog.end()) {
    for (const auto& v : stored->state.variants) {
      const auto kept = it->second->barcodes.find(v.id);
      if (kept != it->second->barcodes.end() && !kept->second.empty() &&
          v.barcode == kept->second.front().value) {
        stored->barcodes.emplace(v.id, kept->second);
      }
    }
  }
  impl_->catalog[id] = std::move(stored);
}

bool admin_api_stand_in::set_barcodes(std::int64_t product_id, std::int64_t variant_id,
                                      std::vector<model::barcode> barcodes,
                                      std::optional<model::timestamp> updated_at) {
  std::lock_guard lock(impl_->mutex);
  const auto it = impl_->catalog.find(product_id);
  if (it == impl_->catalog.end()) {
    return false;
  }
  auto changed = std::make_shared<stored_product>(*it->second);
  for (auto& v : changed->state.variants) {
    if (v.id == variant_id) {
      v.barcode = barcodes.empty() ? std::nullopt : std::optional(barcodes.front().value);
      if (updated_at) {
        v.updated_at = *updated_at;
      }
      changed->barcodes[variant_id] = std::move(barcodes);
      it->second = std::move(changed);
      return true;
    }
  }
  return false;
}

bool admin_api_stand_in::remove_product(std::int64_t id) {
  std::lock_guard lock(impl_->mutex);
  return impl_->catalog.erase(id) > 0;
}

void admin_api_stand_in::clear_catalog() {
  std::lock_guard lock(impl_->mutex);
  impl_->catalog.clear();
}

void admin_api_stand_in::fill(std::size_t count,
                              const std::function<model::product_state(std::size_t)>& generate) {
  constexpr std::size_t batch = 1000;
  std::vector<product_ptr> made;
  made.reserve(batch);
  for (std::size_t i = 0; i < count;) {
    made.clear();
    for (; i < count && made.size() < batch; ++i) {
      made.push_back(std::make_shared<const stored_product>(stored_product{generate(i), {}, {}}));
    }
    std::lock_guard lock(impl_->mutex);
    for (auto& p : made) {
      impl_->catalog[p->state.id] = std::move(p);
    }
  }
}

std::optional<model::product_state> admin_api_stand_in::product(std::int64_t id) const {
  std::lock_guard lock(impl_->mutex);
  const auto it = impl_->catalog.find(id);
  if (it == impl_->catalog.end()) {
    return std::nullopt;
  }
  return it->second->state;
}

std::vector<model::product_state> admin_api_stand_in::snapshot() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<model::product_state> out;
  out.reserve(impl_->catalog.size());
  for (const auto& [id, p] : impl_->catalog) {
    out.push_back(p->state);
  }
  return out;
}

std::size_t admin_api_stand_in::product_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->catalog.size();
}

void admin_api_stand_in::on_request(std::function<void(std::string_view)> hook) {
  std::lock_guard lock(impl_->mutex);
  impl_->hook = std::move(hook);
}

void admin_api_stand_in::fail_next_with_429(int count, int retry_after_seconds) {
  std::lock_guard lock(impl_->mutex);
  impl_->too_many_left = count;
  impl_->retry_after_seconds = retry_after_seconds;
}

void admin_api_stand_in::fail_next_with_status(int count, unsigned status) {
  std::lock_guard lock(impl_->mutex);
  impl_->server_errors_left = count;
  impl_->server_error_status = status;
}

void admin_api_stand_in::drop_next(int count) {
  std::lock_guard lock(impl_->mutex);
  impl_->drops_left = count;
}

void admin_api_stand_in::delay_next(int count, std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mutex);
  impl_->delays_left = count;
  impl_->delay = delay;
}

void admin_api_stand_in::fail_next_bulk_start(std::string message) {
  std::lock_guard lock(impl_->mutex);
  impl_->fail_next_start = std::move(message);
}

std::string admin_api_stand_in::start_bulk_operation_elsewhere(int polls) {
  std::lock_guard lock(impl_->mutex);
  bulk_operation& op = impl_->create_bulk(true, polls);
  op.status = "RUNNING";
  return std::string(bulk_gid) + std::to_string(op.id);
}

void admin_api_stand_in::miscount_next_bulk_roots(int difference) {
  std::lock_guard lock(impl_->mutex);
  impl_->miscount_next_roots = difference;
}

void admin_api_stand_in::fail_next_bulk_operation(double share) {
  std::lock_guard lock(impl_->mutex);
  impl_->fail_next_operation = std::clamp(share, 0.0, 1.0);
}

void admin_api_stand_in::set_bulk_running_polls(int polls) {
  std::lock_guard lock(impl_->mutex);
  impl_->settings.bulk_running_polls = polls;
}

void admin_api_stand_in::set_bulk_complete_at_start(bool immediately) {
  std::lock_guard lock(impl_->mutex);
  impl_->settings.bulk_complete_at_start = immediately;
}

token_authority& admin_api_stand_in::oauth() {
  return impl_->oauth;
}

subscription_registry& admin_api_stand_in::subscriptions() {
  return impl_->subscriptions;
}

void admin_api_stand_in::set_bulk_in_progress_names_operation(bool names) {
  std::lock_guard lock(impl_->mutex);
  impl_->settings.bulk_in_progress_names_operation = names;
}

void admin_api_stand_in::set_shop_domain(std::string domain) {
  std::lock_guard lock(impl_->mutex);
  impl_->settings.shop_domain = std::move(domain);
}

void admin_api_stand_in::set_bucket(double maximum_available, double restore_rate) {
  std::lock_guard lock(impl_->mutex);
  impl_->settings.maximum_available = maximum_available;
  impl_->settings.restore_rate = restore_rate;
  impl_->available = maximum_available;
  impl_->leaked_at = std::chrono::steady_clock::now();
}

void admin_api_stand_in::set_throttled_status(unsigned status) {
  std::lock_guard lock(impl_->mutex);
  impl_->settings.throttled_status = status;
}

void admin_api_stand_in::drain_bucket() {
  std::lock_guard lock(impl_->mutex);
  impl_->available = 0;
  impl_->leaked_at = std::chrono::steady_clock::now();
}

admin_api_counters admin_api_stand_in::counters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counters;
}

void admin_api_stand_in::reset_counters() {
  std::lock_guard lock(impl_->mutex);
  impl_->counters = {};
}

throttle_status admin_api_stand_in::bucket() const {
  std::lock_guard lock(impl_->mutex);
  impl_->leak();
  return {impl_->settings.maximum_available, impl_->available, impl_->settings.restore_rate};
}

} // namespace shopmirror::test

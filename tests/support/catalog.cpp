#include "tests/support/catalog.hpp"

#include "tests/support/payloads.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

namespace shopmirror::test {
namespace {

constexpr std::array<std::string_view, 12> adjectives = {
    "Everyday", "Classic", "Organic", "Vintage",  "Rugged", "Slim",
    "Cozy",     "Premium", "Light",   "Heritage", "Urban",  "Coastal"};
constexpr std::array<std::string_view, 12> nouns = {"Tee",      "Hoodie", "Jacket",  "Sneaker",
                                                    "Backpack", "Mug",    "Candle",  "Scarf",
                                                    "Wallet",   "Beanie", "Blanket", "Bottle"};
constexpr std::array<std::string_view, 6> vendors = {
    "Acme Apparel", "Northwind Goods", "Blue Harbor", "Café Étoile", "Kōbō Studio", "Fieldcraft"};
constexpr std::array<std::string_view, 16> tag_words = {
    "cotton",  "summer", "winter", "sale",    "new",  "bestseller", "eco",      "gift",
    "limited", "unisex", "kids",   "outdoor", "home", "travel",     "handmade", "vegan"};
constexpr std::array<std::string_view, 8> colors = {"Black", "White", "Navy", "Olive",
                                                    "Sand",  "Red",   "Grey", "Teal"};
constexpr std::array<std::string_view, 6> sizes = {"XS", "S", "M", "L", "XL", "XXL"};
constexpr std::array<std::string_view, 3> materials = {"Cotton", "Wool", "Linen"};
constexpr std::string_view paragraph =
    "Made to last and easy to love: soft, breathable fabric, reinforced seams and a fit that "
    "works from morning to night. Machine wash cold & tumble dry low. Ships in recycled "
    "packaging \"as is\" <em>without</em> plastic.";

// 2026-11-01T00:00:00Z.
constexpr std::int64_t november_first = 1'793'491'200;

model::timestamp seconds(std::int64_t s) {
  return model::timestamp::from_micros(s * 1'000'000);
}

std::string price(std::int64_t cents) {
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return text;
}

} // namespace

model::product_state catalog_product(std::size_t index, const catalog_options& options) {
  std::mt19937_64 random(options.seed * 0x9E3779B97F4A7C15ULL + index);
  auto pick = [&](const auto& words) {
    return words[std::uniform_int_distribution<std::size_t>(0, words.size() - 1)(random)];
  };
  auto between = [&](std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random);
  };

  model::product_state p;
  p.id = options.first_product_id + 17 * static_cast<std::int64_t>(index);
  const std::string name = std::string(pick(adjectives)) + " " + std::string(pick(nouns));
  p.title = name + " " + std::to_string(index);
  std::string handle = *p.title;
  std::transform(handle.begin(), handle.end(), handle.begin(), [](unsigned char c) {
    return c == ' ' ? '-' : static_cast<char>(std::tolower(c));
  });
  p.handle = handle;
  p.vendor = std::string(pick(vendors));
  p.product_type = std::string(pick(nouns)) + "s";
  const auto status_roll = between(0, 99);
  p.status = status_roll < 85 ? "active" : status_roll < 95 ? "draft" : "archived";
  const auto tag_count = between(0, 8);
  for (std::int64_t t = 0; t < tag_count; ++t) {
    p.tags.emplace_back(pick(tag_words));
  }
  std::sort(p.tags.begin(), p.tags.end());
  p.tags.erase(std::unique(p.tags.begin(), p.tags.end()), p.tags.end());
  // A few hundred bytes to a few KB of HTML.
  std::string body = "<h2>" + name + "</h2>";
  const auto paragraphs = between(1, 18);
  for (std::int64_t i = 0; i < paragraphs; ++i) {
    body += "<p>";
    body += paragraph;
    body += "</p>\n";
  }
  p.body_html = std::move(body);
  const std::int64_t created = november_first - between(86400, 400 * 86400);
  p.created_at = seconds(created);
  const std::int64_t updated = november_first + between(0, 27 * 86400);
  p.updated_at = seconds(updated);
  if (*p.status == "active") {
    p.published_at = seconds(created + 3600);
  }

  std::mt19937_64 count_random(random());
  const int variants = variant_count(count_random);
  const std::int64_t base_cents = between(300, 25000);
  for (int v = 0; v < variants; ++v) {
    model::variant_state variant;
    variant.id = 40'000'000'000'000 + static_cast<std::int64_t>(index) * 100 + v;
    variant.sku = "SKU-" + std::to_string(p.id) + "-" + std::to_string(v + 1);
    variant.option1 = std::string(colors[static_cast<std::size_t>(v) % colors.size()]);
    std::string title = *variant.option1;
    if (variants > 1) {
      variant.option2 =
          std::string(sizes[static_cast<std::size_t>(v) / colors.size() % sizes.size()]);
      title += " / " + *variant.option2;
    }
    if (variants > static_cast<int>(colors.size() * sizes.size())) {
      variant.option3 = std::string(materials[static_cast<std::size_t>(v) /
                                              (colors.size() * sizes.size()) % materials.size()]);
      title += " / " + *variant.option3;
    }
    variant.title = title;
    variant.price = price(base_cents + (v % 3) * 100);
    if (between(0, 3) == 0) {
      variant.compare_at_price = price(base_cents + 1000);
    }
    variant.position = v + 1;
    if (between(0, 1) == 0) {
      variant.barcode = std::to_string(between(100'000'000'000, 999'999'999'999));
    }
    variant.inventory_quantity = between(-5, 500);
    variant.updated_at = p.updated_at;
    p.variants.push_back(std::move(variant));
  }
  return p;
}

} // namespace shopmirror::test

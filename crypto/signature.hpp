#pragma once

#include "crypto/hmac.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shopmirror::crypto {

/// Why a signature was accepted or refused; the refusals are metric labels.
enum class signature_status { valid, missing, malformed, mismatch };

std::string_view to_string(signature_status status) noexcept;

struct signature_result {
  signature_status status = signature_status::missing;
  /// Which secret matched (0 = the first app secret, then the shop's);
  /// meaningful when valid.
  std::size_t secret_index = 0;
};

/// Checks `X-Shopify-Hmac-Sha256` against every active secret (several are
/// active during a rotation). Thread-safe: holds only immutable keys.
class webhook_verifier {
public:
  /// Precondition: at least one non-empty secret, app-wide or of a shop.
  /// `shop_secrets` are keys that sign only the notifications of one shop.
  explicit webhook_verifier(
      const std::vector<std::string>& secrets,
      const std::map<std::string, std::vector<std::string>>& shop_secrets = {});

  /// `header_values` are all values of the header in the request: none is
  /// `missing`; more than one, or one that is not base64 of exactly 32 bytes,
  /// is `malformed`. `body` must be the raw bytes as received. `shop` is the
  /// shop the delivery claims to come from (unsigned): it only selects which
  /// shop keys are tried besides the app's, so a shop's key never
  /// authenticates a delivery for another shop.
  signature_result verify(std::span<const std::string_view> header_values, std::string_view body,
                          std::string_view shop = {}) const;

  std::size_t secret_count() const noexcept;

private:
  std::vector<hmac_sha256_key> app_keys_;
  std::map<std::string, std::vector<hmac_sha256_key>, std::less<>> shop_keys_;
};

} // namespace shopmirror::crypto

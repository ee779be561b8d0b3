#pragma once

#include <cstddef>
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
  /// Which configured secret matched (0 = the first); meaningful when valid.
  std::size_t secret_index = 0;
};

/// Checks `X-Shopify-Hmac-Sha256` against every active secret (several are
/// active during a rotation). Thread-safe: holds only immutable secrets.
class webhook_verifier {
public:
  /// Precondition: at least one non-empty secret.
  explicit webhook_verifier(std::vector<std::string> secrets);

  /// `header_values` are all values of the header in the request: none is
  /// `missing`; more than one, or one that is not base64 of exactly 32 bytes,
  /// is `malformed`. `body` must be the raw bytes as received.
  signature_result verify(std::span<const std::string_view> header_values,
                          std::string_view body) const;

  std::size_t secret_count() const noexcept { return secrets_.size(); }

private:
  std::vector<std::string> secrets_;
};

} // namespace shopmirror::crypto

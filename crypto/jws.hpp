#pragma once

// JSON Web Signatures (RFC 7515) in the compact form JSON Web Tokens use,
// signed with an asymmetric key: what an application-only client assertion
// is (reconcile/credentials.cpp).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace shopmirror::crypto {

/// A private key that signs tokens: RSA (RS256) or EC P-256 (ES256).
/// Thread-safe after construction.
class signing_key {
public:
  /// From PEM text (PKCS#8, or the traditional RSA or EC forms). Throws
  /// std::invalid_argument saying what is wrong with it; the message never
  /// holds the key.
  static signing_key from_pem(std::string_view pem);

  /// "RS256" or "ES256".
  std::string_view algorithm() const noexcept { return algorithm_; }

  /// `header.claims.signature`, each part base64url: a header of this
  /// key's algorithm (and `kid` if given) over `claims_json`.
  std::string sign_jwt(std::string_view claims_json, std::string_view key_id = {}) const;

  /// A new key: "RS256" (RSA, 3072 bits) or "ES256" (P-256).
  static signing_key generate(std::string_view algorithm);

  /// The public half, PEM (SubjectPublicKeyInfo).
  std::string public_pem() const;

  /// The public half as a JSON Web Key (RFC 7517), the form the Dev
  /// Dashboard takes: kty, n and e (RSA) or crv, x and y (EC), alg, use,
  /// and kid if given.
  std::string public_jwk(std::string_view key_id = {}) const;

  /// The private key, PEM (PKCS#8, unencrypted): to write to a file that
  /// only its owner can read.
  std::string private_pem() const;

private:
  struct key;
  std::shared_ptr<key> key_;
  std::string algorithm_;
};

/// A verified token: its header and claims, as JSON text.
struct verified_jwt {
  std::string header;
  std::string claims;
};

/// Checks a compact JWS against a public key (PEM) and the algorithm the
/// header names (RS256 with an RSA key, ES256 with a P-256 one; nothing
/// else, "none" least of all). std::nullopt if it does not verify.
std::optional<verified_jwt> verify_jwt(std::string_view token, std::string_view public_pem);

} // namespace shopmirror::crypto

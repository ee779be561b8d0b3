#include "reconcile/settings.hpp"

namespace shopmirror::reconcile {

std::string shop_settings::base_url() const {
  return admin_api_url.empty() ? "https://" + domain : admin_api_url;
}

std::string_view to_string(auth_kind kind) noexcept {
  switch (kind) {
  case auth_kind::static_token:
    return "static";
  case auth_kind::client_credentials:
    return "client_credentials";
  case auth_kind::application_only:
    return "application_only";
  case auth_kind::expiring_offline:
    return "expiring_offline";
  }
  return "static";
}

std::optional<auth_kind> parse_auth_kind(std::string_view text) noexcept {
  for (const auto kind : {auth_kind::static_token, auth_kind::client_credentials,
                          auth_kind::application_only, auth_kind::expiring_offline}) {
    if (to_string(kind) == text) {
      return kind;
    }
  }
  return std::nullopt;
}

} // namespace shopmirror::reconcile

#include "reconcile/settings.hpp"

namespace shopmirror::reconcile {

std::string shop_settings::base_url() const {
  return admin_api_url.empty() ? "https://" + domain : admin_api_url;
}

} // namespace shopmirror::reconcile

#pragma once

#include "model/product_state.hpp"

#include <string>
#include <string_view>

namespace shopmirror::model {

/// True when the state carries every product field and every field of each
/// variant: a whole state, which replaces the mirror's content, rather than
/// a trimmed one (a subscription's include_fields), which changes only the
/// fields it carries.
bool is_whole(const product_state& state) noexcept;

/// A digest (16 bytes) of everything the mirror's typed columns hold of a
/// product: its fields and its variants (as a set, by id). Equal for equal
/// content whichever API it came from: prices compare as numbers ("19.90"
/// and "19.9" are one price), tags as a sorted list. Reconcile compares it
/// with the one stored for the product's newest whole state, so a change
/// that leaves Shopify's updated_at as it was (two edits in one second,
/// inventory) is still seen.
std::string content_fingerprint(const product_state& state);

/// A decimal string (`-?[0-9]+(\.[0-9]+)?`) in its shortest form: no
/// leading zeros, no trailing zeros after the point, no "-0".
std::string normalized_decimal(std::string_view decimal);

} // namespace shopmirror::model

#include "cache/json_input.hpp"

namespace ckv {

std::optional<nlohmann::json> parse_outside_json(std::string_view text, std::string& reason) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range (1e99999)
    reason = e.what();
    return std::nullopt;
  }
}

}  // namespace ckv

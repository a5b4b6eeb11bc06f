// Canonical JSON (docs/spec/MISSION.md R2): sorted keys, typed values (1 and 1.0 differ), floats in shortest
// round-trip form, no whitespace. nlohmann::json's default object is a std::map (sorted) and
// its number printer emits the shortest representation that round-trips (Grisu2), so
// dump() with no indent is canonical as long as values keep their types.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace ckv {

using json = nlohmann::json;

std::string canonical_json(const json& value);
std::string sha256_hex(const std::string& bytes);

}  // namespace ckv

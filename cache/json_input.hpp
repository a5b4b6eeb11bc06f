// JSON read from files that come from outside (safetensors headers, sample metadata, index
// lines, LongBench lines). nlohmann-json reports a syntax error as parse_error and a number too
// large for a double (1e99999) as out_of_range; a reader that caught only the first let the
// second escape (found by fuzzing, fuzz/regressions/). Every reader goes through here, so a new
// one cannot repeat that: the text parses, or the reason comes back for the reader's message
// (which names the file, line or field).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ckv {

// The parsed value, or nullopt with `reason` set to the parser's message.
std::optional<nlohmann::json> parse_outside_json(std::string_view text, std::string& reason);

}  // namespace ckv

// cache/json_input.hpp: JSON from outside files parses, or comes back as a reason, for a syntax
// error and for a number no double holds alike (nlohmann-json's parse_error and out_of_range).
#include <catch2/catch.hpp>

#include "cache/json_input.hpp"

using ckv::parse_outside_json;

TEST_CASE("parse_outside_json: values parse; syntax errors and out-of-range numbers give a reason") {
  std::string reason;
  const auto ok = parse_outside_json(R"({"a": [1, 2.5e3, "x"]})", reason);
  REQUIRE(ok);
  CHECK((*ok)["a"][1].get<double>() == 2500.0);
  CHECK(reason.empty());

  for (const char* bad : {"{", "", "[1,]", "nul", "{\"a\": 1} trailing"}) {
    reason.clear();
    INFO(bad);
    CHECK_FALSE(parse_outside_json(bad, reason));
    CHECK_THAT(reason, Catch::Contains("parse error"));
  }
  for (const char* huge : {"1e99999", "[41e4493]", "{\"x\": -1E1000}"}) {
    reason.clear();
    INFO(huge);
    CHECK_FALSE(parse_outside_json(huge, reason));
    CHECK_THAT(reason, Catch::Contains("number overflow"));
  }
}

// docs/methods.md must hold the registry section exactly as methods_markdown() renders it.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "kernels/methods_doc.hpp"
#include "kernels/registry.hpp"

TEST_CASE("docs/methods.md holds the generated registry section verbatim") {
  std::ifstream in(std::string(CKV_SOURCE_DIR) + "/docs/methods.md");
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string doc = buffer.str();
  const std::string begin = "<!-- registry:begin -->\n", end = "<!-- registry:end -->";
  const auto b = doc.find(begin), e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  REQUIRE(b < e);
  const std::string section = doc.substr(b + begin.size(), e - b - begin.size());
  INFO("regenerate the section with `ckv-sweep methods --markdown`");
  CHECK(section == ckv::methods_markdown());
}

TEST_CASE("methods_markdown lists every method and every parameter") {
  const std::string md = ckv::methods_markdown();
  for (const auto& m : ckv::method_registry()) {
    CHECK(md.find("### `" + m.name + "`") != std::string::npos);
    for (const auto& p : m.params) CHECK(md.find("| `" + p.name + "` |") != std::string::npos);
  }
  // Choices are listed; a '|' inside a cell would break the table.
  CHECK(md.find("| shared, per_kv_head, per_query_head |") != std::string::npos);
}

// Sweep spec reader (docs/spec/MISSION.md R1). docs/sweep-files.md is the reference for the
// format. Every check happens before anything runs, and every failure names the offending key
// or value as "file:line:col: message". The reading is split by job:
//   spec_toml.*      typed TOML values with file:line:col messages
//   spec_include.*   `include = "file.toml"`: shared tables from other files
//   spec_sections.*  [campaign], [data] (+ [data.synthetic]), [metrics], [run]
//   spec_methods.*   [[methods]] entries and parameter values against the registry
//   spec_grid.*      [[grid]] blocks, axes and [[grid.zip]] groups
//   spec_expand.cpp  grid expansion into configurations (R2, R13)
#include "scheduler/spec.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include "common/error.hpp"
#include "scheduler/spec_grid.hpp"
#include "scheduler/spec_include.hpp"
#include "scheduler/spec_methods.hpp"
#include "scheduler/spec_sections.hpp"
#include "scheduler/spec_toml.hpp"

namespace ckv {

std::string SourceLocation::str() const { return fmt::format("{}:{}:{}", file, line, column); }

namespace {

using namespace spec_detail;

// The whole document, section by section.
void read_document(const TomlReader& in, const std::string& text, CampaignSpec& spec) {
  const toml::table root = read_with_includes(in, text, spec.text);
  static const std::vector<std::string> top_level = {"campaign", "data", "metrics", "run", "methods", "grid", "include"};
  for (auto&& [key, node] : root)
    if (!contains(top_level, std::string(key.str())))
      in.fail(key, fmt::format("unknown top-level key '{}' ({})", key.str(),
                               suggest_or_list(std::string(key.str()), top_level)));

  read_campaign(in, in.require_table(root, "campaign"), spec);
  read_data(in, in.require_table(root, "data"), spec.data);
  if (const toml::table* metrics = in.optional_table(root, "metrics")) read_metrics(in, *metrics, spec);
  if (const toml::table* run = in.optional_table(root, "run")) read_run(in, *run, spec.run);
  read_methods(in, root, spec);
  if (const toml::node* grid = root.get("grid")) read_grid(in, *grid, spec);
}

}  // namespace

CampaignSpec parse_spec(const std::string& text, const std::string& path) {
  CampaignSpec spec;
  spec.path = path;
  spec.text = text;
  read_document(spec_detail::TomlReader(path), text, spec);
  for (const std::string& warning : spec.warnings) spdlog::warn("{}", warning);
  return spec;
}

CampaignSpec load_spec(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("{}: is a directory, not a sweep file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open sweep file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: cannot read sweep file", path));
  return parse_spec(buffer.str(), path);
}

}  // namespace ckv

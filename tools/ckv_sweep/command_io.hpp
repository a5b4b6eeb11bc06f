// What the reading commands (report, compare, compare-e2e) share: the campaign a database holds
// when --campaign is not given, and writing a command's text to stdout or to -o FILE.
#pragma once
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "db/database.hpp"
#include "db/queries.hpp"

namespace ckv::cli {

// `campaign` when given, else the database's only campaign (refused, naming them, when several).
inline std::string chosen_campaign(Database& db, const std::string& db_path, const std::string& campaign) {
  if (!campaign.empty()) return campaign;
  const auto names = campaign_names(db);
  CKV_CHECK(names.size() == 1, "{}: {} campaigns; choose one with --campaign ({})", db_path, names.size(),
            fmt::format("{}", fmt::join(names, ", ")));
  return names[0];
}

// `text` to stdout when `out_path` is empty, else to that file; `what` names it in the error.
inline void write_text(const std::string& out_path, const std::string& text, std::string_view what) {
  if (out_path.empty()) {
    std::cout << text;
    return;
  }
  std::ofstream out(out_path);
  CKV_CHECK(out && (out << text), "{}: cannot write the {}", out_path, what);
}

}  // namespace ckv::cli

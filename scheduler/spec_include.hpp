// `include` in sweep files (docs/sweep-files.md, "Shared blocks"): a top-level
// `include = "file.toml"` (or a list of files) merges another TOML file's tables into the
// including one, so campaigns can share a [data] block. Internal to the sweep-file reader.
#pragma once
#include <string>

#include <toml++/toml.h>

#include "scheduler/spec_toml.hpp"

namespace ckv::spec_detail {

// The document `text` of `in.path()` with every include resolved, depth first: a relative path
// is resolved against the directory of the file that names it; tables are merged key by key and
// a key set in two files is refused, naming both places; a missing or unreadable file and an
// include cycle are refused at the `include` value. Nodes keep the file they were read from, so
// later messages name it. `resolved_text` gets the main text followed by each included file's
// text under a "# ---- included from PATH ----" line (what the database records).
toml::table read_with_includes(const TomlReader& in, const std::string& text, std::string& resolved_text);

}  // namespace ckv::spec_detail

// Self-contained HTML pages (keep-set views, the campaign report): escaping of every text that
// reaches a page, and the shared page frame (inline CSS, no network).
#pragma once
#include <string>
#include <string_view>

#include "common/canonical_json.hpp"

namespace ckv::html {

// Text for HTML element content and quoted attribute values: & < > " ' escaped; bytes that are
// not valid UTF-8 become U+FFFD; control characters other than tab, newline and carriage return
// (which no page shows meaningfully and XML forbids) become U+FFFD too.
std::string escape(std::string_view text);

// `value` as JSON safe inside <script type="application/json">: no "<" (so no "</script>" or
// "<!--" can end the element early), U+2028/U+2029 escaped; invalid UTF-8 replaced.
std::string script_json(const json& value);

// The whole page: <!DOCTYPE html>, UTF-8, the title (escaped), inline `css`, then `body` as is.
std::string page(std::string_view title, std::string_view css, std::string_view body);

}  // namespace ckv::html

// The campaign report as one self-contained HTML page (`ckv-sweep report --format html`): every
// metric's table (the markdown report's table model, report_table.hpp, format "html"), the
// plots (gnuplot SVG embedded as data: images), paired comparisons, the end-to-end section, links
// to keep-set views.
// Inline CSS, no script, no network. docs/user-guide.md, "The HTML report".
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace ckv {

struct HtmlReport {
  std::string campaign, database;
  struct Section {
    std::string title;  // plain text (escaped on output)
    std::string html;   // an HTML fragment made by this project's renderers (already escaped)
  };
  std::vector<Section> tables;                             // one per metric
  std::vector<std::pair<std::string, std::string>> plots;  // title, SVG document text
  std::vector<Section> comparisons;                        // paired comparisons A vs B (ckv-sweep compare)
  std::vector<Section> e2e;                                // end-to-end comparison, when predictions exist
  std::vector<std::pair<std::string, std::string>> links;  // label, href (keep-set views)
  std::vector<std::string> notes;                          // plain text, shown at the top
};

std::string render_html_report(const HtmlReport& report);

// An SVG document as an <img> with a base64 data: URL (scripts in an image never run, so text
// from user files inside the plot cannot reach the page). `alt` is escaped.
std::string svg_image(const std::string& svg, const std::string& alt);

// Whether an href is safe to link: relative paths and http(s)/file URLs; not javascript:, data:,
// vbscript: or any other scheme.
bool safe_href(const std::string& href);

std::string base64(const std::string& bytes);

}  // namespace ckv

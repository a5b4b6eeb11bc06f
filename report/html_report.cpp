#include "report/html_report.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "report/html.hpp"

namespace ckv {

namespace {

constexpr std::string_view kCss = R"(body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 80em; color: #222; padding: 0 1em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
nav ul { columns: 3; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th.label, td.label { text-align: left; }
thead th { background: #f3f3f3; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fafafa; }
.coverage { color: #a50; font-size: .85em; }
.note { color: #555; font-size: .9em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
pre { overflow-x: auto; background: #f8f8f8; padding: .5em; font-size: .85em; }
)";

std::string anchor(const std::string& prefix, size_t i) { return fmt::format("{}-{}", prefix, i); }

}  // namespace

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    out += kAlphabet[v >> 18], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63], out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    out += kAlphabet[v >> 18], out += kAlphabet[(v >> 12) & 63], out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string svg_image(const std::string& svg, const std::string& alt) {
  return fmt::format("<img alt=\"{}\" src=\"data:image/svg+xml;base64,{}\">", html::escape(alt), base64(svg));
}

bool safe_href(const std::string& href) {
  if (href.empty()) return false;
  // A scheme is letters, digits, + - . before the first ':' that comes before any / ? #.
  const size_t colon = href.find(':');
  const size_t delimiter = href.find_first_of("/?#");
  if (colon == std::string::npos || (delimiter != std::string::npos && delimiter < colon)) return true;
  std::string scheme = href.substr(0, colon);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return scheme == "http" || scheme == "https" || scheme == "file";
}

std::string render_html_report(const HtmlReport& r) {
  using html::escape;
  std::string body = fmt::format("<h1>Campaign {}</h1>\n<p class=\"note\">Database <code>{}</code>.</p>\n",
                                 escape(r.campaign), escape(r.database));
  for (const auto& note : r.notes) body += "<p class=\"note\">" + escape(note) + "</p>\n";
  body += "<nav><h2>Contents</h2><ul>\n";
  for (size_t i = 0; i < r.tables.size(); ++i)
    body += fmt::format("<li><a href=\"#{}\">{}</a></li>\n", anchor("table", i), escape(r.tables[i].title));
  if (!r.plots.empty()) body += "<li><a href=\"#plots\">Plots</a></li>\n";
  if (!r.comparisons.empty()) body += "<li><a href=\"#comparisons\">Paired comparisons</a></li>\n";
  if (!r.e2e.empty()) body += "<li><a href=\"#e2e\">End to end</a></li>\n";
  if (!r.links.empty()) body += "<li><a href=\"#keep-views\">Keep-set views</a></li>\n";
  body += "</ul></nav>\n";
  for (size_t i = 0; i < r.tables.size(); ++i)
    body += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", anchor("table", i),
                        escape(r.tables[i].title), r.tables[i].html);
  if (!r.plots.empty()) {
    body += "<section id=\"plots\">\n<h2>Plots</h2>\n";
    for (const auto& [title, svg] : r.plots)
      body += fmt::format("<figure>{}<figcaption>{}</figcaption></figure>\n", svg_image(svg, title), escape(title));
    body += "</section>\n";
  }
  if (!r.comparisons.empty()) {
    body += "<section id=\"comparisons\">\n<h2>Paired comparisons</h2>\n";
    for (const auto& s : r.comparisons) body += fmt::format("<h3>{}</h3>\n{}", escape(s.title), s.html);
    body += "</section>\n";
  }
  if (!r.e2e.empty()) {
    body += "<section id=\"e2e\">\n<h2>End to end</h2>\n";
    for (const auto& s : r.e2e) body += fmt::format("<h3>{}</h3>\n{}", escape(s.title), s.html);
    body += "</section>\n";
  }
  if (!r.links.empty()) {
    body += "<section id=\"keep-views\">\n<h2>Keep-set views</h2>\n<ul>\n";
    for (const auto& [label, href] : r.links)
      body += safe_href(href)
                  ? fmt::format("<li><a href=\"{}\">{}</a></li>\n", escape(href), escape(label))
                  : fmt::format("<li>{} (<code>{}</code>: not linked, not a relative path or http(s)/file URL)</li>\n",
                                escape(label), escape(href));
    body += "</ul>\n</section>\n";
  }
  return html::page("ckv-sweep report: " + r.campaign, kCss, body);
}

}  // namespace ckv

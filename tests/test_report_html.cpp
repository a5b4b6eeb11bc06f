// The HTML campaign report: the report table in format "html" (the markdown table's model, every
// label escaped, coverage marks kept), the page around it, base64 (RFC 4648 vectors), and which
// hrefs are linked.
#include <catch2/catch.hpp>

#include "db/database.hpp"
#include "db/queries.hpp"
#include "db/result_store.hpp"
#include "db_test_helpers.hpp"
#include "report/html_report.hpp"
#include "report/report_table.hpp"

using namespace ckv;
using Catch::Matchers::Contains;
using ckv_test::TempDir;

namespace {

size_t occurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// Campaign "c<1>" with two snapkv configurations whose `pool` labels are hostile, over qasper
// (2 samples, one failed for A) and trec (1 sample).
std::string build(const TempDir& dir) {
  std::string path = dir.file("ckv.sqlite");
  Database db = Database::open(path, Database::Mode::Writer);
  ResultStore store(db, 3600.0);
  const int64_t campaign = store.upsert_campaign("c<1>", "c.toml", "");
  const int64_t a = store.upsert_configuration(
      std::string(64, 'a'), "snapkv", R"({"method":"snapkv","params":{"budget":96,"pool":"<script>x</script>"}})");
  const int64_t b = store.upsert_configuration(
      std::string(64, 'b'), "snapkv", R"({"method":"snapkv","params":{"budget":128,"pool":"a&b"}})");
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (const auto& [task, n] : {std::pair{"qasper", 2}, std::pair{"trec", 1}})
    for (int i = 0; i < n; ++i) {
      const int64_t sample = store.upsert_sample({task, std::to_string(i), "/x", 100, 3});
      pairs.emplace_back(a, sample);
      pairs.emplace_back(b, sample);
    }
  const auto units = store.ensure_units(campaign, pairs);
  for (size_t i = 0; i < units.size(); ++i) {
    store.begin_attempt(units[i].unit_id, 1, "h", 1, 1.0);
    if (i == 0)
      store.finish_failed(units[i].unit_id, 2.0, "broken");
    else
      store.finish_done(units[i].unit_id, 2.0, {{"attn_recall", units[i].configuration_id == a ? 0.5 : 0.25}});
  }
  store.flush();
  return path;
}

}  // namespace

TEST_CASE("base64 by RFC 4648's test vectors", "[report][html]") {
  CHECK(base64("").empty());
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(base64(std::string("\xFF\xFE\x00", 3)) == "//4A");
}

TEST_CASE("only relative paths and http(s)/file URLs are linked", "[report][html]") {
  CHECK(safe_href("views/a.html"));
  CHECK(safe_href("../x y.html"));
  CHECK(safe_href("https://example.org/x"));
  CHECK(safe_href("FILE:///tmp/a.html"));
  CHECK(safe_href("dir:with/colon.html") == false);  // a scheme "dir"
  CHECK(safe_href("./dir:with-colon.html"));         // a path: '/' comes first
  CHECK_FALSE(safe_href("javascript:alert(1)"));
  CHECK_FALSE(safe_href("JavaScript:alert(1)"));
  CHECK_FALSE(safe_href("data:text/html,<script>"));
  CHECK_FALSE(safe_href("vbscript:x"));
  CHECK_FALSE(safe_href(""));
}

TEST_CASE("the report table as HTML: the same cells as markdown, every label escaped", "[report][html]") {
  TempDir dir;
  const std::string path = build(dir);
  Database db = Database::open(path, Database::Mode::ReadOnly);
  const CampaignReport report = campaign_report(db, "c<1>", "attn_recall");
  ReportOptions options;
  options.format = "html";
  const std::string table = render_report(report, options);
  CHECK(table.find("<script") == std::string::npos);
  CHECK_THAT(table, Contains("<caption>c&lt;1&gt; — attn_recall (mean over samples"));
  CHECK_THAT(table, Contains("<th class=\"label\">method</th><th class=\"label\">budget</th>"
                             "<th class=\"label\">pool</th><th>qasper</th><th>trec</th><th>avg</th><th>cat avg</th>"));
  // A: qasper covers 1 of 2 samples (marked), trec 0.5; avg (0.5 + 0.5) / 2; the best of each column
  // (attn_recall: higher is better) in bold
  CHECK_THAT(table, Contains("<td class=\"label\">snapkv</td><td class=\"label\">96</td>"
                             "<td class=\"label\">&lt;script&gt;x&lt;/script&gt;</td>"
                             "<td><strong>0.5000</strong> <span class=\"coverage\">(1/2)</span></td>"
                             "<td><strong>0.5000</strong></td><td><strong>0.5000</strong></td>"));
  CHECK_THAT(table, Contains("<td class=\"label\">a&amp;b</td><td>0.2500</td><td>0.2500</td><td>0.2500</td>"));
  CHECK_THAT(table, Contains("<p class=\"note\">(k/n): the mean covers k of the task&#39;s n samples"));
  CHECK(occurrences(table, "<tr title=\"configuration ") == 2);
  // and the markdown table of the same model shows the same numbers
  options.format = "markdown";
  CHECK_THAT(render_report(report, options), Contains("**0.5000** (1/2)"));

  HtmlReport page;
  page.campaign = "c<1>";
  page.database = "/tmp/\"db\".sqlite";
  page.tables.push_back({"attn_recall", table});
  page.plots.emplace_back("attn_recall against <budget>", "<svg xmlns=\"http://www.w3.org/2000/svg\"><text>&lt;</text></svg>");
  page.comparisons.push_back({"snapkv <a> vs b", "<pre>x</pre>"});
  page.e2e.push_back({"against <m>", "<table></table>"});
  page.links.emplace_back("view <1>", "views/a&b.html");
  page.links.emplace_back("evil", "javascript:alert(1)");
  page.notes.push_back("note <i>");
  const std::string html = render_html_report(page);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<i>") == std::string::npos);
  CHECK(html.find("href=\"javascript:") == std::string::npos);
  CHECK_THAT(html, Contains("<title>ckv-sweep report: c&lt;1&gt;</title>") && Contains("<h1>Campaign c&lt;1&gt;</h1>"));
  CHECK_THAT(html, Contains("<code>/tmp/&quot;db&quot;.sqlite</code>"));
  CHECK_THAT(html, Contains("<li><a href=\"#table-0\">attn_recall</a></li>"));
  CHECK_THAT(html, Contains("<a href=\"views/a&amp;b.html\">view &lt;1&gt;</a>"));
  CHECK_THAT(html, Contains("<li>evil (<code>javascript:alert(1)</code>: not linked"));
  CHECK_THAT(html, Contains("<img alt=\"attn_recall against &lt;budget&gt;\" src=\"data:image/svg+xml;base64," +
                            base64("<svg xmlns=\"http://www.w3.org/2000/svg\"><text>&lt;</text></svg>") + "\">"));
  CHECK_THAT(html, Contains("<h3>against &lt;m&gt;</h3>"));
  CHECK_THAT(html, Contains("<section id=\"comparisons\">\n<h2>Paired comparisons</h2>\n<h3>snapkv &lt;a&gt; vs b</h3>\n<pre>x</pre>"));
  CHECK_THAT(html, Contains("<li><a href=\"#comparisons\">Paired comparisons</a></li>"));
}

// Keep-set views: HTML escaping on hostile strings, token classes, the kept-by-both / A-only /
// B-only / neither counts of a small case computed by hand, the task summary's bins, classes and
// spans, and the page's text.
#include <catch2/catch.hpp>

#include "report/html.hpp"
#include "report/keep_view.hpp"

using namespace ckv;
using namespace ckv::keepview;
using Catch::Matchers::Contains;

namespace {

size_t occurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TokenText txt(const std::string& s) { return {TokenText::Kind::kText, s}; }
TokenText special(const std::string& s) { return {TokenText::Kind::kSpecial, s}; }
TokenText bytes(const std::string& s) { return {TokenText::Kind::kBytes, s}; }

// n = 8, H = 4 query heads over G = 2 KV heads. A selects per KV head, B per query head, so the
// view is per query head (A's KV-head sets expanded: query heads 0, 1 read KV head 0).
SampleView small_case() {
  SampleView v;
  v.task = "hotpotqa";
  v.id = "s0";
  v.layer = 3;
  v.n = 8;
  v.H = 4;
  v.G = 2;
  v.texts = {special("<s>"), txt(" The"), txt("ory"), txt(" 42"), txt(","), txt("\n"), bytes("\xE6"), txt(" x")};
  v.evidence = {{1, 3}};
  v.question = {6, 8};
  v.keep_a = {{0, 1, 2}, {0, 5}};
  v.keep_b = {{0, 3}, {1, 2}, {5, 6}, {}};
  return v;
}

}  // namespace

TEST_CASE("html::escape on hostile strings", "[report][html]") {
  CHECK(html::escape("<script>alert('x')</script>") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  CHECK(html::escape("a & b \"q\" &amp;") == "a &amp; b &quot;q&quot; &amp;amp;");
  CHECK(html::escape("\" onmouseover=\"alert(1)") == "&quot; onmouseover=&quot;alert(1)");
  // valid UTF-8 passes through: é, 東, an emoji (4 bytes)
  CHECK(html::escape("caf\xC3\xA9 \xE6\x9D\xB1 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE6\x9D\xB1 \xF0\x9F\x98\x80");
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(html::escape("a\xFF"
                     "b") == "a" + fffd + "b");                                           // not UTF-8
  CHECK(html::escape("\xE6\x9D") == fffd + fffd);                                         // truncated sequence
  CHECK(html::escape("\xC0\xAF") == fffd + fffd);                                         // overlong '/'
  CHECK(html::escape("\xED\xA0\x80") == fffd + fffd + fffd);                              // a UTF-16 surrogate
  CHECK(html::escape("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);                   // above U+10FFFF
  CHECK(html::escape(std::string("x\0y\x01\x7F", 5)) == "x" + fffd + "y" + fffd + fffd);  // controls
  CHECK(html::escape("tab\tnl\ncr\r") == "tab\tnl\ncr\r");
  CHECK(html::escape("").empty());
}

TEST_CASE("html::script_json cannot end its script element", "[report][html]") {
  const json value = json::array({"</script><script>alert(1)</script>", "<!--",
                                  "a\xE2\x80\xA8"
                                  "b",
                                  "x & y"});
  const std::string out = html::script_json(value);
  CHECK(out.find('<') == std::string::npos);
  CHECK(out.find('>') == std::string::npos);
  CHECK(out.find("\xE2\x80\xA8") == std::string::npos);
  CHECK_THAT(out, Contains("\\u003c/script\\u003e") && Contains("\\u2028") && Contains("\\u0026"));
  CHECK(json::parse(out) == value);  // the same value for JSON.parse
  // invalid UTF-8 inside a string does not throw: it is replaced
  CHECK(json::parse(html::script_json(json::array({std::string("a\xFF")}))) == json::array({"a\xEF\xBF\xBD"}));
  const std::string page = html::page("<t>&", "p{}", "<p>x</p>");
  CHECK_THAT(page, Contains("<title>&lt;t&gt;&amp;</title>") && Contains("<meta charset=\"utf-8\">") &&
                       Contains("<style>\np{}</style>") && Contains("<body>\n<p>x</p></body>"));
}

TEST_CASE("token classes from token texts", "[report][keep_view]") {
  auto cls = [](const std::vector<TokenText>& texts) { return classify_token(texts, texts.size() - 1); };
  CHECK(cls({txt(" hello")}) == TokenClass::kWord);
  CHECK(cls({txt("hello")}) == TokenClass::kWord);  // the first token
  CHECK(cls({txt(" runn"), txt("ing")}) == TokenClass::kSubword);
  CHECK(cls({txt("("), txt("ing")}) == TokenClass::kWord);
  CHECK(cls({txt("\n"), txt("The")}) == TokenClass::kWord);
  CHECK(cls({special("<s>"), txt("The")}) == TokenClass::kWord);
  CHECK(cls({txt(" x2")}) == TokenClass::kWord);
  CHECK(cls({txt(" 1987"), txt("s")}) == TokenClass::kSubword);
  CHECK(cls({txt(" 2024")}) == TokenClass::kDigits);
  CHECK(cls({txt(" year"), txt("2024")}) == TokenClass::kDigits);
  CHECK(cls({txt(".")}) == TokenClass::kPunctuation);
  CHECK(cls({txt(" ...")}) == TokenClass::kPunctuation);
  CHECK(cls({txt(" \"(")}) == TokenClass::kPunctuation);
  CHECK(cls({txt("\xEF\xBC\x8C")}) == TokenClass::kPunctuation);   // ， full-width comma
  CHECK(cls({txt(" \xE2\x80\x94")}) == TokenClass::kPunctuation);  // — em dash
  CHECK(cls({txt("\xC2\xBF")}) == TokenClass::kPunctuation);       // ¿
  CHECK(cls({txt("\n")}) == TokenClass::kNewline);
  CHECK(cls({txt(" \n\n")}) == TokenClass::kNewline);
  CHECK(cls({txt(".\r\n")}) == TokenClass::kNewline);
  CHECK(cls({txt("  ")}) == TokenClass::kWhitespace);
  CHECK(cls({txt("\t")}) == TokenClass::kWhitespace);
  CHECK(cls({special("<|user|>")}) == TokenClass::kSpecial);
  CHECK(cls({bytes("\xE6\x9D")}) == TokenClass::kBytePiece);
  CHECK(cls({txt("")}) == TokenClass::kOther);
  CHECK(cls({txt("a.")}) == TokenClass::kOther);
  CHECK(cls({txt(" \xF0\x9F\x98\x80")}) == TokenClass::kOther);  // an emoji
  CHECK(cls({txt(" caf\xC3\xA9")}) == TokenClass::kWord);
  CHECK(cls({txt(" caf"), txt("\xC3\xA9")}) == TokenClass::kSubword);
  CHECK(cls({txt("\xE6\x9D\xB1\xE4\xBA\xAC")}) == TokenClass::kWord);   // 東京
  CHECK(cls({bytes("\xE6\x9D"), txt("abc")}) == TokenClass::kSubword);  // continues a byte piece
  CHECK(cls({txt("\xB1")}) == TokenClass::kOther);                      // not UTF-8 (never stored so)
  CHECK(cls({txt(" \xD0\x9C\xD0\xBE")}) == TokenClass::kWord);          // Cyrillic
  CHECK(classify_token({}, 0) == TokenClass::kUnknown);                 // no texts (older caches)
  CHECK(display_text(txt("a\nb\tc\r")) ==
        "a\xE2\x86\xB5\nb\xE2\x86\x92"
        "c\xE2\x90\x8D");
  CHECK(display_text(bytes("\xE6\x9D")) == "\\xe6\\x9d");
  CHECK(display_text(special("<s>")) == "<s>");
}

TEST_CASE("kept-by-both / A-only / B-only / neither on a small case by hand", "[report][keep_view]") {
  const SampleView v = small_case();
  const HeadStatus hs = head_status(v.keep_a, v.keep_b, v.n, v.H, v.G);
  REQUIRE(hs.query_heads);
  REQUIRE(hs.status.size() == 4);
  // bit 1: A keeps, bit 2: B keeps
  CHECK(hs.status[0] == std::vector<uint8_t>{3, 1, 1, 2, 0, 0, 0, 0});
  CHECK(hs.status[1] == std::vector<uint8_t>{1, 3, 3, 0, 0, 0, 0, 0});
  CHECK(hs.status[2] == std::vector<uint8_t>{1, 0, 0, 0, 0, 3, 2, 0});
  CHECK(hs.status[3] == std::vector<uint8_t>{1, 0, 0, 0, 0, 1, 0, 0});
  const Counts c0 = count(hs.status[0], 0, 8);
  CHECK((c0.total == 8 && c0.a == 3 && c0.b == 2 && c0.both == 1 && c0.a_only == 2 && c0.b_only == 1 && c0.neither == 4));
  const Counts ev1 = count(hs.status[1], 1, 3);
  CHECK((ev1.total == 2 && ev1.both == 2));

  // Both per KV head: KV heads, no expansion.
  const HeadStatus kv = head_status({{0}, {1}}, {{0, 1}, {}}, 3, 4, 2);
  CHECK_FALSE(kv.query_heads);
  CHECK(kv.status == std::vector<std::vector<uint8_t>>{{3, 2, 0}, {0, 1, 0}});
  CHECK_THROWS_WITH(head_status({{0}}, {{0}, {1}}, 3, 4, 2), Contains("configuration A gives 1 keep-sets for 2 KV heads and 4 query heads"));
  CHECK_THROWS_WITH(head_status({{0}, {3}}, {{0}, {1}}, 3, 4, 2), Contains("kept token 3 outside [0, 3)"));

  // Over the whole task (here one sample), two position bins.
  Summary s(2);
  s.add(v);
  CHECK(s.samples == 1);
  CHECK((s.all.total == 32 && s.all.both == 4 && s.all.a_only == 6 && s.all.b_only == 2 && s.all.neither == 20));
  CHECK((s.by_bin[0].total == 16 && s.by_bin[0].both == 3 && s.by_bin[0].a_only == 5 && s.by_bin[0].b_only == 1 &&
         s.by_bin[0].neither == 7));
  CHECK((s.by_bin[1].total == 16 && s.by_bin[1].both == 1 && s.by_bin[1].a_only == 1 && s.by_bin[1].b_only == 1 &&
         s.by_bin[1].neither == 13));
  const auto& special_c = s.by_class[size_t(TokenClass::kSpecial)];
  CHECK((special_c.total == 4 && special_c.both == 1 && special_c.a_only == 3));
  const auto& piece = s.by_class[size_t(TokenClass::kBytePiece)];
  CHECK((piece.total == 4 && piece.b_only == 1 && piece.neither == 3));
  CHECK(s.by_class[size_t(TokenClass::kPunctuation)].neither == 4);
  // "ory" (position 2): head 0 A only, head 1 both, heads 2 and 3 neither
  CHECK((s.by_class[size_t(TokenClass::kSubword)].total == 4 && s.by_class[size_t(TokenClass::kSubword)].both == 1 &&
         s.by_class[size_t(TokenClass::kSubword)].a_only == 1 && s.by_class[size_t(TokenClass::kSubword)].neither == 2));
  CHECK((s.by_span.at("evidence").total == 8 && s.by_span.at("evidence").both == 2 && s.by_span.at("evidence").a_only == 2));
  CHECK((s.by_span.at("question").total == 8 && s.by_span.at("question").b_only == 1));
  CHECK(s.by_span.at("rest").total == 16);

  const Labels labels{"snapkv budget=3", "h2o | <b>", std::string(64, 'a'), std::string(64, 'b')};
  const std::string md = render_summary(s, labels, "hotpotqa", 3, "markdown");
  CHECK_THAT(md, Contains("| group | value | pairs | A keeps | B keeps | both | A only | B only | neither |"));
  CHECK_THAT(md, Contains("| position | 0-50% | 16 | 8 | 4 | 3 | 5 | 1 | 7 | 31.2 | 6.2 | +25.0 |"));
  CHECK_THAT(md, Contains("| token | byte piece | 4 | 0 | 1 | 0 | 0 | 1 | 3 | 0.0 | 25.0 | -25.0 |"));
  CHECK_THAT(md, Contains("| all | all | 32 | 10 | 6 | 4 | 6 | 2 | 20 |"));
  CHECK_THAT(md, Contains("h2o \\| <b>"));  // a | in a label does not split the caption's table
  const std::string csv = render_summary(s, labels, "hotpotqa", 3, "csv");
  CHECK_THAT(csv, Contains("span,evidence,8,4,2,2,2,0,4,25.0,0.0,+25.0\n"));
  const std::string page = render_summary_page(s, labels, "hotpotqa", 3);
  CHECK_THAT(page, Contains("h2o | &lt;b&gt;") && Contains("<td>sub-word piece</td>"));
  CHECK(page.find("<b>") == std::string::npos);
}

TEST_CASE("the page of one sample: tokens, spans, head selector, counts, escaping", "[report][keep_view]") {
  SampleView v = small_case();
  v.texts[7] = txt("<script>alert(1)</script>");
  v.id = "s0\"><img src=x onerror=alert(2)>";
  const Labels labels{"snapkv <budget>", "h2o & co", "0123456789abcdef", "fedcba9876543210"};
  const std::string page = render_sample_page(v, labels);
  CHECK(occurrences(page, "<script") == 2);  // the status data and the head selector's script
  CHECK(page.find("<img") == std::string::npos);
  CHECK_THAT(page, Contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_THAT(page, Contains("snapkv &lt;budget&gt;") && Contains("h2o &amp; co") && Contains("0123456789ab"));
  // the head selector lists the four query heads; the table counts each (head 0 by hand above)
  CHECK(occurrences(page, "<option ") == 4);
  CHECK_THAT(page, Contains("<option value=\"3\">query head 3 (KV head 1)</option>"));
  CHECK_THAT(page, Contains("<td>query head 0 (KV head 0)</td><td>8</td><td>3</td><td>2</td><td>1</td><td>2</td>"
                            "<td>1</td><td>4</td><td>2</td><td>0</td>"));
  CHECK_THAT(page, Contains("<td>all heads</td><td>32</td><td>10</td><td>6</td><td>4</td><td>6</td><td>2</td><td>20</td>"));
  // tokens in head 0's colours; evidence [1, 3) and question [6, 8) marked; texts shown
  CHECK_THAT(page, Contains("<span class=\"k3 sp\" title=\"#0 special\">&lt;s&gt;</span>"));
  CHECK_THAT(page, Contains("<span class=\"k1 ev\" title=\"#1 word\"> The</span>"));
  CHECK_THAT(page, Contains("<span class=\"k1 ev\" title=\"#2 sub-word piece\">ory</span>"));
  CHECK_THAT(page, Contains("<span class=\"k2\" title=\"#3 digits\"> 42</span>"));
  CHECK_THAT(page, Contains("<span class=\"k0 q\" title=\"#6 byte piece\">\\xe6</span>"));
  CHECK_THAT(page, Contains("<span class=\"k0\" title=\"#5 newline\">\xE2\x86\xB5\n</span>"));
  CHECK_THAT(page, Contains(R"(["31120000","13300000","10000320","10000100"])"));
  // an older cache without token texts: positions
  v.texts.clear();
  const std::string bare = render_sample_page(v, labels);
  CHECK_THAT(bare, Contains("no token texts") && Contains(">[7]</span>"));
}

#include "report/keep_view.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "report/html.hpp"

namespace ckv::keepview {

namespace {

// Decodes one UTF-8 code point at s[i]; returns its length, 0 when the bytes are not UTF-8.
size_t next_code_point(const std::string& s, size_t i, char32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t len;
  char32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2, v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  *cp = v;
  return len;
}

enum class CharKind { kLetter,
                      kDigit,
                      kPunct,
                      kSpace,
                      kNewline,
                      kSymbol };

CharKind char_kind(char32_t c) {
  if (c == '\n' || c == '\r' || c == 0x85 || c == 0x2028 || c == 0x2029) return CharKind::kNewline;
  if (c == ' ' || c == '\t' || c == 0x0B || c == 0x0C || c == 0xA0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200B) ||
      c == 0x202F || c == 0x205F)
    return CharKind::kSpace;
  if (c >= '0' && c <= '9') return CharKind::kDigit;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharKind::kLetter;
  if (c < 0x80) return c > 0x20 && c < 0x7F ? CharKind::kPunct : CharKind::kSymbol;
  // Latin-1 punctuation and signs (¡ … ¿, ×, ÷), general punctuation (dashes, quotes, …),
  // CJK punctuation, full-width ASCII punctuation.
  if ((c >= 0xA1 && c <= 0xBF) || c == 0xD7 || c == 0xF7 || (c >= 0x2010 && c <= 0x2027) ||
      (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x303F) || (c >= 0xFF01 && c <= 0xFF0F) ||
      (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65))
    return CharKind::kPunct;
  if (c >= 0xFF10 && c <= 0xFF19) return CharKind::kDigit;
  // Emoji and pictographs, arrows, math and technical symbols, box drawing, private use.
  if ((c >= 0x2190 && c <= 0x2BFF) || (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0xE000 && c <= 0xF8FF) ||
      (c >= 0xFE00 && c <= 0xFE0F) || c == 0x200D)
    return CharKind::kSymbol;
  return CharKind::kLetter;  // other scripts' letters (Latin extended, Greek, Cyrillic, CJK, ...)
}

bool ends_alphanumeric(const TokenText& t) {
  if (t.kind == TokenText::Kind::kBytes) return true;  // inside a multi-byte character
  if (t.kind != TokenText::Kind::kText || t.text.empty()) return false;
  // the last code point
  size_t i = t.text.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(t.text[i]) & 0xC0) == 0x80) --i;
  char32_t cp = 0;
  if (next_code_point(t.text, i, &cp) == 0) return false;
  const CharKind k = char_kind(cp);
  return k == CharKind::kLetter || k == CharKind::kDigit;
}

}  // namespace

const char* class_name(TokenClass c) {
  switch (c) {
    case TokenClass::kWord: return "word";
    case TokenClass::kSubword: return "sub-word piece";
    case TokenClass::kDigits: return "digits";
    case TokenClass::kPunctuation: return "punctuation";
    case TokenClass::kNewline: return "newline";
    case TokenClass::kWhitespace: return "whitespace";
    case TokenClass::kSpecial: return "special";
    case TokenClass::kBytePiece: return "byte piece";
    case TokenClass::kOther: return "other";
    case TokenClass::kUnknown: return "unknown (no token texts)";
  }
  return "?";
}

TokenClass classify_token(const std::vector<TokenText>& texts, size_t i) {
  if (i >= texts.size()) return TokenClass::kUnknown;
  const TokenText& t = texts[i];
  if (t.kind == TokenText::Kind::kSpecial) return TokenClass::kSpecial;
  if (t.kind == TokenText::Kind::kBytes) return TokenClass::kBytePiece;
  if (t.text.empty()) return TokenClass::kOther;
  std::vector<CharKind> kinds;
  for (size_t k = 0; k < t.text.size();) {
    char32_t cp = 0;
    const size_t len = next_code_point(t.text, k, &cp);
    if (len == 0) return TokenClass::kOther;
    kinds.push_back(char_kind(cp));
    k += len;
  }
  if (std::count(kinds.begin(), kinds.end(), CharKind::kNewline)) return TokenClass::kNewline;
  size_t start = 0;
  while (start < kinds.size() && kinds[start] == CharKind::kSpace) ++start;
  if (start == kinds.size()) return TokenClass::kWhitespace;
  bool letters = false, digits = false, punct = false, other = false;
  for (size_t k = start; k < kinds.size(); ++k) {
    switch (kinds[k]) {
      case CharKind::kLetter: letters = true; break;
      case CharKind::kDigit: digits = true; break;
      case CharKind::kPunct: punct = true; break;
      default: other = true;
    }
  }
  if (other) return TokenClass::kOther;
  if (punct) return letters || digits ? TokenClass::kOther : TokenClass::kPunctuation;
  if (!letters) return TokenClass::kDigits;
  const bool continues = start == 0 && i > 0 && ends_alphanumeric(texts[i - 1]);
  return continues ? TokenClass::kSubword : TokenClass::kWord;
}

std::string display_text(const TokenText& t) {
  if (t.kind == TokenText::Kind::kBytes) {
    std::string out;
    for (unsigned char c : t.text) out += fmt::format("\\x{:02x}", c);
    return out;
  }
  if (t.kind == TokenText::Kind::kSpecial) return t.text;
  std::string out;
  for (char c : t.text) {
    if (c == '\n')
      out += "\xE2\x86\xB5\n";  // ↵
    else if (c == '\t')
      out += "\xE2\x86\x92";  // →
    else if (c == '\r')
      out += "\xE2\x90\x8D";  // ␍
    else
      out += c;
  }
  return out;
}

HeadStatus head_status(const std::vector<std::vector<int>>& keep_a, const std::vector<std::vector<int>>& keep_b,
                       int n, int H, int G) {
  CKV_CHECK(H > 0 && G > 0 && H % G == 0, "keep view: H = {} query heads over G = {} KV heads", H, G);
  auto check = [&](const std::vector<std::vector<int>>& keep, const char* which) {
    CKV_CHECK(keep.size() == size_t(G) || keep.size() == size_t(H),
              "keep view: configuration {} gives {} keep-sets for {} KV heads and {} query heads", which,
              keep.size(), G, H);
  };
  check(keep_a, "A");
  check(keep_b, "B");
  HeadStatus out;
  // Query heads when either configuration selects per query head; with H = G the two coincide.
  out.query_heads = H != G && (keep_a.size() == size_t(H) || keep_b.size() == size_t(H));
  const int heads = out.query_heads ? H : G;
  const int group = H / G;
  out.status.assign(size_t(heads), std::vector<uint8_t>(size_t(n), 0));
  auto mark = [&](const std::vector<std::vector<int>>& keep, uint8_t bit) {
    for (int h = 0; h < heads; ++h) {
      const auto& set = keep.size() == size_t(heads) ? keep[size_t(h)] : keep[size_t(h / group)];
      for (int t : set) {
        CKV_CHECK(t >= 0 && t < n, "keep view: kept token {} outside [0, {})", t, n);
        out.status[size_t(h)][size_t(t)] |= bit;
      }
    }
  };
  mark(keep_a, 1);
  mark(keep_b, 2);
  return out;
}

void Counts::add(uint8_t s) {
  ++total;
  a += s & 1;
  b += (s >> 1) & 1;
  both += s == 3;
  a_only += s == 1;
  b_only += s == 2;
  neither += s == 0;
}

Counts& Counts::operator+=(const Counts& o) {
  total += o.total, a += o.a, b += o.b, both += o.both, a_only += o.a_only, b_only += o.b_only,
      neither += o.neither;
  return *this;
}

Counts count(const std::vector<uint8_t>& status, int begin, int end) {
  Counts c;
  for (int i = std::max(begin, 0); i < std::min<int>(end, int(status.size())); ++i) c.add(status[size_t(i)]);
  return c;
}

// ---- the page of one sample ---------------------------------------------------------------------

namespace {

constexpr std::string_view kCss = R"(body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
code, .tokens { font-family: ui-monospace, monospace; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.current td { background: #ffd; }
.legend span { display: inline-block; padding: 1px 8px; margin-right: .5em; border-radius: 3px; }
.tokens { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.9; border: 1px solid #ddd; padding: .6em; }
.tokens span { border-radius: 2px; }
.k0 { color: #999; }
.k1 { background: #9cc3f0; }
.k2 { background: #f3b37a; }
.k3 { background: #8fd694; }
.ev { border-bottom: 3px solid #c00; }
.q { outline: 1px dashed #555; }
.pl { text-decoration: overline #707; }
.sp { font-style: italic; }
.note { color: #555; }
)";

std::string head_name(bool query_heads, int h, int group) {
  return query_heads ? fmt::format("query head {} (KV head {})", h, h / group) : fmt::format("KV head {}", h);
}

std::string counts_cells(const Counts& c) {
  return fmt::format("<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", c.total, c.a,
                     c.b, c.both, c.a_only, c.b_only, c.neither);
}

std::string span_list(const std::vector<std::pair<int, int>>& spans) {
  std::string out;
  for (const auto& [b, e] : spans) out += fmt::format("{}[{}, {})", out.empty() ? "" : ", ", b, e);
  return out.empty() ? "none" : out;
}

}  // namespace

std::string render_sample_page(const SampleView& view, const Labels& labels) {
  const HeadStatus hs = head_status(view.keep_a, view.keep_b, view.n, view.H, view.G);
  const int heads = int(hs.status.size()), group = view.H / view.G;
  using html::escape;
  std::vector<uint8_t> in_evidence(size_t(view.n), 0), in_question(size_t(view.n), 0), in_planted(size_t(view.n), 0);
  for (const auto& [b, e] : view.evidence)
    for (int i = b; i < e && i < view.n; ++i) in_evidence[size_t(i)] = 1;
  for (int i = view.question.first; i < view.question.second && i < view.n; ++i) in_question[size_t(i)] = 1;
  for (const auto& [name, spans] : view.planted)
    for (const auto& [b, e] : spans)
      for (int i = b; i < e && i < view.n; ++i) in_planted[size_t(i)] = 1;

  std::string body;
  body += fmt::format("<h1>Keep-sets on {}/{}, layer {}</h1>\n", escape(view.task), escape(view.id), view.layer);
  body += fmt::format(
      "<p>A: <code>{}</code> (configuration <code>{}</code>)<br>B: <code>{}</code> (configuration <code>{}</code>)"
      "<br>{} prompt tokens, {} query heads over {} KV heads{}.</p>\n",
      escape(labels.a), escape(labels.hash_a.substr(0, 12)), escape(labels.b), escape(labels.hash_b.substr(0, 12)),
      view.n, view.H, view.G, view.model.empty() ? "" : ", model " + escape(view.model));
  body += fmt::format(
      "<p class=\"legend\"><span class=\"k3\">kept by both</span><span class=\"k1\">A only</span>"
      "<span class=\"k2\">B only</span><span class=\"k0\">neither</span>"
      "<span class=\"ev\">evidence</span><span class=\"q\">question</span>{}</p>\n",
      view.planted.empty() ? "" : "<span class=\"pl\">planted spans</span>");
  body += fmt::format("<p>Evidence: {}; question: [{}, {}){}.</p>\n", span_list(view.evidence), view.question.first,
                      view.question.second, [&] {
                        std::string s;
                        for (const auto& [name, spans] : view.planted)
                          s += fmt::format("; planted {}: {}", escape(name), span_list(spans));
                        return s;
                      }());
  if (view.texts.empty())
    body +=
        "<p class=\"note\">This cache has no token texts (captured before they were recorded, or synthetic): "
        "tokens are shown by position.</p>\n";

  // Head selector and per-head counts.
  body += "<h2>Counts per head</h2>\n<p><label for=\"head\">Head shown below: </label><select id=\"head\">";
  for (int h = 0; h < heads; ++h)
    body += fmt::format("<option value=\"{}\"{}>{}</option>", h, h == 0 ? " selected" : "",
                        head_name(hs.query_heads, h, group));
  body += "</select></p>\n";
  body +=
      "<table id=\"counts\"><thead><tr><th>head</th><th>tokens</th><th>A keeps</th><th>B keeps</th><th>both</th>"
      "<th>A only</th><th>B only</th><th>neither</th><th>A only in evidence</th><th>B only in evidence</th>"
      "</tr></thead><tbody>\n";
  Counts sum;
  for (int h = 0; h < heads; ++h) {
    const Counts c = count(hs.status[size_t(h)], 0, view.n);
    Counts ev;
    for (const auto& [b, e] : view.evidence) ev += count(hs.status[size_t(h)], b, e);
    sum += c;
    body += fmt::format("<tr data-head=\"{}\"{}><td>{}</td>{}<td>{}</td><td>{}</td></tr>\n", h,
                        h == 0 ? " class=\"current\"" : "", head_name(hs.query_heads, h, group), counts_cells(c),
                        ev.a_only, ev.b_only);
  }
  body += fmt::format("</tbody><tfoot><tr><td>all heads</td>{}<td></td><td></td></tr></tfoot></table>\n",
                      counts_cells(sum));

  // The tokens, coloured for head 0; the script recolours them for the selected head.
  body += "<h2>Prompt tokens</h2>\n<div class=\"tokens\" id=\"tokens\">";
  for (int i = 0; i < view.n; ++i) {
    const TokenClass cls = classify_token(view.texts, size_t(i));
    std::string classes = fmt::format("k{}", hs.status[0][size_t(i)]);
    if (in_evidence[size_t(i)]) classes += " ev";
    if (in_question[size_t(i)]) classes += " q";
    if (in_planted[size_t(i)]) classes += " pl";
    if (cls == TokenClass::kSpecial) classes += " sp";
    const std::string text = view.texts.empty() ? fmt::format("[{}]", i) : display_text(view.texts[size_t(i)]);
    body += fmt::format("<span class=\"{}\" title=\"#{} {}\">{}</span>", classes, i, class_name(cls),
                        escape(text.empty() ? std::string("\xE2\x88\x85") : text));  // ∅ for an empty token
  }
  body += "</div>\n";

  // Per-head status strings for the script: one character per token, '0'-'3' (bit 1 A, bit 2 B).
  json status = json::array();
  for (const auto& s : hs.status) {
    std::string line(s.size(), '0');
    for (size_t i = 0; i < s.size(); ++i) line[i] = char('0' + s[i]);
    status.push_back(line);
  }
  body += "<script type=\"application/json\" id=\"status\">" + html::script_json(status) + "</script>\n";
  body += R"(<script>
(function () {
  var status = JSON.parse(document.getElementById('status').textContent);
  var spans = document.getElementById('tokens').children;
  var rows = document.querySelectorAll('#counts tbody tr');
  document.getElementById('head').addEventListener('change', function (e) {
    var h = Number(e.target.value), s = status[h];
    for (var i = 0; i < spans.length; i++) {
      spans[i].className = spans[i].className.replace(/\bk[0-3]\b/, 'k' + s.charAt(i));
    }
    for (var r = 0; r < rows.length; r++) {
      rows[r].className = Number(rows[r].getAttribute('data-head')) === h ? 'current' : '';
    }
  });
})();
</script>
)";
  return html::page(fmt::format("keep-view {}/{} layer {}", view.task, view.id, view.layer), kCss, body);
}

// ---- the task summary ---------------------------------------------------------------------------

void Summary::add(const SampleView& view) {
  const HeadStatus hs = head_status(view.keep_a, view.keep_b, view.n, view.H, view.G);
  ++samples;
  if (view.texts.empty()) have_texts = false;
  std::vector<std::string> span(size_t(view.n), "rest");
  for (const auto& [name, spans] : view.planted)
    for (const auto& [b, e] : spans)
      for (int i = b; i < e && i < view.n; ++i) span[size_t(i)] = "planted " + name;
  for (int i = view.question.first; i < view.question.second && i < view.n; ++i) span[size_t(i)] = "question";
  for (const auto& [b, e] : view.evidence)
    for (int i = b; i < e && i < view.n; ++i) span[size_t(i)] = "evidence";
  std::vector<TokenClass> classes(size_t(view.n));
  for (int i = 0; i < view.n; ++i) classes[size_t(i)] = classify_token(view.texts, size_t(i));
  for (const auto& s : hs.status) {
    for (int i = 0; i < view.n; ++i) {
      const uint8_t st = s[size_t(i)];
      all.add(st);
      by_bin[size_t(int64_t(i) * bins / view.n)].add(st);
      by_class[size_t(classes[size_t(i)])].add(st);
      by_span[span[size_t(i)]].add(st);
    }
  }
}

namespace {

struct Row {
  std::string group, value;
  Counts c;
};

std::vector<Row> summary_rows(const Summary& s) {
  std::vector<Row> rows;
  rows.reserve(size_t(s.bins) + size_t(kTokenClasses) + s.by_span.size());
  for (int b = 0; b < s.bins; ++b)
    rows.push_back({"position", fmt::format("{:.0f}-{:.0f}%", 100.0 * b / s.bins, 100.0 * (b + 1) / s.bins),
                    s.by_bin[size_t(b)]});
  for (int k = 0; k < kTokenClasses; ++k)
    if (s.by_class[size_t(k)].total > 0) rows.push_back({"token", class_name(TokenClass(k)), s.by_class[size_t(k)]});
  for (const auto& [name, c] : s.by_span) rows.push_back({"span", name, c});
  rows.push_back({"all", "all", s.all});
  return rows;
}

std::string percent(int64_t part, int64_t total) {
  return total == 0 ? std::string("-") : fmt::format("{:.1f}", 100.0 * double(part) / double(total));
}

const char* kHeader[] = {"group", "value", "pairs", "A keeps", "B keeps", "both", "A only", "B only", "neither",
                         "A only %", "B only %", "A only − B only %"};

std::vector<std::string> cells(const Row& r) {
  const Counts& c = r.c;
  return {r.group,
          r.value,
          std::to_string(c.total),
          std::to_string(c.a),
          std::to_string(c.b),
          std::to_string(c.both),
          std::to_string(c.a_only),
          std::to_string(c.b_only),
          std::to_string(c.neither),
          percent(c.a_only, c.total),
          percent(c.b_only, c.total),
          c.total == 0 ? "-" : fmt::format("{:+.1f}", 100.0 * double(c.a_only - c.b_only) / double(c.total))};
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string md_field(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

std::string render_summary(const Summary& summary, const Labels& labels, const std::string& task, int layer,
                           const std::string& format) {
  const std::vector<Row> rows = summary_rows(summary);
  std::string out;
  const std::string caption = fmt::format(
      "A = {} ({}), B = {} ({}); task {}, layer {}, {} samples; counts over (head, token) pairs{}", labels.a,
      labels.hash_a.substr(0, 12), labels.b, labels.hash_b.substr(0, 12), task, layer, summary.samples,
      summary.have_texts ? "" : "; some samples have no token texts (their tokens are 'unknown')");
  if (format == "csv") {
    for (size_t k = 0; k < std::size(kHeader); ++k) out += (k ? "," : "") + csv_field(kHeader[k]);
    out += "\n";
    for (const Row& r : rows) {
      const auto c = cells(r);
      for (size_t k = 0; k < c.size(); ++k) out += (k ? "," : "") + csv_field(c[k]);
      out += "\n";
    }
  } else if (format == "html") {
    out += "<table class=\"summary\"><caption>" + html::escape(caption) + "</caption><thead><tr>";
    for (const char* h : kHeader) out += "<th>" + html::escape(h) + "</th>";
    out += "</tr></thead><tbody>\n";
    for (const Row& r : rows) {
      out += "<tr>";
      for (const auto& c : cells(r)) out += "<td>" + html::escape(c) + "</td>";
      out += "</tr>\n";
    }
    out += "</tbody></table>\n";
  } else {
    CKV_CHECK(format == "markdown", "keep view: unknown format '{}' (markdown, csv)", format);
    out += md_field(caption) + "\n\n|";
    for (const char* h : kHeader) out += fmt::format(" {} |", h);
    out += "\n|";
    for (size_t k = 0; k < std::size(kHeader); ++k) out += k < 2 ? "---|" : "---:|";
    out += "\n";
    for (const Row& r : rows) {
      out += "|";
      for (const auto& c : cells(r)) out += " " + md_field(c) + " |";
      out += "\n";
    }
  }
  return out;
}

std::string render_summary_page(const Summary& summary, const Labels& labels, const std::string& task, int layer) {
  std::string body = fmt::format("<h1>Where A and B differ: task {}, layer {}</h1>\n", html::escape(task), layer);
  body +=
      "<p class=\"note\">Each (head, prompt token) pair counts once; position bins are the token's position "
      "over the prompt length; spans: evidence before question before planted spans.</p>\n";
  body += render_summary(summary, labels, task, layer, "html");
  return html::page(fmt::format("keep-view summary {} layer {}", task, layer), kCss, body);
}

}  // namespace ckv::keepview

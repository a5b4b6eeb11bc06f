// Keep-set views (seed 001's A8/A9): which prompt tokens two configurations A and B keep on one
// sample (a self-contained HTML page), and, over all samples of a task, where (relative position,
// evidence / question spans) and on which kinds of tokens (punctuation, newline, digits, words,
// sub-word pieces) they differ. docs/user-guide.md, "Keep-set views".
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cache/sample_cache.hpp"

namespace ckv::keepview {

// What a prompt token is, from its text (cache metadata `token_texts`).
enum class TokenClass { kWord,
                        kSubword,
                        kDigits,
                        kPunctuation,
                        kNewline,
                        kWhitespace,
                        kSpecial,
                        kBytePiece,
                        kOther,
                        kUnknown };
inline constexpr int kTokenClasses = 10;
const char* class_name(TokenClass c);

// The class of token i of `texts`. Rules, on the token's text:
//   special token → special; bytes that are not UTF-8 alone → byte piece; a newline or carriage
//   return anywhere → newline; only whitespace → whitespace; otherwise, after the leading
//   whitespace: all digits → digits; all punctuation or symbols (ASCII punctuation, Unicode
//   punctuation blocks) → punctuation; letters (with digits allowed) → a word when the token
//   starts with whitespace or follows a token that does not end in a letter or digit (the start
//   of the text, punctuation, a newline), else a sub-word piece; anything else (letters mixed
//   with punctuation, emoji, empty text) → other.
// Without texts (older caches) every token is kUnknown.
TokenClass classify_token(const std::vector<TokenText>& texts, size_t i);

// The token's text for display: newline as "↵" followed by a line break, tab as "→", carriage
// return as "␍", a byte piece as \xNN..., a special token as its text; not escaped.
std::string display_text(const TokenText& t);

// Per head, per token: bit 1 set when A keeps it, bit 2 when B keeps it. Keep-sets come per KV
// head (G sets) or per query head (H sets); when A and B differ in granularity the KV-head sets
// are expanded to the query heads that read them (query head h reads KV head h / (H / G)).
struct HeadStatus {
  bool query_heads = false;                  // the heads below are query heads (else KV heads)
  std::vector<std::vector<uint8_t>> status;  // [heads][n]
};
HeadStatus head_status(const std::vector<std::vector<int>>& keep_a, const std::vector<std::vector<int>>& keep_b,
                       int n, int H, int G);

struct Counts {
  int64_t total = 0, a = 0, b = 0, both = 0, a_only = 0, b_only = 0, neither = 0;
  void add(uint8_t status);
  Counts& operator+=(const Counts& o);
};
Counts count(const std::vector<uint8_t>& status, int begin, int end);

// One sample of the view, as the command assembles it.
struct SampleView {
  std::string task, id, model;
  int layer = 0, n = 0, H = 0, G = 0;
  std::vector<TokenText> texts;  // empty: the cache has none
  std::vector<std::pair<int, int>> evidence;
  std::pair<int, int> question{0, 0};
  std::map<std::string, std::vector<std::pair<int, int>>> planted;
  std::vector<std::vector<int>> keep_a, keep_b;
};
struct Labels {
  std::string a, b;            // as the user wrote them
  std::string hash_a, hash_b;  // configuration hashes
};

// The page of one sample (docs/user-guide.md): tokens coloured by status for the chosen head
// (a selector over every head), evidence and question spans marked, counts per head and span.
std::string render_sample_page(const SampleView& view, const Labels& labels);

// Where A and B differ over many samples, counted over (head, token) pairs.
struct Summary {
  int bins = 10;
  int samples = 0;
  bool have_texts = true;      // every sample carried token texts
  std::vector<Counts> by_bin;  // relative position: floor(i · bins / n)
  std::array<Counts, kTokenClasses> by_class{};
  std::map<std::string, Counts> by_span;  // "evidence", "question", planted names, "rest"
  Counts all;
  explicit Summary(int bins_ = 10) : bins(bins_), by_bin(size_t(bins_)) {}
  void add(const SampleView& view);
};

// The summary as a table: format "markdown", "csv" or "html" (an HTML fragment).
std::string render_summary(const Summary& summary, const Labels& labels, const std::string& task, int layer,
                           const std::string& format);
std::string render_summary_page(const Summary& summary, const Labels& labels, const std::string& task, int layer);

}  // namespace ckv::keepview

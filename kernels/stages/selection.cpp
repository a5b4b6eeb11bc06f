#include "kernels/stages/selection.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <utility>

#include <fmt/format.h>

namespace ckv {

ParamSchema<SelectionParams> selection_schema(int default_sink,
                                              SelectionGranularity default_granularity) {
  ParamSchema<SelectionParams> schema;
  schema.integer(&SelectionParams::budget, "budget", 2048, 1, 1e9,
                 "B: prompt tokens kept per layer (and KV head); nothing is evicted when n <= B")
      .selection_only();
  // The window changes scores too: SnapKV-style methods use it as their observation window.
  schema.integer(&SelectionParams::window, "window", 64, 1, 1e9,
                 "w: the last w prompt tokens are always kept (and form the observation window "
                 "of methods that read window rows)");
  schema.integer(&SelectionParams::sink, "sink_size", default_sink, 0, 1e9,
                 "s: the first s prompt tokens (attention sinks) are always kept");
  schema.choice(&SelectionParams::granularity, "selection", default_granularity,
                {{"shared", SelectionGranularity::shared},
                 {"per_kv_head", SelectionGranularity::per_kv_head},
                 {"per_query_head", SelectionGranularity::per_query_head}},
                "shared: one keep-set for all heads of a layer (scores averaged over all heads); "
                "per_kv_head: one keep-set per KV head (scores averaged over its GQA group, "
                "kvpress); per_query_head: one keep-set per query head (KV heads repeated first, "
                "KVCache-Factory's repeat_kv)");
  schema.choice(&SelectionParams::budget_mode, "budget_mode", BudgetMode::uniform,
                {{"uniform", BudgetMode::uniform}, {"pyramid", BudgetMode::pyramid}},
                "uniform: every layer keeps B; pyramid: PyramidKV layer allocation (beta = 20), "
                "more in lower layers, about B per layer on average")
      .selection_only();
  schema.choice(&SelectionParams::pyramid_rounding, "pyramid_rounding", PyramidRounding::integer,
                {{"integer", PyramidRounding::integer}, {"float", PyramidRounding::real}},
                "integer: KVCache-Factory's floor divisions; float: kvpress's real-valued "
                "min/max/steps (pyramid budgets only)")
      .selection_only();
  // Added after configurations without it were stored: "none" is left out of the canonical JSON.
  schema.number_or_choice(&SelectionParams::compression_ratio, "compression_ratio", 0.0, 0.0, 1.0,
                          {{"none", NoCompressionRatio::none}},
                          "r, kvpress's convention: the fraction of each prompt removed, B = round((1 - r) n) per "
                          "sample (at least sink_size + window), 0 <= r < 1; instead of `budget` (\"none\": `budget` "
                          "holds)")
      .set_default("compression_ratio", json("none"))
      .selection_only()
      .legacy(json("none"));
  return schema;
}

std::string SelectionParams::validate() const {
  // docs/spec/METHODS.md "Selection": the public code silently keeps s + w instead; we refuse.
  if ((long long)budget < (long long)sink + (long long)window)
    return fmt::format("budget {} is below sink_size + window = {}", budget,
                       (long long)sink + (long long)window);
  if (has_compression_ratio() && !(compression_ratio.number < 1.0))
    return fmt::format("compression_ratio {} removes the whole prompt: it must be below 1 (0 <= r < 1)",
                       compression_ratio.number);
  return "";
}

namespace {

// Python's floor division (toward -inf), which KVCache-Factory's `//` uses.
long long floor_div(long long a, long long b) {
  long long q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

constexpr int kPyramidBeta = 20;  // docs/spec/METHODS.md "Selection": PyramidKV with beta = 20

// Total tokens kept by layer `layer` (n > B), window and sinks included.
int pyramid_budget(const SelectionParams& sel, int layer, int num_layers, int n) {
  const long long B = sel.budget, w = sel.window;
  if (sel.pyramid_rounding == PyramidRounding::integer) {
    // KVCache-Factory pyramidkv/pyramidkv_utils.py, PyramidKVCluster.update_kv, with
    // max_capacity_prompt = B (window included):
    //   min_num = (B - w) // beta;  max_num = 2 (B - w) - min_num
    //   if max_num >= n - w: max_num = n - w; min_num = 2 (B - w) - max_num
    //   steps = (max_num - min_num) // (L - 1)
    //   n < 2 (B - w): uniform (B - w selected + w window)
    //   else: (max_num - layer * steps) selected + w window.
    const long long base = B - w;
    if (n < 2 * base) return int(B);
    long long min_num = floor_div(base, kPyramidBeta);
    long long max_num = base * 2 - min_num;
    if (max_num >= n - w) {
      max_num = n - w;
      min_num = base * 2 - max_num;
    }
    const long long steps = floor_div(max_num - min_num, num_layers - 1);
    return int(max_num - layer * steps + w);
  }
  // kvpress presses/pyramidkv_press.py, PyramidKVPress.get_layer_budget (kvpress >= 0.2.6),
  // real-valued. Its budget counts every kept token (q_len (1 - compression_ratio) = B):
  //   min_num = B / beta;  max_num = 2 B - min_num
  //   if max_num >= n - w: max_num = n - w; min_num = 2 B - max_num
  //   if not (n >= max_num >= min_num >= w): uniform B ("fall back to SnapKV")
  //   steps = (max_num - min_num) / (L - 1);  keep round(max_num - layer * steps)
  // Python's round() rounds half to even, as nearbyint does in the default rounding mode.
  double min_num = double(B) / kPyramidBeta;
  double max_num = 2.0 * double(B) - min_num;
  if (max_num >= double(n - w)) {
    max_num = double(n - w);
    min_num = 2.0 * double(B) - max_num;
  }
  if (!(double(n) >= max_num && max_num >= min_num && min_num >= double(w))) return int(B);
  const double steps = (max_num - min_num) / double(num_layers - 1);
  return int(std::nearbyint(max_num - double(layer) * steps));
}

}  // namespace

int sample_budget(const SelectionParams& sel, int n) {
  if (!sel.has_compression_ratio()) return sel.budget;
  // Python's round() (half to even) is nearbyint in the default rounding mode.
  const double kept = std::nearbyint((1.0 - sel.compression_ratio.number) * double(n));
  return int(std::max<long long>((long long)kept, (long long)sel.sink + sel.window));
}

int layer_budget(const SelectionParams& given, int layer, int num_layers, int n) {
  SelectionParams sel = given;
  sel.budget = sample_budget(given, n);
  if (sel.budget_mode != BudgetMode::pyramid || num_layers <= 1 || n <= sel.budget) return sel.budget;
  // The top layers of a steep pyramid can get less than sinks + window; those are always
  // kept, so the layer budget is raised to s + w to keep "exactly min(B_layer, n) kept".
  return std::max(pyramid_budget(sel, layer, num_layers, n), sel.sink + sel.window);
}

namespace {

// The order of scores as unsigned integers: key(a) > key(b) exactly when a > b, NaN ranked as
// -inf (lowest) and -0 equal to +0, as the comparison of floats the selection is defined by.
// Branch-free, so the loop over a score vector vectorises.
inline uint32_t order_key(float x) {
  x = x != x ? -INFINITY : x + 0.0f;  // NaN -> -inf; -0 + +0 = +0
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  // negative: all bits flipped; positive: the sign bit set
  return bits ^ (uint32_t(int32_t(bits) >> 31) | 0x80000000u);
}

// The `take` best of the candidates [lo, lo + keys.size()) by (score descending, position
// ascending), as the boundary pair: candidate j is among them exactly when
// (key_j, -j) >= (key, -position). A radix select: a histogram of 11 bits of the keys, taken
// just below the bits all candidates share (so scores in a narrow range still spread over the
// bins), finds the bin the boundary falls in; only that bin's candidates go on, and at most
// 64 of them (or equal keys) are ordered by nth_element. Each pass reads the candidates once,
// so the cost is a few passes over the scores instead of an nth_element over all of them.
// 0 < take < keys.size().
std::pair<uint32_t, int> selection_boundary(const std::vector<uint32_t>& keys, int lo, int take) {
  constexpr int kBits = 11, kBins = 1 << kBits;
  constexpr size_t kSmall = 64;
  std::vector<int> histogram(kBins);
  // One level: the digit below the shared bits of [kmin, kmax]; returns the digit of the
  // boundary's bin and lowers `need` by the candidates in the bins above it.
  auto level = [&](uint32_t kmin, uint32_t kmax, auto&& for_each_key, int& need, int& shift) {
    const int top = 31 - __builtin_clz(kmin ^ kmax);  // the highest bit that differs
    shift = std::max(0, top + 1 - kBits);
    std::fill(histogram.begin(), histogram.end(), 0);
    for_each_key([&](uint32_t k) { ++histogram[(k >> shift) & (kBins - 1)]; });
    int above = 0, bin = kBins - 1;
    for (; bin > 0 && above + histogram[bin] < need; --bin) above += histogram[bin];
    need -= above;
    return uint32_t(bin);
  };
  int need = take;
  std::vector<std::pair<uint32_t, int>> tied;
  {
    uint32_t kmin = ~0u, kmax = 0;
    for (uint32_t k : keys) {
      kmin = std::min(kmin, k);
      kmax = std::max(kmax, k);
    }
    if (kmin == kmax) return {kmin, lo + take - 1};  // all scores equal: the lowest positions
    int shift = 0;
    const uint32_t bin = level(
        kmin, kmax, [&](auto add) { for (uint32_t k : keys) add(k); }, need, shift);
    tied.reserve(keys.size() / 8);
    for (size_t i = 0; i < keys.size(); ++i)
      if (((keys[i] >> shift) & (kBins - 1)) == bin) tied.emplace_back(keys[i], lo + int(i));
  }
  while (tied.size() > kSmall) {
    uint32_t kmin = ~0u, kmax = 0;
    for (const auto& t : tied) {
      kmin = std::min(kmin, t.first);
      kmax = std::max(kmax, t.first);
    }
    if (kmin == kmax) break;  // equal keys: nth_element orders them by position
    int shift = 0;
    const uint32_t bin = level(
        kmin, kmax, [&](auto add) { for (const auto& t : tied) add(t.first); }, need, shift);
    std::erase_if(tied, [&](const auto& t) { return ((t.first >> shift) & (kBins - 1)) != bin; });
  }
  // 1 <= need <= tied.size()
  auto better = [](const std::pair<uint32_t, int>& a, const std::pair<uint32_t, int>& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second < b.second;
  };
  std::nth_element(tied.begin(), tied.begin() + (need - 1), tied.end(), better);
  return tied[need - 1];
}

// One keep-set for scores `x` (docs/spec/METHODS.md "Selection"): sinks [0, s), window
// [max(s, n - w), n), then the best-scoring rest, ties to the lower position.
std::vector<int> select_one(const std::vector<float>* x, const CustomFill* custom, int head,
                            int budget, int sink, int window, int n) {
  std::vector<int> keep;
  if (n <= budget) {
    keep.resize(n);
    std::iota(keep.begin(), keep.end(), 0);
    return keep;
  }
  // Always kept: the sinks [0, s) and the window [e, n); the candidates are [s, e).
  const int s = std::min(sink, n);
  const int e = std::max(s, n - window);
  const int count = s + (n - e);
  // B >= s + w (validate_selection, layer_budget), so slots >= 0 unless window > n.
  const int slots = std::max(0, budget - count);
  if (custom) {
    std::vector<unsigned char> taken(n, 0);
    for (int j = 0; j < s; ++j) taken[j] = 1;
    for (int j = e; j < n; ++j) taken[j] = 1;
    int left = slots;
    if (left > 0)
      for (int j : custom->fill(head, left, taken)) {
        if (left == 0) break;
        CKV_CHECK(j >= 0 && j < n && !taken[j], "selection: custom fill returned token {} ({})",
                  j, j >= 0 && j < n ? "already kept" : "out of range");
        taken[j] = 1;
        --left;
      }
    keep.reserve(std::min(n, budget));
    for (int j = 0; j < n; ++j)
      if (taken[j]) keep.push_back(j);
    return keep;
  }
  CKV_CHECK(x && int(x->size()) == n, "selection: score vector of length {} for n = {}",
            x ? x->size() : 0, n);
  const int take = std::min(slots, e - s);
  keep.resize(size_t(count) + take);
  int out = 0;
  for (int j = 0; j < s; ++j) keep[out++] = j;
  if (take == e - s) {
    for (int j = s; j < e; ++j) keep[out++] = j;
  } else if (take > 0) {
    // (score, position) order as integer keys, so the comparisons read no scattered scores.
    std::vector<uint32_t> keys(size_t(e - s));
    for (int j = s; j < e; ++j) keys[j - s] = order_key((*x)[j]);
    const auto [key, position] = selection_boundary(keys, s, take);
    for (int j = s; j < e; ++j) {  // branch-free: write every candidate, advance past the kept
      const uint32_t k = keys[j - s];
      keep[out] = j;
      out += int(k > key || (k == key && j <= position));
    }
  }
  for (int j = e; j < n; ++j) keep[out++] = j;
  CKV_CHECK(out == count + take, "selection: kept {} of {} tokens", out, count + take);
  return keep;
}

}  // namespace

std::vector<std::vector<int>> select_keep(const Scores& scores, const SelectionParams& sel, int n,
                                          int G, int layer, int num_layers, int query_heads) {
  const bool per_query = sel.granularity == SelectionGranularity::per_query_head;
  CKV_CHECK(!per_query || query_heads >= 1,
            "selection: per_query_head selection needs the number of query heads");
  const int sets = per_query ? query_heads : G;
  std::vector<std::vector<int>> keep(sets);
  if (scores.keep_all) {
    for (auto& k : keep) {
      k.resize(n);
      std::iota(k.begin(), k.end(), 0);
    }
    return keep;
  }
  const int budget = layer_budget(sel, layer, num_layers, n);
  const CustomFill* custom = scores.custom_fill.get();
  if (sel.shared()) {
    CKV_CHECK(custom || scores.heads.size() == 1,
              "selection: shared selection needs one score vector, got {}", scores.heads.size());
    auto one = select_one(custom ? nullptr : &scores.heads[0], custom, 0, budget, sel.sink,
                          sel.window, n);
    for (auto& k : keep) k = one;
    return keep;
  }
  CKV_CHECK(custom || int(scores.heads.size()) == sets,
            "selection: {} selection needs {} score vectors, got {}",
            per_query ? "per_query_head" : "per_kv_head", sets, scores.heads.size());
  for (int g = 0; g < sets; ++g) {
    // Heads with the same scores (the methods whose scores do not depend on the head, e.g.
    // streaming_llm, random) get the same keep-set: it is a function of the scores alone.
    if (!custom && g > 0 && scores.heads[g].size() == scores.heads[g - 1].size() &&
        std::memcmp(scores.heads[g].data(), scores.heads[g - 1].data(),
                    scores.heads[g].size() * sizeof(float)) == 0) {
      keep[g] = keep[g - 1];
      continue;
    }
    keep[g] = select_one(custom ? nullptr : &scores.heads[g], custom, g, budget, sel.sink,
                         sel.window, n);
  }
  return keep;
}

std::vector<float> rank_normalize(const std::vector<float>& x) {
  // rank(x)/(n-1), ranks 0..n-1 ascending by value; equal values are ranked by position, the
  // lower position getting the lower rank (a stable sort), so ties never share a rank.
  const int n = int(x.size());
  std::vector<float> out(n, 0.0f);
  if (n <= 1) return out;
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  // NaN is ranked lowest so the comparison stays a strict weak order.
  auto key = [&](int j) { return std::isnan(x[j]) ? -INFINITY : x[j]; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
  for (int r = 0; r < n; ++r) out[order[r]] = float(r) / float(n - 1);
  return out;
}

}  // namespace ckv

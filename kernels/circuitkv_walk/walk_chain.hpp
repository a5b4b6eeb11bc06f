// The absorbing random-walk chains of `circuitkv_walk` (docs/spec/METHODS.md "CircuitKV: absorbing
// random walks"; seed 001 "current CircuitKV" and Part II improvement 1, bidirectional flow).
//
// Two chains on the attention graph P of kernels/stages/attention_graph.hpp:
//   backward: a walker at i steps to j ~ P[i, ·] (toward earlier tokens); the sinks [0, s)
//             absorb. Its transient block is Q = P[s:, s:] (docs/spec/METHODS.md Neumann step 3).
//   forward:  the column-normalised transpose, Pf[j, i] = P[i, j] / c_j with
//             c_j = Σ_i P[i, j] over all n rows: a walker at j steps to a later (or the same)
//             position i with probability proportional to the attention i pays to j. Walkers
//             start at the sinks and the query region (q, or the window) absorbs, so the flow
//             runs from the sinks toward the query (seed 001: P_forward = row_normalize(Aᵀ)).
//
// A walker makes at most `steps` transitions; it stops early when it lands on an absorbing
// node or on a node with no outgoing mass (a substochastic row ends a walk with the missing
// probability, exactly as the expectation below treats it). Every landing on a transient node
// counts one visit; the start counts only with count_start.
//
// Randomness: the draw of walker w at step t is philox_walk_draw(seed, stream, w, t).u0 with
// stream = walk_stream(direction, steps), so counts are a pure function of (graph, chain,
// options) whatever the thread count, and a CUDA twin drawing the same stream gets the same
// walks.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/stages/attention_graph.hpp"
#include "kernels/stages/monte_carlo.hpp"

namespace ckv::circuitkv {

// The prefix rows of a window_prefix graph are separable, P[i, j] = column[j]·row[i] for
// j < i < window_start (graph.hpp). Recovered from P itself (entries of the last prefix row
// and of column 0), and checked, so this file depends on the documented form, not on the
// graph's private members. Empty for the full graph or when there are no prefix rows.
struct PrefixFactors {
  int window_start = 0;
  std::vector<double> column;  // [window_start]
  std::vector<double> row;     // [window_start], row[0] = 0 (row 0 is empty)
};
PrefixFactors prefix_factors(const AttentionGraph& graph);

// Column-normalised transpose of P for forward walks. Prefix rows contribute
// column[j]·(R[ws] − R[j+1]) to column j (R = prefix sums of the row factors: one array,
// binary search); dense rows are held as packed per-column cumulative sums (n·w numbers for
// window_prefix); for the full graph the columns are read from the graph's packed rows, with
// running sums every kCdfBlock rows (n²/128 numbers).
class ForwardChain {
 public:
  static ForwardChain build(const AttentionGraph& graph);

  int n() const { return n_; }
  // c_j = Σ_i P[i, j].
  double column_mass(int j) const { return mass_[j]; }
  // i ~ P[i, j] / c_j for u in [0, 1); -1 when column j has no mass (forward_sample of
  // kernels/stages/chain_sampling.hpp, the CUDA walkers' code).
  int sample(int j, double u) const { return forward_sample(arrays(), j, u); }

  // The arrays sample() searches (host pointers; the full graph's packed rows are the
  // backward graph's), and their sizes, for the CUDA walk twin (walk_kernels.hpp).
  ForwardChainArrays arrays() const;
  int window_start() const { return window_start_; }
  size_t column_cdf_size() const { return dense_cdf_.size(); }
  size_t column_block_cum_size() const { return column_block_cum_.size(); }

 private:
  const AttentionGraph* graph_ = nullptr;
  int n_ = 0, window_start_ = 0;
  PrefixFactors prefix_;
  std::vector<double> row_cum_;      // row_cum_[i] = Σ_{k<i} prefix_.row[k], i in [0, ws]
  std::vector<double> prefix_mass_;  // prefix-row mass of column j
  std::vector<uint64_t> offset_;     // window_prefix: column j's dense rows start at offset_[j]
  std::vector<double> dense_cdf_;    // window_prefix: cumulative P[r, j] over rows r >= max(ws, j)
  // full graph: running sums of column j over rows r >= j at the end of every kCdfBlock rows.
  std::vector<uint64_t> column_block_offset_;  // [n + 1]
  std::vector<double> column_block_cum_;
  std::vector<double> mass_;
};

enum class WalkDirection { backward,
                           forward };

const char* direction_name(WalkDirection direction);

// One absorbing chain ready to walk. Walker w starts at sources[w % sources.size()]
// (round-robin, so `window` sources are spread evenly and deterministically).
struct WalkChain {
  WalkDirection direction = WalkDirection::backward;
  const AttentionGraph* graph = nullptr;
  const ForwardChain* forward = nullptr;  // set for forward chains
  std::vector<int> sources;
  std::vector<unsigned char> absorbing;  // [n]

  int n() const { return graph->n(); }
  // The next node of a walker at `pos` with draw u, or -1 when the walk ends there
  // (absorbed, or no outgoing mass).
  int next(int pos, double u) const;
  // y = Mᵀ x on the transient nodes (M = Q for backward, the forward block for forward):
  // the distribution after one more step, absorbed mass removed.
  void propagate(const std::vector<double>& x, std::vector<double>& y) const;
};

// Where backward walkers start (and forward walkers are absorbed): the query q = n − 1, or the
// last `window` positions not in the sinks.
enum class WalkSource { query,
                        window };

// backward: starts at the source, sinks absorb.
WalkChain backward_chain(const AttentionGraph& graph, WalkSource source, int window);
// forward: starts at the sinks [0, s) (position 0 when s = 0), the source region absorbs.
WalkChain forward_chain(const AttentionGraph& graph, const ForwardChain& forward,
                        WalkSource source, int window);

struct WalkOptions {
  long long walkers = 10000;
  int steps = 10;
  uint64_t seed = 0;
  bool count_start = false;
  int threads = 0;              // 0: kernel_threads() (kernels/stages/threads.hpp), one per 512 walkers at most
  bool second_moments = false;  // also Σ_w c_{w,j}² (for standard errors in tests)
};

struct VisitCounts {
  long long walkers = 0;
  std::vector<uint64_t> visits;      // Σ over walkers of the visits to j
  std::vector<uint64_t> squares;     // Σ over walkers of (visits to j)², when requested
  std::vector<double> mean() const;  // visits / walkers
};

// Philox stream of a run: distinct per direction and walk length, so the runs of a
// multi-scale or bidirectional configuration are independent, while configurations that
// share (graph, direction, steps, seed) draw the same walks.
uint32_t walk_stream(WalkDirection direction, int steps);

// Monte Carlo on the shared engine (kernels/stages/monte_carlo.hpp): integer visit counts,
// summed over chunks of walkers.
VisitCounts run_walkers(const WalkChain& chain, const WalkOptions& options);

// The start distribution of `walkers` round-robin walkers (mass on absorbing nodes removed:
// such a walker never moves).
std::vector<double> start_distribution(const WalkChain& chain, long long walkers);

// estimator = "exact": the expected visits per walker, Σ_{t=t0..steps} (Mᵀ)ᵗ x0 with
// t0 = 0 when count_start, else 1 (the truncated Neumann series with K = steps).
std::vector<double> expected_visits(const WalkChain& chain, long long walkers, int steps,
                                    bool count_start);

}  // namespace ckv::circuitkv

// `circuitkv_neumann` (docs/spec/METHODS.md "CircuitKV: Neumann"; seed 002): query importance QI
// and hub importance HI from the truncated Neumann series of the absorbing attention chain,
// smoothed, rank-normalised and combined. The stages are exposed for tests.
#pragma once
#include <string>
#include <vector>

#include "kernels/method.hpp"
#include "kernels/stages/neumann_series.hpp"
#include "kernels/stages/postprocess.hpp"

namespace ckv::circuitkv {

enum class NeumannHeadReduce { entropy,
                               max,
                               mean };
enum class NeumannCombination { dis,
                                qi,
                                hi,
                                weighted,
                                union_fill,
                                da,
                                calibrated };
// The per-head variant's knobs (docs/reference-implementations.md: public code vs ours).
enum class PerHeadEntropy { window_mean,
                            last_row };
enum class PerHeadSmoothing { separate,
                              shared_kernel };
enum class PerHeadRange { all,
                          prefix };
enum class PerHeadMix { entropy_weighted,
                        max_global_hi };

struct NeumannParams {
  SelectionParams selection;
  NeumannHeadReduce head_reduce = NeumannHeadReduce::entropy;
  int top_k_heads = 10;
  double hi_mass_threshold = 0.5;
  GraphKind graph = GraphKind::window_prefix;
  int iterations = 10;
  double temperature = 1.0;
  double gamma = 1.0;
  Smoothing smoothing = Smoothing::gaussian;
  int qi_kernel = 3;
  int hi_kernel = 5;
  double sigma = 1.0;
  NeumannCombination combination = NeumannCombination::dis;
  double alpha = 0.5;
  double union_ratio = 0.5;
  bool per_head = false;
  bool true_hub_hi = true;
  PerHeadEntropy per_head_entropy = PerHeadEntropy::window_mean;
  PerHeadSmoothing per_head_smoothing = PerHeadSmoothing::separate;
  bool per_head_sink_score = false;
  PerHeadRange per_head_range = PerHeadRange::all;
  PerHeadMix per_head_mix = PerHeadMix::entropy_weighted;

  std::string validate() const;  // odd smoothing kernels
  std::string full_rows_reason() const {
    return graph == GraphKind::full ? "graph = \"full\" builds the chain from every attention row" : "";
  }
  // The QI and HI graphs of these parameters (docs/spec/METHODS.md step 1).
  GraphOptions qi_graph() const;
  GraphOptions hi_graph() const;
};

// Steps 1–3 up to the raw series: QI and HI over all n positions (sinks 0, no pseudo-score,
// not normalised), plus the window column sums of each signal's graph (the DA weights).
struct NeumannRaw {
  NeumannVectors series;
  std::vector<double> da_qi, da_hi;
};
// Where the series of step 3 iterates: NeumannSeries on the host, or the CUDA series
// (kernels/stages/neumann_kernels.hpp; only in builds with CUDA) on the same host-built graphs.
enum class SeriesDevice { host,
                          cuda };

// `source`: where the attention rows come from (the CUDA twin passes device rows); `series`:
// where the Neumann iterations run.
NeumannRaw neumann_raw(LayerContext& context, const NeumannParams& p,
                       RowSource source = RowSource::host,
                       SeriesDevice series = SeriesDevice::host);

// The rest of step 3 and step 4 on raw vectors: (DA weighting when combination = "da"), sink
// pseudo-score 0.01·Σ, max-normalisation, smoothing (QI: qi_kernel, σ/2; HI: hi_kernel, σ).
struct NeumannSignals {
  std::vector<double> qi, hi;
};
NeumannSignals neumann_postprocess(const NeumannRaw& raw, const NeumannParams& p);

// Steps 5–6: rank normalisation and the combination; `union` returns a CustomFill.
Scores neumann_combine(const NeumannSignals& signals, const NeumannParams& p, const LayerInput& input);

// The `union` fill (step 6): QI's best ⌊ratio·slots⌋ free tokens, then HI order until the slots
// are full (so overlap and any QI shortfall go to HI). Orders: value descending, ties to the
// lower position.
std::vector<int> union_fill_order(const std::vector<double>& qi, const std::vector<double>& hi,
                                  double ratio, int slots, const std::vector<unsigned char>& taken);

// Step 7, the per-head two-hop variant (per_head = true): one score vector per query head.
std::vector<std::vector<double>> neumann_per_head_scores(LayerContext& context,
                                                         const NeumannParams& p,
                                                         RowSource source = RowSource::host);

// The method's scores (steps 1–7) with attention rows from `source` and the series on `series`:
// the CPU reference with host rows and series, the CUDA twin (circuitkv_neumann_cuda.cpp) with
// the device's; head reduction, graph build, per-head variant, smoothing and ranks run on the
// CPU.
Scores neumann_scores(LayerContext& context, const NeumannParams& p,
                      RowSource source = RowSource::host,
                      SeriesDevice series = SeriesDevice::host);
Scores neumann_scores_cpu(LayerContext& context, const NeumannParams& p);   // host rows
Scores neumann_scores_cuda(LayerContext& context, const NeumannParams& p);  // device rows and series

}  // namespace ckv::circuitkv

// The CUDA twin of the proxy metrics (worker/metrics.hpp; docs/spec/METRICS.md "Proxy metrics"):
// the keep-set independent part of one layer (AnswerAttention: every answer token's full
// attention over [prompt; answer keys <= t], its output, the masses and the top-k prompt keys)
// is computed once and stays on the device; each keep-set then costs one launch, and only the
// per-(head, answer token) terms come back ([H][m] AnswerRowTerms, 24 bytes each), which the
// host adds in the CPU's order. The per-row arithmetic is worker/metrics_terms.hpp, shared with
// the CPU. Plain C++ (nvcc compiles the implementation, worker/metrics_kernels.cu); defined only
// in builds with CUDA (CKV_HAVE_CUDA). Runs on the calling thread's current device.
//
// Device memory: 4·(2·G·n + (H + 2·G)·m)·d (the tensors) + 8·H·m·(n + m) (attention rows) +
// 16·H·m·d + 16·H·m + 4·H·m·k bytes; at n = 32k, H 28, G 4, d 128, m 64: 0.61 GB.
#pragma once
#include <memory>
#include <vector>

#include <algorithm>

#include "common/layer_input.hpp"
#include "worker/metrics_terms.hpp"

namespace ckv::cuda {

// Host pointers to one layer's tensors (LayerInput's layout) and the metrics' k.
struct AnswerLayerView {
  int H = 0, G = 0, d = 0, n = 0, m = 0;
  int k = 0;                        // min(topk, n)
  const float* k_prompt = nullptr;  // [G, n, d]
  const float* v_prompt = nullptr;  // [G, n, d]
  const float* q_answer = nullptr;  // [H, m, d]
  const float* k_answer = nullptr;  // [G, m, d]
  const float* v_answer = nullptr;  // [G, m, d]
};

inline AnswerLayerView answer_layer_view(const LayerInput& in, int topk) {
  AnswerLayerView view;
  view.H = in.H, view.G = in.G, view.d = in.d, view.n = in.n, view.m = in.m;
  view.k = std::min(topk, in.n);
  view.k_prompt = in.k, view.v_prompt = in.v;
  view.q_answer = in.q_answer, view.k_answer = in.k_answer, view.v_answer = in.v_answer;
  return view;
}

class AnswerAttentionDevice {
 public:
  // Uploads the tensors and computes the keep-set independent part (requires m >= 1, d <= 1024).
  explicit AnswerAttentionDevice(const AnswerLayerView& layer);
  ~AnswerAttentionDevice();
  AnswerAttentionDevice(const AnswerAttentionDevice&) = delete;
  AnswerAttentionDevice& operator=(const AnswerAttentionDevice&) = delete;

  // keep: S sorted, unique keep-sets inside [0, n), S = G (query head h reads set h / (H / G))
  // or S = H (per_query_head); anything else is refused (std::invalid_argument) before a launch:
  // call MetricAccumulator::check_keep_sets first for a message naming the sample. Returns
  // [H][m].
  std::vector<AnswerRowTerms> rows(const std::vector<std::vector<int>>& keep) const;

  // The keep-set independent part, downloaded (the twin test compares it with AnswerAttention).
  struct Download {
    std::vector<double> attention, output, answer_output, prompt_mass, answer_mass;
    std::vector<int> top;
  };
  Download download() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ckv::cuda

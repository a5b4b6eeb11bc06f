// neumann_vectors_cuda: NeumannSeries' memoisation over K around the device iteration
// (kernels/stages/neumann_kernels.cu). Compiled only with CUDA.
#include <map>
#include <memory>

#include "kernels/stages/neumann_kernels.hpp"
#include "kernels/stages/neumann_series.hpp"

namespace ckv::circuitkv {

namespace {

// One device series per (QI graph, HI graph, γ), with the partial sums already downloaded.
class DeviceSeries {
 public:
  DeviceSeries(const AttentionGraph& qi, const AttentionGraph& hi, double gamma)
      : kernels_(view(qi, hi, gamma)) {}

  NeumannVectors partial_sums(int K) {
    CKV_CHECK(K >= 0, "neumann series: iterations must be >= 0, got {}", K);
    if (auto it = done_.find(K); it != done_.end()) return it->second;
    // A smaller K than already iterated restarts the one device state from k = 0: the
    // iteration is deterministic, so continuing it later to a larger K gives the same sums.
    if (K < kernels_.terms()) kernels_.restart();
    kernels_.advance(K);
    NeumannVectors out;
    kernels_.sums(out.qi, out.hi);
    out.terms = kernels_.terms();
    done_.emplace(K, out);
    return out;
  }

 private:
  static cuda::NeumannSeriesView view(const AttentionGraph& qi, const AttentionGraph& hi,
                                      double gamma) {
    CKV_CHECK(qi.n() == hi.n() && qi.sink() == hi.sink(),
              "neumann series: QI and HI graphs differ in size ({}, {}) or sinks ({}, {})",
              qi.n(), hi.n(), qi.sink(), hi.sink());
    cuda::NeumannSeriesView v;
    const AttentionGraph* graphs[2] = {&qi, &hi};
    for (int series = 0; series < 2; ++series) {
      v.graph[series] = graphs[series]->transpose_arrays();
      v.dense_size[series] = graphs[series]->dense_size();
      v.packed_size[series] = graphs[series]->packed_size();
    }
    v.sink = qi.sink();
    v.gamma = gamma;
    return v;
  }

  cuda::NeumannKernels kernels_;
  std::map<int, NeumannVectors> done_;
};

struct DeviceSeriesKey {
  GraphOptions qi, hi;
  RowSource source;
  double gamma;
  auto operator<=>(const DeviceSeriesKey&) const = default;
};

}  // namespace

NeumannVectors neumann_vectors_cuda(LayerContext& context, const GraphOptions& qi_options,
                                    const GraphOptions& hi_options, RowSource source,
                                    double gamma, int K) {
  const DeviceSeriesKey key{canonical_graph_options(qi_options), canonical_graph_options(hi_options),
                            source, gamma};
  const auto& series = context.memo<std::shared_ptr<DeviceSeries>>(key, [&] {
    return std::make_shared<DeviceSeries>(shared_graph(context, qi_options, source),
                                          shared_graph(context, hi_options, source), gamma);
  });
  return series->partial_sums(K);
}

}  // namespace ckv::circuitkv

// One layer of one sample, as methods see it, plus the intermediate stages that several
// configurations share (R6, docs/spec/MISSION.md): attention rows, column sums, graphs, walker
// visits, anything a stage memoises. A LayerContext is used by one thread at a time; a worker
// keeps it alive while it evaluates every configuration of a batch on that layer.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <typeindex>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/layer_input.hpp"
#include "common/tensor.hpp"

namespace ckv {

// Where a configuration's scores are computed: the CPU, or one CUDA device (its index among the
// devices visible to the process). Chosen by the run's device policy (scheduler/), never by a
// method.
struct Device {
  int cuda = -1;  // -1: the CPU
  bool is_cuda() const { return cuda >= 0; }
  static Device cpu() { return {}; }
  static Device gpu(int index) { return {index}; }
};

class LayerContext {
 public:
  explicit LayerContext(const LayerInput& input, Device device = Device::cpu())
      : input_(input), device_(device) {}
  LayerContext(const LayerContext&) = delete;
  LayerContext& operator=(const LayerContext&) = delete;

  const LayerInput& input() const { return input_; }
  int n() const { return input_.n; }
  Device device() const { return device_; }

  // Fails with a message naming the sample when fewer than `rows` query rows were captured.
  void require_query_rows(int rows, const char* method) const;

  // A[h, i, j] = softmax_j(Q[h,i]·K[h,j]/√d) over j ≤ i, fp32 (docs/spec/METHODS.md "Attention
  // inputs"), computed blockwise by the SIMD kernels (kernels/simd/simd.hpp: one FMA chain per
  // logit, the project's exp, a 16-lane sum), so a row has the same value whichever block or
  // thread computes it and at every SIMD level. Row i of head h into out[0..n) (zeros past i).
  // Requires query row i. Safe to call from several threads at once.
  void attention_row(int h, int i, float* out) const;
  // Rows [i0, i1) of head h: row i into out + (i - i0)·ld, ld >= n. The efficient form: the
  // logits of up to 64 rows are one blocked product.
  void attention_rows(int h, int i0, int i1, float* out, size_t ld) const;
  // Row i of every head h into out + h·ld (ld >= n; zeros past i): the values attention_row
  // gives, without the layer's packed keys. Each KV head's query rows are one product against
  // its keys [0, i] packed a chunk at a time into a small buffer, so a stage that needs one row
  // per head (tova) reads the keys once instead of packing all of them (G·n·d floats).
  void attention_row_all_heads(int i, float* out, size_t ld) const;
  // Every attention row i in [0, n) merged over `heads` (elementwise max, or sum, in the order of
  // `heads`, starting from `init`), in double: rows come in blocks of 32 on the kernel threads
  // (one blocked product per head and block), and consume(i0, i1, merged) receives each block,
  // row i at merged + (i - i0)·n, entries j <= i. Blocks are independent: consume writes only
  // its rows' outputs. Needs every query row. Memory: per thread 32·n floats and doubles.
  void merged_rows(const std::vector<int>& heads, bool use_max, double init,
                   const std::function<void(int i0, int i1, double* merged)>& consume) const;
  // The keys of KV head g packed for the products (simd::pack_panels), built once per layer:
  // G·⌈n/16⌉·16·d floats in all.
  const float* key_panels(int g) const;

  // The last w' = min(w, n) rows: [H, w', n]; row t is position n - w' + t. Memoised per w.
  // `method` names the caller in the message when the cache holds fewer query rows. Meant for
  // window rows (H·w·n floats): stages that need every row stream them with attention_row()
  // instead, so no [H, n, n] tensor is ever held for a long prompt.
  const Tensor3& window_attention(int w, const char* method = "window attention");

  // Column sums Σ_i A[h, i, j] over rows i in [n - rows, n) (rows = n: all rows), per head,
  // [H][n], in double. Computed row by row without holding the n×n matrix. Memoised per rows.
  const std::vector<std::vector<double>>& column_sums(int rows, const char* method);

  // Memo of a shared stage: `make()` runs once per key per layer. Keys are value types with a
  // defaulted operator<=> (one struct per stage, holding every input the stage depends on), so
  // two stages can never collide and equal inputs always share. The table is chosen by the
  // (Key, Value) pair; the returned reference lives as long as the context.
  template <class Value, class Key, class Make>
  const Value& memo(const Key& key, Make&& make) {
    using Table = std::map<Key, std::shared_ptr<const Value>>;
    std::shared_ptr<void>& slot = memo_[std::type_index(typeid(Table))];
    if (!slot) slot = std::make_shared<Table>();
    Table& table = *static_cast<Table*>(slot.get());
    auto it = table.find(key);
    if (it == table.end()) it = table.emplace(key, std::make_shared<const Value>(make())).first;
    return *it->second;
  }

 private:
  const LayerInput& input_;
  Device device_;
  mutable std::once_flag panels_once_;
  // [G][⌈n/16⌉][d][16], written once (no zero fill)
  mutable std::vector<float, LargeBufferAllocator<float>> key_panels_;
  std::map<int, Tensor3> window_;
  std::map<int, std::vector<std::vector<double>>> column_sums_;
  std::map<std::type_index, std::shared_ptr<void>> memo_;
};

}  // namespace ckv

// The device copy of one layer's Q and K and the attention stages on it: the CUDA twins of
// LayerContext's window attention rows and column sums. The methods' own device kernels
// (snapkv/, tova/, knorm/) run on the same upload through the accessors at the end.
// Plain C++ with standard headers only (nvcc compiles the implementation, and the project's
// fmt does not build under nvcc); the CUDA types live behind Impl in attention_kernels.cu.
// Only defined in builds with CUDA (CKV_HAVE_CUDA). Shapes are validated by the caller
// (attention_device_cuda.cpp names the sample in its messages); here a bad shape is a logic
// error.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace ckv::cuda {

struct LayerShape {
  int H = 0, G = 0, d = 0, n = 0;
  int r = 0;  // captured query rows: positions n - r .. n - 1
};

// Scratch buffers of the methods' device kernels, one per purpose, reused across calls.
enum class Workspace { window,
                       votes,
                       pooled,
                       scores,
                       sums,
                       norms,
                       count };

class LayerKernels {
 public:
  static constexpr int kMaxHeadDim = 256;  // keeps the shared-memory tiles under 48 KiB

  // Uploads q [H, r, d] and k [G, n, d] (fp32) once to the calling thread's current device.
  LayerKernels(const LayerShape& shape, const float* q, const float* k);
  ~LayerKernels();
  LayerKernels(const LayerKernels&) = delete;
  LayerKernels& operator=(const LayerKernels&) = delete;

  int device() const;
  const LayerShape& shape() const;

  // Device-side stages recomputed on every call, results left on the device; they return after
  // the device finished. For the benchmark; scoring uses the memoised forms below.
  void run_window_attention(int rows);  // [H, rows, n]
  void run_column_sums(int rows);       // row statistics, then Σ over rows without n×n memory

  // Host results. Window attention stays on the device, memoised per rows (snapkv and tova
  // read it there); column sums are memoised per rows as in LayerContext::column_sums.
  std::vector<float> window_attention(int rows);                  // [H * rows * n]
  const std::vector<std::vector<double>>& column_sums(int rows);  // [H][n], rows = last rows

  // For the methods' .cu files (the caller makes device() current: DeviceScope):
  const float* device_keys() const;                    // [G, n, d]
  const float* device_queries() const;                 // [H, r, d]
  const float* device_window_attention(int rows);      // [H, rows, n], memoised
  void launch_window_attention(int rows, float* out);  // into a device buffer, async
  void* stream() const;                                // the layer's cudaStream_t
  void synchronize();
  // A device buffer of at least `bytes` for `purpose`, reused across calls.
  void* workspace(Workspace purpose, size_t bytes);
  // Copies `bytes` from device memory to `host` and waits.
  void download(void* host, const void* device_data, size_t bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Throws std::invalid_argument unless 1 <= rows <= the captured query rows.
void check_rows(const LayerShape& shape, int rows, const char* what);
// Threads-per-block grid size for `elements` one-thread-per-element kernels.
unsigned blocks_for(long long elements, int threads);

}  // namespace ckv::cuda

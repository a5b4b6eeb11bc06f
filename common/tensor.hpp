// A dense fp32 tensor owned in host memory, row-major, up to 3 dimensions.
#pragma once
#include <array>
#include <cstddef>
#include <vector>

#include "common/large_buffer.hpp"

namespace ckv {

struct Tensor3 {
  std::array<int, 3> shape{0, 0, 0};
  std::vector<float, LargeBufferAllocator<float>> data;

  Tensor3() = default;
  Tensor3(int a, int b, int c, float fill = 0.0f)
      : shape{a, b, c}, data(size_t(a) * size_t(b) * size_t(c), fill) {}
  // Elements left unset, for a writer that stores every one before anything reads it: the
  // pages are first touched by the writing threads (common/large_buffer.hpp).
  struct Uninitialized {};
  Tensor3(int a, int b, int c, Uninitialized)
      : shape{a, b, c}, data(size_t(a) * size_t(b) * size_t(c)) {}

  size_t size() const { return data.size(); }
  float* row(int a, int b) { return data.data() + (size_t(a) * shape[1] + b) * shape[2]; }
  const float* row(int a, int b) const {
    return data.data() + (size_t(a) * shape[1] + b) * shape[2];
  }
  float& at(int a, int b, int c) { return row(a, b)[c]; }
  float at(int a, int b, int c) const { return row(a, b)[c]; }
};

}  // namespace ckv

// The large-buffer allocator (common/large_buffer.hpp): freed blocks of 2 MiB or more are handed
// out again for a request of about their size, whichever thread freed or asks, within the
// pool's limits; small requests go to operator new. Pointer identity shows the reuse.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "common/large_buffer.hpp"

using ckv::LargeBufferAllocator;

namespace {
constexpr size_t kMiB = size_t(1) << 20;
}

TEST_CASE("large buffers: a block freed on one thread serves the next request on another") {
  ckv::detail::large_block_pool().release_all();  // what earlier tests left
  LargeBufferAllocator<float> floats;
  LargeBufferAllocator<double> doubles;
  // Allocated on a short-lived thread (as a kernel thread packs a layer's keys), freed here.
  float* block = nullptr;
  std::thread([&] { block = floats.allocate(16 * kMiB / sizeof(float)); }).join();
  REQUIRE(block != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(block) % LargeBufferAllocator<float>::kHugePage == 0);
  block[0] = 1.0f;  // writable
  floats.deallocate(block, 16 * kMiB / sizeof(float));
  // The next layer's request of the same bytes, on another thread and of another element type.
  double* again = nullptr;
  std::thread([&] { again = doubles.allocate(16 * kMiB / sizeof(double)); }).join();
  CHECK(static_cast<void*>(again) == static_cast<void*>(block));
  // A request more than 1.5x smaller than a kept block does not take it.
  doubles.deallocate(again, 16 * kMiB / sizeof(double));
  float* small = floats.allocate(8 * kMiB / sizeof(float));
  CHECK(static_cast<void*>(small) != static_cast<void*>(again));
  floats.deallocate(small, 8 * kMiB / sizeof(float));
  // A slightly smaller request does (the block is at most 1.5x the request).
  float* close = floats.allocate(12 * kMiB / sizeof(float));
  CHECK(static_cast<void*>(close) == static_cast<void*>(again));
  floats.deallocate(close, 12 * kMiB / sizeof(float));
}

TEST_CASE("large buffers: the pool keeps at most eight blocks and 1 GiB, evicting the smallest") {
  auto& pool = ckv::detail::large_block_pool();
  pool.release_all();                                                             // what earlier tests left
  auto fresh = [](size_t bytes) { return std::aligned_alloc(2 * kMiB, bytes); };  // never touched
  // Nine blocks of distinct sizes kept in turn: the smallest (4 MiB) is evicted, every other size
  // finds its own block again (a request takes the smallest block of at most 1.5x its size).
  std::vector<void*> blocks;
  blocks.reserve(9);
  for (int i = 0; i < 9; ++i) blocks.push_back(fresh(size_t(4 + 2 * i) * kMiB));
  for (int i = 0; i < 9; ++i) pool.keep(blocks[i], size_t(4 + 2 * i) * kMiB);
  for (int i = 8; i >= 1; --i) CHECK(pool.take(size_t(4 + 2 * i) * kMiB) == blocks[i]);
  CHECK(pool.take(4 * kMiB) == nullptr);
  for (int i = 1; i < 9; ++i) std::free(blocks[i]);
  // Over the byte cap: a block larger than 1 GiB is not kept; two of 600 MiB do not fit together,
  // so the second evicts the first.
  pool.keep(fresh(1026 * kMiB), 1026 * kMiB);
  CHECK(pool.take(1026 * kMiB) == nullptr);
  void* first = fresh(600 * kMiB);
  void* second = fresh(600 * kMiB);
  pool.keep(first, 600 * kMiB);
  pool.keep(second, 600 * kMiB);
  CHECK(pool.take(600 * kMiB) == second);
  CHECK(pool.take(600 * kMiB) == nullptr);
  std::free(second);
}

TEST_CASE("large buffers: a LargeBuffer resize leaves elements for the caller to write") {
  ckv::LargeBuffer<float> v;
  v.resize(3 * kMiB);  // no zero fill is promised; every element written before it is read
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 7);
  CHECK(v[6] == 6.0f);
  CHECK(v[v.size() - 1] == float((v.size() - 1) % 7));
  ckv::LargeBuffer<int> tiny(5, 3);  // below 2 MiB: operator new, values as given
  CHECK(tiny == ckv::LargeBuffer<int>(5, 3));
}

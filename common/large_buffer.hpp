// An allocator for large per-layer buffers that are written in full before they are read (the
// metrics' attention weights: 4·H·m·(n + m) bytes, 60 MB per layer at n = 8k). Three costs of a
// plain std::vector go:
//   - the zero fill of resize/assign (elements are default-initialised, so a float keeps
//     whatever the memory held: write before reading);
//   - the kernel's zeroing and page faults on first touch of fresh memory, paid again for every
//     layer: the process keeps up to eight freed blocks of 2 MiB or more (1 GiB at most) and
//     hands them out again for a request of about their size (at most 1.5x smaller), so the next
//     layer reuses the previous layer's buffers, whichever thread allocated or freed them;
//   - one page fault per 4 KiB: such blocks are 2 MiB-aligned and advised as transparent huge
//     pages, which Linux grants where /sys/kernel/mm/transparent_hugepage/enabled is `always`
//     or `madvise` (elsewhere the advice is ignored).
// Values never depend on it.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ckv {

namespace detail {

// Freed large blocks, kept for the next request of about their size. One pool for the
// process (all element types and threads share it): a layer's buffers are often allocated on a
// kernel thread (the packed keys, inside the first parallel stage that needs them) and freed
// on the worker thread that owns the layer, and kernel threads live only as long as one
// parallel stage, so a per-thread cache would miss. At most kPoolBlocks blocks and kPoolMaxBytes
// are kept; a block that does not fit evicts the smallest ones. A block is recorded at the size
// its last owner asked for (at least 2/3 of its real size), so the pool holds at most 1.5 GiB.
inline constexpr int kPoolBlocks = 8;
inline constexpr size_t kPoolMaxBytes = size_t(1) << 30;
struct LargeBlockPool {
  std::mutex mutex;
  void* block[kPoolBlocks] = {};
  size_t size[kPoolBlocks] = {};
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    int best = -1;
    for (int i = 0; i < kPoolBlocks; ++i)
      if (block[i] && size[i] >= bytes && size[i] - bytes <= bytes / 2 && (best < 0 || size[i] < size[best]))
        best = i;
    if (best < 0) return nullptr;
    void* p = block[best];
    block[best] = nullptr, size[best] = 0;
    return p;
  }
  void keep(void* p, size_t bytes) {
    if (bytes > kPoolMaxBytes) {
      std::free(p);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex);
    // Evict the smallest kept blocks until this one fits in a free slot and under the cap.
    for (;;) {
      size_t total = bytes;
      int free_slot = -1, smallest = -1;
      for (int i = 0; i < kPoolBlocks; ++i) {
        if (!block[i]) {
          free_slot = free_slot < 0 ? i : free_slot;
          continue;
        }
        total += size[i];
        if (smallest < 0 || size[i] < size[smallest]) smallest = i;
      }
      if (free_slot >= 0 && total <= kPoolMaxBytes) {
        block[free_slot] = p, size[free_slot] = bytes;
        return;
      }
      std::free(block[smallest]);
      block[smallest] = nullptr, size[smallest] = 0;
    }
  }
  // Returns every kept block to the system.
  void release_all() {
    std::lock_guard<std::mutex> lock(mutex);
    for (int i = 0; i < kPoolBlocks; ++i) {
      std::free(block[i]);
      block[i] = nullptr, size[i] = 0;
    }
  }
};

// The process's one pool (an inline function's static: one instance across translation units).
// Never destroyed, so a buffer that outlives static destruction still has a pool to return to;
// its blocks stay reachable and go back to the system with the process.
inline LargeBlockPool& large_block_pool() {
  static LargeBlockPool* pool = new LargeBlockPool;
  return *pool;
}

}  // namespace detail

template <class T>
struct LargeBufferAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = size_t(2) << 20;

  LargeBufferAllocator() = default;
  template <class U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) noexcept {}

  T* allocate(size_t count) {
    const size_t bytes = count * sizeof(T);
    if (bytes < kHugePage) return static_cast<T*>(::operator new(bytes));
    const size_t rounded = round_up(bytes);
    if (void* p = cache().take(rounded)) return static_cast<T*>(p);
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t count) noexcept {
    const size_t bytes = count * sizeof(T);
    if (bytes < kHugePage) ::operator delete(p);
    else cache().keep(p, round_up(bytes));
  }
  // Default-initialisation: no zero fill for arithmetic types.
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(static_cast<Args&&>(args)...);
  }
  template <class U>
  bool operator==(const LargeBufferAllocator<U>&) const noexcept { return true; }

 private:
  static size_t round_up(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

  static detail::LargeBlockPool& cache() { return detail::large_block_pool(); }
};

// A vector whose resize leaves new arithmetic elements uninitialised: write before reading.
template <class T>
using LargeBuffer = std::vector<T, LargeBufferAllocator<T>>;

}  // namespace ckv

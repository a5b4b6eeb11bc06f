// An allocator for large per-layer buffers that are written in full before they are read (the
// metrics' attention weights: 4·H·m·(n + m) bytes, 60 MB per layer at n = 8k). Three costs of a
// plain std::vector go:
//   - the zero fill of resize/assign (elements are default-initialised, so a float keeps
//     whatever the memory held: write before reading);
//   - the kernel's zeroing and page faults on first touch of fresh memory, paid again for every
//     layer: each thread keeps the last two blocks of 2 MiB or more it freed and hands them out
//     again for a request of about their size (at most 1.5x smaller), so a worker's next layer
//     reuses the previous layer's buffers; they are returned when the thread ends;
//   - one page fault per 4 KiB: such blocks are 2 MiB-aligned and advised as transparent huge
//     pages, which Linux grants where /sys/kernel/mm/transparent_hugepage/enabled is `always`
//     or `madvise` (elsewhere the advice is ignored).
// Values never depend on it.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ckv {

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

  // The last two large blocks this thread freed.
  struct Cache {
    void* block[2] = {nullptr, nullptr};
    size_t size[2] = {0, 0};
    void* take(size_t bytes) {
      for (int i = 0; i < 2; ++i)
        if (block[i] && size[i] >= bytes && size[i] - bytes <= bytes / 2) {
          void* p = block[i];
          block[i] = nullptr, size[i] = 0;
          return p;
        }
      return nullptr;
    }
    void keep(void* p, size_t bytes) {
      const int slot = !block[0] ? 0 : !block[1]        ? 1
                                   : size[0] <= size[1] ? 0
                                                        : 1;
      std::free(block[slot]);
      block[slot] = p, size[slot] = bytes;
    }
    ~Cache() {
      std::free(block[0]);
      std::free(block[1]);
    }
  };
  static Cache& cache() {
    static thread_local Cache c;
    return c;
  }
};

// A vector whose resize leaves new arithmetic elements uninitialised: write before reading.
template <class T>
using LargeBuffer = std::vector<T, LargeBufferAllocator<T>>;

}  // namespace ckv

// Device memory ownership and device scoping for the .cu files. Included by .cu files only.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_check.cuh"

namespace ckv::cuda {

// Owns one device allocation.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t count) : count_(count) {
    if (count > 0) CKV_CUDA_CHECK(cudaMalloc(&data_, count * sizeof(T)));
  }
  ~DeviceArray() {
    if (data_) CKV_CUDA_CHECK_NOTHROW(cudaFree(data_));
  }
  DeviceArray(DeviceArray&& other) noexcept : data_(other.data_), count_(other.count_) {
    other.data_ = nullptr;
    other.count_ = 0;
  }
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  T* get() const { return data_; }
  size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

// A device copy of `count` host elements (nullptr when count is 0), copied on `stream`.
template <class T>
DeviceArray<T> upload(const T* host, size_t count, cudaStream_t stream) {
  DeviceArray<T> array(count);
  if (count > 0)
    CKV_CUDA_CHECK(cudaMemcpyAsync(array.get(), host, count * sizeof(T), cudaMemcpyHostToDevice,
                                   stream));
  return array;
}

// Waits for the work queued on `stream` and destroys it (nothing for a null stream): the first
// step of an owner's destructor, before the device arrays that work uses are freed.
inline void destroy_stream(cudaStream_t stream) noexcept {
  if (!stream) return;
  CKV_CUDA_CHECK_NOTHROW(cudaStreamSynchronize(stream));
  CKV_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream));
}

// The destructor of every class that owns device state through `std::unique_ptr<Impl>` (Impl
// records the `device` it allocated on): Impl is destroyed on that device, whichever device the
// destroying thread has current, and the thread's current device is restored afterwards.
template <class Impl>
void destroy_on_its_device(std::unique_ptr<Impl>& impl) noexcept {
  if (!impl) return;
  int current = -1;
  CKV_CUDA_CHECK_NOTHROW(cudaGetDevice(&current));
  const int device = impl->device;
  if (current != device) CKV_CUDA_CHECK_NOTHROW(cudaSetDevice(device));
  impl.reset();
  if (current >= 0 && current != device) CKV_CUDA_CHECK_NOTHROW(cudaSetDevice(current));
}

// Makes `device` current for the calling thread for one operation, then restores.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    CKV_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) CKV_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceScope() {
    int current = -1;
    CKV_CUDA_CHECK_NOTHROW(cudaGetDevice(&current));
    if (current != previous_) CKV_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_));
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace ckv::cuda

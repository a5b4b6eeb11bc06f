#include "kernels/cuda/device.hpp"

#include "common/error.hpp"

#ifdef CKV_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <spdlog/spdlog.h>
#endif

namespace ckv {

int cuda_device_count() {
#ifdef CKV_HAVE_CUDA
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // No driver or no device is an expected state on CPU nodes: the worker runs on the CPU.
    spdlog::debug("cudaGetDeviceCount: {} (running on the CPU)", cudaGetErrorString(status));
    (void)cudaGetLastError();  // clear the sticky error so later CUDA calls start clean
    return 0;
  }
  return count;
#else
  return 0;
#endif
}

void bind_cuda_device(int device) {
  if (device < 0) return;
#ifdef CKV_HAVE_CUDA
  const cudaError_t status = cudaSetDevice(device);
  if (status != cudaSuccess)
    CKV_FAIL("{}: cannot select CUDA device {}: {}", hostname(), device, cudaGetErrorString(status));
#else
  CKV_FAIL("{}: CUDA device {} requested, but this ckv-sweep was built without CUDA", hostname(), device);
#endif
}

}  // namespace ckv

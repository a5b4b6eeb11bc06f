// CUDA_CHECK (nccl-tests CUDACHECK): every runtime call and every launch is checked; the
// message carries file:line and host (docs/spec/STYLE.md). Included by .cu files only.
#pragma once
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_error.hpp"

#define CKV_CUDA_CHECK(call)                                                                     \
  do {                                                                                           \
    const cudaError_t ckv_status_ = (call);                                                      \
    if (ckv_status_ != cudaSuccess)                                                              \
      ::ckv::cuda::throw_cuda_error(#call, cudaGetErrorString(ckv_status_), __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, execution errors at the
// next synchronising call (also checked).
#define CKV_CUDA_CHECK_LAUNCH() CKV_CUDA_CHECK(cudaGetLastError())

// In destructors: log instead of throwing.
#define CKV_CUDA_CHECK_NOTHROW(call)                                                           \
  do {                                                                                         \
    const cudaError_t ckv_status_ = (call);                                                    \
    if (ckv_status_ != cudaSuccess)                                                            \
      ::ckv::cuda::log_cuda_error(#call, cudaGetErrorString(ckv_status_), __FILE__, __LINE__); \
  } while (0)

// What the current CUDA device can do, for the benchmark's "achieved versus limit" ratios (docs/spec/MISSION.md R12,
// nccl-tests style): the datasheet figures from the device attributes and measured ones.
// Plain C++; only defined in builds with CUDA (CKV_HAVE_CUDA).
#pragma once
#include <string>

namespace ckv::cuda {

struct DeviceLimits {
  std::string name;
  int device = 0, sm_count = 0, major = 0, minor = 0;
  double memory_gib = 0;
  double peak_bandwidth_gbs = 0;  // memory clock × bus width × 2 (double data rate)
  double copy_bandwidth_gbs = 0;  // measured device-to-device cudaMemcpy, read + write bytes
  double peak_fp32_gflops = 0;    // SMs × FP32 lanes per SM × 2 × SM clock; 0 when unknown
  double fma_gflops = 0;          // measured fp32 FMA loop
};

// Measures the calling thread's current device (about a second of device time).
DeviceLimits measure_device_limits();

}  // namespace ckv::cuda

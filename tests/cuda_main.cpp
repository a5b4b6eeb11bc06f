// The main of the CUDA twin tests (tests/test_cuda_*.cpp): exits 77 (ctest SKIP_RETURN_CODE)
// with the reason when the build has no CUDA or no CUDA device is visible, so CI without a GPU
// shows SKIPPED, never passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "kernels/cuda/device.hpp"

int main(int argc, char** argv) {
#ifndef CKV_HAVE_CUDA
  std::printf("SKIPPED: built without CUDA (-DCKV_CUDA=OFF or no toolkit): no CUDA twins\n");
  (void)argc, (void)argv;
  return 77;
#else
  const int devices = ckv::cuda_device_count();
  if (devices == 0) {
    std::printf("SKIPPED: no CUDA device visible\n");
    return 77;
  }
  std::printf("%d CUDA device(s) visible; testing on the current device\n", devices);
  return Catch::Session().run(argc, argv);
#endif
}

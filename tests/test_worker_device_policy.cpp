// The device policy (worker/device_policy.hpp) as a pure function of (choice, visible devices,
// node-local worker index): the one rule for embedded worker threads and MPI workers. No GPU is
// needed: the CPU fallback is what a machine without one gets.
#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "kernels/cuda/device.hpp"
#include "worker/device_policy.hpp"

using namespace ckv;
using Catch::Matchers::Contains;

TEST_CASE("auto takes a GPU round-robin when one is visible, else the CPU", "[worker][device]") {
  CHECK(choose_device(DeviceChoice::Auto, 0, 0) == -1);
  CHECK(choose_device(DeviceChoice::Auto, 0, 5) == -1);
  // One visible device (Slurm's --gpu-bind=single:1): every worker of the node takes it.
  for (int index = 0; index < 4; ++index) CHECK(choose_device(DeviceChoice::Auto, 1, index) == 0);
  // Four workers on two GPUs: 0, 1, 0, 1.
  CHECK(choose_device(DeviceChoice::Auto, 2, 0) == 0);
  CHECK(choose_device(DeviceChoice::Auto, 2, 1) == 1);
  CHECK(choose_device(DeviceChoice::Auto, 2, 2) == 0);
  CHECK(choose_device(DeviceChoice::Auto, 2, 3) == 1);
  CHECK(choose_device(DeviceChoice::Auto, 8, 7) == 7);
}

TEST_CASE("cpu forces the CPU; cuda insists on a GPU", "[worker][device]") {
  for (int visible : {0, 1, 4}) CHECK(choose_device(DeviceChoice::Cpu, visible, 3) == -1);
  CHECK(choose_device(DeviceChoice::Cuda, 4, 6) == 2);
  CHECK_THROWS_WITH(choose_device(DeviceChoice::Cuda, 0, 0),
                    Contains("--device cuda") && Contains("no CUDA device is visible"));
  CHECK_THROWS_AS(choose_device(DeviceChoice::Auto, 2, -1), Error);
}

TEST_CASE("device choices parse, print and describe the binding", "[worker][device]") {
  CHECK(parse_device_choice("auto") == DeviceChoice::Auto);
  CHECK(parse_device_choice("cpu") == DeviceChoice::Cpu);
  CHECK(parse_device_choice("cuda") == DeviceChoice::Cuda);
  CHECK_THROWS_AS(parse_device_choice("gpu"), UsageError);
  CHECK_THROWS_WITH(parse_device_choice("gpu"), Contains("auto, cpu or cuda") && Contains("'gpu'"));
  for (DeviceChoice c : {DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda})
    CHECK(parse_device_choice(device_choice_name(c)) == c);
  CHECK(describe_device(DeviceChoice::Auto, 1, 4) == "GPU 1 of 4 visible");
  CHECK(describe_device(DeviceChoice::Auto, -1, 0) == "CPU (no GPU visible)");
  CHECK(describe_device(DeviceChoice::Cpu, -1, 2) == "CPU (--device cpu; 2 GPUs visible)");
}

TEST_CASE("on this machine auto resolves through the CPU fallback when no GPU is visible", "[worker][device]") {
  const int visible = cuda_device_count();
  const int device = choose_device(DeviceChoice::Auto, visible, 0);
  if (visible == 0) {
    CHECK(device == -1);
    CHECK_NOTHROW(bind_cuda_device(device));  // the CPU needs no binding
  } else {
    CHECK(device == 0);
  }
}

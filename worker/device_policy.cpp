#include "worker/device_policy.hpp"

#include <fmt/format.h>

#include "common/error.hpp"

namespace ckv {

DeviceChoice parse_device_choice(const std::string& text) {
  if (text == "auto") return DeviceChoice::Auto;
  if (text == "cpu") return DeviceChoice::Cpu;
  if (text == "cuda") return DeviceChoice::Cuda;
  throw UsageError(fmt::format("--device must be auto, cpu or cuda (got '{}')", text));
}

const char* device_choice_name(DeviceChoice choice) {
  switch (choice) {
    case DeviceChoice::Auto: return "auto";
    case DeviceChoice::Cpu: return "cpu";
    case DeviceChoice::Cuda: return "cuda";
  }
  return "?";
}

int choose_device(DeviceChoice choice, int visible_devices, int local_index) {
  CKV_CHECK(local_index >= 0, "internal: worker index {} is negative", local_index);
  if (choice == DeviceChoice::Cpu) return -1;
  if (visible_devices <= 0) {
    CKV_CHECK(choice != DeviceChoice::Cuda,
              "{}: --device cuda, but no CUDA device is visible (a build without CUDA, no driver, or "
              "CUDA_VISIBLE_DEVICES hides them); use --device auto or cpu",
              hostname());
    return -1;
  }
  return local_index % visible_devices;
}

std::string describe_device(DeviceChoice choice, int device, int visible_devices) {
  if (device >= 0) return fmt::format("GPU {} of {} visible", device, visible_devices);
  if (choice == DeviceChoice::Cpu && visible_devices > 0)
    return fmt::format("CPU (--device cpu; {} GPU{} visible)", visible_devices, visible_devices == 1 ? "" : "s");
  return visible_devices > 0 ? std::string("CPU") : std::string("CPU (no GPU visible)");
}

}  // namespace ckv

// Which device a worker computes on: one policy for embedded worker threads and MPI workers
// (docs/spec/MISSION.md R6). `auto` takes a GPU when one is visible, `cpu` forces the CPU kernels, `cuda` insists on
// a GPU. Workers share the visible GPUs round-robin by their index among the workers of the
// node (embedded: the thread index; MPI: the node-local worker index, rank 0 not counted).
#pragma once
#include <string>

namespace ckv {

enum class DeviceChoice { Auto,
                          Cpu,
                          Cuda };

// "auto" | "cpu" | "cuda"; throws ckv::UsageError naming the valid choices.
DeviceChoice parse_device_choice(const std::string& text);
const char* device_choice_name(DeviceChoice choice);

// The device of the worker with node-local index `local_index` when `visible_devices` CUDA
// devices are visible: a device index, or -1 for the CPU. Pure: no CUDA call. Throws ckv::Error
// for `cuda` with no visible device. With one visible device every worker takes device 0 (Slurm's
// --gpu-bind=single:1 has already chosen it for the task).
int choose_device(DeviceChoice choice, int visible_devices, int local_index);

// "GPU 1 of 4 visible", "CPU (no GPU visible)", "CPU (--device cpu; 2 GPUs visible)".
std::string describe_device(DeviceChoice choice, int device, int visible_devices);

}  // namespace ckv

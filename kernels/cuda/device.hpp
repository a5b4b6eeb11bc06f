// Which CUDA devices this process can see. Lives in kernels/ because only this library links
// the CUDA runtime; the scheduler uses it to bind each MPI worker to one GPU (docs/spec/MISSION.md R6).
#pragma once

namespace ckv {

// Devices visible to this process (after CUDA_VISIBLE_DEVICES / Slurm's --gpu-bind); 0 in a
// build without CUDA and when the runtime finds no device or no driver.
int cuda_device_count();

// Makes `device` the current CUDA device of the calling thread (the CUDA kernels run on the
// current device). Throws naming the device when it cannot be selected. A no-op for device < 0
// (CPU); an error for device >= 0 in a build without CUDA.
void bind_cuda_device(int device);

}  // namespace ckv

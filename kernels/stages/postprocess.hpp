// Post-processing of the CircuitKV importance vectors (docs/spec/METHODS.md "CircuitKV: Neumann" steps
// 3–6; seed 002 §8 `_apply_smoothing`), shared by circuitkv_neumann and circuitkv_walk.
#pragma once
#include <vector>

namespace ckv::circuitkv {

enum class Smoothing { gaussian,
                       boxcar,
                       none };

// Convolution weights of size `kernel`: "gaussian" exp(−x²/2σ²) normalised to sum 1 with
// x = i − (kernel−1)/2; "boxcar" 1/kernel each; "none" (or kernel <= 1) the identity {1}.
std::vector<double> smoothing_weights(Smoothing kind, int kernel, double sigma);

// torch.nn.functional.conv1d(x, weights, padding = kernel/2)[:n] (seed 002 §8): zero padding,
// out[j] = Σ_t w[t]·x[j − kernel/2 + t] for j in [0, n). Same length as x.
std::vector<double> smooth(const std::vector<double>& x, const std::vector<double>& weights);

// Step 3: sink positions [0, s) get 0.01·Σ_{j>=s} x[j] (the absorbed mass stand-in).
void add_sink_pseudo_score(std::vector<double>& x, int sink);

// Divides by the maximum when it is positive (a zero vector stays zero).
void max_normalize(std::vector<double>& x);

// Step 5 on doubles: rank(x)/(n−1) of the fp32 values (the public code's precision), ties by
// position (kernels/stages/selection.hpp rank_normalize).
std::vector<float> rank_vector(const std::vector<double>& x);

// Spearman ρ of two rank vectors (seed 001 improvement 5, `calibrated`): their Pearson
// correlation, which equals 1 − 6Σd²/(n(n²−1)) for tie-free ranks. 0 when either is constant.
double spearman_of_ranks(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace ckv::circuitkv

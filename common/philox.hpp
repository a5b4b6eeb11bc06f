// Philox4x32-10 counter-based generator (Salmon et al., SC'11), the same stream on host and
// device. A draw is a pure function of (seed, walker, step, lane), so results do not depend
// on thread count or on which device runs the walk.
#pragma once
#include <cstdint>

#include "common/half.hpp"

namespace ckv {

struct Philox4x32 {
  uint32_t v[4];
};

CKV_HD inline uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t product = uint64_t(a) * uint64_t(b);
  *hi = uint32_t(product >> 32);
  return uint32_t(product);
}

// Random123's Philox4x32 constants: the round multipliers and the key's Weyl increments.
constexpr uint32_t kPhiloxMul0 = 0xD2511F53u, kPhiloxMul1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u, kPhiloxWeyl1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

// One round on the counter (c0, c1, c2, c3) under the round key (k0, k1).
CKV_HD inline void philox_round(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, uint32_t k0,
                                uint32_t k1) {
  uint32_t hi0, hi1;
  const uint32_t lo0 = philox_mulhilo(kPhiloxMul0, c0, &hi0);
  const uint32_t lo1 = philox_mulhilo(kPhiloxMul1, c2, &hi1);
  c0 = hi1 ^ c1 ^ k0;
  c1 = lo1;
  c2 = hi0 ^ c3 ^ k1;
  c3 = lo0;
}

// counter = (c0, c1, c2, c3), key = (k0, k1); ten rounds as in Random123.
CKV_HD inline Philox4x32 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                    uint32_t k1) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    philox_round(c0, c1, c2, c3, k0, k1);
    k0 += kPhiloxWeyl0;
    k1 += kPhiloxWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// philox4x32 of N counters under one key, in place (counter i is (c0[i], c1[i], c2[i], c3[i])):
// the same rounds counter by counter, each round over all N before the next, so the compiler
// can vectorise across the counters (one counter's rounds are a dependent chain). Host code.
template <int N>
inline void philox4x32_lanes(uint32_t (&c0)[N], uint32_t (&c1)[N], uint32_t (&c2)[N], uint32_t (&c3)[N],
                             uint32_t k0, uint32_t k1) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    for (int i = 0; i < N; ++i) philox_round(c0[i], c1[i], c2[i], c3[i], k0, k1);
    k0 += kPhiloxWeyl0;
    k1 += kPhiloxWeyl1;
  }
}

// Uniform double in [0, 1) with 53 random bits from two 32-bit words.
CKV_HD inline double philox_uniform(uint32_t hi, uint32_t lo) {
  uint64_t bits = (uint64_t(hi) << 21) ^ (uint64_t(lo) >> 11);
  bits &= (uint64_t(1) << 53) - 1;
  return double(bits) * (1.0 / 9007199254740992.0);
}

// The draw for (seed, stream, walker, step): two uniforms in [0, 1).
struct WalkDraw {
  double u0, u1;
};
CKV_HD inline WalkDraw philox_walk_draw(uint64_t seed, uint32_t stream, uint32_t walker,
                                        uint32_t step) {
  Philox4x32 r = philox4x32(walker, step, stream, 0u, uint32_t(seed), uint32_t(seed >> 32));
  return WalkDraw{philox_uniform(r.v[0], r.v[1]), philox_uniform(r.v[2], r.v[3])};
}

}  // namespace ckv

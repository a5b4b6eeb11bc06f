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

// counter = (c0, c1, c2, c3), key = (k0, k1); ten rounds as in Random123.
CKV_HD inline Philox4x32 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                    uint32_t k1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = philox_mulhilo(kMul0, c0, &hi0);
    uint32_t lo1 = philox_mulhilo(kMul1, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
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

// The counter-based generator behind every random method (docs/spec/MISSION.md R4): Philox4x32-10 must reproduce the
// Random123 known-answer vectors (kat_vectors, philox4x32 10), so a CUDA twin or another
// implementation of the same stream can be checked against it.
#include <catch2/catch.hpp>

#include <set>

#include "common/philox.hpp"

using namespace ckv;

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors") {
  struct Kat {
    uint32_t counter[4], key[2], expected[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    Philox4x32 r = philox4x32(k.counter[0], k.counter[1], k.counter[2], k.counter[3], k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) CHECK(r.v[i] == k.expected[i]);
  }
}

TEST_CASE("walk draws are pure functions of (seed, stream, walker, step) in [0, 1)") {
  std::set<double> seen;
  double sum = 0;
  const int draws = 20000;
  for (uint32_t walker = 0; walker < 100; ++walker)
    for (uint32_t step = 0; step < draws / 200; ++step) {
      WalkDraw a = philox_walk_draw(42, 3, walker, step);
      WalkDraw b = philox_walk_draw(42, 3, walker, step);
      CHECK(a.u0 == b.u0);
      CHECK(a.u1 == b.u1);
      CHECK(a.u0 >= 0.0);
      CHECK(a.u0 < 1.0);
      CHECK(a.u1 >= 0.0);
      CHECK(a.u1 < 1.0);
      seen.insert(a.u0);
      sum += a.u0 + a.u1;
    }
  CHECK(seen.size() == size_t(draws / 2));  // no repeats among 10000 53-bit draws
  // Mean of 20000 U(0,1) draws: standard error sqrt(1/12/20000) ≈ 0.002; allow 5 of them.
  CHECK(sum / draws == Approx(0.5).margin(0.0102));
  CHECK(philox_walk_draw(42, 3, 0, 0).u0 != philox_walk_draw(43, 3, 0, 0).u0);
  CHECK(philox_walk_draw(42, 3, 0, 0).u0 != philox_walk_draw(42, 4, 0, 0).u0);
}

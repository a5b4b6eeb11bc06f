// The fuzz targets of the parsers that read files from outside, as plain functions: libFuzzer
// calls them through fuzz/fuzz_<name>.cpp (CKV_FUZZ=ON, clang), and the normal test suite replays
// the seed corpus and every input a fuzzer once found through them
// (tests/test_fuzz_regressions.cpp), under any compiler.
//
// Each takes the bytes of one input file, hands them to the reader through its public entry point
// (the file as the reader would meet it on disk) and checks what must hold for any input: the
// reader either accepts it or refuses it with a ckv::Error (whose message names the file); no
// other exception, no crash, no sanitizer report; what it accepts is self-consistent (see each).
// Each returns whether the reader accepted the input. A broken property aborts the process with a message on stderr, which libFuzzer records as a
// crash and Catch2 reports as a failed test.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ckv::fuzz {

// A safetensors sample file (cache/safetensors.hpp): SafetensorsFile::open, every tensor read,
// identify_safetensors_file (both modes) giving the same fingerprint as open.
bool safetensors_file(const uint8_t* data, size_t size);
// A cache directory's index.jsonl (cache/cache_index.hpp): read_cache_index; an accepted index
// written back with write_cache_index reads back to the same entries.
bool cache_index(const uint8_t* data, size_t size);
// A sweep file (scheduler/spec.hpp): parse_spec, then expand_grid when the grid is small.
bool sweep_file(const uint8_t* data, size_t size);
// A predictions JSONL scored by import_predictions (e2e/prediction_import.hpp) into a scratch
// database. The input may start with a line "#task NAME" (the task; hotpotqa otherwise) and may
// hold a line "#gold" after which the rest is the LongBench JSONL of gold answers (a fixed
// two-sample file otherwise).
bool predictions_file(const uint8_t* data, size_t size);

struct Target {
  const char* name;                               // fuzz/corpus/<name>, fuzz/regressions/<name>, fuzz/fuzz_<name>.cpp
  bool (*run)(const uint8_t* data, size_t size);  // true: the reader accepted the input
};
const std::vector<Target>& targets();

}  // namespace ckv::fuzz

// What sample identity and SIGBUS-free reading cost, on one large sample:
//   identify, hashed      planning: SHA-256 of every tensor byte, streamed (the default)
//   identify, recorded    planning with --trust-recorded-digests: the header only
//   open, owned + hashed  the worker: whole file read into owned memory, hashed, validated
//   open, mmap (before)   the earlier reader: memory map + validation only (no hash, no copy)
//   load layers, owned    every layer to fp32 from the owned copy, NaN/Inf checked
//   load layers, mmap     every layer to fp32 straight from the map (the earlier path)
// and the end-to-end worker cost per sample (open + load every layer) before and after.
// The page cache is warm (the file was just written or read); a cold read adds the disk's time
// to both paths. Default sample: 4 layers, H = 28, G = 4, d = 128, n = 8192, fp16 (~300 MB,
// docs/spec/DATA.md's Qwen2.5-7B example); or pass --sample FILE (e.g. one `ckv-sweep synth` wrote).
//   build/bench/bench_sample_load [--sample FILE] [--repeats 3]
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "cache/safetensors.hpp"
#include "cache/sample_cache.hpp"
#include "common/canonical_json.hpp"
#include "common/error.hpp"
#include "common/half.hpp"

namespace fs = std::filesystem;
using namespace ckv;

namespace {

double best_of(int repeats, const std::function<void()>& run) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

std::string write_big_sample(const std::string& path) {
  const int H = 28, G = 4, d = 128, n = 8192, m = 16;
  SampleMeta meta;
  meta.task = "synth-needle";
  meta.id = "bench-300mb";
  meta.model = "bench";
  meta.n_tokens = n;
  meta.m_answer = m;
  meta.num_layers_model = 28;
  meta.answers = json::array({"x"});
  meta.evidence = {{0, 1}};
  meta.answer_source = "gold";
  meta.capture_version = "bench";
  std::vector<SampleWriteLayer> layers;
  uint32_t state = 12345;
  auto fill = [&](std::vector<float>& v, size_t count) {
    v.resize(count);
    for (auto& x : v) {
      state = state * 1664525u + 1013904223u;
      x = float(int(state >> 20) - 2048) / 1024.0f;
    }
  };
  for (int layer : {0, 9, 18, 27}) {
    SampleWriteLayer entry;
    entry.layer = layer;
    LayerTensors& t = entry.tensors;
    t.H = H, t.G = G, t.d = d, t.n = n, t.r = n, t.m = m;
    fill(t.q, size_t(H) * n * d);
    fill(t.k, size_t(G) * n * d);
    fill(t.v, size_t(G) * n * d);
    fill(t.q_answer, size_t(H) * m * d);
    fill(t.k_answer, size_t(G) * m * d);
    fill(t.v_answer, size_t(G) * m * d);
    layers.push_back(std::move(entry));
  }
  meta.layers = {0, 9, 18, 27};
  write_sample(path, meta, layers, DType::F16);
  return path;
}

// The earlier reader's cost: map the file and convert each tensor to fp32 from the map.
struct MappedFile {
  void* map = nullptr;
  size_t size = 0;
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    CKV_CHECK(fd >= 0, "{}: cannot open", path);
    struct stat st {};
    ::fstat(fd, &st);
    size = size_t(st.st_size);
    map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    CKV_CHECK(map != MAP_FAILED, "{}: cannot map", path);
  }
  ~MappedFile() { ::munmap(map, size); }
};

double mapped_load_all(const std::string& path, const SampleCache& layout) {
  MappedFile mapped(path);
  const auto* bytes = static_cast<const unsigned char*>(mapped.map);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes, 8);
  const unsigned char* data = bytes + 8 + header_length;
  json header = json::parse(bytes + 8, bytes + 8 + header_length);  // the earlier open parsed it too
  double checksum = 0;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    const size_t begin = entry["data_offsets"][0].get<size_t>(), end = entry["data_offsets"][1].get<size_t>();
    std::vector<float> out((end - begin) / 2);
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, data + begin + 2 * i, 2);
      out[i] = f16_to_float(h);
    }
    checksum += out[out.size() / 2];
  }
  (void)layout;
  return checksum;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sample;
  int repeats = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--sample" && i + 1 < argc) sample = argv[++i];
    else if (arg == "--repeats" && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
    else {
      fmt::print(stderr, "usage: bench_sample_load [--sample FILE] [--repeats N]\n");
      return 2;
    }
  }
  std::string made;
  if (sample.empty()) {
    made = (fs::temp_directory_path() / fmt::format("ckv-bench-sample-{}.safetensors", ::getpid())).string();
    sample = write_big_sample(made);
  }
  const double mb = double(fs::file_size(sample)) / 1e6;
  SampleCache probe = SampleCache::open(sample);
  const auto layers = probe.meta().layers;
  fmt::print("# bench_sample_load: {} ({:.1f} MB, {} layers), best of {}, warm page cache\n", sample, mb,
             layers.size(), repeats);
  fmt::print("| step | seconds | MB/s |\n|---|---:|---:|\n");
  auto line = [&](const char* what, double s) { fmt::print("| {} | {:.3f} | {:.0f} |\n", what, s, mb / s); };

  const double hashed = best_of(repeats, [&] { identify_safetensors_file(sample); });
  const double recorded = best_of(repeats, [&] { identify_safetensors_file(sample, true); });
  const double open_owned = best_of(repeats, [&] { SampleCache::open(sample, probe.fingerprint()); });
  const double open_mapped = best_of(repeats, [&] { MappedFile mapped(sample); });
  const double load_owned = best_of(repeats, [&] {
    for (int layer : layers) probe.load_layer(layer);
  });
  double sink = 0;
  const double load_mapped = best_of(repeats, [&] { sink += mapped_load_all(sample, probe); });
  line("identify, hashed (planning)", hashed);
  line("identify, recorded digest (planning, --trust-recorded-digests)", recorded);
  line("open, owned copy + hash + validate (worker, now)", open_owned);
  line("open, memory map (worker, before)", open_mapped);
  line("load every layer to fp32 + NaN/Inf check, owned (now)", load_owned);
  line("load every layer to fp32, from the map (before)", load_mapped);
  fmt::print("\nworker, per sample: {:.3f} s now (open {:.3f} + load {:.3f}) vs {:.3f} s before: +{:.3f} s\n",
             open_owned + load_owned, open_owned, load_owned, open_mapped + load_mapped,
             open_owned + load_owned - open_mapped - load_mapped);
  if (!made.empty()) fs::remove(made);
  return sink == 12345.0 ? 1 : 0;
}

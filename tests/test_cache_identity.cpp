// Sample identity is the content (docs/database.md, "Sample identity"): every tensor byte and the
// header count, planning and the worker compute the same fingerprint, a worker refuses a file
// whose content is not the planned one, and a file read once is never touched again (no memory
// map: a file truncated under a worker cannot raise SIGBUS).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "cache/safetensors.hpp"
#include "cache/sample_cache.hpp"
#include "cache/synthetic.hpp"
#include "common/error.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ckv;
using Catch::Matchers::Contains;

namespace {

struct TempDir : ckv_test::MkdtempDir {
  TempDir() : MkdtempDir("ckv-identity-test") {}
};

// Overwrites `size` bytes at `offset` with 0x5a, keeping the file's size.
void scribble(const std::string& path, size_t offset, size_t size = 2) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(file);
  file.seekp(std::streamoff(offset));
  const std::string bytes(size, '\x5a');
  file.write(bytes.data(), std::streamsize(size));
  REQUIRE(file);
}

// A 2 MiB single-tensor file written without a recorded digest (as a foreign writer would).
std::string big_plain_file(const TempDir& dir) {
  std::vector<float> values(512 * 1024);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(i % 977) * 0.5f;
  SafetensorsWriter writer;
  writer.set_metadata("note", "no digest");
  writer.add("x", DType::F32, {int64_t(values.size())}, values.data());
  std::string path = dir.file("plain.safetensors");
  writer.write(path);
  return path;
}

std::string synthetic_sample(const TempDir& dir) {
  SynthOptions options;
  options.out_dir = dir.file("cache");
  options.tasks = {"synth-needle"};
  options.samples_per_task = 1;
  options.tokens = 512;
  options.heads = 4;
  options.kv_heads = 2;
  options.head_dim = 64;
  options.layers = {0, 1};
  generate_synthetic_cache(options);
  return dir.file("cache/synth-needle/synth-needle-0.safetensors");
}

}  // namespace

TEST_CASE("a same-size change anywhere in the tensor data is a new identity", "[cache][identity]") {
  TempDir dir;
  const std::string path = big_plain_file(dir);
  const SampleFileIdentity before = identify_safetensors_file(path);
  REQUIRE(before.header_ok);
  CHECK_FALSE(before.used_recorded_digest);
  CHECK(before.fingerprint.size() == 64);
  const auto size = fs::file_size(path);
  // The middle of the data: beyond any head-and-tail sampling of the file.
  scribble(path, size / 2);
  CHECK(fs::file_size(path) == size);
  const SampleFileIdentity after = identify_safetensors_file(path);
  CHECK(after.fingerprint != before.fingerprint);
  // The reader computes the same identity as planning.
  CHECK(SafetensorsFile::open(path)->fingerprint() == after.fingerprint);
}

TEST_CASE("the recorded content digest is verified, and used only when trusted", "[cache][identity]") {
  TempDir dir;
  const std::string path = synthetic_sample(dir);
  const SampleFileIdentity hashed = identify_safetensors_file(path);
  const SampleFileIdentity trusted = identify_safetensors_file(path, /*trust_recorded_digest=*/true);
  REQUIRE(hashed.header_ok);
  CHECK(hashed.metadata.count(kContentDigestKey) == 1);  // the generator records it
  CHECK_FALSE(hashed.used_recorded_digest);
  CHECK(trusted.used_recorded_digest);
  CHECK_FALSE(hashed.recorded_digest_mismatch);
  // One definition: hashing the data and taking the recorded digest agree on an intact file,
  // and so does the reader.
  CHECK(hashed.fingerprint == trusted.fingerprint);
  CHECK(SampleCache::open(path).fingerprint() == hashed.fingerprint);
  CHECK(sample_fingerprint(path) == hashed.fingerprint);

  // A layer rewritten in place, its digest left as it was.
  scribble(path, fs::file_size(path) / 2, 16);
  const SampleFileIdentity changed = identify_safetensors_file(path);
  CHECK(changed.fingerprint != hashed.fingerprint);
  CHECK(changed.recorded_digest_mismatch);
  CHECK(identify_safetensors_file(path, true).fingerprint == hashed.fingerprint);  // trusted: header only
  CHECK_THROWS_WITH(SampleCache::open(path),
                    Contains(path) && Contains("does not match the 'content_sha256' recorded in its metadata"));
}

TEST_CASE("a worker refuses a file whose content is not the planned one, naming it", "[cache][identity]") {
  TempDir dir;
  const std::string path = synthetic_sample(dir);
  const std::string planned = sample_fingerprint(path);
  CHECK_NOTHROW(SampleCache::open(path, planned));
  scribble(path, fs::file_size(path) - 100);
  CHECK_THROWS_AS(SampleCache::open(path, planned), SampleChangedError);
  CHECK_THROWS_WITH(SampleCache::open(path, planned),
                    Contains(path) && Contains("changed since the campaign was planned") &&
                        Contains(planned.substr(0, 12)));
  // Truncated: also refused as changed (not read past its end).
  fs::resize_file(path, 1000);
  CHECK_THROWS_AS(SampleCache::open(path, planned), SampleChangedError);
}

TEST_CASE("corrupt, missing and unreadable files still get an identity", "[cache][identity]") {
  TempDir dir;
  const std::string path = synthetic_sample(dir);
  const std::string intact = sample_fingerprint(path);
  fs::resize_file(path, 1000);  // the header now claims more than the file holds
  const SampleFileIdentity truncated = identify_safetensors_file(path);
  CHECK_FALSE(truncated.header_ok);
  CHECK_THAT(truncated.header_error, Contains("header length"));
  CHECK(truncated.fingerprint.size() == 64);
  CHECK(truncated.fingerprint != intact);
  // The reader agrees on the identity, then reports the problem.
  try {
    SafetensorsFile::open(path, truncated.fingerprint);
    FAIL("a truncated file opened");
  } catch (const SampleChangedError&) {
    FAIL("the reader's fingerprint of a corrupt file differs from planning's");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Contains("header length"));
  }
  CHECK(sample_fingerprint(dir.file("nowhere.safetensors")) == "missing");
  CHECK(identify_safetensors_file(dir.path.string()).fingerprint == "unreadable");  // a directory
}

TEST_CASE("a sample read once is never read again: truncating it cannot hurt the reader", "[cache][identity]") {
  TempDir dir;
  const std::string path = synthetic_sample(dir);
  SampleCache cache = SampleCache::open(path);
  const LayerTensors before = cache.load_layer(0);
  // With a memory map, touching pages past the new end would raise SIGBUS and kill this test.
  fs::resize_file(path, 16);
  {
    std::ofstream rewrite(path, std::ios::binary | std::ios::trunc);
    rewrite << "rewritten in place";
  }
  const LayerTensors after0 = cache.load_layer(0);
  const LayerTensors after1 = cache.load_layer(1);
  CHECK(after0.k == before.k);
  CHECK(after1.v.size() == before.v.size());
}

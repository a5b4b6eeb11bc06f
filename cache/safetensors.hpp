// safetensors files (docs/spec/DATA.md): 8-byte little-endian header length, a JSON header, raw
// tensor bytes. The reader copies the file into memory it owns (never a memory map, so a file
// changed under a running worker cannot kill it with SIGBUS), computes its content fingerprint
// and validates everything before use; every failure names the file (and the tensor).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace ckv {

// Floats hold attention tensors; I32 holds token ids (input_ids, answer_ids of captured caches).
enum class DType { F16,
                   BF16,
                   F32,
                   I32 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;  // byte range relative to the start of the data section
  int64_t numel() const;
};

// Optional `__metadata__` key: the lowercase hex SHA-256 of the data section (every byte after
// the header), recorded by the synthetic generator and the capture tool. Every reader verifies
// it against the bytes (a file damaged after it was written is refused, naming the file);
// planning may use it instead of reading the data (`--trust-recorded-digests`).
constexpr const char* kContentDigestKey = "content_sha256";

// The file no longer has the content it was planned with (SafetensorsFile::open with an
// expected fingerprint).
class SampleChangedError : public Error {
 public:
  using Error::Error;
};

// A sample file's identity (docs/database.md, "Sample identity"): 64 hex digits of SHA-256 over
// a version tag, the header (its length and bytes: tensor table and metadata) and the SHA-256 of
// the data section, so any change of a tensor byte or of the metadata is a new identity. A file
// whose header cannot be read is identified by all of its bytes under another tag; "missing" and
// "unreadable" stand for a file that cannot be opened.
struct SampleFileIdentity {
  std::string fingerprint;
  bool header_ok = false;                       // the header length and JSON are valid
  std::string header_error;                     // otherwise why (naming the file)
  std::map<std::string, std::string> metadata;  // the string values of __metadata__
  bool used_recorded_digest = false;            // content_sha256 stood in for hashing the data
  bool recorded_digest_mismatch = false;        // the data does not hash to the recorded content_sha256
  // r of the `layers.{l}.q` tensors [H, r, d] (the smallest, should they differ); -1 when the
  // header has none. r < n_tokens: a window-row capture (planning refuses full-row methods).
  int query_rows = -1;
};

// Streams every byte of the file in constant memory; the identity is of the content as it is,
// whatever the metadata claims. With `trust_recorded_digest`, a recorded content_sha256 stands
// in for the data (only the header is read). Never throws for a problem of the file (that is
// for the worker to report per unit).
SampleFileIdentity identify_safetensors_file(const std::string& path, bool trust_recorded_digest = false);

class SafetensorsFile {
 public:
  // Reads the whole file into memory, computes its fingerprint (the same as
  // identify_safetensors_file's) and validates: header length inside the file, JSON valid, dtypes
  // known, byte ranges consistent with shape × dtype, inside the data section, no overlaps, the
  // recorded content_sha256 (if any) equal to the data's. Throws ckv::Error; throws
  // SampleChangedError first when `expected_fingerprint` is given and differs.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path,
                                               const std::string& expected_fingerprint = "");
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const TensorInfo& require(const std::string& name) const;  // throws naming file and tensor
  // Converts to fp32 (F16/BF16/F32 little-endian); an I32 tensor is refused, naming it. With
  // `first_non_finite`, also sets it to the index of the first NaN or infinity (numel() when
  // there is none), checked on the way.
  std::vector<float> read_f32(const std::string& name, size_t* first_non_finite = nullptr) const;
  // I32 tensors only (token ids); any other dtype is refused, naming the tensor.
  std::vector<int32_t> read_i32(const std::string& name) const;
  const unsigned char* raw(const TensorInfo& info) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::string fingerprint_;
  std::unique_ptr<unsigned char[]> bytes_;  // the whole file
  size_t size_ = 0;
  const unsigned char* data_ = nullptr;  // start of the data section, inside bytes_
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorInfo> tensors_;
};

class SafetensorsWriter {
 public:
  void set_metadata(const std::string& key, const std::string& value);
  // Records content_sha256 (kContentDigestKey) of the data section in the metadata on write.
  void record_content_digest(bool on = true) { record_digest_ = on; }
  // Converts from fp32 to `dtype` (F16, BF16, F32) on the way in.
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const float* data);
  // Token ids, stored as I32.
  void add_i32(const std::string& name, std::vector<int64_t> shape, const int32_t* data);
  // Writes atomically (temporary file + rename). Throws ckv::Error naming the path.
  void write(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<unsigned char> bytes;
  };
  std::map<std::string, std::string> metadata_;
  std::map<std::string, Entry> entries_;
  bool record_digest_ = false;
};

}  // namespace ckv

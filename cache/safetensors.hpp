// safetensors files (docs/spec/DATA.md): 8-byte little-endian header length, a JSON header, raw tensor
// bytes. The reader memory-maps the file and validates everything before use; every failure
// names the file (and the tensor).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ckv {

// Floats hold attention tensors; I32 holds token ids (input_ids, answer_ids of captured caches).
enum class DType { F16, BF16, F32, I32 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;  // byte range relative to the start of the data section
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates: header length inside the file, JSON valid, dtypes known, byte ranges
  // consistent with shape × dtype, inside the data section, no overlaps. Throws ckv::Error.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const TensorInfo& require(const std::string& name) const;  // throws naming file and tensor
  // Converts to fp32 (F16/BF16/F32 little-endian); an I32 tensor is refused, naming it.
  std::vector<float> read_f32(const std::string& name) const;
  // I32 tensors only (token ids); any other dtype is refused, naming the tensor.
  std::vector<int32_t> read_i32(const std::string& name) const;
  const unsigned char* raw(const TensorInfo& info) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const unsigned char* data_ = nullptr;  // start of the data section
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorInfo> tensors_;
};

class SafetensorsWriter {
 public:
  void set_metadata(const std::string& key, const std::string& value);
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
};

}  // namespace ckv

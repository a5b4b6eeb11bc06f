#include "cache/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "cache/json_input.hpp"
#include "common/canonical_json.hpp"
#include "common/error.hpp"
#include "common/half.hpp"
#include "common/sha256.hpp"

namespace ckv {

// The format is little-endian on disk; the raw views below are only valid on such hosts.
static_assert(std::endian::native == std::endian::little, "ckv-sweep assumes a little-endian host");

namespace {

// Python's safetensors refuses headers above 100 MB; a larger length is a corrupt file, and
// refusing it early avoids parsing a gigabyte of garbage as JSON.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;

bool parse_dtype(const std::string& name, DType& out) {
  if (name == "F16") out = DType::F16;
  else if (name == "BF16") out = DType::BF16;
  else if (name == "F32") out = DType::F32;
  else if (name == "I32") out = DType::I32;
  else return false;
  return true;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ","));
}

std::string errno_text() { return std::strerror(errno); }

// Ordering of Python's safetensors writer (Rust `prepare`): tensors sorted by the `Dtype` enum
// in descending order (F16 < BF16 < I32 < F32 there), then by name, which keeps every tensor
// aligned to its element size and makes our data sections identical to `save_file`'s.
int dtype_rank(DType dtype) {
  switch (dtype) {
    case DType::F16: return 0;
    case DType::BF16: return 1;
    case DType::I32: return 2;
    case DType::F32: return 3;
  }
  return 0;
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F32: return "F32";
    case DType::I32: return "I32";
  }
  return "?";
}

size_t dtype_size(DType dtype) { return dtype == DType::F32 || dtype == DType::I32 ? 4 : 2; }

int64_t TensorInfo::numel() const {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

// ---- identity ----------------------------------------------------------------------------

namespace {

constexpr const char* kContentDomain = "ckv-sample-fingerprint/2\n";
constexpr const char* kBytesDomain = "ckv-sample-bytes/2\n";
constexpr size_t kChunk = size_t(4) << 20;  // streamed reads: 4 MiB

std::string content_fingerprint(const unsigned char* header, uint64_t header_length,
                                const Sha256::Digest& data_digest) {
  Sha256 hash;
  hash.update(kContentDomain, std::strlen(kContentDomain));
  hash.update(&header_length, 8);  // little-endian host (static_assert above)
  hash.update(header, size_t(header_length));
  hash.update(data_digest.data(), data_digest.size());
  return Sha256::hex(hash.finish());
}

// The 8-byte header length against the file: "" when usable, else what is wrong.
std::string header_length_problem(const std::string& path, uint64_t file_size, uint64_t header_length) {
  if (file_size < 8)
    return fmt::format(
        "{}: file is truncated ({} bytes; a safetensors file starts with an 8-byte "
        "header length)",
        path, file_size);
  if (header_length > file_size - 8)
    return fmt::format(
        "{}: header length {} is larger than the file allows ({} bytes after the "
        "length field; truncated or not a safetensors file)",
        path, header_length, file_size - 8);
  if (header_length > kMaxHeaderBytes)
    return fmt::format("{}: header length {} exceeds the 100 MB limit", path, header_length);
  if (header_length < 2)
    return fmt::format("{}: header length {} is too short for a JSON object", path, header_length);
  return "";
}

// The header JSON, or the reason it is not a JSON object.
bool parse_header(const std::string& path, const unsigned char* bytes, uint64_t length, json& out,
                  std::string& error) {
  std::string reason;
  std::optional<json> parsed =
      parse_outside_json(std::string_view(reinterpret_cast<const char*>(bytes), length), reason);
  if (!parsed) {
    error = fmt::format("{}: header is not valid JSON: {}", path, reason);
    return false;
  }
  out = std::move(*parsed);
  if (!out.is_object()) {
    error = fmt::format("{}: header is not a JSON object", path);
    return false;
  }
  return true;
}

// Reads exactly `size` bytes at `offset`, feeding `hash` when given. A file that ends early was
// truncated after it was measured: said so, naming the file.
void read_exact(int fd, const std::string& path, unsigned char* out, size_t size, uint64_t offset,
                uint64_t file_size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out + done, std::min(size - done, kChunk), off_t(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      CKV_FAIL("{}: read failed at byte {}: {}", path, offset + done, errno_text());
    }
    if (n == 0)
      CKV_FAIL(
          "{}: the file ended at byte {} while being read ({} bytes when opened): it was "
          "truncated or replaced meanwhile",
          path, offset + done, file_size);
    done += size_t(n);
  }
}

// SHA-256 of [offset, offset + size) of the file, read in chunks (constant memory).
Sha256::Digest stream_digest(int fd, const std::string& path, uint64_t offset, uint64_t size, uint64_t file_size,
                             const char* domain = nullptr) {
  Sha256 hash;
  if (domain) hash.update(domain, std::strlen(domain));
  std::unique_ptr<unsigned char[]> buffer(new unsigned char[kChunk]);
  for (uint64_t at = 0; at < size;) {
    const size_t n = size_t(std::min<uint64_t>(kChunk, size - at));
    read_exact(fd, path, buffer.get(), n, offset + at, file_size);
    hash.update(buffer.get(), n);
    at += n;
  }
  return hash.finish();
}

}  // namespace

SampleFileIdentity identify_safetensors_file(const std::string& path, bool trust_recorded_digest) {
  SampleFileIdentity out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.fingerprint = errno == ENOENT ? "missing" : "unreadable";
    out.header_error = fmt::format("{}: cannot open: {}", path, errno_text());
    return out;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) CKV_FAIL("{}: cannot stat: {}", path, errno_text());
    if (!S_ISREG(st.st_mode)) CKV_FAIL("{}: not a regular file", path);
    const uint64_t file_size = uint64_t(st.st_size);
    uint64_t header_length = 0;
    if (file_size >= 8) read_exact(fd, path, reinterpret_cast<unsigned char*>(&header_length), 8, 0, file_size);
    out.header_error = header_length_problem(path, file_size, header_length);
    std::string header_bytes;
    json header;
    if (out.header_error.empty()) {
      header_bytes.resize(size_t(header_length));
      read_exact(fd, path, reinterpret_cast<unsigned char*>(header_bytes.data()), header_bytes.size(), 8, file_size);
      if (parse_header(path, reinterpret_cast<const unsigned char*>(header_bytes.data()), header_length, header,
                       out.header_error)) {
        out.header_ok = true;
        if (header.contains("__metadata__") && header["__metadata__"].is_object())
          for (const auto& [key, value] : header["__metadata__"].items())
            if (value.is_string()) out.metadata[key] = value.get<std::string>();
        for (const auto& [key, value] : header.items()) {
          const bool query_tensor = key.size() > 9 && key.compare(0, 7, "layers.") == 0 &&
                                    key.compare(key.size() - 2, 2, ".q") == 0;
          if (!query_tensor || !value.is_object() || !value.contains("shape")) continue;
          const json& shape = value["shape"];
          if (!shape.is_array() || shape.size() != 3 || !shape[1].is_number_integer()) continue;
          const int rows = shape[1].get<int>();
          if (out.query_rows < 0 || rows < out.query_rows) out.query_rows = rows;
        }
      }
    }
    if (!out.header_ok) {
      // No header to describe the content: the identity is every byte (a corrupt file is still
      // a sample of its own, whose units fail with the reader's message).
      out.fingerprint = Sha256::hex(stream_digest(fd, path, 0, file_size, file_size, kBytesDomain));
      return out;
    }
    Sha256::Digest data{}, recorded_digest{};
    auto recorded = out.metadata.find(kContentDigestKey);
    const bool has_recorded =
        recorded != out.metadata.end() && Sha256::parse_hex(recorded->second, recorded_digest);
    if (has_recorded && trust_recorded_digest) {
      // Only when asked: the data is not read, and a file modified in place without its digest
      // keeps its identity here (every worker still verifies the digest against the bytes).
      data = recorded_digest;
      out.used_recorded_digest = true;
    } else {
      data = stream_digest(fd, path, 8 + header_length, file_size - 8 - header_length, file_size);
      out.recorded_digest_mismatch = has_recorded && data != recorded_digest;
    }
    out.fingerprint = content_fingerprint(reinterpret_cast<const unsigned char*>(header_bytes.data()),
                                          header_length, data);
  } catch (const Error& e) {
    out.fingerprint = "unreadable";
    out.header_ok = false;
    out.header_error = e.what();
  }
  return out;
}

// ---- reader ------------------------------------------------------------------------------

namespace {

// The whole file in memory owned by the caller, never memory-mapped: a file that is truncated or
// rewritten while a worker uses it then costs an error for its units, not a SIGBUS for the
// process. The bytes hashed are exactly the bytes used.
std::unique_ptr<unsigned char[]> read_whole_file(const std::string& path, uint64_t& file_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) CKV_FAIL("{}: cannot open: {}", path, errno_text());
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) CKV_FAIL("{}: cannot stat: {}", path, errno_text());
  if (!S_ISREG(st.st_mode)) CKV_FAIL("{}: not a regular file", path);
  file_size = uint64_t(st.st_size);
  std::unique_ptr<unsigned char[]> bytes;
  try {
    bytes.reset(new unsigned char[std::max<uint64_t>(file_size, 1)]);
  } catch (const std::bad_alloc&) {
    CKV_FAIL("{}: cannot hold the file in memory ({} bytes)", path, file_size);
  }
  read_exact(fd, path, bytes.get(), size_t(file_size), 0, file_size);
  return bytes;
}

// The string values of `__metadata__`; anything else there is refused.
std::map<std::string, std::string> parse_metadata(const std::string& path, const json& entry) {
  if (!entry.is_object()) CKV_FAIL("{}: __metadata__ is not a JSON object", path);
  std::map<std::string, std::string> metadata;
  for (auto m = entry.begin(); m != entry.end(); ++m) {
    if (!m.value().is_string())
      CKV_FAIL(
          "{}: __metadata__ value of '{}' is not a string (safetensors metadata holds "
          "strings only)",
          path, m.key());
    metadata[m.key()] = m.value().get<std::string>();
  }
  return metadata;
}

// The shape of a tensor entry, and its element count. Bounds the count so numel × dtype size
// cannot overflow; no tensor inside the file can be larger than the file anyway.
struct ParsedShape {
  std::vector<int64_t> extents;
  uint64_t numel = 1;
  bool too_large = false;  // numel past 2^62: refused once data_offsets are known to be well formed
};

ParsedShape parse_shape(const std::string& path, const std::string& name, const json& shape) {
  if (!shape.is_array())
    CKV_FAIL("{}: tensor '{}': shape is not a list of non-negative integers", path, name);
  ParsedShape out;
  for (const json& extent : shape) {
    if (!extent.is_number_unsigned())
      CKV_FAIL("{}: tensor '{}': shape {} is not a list of non-negative integers", path, name, shape.dump());
    const uint64_t value = extent.get<uint64_t>();
    if (value > uint64_t(std::numeric_limits<int64_t>::max()))
      CKV_FAIL("{}: tensor '{}': shape {} has an extent out of range", path, name, shape.dump());
    out.extents.push_back(int64_t(value));
    if (value != 0 && out.numel > (uint64_t(1) << 62) / value) out.too_large = true;
    else out.numel *= value;
  }
  if (std::find(out.extents.begin(), out.extents.end(), 0) != out.extents.end()) {
    out.numel = 0;
    out.too_large = false;
  }
  return out;
}

// One tensor's header entry: its dtype and shape, and a byte range that holds exactly
// shape × dtype inside the data section (`data_size` bytes).
TensorInfo parse_tensor_entry(const std::string& path, const std::string& name, const json& entry,
                              uint64_t data_size) {
  if (!entry.is_object()) CKV_FAIL("{}: tensor '{}': header entry is not a JSON object", path, name);
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) CKV_FAIL("{}: tensor '{}': header entry lacks '{}'", path, name, key);

  TensorInfo info;
  info.name = name;
  if (!entry["dtype"].is_string()) CKV_FAIL("{}: tensor '{}': dtype is not a string", path, name);
  const std::string dtype = entry["dtype"].get<std::string>();
  if (!parse_dtype(dtype, info.dtype))
    CKV_FAIL("{}: tensor '{}': dtype '{}' is not supported (expected F16, BF16, F32 or I32)", path, name,
             dtype);

  const ParsedShape shape = parse_shape(path, name, entry["shape"]);
  info.shape = shape.extents;
  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    CKV_FAIL(
        "{}: tensor '{}': data_offsets {} is not a pair [begin, end] of non-negative "
        "integers",
        path, name, offsets.dump());
  const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  if (shape.too_large)
    CKV_FAIL("{}: tensor '{}': shape {} is too large for any file", path, name, shape_string(info.shape));
  const uint64_t expected = shape.numel * dtype_size(info.dtype);
  if (end < begin || end - begin != expected)
    CKV_FAIL("{}: tensor '{}': data_offsets [{}, {}] do not match shape {} × {} ({} bytes)", path, name, begin,
             end, shape_string(info.shape), dtype, expected);
  if (end > data_size)
    CKV_FAIL(
        "{}: tensor '{}': data_offsets [{}, {}] lie outside the data section ({} bytes; "
        "file truncated?)",
        path, name, begin, end, data_size);
  info.begin = size_t(begin);
  info.end = size_t(end);
  return info;
}

// No two tensors share a byte (ranges sorted by start; empty tensors occupy no bytes).
void check_no_overlap(const std::string& path, const std::map<std::string, TensorInfo>& tensors) {
  std::vector<const TensorInfo*> ranges;
  for (const auto& [name, info] : tensors)
    if (info.end > info.begin) ranges.push_back(&info);
  std::sort(ranges.begin(), ranges.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin < b->begin || (a->begin == b->begin && a->name < b->name);
  });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i]->begin < ranges[i - 1]->end)
      CKV_FAIL("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", path, ranges[i - 1]->name,
               ranges[i - 1]->begin, ranges[i - 1]->end, ranges[i]->name, ranges[i]->begin, ranges[i]->end);
}

// A recorded content_sha256 must be a SHA-256 and the data's.
void check_recorded_digest(const std::string& path, const std::map<std::string, std::string>& metadata,
                           const Sha256::Digest& data_digest) {
  auto recorded = metadata.find(kContentDigestKey);
  if (recorded == metadata.end()) return;
  Sha256::Digest declared{};
  if (!Sha256::parse_hex(recorded->second, declared))
    CKV_FAIL("{}: __metadata__ '{}' = '{}' is not a SHA-256 (64 hex digits)", path, kContentDigestKey,
             recorded->second);
  if (declared != data_digest)
    CKV_FAIL(
        "{}: the tensor data does not match the '{}' recorded in its metadata (recorded {}, "
        "computed {}): the file was modified or damaged after it was written",
        path, kContentDigestKey, recorded->second.substr(0, 12), Sha256::hex(data_digest).substr(0, 12));
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path,
                                                       const std::string& expected_fingerprint) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  uint64_t file_size = 0;
  file->bytes_ = read_whole_file(path, file_size);
  file->size_ = size_t(file_size);
  const unsigned char* bytes = file->bytes_.get();

  // The header, and the fingerprint (identify_safetensors_file's): of the header and the data's
  // digest, or of every byte when the header cannot be read.
  uint64_t header_length = 0;
  if (file_size >= 8) std::memcpy(&header_length, bytes, 8);
  std::string header_error = header_length_problem(path, file_size, header_length);
  json header;
  if (header_error.empty()) parse_header(path, bytes + 8, header_length, header, header_error);
  Sha256::Digest data_digest{};
  if (header_error.empty()) {
    data_digest = Sha256::of(bytes + 8 + header_length, size_t(file_size - 8 - header_length));
    file->fingerprint_ = content_fingerprint(bytes + 8, header_length, data_digest);
  } else {
    Sha256 hash;
    hash.update(kBytesDomain, std::strlen(kBytesDomain));
    hash.update(bytes, file->size_);
    file->fingerprint_ = Sha256::hex(hash.finish());
  }
  if (!expected_fingerprint.empty() && expected_fingerprint != file->fingerprint_)
    throw SampleChangedError(fmt::format(
        "{}: the file changed since the campaign was planned (content fingerprint {} now, {} "
        "planned): nothing is computed on other data than planned; run the campaign again to "
        "plan the file as it is now",
        path, file->fingerprint_.substr(0, 12), expected_fingerprint.substr(0, 12)));
  if (!header_error.empty()) throw Error(header_error);

  // The tensor table and the metadata, each entry validated.
  file->data_ = bytes + 8 + header_length;
  const uint64_t data_size = file_size - 8 - header_length;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") file->metadata_ = parse_metadata(path, it.value());
    else file->tensors_.emplace(it.key(), parse_tensor_entry(path, it.key(), it.value(), data_size));
  }
  check_no_overlap(path, file->tensors_);
  check_recorded_digest(path, file->metadata_, data_digest);
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorInfo& SafetensorsFile::require(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) CKV_FAIL("{}: tensor '{}' is missing", path_, name);
  return *info;
}

const unsigned char* SafetensorsFile::raw(const TensorInfo& info) const { return data_ + info.begin; }

std::vector<float> SafetensorsFile::read_f32(const std::string& name, size_t* first_non_finite) const {
  const TensorInfo& info = require(name);
  const size_t count = size_t(info.numel());
  if (info.dtype == DType::I32)
    CKV_FAIL("{}: tensor '{}' holds I32 values (token ids), not floats", path_, name);
  std::vector<float> out(count);
  const unsigned char* src = raw(info);
  // Non-finite values are found on the source bits while converting (all exponent bits set),
  // OR-ed over the tensor so the clean case costs one compare per value; located only if seen.
  uint32_t non_finite = 0;
  switch (info.dtype) {
    case DType::I32: break;  // refused above
    case DType::F32:
      if (count > 0) std::memcpy(out.data(), src, count * 4);
      if (first_non_finite)
        for (size_t i = 0; i < count; ++i) non_finite |= uint32_t((float_to_bits(out[i]) & 0x7f800000u) == 0x7f800000u);
      break;
    case DType::F16: {
      // Every fp16 value's fp32 twin, built once (256 KiB): a load instead of the branches of
      // f16_to_float for each of the ~10^8 values of a large sample.
      static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (uint32_t h = 0; h < 65536; ++h) t[h] = f16_to_float(uint16_t(h));
        return t;
      }();
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        non_finite |= uint32_t((h & 0x7c00u) == 0x7c00u);
        out[i] = table[h];
      }
      break;
    }
    case DType::BF16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        non_finite |= uint32_t((h & 0x7f80u) == 0x7f80u);
        out[i] = bf16_to_float(h);
      }
      break;
  }
  if (first_non_finite) {
    *first_non_finite = count;
    if (non_finite)
      for (size_t i = 0; i < count; ++i)
        if (!std::isfinite(out[i])) {
          *first_non_finite = i;
          break;
        }
  }
  return out;
}

std::vector<int32_t> SafetensorsFile::read_i32(const std::string& name) const {
  const TensorInfo& info = require(name);
  if (info.dtype != DType::I32)
    CKV_FAIL("{}: tensor '{}' has dtype {}, expected I32", path_, name, dtype_name(info.dtype));
  std::vector<int32_t> out(size_t(info.numel()));
  if (!out.empty()) std::memcpy(out.data(), raw(info), out.size() * 4);
  return out;
}

// ---- writer ------------------------------------------------------------------------------

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const float* data) {
  CKV_CHECK(!name.empty() && name != "__metadata__",
            "safetensors writer: invalid tensor name '{}'", name);
  CKV_CHECK(entries_.find(name) == entries_.end(), "safetensors writer: tensor '{}' added twice",
            name);
  size_t count = 1;
  for (int64_t extent : shape) {
    CKV_CHECK(extent >= 0, "safetensors writer: tensor '{}' has negative extent in shape {}", name,
              shape_string(shape));
    count *= size_t(extent);
  }
  CKV_CHECK(count == 0 || data != nullptr, "safetensors writer: tensor '{}' has no data", name);
  CKV_CHECK(dtype != DType::I32, "safetensors writer: tensor '{}': I32 data goes through add_i32",
            name);
  Entry entry{dtype, std::move(shape), {}};
  entry.bytes.resize(count * dtype_size(dtype));
  unsigned char* dst = entry.bytes.data();
  for (size_t i = 0; i < count; ++i) {
    switch (dtype) {
      case DType::F32: std::memcpy(dst + 4 * i, &data[i], 4); break;
      case DType::F16: {
        const uint16_t h = float_to_f16(data[i]);
        std::memcpy(dst + 2 * i, &h, 2);
        break;
      }
      case DType::BF16: {
        const uint16_t h = float_to_bf16(data[i]);
        std::memcpy(dst + 2 * i, &h, 2);
        break;
      }
      case DType::I32: break;  // refused above
    }
  }
  entries_.emplace(name, std::move(entry));
}

void SafetensorsWriter::add_i32(const std::string& name, std::vector<int64_t> shape,
                                const int32_t* data) {
  CKV_CHECK(!name.empty() && name != "__metadata__",
            "safetensors writer: invalid tensor name '{}'", name);
  CKV_CHECK(entries_.find(name) == entries_.end(), "safetensors writer: tensor '{}' added twice",
            name);
  size_t count = 1;
  for (int64_t extent : shape) {
    CKV_CHECK(extent >= 0, "safetensors writer: tensor '{}' has negative extent in shape {}", name,
              shape_string(shape));
    count *= size_t(extent);
  }
  CKV_CHECK(count == 0 || data != nullptr, "safetensors writer: tensor '{}' has no data", name);
  Entry entry{DType::I32, std::move(shape), std::vector<unsigned char>(count * 4)};
  if (count > 0) std::memcpy(entry.bytes.data(), data, count * 4);
  entries_.emplace(name, std::move(entry));
}

void SafetensorsWriter::write(const std::string& path) const {
  std::vector<const std::pair<const std::string, Entry>*> order;
  for (const auto& item : entries_) order.push_back(&item);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return dtype_rank(a->second.dtype) > dtype_rank(b->second.dtype);
  });

  std::map<std::string, std::string> metadata = metadata_;
  if (record_digest_) {
    Sha256 data;
    for (const auto* item : order) data.update(item->second.bytes.data(), item->second.bytes.size());
    metadata[kContentDigestKey] = Sha256::hex(data.finish());
  }
  // The header is written by hand rather than by json::dump so its key order matches the
  // Python writer ("dtype", "shape", "data_offsets"; metadata first) byte for byte.
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      header += json(key).dump() + ':' + json(value).dump();
    }
    header += '}';
  }
  size_t offset = 0;
  for (const auto* item : order) {
    if (header.size() > 1) header += ',';
    const Entry& entry = item->second;
    header += fmt::format("{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                          json(item->first).dump(), dtype_name(entry.dtype),
                          fmt::join(entry.shape, ","), offset, offset + entry.bytes.size());
    offset += entry.bytes.size();
  }
  header += '}';
  // Pad with spaces so the data section starts 8-byte aligned, as the Python writer does.
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t header_length = header.size();

  const std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) CKV_FAIL("{}: cannot create temporary file {}: {}", path, temp, errno_text());
  auto fail = [&](const char* what) {
    const std::string why = errno_text();
    ::close(fd);
    ::unlink(temp.c_str());
    CKV_FAIL("{}: {} failed (disk full or read-only?): {}", path, what, why);
  };
  auto write_all = [&](const void* bytes, size_t size) {
    const char* p = static_cast<const char*>(bytes);
    while (size > 0) {
      const ssize_t written = ::write(fd, p, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        fail("write");
      }
      p += written;
      size -= size_t(written);
    }
  };
  write_all(&header_length, 8);
  write_all(header.data(), header.size());
  for (const auto* item : order) write_all(item->second.bytes.data(), item->second.bytes.size());
  // fsync before rename: after a crash the path holds either the old file or the complete new
  // one, never a prefix.
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    CKV_FAIL("{}: close failed: {}", path, why);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    CKV_FAIL("{}: cannot rename temporary file into place: {}", path, why);
  }
}

}  // namespace ckv

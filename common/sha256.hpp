// Streaming SHA-256 (OpenSSL EVP) for content that does not fit one string: sample files are
// hashed in chunks as they are read (cache/safetensors.cpp). sha256_hex of a whole string is in
// canonical_json.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <memory>
#include <string>

namespace ckv {

class Sha256 {
 public:
  using Digest = std::array<unsigned char, 32>;
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* bytes, size_t size);
  void update(const std::string& bytes) { update(bytes.data(), bytes.size()); }
  Digest finish();  // the hasher cannot be updated afterwards

  static Digest of(const void* bytes, size_t size);
  static std::string hex(const Digest& digest);
  // 64 hex digits (either case) to bytes; false when `text` is not that.
  static bool parse_hex(const std::string& text, Digest& out);

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace ckv

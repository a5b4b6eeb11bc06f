#include "common/sha256.hpp"

#include <openssl/evp.h>

#include <memory>

#include "common/canonical_json.hpp"
#include "common/error.hpp"

namespace ckv {

std::string sha256_hex(const std::string& bytes) {
  return Sha256::hex(Sha256::of(bytes.data(), bytes.size()));
}

struct Sha256::Context {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  context_->md = EVP_MD_CTX_new();
  CKV_CHECK(context_->md != nullptr && EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr) == 1,
            "OpenSSL SHA-256 failed to initialise");
}

Sha256::~Sha256() {
  if (context_ && context_->md) EVP_MD_CTX_free(context_->md);
}

void Sha256::update(const void* bytes, size_t size) {
  if (size == 0) return;
  CKV_CHECK(EVP_DigestUpdate(context_->md, bytes, size) == 1, "OpenSSL SHA-256 failed");
}

Sha256::Digest Sha256::finish() {
  Digest digest{};
  unsigned int length = 0;
  CKV_CHECK(EVP_DigestFinal_ex(context_->md, digest.data(), &length) == 1 && length == digest.size(),
            "OpenSSL SHA-256 failed");
  return digest;
}

Sha256::Digest Sha256::of(const void* bytes, size_t size) {
  Digest digest{};
  unsigned int length = 0;
  CKV_CHECK(EVP_Digest(bytes, size, digest.data(), &length, EVP_sha256(), nullptr) == 1 && length == digest.size(),
            "OpenSSL SHA-256 failed");
  return digest;
}

std::string Sha256::hex(const Digest& digest) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (unsigned char byte : digest) {
    out.push_back(hex[byte >> 4]);
    out.push_back(hex[byte & 15]);
  }
  return out;
}

bool Sha256::parse_hex(const std::string& text, Digest& out) {
  if (text.size() != 2 * out.size()) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const int high = nibble(text[2 * i]), low = nibble(text[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return true;
}

}  // namespace ckv

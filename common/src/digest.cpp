#include "henvis/digest.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

namespace henvis {

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char HEX[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(HEX[p[i] >> 4]);
    out.push_back(HEX[p[i] & 0xf]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return to_hex(md.data(), len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  return to_hex(md.data(), len);
}

std::string idempotency_hash(std::initializer_list<std::string_view> scope,
                             const google::protobuf::Message& request) {
  std::string bytes;
  for (std::string_view part : scope) {
    bytes += part;
    bytes += '\0';
  }
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&cos);
  }
  return sha256_hex(bytes);
}

}  // namespace henvis

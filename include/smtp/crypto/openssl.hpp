/// \file smtp/crypto/openssl.hpp
///
/// smtp::crypto::openssl: the SASL mechanisms' crypto_provider on OpenSSL 3
/// (EVP digests, HMAC, PKCS5_PBKDF2_HMAC, RAND_bytes), and the mechanisms
/// that need one, ready to use:
///
/// ```
///   smtp::sasl::cram_md5_openssl      CRAM-MD5
///   smtp::sasl::scram_sha1_openssl    SCRAM-SHA-1
///   smtp::sasl::scram_sha256_openssl  SCRAM-SHA-256
/// ```
///
/// Every OpenSSL call is checked. They fail only on a broken installation (or
/// MD5 under a FIPS-only configuration); failures throw std::runtime_error
/// with OpenSSL's error string.
#ifndef SMTP_CRYPTO_OPENSSL_HPP
#define SMTP_CRYPTO_OPENSSL_HPP

#include <smtp/protocol/sasl.hpp>
#include <smtp/version.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace crypto {

/// The crypto provider on OpenSSL 3. Stateless; everything is static. The
/// definitions are in smtp/crypto/impl/openssl.ipp (compiled once by
/// <smtp/src.hpp> in separate mode, so that other files see no OpenSSL header).
struct openssl {
    static std::array<unsigned char, 16> hmac_md5(std::string_view key, std::string_view data);
    static std::array<unsigned char, 20> sha1(std::string_view data);
    static std::array<unsigned char, 20> hmac_sha1(std::string_view key, std::string_view data);
    static std::array<unsigned char, 20> pbkdf2_hmac_sha1(std::string_view password, std::string_view salt,
                                                          std::uint32_t iterations);
    static std::array<unsigned char, 32> sha256(std::string_view data);
    static std::array<unsigned char, 32> hmac_sha256(std::string_view key, std::string_view data);
    static std::array<unsigned char, 32> pbkdf2_hmac_sha256(std::string_view password, std::string_view salt,
                                                            std::uint32_t iterations);
    static void random_bytes(std::span<unsigned char> out);
};

static_assert(sasl::crypto_provider<openssl>);
static_assert(sasl::scram_hash<sasl::sha1, openssl> && sasl::scram_hash<sasl::sha256, openssl>);

} // namespace crypto
SMTP_NAMESPACE_END

SMTP_NAMESPACE_BEGIN
namespace sasl {

/// CRAM-MD5 on OpenSSL.
using cram_md5_openssl = cram_md5<crypto::openssl>;
/// SCRAM-SHA-1 on OpenSSL.
using scram_sha1_openssl = scram_sha1<crypto::openssl>;
/// SCRAM-SHA-256 on OpenSSL.
using scram_sha256_openssl = scram_sha256<crypto::openssl>;

} // namespace sasl
SMTP_NAMESPACE_END

#ifndef SMTP_SEPARATE_COMPILATION
#include <smtp/crypto/impl/openssl.ipp>
#endif

#endif

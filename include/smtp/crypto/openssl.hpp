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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace crypto {

namespace detail {

/// Throws std::runtime_error naming the call and OpenSSL's first queued error.
[[noreturn]] inline void throw_openssl_error(const char* call)
{
    const unsigned long e = ERR_get_error();
    std::string what = "OpenSSL ";
    what += call;
    what += " failed";
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        what += ": ";
        what += buf;
    }
    ERR_clear_error();
    throw std::runtime_error(what);
}

/// OpenSSL's lengths are int: longer inputs are refused, not truncated.
inline int checked_int(std::size_t n, const char* call)
{
    if (n > static_cast<std::size_t>(INT_MAX))
        throw std::runtime_error(std::string("OpenSSL ") + call + ": input too long");
    return static_cast<int>(n);
}

/// A pointer OpenSSL accepts for an empty input (some calls treat NULL as
/// "no key" or "reuse the last key" rather than as zero bytes).
inline const unsigned char* bytes_of(std::string_view s) noexcept
{
    static constexpr unsigned char empty = 0;
    return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

template <std::size_t N>
std::array<unsigned char, N> digest(const EVP_MD* md, std::string_view data, const char* call)
{
    std::array<unsigned char, N> out{};
    unsigned int len = 0;
    if (md == nullptr || EVP_Digest(bytes_of(data), data.size(), out.data(), &len, md, nullptr) != 1)
        throw_openssl_error(call);
    if (len != N)
        throw std::runtime_error(std::string("OpenSSL ") + call + ": unexpected digest length");
    return out;
}

template <std::size_t N>
std::array<unsigned char, N> hmac(const EVP_MD* md, std::string_view key, std::string_view data, const char* call)
{
    std::array<unsigned char, N> out{};
    unsigned int len = 0;
    if (md == nullptr ||
        HMAC(md, bytes_of(key), checked_int(key.size(), call), bytes_of(data), data.size(), out.data(), &len) == nullptr)
        throw_openssl_error(call);
    if (len != N)
        throw std::runtime_error(std::string("OpenSSL ") + call + ": unexpected HMAC length");
    return out;
}

template <std::size_t N>
std::array<unsigned char, N> pbkdf2(const EVP_MD* md, std::string_view password, std::string_view salt,
                                    std::uint32_t iterations, const char* call)
{
    std::array<unsigned char, N> out{};
    if (iterations == 0 || iterations > static_cast<std::uint32_t>(INT_MAX))
        throw std::runtime_error(std::string("OpenSSL ") + call + ": iteration count out of range");
    if (md == nullptr ||
        PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(bytes_of(password)), checked_int(password.size(), call),
                          bytes_of(salt), checked_int(salt.size(), call), static_cast<int>(iterations), md,
                          static_cast<int>(N), out.data()) != 1)
        throw_openssl_error(call);
    return out;
}

} // namespace detail

/// The crypto provider on OpenSSL 3. Stateless; everything is static.
struct openssl {
    static std::array<unsigned char, 16> hmac_md5(std::string_view key, std::string_view data)
    {
        return detail::hmac<16>(EVP_md5(), key, data, "HMAC-MD5");
    }
    static std::array<unsigned char, 20> sha1(std::string_view data)
    {
        return detail::digest<20>(EVP_sha1(), data, "SHA-1");
    }
    static std::array<unsigned char, 20> hmac_sha1(std::string_view key, std::string_view data)
    {
        return detail::hmac<20>(EVP_sha1(), key, data, "HMAC-SHA-1");
    }
    static std::array<unsigned char, 20> pbkdf2_hmac_sha1(std::string_view password, std::string_view salt,
                                                          std::uint32_t iterations)
    {
        return detail::pbkdf2<20>(EVP_sha1(), password, salt, iterations, "PBKDF2-HMAC-SHA-1");
    }
    static std::array<unsigned char, 32> sha256(std::string_view data)
    {
        return detail::digest<32>(EVP_sha256(), data, "SHA-256");
    }
    static std::array<unsigned char, 32> hmac_sha256(std::string_view key, std::string_view data)
    {
        return detail::hmac<32>(EVP_sha256(), key, data, "HMAC-SHA-256");
    }
    static std::array<unsigned char, 32> pbkdf2_hmac_sha256(std::string_view password, std::string_view salt,
                                                            std::uint32_t iterations)
    {
        return detail::pbkdf2<32>(EVP_sha256(), password, salt, iterations, "PBKDF2-HMAC-SHA-256");
    }
    static void random_bytes(std::span<unsigned char> out)
    {
        if (out.empty())
            return;
        if (RAND_bytes(out.data(), detail::checked_int(out.size(), "RAND_bytes")) != 1)
            detail::throw_openssl_error("RAND_bytes");
    }
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

#endif

// smtp/crypto/impl/openssl.ipp
//
// The definitions of smtp::crypto::openssl (smtp/crypto/openssl.hpp):
// inline in header-only mode; compiled once, by <smtp/src.hpp>, in separate
// mode (SMTP_SEPARATE_COMPILATION).
#ifndef SMTP_CRYPTO_IMPL_OPENSSL_IPP
#define SMTP_CRYPTO_IMPL_OPENSSL_IPP

#include <smtp/crypto/openssl.hpp>
#include <smtp/detail/config.hpp>

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

SMTP_DECL std::array<unsigned char, 16> openssl::hmac_md5(std::string_view key, std::string_view data)
{
    return detail::hmac<16>(EVP_md5(), key, data, "HMAC-MD5");
}
SMTP_DECL std::array<unsigned char, 20> openssl::sha1(std::string_view data)
{
    return detail::digest<20>(EVP_sha1(), data, "SHA-1");
}
SMTP_DECL std::array<unsigned char, 20> openssl::hmac_sha1(std::string_view key, std::string_view data)
{
    return detail::hmac<20>(EVP_sha1(), key, data, "HMAC-SHA-1");
}
SMTP_DECL std::array<unsigned char, 20> openssl::pbkdf2_hmac_sha1(std::string_view password, std::string_view salt,
                                                      std::uint32_t iterations)
{
    return detail::pbkdf2<20>(EVP_sha1(), password, salt, iterations, "PBKDF2-HMAC-SHA-1");
}
SMTP_DECL std::array<unsigned char, 32> openssl::sha256(std::string_view data)
{
    return detail::digest<32>(EVP_sha256(), data, "SHA-256");
}
SMTP_DECL std::array<unsigned char, 32> openssl::hmac_sha256(std::string_view key, std::string_view data)
{
    return detail::hmac<32>(EVP_sha256(), key, data, "HMAC-SHA-256");
}
SMTP_DECL std::array<unsigned char, 32> openssl::pbkdf2_hmac_sha256(std::string_view password, std::string_view salt,
                                                        std::uint32_t iterations)
{
    return detail::pbkdf2<32>(EVP_sha256(), password, salt, iterations, "PBKDF2-HMAC-SHA-256");
}
SMTP_DECL void openssl::random_bytes(std::span<unsigned char> out)
{
    if (out.empty())
        return;
    if (RAND_bytes(out.data(), detail::checked_int(out.size(), "RAND_bytes")) != 1)
        detail::throw_openssl_error("RAND_bytes");
}

} // namespace crypto
SMTP_NAMESPACE_END

#endif

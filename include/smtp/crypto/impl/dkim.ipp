// smtp/crypto/impl/dkim.ipp
//
// The definitions of smtp::crypto::sha256_stream and dkim_key
// (smtp/crypto/dkim.hpp): inline in header-only mode; compiled once, by
// <smtp/src.hpp>, in separate mode (SMTP_SEPARATE_COMPILATION).
#ifndef SMTP_CRYPTO_IMPL_DKIM_IPP
#define SMTP_CRYPTO_IMPL_DKIM_IPP

#include <smtp/crypto/dkim.hpp>
#include <smtp/crypto/impl/openssl.ipp> // crypto::detail's error helpers
#include <smtp/detail/config.hpp>
#include <smtp/protocol/base64.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

SMTP_NAMESPACE_BEGIN
namespace crypto {

SMTP_DECL sha256_stream::sha256_stream()
    : ctx_(EVP_MD_CTX_new(), [](void* p) { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(p)); })
{
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), EVP_sha256(), nullptr) != 1)
        detail::throw_openssl_error("EVP_DigestInit_ex(SHA-256)");
}

SMTP_DECL void sha256_stream::update(std::string_view data)
{
    if (!data.empty() && EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_.get()), data.data(), data.size()) != 1)
        detail::throw_openssl_error("EVP_DigestUpdate(SHA-256)");
}

SMTP_DECL std::array<unsigned char, 32> sha256_stream::finish()
{
    std::array<unsigned char, 32> out{};
    unsigned int len = 0;
    auto* ctx = static_cast<EVP_MD_CTX*>(ctx_.get());
    if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != out.size() ||
        EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1)
        detail::throw_openssl_error("EVP_DigestFinal_ex(SHA-256)");
    return out;
}

SMTP_DECL dkim_key dkim_key::from_pem(std::string_view pem)
{
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), detail::checked_int(pem.size(), "BIO_new_mem_buf")), &BIO_free);
    if (!bio)
        detail::throw_openssl_error("BIO_new_mem_buf");
    // No passphrase callback: an encrypted key is refused, never prompted for.
    EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
    if (raw == nullptr) {
        ERR_clear_error();
        throw std::invalid_argument("DKIM key: not an unencrypted private key in PEM");
    }
    std::shared_ptr<void> key(raw, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
    const int bits = EVP_PKEY_get_bits(raw);
    if (EVP_PKEY_is_a(raw, "ED25519"))
        return dkim_key(std::move(key), dkim::algorithm::ed25519_sha256, bits);
    if (EVP_PKEY_is_a(raw, "RSA")) {
        if (bits < 1024)
            throw std::invalid_argument("DKIM key: RSA key of " + std::to_string(bits) +
                                        " bits; at least 1024 are required (RFC 8301 3.2), 2048 advised");
        return dkim_key(std::move(key), dkim::algorithm::rsa_sha256, bits);
    }
    const char* type = EVP_PKEY_get0_type_name(raw);
    throw std::invalid_argument(std::string("DKIM key: a ") + (type ? type : "non-RSA") +
                                " key; DKIM signs with RSA (rsa-sha256) or Ed25519 (ed25519-sha256)");
}

SMTP_DECL dkim_key dkim_key::from_pem_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::invalid_argument("DKIM key: cannot open " + path);
    const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
        return from_pem(pem);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(path + ": " + e.what());
    }
}

SMTP_DECL std::string dkim_key::sign_digest(std::span<const unsigned char, 32> digest) const
{
    auto* pkey = static_cast<EVP_PKEY*>(key_.get());
    std::string sig;
    std::size_t len = 0;
    if (alg_ == dkim::algorithm::ed25519_sha256) {
        // RFC 8463 3: PureEdDSA over the SHA-256 digest's 32 octets (no
        // digest inside EVP_DigestSign for Ed25519: one shot).
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
        if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey) != 1 ||
            EVP_DigestSign(ctx.get(), nullptr, &len, digest.data(), digest.size()) != 1)
            detail::throw_openssl_error("EVP_DigestSign(Ed25519)");
        sig.resize(len);
        if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, digest.data(),
                           digest.size()) != 1)
            detail::throw_openssl_error("EVP_DigestSign(Ed25519)");
    } else {
        // RSASSA-PKCS1-v1_5 with SHA-256 over the digest already made
        // (EVP_DigestSign would hash the data itself; the data was streamed).
        std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(pkey, nullptr),
                                                                         &EVP_PKEY_CTX_free);
        if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
            EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) != 1)
            detail::throw_openssl_error("EVP_PKEY_sign(RSA)");
        sig.resize(len);
        if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, digest.data(),
                          digest.size()) != 1)
            detail::throw_openssl_error("EVP_PKEY_sign(RSA)");
    }
    sig.resize(len);
    return sig;
}

SMTP_DECL std::string dkim_key::public_key_base64() const
{
    auto* pkey = static_cast<EVP_PKEY*>(key_.get());
    std::string raw;
    if (alg_ == dkim::algorithm::ed25519_sha256) {
        std::size_t len = 0;
        if (EVP_PKEY_get_raw_public_key(pkey, nullptr, &len) != 1)
            detail::throw_openssl_error("EVP_PKEY_get_raw_public_key");
        raw.resize(len);
        if (EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1)
            detail::throw_openssl_error("EVP_PKEY_get_raw_public_key");
        raw.resize(len);
    } else {
        const int len = i2d_PUBKEY(pkey, nullptr);
        if (len <= 0)
            detail::throw_openssl_error("i2d_PUBKEY");
        raw.resize(static_cast<std::size_t>(len));
        auto* p = reinterpret_cast<unsigned char*>(raw.data());
        if (i2d_PUBKEY(pkey, &p) != len)
            detail::throw_openssl_error("i2d_PUBKEY");
    }
    return base64::encode(raw);
}

SMTP_DECL std::string dkim_key::dns_record() const
{
    return std::string("v=DKIM1; k=") + (alg_ == dkim::algorithm::ed25519_sha256 ? "ed25519" : "rsa") +
           "; p=" + public_key_base64();
}

} // namespace crypto
SMTP_NAMESPACE_END

#endif

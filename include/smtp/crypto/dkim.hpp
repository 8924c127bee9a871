/// \file smtp/crypto/dkim.hpp
///
/// DKIM's crypto on OpenSSL 3: an incremental SHA-256 (crypto::sha256_stream,
/// a dkim::sha256_hash) and a signing key read from PEM (crypto::dkim_key):
/// RSA (rsa-sha256: PKCS#1 v1.5 over the SHA-256 digest, RFC 6376 3.3.1) or
/// Ed25519 (ed25519-sha256: PureEdDSA over the 32 octets of the SHA-256
/// digest, RFC 8463 3). The algorithm comes from the key.
///
/// The definitions are in smtp/crypto/impl/dkim.ipp (compiled once by
/// <smtp/src.hpp> in separate mode), so that this header reads no OpenSSL
/// header. Failures throw: std::invalid_argument for a key that cannot sign
/// (not PEM, not RSA or Ed25519, RSA under 1024 bits, RFC 8301 3.2), and
/// std::runtime_error with OpenSSL's error string for the rest.
#ifndef SMTP_CRYPTO_DKIM_HPP
#define SMTP_CRYPTO_DKIM_HPP

#include <smtp/protocol/dkim.hpp>
#include <smtp/version.hpp>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace crypto {

/// SHA-256, fed in pieces (EVP_MD_CTX). Move-only.
class sha256_stream {
public:
    sha256_stream();
    sha256_stream(sha256_stream&&) noexcept = default;
    sha256_stream& operator=(sha256_stream&&) noexcept = default;
    void update(std::string_view data);
    /// The digest; the object is then ready for a new input.
    std::array<unsigned char, 32> finish();

private:
    std::unique_ptr<void, void (*)(void*)> ctx_;
};

static_assert(dkim::sha256_hash<sha256_stream>);

/// A DKIM signing key. Copies share the key (it is never changed).
class dkim_key {
public:
    /// A private key in PEM ("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY"),
    /// not encrypted.
    static dkim_key from_pem(std::string_view pem);
    /// The same from a file.
    static dkim_key from_pem_file(const std::string& path);

    dkim::algorithm algorithm() const noexcept { return alg_; }
    /// RSA: the modulus' size; Ed25519: 256.
    int bits() const noexcept { return bits_; }
    /// The signature of a header digest (message_digest::header_digest()).
    std::string sign_digest(std::span<const unsigned char, 32> digest) const;
    /// p=: the public key in base64 (RSA: SubjectPublicKeyInfo DER; Ed25519:
    /// its 32 octets, RFC 8463 4).
    std::string public_key_base64() const;
    /// The TXT record to publish at SELECTOR._domainkey.DOMAIN:
    /// "v=DKIM1; k=rsa; p=..." or "v=DKIM1; k=ed25519; p=...".
    std::string dns_record() const;

private:
    dkim_key(std::shared_ptr<void> key, dkim::algorithm a, int bits) : key_(std::move(key)), alg_(a), bits_(bits) {}
    std::shared_ptr<void> key_; // EVP_PKEY
    dkim::algorithm alg_;
    int bits_;
};

} // namespace crypto
SMTP_NAMESPACE_END

#ifndef SMTP_SEPARATE_COMPILATION
#include <smtp/crypto/impl/dkim.ipp>
#endif

#endif

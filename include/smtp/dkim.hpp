/// \file smtp/dkim.hpp
///
/// DKIM signing (RFC 6376, RFC 8463), ready to use: a key from PEM, the
/// options, and a message in, the DKIM-Signature field out.
///
/// ```
///   smtp::dkim::sign_options o;
///   o.domain = "example.com";
///   o.selector = "mail2026";
///   const smtp::dkim::signer signer(smtp::crypto::dkim_key::from_pem_file("dkim.pem"), o);
///   std::string header = signer.sign(message);   // "DKIM-Signature: v=1; a=rsa-sha256; ...\r\n"
///   session.sendmail(from, to, header + message);
///   // or let the library do it: pool_options::sign = signer; session.send_all(messages, signer);
///   // a large file: signer.sign_source(smtp::file_message(path), ec) reads it twice, holds it never
/// ```
///
/// The algorithm is the key's (RSA: rsa-sha256, Ed25519: ed25519-sha256);
/// c=relaxed/relaxed, the headers of dkim::default_headers() with From, To
/// and Subject over-signed, t= now and no l= by default (dkim::sign_options).
/// docs/dkim.md says what is signed and how it was verified.
#ifndef SMTP_DKIM_HPP
#define SMTP_DKIM_HPP

#include <smtp/crypto/dkim.hpp>
#include <smtp/protocol/dkim.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/message_source.hpp>
#include <smtp/version.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

SMTP_NAMESPACE_BEGIN
namespace dkim {

/// A key and the options: signs any number of messages (const, so one
/// signer serves several threads).
class signer {
public:
    /// std::invalid_argument when the options cannot sign (options_problem()).
    signer(crypto::dkim_key key, sign_options options) : key_(std::move(key)), o_(std::move(options))
    {
        if (auto p = options_problem(o_); !p.empty())
            throw std::invalid_argument(p);
    }

    const crypto::dkim_key& key() const noexcept { return key_; }
    const sign_options& options() const noexcept { return o_; }
    dkim::algorithm algorithm() const noexcept { return key_.algorithm(); }

    /// The DKIM-Signature field (ending in CRLF) for `message`, to be put in
    /// front of it. errc::dkim_invalid_message (no From, a broken header
    /// line) or errc::header_block_too_long, and an empty string, when it
    /// cannot be signed.
    std::string sign(std::string_view message, error_code& ec) const
    {
        auto d = digest();
        d.update(message);
        return finish(d, ec);
    }
    /// The same; std::system_error instead of `ec`.
    std::string sign(std::string_view message) const
    {
        error_code ec;
        auto h = sign(message, ec);
        if (ec)
            throw std::system_error(ec, "DKIM");
        return h;
    }
    /// For message_signer (pool_options::sign, send_all).
    std::string operator()(std::string_view message) const { return sign(message); }

    /// The field for a message read from `source` to its end, then rewound
    /// (errc::empty_argument when it has no rewind or the rewind fails).
    /// The message is read in 64 KiB pieces and never held whole.
    std::string sign(message_source& source, error_code& ec) const
    {
        if (!source.read || !source.rewind) {
            ec = errc::empty_argument;
            return {};
        }
        auto d = digest();
        std::vector<char> buf(64 * 1024);
        for (;;) {
            const std::size_t n = source.read(buf.data(), buf.size());
            if (n == 0)
                break;
            d.update(std::string_view(buf.data(), n));
        }
        std::string h = finish(d, ec);
        if (!ec && !source.rewind()) {
            ec = errc::empty_argument;
            h.clear();
        }
        return h;
    }

    /// The signed message as a source: the field, then `source`'s bytes. The
    /// first pass (the hash) is made here; the message is read again as it
    /// is sent. Rewinding the result rewinds `source`.
    message_source sign_source(message_source source, error_code& ec) const
    {
        std::string h = sign(source, ec);
        if (ec)
            return {};
        struct state {
            std::string header;
            std::size_t at = 0;
            message_source inner;
        };
        auto st = std::make_shared<state>(state{std::move(h), 0, std::move(source)});
        message_source out;
        out.read = [st](char* buf, std::size_t n) -> std::size_t {
            if (st->at < st->header.size()) {
                const std::size_t k = std::min(n, st->header.size() - st->at);
                st->header.copy(buf, k, st->at);
                st->at += k;
                return k;
            }
            return st->inner.read(buf, n);
        };
        out.rewind = [st] {
            st->at = 0;
            return st->inner.rewind();
        };
        return out;
    }

private:
    message_digest<crypto::sha256_stream> digest() const { return {o_, key_.algorithm()}; }
    std::string finish(message_digest<crypto::sha256_stream>& d, error_code& ec) const
    {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        ec = d.finish(static_cast<std::int64_t>(now));
        if (ec)
            return {};
        return d.signature_header(key_.sign_digest(d.header_digest()));
    }

    crypto::dkim_key key_;
    sign_options o_;
};

/// `message` with its DKIM-Signature field in front (one copy of it).
inline std::string signed_message(const signer& s, std::string_view message)
{
    std::string out = s.sign(message);
    out += message;
    return out;
}

} // namespace dkim
SMTP_NAMESPACE_END

#endif

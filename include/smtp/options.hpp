/// \file smtp/options.hpp
///
/// What a session needs at run time: where to connect, how to name itself,
/// how TLS is set up (which CA to trust, a client certificate, pins), and how
/// long each phase may take. No OpenSSL or Asio header here: the TLS layer
/// (smtp/transport/tls_layer.hpp) reads tls_options.
#ifndef SMTP_OPTIONS_HPP
#define SMTP_OPTIONS_HPP

#include <smtp/protocol/dane.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/protocol/transaction.hpp>
#include <smtp/secret.hpp>
#include <smtp/version.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

/// OpenSSL's SSL_CTX, as tls_options::context_hook receives it (the hook's
/// code includes <openssl/ssl.h>; this header does not).
struct ssl_ctx_st;

SMTP_NAMESPACE_BEGIN

class tls_session_cache; // smtp/tls_session_cache.hpp

/// The oldest TLS version the client accepts.
enum class tls_version {
    v1_2, ///< TLS 1.2 or 1.3 (RFC 8996, 8997: nothing older)
    v1_3, ///< TLS 1.3 only
};

/// How the client sets up TLS (STARTTLS and implicit TLS alike). Whether TLS
/// is used and whether the certificate is checked are policies
/// (tls::starttls, tls::verify_peer, ...); these are the run-time details.
/// Every file is PEM. Anything wrong here (a file that cannot be read, a key
/// that does not open with its passphrase or does not match the certificate,
/// a pin that is neither hex nor base64 of 32 bytes, a cipher list OpenSSL
/// refuses) is an error of smtp::tls_errc when the connection is opened,
/// before a byte is written; never a silent fallback.
struct tls_options {
    /// PEM file of trusted CAs; empty: the system's trust store.
    std::string ca_file{};
    /// A client certificate to present when the server asks for one: a PEM
    /// file with the certificate (and its chain after it); empty: none.
    std::string cert_file{};
    /// The certificate's private key (PEM); empty: in cert_file.
    std::string key_file{};
    /// The passphrase of an encrypted key (never read from a terminal); an
    /// smtp::secret, wiped when the options go.
    secret key_passphrase{};
    /// The oldest TLS version accepted.
    tls_version min_version = tls_version::v1_2;
    /// TLS 1.2 cipher list in OpenSSL's syntax ("ECDHE+AESGCM"); empty: OpenSSL's default.
    std::string ciphers{};
    /// TLS 1.3 ciphersuites in OpenSSL's syntax ("TLS_AES_256_GCM_SHA384"); empty: OpenSSL's default.
    std::string ciphersuites{};
    /// Public-key pins: SHA-256 digests of the server certificate's
    /// SubjectPublicKeyInfo, each as 64 hex digits or as base64 (optionally
    /// after "sha256//", as curl writes them). When there are any, the
    /// server's certificate must match one of them, or the handshake fails
    /// (tls_errc::pin_mismatch) before any command is sent. Pins are checked
    /// in addition to the chain and host name under tls::verify_peer; under
    /// tls::insecure_no_verify they are the only check (a server known by its
    /// key alone).
    std::vector<std::string> pin_sha256{};
    /// Called with the SSL_CTX once this library has set it up, before the
    /// handshake: for anything else OpenSSL offers (a verify callback, a
    /// session cache, an engine key). Setting `ec` fails the handshake with it.
    std::function<void(ssl_ctx_st* ctx, error_code& ec)> context_hook{};
    /// TLS session resumption: a connection offers a session it got from
    /// the same server (host name and port) under the same settings (the
    /// verify policy and every field above but the passphrase and the
    /// hook), and keeps the sessions the server gives it; a resumed
    /// handshake skips the certificate exchange and the key signing. False:
    /// never offered, never kept.
    bool resume_sessions = true;
    /// Where the sessions are kept (smtp::tls_session_cache): one shared by
    /// the sessions that name it. Empty: a pool's own cache in a pool;
    /// otherwise the process-wide tls_session_cache::process_default(),
    /// unless context_hook is set (what a hook changes is not in the key:
    /// then only a cache named here is used).
    std::shared_ptr<tls_session_cache> session_cache{};
    /// DANE (RFC 7672): the TLSA records of the server and the names a
    /// DANE-TA certificate must carry (smtp/protocol/dane.hpp; what
    /// dane::decide() gives for a host). mode::authenticate replaces the
    /// chain to the trust store and the host name check by the records;
    /// mode::encrypt_only makes TLS mandatory without checking the
    /// certificate; both refuse a TLS policy that allows clear text
    /// (errc::dane_in_clear), and sessions are not resumed.
    dane::tls_settings dane{};
};

/// Per-phase time limits, RFC 5321 4.5.3.2's by default. Each limit covers
/// the whole phase (a server that sends one byte a minute is cut off at the
/// deadline, not at each read).
struct timeouts {
    std::chrono::milliseconds connect = std::chrono::minutes(1);   ///< resolve, TCP, TLS handshake
    std::chrono::milliseconds greeting = std::chrono::minutes(5);  ///< the 220 (4.5.3.2.1)
    std::chrono::milliseconds command = std::chrono::minutes(5);   ///< EHLO, AUTH, VRFY, NOOP, ...
    std::chrono::milliseconds mail = std::chrono::minutes(5);      ///< MAIL (4.5.3.2.2)
    std::chrono::milliseconds rcpt = std::chrono::minutes(5);      ///< RCPT (4.5.3.2.3)
    std::chrono::milliseconds data_init = std::chrono::minutes(2); ///< DATA's 354 (4.5.3.2.4)
    std::chrono::milliseconds data_block = std::chrono::minutes(3); ///< each write of data (4.5.3.2.5)
    std::chrono::milliseconds data_term = std::chrono::minutes(10); ///< the reply to the final dot (4.5.3.2.6)
};

struct connect_options {
    std::string host = "localhost";
    std::uint16_t port = 25;
    /// The name given in EHLO/HELO; empty: this machine's host name when it
    /// is a valid domain, else "localhost".
    std::string local_name{};
    /// TLS: the CA file, a client certificate, the minimum version, pins.
    tls_options tls{};
    /// Local address to connect from; empty: any.
    std::string source_address{};
    smtp::timeouts timeouts{};
    reply_limits limits{};
    /// Most 334 challenges one AUTH exchange may take.
    unsigned max_auth_challenges = 8;
    /// How transactions may use the wire: PIPELINING and CHUNKING when the
    /// server offers them (both on by default), BDAT chunk size, bare CR/LF
    /// handling (smtp/protocol/transaction.hpp).
    transaction_settings transactions{};
};

SMTP_NAMESPACE_END

#endif

// smtp/transport/tls_layer.hpp
//
// TLS over any stream transport, in one place. transport::tls_layer<Stream>
// is what the session talks to when its transport policy is a stream
// (transport::tcp, transport::unix_socket, a proxy, a user's stream): it
// connects through the stream, and switches TLS on over that same connected
// stream when the session asks (STARTTLS, or implicit TLS right after the
// connect). Before that, bytes pass through untouched.
//
// TLS as a client: TLS 1.2 or later; the peer's chain checked against the
// system trust store or tls_options::ca_file; the host name
// (connect_options::host) checked against the certificate's subjectAltName by
// OpenSSL's X509_check_host rules (RFC 6125/7817; no partial wildcards), or
// the IP address when the host is one; SNI sent for names only (RFC 6066 3).
// A failed certificate check says which check failed (x509_category()).
//
// Resumption (tls_options::resume_sessions, on by default): the handshake
// offers a session this client got from the same host name and port under
// the same settings (smtp/tls_session_cache.hpp says what the key holds),
// and keeps what the server gives (OpenSSL's new-session callback: TLS 1.3
// tickets arrive after the handshake). A resumed handshake carries the
// first one's verification result; it is checked again here, and so are the
// pins, against the certificate the session remembers.
//
// connect_options::tls (tls_options) adds a client certificate, TLS 1.3 as
// the minimum, cipher lists, public-key pins and a hook on the SSL_CTX. Its
// files and pins are checked when the connection opens, before a byte is
// written (smtp::tls_errc); the pins again in the handshake, at the server's
// certificate, so that a mismatch ends the handshake before any command.
//
// The TLS itself is detail::tls_stream (transport/detail/tls_stream.hpp):
// OpenSSL over the library's own BIO, which holds ciphertext only while it
// is in flight (an idle session holds none; Asio's ssl::stream held 68 KiB).
// Under it, detail::tls_next_layer keeps, while the handshake runs, the
// first bytes the server sent (handshake_bytes()): a plain greeting or an
// SSH banner, where OpenSSL only says "wrong version number".
/// \file smtp/transport/tls_layer.hpp
/// transport::tls_layer<Stream>: TLS (STARTTLS and implicit) over any stream
/// transport; the session runs over it when its transport policy is a
/// stream. The header's opening comment (in the source) says how TLS is checked.
#ifndef SMTP_TRANSPORT_TLS_LAYER_HPP
#define SMTP_TRANSPORT_TLS_LAYER_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/cancellation.hpp>
#include <smtp/detail/blocking_io.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/dane.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/tls_session_cache.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/transport/detail/tls_stream.hpp>
#include <smtp/version.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/associated_cancellation_slot.hpp>
#endif

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// What is wrong with connect_options::tls (tls_options), or the pin check
/// that failed: errors of the TLS layer that are not OpenSSL's.
enum class tls_errc {
    ca_file_unreadable = 1, ///< tls_options::ca_file cannot be opened or holds no PEM certificate
    cert_file_unreadable,   ///< tls_options::cert_file cannot be opened
    client_cert_invalid,    ///< tls_options::cert_file holds no PEM certificate
    key_without_cert,       ///< tls_options::key_file without a cert_file
    key_file_unreadable,    ///< the key file (key_file, or cert_file when it is empty) cannot be opened
    client_key_invalid,     ///< the key file holds no PEM private key
    key_passphrase_wrong,   ///< the key is encrypted and tls_options::key_passphrase does not open it
    key_cert_mismatch,      ///< the private key is not the client certificate's
    bad_pin,                ///< a pin is neither 64 hex digits nor the base64 of a SHA-256 digest
    pin_mismatch,           ///< the server's public key matches none of tls_options::pin_sha256
    bad_cipher_list,        ///< OpenSSL accepts none of tls_options::ciphers
    bad_ciphersuites,       ///< OpenSSL accepts none of tls_options::ciphersuites
    dane_records_unused,    ///< tls_options::dane has TLSA records but its mode is dane::mode::off
    dane_no_usable_record,  ///< dane::mode::authenticate without a TLSA record usable for SMTP (RFC 7672 3.1)
    dane_bad_name,          ///< a name in tls_options::dane.names (or, without one, the host) is not a host name
    dane_mismatch,          ///< the server's certificate chain matches none of the usable TLSA records
    dane_name_mismatch,     ///< a DANE-TA record matched but the certificate names none of tls_options::dane.names
};

namespace detail {
class tls_errc_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "smtp.tls"; }
    std::string message(int ev) const override
    {
        switch (static_cast<tls_errc>(ev)) {
        case tls_errc::ca_file_unreadable:
            return "the CA file (tls_options::ca_file) cannot be read as PEM certificates";
        case tls_errc::cert_file_unreadable: return "the client certificate file (tls_options::cert_file) cannot be opened";
        case tls_errc::client_cert_invalid:
            return "the client certificate file (tls_options::cert_file) holds no PEM certificate";
        case tls_errc::key_without_cert:
            return "a client key (tls_options::key_file) without a client certificate (tls_options::cert_file)";
        case tls_errc::key_file_unreadable: return "the client key file (tls_options::key_file) cannot be opened";
        case tls_errc::client_key_invalid: return "the client key file holds no PEM private key";
        case tls_errc::key_passphrase_wrong:
            return "the client key is encrypted and tls_options::key_passphrase does not open it";
        case tls_errc::key_cert_mismatch: return "the client key does not belong to the client certificate";
        case tls_errc::bad_pin:
            return "a pin in tls_options::pin_sha256 is neither 64 hex digits nor the base64 of a SHA-256 digest";
        case tls_errc::pin_mismatch:
            return "the server's public key matches none of the pins (tls_options::pin_sha256)";
        case tls_errc::bad_cipher_list: return "OpenSSL accepts none of the TLS 1.2 ciphers in tls_options::ciphers";
        case tls_errc::bad_ciphersuites:
            return "OpenSSL accepts none of the TLS 1.3 ciphersuites in tls_options::ciphersuites";
        case tls_errc::dane_records_unused:
            return "tls_options::dane has TLSA records but its mode is off: they would not be used";
        case tls_errc::dane_no_usable_record:
            return "DANE authentication (tls_options::dane) without a TLSA record usable for SMTP: DANE-TA(2) or "
                   "DANE-EE(3), a known selector and matching type, data of the right length (RFC 7672 3.1)";
        case tls_errc::dane_bad_name:
            return "DANE: a name in tls_options::dane.names (or the host, when there is none) is not a host name";
        case tls_errc::dane_mismatch:
            return "DANE: the server's certificate matches none of the TLSA records (tls_options::dane)";
        case tls_errc::dane_name_mismatch:
            return "DANE: a DANE-TA record matched the server's chain but its certificate names none of the "
                   "reference identifiers (tls_options::dane.names)";
        }
        return "unknown TLS option error";
    }
};
} // namespace detail

/// The category of smtp::tls_errc.
inline const boost::system::error_category& tls_error_category() noexcept
{
    static const detail::tls_errc_category_impl cat;
    return cat;
}
inline error_code make_error_code(tls_errc e) noexcept { return {static_cast<int>(e), tls_error_category()}; }

namespace detail {

/// The base of a handler that wraps the caller's `h`: it passes on h's
/// associated allocator and cancellation slot, as an unwrapped handler
/// would (the wrapper says its executor itself).
template <class Handler>
struct passes_on_associations {
    Handler h;

    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept { return boost::asio::get_associated_allocator(h); }
#if SMTP_HAS_CANCELLATION
    using cancellation_slot_type = boost::asio::associated_cancellation_slot_t<Handler>;
    cancellation_slot_type get_cancellation_slot() const noexcept
    {
        return boost::asio::get_associated_cancellation_slot(h);
    }
#endif
};

class x509_error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "x509"; }
    std::string message(int ev) const override { return X509_verify_cert_error_string(ev); }
};

/// The first non-empty buffer of a sequence (an empty one when all are):
/// a stream transport reads and writes one buffer at a time.
template <class Buffer, class Buffers>
Buffer first_buffer(const Buffers& b)
{
    const auto end = boost::asio::buffer_sequence_end(b);
    for (auto it = boost::asio::buffer_sequence_begin(b); it != end; ++it) {
        Buffer one(*it);
        if (one.size() != 0)
            return one;
    }
    return Buffer{};
}

/// A stream transport as the TLS stream's next layer: reads and writes of
/// buffer sequences. While it records, it keeps the first bytes it reads:
/// what the server sent instead of a ServerHello, when that was not TLS.
template <class Stream>
class tls_next_layer {
public:
    using executor_type = typename Stream::executor_type;
    static constexpr std::size_t kept = 64;

    template <class... A>
    explicit tls_next_layer(std::in_place_t, A&&... a) : s_(std::forward<A>(a)...)
    {}

    executor_type get_executor() { return s_.get_executor(); }
    Stream& stream() noexcept { return s_; }
    const Stream& stream() const noexcept { return s_; }

    void record(bool on)
    {
        recording_ = on;
        if (on)
            first_.clear();
    }
    std::string_view first_bytes() const noexcept { return first_; }

    template <class Buffers, class Handler>
    void async_read_some(const Buffers& b, Handler&& h)
    {
        const auto into = first_buffer<boost::asio::mutable_buffer>(b);
        if (!recording_ || first_.size() >= kept)
            return s_.async_read_some(into, std::forward<Handler>(h));
        s_.async_read_some(into, keeping<std::decay_t<Handler>>{{std::forward<Handler>(h)}, this, into});
    }
    template <class Buffers, class Handler>
    void async_write_some(const Buffers& b, Handler&& h)
    {
        s_.async_write_some(first_buffer<boost::asio::const_buffer>(b), std::forward<Handler>(h));
    }

private:
    /// The read's handler with the bytes kept first; the handler's executor
    /// and allocator are its own.
    template <class Handler>
    struct keeping : passes_on_associations<Handler> {
        using passes_on_associations<Handler>::h;
        tls_next_layer* self;
        boost::asio::mutable_buffer into;

        using executor_type = boost::asio::associated_executor_t<Handler, typename Stream::executor_type>;
        executor_type get_executor() const noexcept
        {
            return boost::asio::get_associated_executor(h, self->s_.get_executor());
        }

        void operator()(error_code ec, std::size_t n)
        {
            const std::size_t take = std::min({n, into.size(), kept - std::min(kept, self->first_.size())});
            self->first_.append(static_cast<const char*>(into.data()), take);
            std::move(h)(ec, n);
        }
        friend bool asio_handler_is_continuation(keeping* k)
        {
            return boost_asio_handler_cont_helpers::is_continuation(k->h);
        }
    };

    Stream s_;
    bool recording_ = false;
    std::string first_{};
};

using spki_digest = std::array<unsigned char, 32>;

/// A pin as tls_options::pin_sha256 has it: 64 hex digits, or base64 of 32
/// bytes, either after an optional "sha256//".
inline bool parse_pin(std::string_view pin, spki_digest& out)
{
    if (pin.starts_with("sha256//"))
        pin.remove_prefix(8);
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    if (pin.size() == 64 && std::all_of(pin.begin(), pin.end(), [&](char c) { return hex(c) >= 0; })) {
        for (std::size_t i = 0; i < 32; ++i)
            out[i] = static_cast<unsigned char>(hex(pin[2 * i]) * 16 + hex(pin[2 * i + 1]));
        return true;
    }
    std::string bytes;
    error_code ec;
    base64::decode(pin, bytes, ec);
    if (ec || bytes.size() != out.size())
        return false;
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return true;
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (DER): what a pin names.
inline bool spki_sha256(X509* cert, spki_digest& out)
{
    X509_PUBKEY* key = cert ? X509_get_X509_PUBKEY(cert) : nullptr;
    const int len = key ? i2d_X509_PUBKEY(key, nullptr) : 0;
    if (len <= 0)
        return false;
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_X509_PUBKEY(key, &p) != len)
        return false;
    unsigned int n = 0;
    return EVP_Digest(der.data(), der.size(), out.data(), &n, EVP_sha256(), nullptr) == 1 && n == out.size();
}

/// Everything a handshake needs from tls_options: the client context and
/// the pins. Set up once per connection, or once per tls_session_cache and
/// settings when a cache is used (then its connections share it: the
/// system's trust store alone is most of a megabyte, and reading it costs
/// milliseconds). Nothing in it changes once a handshake has used it.
struct tls_setup {
    boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_client};
    std::vector<spki_digest> pins{};
    bool verify = true;        ///< the chain and the host are checked (tls::verify_peer), or DANE authenticates
    bool default_paths = true; ///< no ca_file: the system's store, loaded at the handshake
    dane::mode dane = dane::mode::off; ///< tls_options::dane's mode
};

/// What one connection's handshake checks and keeps: the pin check's view of
/// the server's key, and where its sessions go.
struct tls_check {
    std::shared_ptr<tls_setup> setup;
    std::shared_ptr<tls_session_cache> cache{}; ///< where sessions are kept and found (resumption on)
    std::string cache_key{};                    ///< this server and these settings (tls_session_cache::key_of)
    bool pin_seen = false;                      ///< the pin check saw the server's certificate
    bool pin_failed = false;                    ///< and it matched none
    spki_digest server_key{};                   ///< the server certificate's SPKI digest, once seen

    bool pin_matches(X509* cert)
    {
        pin_seen = spki_sha256(cert, server_key);
        return pin_seen && std::find(setup->pins.begin(), setup->pins.end(), server_key) != setup->pins.end();
    }
};

inline bool readable(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    return f.good();
}

/// Whether a PEM file holds an encrypted key (PKCS#8 or the older Proc-Type header).
inline bool holds_encrypted_key(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    for (std::string line; std::getline(f, line);)
        if (line.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") || line.starts_with("Proc-Type: 4,ENCRYPTED"))
            return true;
    return false;
}

/// The passphrase callback: never a terminal prompt; notes that the key was encrypted.
struct passphrase_source {
    std::string_view passphrase;
    bool asked = false;
};
inline int give_passphrase(char* buf, int size, int, void* user)
{
    auto* src = static_cast<passphrase_source*>(user);
    if (!src)
        return 0;
    src->asked = true;
    const std::size_t n = src->passphrase.size();
    if (size < 0 || n > static_cast<std::size_t>(size))
        return 0;
    std::copy(src->passphrase.begin(), src->passphrase.end(), buf);
    return static_cast<int>(n);
}

/// Whether tls_options asks for anything beyond the defaults (then it is
/// checked when the connection opens, before a byte is written).
inline bool tls_options_set(const tls_options& t)
{
    return !t.ca_file.empty() || !t.cert_file.empty() || !t.key_file.empty() || !t.pin_sha256.empty() ||
           !t.ciphers.empty() || !t.ciphersuites.empty() || t.min_version != tls_version::v1_2 ||
           t.dane.mode != dane::mode::off || !t.dane.records.empty();
}

/// tls_options::dane's own problems as tls_errc (dane::settings_problem()).
inline error_code dane_settings_error(const dane::tls_settings& d)
{
    switch (dane::settings_problem(d)) {
    case dane::problem::none: return {};
    case dane::problem::records_without_mode: return make_error_code(tls_errc::dane_records_unused);
    case dane::problem::no_usable_record: return make_error_code(tls_errc::dane_no_usable_record);
    case dane::problem::bad_name: return make_error_code(tls_errc::dane_bad_name);
    }
    return make_error_code(tls_errc::dane_bad_name);
}

/// The client context from tls_options, every option checked: TLS 1.2 (or
/// 1.3) minimum, the CA file, the client certificate and key, the ciphers,
/// the pins. The verification mode, the system's store and the hook come
/// at the handshake (finish_tls_setup).
inline std::unique_ptr<tls_setup> prepare_tls(const tls_options& t, error_code& ec)
{
    namespace ssl = boost::asio::ssl;
    ec = {};
    auto fail = [&](tls_errc e) {
        ERR_clear_error();
        ec = make_error_code(e);
        return std::unique_ptr<tls_setup>{};
    };
    if (const error_code dane_ec = dane_settings_error(t.dane)) {
        ec = dane_ec;
        return nullptr;
    }
    auto st = std::make_unique<tls_setup>();
    st->dane = t.dane.mode;
    for (const auto& pin : t.pin_sha256) {
        spki_digest d{};
        if (!parse_pin(pin, d))
            return fail(tls_errc::bad_pin);
        st->pins.push_back(d);
    }
    SSL_CTX* ctx = st->ctx.native_handle();
    SSL_CTX_set_min_proto_version(ctx, t.min_version == tls_version::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    st->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    // A key is never asked for on a terminal: no passphrase is an empty one.
    SSL_CTX_set_default_passwd_cb(ctx, give_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    if (!t.ca_file.empty()) {
        st->default_paths = false;
        if (!readable(t.ca_file) || SSL_CTX_load_verify_locations(ctx, t.ca_file.c_str(), nullptr) != 1)
            return fail(tls_errc::ca_file_unreadable);
    }
    if (!t.key_file.empty() && t.cert_file.empty())
        return fail(tls_errc::key_without_cert);
    if (!t.cert_file.empty()) {
        if (!readable(t.cert_file))
            return fail(tls_errc::cert_file_unreadable);
        if (SSL_CTX_use_certificate_chain_file(ctx, t.cert_file.c_str()) != 1)
            return fail(tls_errc::client_cert_invalid);
        const std::string& key = t.key_file.empty() ? t.cert_file : t.key_file;
        if (!readable(key))
            return fail(tls_errc::key_file_unreadable);
        passphrase_source src{t.key_passphrase.view()};
        EVP_PKEY* pkey = nullptr;
        if (BIO* bio = BIO_new_file(key.c_str(), "r")) {
            pkey = PEM_read_bio_PrivateKey(bio, nullptr, give_passphrase, &src);
            BIO_free(bio);
        }
        if (!pkey)
            return fail(src.asked || holds_encrypted_key(key) ? tls_errc::key_passphrase_wrong
                                                              : tls_errc::client_key_invalid);
        const int ok = SSL_CTX_use_PrivateKey(ctx, pkey);
        EVP_PKEY_free(pkey);
        if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1)
            return fail(tls_errc::key_cert_mismatch);
    }
    if (!t.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, t.ciphers.c_str()) != 1)
        return fail(tls_errc::bad_cipher_list);
    if (!t.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, t.ciphersuites.c_str()) != 1)
        return fail(tls_errc::bad_ciphersuites);
    // DANE: the context's digests for the records (SHA2-256, SHA2-512); the
    // records themselves go on each connection (start_tls).
    if (st->dane == dane::mode::authenticate && SSL_CTX_dane_enable(ctx) <= 0) {
        ERR_clear_error();
        ec = boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::unspecified_system_error);
        return nullptr;
    }
    return st;
}

/// Where a connection's tls_check hangs on its SSL.
inline int tls_setup_index()
{
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

/// The pin check inside the handshake, at the server's certificate (depth
/// 0): a mismatch stops the handshake there. Under tls::insecure_no_verify
/// the chain's own errors are let through: the pin is the check.
inline int verify_with_pins(int preverify_ok, X509_STORE_CTX* store)
{
    SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* st = ssl ? static_cast<tls_check*>(SSL_get_ex_data(ssl, tls_setup_index())) : nullptr;
    if (!st)
        return preverify_ok;
    if (st->setup->verify && !preverify_ok)
        return 0;
    if (X509_STORE_CTX_get_error_depth(store) != 0)
        return 1;
    if (st->pin_matches(X509_STORE_CTX_get_current_cert(store)))
        return 1;
    st->pin_failed = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/// A session the server gave (at the end of a TLS 1.2 handshake; a TLS 1.3
/// ticket after it, read with the first reply): a copy into the
/// connection's cache, unless its pin check failed. A copy, because the
/// connection keeps using its own, and OpenSSL marks that one not
/// resumable when the connection ends without a TLS close_notify.
inline int keep_new_session(SSL* ssl, SSL_SESSION* session)
{
    auto* st = static_cast<tls_check*>(SSL_get_ex_data(ssl, tls_setup_index()));
    if (!st || !st->cache || st->pin_failed)
        return 0;
    if (SSL_SESSION* copy = SSL_SESSION_dup(session))
        st->cache->put(st->cache_key, copy);
    return 0; // the connection keeps its reference
}

/// The cache a connection uses: the one named, else (no hook) the process's.
inline std::shared_ptr<tls_session_cache> session_cache_for(const tls_options& t)
{
    // Not under DANE: the cache's key does not hold the TLSA records, and a
    // resumed session brings no certificate to match against them.
    if (!t.resume_sessions || t.dane.mode != dane::mode::off)
        return nullptr;
    if (t.session_cache)
        return t.session_cache;
    return t.context_hook ? nullptr : tls_session_cache::process_default();
}

/// Whether this OpenSSL's SSL_free_buffers checks for a half-read record
/// (CVE-2024-4741: fixed in 3.0.14, 3.1.6, 3.2.2, 3.3.1; a build that
/// backports the fix without the version keeps its buffers, which is safe).
inline bool free_buffers_is_safe()
{
    static const bool safe = [] {
        const unsigned long v = OpenSSL_version_num(); // 0xMNN00PP0
        const unsigned long major = v >> 28, minor = (v >> 20) & 0xff, patch = (v >> 4) & 0xff;
        if (major != 3)
            return major > 3;
        switch (minor) {
        case 0: return patch >= 14;
        case 1: return patch >= 6;
        case 2: return patch >= 2;
        case 3: return patch >= 1;
        default: return true;
        }
    }();
    return safe;
}

/// What tls_session_cache keeps for the TLS layer: the contexts its
/// connections share, one per set of settings.
struct tls_context_access {
    static std::shared_ptr<tls_setup> find(tls_session_cache& c, const std::string& settings)
    {
        return std::static_pointer_cast<tls_setup>(c.context(settings));
    }
    static void keep(tls_session_cache& c, const std::string& settings, std::shared_ptr<tls_setup> setup)
    {
        c.keep_context(settings, std::move(setup));
    }
};

/// Whether a cache already keeps a context made from these options (then
/// they were checked when it was made, and need not be at the connect).
inline bool context_kept(const tls_options& t)
{
    const auto cache = session_cache_for(t);
    return cache && (tls_context_access::find(*cache, tls_session_cache::settings_key(t, true)) ||
                     tls_context_access::find(*cache, tls_session_cache::settings_key(t, false)));
}

/// The rest of the set-up, at the handshake: what is verified, the system's
/// store when it is needed, resumption (`resume`: sessions are kept), then
/// the user's hook.
inline void finish_tls_setup(tls_setup& st, const tls_options& t, bool verify, bool resume, error_code& ec)
{
    SSL_CTX* ctx = st.ctx.native_handle();
    // DANE decides instead of the verify policy: authenticate checks the
    // records (no trust store: DANE-TA/EE replace PKIX), encrypt_only
    // checks nothing (RFC 7672 2.2).
    const bool pkix = verify && st.dane == dane::mode::off;
    verify = pkix || st.dane == dane::mode::authenticate;
    st.verify = verify;
    if (resume) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, keep_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET); // TLS 1.2: ask for no ticket either
    }
    const bool check = verify || !st.pins.empty();
    SSL_CTX_set_verify(ctx, check ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, st.pins.empty() ? nullptr : verify_with_pins);
    if (pkix && st.default_paths && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ERR_clear_error();
        ec = boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::unspecified_system_error);
        return;
    }
    if (t.context_hook)
        t.context_hook(ctx, ec);
}

/// The host check and SNI on one connection.
inline void set_tls_peer_name(SSL* handle, const connect_options& o, bool verify, error_code& ec)
{
    error_code addr_ec; // set when the host is a name, not an address
    (void)boost::asio::ip::make_address(o.host, addr_ec);
    if (verify) {
        X509_VERIFY_PARAM* param = SSL_get0_param(handle);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        const int ok = addr_ec ? X509_VERIFY_PARAM_set1_host(param, o.host.c_str(), o.host.size())
                               : X509_VERIFY_PARAM_set1_ip_asc(param, o.host.c_str());
        if (ok != 1) {
            ec = boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::unspecified_system_error);
            return;
        }
    }
    if (addr_ec && SSL_set_tlsext_host_name(handle, o.host.c_str()) != 1) // SNI: names, never addresses
        ec = boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::unspecified_system_error);
}

/// Whether `host` is a host name DANE can check (not an address).
inline bool is_host_name(const std::string& host)
{
    error_code addr_ec; // set when it is not an address
    (void)boost::asio::ip::make_address(host, addr_ec);
    return addr_ec && dane::valid_name(host);
}

/// DANE on one connection, instead of set_tls_peer_name. authenticate: the
/// TLSA base domain (the first name, else the host) as the reference
/// identifier and the SNI name (RFC 7672 8.1), the other names beside it
/// (3.2.2), no name check for DANE-EE (3.1.1), the usable records (those
/// OpenSSL cannot parse are unusable too, 2.2). encrypt_only: SNI only.
inline void set_dane(SSL* handle, const connect_options& o, error_code& ec)
{
    const auto& d = o.tls.dane;
    const std::string& base = d.names.empty() ? o.host : d.names.front();
    const bool is_name = is_host_name(base);
    auto failed = [&] {
        ERR_clear_error();
        ec = boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::unspecified_system_error);
    };
    if (d.mode == dane::mode::encrypt_only) {
        if (is_name && SSL_set_tlsext_host_name(handle, base.c_str()) != 1)
            failed();
        return;
    }
    if (!is_name) { // the base domain is where the records were found: a name
        ec = make_error_code(tls_errc::dane_bad_name);
        return;
    }
    if (SSL_dane_enable(handle, base.c_str()) <= 0)
        return failed();
    (void)SSL_dane_set_flags(handle, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    SSL_set_hostflags(handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    for (std::size_t i = 1; i < d.names.size(); ++i)
        if (SSL_add1_host(handle, d.names[i].c_str()) != 1)
            return failed();
    int added = 0;
    for (const auto& r : d.records) {
        if (!dane::usable(r))
            continue;
        if (SSL_dane_tlsa_add(handle, r.usage, r.selector, r.matching_type, r.data.data(), r.data.size()) > 0)
            ++added;
        else
            ERR_clear_error();
    }
    if (added == 0)
        ec = make_error_code(tls_errc::dane_no_usable_record);
}
} // namespace detail

/// The category of certificate verification failures: the values are
/// OpenSSL's X509_V_ERR_* (X509_V_ERR_CERT_HAS_EXPIRED,
/// X509_V_ERR_HOSTNAME_MISMATCH, ...), the messages OpenSSL's.
inline const boost::system::error_category& x509_category() noexcept
{
    static const detail::x509_error_category cat;
    return cat;
}

namespace transport {

/// TLS over a stream transport: a session transport. Constructed as
/// `tls_layer<Stream>(executor, args...)`, which constructs
/// `Stream(executor, args...)`. Until async_handshake, bytes pass through to
/// the stream; after it, they go through TLS over that same stream.
template <class Stream>
class tls_layer {
    static_assert(stream_transport<Stream>,
                  "smtp::transport::tls_layer<Stream>: Stream must satisfy smtp::transport::stream_transport: "
                  "executor_type, get_executor(), async_connect(options, h), async_read_some(buffer, h), "
                  "async_write_some(buffer, h), cancel(), close(), and a move constructor");

public:
    using policy_category = transport_category;
    using executor_type = typename Stream::executor_type;
    using next_layer_type = Stream;

    template <class... A>
        requires std::constructible_from<Stream, executor_type, A...>
    explicit tls_layer(executor_type ex, A&&... a)
        : plain_(std::in_place, std::in_place, std::move(ex), std::forward<A>(a)...)
    {}
    /// Over a stream made elsewhere (not yet connected: a pool's transport_factory).
    explicit tls_layer(Stream s) : plain_(std::in_place, std::in_place, std::move(s)) {}

    executor_type get_executor() { return next_layer().get_executor(); }
    /// True once a TLS handshake has succeeded on this connection.
    bool encrypted() const noexcept { return tls_ && handshaken_; }

    /// The stream under TLS.
    Stream& next_layer() noexcept { return tls_ ? tls_->stream.next_layer().stream() : plain_->stream(); }
    const Stream& next_layer() const noexcept { return tls_ ? tls_->stream.next_layer().stream() : plain_->stream(); }

    /// Connects the stream (in clear: TLS starts with async_handshake).
    /// connect_options::tls is checked first, when it asks for more than the
    /// defaults (a file that cannot be read, a bad pin: smtp::tls_errc),
    /// before a byte is written. Handler: void(error_code).
    template <class Handler>
    void async_connect(const connect_options& o, Handler&& handler)
    {
        if (tls_) { // a new connection: the stream comes back out of the TLS of the last one
            plain_.emplace(std::in_place, std::move(tls_->stream.next_layer().stream()));
            tls_.reset();
            handshaken_ = resumed_ = false;
        }
        dane_match_.reset();
        prepared_.reset();
        if (detail::tls_options_set(o.tls) && !detail::context_kept(o.tls)) {
            error_code ec;
            prepared_ = detail::prepare_tls(o.tls, ec);
            if (ec)
                return complete_later(std::forward<Handler>(handler), ec);
        }
        if (o.tls.dane.mode == dane::mode::authenticate && o.tls.dane.names.empty() && !detail::is_host_name(o.host))
            return complete_later(std::forward<Handler>(handler), make_error_code(tls_errc::dane_bad_name));
        plain_->stream().async_connect(o, std::forward<Handler>(handler));
    }

    /// What the stream says of its last connect, when it says it.
    decltype(auto) connect_attempts() const noexcept
        requires requires(const Stream& s) { s.connect_attempts(); }
    {
        return next_layer().connect_attempts();
    }
    decltype(auto) connect_failure_detail() const
        requires requires(const Stream& s) { s.connect_failure_detail(); }
    {
        return next_layer().connect_failure_detail();
    }
    decltype(auto) connect_target() const
        requires requires(const Stream& s) { s.connect_target(); }
    {
        return next_layer().connect_target();
    }

    /// The SHA-256 of the server certificate's public key (SPKI) as the pin
    /// check saw it in the last handshake, as base64 (what to put in
    /// tls_options::pin_sha256); empty when no pin was checked.
    std::string server_pin_sha256() const
    {
        if (!tls_ || !tls_->check->pin_seen)
            return {};
        const auto& d = tls_->check->server_key;
        return base64::encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
    }

    /// True when the last TLS handshake resumed a session (from
    /// tls_options::session_cache, a pool's cache or the process's): no
    /// certificate came in it; the chain, the name and the pins were checked
    /// when the session was made, under the same settings.
    bool session_resumed() const noexcept { return encrypted() && resumed_; }

    /// The TLSA record (tls_options::dane) that authenticated the server in
    /// this connection's handshake, and at which depth of its chain (0: its
    /// own certificate, DANE-EE); empty when DANE did not authenticate it
    /// (no DANE, or dane::mode::encrypt_only). What "protected by DANE"
    /// rests on.
    const std::optional<dane::match>& dane_match() const noexcept { return dane_match_; }

    /// The first bytes (at most 64) the server sent during the last TLS
    /// handshake: when it failed on bytes that were not TLS, what they were.
    std::string_view handshake_bytes() const noexcept
    {
        return tls_ ? tls_->stream.next_layer().first_bytes() : std::string_view{};
    }

    /// Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_read_some(boost::asio::mutable_buffer b, Handler&& handler)
    {
        if (tls_)
            tls_->stream.async_read_some(b, releasing<std::decay_t<Handler>>{{std::forward<Handler>(handler)}, this});
        else
            plain_->stream().async_read_some(b, std::forward<Handler>(handler));
    }

    /// Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_write_some(boost::asio::const_buffer b, Handler&& handler)
    {
        if (tls_)
            tls_->stream.async_write_some(b, std::forward<Handler>(handler));
        else
            plain_->stream().async_write_some(b, std::forward<Handler>(handler));
    }

    /// Writes all of b. Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_write(boost::asio::const_buffer b, Handler&& handler)
    {
        if (tls_)
            boost::asio::async_write(tls_->stream, b, std::forward<Handler>(handler));
        else
            boost::asio::async_write(*plain_, b, std::forward<Handler>(handler));
    }

    /// The TLS handshake as a client over the connected stream: STARTTLS
    /// after its 220, or implicit TLS right after the connect. Handler:
    /// void(error_code).
    template <class Handler>
    void async_handshake(const connect_options& o, bool verify, Handler&& handler)
    {
        error_code ec;
        start_tls(o, verify, ec);
        if (ec)
            return complete_later(std::forward<Handler>(handler), ec);
        tls_->stream.next_layer().record(true);
        tls_->stream.async_handshake(handshake_handler<std::decay_t<Handler>>{{std::forward<Handler>(handler)}, this});
    }

    void cancel() { next_layer().cancel(); }
    /// Closes the connection. Over TLS on a stream that names its socket
    /// (transport::tcp), a close_notify alert goes first (RFC 8446 6.1)
    /// when the TLS stream is whole and nothing is in flight: sent without
    /// waiting, and left out if the socket cannot take it at once. Other
    /// streams, and a connection after an error, close without it.
    void close()
    {
        if (tls_ && handshaken_)
            send_close_notify();
        next_layer().close();
    }

    /// The stream's socket while the connection is in clear (before
    /// STARTTLS), for the synchronous driver's direct reads and writes; -1
    /// once TLS has started, or when the stream does not name its socket.
    int sync_descriptor() noexcept
    {
        if constexpr (requires(Stream& s) { { s.sync_descriptor() } -> std::same_as<int>; })
            return tls_ ? -1 : plain_->stream().sync_descriptor();
        else
            return -1;
    }
    /// The same, the socket in blocking mode for reads (transport::tcp's
    /// blocking_descriptor()).
    int blocking_descriptor(std::chrono::microseconds longest_wait) noexcept
    {
        if constexpr (requires(Stream& s) { { s.blocking_descriptor(longest_wait) } -> std::same_as<int>; })
            return tls_ ? -1 : plain_->stream().blocking_descriptor(longest_wait);
        else
            return -1;
    }

private:
    using next = detail::tls_next_layer<Stream>;

    struct tls_state {
        std::unique_ptr<detail::tls_check> check; // holds the context, which outlives the stream
        detail::tls_stream<next> stream;
        tls_state(std::unique_ptr<detail::tls_check> c, next&& n)
            : check(std::move(c)), stream(std::move(n), check->setup->ctx.native_handle())
        {
            SSL_set_ex_data(stream.native_handle(), detail::tls_setup_index(), check.get()); // for the pin check
        }
    };

    /// The handshake's completion: the checks after it, then the caller's
    /// handler. It runs where the handler's own executor says (a strand, a
    /// coroutine's) and passes on its allocator and cancellation slot, as an
    /// unwrapped handler would.
    template <class Handler>
    struct handshake_handler : smtp::detail::passes_on_associations<Handler> {
        using smtp::detail::passes_on_associations<Handler>::h;
        tls_layer* self;

        using executor_type = boost::asio::associated_executor_t<Handler, typename tls_layer::executor_type>;
        executor_type get_executor() const noexcept
        {
            return boost::asio::get_associated_executor(h, self->get_executor());
        }

        void operator()(error_code e)
        {
            if (self->tls_)
                e = self->handshake_done(e);
            std::move(h)(e);
        }
    };

    /// A read's completion: OpenSSL's record buffer (about 16 KiB) goes back
    /// to the heap when no record is left half read (SSL_free_buffers does
    /// nothing otherwise), so that a session waiting between commands, or
    /// idle in a pool, does not hold it; the next read takes it again.
    /// SSL_MODE_RELEASE_BUFFERS (which tls_stream sets) leaves it held here,
    /// the read ending on a whole record. Measured: 16.8 KB less per open
    /// session (docs/performance.md).
    template <class Handler>
    struct releasing : smtp::detail::passes_on_associations<Handler> {
        using smtp::detail::passes_on_associations<Handler>::h;
        tls_layer* self;

        using executor_type = boost::asio::associated_executor_t<Handler, typename tls_layer::executor_type>;
        executor_type get_executor() const noexcept
        {
            return boost::asio::get_associated_executor(h, self->get_executor());
        }

        void operator()(error_code e, std::size_t n)
        {
            if (self->tls_ && detail::free_buffers_is_safe() && SSL_pending(self->tls_->stream.native_handle()) == 0)
                (void)SSL_free_buffers(self->tls_->stream.native_handle());
            std::move(h)(e, n);
        }
        friend bool asio_handler_is_continuation(releasing* r)
        {
            return boost_asio_handler_cont_helpers::is_continuation(r->h);
        }
    };

    void send_close_notify()
    {
#if SMTP_HAS_BLOCKING_IO
        if constexpr (requires(Stream& s) { { s.sync_descriptor() } -> std::same_as<int>; }) {
            const int fd = next_layer().sync_descriptor();
            if (fd < 0)
                return;
            const auto alert = tls_->stream.take_close_notify();
            if (!alert.empty())
                detail::send_without_waiting(fd, alert.data(), alert.size());
        }
#endif
    }

    template <class Handler>
    void complete_later(Handler&& handler, error_code ec)
    {
        auto ex = boost::asio::get_associated_executor(handler, get_executor());
        boost::asio::post(ex, [h = std::forward<Handler>(handler), ec]() mutable { std::move(h)(ec); });
    }

    void start_tls(const connect_options& o, bool verify, error_code& ec)
    {
        if (tls_) { // TLS is started once per connection (RFC 3207 4.2)
            ec = boost::asio::error::already_started;
            return;
        }
        // The context: the one the cache keeps for these settings, else a new
        // one (kept there for the next connection when there is a cache).
        auto cache = detail::session_cache_for(o.tls);
        std::shared_ptr<detail::tls_setup> setup;
        std::string settings;
        if (cache) {
            settings = tls_session_cache::settings_key(o.tls, verify);
            setup = detail::tls_context_access::find(*cache, settings);
        }
        if (!setup) {
            std::unique_ptr<detail::tls_setup> made = prepared_ ? std::move(prepared_) : detail::prepare_tls(o.tls, ec);
            if (ec)
                return;
            detail::finish_tls_setup(*made, o.tls, verify, cache != nullptr, ec);
            if (ec)
                return;
            setup = std::move(made);
            if (cache)
                detail::tls_context_access::keep(*cache, settings, setup);
        }
        prepared_.reset();
        auto check = std::make_unique<detail::tls_check>();
        check->setup = std::move(setup);
        if (cache) {
            check->cache = std::move(cache);
            check->cache_key = tls_session_cache::key_of(o, verify);
        }
        tls_ = std::make_unique<tls_state>(std::move(check), std::move(*plain_));
        plain_.reset();
        SSL* handle = tls_->stream.native_handle();
        if (o.tls.dane.mode != dane::mode::off)
            detail::set_dane(handle, o, ec);
        else
            detail::set_tls_peer_name(handle, o, verify, ec);
        if (ec || !tls_->check->cache)
            return;
        if (SSL_SESSION* session = tls_->check->cache->take(tls_->check->cache_key)) {
            const int ok = SSL_set_session(handle, session);
            SSL_SESSION_free(session);
            if (ok != 1) // not offered: a full handshake
                ERR_clear_error();
        }
    }

    /// After the handshake: the pin check when the handshake did not reach
    /// it, and an error that says which check failed (a pin, or the chain or
    /// host: x509_category).
    error_code handshake_done(error_code e)
    {
        tls_->stream.next_layer().record(false);
        detail::tls_check& st = *tls_->check;
        if (!e && !st.setup->pins.empty() && !st.pin_seen && !st.pin_matches(SSL_get0_peer_certificate(tls_->stream.native_handle())))
            st.pin_failed = true;
        SSL* handle = tls_->stream.native_handle();
        const bool dane_auth = st.setup->dane == dane::mode::authenticate;
        if (st.pin_failed) {
            e = make_error_code(tls_errc::pin_mismatch);
        } else if (e && st.setup->verify) {
            const long v = SSL_get_verify_result(handle);
            if (dane_auth && v == X509_V_ERR_DANE_NO_MATCH)
                e = make_error_code(tls_errc::dane_mismatch);
            else if (dane_auth && v == X509_V_ERR_HOSTNAME_MISMATCH)
                e = make_error_code(tls_errc::dane_name_mismatch);
            else if (v != X509_V_OK)
                e = error_code(static_cast<int>(v), x509_category());
        }
        if (!e && dane_auth) { // which record authenticated the server (OpenSSL checked that one did)
            const unsigned char* data = nullptr;
            std::size_t len = 0;
            std::uint8_t u = 0, sel = 0, mt = 0;
            const int depth = SSL_get0_dane_tlsa(handle, &u, &sel, &mt, &data, &len);
            if (depth < 0 || SSL_get_verify_result(handle) != X509_V_OK) {
                e = make_error_code(tls_errc::dane_mismatch);
            } else {
                dane::match m;
                m.record = {u, sel, mt, std::vector<std::uint8_t>(data, data + len)};
                m.depth = depth;
                dane_match_ = std::move(m);
            }
        }
        resumed_ = !e && SSL_session_reused(tls_->stream.native_handle()) == 1;
        if (resumed_ && st.setup->verify) { // the first handshake's result, carried by the session: still a check
            const long v = SSL_get_verify_result(tls_->stream.native_handle());
            if (v != X509_V_OK) {
                e = error_code(static_cast<int>(v), x509_category());
                resumed_ = false;
            }
        }
        handshaken_ = !e;
        if (resumed_ && st.cache)
            st.cache->note_resumed();
        return e;
    }

    std::optional<next> plain_; // the stream while in clear (in tls_ once TLS starts)
    std::unique_ptr<tls_state> tls_{};
    std::unique_ptr<detail::tls_setup> prepared_{}; // checked at connect, used at the handshake
    std::optional<dane::match> dane_match_{}; // the TLSA record that authenticated the last handshake
    bool handshaken_ = false;
    bool resumed_ = false;
};

} // namespace transport
SMTP_NAMESPACE_END

/// \cond
template <>
struct boost::system::is_error_code_enum<smtp::tls_errc> : std::true_type {};
/// \endcond

#endif

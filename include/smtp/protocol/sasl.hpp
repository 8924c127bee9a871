/// \file smtp/protocol/sasl.hpp
///
/// SASL mechanisms for SMTP AUTH (RFC 4954) as sans-I/O step machines:
/// PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195),
/// XOAUTH2 (Google's and Microsoft's format), OAUTHBEARER (RFC 7628), and
/// SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677).
///
/// A mechanism sees raw bytes only: the server's challenges already decoded
/// from base64, and it appends raw responses that the driver encodes. Reply
/// codes, base64 and the bound on the number of challenges are the driver's.
/// Mechanisms that hash take a Crypto provider (the crypto_provider concept);
/// smtp/crypto/openssl.hpp has one. This header includes no crypto library.
#ifndef SMTP_PROTOCOL_SASL_HPP
#define SMTP_PROTOCOL_SASL_HPP

#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/detail/scan.hpp>
#include <smtp/protocol/detail/validate.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace sasl {

/// What a mechanism authenticates with. Views: the caller keeps the strings
/// alive until the exchange is over.
struct credentials {
    std::string_view username;  ///< the authentication identity (authcid)
    std::string_view secret;    ///< the password, or the OAuth 2 bearer token (xoauth2, oauthbearer)
    std::string_view authzid{}; ///< the authorization identity; empty: the same as username
};

/// A SASL mechanism: one object per authentication attempt.
///
///   M m(creds);
///   m.initial_response(out, ec)  appends the initial response and returns
///                                true, or returns false when the mechanism
///                                has none. Checks the credentials: on
///                                errc::sasl_invalid_credentials nothing is
///                                appended and nothing must be sent.
///   m.challenge(text, out, ec)   `text` is a 334's text decoded from base64;
///                                appends the response (possibly empty).
///                                On error `out` is unchanged.
///   m.complete()                 true once the mechanism is satisfied; for
///                                SCRAM, once the server proved itself. A 235
///                                before that is not a success.
template <class M>
concept mechanism = requires(M m, const M cm, std::string_view challenge, std::string& out, error_code& ec) {
    { M::name } -> std::convertible_to<std::string_view>;
    { m.initial_response(out, ec) } -> std::same_as<bool>;
    m.challenge(challenge, out, ec);
    { cm.complete() } -> std::same_as<bool>;
    requires std::constructible_from<M, const credentials&>;
};

/// Whether a mechanism's secret is an OAuth 2 bearer token, one that expires
/// and that a credential provider can replace (smtp/credentials.hpp): a
/// mechanism says so with `static constexpr bool bearer_token = true`, as
/// xoauth2 and oauthbearer do. A refused token is asked for again once; a
/// refused password is not.
template <class M>
inline constexpr bool takes_bearer_token = [] {
    if constexpr (requires { M::bearer_token; })
        return static_cast<bool>(M::bearer_token);
    else
        return false;
}();

/// The hashing the mechanisms need, all static. Inputs are bytes in
/// string_views; digests come back as arrays.
template <class C>
concept crypto_provider = requires(std::string_view key, std::string_view data, std::uint32_t iterations,
                                   std::span<unsigned char> out) {
    { C::hmac_md5(key, data) } -> std::same_as<std::array<unsigned char, 16>>;
    { C::sha256(data) } -> std::same_as<std::array<unsigned char, 32>>;
    { C::hmac_sha256(key, data) } -> std::same_as<std::array<unsigned char, 32>>;
    /// PBKDF2 with HMAC-SHA-256 and a 32-byte output: SCRAM's Hi() (RFC 5802 2.2).
    { C::pbkdf2_hmac_sha256(key, data, iterations) } -> std::same_as<std::array<unsigned char, 32>>;
    /// Cryptographically secure random bytes (SCRAM's client nonce).
    C::random_bytes(out);
};

namespace detail {

constexpr bool contains_any(std::string_view s, std::string_view bytes) noexcept
{
    return s.find_first_of(bytes) != std::string_view::npos;
}

constexpr bool has_nul(std::string_view s) noexcept { return s.find('\0') != std::string_view::npos; }

constexpr bool has_nul_cr_lf(std::string_view s) noexcept
{
    return contains_any(s, std::string_view("\0\r\n", 3));
}

constexpr bool has_control(std::string_view s) noexcept
{
    for (char c : s)
        if (smtp::detail::is_control(static_cast<unsigned char>(c)))
            return true;
    return false;
}

/// A name that can go into a GS2 header or a SCRAM n= (RFC 5802 7
/// saslname): UTF-8 without control bytes.
constexpr bool is_saslname(std::string_view s) noexcept
{
    return !has_control(s) && smtp::detail::is_valid_utf8(s);
}

/// Appends `s` with ',' as "=2C" and '=' as "=3D" (RFC 5802 5.1, RFC 5801 4).
inline void append_saslname(std::string_view s, std::string& out)
{
    for (char c : s) {
        if (c == ',')
            out.append("=2C");
        else if (c == '=')
            out.append("=3D");
        else
            out.push_back(c);
    }
}

template <std::size_t N>
std::string_view as_chars(const std::array<unsigned char, N>& a) noexcept
{
    return {reinterpret_cast<const char*>(a.data()), N};
}

inline void append_hex(std::span<const unsigned char> bytes, std::string& out)
{
    constexpr char digits[] = "0123456789abcdef";
    for (unsigned char b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
}

/// Compares without an early exit, so the time taken does not say how many
/// leading bytes matched. (The lengths are not secret.)
inline bool equal_constant_time(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    volatile unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
    return diff == 0;
}

/// RFC 5802 7: printable = %x21-2B / %x2D-7E (no ',' and no controls).
constexpr bool is_scram_printable(std::string_view s) noexcept
{
    for (char c : s)
        if (c < 0x21 || c > 0x7E || c == ',')
            return false;
    return true;
}

} // namespace detail

// --- PLAIN -------------------------------------------------------------------

/// PLAIN (RFC 4616): one initial response, authzid NUL authcid NUL passwd.
/// The password crosses the wire as it is: use it over TLS only.
class plain {
public:
    static constexpr std::string_view name = "PLAIN";

    explicit plain(const credentials& c) noexcept : creds_(c) {}

    /// Errors: sasl_invalid_credentials for an empty username or a NUL in
    /// any field (NUL is PLAIN's separator).
    bool initial_response(std::string& out, error_code& ec)
    {
        ec = {};
        if (creds_.username.empty() || detail::has_nul(creds_.username) || detail::has_nul(creds_.secret) ||
            detail::has_nul(creds_.authzid)) {
            ec = errc::sasl_invalid_credentials;
            step_ = step::failed;
            return false;
        }
        out.reserve(out.size() + creds_.authzid.size() + creds_.username.size() + creds_.secret.size() + 2);
        out.append(creds_.authzid);
        out.push_back('\0');
        out.append(creds_.username);
        out.push_back('\0');
        out.append(creds_.secret);
        step_ = step::sent;
        return true;
    }

    /// An empty challenge before the initial response asks for it (RFC 4422
    /// 5, when the driver did not send it with AUTH); anything else is
    /// sasl_unexpected_challenge.
    void challenge(std::string_view text, std::string& out, error_code& ec)
    {
        if (step_ == step::start && text.empty()) {
            initial_response(out, ec);
            return;
        }
        ec = errc::sasl_unexpected_challenge;
        step_ = step::failed;
    }

    bool complete() const noexcept { return step_ == step::sent; }

private:
    enum class step : unsigned char { start, sent, failed };
    credentials creds_;
    step step_ = step::start;
};

// --- LOGIN -------------------------------------------------------------------

/// LOGIN (draft-murchison-sasl-login): no initial response; the first
/// challenge gets the username, the second the password, whatever their text
/// says ("Username:", "Password:" usually). A third is an error. The password
/// crosses the wire as it is: use it over TLS only.
class login {
public:
    static constexpr std::string_view name = "LOGIN";

    explicit login(const credentials& c) noexcept : creds_(c) {}

    /// Returns false (no initial response). Checks the credentials:
    /// sasl_invalid_credentials for an empty username or NUL, CR or LF in the
    /// username or password (servers read each as one line of text).
    bool initial_response(std::string&, error_code& ec)
    {
        ec = {};
        if (!credentials_ok()) {
            ec = errc::sasl_invalid_credentials;
            step_ = step::failed;
        }
        return false;
    }

    void challenge(std::string_view, std::string& out, error_code& ec)
    {
        ec = {};
        switch (step_) {
        case step::start:
            if (!credentials_ok()) {
                ec = errc::sasl_invalid_credentials;
                break;
            }
            out.append(creds_.username);
            step_ = step::sent_username;
            return;
        case step::sent_username:
            out.append(creds_.secret);
            step_ = step::sent_password;
            return;
        default:
            ec = errc::sasl_unexpected_challenge;
            break;
        }
        step_ = step::failed;
    }

    bool complete() const noexcept { return step_ == step::sent_password; }

private:
    enum class step : unsigned char { start, sent_username, sent_password, failed };

    bool credentials_ok() const noexcept
    {
        return !creds_.username.empty() && !detail::has_nul_cr_lf(creds_.username) &&
               !detail::has_nul_cr_lf(creds_.secret);
    }

    credentials creds_;
    step step_ = step::start;
};

// --- CRAM-MD5 ----------------------------------------------------------------

/// CRAM-MD5 (RFC 2195): no initial response; the challenge gets
/// "username SP hex(HMAC-MD5(password, challenge))". The password does not
/// cross the wire, but MD5 and a server that keeps passwords in the clear
/// make it a legacy mechanism (RFC 6331 moved it to Historic).
template <crypto_provider Crypto>
class cram_md5 {
public:
    static constexpr std::string_view name = "CRAM-MD5";

    explicit cram_md5(const credentials& c) noexcept : creds_(c) {}

    /// Returns false (no initial response). sasl_invalid_credentials for an
    /// empty username or NUL, CR or LF in it.
    bool initial_response(std::string&, error_code& ec)
    {
        ec = {};
        if (!credentials_ok()) {
            ec = errc::sasl_invalid_credentials;
            step_ = step::failed;
        }
        return false;
    }

    /// Errors: sasl_malformed_challenge for an empty challenge (the response
    /// would be a constant anyone could replay), sasl_unexpected_challenge
    /// for a second one.
    void challenge(std::string_view text, std::string& out, error_code& ec)
    {
        ec = {};
        if (step_ != step::start)
            ec = errc::sasl_unexpected_challenge;
        else if (!credentials_ok())
            ec = errc::sasl_invalid_credentials;
        else if (text.empty())
            ec = errc::sasl_malformed_challenge;
        if (ec) {
            step_ = step::failed;
            return;
        }
        const auto digest = Crypto::hmac_md5(creds_.secret, text);
        out.reserve(out.size() + creds_.username.size() + 1 + 2 * digest.size());
        out.append(creds_.username);
        out.push_back(' ');
        detail::append_hex(digest, out);
        step_ = step::sent;
    }

    bool complete() const noexcept { return step_ == step::sent; }

private:
    enum class step : unsigned char { start, sent, failed };

    bool credentials_ok() const noexcept
    {
        return !creds_.username.empty() && !detail::has_nul_cr_lf(creds_.username);
    }

    credentials creds_;
    step step_ = step::start;
};

// --- XOAUTH2 and OAUTHBEARER ---------------------------------------------------

namespace detail {

/// Shared by the two OAuth mechanisms: an initial response, then at most one
/// challenge, which is the server's error (a JSON document). The client
/// answers it with a dummy response so that the server can end the exchange
/// with its 5yz (RFC 7628 3.2.3; Google's and Microsoft's XOAUTH2 documents).
template <class Derived>
class oauth_base {
public:
    void challenge(std::string_view text, std::string& out, error_code& ec)
    {
        ec = {};
        switch (step_) {
        case step::start:
            if (text.empty()) {
                static_cast<Derived&>(*this).initial_response(out, ec);
                return;
            }
            ec = errc::sasl_unexpected_challenge;
            break;
        case step::sent:
            error_detail_.assign(text);
            server_error_ = true;
            out.append(Derived::error_response);
            step_ = step::answered_error;
            return;
        default:
            ec = errc::sasl_unexpected_challenge;
            break;
        }
        step_ = step::failed;
    }

    bool complete() const noexcept { return step_ == step::sent; }

    /// errc::sasl_server_error once the server sent its error challenge (the
    /// exchange then goes on to the server's 5yz); no error otherwise.
    error_code server_error() const noexcept
    {
        return server_error_ ? error_code(errc::sasl_server_error) : error_code();
    }
    /// The server's error challenge, decoded: a JSON document such as
    /// {"status":"invalid_token",...}. Empty when there was none.
    std::string_view server_error_detail() const noexcept { return error_detail_; }

protected:
    enum class step : unsigned char { start, sent, answered_error, failed };
    step step_ = step::start;

private:
    std::string error_detail_;
    bool server_error_ = false;
};

} // namespace detail

/// XOAUTH2 (Google, Microsoft): the initial response
/// "user=" username ^A "auth=Bearer " token ^A ^A; an error challenge gets an
/// empty response. `secret` is the OAuth 2 access token.
class xoauth2 : public detail::oauth_base<xoauth2> {
public:
    static constexpr std::string_view name = "XOAUTH2";
    static constexpr std::string_view error_response = "";
    static constexpr bool bearer_token = true; ///< the secret is a token that expires (takes_bearer_token)

    explicit xoauth2(const credentials& c) noexcept : creds_(c) {}

    /// sasl_invalid_credentials for an empty username or token, a control
    /// byte in either (^A is the separator), or an authzid: XOAUTH2 has no
    /// place for one, and dropping it silently would act as another identity.
    bool initial_response(std::string& out, error_code& ec)
    {
        ec = {};
        if (creds_.username.empty() || creds_.secret.empty() || detail::has_control(creds_.username) ||
            detail::has_control(creds_.secret) || !creds_.authzid.empty()) {
            ec = errc::sasl_invalid_credentials;
            step_ = step::failed;
            return false;
        }
        out.reserve(out.size() + creds_.username.size() + creds_.secret.size() + 20);
        out.append("user=");
        out.append(creds_.username);
        out.append("\x01" "auth=Bearer ");
        out.append(creds_.secret);
        out.append("\x01\x01");
        step_ = step::sent;
        return true;
    }

private:
    credentials creds_;
};

/// Where OAUTHBEARER says the client is connecting to (RFC 7628 3.1); both
/// are optional and left out when not given.
struct oauthbearer_options {
    std::string_view host{};
    std::optional<std::uint16_t> port{};
};

/// OAUTHBEARER (RFC 7628): the initial response
/// "n,a=" authzid "," ^A ["host=" host ^A] ["port=" port ^A] "auth=Bearer " token ^A ^A;
/// an error challenge gets ^A. `secret` is the OAuth 2 access token; the
/// GS2 authzid is credentials::authzid, or the username when that is empty
/// (what Gmail and Outlook expect), escaped; with both empty there is no "a=".
class oauthbearer : public detail::oauth_base<oauthbearer> {
public:
    static constexpr std::string_view name = "OAUTHBEARER";
    static constexpr std::string_view error_response = "\x01";
    static constexpr bool bearer_token = true; ///< the secret is a token that expires (takes_bearer_token)

    explicit oauthbearer(const credentials& c, const oauthbearer_options& o = {}) noexcept : creds_(c), opts_(o) {}

    /// sasl_invalid_credentials for an empty token, a control byte in the
    /// token or the host, or an identity that is not UTF-8 without controls.
    bool initial_response(std::string& out, error_code& ec)
    {
        ec = {};
        const std::string_view identity = creds_.authzid.empty() ? creds_.username : creds_.authzid;
        if (creds_.secret.empty() || detail::has_control(creds_.secret) || detail::has_control(opts_.host) ||
            !detail::is_saslname(identity)) {
            ec = errc::sasl_invalid_credentials;
            step_ = step::failed;
            return false;
        }
        out.append("n,");
        if (!identity.empty()) {
            out.append("a=");
            detail::append_saslname(identity, out);
        }
        out.append(",\x01");
        if (!opts_.host.empty()) {
            out.append("host=");
            out.append(opts_.host);
            out.push_back('\x01');
        }
        if (opts_.port) {
            out.append("port=");
            out.append(std::to_string(*opts_.port));
            out.push_back('\x01');
        }
        out.append("auth=Bearer ");
        out.append(creds_.secret);
        out.append("\x01\x01");
        step_ = step::sent;
        return true;
    }

private:
    credentials creds_;
    oauthbearer_options opts_;
};

// --- SCRAM ---------------------------------------------------------------------

/// A SCRAM hash (RFC 5802 4) for a Crypto provider: its mechanism name,
/// digest size, H(), HMAC() and Hi().
template <class H, class C>
concept scram_hash = crypto_provider<C> && requires(std::string_view k, std::string_view d, std::uint32_t n) {
    { H::scram_name } -> std::convertible_to<std::string_view>;
    requires H::size > 0;
    { H::template hash<C>(d) } -> std::same_as<std::array<unsigned char, H::size>>;
    { H::template hmac<C>(k, d) } -> std::same_as<std::array<unsigned char, H::size>>;
    { H::template hi<C>(k, d, n) } -> std::same_as<std::array<unsigned char, H::size>>;
};

/// SHA-256 for SCRAM-SHA-256 (RFC 7677): every crypto_provider has it.
struct sha256 {
    static constexpr std::string_view scram_name = "SCRAM-SHA-256";
    static constexpr std::size_t size = 32;
    template <class C>
    static auto hash(std::string_view d) -> decltype(C::sha256(d))
    {
        return C::sha256(d);
    }
    template <class C>
    static auto hmac(std::string_view k, std::string_view d) -> decltype(C::hmac_sha256(k, d))
    {
        return C::hmac_sha256(k, d);
    }
    template <class C>
    static auto hi(std::string_view p, std::string_view s, std::uint32_t i) -> decltype(C::pbkdf2_hmac_sha256(p, s, i))
    {
        return C::pbkdf2_hmac_sha256(p, s, i);
    }
};

/// SHA-1 for SCRAM-SHA-1 (RFC 5802): needs a provider that also has sha1,
/// hmac_sha1 and pbkdf2_hmac_sha1 (smtp::crypto::openssl has them).
struct sha1 {
    static constexpr std::string_view scram_name = "SCRAM-SHA-1";
    static constexpr std::size_t size = 20;
    template <class C>
    static auto hash(std::string_view d) -> decltype(C::sha1(d))
    {
        return C::sha1(d);
    }
    template <class C>
    static auto hmac(std::string_view k, std::string_view d) -> decltype(C::hmac_sha1(k, d))
    {
        return C::hmac_sha1(k, d);
    }
    template <class C>
    static auto hi(std::string_view p, std::string_view s, std::uint32_t i) -> decltype(C::pbkdf2_hmac_sha1(p, s, i))
    {
        return C::pbkdf2_hmac_sha1(p, s, i);
    }
};

/// The largest iteration count a server may ask for, by default. Hi() costs
/// the client one HMAC per iteration, so a hostile or broken server could
/// otherwise keep the client busy for minutes (i=4294967295).
inline constexpr std::uint32_t scram_default_max_iterations = 100000;

struct scram_options {
    /// The client nonce; empty: 18 random bytes from Crypto::random_bytes,
    /// in base64 (24 characters). Set it only to replay a known exchange in
    /// tests. Must be RFC 5802 "printable" (0x21-0x7E except ',').
    std::string_view client_nonce{};
    /// Server-first messages with a larger i= are sasl_malformed_challenge.
    std::uint32_t max_iterations = scram_default_max_iterations;
};

/// SCRAM (RFC 5802; SCRAM-SHA-256 RFC 7677), without channel binding (GS2
/// flag "n"). The exchange, as SMTP carries it (RFC 4954 has no additional
/// data with 235, so the server's final message comes as a 334):
///
///   initial response  n,[a=authzid],n=username,r=cnonce
///   334 server-first  r=cnonce+snonce,s=salt,i=count     -> c=...,r=...,p=proof
///   334 server-final  v=signature (or e=error)           -> empty response
///   235                                                  complete() is true
///
/// Passwords are not SASLprep'ed (RFC 4013): they are used as their bytes,
/// which is right for ASCII passwords and for UTF-8 ones already in the form
/// the server stored (NFKC); see docs/protocol-core.md.
template <crypto_provider Crypto, scram_hash<Crypto> Hash>
class scram {
public:
    static constexpr std::string_view name = Hash::scram_name;

    /// Throws std::invalid_argument if options.client_nonce is not printable,
    /// and whatever Crypto::random_bytes throws.
    explicit scram(const credentials& c, const scram_options& o = {})
        : creds_(c), max_iterations_(o.max_iterations)
    {
        if (!o.client_nonce.empty()) {
            if (!detail::is_scram_printable(o.client_nonce))
                throw std::invalid_argument("SCRAM client nonce must be printable ASCII without ','");
            nonce_.assign(o.client_nonce);
        } else {
            std::array<unsigned char, 18> random{};
            Crypto::random_bytes(std::span<unsigned char>(random));
            base64::encode(detail::as_chars(random), nonce_);
        }
    }

    /// Appends client-first. sasl_invalid_credentials for an empty username,
    /// or a username or authzid that is not UTF-8 without control bytes.
    bool initial_response(std::string& out, error_code& ec)
    {
        ec = {};
        if (creds_.username.empty() || !detail::is_saslname(creds_.username) ||
            !detail::is_saslname(creds_.authzid)) {
            ec = errc::sasl_invalid_credentials;
            step_ = step::failed;
            return false;
        }
        gs2_header_ = "n,";
        if (!creds_.authzid.empty()) {
            gs2_header_.append("a=");
            detail::append_saslname(creds_.authzid, gs2_header_);
        }
        gs2_header_.push_back(',');
        client_first_bare_ = "n=";
        detail::append_saslname(creds_.username, client_first_bare_);
        client_first_bare_.append(",r=");
        client_first_bare_.append(nonce_);
        out.append(gs2_header_);
        out.append(client_first_bare_);
        step_ = step::sent_client_first;
        return true;
    }

    /// Errors: sasl_malformed_challenge (server-first or server-final that
    /// does not parse, a nonce that does not extend ours, a salt that is not
    /// base64, an iteration count missing, zero or above max_iterations),
    /// sasl_server_error ("e=" in server-final; see server_error_detail()),
    /// sasl_server_signature_mismatch, sasl_unexpected_challenge (anything
    /// after server-final). After an error the mechanism stays failed.
    void challenge(std::string_view text, std::string& out, error_code& ec)
    {
        ec = {};
        switch (step_) {
        case step::start:
            if (text.empty()) {
                initial_response(out, ec);
                return;
            }
            ec = errc::sasl_unexpected_challenge;
            break;
        case step::sent_client_first:
            if (const errc e = on_server_first(text, out); e != errc{})
                ec = e;
            break;
        case step::sent_client_final:
            if (const errc e = on_server_final(text); e != errc{})
                ec = e;
            break;
        default: ec = errc::sasl_unexpected_challenge; break;
        }
        if (ec)
            step_ = step::failed;
    }

    /// True once the server's signature was verified.
    bool complete() const noexcept { return step_ == step::verified; }

    std::string_view client_nonce() const noexcept { return nonce_; }
    /// The value of the server's "e=" attribute ("invalid-proof", ...).
    std::string_view server_error_detail() const noexcept { return error_detail_; }

private:
    enum class step : unsigned char { start, sent_client_first, sent_client_final, verified, failed };
    using digest = std::array<unsigned char, Hash::size>;

    /// Takes "key=value" off the front of `rest`, up to the next ','.
    /// `more`: a ',' followed it (and `rest` is what comes after).
    static bool take_attribute(std::string_view& rest, char key, std::string_view& value, bool& more) noexcept
    {
        if (rest.size() < 2 || rest[0] != key || rest[1] != '=')
            return false;
        const auto comma = rest.find(',');
        more = comma != std::string_view::npos;
        value = rest.substr(2, more ? comma - 2 : std::string_view::npos);
        rest = more ? rest.substr(comma + 1) : std::string_view();
        return true;
    }

    /// extensions = attr-val *("," attr-val), attr-val = ALPHA "=" value
    /// (RFC 5802 7): checked for shape, then ignored.
    static bool extensions_ok(std::string_view rest) noexcept
    {
        while (true) {
            if (rest.size() < 2 || !smtp::detail::is_alpha(rest[0]) || rest[1] != '=')
                return false;
            const auto comma = rest.find(',');
            if (comma == std::string_view::npos)
                return true;
            rest = rest.substr(comma + 1);
        }
    }

    /// posit-number = %x31-39 *DIGIT, at most `max`.
    static bool parse_iterations(std::string_view s, std::uint32_t max, std::uint32_t& out) noexcept
    {
        if (s.empty() || s[0] < '1' || s[0] > '9')
            return false;
        std::uint64_t v = 0;
        for (char c : s) {
            if (c < '0' || c > '9')
                return false;
            v = v * 10 + std::uint64_t(c - '0');
            if (v > max)
                return false;
        }
        out = static_cast<std::uint32_t>(v);
        return true;
    }

    errc on_server_first(std::string_view text, std::string& out)
    {
        // server-first-message = [reserved-mext ","] nonce "," salt ","
        //                        iteration-count ["," extensions]
        // An "m=" is a mandatory extension we do not know: fail (RFC 5802 5.1).
        std::string_view rest = text, nonce, salt_b64, count;
        bool more = false;
        if (!take_attribute(rest, 'r', nonce, more) || !more || !take_attribute(rest, 's', salt_b64, more) ||
            !more || !take_attribute(rest, 'i', count, more) || (more && !extensions_ok(rest)))
            return errc::sasl_malformed_challenge;

        if (nonce.size() <= nonce_.size() || nonce.substr(0, nonce_.size()) != nonce_ ||
            !detail::is_scram_printable(nonce))
            return errc::sasl_malformed_challenge;
        std::string salt;
        error_code bec;
        base64::decode(salt_b64, salt, bec);
        if (bec || salt.empty())
            return errc::sasl_malformed_challenge;
        std::uint32_t iterations = 0;
        if (!parse_iterations(count, max_iterations_, iterations))
            return errc::sasl_malformed_challenge;

        // RFC 5802 3.
        std::string final_message = "c=";
        base64::encode(gs2_header_, final_message);
        final_message.append(",r=");
        final_message.append(nonce);

        std::string auth_message;
        auth_message.reserve(client_first_bare_.size() + text.size() + final_message.size() + 2);
        auth_message.append(client_first_bare_);
        auth_message.push_back(',');
        auth_message.append(text);
        auth_message.push_back(',');
        auth_message.append(final_message);

        const digest salted = Hash::template hi<Crypto>(creds_.secret, salt, iterations);
        const digest client_key = Hash::template hmac<Crypto>(detail::as_chars(salted), "Client Key");
        const digest stored_key = Hash::template hash<Crypto>(detail::as_chars(client_key));
        const digest client_signature = Hash::template hmac<Crypto>(detail::as_chars(stored_key), auth_message);
        digest proof{};
        for (std::size_t i = 0; i < proof.size(); ++i)
            proof[i] = static_cast<unsigned char>(client_key[i] ^ client_signature[i]);
        const digest server_key = Hash::template hmac<Crypto>(detail::as_chars(salted), "Server Key");
        server_signature_ = Hash::template hmac<Crypto>(detail::as_chars(server_key), auth_message);

        out.reserve(out.size() + final_message.size() + 3 + base64::encoded_size(proof.size()));
        out.append(final_message);
        out.append(",p=");
        base64::encode(detail::as_chars(proof), out);
        step_ = step::sent_client_final;
        return {};
    }

    errc on_server_final(std::string_view text)
    {
        // server-final-message = (server-error / verifier) ["," extensions]
        std::string_view rest = text, value;
        bool more = false;
        if (take_attribute(rest, 'e', value, more)) {
            error_detail_.assign(value);
            return errc::sasl_server_error;
        }
        if (!take_attribute(rest, 'v', value, more) || (more && !extensions_ok(rest)))
            return errc::sasl_malformed_challenge;
        std::string signature;
        error_code bec;
        base64::decode(value, signature, bec);
        if (bec)
            return errc::sasl_malformed_challenge;
        if (!detail::equal_constant_time(signature, detail::as_chars(server_signature_)))
            return errc::sasl_server_signature_mismatch;
        step_ = step::verified;
        return {};
    }

    credentials creds_;
    std::uint32_t max_iterations_;
    std::string nonce_;
    std::string gs2_header_;
    std::string client_first_bare_;
    digest server_signature_{};
    std::string error_detail_;
    step step_ = step::start;
};

/// SCRAM-SHA-256 (RFC 7677), the one to prefer.
template <crypto_provider Crypto>
using scram_sha256 = scram<Crypto, sha256>;

/// SCRAM-SHA-1 (RFC 5802).
template <crypto_provider Crypto>
using scram_sha1 = scram<Crypto, sha1>;

} // namespace sasl
SMTP_NAMESPACE_END

#endif

/// \file smtp/tls.hpp
///
/// TLS policies: when the session encrypts, and whether it checks who it
/// talks to. Secure by default: STARTTLS required and the certificate
/// verified; everything weaker has its own visible name.
///
/// ```
///   smtp::tls::starttls       STARTTLS required: until it has succeeded only
///                             EHLO, STARTTLS, RSET, NOOP, HELP and QUIT compile
///                             (default); AUTH too waits, whatever the auth policy
///   smtp::tls::implicit       TLS from the first byte (port 465, RFC 8314)
///   smtp::tls::opportunistic  STARTTLS when you call it; mail and AUTH may
///                             also go in clear (what smtplib's programs do)
///   smtp::tls::none           no TLS at all: starttls() does not compile
///
///   smtp::tls::verify_peer        the certificate chain against the system
///                                 trust store or a CA file, and the host name
///                                 against subjectAltName (RFC 7817) (default)
///   smtp::tls::insecure_no_verify no verification at all (tests, lab hosts)
/// ```
///
/// TLS 1.2 is the minimum (RFC 8996, 8997); SNI is sent for host names.
#ifndef SMTP_TLS_HPP
#define SMTP_TLS_HPP

#include <smtp/version.hpp>

#include <concepts>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

/// The policy_category of when the session encrypts (tls::starttls, ...).
struct tls_category {};
/// The policy_category of whether the certificate is checked (tls::verify_peer, ...).
struct verify_category {};

/// A TLS policy: what the session uses of one (tls::starttls and its siblings).
template <class T>
concept tls_policy = std::same_as<typename T::policy_category, tls_category> && requires {
    std::bool_constant<T::offers_starttls>{};
    std::bool_constant<T::implicit_tls>{};
    std::bool_constant<T::clear_text_allowed>{};
};
/// A certificate verification policy (tls::verify_peer, tls::insecure_no_verify).
template <class T>
concept verify_policy = std::same_as<typename T::policy_category, verify_category> &&
                        requires { std::bool_constant<T::verify>{}; };

namespace tls {

/// STARTTLS required: until it has succeeded only EHLO, STARTTLS, RSET,
/// NOOP, HELP and QUIT compile (the default); AUTH too waits for it, even
/// with auth::allow_plaintext.
struct starttls {
    using policy_category = tls_category;
    static constexpr bool offers_starttls = true;     ///< whether starttls() compiles
    static constexpr bool implicit_tls = false;       ///< whether TLS starts at the first byte
    static constexpr bool clear_text_allowed = false; ///< whether mail and AUTH may go in clear
};
/// TLS from the first byte (port 465, RFC 8314).
struct implicit {
    using policy_category = tls_category;
    static constexpr bool offers_starttls = false;
    static constexpr bool implicit_tls = true;
    static constexpr bool clear_text_allowed = false;
};
/// STARTTLS when you call it; mail and AUTH may also go in clear (what
/// smtplib's programs do).
struct opportunistic {
    using policy_category = tls_category;
    static constexpr bool offers_starttls = true;
    static constexpr bool implicit_tls = false;
    static constexpr bool clear_text_allowed = true;
};
/// No TLS at all: starttls() does not compile.
struct none {
    using policy_category = tls_category;
    static constexpr bool offers_starttls = false;
    static constexpr bool implicit_tls = false;
    static constexpr bool clear_text_allowed = true;
};

/// The certificate chain checked against the system trust store (or
/// connect_options::tls.ca_file), and the host name against subjectAltName
/// (RFC 7817) (the default).
struct verify_peer {
    using policy_category = verify_category;
    static constexpr bool verify = true; ///< whether the certificate is checked
};
/// No verification at all: anyone in the middle can read everything (tests,
/// lab hosts). Pins (tls_options::pin_sha256), when given, are still
/// checked: then the server's key is the only check.
struct insecure_no_verify {
    using policy_category = verify_category;
    static constexpr bool verify = false; ///< whether the certificate is checked
};

} // namespace tls
SMTP_NAMESPACE_END

#endif

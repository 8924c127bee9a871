/// \file smtp/auth.hpp
///
/// Auth policies: which SASL mechanisms a session may use, in the order it
/// prefers them, and whether credentials may cross an unencrypted connection.
///
/// ```
///   smtp::auth::mechanisms<M...>   these, best first: login() takes the first
///                                  one the server offers (default:
///                                  SCRAM-SHA-256, PLAIN, LOGIN)
///   smtp::auth::none               no mechanism: login() does not compile
///   smtp::auth::require_tls        AUTH only once the connection is encrypted (default)
///   smtp::auth::allow_plaintext    AUTH also in clear, under tls::opportunistic or
///                                  tls::none: credentials visible on the wire
///                                  (under tls::starttls AUTH waits for TLS whatever this says)
/// ```
///
/// A mechanism of your own is any type satisfying smtp::sasl::mechanism.
#ifndef SMTP_AUTH_HPP
#define SMTP_AUTH_HPP

#include <smtp/crypto/openssl.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/version.hpp>

#include <concepts>
#include <cstddef>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

/// The policy_category of the mechanism list (auth::mechanisms).
struct auth_category {};
/// The policy_category of whether AUTH may go in clear (auth::require_tls, auth::allow_plaintext).
struct plaintext_auth_category {};

namespace auth {

/// The SASL mechanisms a session may use, best first: login() takes the first
/// one the server offers.
template <sasl::mechanism... M>
struct mechanisms {
    using policy_category = auth_category;
    static constexpr std::size_t count = sizeof...(M); ///< how many there are
};

/// No mechanism: login() does not compile.
using none = mechanisms<>;

/// The default: SCRAM-SHA-256 (on OpenSSL), PLAIN, LOGIN.
using default_mechanisms =
    mechanisms<sasl::scram_sha256<crypto::openssl>, sasl::plain, sasl::login>;

/// AUTH only once the connection is encrypted: login() in clear does not
/// compile (the default).
struct require_tls {
    using policy_category = plaintext_auth_category;
    static constexpr bool allowed = false; ///< whether AUTH may go in clear
};
/// AUTH also in clear, for the TLS policies that allow clear text
/// (tls::opportunistic, tls::none): the credentials are visible on the
/// wire. Under tls::starttls AUTH still waits for STARTTLS.
struct allow_plaintext {
    using policy_category = plaintext_auth_category;
    static constexpr bool allowed = true; ///< whether AUTH may go in clear
};

} // namespace auth

namespace detail {
template <class A>
inline constexpr bool is_mechanism_list = false;
template <class... M>
inline constexpr bool is_mechanism_list<auth::mechanisms<M...>> = true;
} // namespace detail

/// An auth policy: a list of mechanisms, auth::mechanisms<M...> (the
/// session picks among them at AUTH). A mechanism of one's own goes in the
/// list; the list itself is always auth::mechanisms.
template <class A>
concept auth_policy = detail::is_mechanism_list<A>;
/// Whether AUTH may go in clear (auth::require_tls, auth::allow_plaintext).
template <class A>
concept plaintext_auth_policy = std::same_as<typename A::policy_category, plaintext_auth_category> &&
                                requires { std::bool_constant<A::allowed>{}; };

SMTP_NAMESPACE_END

#endif

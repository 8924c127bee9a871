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
///   smtp::auth::allow_plaintext    AUTH also in clear: credentials visible on the wire
/// ```
///
/// A mechanism of your own is any type satisfying smtp::sasl::mechanism.
#ifndef SMTP_AUTH_HPP
#define SMTP_AUTH_HPP

#include <smtp/crypto/openssl.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/version.hpp>

#include <cstddef>

SMTP_NAMESPACE_BEGIN

struct auth_category {};
struct plaintext_auth_category {};

namespace auth {

template <sasl::mechanism... M>
struct mechanisms {
    using policy_category = auth_category;
    static constexpr std::size_t count = sizeof...(M);
};

using none = mechanisms<>;

using default_mechanisms =
    mechanisms<sasl::scram_sha256<crypto::openssl>, sasl::plain, sasl::login>;

struct require_tls {
    using policy_category = plaintext_auth_category;
    static constexpr bool allowed = false;
};
struct allow_plaintext {
    using policy_category = plaintext_auth_category;
    static constexpr bool allowed = true;
};

} // namespace auth
SMTP_NAMESPACE_END

#endif

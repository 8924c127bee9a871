/// \file smtp/policies.hpp
///
/// A session is assembled from policies, named and in any order:
///
/// ```
///   using my_policies = smtp::policies<smtp::tls::implicit, smtp::log::transcript>;
/// ```
///
/// Each policy names its kind (its policy_category); a kind left out takes
/// its default: transport::tcp (with TLS over it), tls::starttls, tls::verify_peer,
/// auth::default_mechanisms, auth::require_tls, log::none, dialect::smtp.
/// Two policies of the same kind are an error, and so is a type that is not
/// a policy or a policy that does not satisfy its kind's concept (named in
/// each kind's header: tls_policy, verify_policy, auth_policy,
/// plaintext_auth_policy, logger, dialect_policy).
#ifndef SMTP_POLICIES_HPP
#define SMTP_POLICIES_HPP

#include <smtp/auth.hpp>
#include <smtp/dialect.hpp>
#include <smtp/detail/policy_set.hpp>
#include <smtp/log.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/extensions.hpp> // extensions policy (issue 13 section 3)
#include <smtp/tls.hpp>
#include <smtp/transport/fwd.hpp>
#include <smtp/version.hpp>
// The default transport's definitions, and smtp::transport_policy; in
// separate mode (SMTP_SEPARATE_COMPILATION) the names only: <smtp/src.hpp>
// compiles what uses them (docs/separate-compilation.md).
#ifndef SMTP_SEPARATE_COMPILATION
#include <smtp/transport/concepts.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/transport/tls_layer.hpp>
#endif

#include <concepts>
#include <cstddef>

SMTP_NAMESPACE_BEGIN

/// Something with a policy_category.
template <class P>
concept policy = requires { typename P::policy_category; };

namespace detail {
/// Each type named in policies<...> is checked here, one at a time, so that
/// the compiler's "required from" line names the one that is not a policy.
template <class T>
struct checked_policy {
    static_assert(policy<T>, "smtp::policies<...>: this type is not a policy (it has no policy_category); "
                             "the compiler names it in checked_policy<...> above");
    static constexpr bool ok = policy<T>;
};
} // namespace detail

/// The policies of a session, by kind, in any order. Each kind's policy is
/// checked against its concept: transport_policy, tls_policy, verify_policy, auth_policy,
/// plaintext_auth_policy, logger, dialect_policy.
template <class... Ps>
struct policies {
    // Completes checked_policy<T> for each T: its own static_assert speaks.
    static_assert(((sizeof(detail::checked_policy<Ps>) > 0) && ...));
    static_assert(detail::count_category<transport_category, Ps...> <= 1, "two transport policies");
    static_assert(detail::count_category<tls_category, Ps...> <= 1, "two TLS policies");
    static_assert(detail::count_category<verify_category, Ps...> <= 1, "two certificate verification policies");
    static_assert(detail::count_category<auth_category, Ps...> <= 1, "two auth policies");
    static_assert(detail::count_category<plaintext_auth_category, Ps...> <= 1, "two plaintext-auth policies");
    static_assert(detail::count_category<log_category, Ps...> <= 1, "two logging policies");
    static_assert(detail::count_category<dialect_category, Ps...> <= 1, "two dialect policies");
    // Extension types beyond the built-ins (smtp/protocol/extensions.hpp).
    static_assert(detail::count_category<extensions_category, Ps...> <= 1, "two extensions policies");

    /// The transport policy as named (transport::tcp by default): a stream or a session transport.
    using named_transport = detail::find_policy_t<transport_category, smtp::transport::tcp, Ps...>;
    /// What the session talks to: named_transport when it is a session
    /// transport, transport::tls_layer<named_transport> when it is a stream.
    using transport = typename detail::session_transport_for<named_transport>::type;
    using tls = detail::find_policy_t<tls_category, smtp::tls::starttls, Ps...>;
    using verify = detail::find_policy_t<verify_category, smtp::tls::verify_peer, Ps...>;
    using auth = detail::find_policy_t<auth_category, smtp::auth::default_mechanisms, Ps...>;
    using plaintext_auth = detail::find_policy_t<plaintext_auth_category, smtp::auth::require_tls, Ps...>;
    using log = detail::find_policy_t<log_category, smtp::log::none, Ps...>;
    using dialect = detail::find_policy_t<dialect_category, smtp::dialect::smtp, Ps...>;
    using extensions = detail::find_policy_t<extensions_category, smtp::extensions<>, Ps...>;

    // Each message says what the concept asks, for the contexts where a
    // compiler does not spell out the failed requirement.
    static_assert(detail::transport_policy_check<named_transport>::value,
                  "smtp::policies<...>: the transport does not satisfy smtp::transport_policy: policy_category = "
                  "smtp::transport_category, executor_type, get_executor(), async_connect(options, h), "
                  "async_read_some(buffer, h), cancel(), close(), a move constructor, and either "
                  "async_write_some(buffer, h) (a stream: the session does TLS over it) or "
                  "async_write(buffer, h), async_handshake(options, verify, h) and encrypted() const "
                  "(a session transport)");
    static_assert(tls_policy<tls>, "smtp::policies<...>: the TLS policy does not satisfy smtp::tls_policy: "
                                   "policy_category = smtp::tls_category and static constexpr bool offers_starttls, "
                                   "implicit_tls, clear_text_allowed");
    static_assert(verify_policy<verify>, "smtp::policies<...>: the verification policy does not satisfy "
                                         "smtp::verify_policy: policy_category = smtp::verify_category and "
                                         "static constexpr bool verify");
    static_assert(auth_policy<auth>, "smtp::policies<...>: the auth policy must be smtp::auth::mechanisms<...>");
    static_assert(plaintext_auth_policy<plaintext_auth>,
                  "smtp::policies<...>: the plaintext-auth policy does not satisfy smtp::plaintext_auth_policy: "
                  "policy_category = smtp::plaintext_auth_category and static constexpr bool allowed");
    static_assert(logger<log>, "smtp::policies<...>: the log policy does not satisfy smtp::logger: "
                               "policy_category = smtp::log_category, static constexpr bool enabled, "
                               "on_send(std::string_view, smtp::log::sent), on_reply(const smtp::reply_view&, bool), "
                               "and a move constructor");
    static_assert(extensions_policy<extensions>,
                  "smtp::policies<...>: the extensions policy must be smtp::extensions<...>");
    static_assert(dialect_policy<dialect>, "smtp::policies<...>: the dialect policy does not satisfy "
                                           "smtp::dialect_policy: policy_category = smtp::dialect_category and "
                                           "static constexpr bool per_recipient_replies");
};

SMTP_NAMESPACE_END

#endif

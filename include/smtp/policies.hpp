/// \file smtp/policies.hpp
///
/// A session is assembled from policies, named and in any order:
///
/// ```
///   using my_policies = smtp::policies<smtp::tls::implicit, smtp::log::transcript>;
/// ```
///
/// Each policy names its kind (its policy_category); a kind left out takes
/// its default: transport::tcp, tls::starttls, tls::verify_peer,
/// auth::default_mechanisms, auth::require_tls, log::none, dialect::smtp.
/// Two policies of the same kind are an error.
#ifndef SMTP_POLICIES_HPP
#define SMTP_POLICIES_HPP

#include <smtp/auth.hpp>
#include <smtp/dialect.hpp>
#include <smtp/detail/policy_set.hpp>
#include <smtp/log.hpp>
#include <smtp/tls.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN

/// Something with a policy_category.
template <class P>
concept policy = requires { typename P::policy_category; };

template <policy... Ps>
struct policies {
    static_assert(detail::count_category<transport_category, Ps...> <= 1, "two transport policies");
    static_assert(detail::count_category<tls_category, Ps...> <= 1, "two TLS policies");
    static_assert(detail::count_category<verify_category, Ps...> <= 1, "two certificate verification policies");
    static_assert(detail::count_category<auth_category, Ps...> <= 1, "two auth policies");
    static_assert(detail::count_category<plaintext_auth_category, Ps...> <= 1, "two plaintext-auth policies");
    static_assert(detail::count_category<log_category, Ps...> <= 1, "two logging policies");
    static_assert(detail::count_category<dialect_category, Ps...> <= 1, "two dialect policies");

    using transport = detail::find_policy_t<transport_category, smtp::transport::tcp, Ps...>;
    using tls = detail::find_policy_t<tls_category, smtp::tls::starttls, Ps...>;
    using verify = detail::find_policy_t<verify_category, smtp::tls::verify_peer, Ps...>;
    using auth = detail::find_policy_t<auth_category, smtp::auth::default_mechanisms, Ps...>;
    using plaintext_auth = detail::find_policy_t<plaintext_auth_category, smtp::auth::require_tls, Ps...>;
    using log = detail::find_policy_t<log_category, smtp::log::none, Ps...>;
    using dialect = detail::find_policy_t<dialect_category, smtp::dialect::smtp, Ps...>;
};

SMTP_NAMESPACE_END

#endif

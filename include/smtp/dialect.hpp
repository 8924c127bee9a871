/// \file smtp/dialect.hpp
///
/// The dialect policy: SMTP (RFC 5321, the default) or LMTP (RFC 2033), the
/// same client either way.
///
/// ```
///   using lmtp_client = smtp::policies<smtp::dialect::lmtp, smtp::tls::none>;
/// ```
///
/// Under LMTP, ehlo() sends LHLO (there is no HELO to fall back on) and every
/// transaction reads one reply per accepted recipient after the data; each
/// lands in that recipient's transaction_result entry (recipient_result::delivery).
#ifndef SMTP_DIALECT_HPP
#define SMTP_DIALECT_HPP

#include <smtp/version.hpp>

#include <concepts>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

struct dialect_category {};

/// A dialect policy: whether the end of data gets one reply per recipient.
template <class D>
concept dialect_policy = std::same_as<typename D::policy_category, dialect_category> &&
                         requires { std::bool_constant<D::per_recipient_replies>{}; };

namespace dialect {

/// SMTP: EHLO (HELO for servers that refuse it), one reply to the end of data.
struct smtp {
    using policy_category = dialect_category;
    static constexpr bool per_recipient_replies = false;
};

/// LMTP: LHLO, one reply per accepted recipient to the end of data.
struct lmtp {
    using policy_category = dialect_category;
    static constexpr bool per_recipient_replies = true;
};

} // namespace dialect
SMTP_NAMESPACE_END

#endif

/// \file smtp/client.hpp
///
/// Opening a session.
///
/// ```
///   // Synchronous: the session runs its own io_context.
///   auto s = smtp::connect<smtp::policies<smtp::tls::implicit>>(options);
///   auto s = smtp::connect<P>(options, smtp::log::transcript(std::cerr));   // with a logger
///   auto s = smtp::connect<P>(options, script);     // scripted transport: its constructor's arguments
///
///   // Asynchronous, on your executor, with any completion token:
///   auto s = co_await smtp::async_connect<P>(executor, options, boost::asio::use_awaitable);
///   auto s = co_await smtp::async_connect<P>(executor, options, diag, boost::asio::use_awaitable); // with diagnostics
/// ```
///
/// The session starts in state::connected<E>: the 220 greeting was read (E is
/// true for implicit TLS, after the handshake and the certificate check).
#ifndef SMTP_CLIENT_HPP
#define SMTP_CLIENT_HPP

#include <smtp/session.hpp>
#include <smtp/version.hpp>

#include <memory>
#include <optional>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

template <class P>
using connected_session = session<P, state::connected<P::tls::implicit_tls>>;

namespace detail {
template <class P, class... A>
connection_ptr<connection_for<P>> make_sync_with_args(const connect_options& o, A&&... a);
template <class P, class Executor, class Token, class... A>
auto async_connect_impl(Executor ex, const connect_options& o, diagnostics* diag, Token&& token, A&&... a);

/// The connection for the synchronous connect(): with the logger given (or
/// a default one) from the compiled part; with the transport's own
/// arguments, from the full definitions.
template <class P, class... A>
connection_ptr<connection_for<P>> make_sync(const connect_options& o, A&&... a)
{
    using conn = connection_for<P>;
    using log_type = typename P::log;
    constexpr bool verify = P::verify::verify;
    constexpr bool lmtp = P::dialect::per_recipient_replies;
    if constexpr (sizeof...(A) == 0) {
        static_assert(std::is_default_constructible_v<log_type>,
                      "smtp::connect: this logger has no default constructor: pass one to connect()");
        return make_sync_connection<typename P::transport, log_type>(o, log_type{}, verify, lmtp);
    } else if constexpr (sizeof...(A) == 1 && (std::is_same_v<std::decay_t<A>, log_type> && ...) &&
                         !std::is_same_v<log_type, log::none>) {
        return make_sync_connection<typename P::transport, log_type>(o, log_type(std::forward<A>(a)...), verify,
                                                                     lmtp);
    } else {
        static_assert(has_full_definitions<conn>,
                      "smtp: separate mode (SMTP_SEPARATE_COMPILATION): connect() with the transport's own "
                      "arguments needs the full definitions: #include <smtp/full.hpp> in this file "
                      "(docs/separate-compilation.md)");
        return make_sync_with_args<P>(o, std::forward<A>(a)...);
    }
}
/// DANE (connect_options::tls.dane) makes TLS mandatory: under a TLS policy
/// that allows clear text, nothing is opened (errc::dane_in_clear).
template <class P>
bool dane_refused(const connect_options& o) noexcept
{
    return P::tls::clear_text_allowed && o.tls.dane.mode != dane::mode::off;
}
} // namespace detail

/// Connects, does the TLS handshake for implicit TLS, reads the greeting.
/// Extra arguments: the logger (when it is P's log policy), then the
/// transport's own constructor arguments after its executor.
template <class P = policies<>, class... A>
std::optional<connected_session<P>> connect(const connect_options& o, error_code& ec, diagnostics& diag, A&&... a)
{
    if (detail::dane_refused<P>(o)) {
        ec = errc::dane_in_clear;
        diag = {};
        return std::nullopt;
    }
    auto c = detail::make_sync<P>(o, std::forward<A>(a)...);
    ec = detail::run(*c, sansio::greeting(P::tls::implicit_tls));
    diag = detail::state_of(*c).diag;
    if (ec)
        return std::nullopt;
    return detail::session_access::make<P, state::connected<P::tls::implicit_tls>>(std::move(c));
}

template <class P = policies<>, class... A>
connected_session<P> connect(const connect_options& o, A&&... a)
{
    error_code ec;
    diagnostics diag;
    auto s = connect<P>(o, ec, diag, std::forward<A>(a)...);
    detail::throw_on_error(ec, diag);
    return std::move(*s);
}

/// Asynchronous connect on `ex`. Completion: void(error_code,
/// std::optional<session>): the session when the error code is clear.
template <class P = policies<>, class Executor, class Token, class... A>
auto async_connect(Executor ex, const connect_options& o, Token&& token, A&&... a)
{
    static_assert(detail::has_full_definitions<detail::connection_for<P>>, SMTP_DETAIL_ASYNC_NEEDS_FULL);
    return detail::async_connect_impl<P>(ex, o, nullptr, std::forward<Token>(token), std::forward<A>(a)...);
}

/// The same, with the diagnostics: `diag` (which must outlive the operation)
/// is filled before the completion runs: the host, port and addresses of a
/// failed connect, the first bytes of a server that is not SMTP, the
/// server's refusal.
template <class P = policies<>, class Executor, class Token, class... A>
auto async_connect(Executor ex, const connect_options& o, diagnostics& diag, Token&& token, A&&... a)
{
    static_assert(detail::has_full_definitions<detail::connection_for<P>>, SMTP_DETAIL_ASYNC_NEEDS_FULL);
    return detail::async_connect_impl<P>(ex, o, &diag, std::forward<Token>(token), std::forward<A>(a)...);
}

SMTP_NAMESPACE_END

#ifndef SMTP_SEPARATE_COMPILATION
#include <smtp/detail/client_ops.hpp>
#endif

#endif

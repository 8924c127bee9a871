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

#include <boost/asio/async_result.hpp>

#include <memory>
#include <optional>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

template <class P>
using connected_session = session<P, state::connected<P::tls::implicit_tls>>;

namespace detail {

template <class P, class Executor, class... A>
auto make_connection_for(Executor ex, const connect_options& o, std::shared_ptr<boost::asio::io_context> owned,
                         A&&... a)
{
    using conn = connection_for<P>;
    using log_type = typename P::log;
    constexpr bool verify = P::verify::verify;
    if constexpr (sizeof...(A) > 0) {
        using first = std::decay_t<std::tuple_element_t<0, std::tuple<A...>>>;
        if constexpr (std::is_same_v<first, log_type> && !std::is_same_v<log_type, log::none>) {
            return [&]<class L, class... R>(L&& l, R&&... rest) {
                return std::make_unique<conn>(typename P::transport(ex, std::forward<R>(rest)...), o,
                                              std::forward<L>(l), std::move(owned), verify);
            }(std::forward<A>(a)...);
        } else {
            static_assert(std::is_default_constructible_v<log_type>,
                          "smtp::connect: this logger has no default constructor: pass one to connect(), before "
                          "the transport's arguments");
            return std::make_unique<conn>(typename P::transport(ex, std::forward<A>(a)...), o, log_type{},
                                          std::move(owned), verify);
        }
    } else {
        static_assert(std::is_default_constructible_v<log_type>,
                      "smtp::connect: this logger has no default constructor: pass one to connect()");
        return std::make_unique<conn>(typename P::transport(ex), o, log_type{}, std::move(owned), verify);
    }
}

template <class P, class Executor, class... A>
auto make_connection(Executor ex, const connect_options& o, std::shared_ptr<boost::asio::io_context> owned,
                     A&&... a)
{
    auto c = make_connection_for<P>(ex, o, std::move(owned), std::forward<A>(a)...);
    c->st.lmtp = P::dialect::per_recipient_replies;
    return c;
}

} // namespace detail

/// Connects, does the TLS handshake for implicit TLS, reads the greeting.
/// Extra arguments: the logger (when it is P's log policy), then the
/// transport's own constructor arguments after its executor.
template <class P = policies<>, class... A>
std::optional<connected_session<P>> connect(const connect_options& o, error_code& ec, diagnostics& diag, A&&... a)
{
    auto ctx = std::make_shared<boost::asio::io_context>(1);
    auto c = detail::make_connection<P>(ctx->get_executor(), o, ctx, std::forward<A>(a)...);
    ec = detail::run(*c, sansio::greeting(P::tls::implicit_tls));
    diag = c->st.diag;
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

namespace detail {
template <class P, class Executor, class Token, class... A>
auto async_connect_impl(Executor ex, const connect_options& o, diagnostics* diag, Token&& token, A&&... a)
{
    using result = std::optional<connected_session<P>>;
    auto c = detail::make_connection<P>(ex, o, nullptr, std::forward<A>(a)...);
    return detail::initiate<void(error_code, result), Token>(
        [diag](auto handler, auto conn) {
            auto& ref = *conn;
            detail::async_run_for(ref, sansio::greeting(P::tls::implicit_tls), std::move(handler),
                                  [conn = std::move(conn), diag](auto&& h, error_code ec) mutable {
                                      if (diag)
                                          *diag = conn->st.diag;
                                      if (ec)
                                          return std::move(h)(ec, result{});
                                      std::move(h)(ec, result{detail::session_access::make<
                                                       P, state::connected<P::tls::implicit_tls>>(std::move(conn))});
                                  });
        },
        token, std::move(c));
}
} // namespace detail

/// Asynchronous connect on `ex`. Completion: void(error_code,
/// std::optional<session>): the session when the error code is clear.
template <class P = policies<>, class Executor, class Token, class... A>
auto async_connect(Executor ex, const connect_options& o, Token&& token, A&&... a)
{
    return detail::async_connect_impl<P>(ex, o, nullptr, std::forward<Token>(token), std::forward<A>(a)...);
}

/// The same, with the diagnostics: `diag` (which must outlive the operation)
/// is filled before the completion runs: the host, port and addresses of a
/// failed connect, the first bytes of a server that is not SMTP, the
/// server's refusal.
template <class P = policies<>, class Executor, class Token, class... A>
auto async_connect(Executor ex, const connect_options& o, diagnostics& diag, Token&& token, A&&... a)
{
    return detail::async_connect_impl<P>(ex, o, &diag, std::forward<Token>(token), std::forward<A>(a)...);
}

SMTP_NAMESPACE_END

#endif

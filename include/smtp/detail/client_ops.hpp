// smtp/detail/client_ops.hpp
//
// What connect() and async_connect() (smtp/client.hpp) need of the full
// definitions: a connection made with the transport's own arguments, and
// the asynchronous connect. Included by client.hpp header-only, by
// <smtp/full.hpp> in separate mode.
#ifndef SMTP_DETAIL_CLIENT_OPS_HPP
#define SMTP_DETAIL_CLIENT_OPS_HPP

#include <smtp/client.hpp>
#include <smtp/detail/connection_ops.hpp>
#include <smtp/version.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>

SMTP_NAMESPACE_BEGIN
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
                return connection_ptr<conn>(new conn(typename P::transport(ex, std::forward<R>(rest)...), o,
                                              std::forward<L>(l), std::move(owned), verify));
            }(std::forward<A>(a)...);
        } else {
            static_assert(std::is_default_constructible_v<log_type>,
                          "smtp::connect: this logger has no default constructor: pass one to connect(), before "
                          "the transport's arguments");
            return connection_ptr<conn>(new conn(typename P::transport(ex, std::forward<A>(a)...), o, log_type{},
                                          std::move(owned), verify));
        }
    } else {
        static_assert(std::is_default_constructible_v<log_type>,
                      "smtp::connect: this logger has no default constructor: pass one to connect()");
        return connection_ptr<conn>(new conn(typename P::transport(ex), o, log_type{}, std::move(owned), verify));
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

template <class P, class... A>
connection_ptr<connection_for<P>> make_sync_with_args(const connect_options& o, A&&... a)
{
    auto ctx = std::make_shared<boost::asio::io_context>(1);
    return make_connection<P>(ctx->get_executor(), o, ctx, std::forward<A>(a)...);
}


template <class P, class Executor, class Token, class... A>
auto async_connect_impl(Executor ex, const connect_options& o, diagnostics* diag, Token&& token, A&&... a)
{
    using result = std::optional<connected_session<P>>;
    auto c = detail::make_connection<P>(ex, o, nullptr, std::forward<A>(a)...);
    const bool refused = detail::dane_refused<P>(o);
    return detail::initiate<void(error_code, result), Token>(
        [diag, refused](auto handler, auto conn) {
            if (refused) { // nothing opened: the completion on the handler's executor, as for any failure
                auto ex = boost::asio::get_associated_executor(handler, conn->transport.get_executor());
                if (diag)
                    *diag = {};
                return boost::asio::post(ex, [h = std::move(handler)]() mutable {
                    std::move(h)(make_error_code(errc::dane_in_clear), result{});
                });
            }
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

SMTP_NAMESPACE_END

#endif

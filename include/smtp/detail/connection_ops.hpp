// smtp/detail/connection_ops.hpp
//
// The definitions behind smtp/detail/connection_fwd.hpp: the connection
// (transport, timer, protocol state), the driver, and what the session
// facade does with them. Header-only, session.hpp includes this; in separate
// mode <smtp/src.hpp> does (and <smtp/full.hpp>, for what src.hpp does not
// cover).
#ifndef SMTP_DETAIL_CONNECTION_OPS_HPP
#define SMTP_DETAIL_CONNECTION_OPS_HPP

#include <smtp/detail/connection.hpp>
#include <smtp/detail/connection_fwd.hpp>
#include <smtp/detail/driver.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/transport/tls_layer.hpp>
#include <smtp/version.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <stdexcept>

SMTP_NAMESPACE_BEGIN
namespace detail {

template <class T, class L>
struct full_definitions<connection<T, L>> {};

template <class T, class L>
inline sansio::session_state<L>& state_of(connection<T, L>& c) noexcept
{
    return c.st;
}
template <class T, class L>
inline const sansio::session_state<L>& state_of(const connection<T, L>& c) noexcept
{
    return c.st;
}
template <class T, class L>
inline bool transport_encrypted(const connection<T, L>& c) noexcept
{
    return c.transport.encrypted();
}
template <class T, class L>
inline T& transport_of(connection<T, L>& c) noexcept
{
    return c.transport;
}
template <class T, class L>
inline bool runs_own_context(const connection<T, L>& c) noexcept
{
    return c.owned_context != nullptr;
}
template <class T, class L>
inline void close_transport(connection<T, L>& c)
{
    c.transport.close();
}
template <class T, class L>
inline void destroy_connection(connection<T, L>* c) noexcept
{
    delete c;
}

/// A synchronous run of an algorithm seen through algorithm_ref.
template <class Conn, class Log>
struct sync_run final : sync_run_base<Conn> {
    algorithm_ref<Log> algo;
    sync_run(Conn& c, algorithm_ref<Log> a) : sync_run_base<Conn>(c), algo(a) {}
    next_action resume(error_code io_ec) override { return algo.resume(algo.algo, this->c->st, io_ec); }
};

template <class T, class L>
inline error_code run_algorithm(connection<T, L>& c, algorithm_ref<L> a)
{
    if (!c.owned_context)
        throw std::logic_error("smtp: synchronous call on a session made by async_connect");
    sync_run<connection<T, L>, L> r(c, a);
    return finish_sync<connection<T, L>>(r);
}

template <class T, class L>
inline connection_ptr<connection<T, L>> make_sync_connection(const connect_options& o, L log, bool verify, bool lmtp)
{
    auto ctx = std::make_shared<boost::asio::io_context>(1);
    auto ex = ctx->get_executor();
    connection_ptr<connection<T, L>> c(new connection<T, L>(T(ex), o, std::move(log), std::move(ctx), verify));
    c->st.lmtp = lmtp;
    return c;
}

template <class Conn, class Handler, class F>
void post_to_handler(Conn& c, Handler handler, F f)
{
    auto ex = boost::asio::get_associated_executor(handler, c.transport.get_executor());
    boost::asio::post(ex, [handler = std::move(handler), f = std::move(f)]() mutable { std::move(f)(std::move(handler)); });
}

} // namespace detail
SMTP_NAMESPACE_END

#endif

// smtp/transport/tcp.hpp
//
// The TCP stream transport: Boost.Asio sockets, name resolution, an optional
// source address, and Happy Eyeballs (RFC 8305) across the addresses a name
// has. No TLS here: the session puts transport::tls_layer (tls_layer.hpp)
// over it.
//
// Happy Eyeballs: the resolved addresses are ordered IPv6 first, then the
// families alternate (v6, v4, v6, v4, ...; RFC 8305 4). The first attempt
// starts at once, each next one 250 ms after the previous started (the
// "Connection Attempt Delay", RFC 8305 5), or at once when the previous one
// failed; the first to connect wins and the others are cancelled. So an
// address that never answers costs 250 ms, not the connect timeout. With a
// source address, the addresses of the other family are skipped (recorded as
// address_family_not_supported).
//
// For errors that say what happened, it keeps each address a connect tried
// with its error (connect_attempts()), in the order the attempts started.
/// \file smtp/transport/tcp.hpp
/// The TCP stream transport: Boost.Asio sockets, name resolution, Happy
/// Eyeballs (RFC 8305). The session runs TLS over it with transport::tls_layer.
#ifndef SMTP_TRANSPORT_TCP_HPP
#define SMTP_TRANSPORT_TCP_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/cancellation.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/socket.h>
#include <sys/time.h>
#endif

SMTP_NAMESPACE_BEGIN

namespace transport {

class tcp {
public:
    using policy_category = transport_category;
    using executor_type = boost::asio::any_io_executor;
    using endpoint = boost::asio::ip::tcp::endpoint;
    /// A resolver of one's own (tests): the addresses of a host and port, at
    /// once. The default, and the production path, is Asio's asynchronous
    /// resolver (getaddrinfo).
    using resolve_function = std::function<std::vector<endpoint>(const std::string& host, std::uint16_t port,
                                                                 error_code& ec)>;
    /// A resolve_function that answers every name with `address` (at the
    /// port asked): connect to a known address while the name stays the one
    /// for SNI and the certificate check.
    static resolve_function resolve_to(boost::asio::ip::address address)
    {
        return [address](const std::string&, std::uint16_t port, error_code&) {
            return std::vector<endpoint>{endpoint(address, port)};
        };
    }
    /// The delay before the next address is tried while the previous attempt
    /// is still pending (RFC 8305 5 recommends 250 ms).
    static constexpr std::chrono::milliseconds attempt_delay{250};

    explicit tcp(executor_type ex) : socket_(ex), resolver_(ex) {}
    tcp(executor_type ex, resolve_function resolve) : socket_(ex), resolver_(ex), resolve_(std::move(resolve)) {}
    tcp(tcp&&) noexcept = default;
    tcp& operator=(tcp&&) noexcept = default;
    /// A connect still in progress is cut off (its handler gets
    /// operation_aborted) and no longer touches this object.
    ~tcp()
    {
        if (auto r = race_.lock())
            r->detach();
    }

    executor_type get_executor() { return socket_.get_executor(); }

    /// Resolves o.host and connects to o.port, by Happy Eyeballs over the
    /// addresses. Handler: void(error_code).
    template <class Handler>
    auto async_connect(const connect_options& o, Handler&& handler)
    {
        return boost::asio::async_initiate<Handler, void(error_code)>(
            [this, &o](auto h) {
                auto r = std::make_shared<race<decltype(h)>>(this, o, std::move(h));
                race_ = r;
                r->start();
            },
            handler);
    }

    /// The addresses the last connect tried, in order, each with its error
    /// (the one that answered has none). Empty when the name did not resolve.
    const std::vector<connect_attempt>& connect_attempts() const noexcept { return attempts_; }

    /// Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_read_some(boost::asio::mutable_buffer b, Handler&& handler)
    {
        socket_.async_read_some(b, std::forward<Handler>(handler));
    }

    /// Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_write_some(boost::asio::const_buffer b, Handler&& handler)
    {
        socket_.async_write_some(b, std::forward<Handler>(handler));
    }

    /// Cancels a connect in progress (every attempt and the resolver) or
    /// the pending reads and writes.
    void cancel()
    {
        error_code ignored;
        resolver_.cancel();
        if (auto r = race_.lock())
            r->cancel();
        socket_.cancel(ignored);
    }

    void close()
    {
        error_code ignored;
        socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

    /// The socket (to set options of one's own once connected).
    boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

    /// The connected socket's descriptor, for the synchronous driver's
    /// direct reads and writes (smtp/detail/blocking_io.hpp); -1 when closed.
    int sync_descriptor() noexcept
    {
#if defined(__unix__) || defined(__APPLE__)
        return socket_.is_open() ? static_cast<int>(socket_.native_handle()) : -1;
#else
        return -1;
#endif
    }

    /// The same, with the socket in blocking mode for the synchronous
    /// driver's reads: recv waits for the reply itself, and no readiness
    /// wait (poll) goes before it, one system call less a read. A blocking
    /// recv waits at most `longest_wait` (SO_RCVTIMEO), so the driver still
    /// keeps its deadline. Asio puts the socket back in non-blocking mode
    /// when an asynchronous operation starts on it (after STARTTLS, say).
    /// -1 when closed, or when the mode or the wait cannot be set.
    int blocking_descriptor(std::chrono::microseconds longest_wait) noexcept
    {
#if defined(__unix__) || defined(__APPLE__)
        const int fd = sync_descriptor();
        if (fd < 0 || (receive_wait_set_ && !socket_.native_non_blocking()))
            return fd;
        error_code ec;
        socket_.native_non_blocking(false, ec);
        if (ec)
            return -1;
        if (!receive_wait_set_) {
            timeval tv{};
            tv.tv_sec = static_cast<decltype(tv.tv_sec)>(longest_wait.count() / 1'000'000);
            tv.tv_usec = static_cast<decltype(tv.tv_usec)>(longest_wait.count() % 1'000'000);
            if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
                socket_.native_non_blocking(true, ec);
                return -1;
            }
            receive_wait_set_ = true;
        }
        return fd;
#else
        (void)longest_wait;
        return -1;
#endif
    }

private:
    /// What cancel() reaches of a connect in progress.
    struct race_base {
        virtual ~race_base() = default;
        virtual void cancel() = 0;
        virtual void detach() = 0;
    };

    /// One Happy Eyeballs connect: the resolved addresses in their order,
    /// the attempts in flight, the delay timer. Shared by the handlers of
    /// its attempts; completes once, when one connected or all failed.
    template <class Handler>
    struct race : race_base, std::enable_shared_from_this<race<Handler>> {
        using socket = boost::asio::ip::tcp::socket;
        using work_executor = boost::asio::associated_executor_t<Handler, executor_type>;

        tcp* self;
        const connect_options& o;
        Handler h;
        boost::asio::executor_work_guard<work_executor> work;
        boost::asio::steady_timer timer;
        std::vector<endpoint> order{};
        std::size_t next = 0;
        struct attempt {
            std::unique_ptr<socket> sock;
            std::size_t index; // in attempts_
            bool pending = true;
        };
        std::vector<attempt> flying{};
        std::size_t in_flight = 0;
        bool done = false, cancelled = false;
        error_code last{};
        boost::asio::ip::address source{};
        bool has_source = false;

        race(tcp* t, const connect_options& opts, Handler handler)
            : self(t), o(opts), h(std::move(handler)),
              work(boost::asio::get_associated_executor(h, t->socket_.get_executor())),
              timer(t->socket_.get_executor())
        {}

        void start()
        {
            namespace asio = boost::asio;
#if SMTP_HAS_CANCELLATION
            // The caller's terminal cancellation cuts the race off as
            // cancel() does: the resolver, every attempt, the delay.
            auto slot = asio::get_associated_cancellation_slot(h);
            if (slot.is_connected())
                slot.assign([w = std::weak_ptr<race>(this->shared_from_this())](asio::cancellation_type type) {
                    if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none)
                        return;
                    if (auto r = w.lock(); r && !r->done) {
                        r->cancel();
                        if (r->self)
                            r->self->resolver_.cancel();
                    }
                });
#endif
            self->attempts_.clear();
            error_code ignored;
            self->socket_.close(ignored);
            if (!o.source_address.empty()) {
                error_code ec;
                source = asio::ip::make_address(o.source_address, ec);
                if (ec)
                    return finish_later(ec);
                has_source = true;
            }
            if (self->resolve_) {
                error_code ec;
                auto eps = self->resolve_(o.host, o.port, ec);
                if (ec)
                    return finish_later(ec);
                return resolved(std::move(eps));
            }
            self->resolver_.async_resolve(
                o.host, std::to_string(o.port),
                [r = this->shared_from_this()](error_code ec, asio::ip::tcp::resolver::results_type results) {
                    if (ec || r->cancelled || !r->self)
                        return r->finish(ec ? ec : error_code(asio::error::operation_aborted));
                    std::vector<endpoint> eps;
                    for (const auto& e : results)
                        eps.push_back(e.endpoint());
                    r->resolved(std::move(eps));
                });
        }

        /// RFC 8305 4: IPv6 first, then the families alternate.
        void resolved(std::vector<endpoint> eps)
        {
            std::vector<endpoint> v6, v4;
            for (const auto& e : eps)
                (e.address().is_v6() ? v6 : v4).push_back(e);
            for (std::size_t i = 0; i < std::max(v6.size(), v4.size()); ++i) {
                if (i < v6.size())
                    order.push_back(v6[i]);
                if (i < v4.size())
                    order.push_back(v4[i]);
            }
            start_next();
            if (in_flight == 0 && !done)
                finish_later(last ? last : error_code(boost::asio::error::host_not_found));
        }

        /// Starts the next address that can be tried; arms the delay timer.
        void start_next()
        {
            namespace asio = boost::asio;
            for (; next < order.size() && !cancelled; ++next) {
                const endpoint ep = order[next];
                if (has_source && source.is_v4() != ep.address().is_v4()) { // another family than the source
                    self->attempts_.push_back({ep.address().to_string(), asio::error::address_family_not_supported});
                    continue;
                }
                auto sock = std::make_unique<socket>(self->socket_.get_executor());
                error_code ec;
                if (has_source) {
                    sock->open(ep.protocol(), ec);
                    if (!ec)
                        sock->bind(endpoint(source, 0), ec);
                }
                self->attempts_.push_back({ep.address().to_string(), ec});
                if (ec) {
                    last = ec;
                    continue;
                }
                const std::size_t index = self->attempts_.size() - 1;
                socket& s = *sock;
                flying.push_back({std::move(sock), index});
                ++in_flight;
                ++next;
                s.async_connect(ep, [r = this->shared_from_this(), &s, index](error_code e) {
                    r->connected(s, index, e);
                });
                if (next < order.size()) {
                    timer.expires_after(attempt_delay);
                    timer.async_wait([r = this->shared_from_this()](error_code e) {
                        if (!e && !r->done && !r->cancelled && r->self)
                            r->start_next();
                    });
                }
                return;
            }
        }

        void connected(socket& s, std::size_t index, error_code ec)
        {
            --in_flight;
            for (auto& a : flying)
                if (a.sock.get() == &s)
                    a.pending = false;
            if (!self) { // the tcp is gone (detach)
                if (in_flight == 0)
                    finish(boost::asio::error::operation_aborted);
                return;
            }
            if (done) // a later attempt, cut off by the winner (whose connect may be over)
                return;
            self->attempts_[index].error = ec;
            if (!ec) {
                done = true;
                timer.cancel();
                for (auto& a : flying)
                    if (a.pending) { // still trying: cut off
                        error_code ignored;
                        a.sock->close(ignored);
                        self->attempts_[a.index].error = boost::asio::error::operation_aborted;
                    }
                self->socket_ = std::move(s);
                self->receive_wait_set_ = false; // a new socket: no SO_RCVTIMEO yet
                // The client writes whole commands and groups of them:
                // Nagle's algorithm would only hold the last piece back
                // until the server's delayed ACK (tens of milliseconds).
                error_code ignored;
                self->socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
                return complete({});
            }
            last = ec;
            if (!cancelled && ec != boost::asio::error::operation_aborted)
                start_next(); // a failure starts the next address at once
            if (in_flight == 0 && (cancelled || next >= order.size()))
                finish(cancelled ? error_code(boost::asio::error::operation_aborted) : last);
        }

        void detach() override
        {
            cancel();
            self = nullptr;
        }

        void cancel() override
        {
            if (done)
                return;
            cancelled = true;
            timer.cancel();
            for (auto& a : flying)
                if (a.pending) {
                    error_code ignored;
                    a.sock->cancel(ignored);
                }
        }

        void finish(error_code ec)
        {
            if (done)
                return;
            done = true;
            timer.cancel();
            complete(ec);
        }
        void finish_later(error_code ec)
        {
            done = true;
            boost::asio::post(timer.get_executor(), [r = this->shared_from_this(), ec]() mutable { r->complete(ec); });
        }
        void complete(error_code ec)
        {
#if SMTP_HAS_CANCELLATION
            auto slot = boost::asio::get_associated_cancellation_slot(h);
            if (slot.is_connected())
                slot.clear(); // the race is over: nothing left to cut off
#endif
            auto ex = work.get_executor();
            work.reset();
            boost::asio::post(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
        }
    };

    boost::asio::ip::tcp::socket socket_;
    boost::asio::ip::tcp::resolver resolver_;
    resolve_function resolve_{};
    std::weak_ptr<race_base> race_{};
    std::vector<connect_attempt> attempts_{};
    bool receive_wait_set_ = false; ///< the socket has its SO_RCVTIMEO (blocking_descriptor())
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

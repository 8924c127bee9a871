// smtp/transport/tcp.hpp
//
// The TCP stream transport: Boost.Asio sockets, name resolution (IPv4 and
// IPv6, every address tried in turn), an optional source address. No TLS
// here: the session puts transport::tls_layer (tls_layer.hpp) over it.
//
// For errors that say what happened, it keeps each address a connect tried
// with its error (connect_attempts()).
/// \file smtp/transport/tcp.hpp
/// The TCP stream transport: Boost.Asio sockets and name resolution. The
/// session runs TLS over it with transport::tls_layer.
#ifndef SMTP_TRANSPORT_TCP_HPP
#define SMTP_TRANSPORT_TCP_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace transport {

/// One address a connect tried, and how that went (for diagnostics: "connect
/// to mail.example.org port 587: 127.0.0.1: Connection refused; ...").
struct connect_attempt {
    std::string address; ///< as text: "127.0.0.1", "::1"
    error_code error;    ///< why it failed (operation_aborted: cut off by the connect timeout)
};

class tcp {
public:
    using policy_category = transport_category;
    using executor_type = boost::asio::any_io_executor;

    explicit tcp(executor_type ex) : socket_(ex), resolver_(ex) {}

    executor_type get_executor() { return socket_.get_executor(); }

    /// Resolves and connects to the first address that answers. Handler: void(error_code).
    template <class Handler>
    void async_connect(const connect_options& o, Handler&& handler)
    {
        namespace asio = boost::asio;
        options_ = &o;
        asio::async_compose<Handler, void(error_code)>(connect_op{this}, handler, socket_);
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

    void cancel()
    {
        error_code ignored;
        resolver_.cancel();
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

private:
    struct connect_op {
        tcp* self;
        enum { starting, resolving, connecting } state = starting;
        boost::asio::ip::tcp::resolver::results_type results{};
        boost::asio::ip::tcp::resolver::results_type::const_iterator next{};
        error_code last{};

        template <class Self>
        void operator()(Self& s, error_code ec = {}, boost::asio::ip::tcp::resolver::results_type r = {})
        {
            namespace asio = boost::asio;
            const connect_options& o = *self->options_;
            switch (state) {
            case starting:
                state = resolving;
                self->attempts_.clear();
                self->resolver_.async_resolve(o.host, std::to_string(o.port), std::move(s));
                return;
            case resolving:
                if (ec)
                    return s.complete(ec);
                results = std::move(r);
                next = results.begin();
                state = connecting;
                return try_next(s);
            case connecting:
                self->attempts_.back().error = ec;
                if (!ec) {
                    // The client writes whole commands and groups of them:
                    // Nagle's algorithm would only hold the last piece back
                    // until the server's delayed ACK (tens of milliseconds).
                    error_code ignored;
                    self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
                    return s.complete(ec);
                }
                last = ec;
                if (ec == asio::error::operation_aborted) // cancelled (the connect timeout): no more tries
                    return s.complete(ec);
                return try_next(s);
            }
        }

        template <class Self>
        void try_next(Self& s)
        {
            namespace asio = boost::asio;
            const connect_options& o = *self->options_;
            auto& sock = self->socket_;
            for (; next != results.end(); ++next) {
                const auto ep = next->endpoint();
                error_code ec;
                sock.close(ec);
                if (!o.source_address.empty()) {
                    const auto src = asio::ip::make_address(o.source_address, ec);
                    if (ec)
                        return s.complete(ec);
                    if (src.is_v4() != ep.address().is_v4()) { // another family than the source
                        self->attempts_.push_back({ep.address().to_string(), asio::error::address_family_not_supported});
                        continue;
                    }
                    sock.open(ep.protocol(), ec);
                    if (!ec)
                        sock.bind(asio::ip::tcp::endpoint(src, 0), ec);
                    if (ec) {
                        self->attempts_.push_back({ep.address().to_string(), ec});
                        last = ec;
                        continue;
                    }
                }
                self->attempts_.push_back({ep.address().to_string(), {}});
                ++next;
                sock.async_connect(ep, std::move(s));
                return;
            }
            s.complete(last ? last : error_code(asio::error::host_not_found));
        }
    };

    boost::asio::ip::tcp::socket socket_;
    boost::asio::ip::tcp::resolver resolver_;
    const connect_options* options_ = nullptr;
    std::vector<connect_attempt> attempts_{};
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

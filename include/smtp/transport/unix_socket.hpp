// smtp/transport/unix_socket.hpp
//
// A stream transport over a local (Unix-domain) socket, for an LMTP or SMTP
// server on the same machine (Postfix's, Dovecot's or Cyrus's LMTP socket).
// The path is the constructor's argument; connect_options::host is not used
// to connect, only to check the certificate when the session starts TLS
// over the socket (STARTTLS or implicit TLS, transport::tls_layer).
//
// Named unix_socket, not unix: with -std=gnu++20 `unix` is a predefined macro.
/// \file smtp/transport/unix_socket.hpp
/// transport::unix_socket: a stream transport over a local socket path (LMTP).
#ifndef SMTP_TRANSPORT_UNIX_SOCKET_HPP
#define SMTP_TRANSPORT_UNIX_SOCKET_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>

#include <sys/un.h>

#include <string>
#include <vector>

SMTP_NAMESPACE_BEGIN
namespace transport {

class unix_socket {
public:
    using policy_category = transport_category;
    using executor_type = boost::asio::any_io_executor;

    /// `path`: the socket's path in the file system.
    unix_socket(executor_type ex, std::string path) : socket_(std::move(ex)), path_(std::move(path)) {}

    executor_type get_executor() { return socket_.get_executor(); }
    const std::string& path() const noexcept { return path_; }

    /// Connects to the path (connect_options::host and port are not used
    /// here). A path that is empty or longer than a socket address holds
    /// fails at once (invalid_argument, name_too_long). Handler: void(error_code).
    template <class Handler>
    void async_connect(const connect_options&, Handler&& handler)
    {
        boost::asio::async_compose<Handler, void(error_code)>(connect_op{this}, handler, socket_);
    }

    /// The path the last connect tried, with its error (one entry).
    const std::vector<connect_attempt>& connect_attempts() const noexcept { return attempts_; }
    /// What a connect error names: "the Unix socket PATH" (not o.host and o.port).
    std::string connect_target() const { return "the Unix socket " + path_; }

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
        socket_.cancel(ignored);
    }

    void close()
    {
        error_code ignored;
        socket_.shutdown(boost::asio::local::stream_protocol::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

private:
    struct connect_op {
        unix_socket* self;
        bool started = false;

        template <class Self>
        void operator()(Self& s, error_code ec = {})
        {
            namespace asio = boost::asio;
            if (started) {
                self->attempts_.back().error = ec;
                return s.complete(ec);
            }
            started = true;
            self->attempts_.assign(1, connect_attempt{self->path_, {}});
            error_code ignored;
            self->socket_.close(ignored);
            error_code bad;
            if (self->path_.empty())
                bad = asio::error::invalid_argument;
            else if (self->path_.size() >= sizeof(sockaddr_un{}.sun_path))
                bad = asio::error::name_too_long;
            if (bad) // completes through the executor, never inside the initiating call
                return asio::post(self->socket_.get_executor(),
                                  [s = std::move(s), bad]() mutable { s(bad); });
            self->socket_.async_connect(asio::local::stream_protocol::endpoint(self->path_), std::move(s));
        }
    };

    boost::asio::local::stream_protocol::socket socket_;
    std::string path_;
    std::vector<connect_attempt> attempts_{};
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

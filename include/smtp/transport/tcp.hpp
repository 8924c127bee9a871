// smtp/transport/tcp.hpp
//
// The TCP transport: Boost.Asio sockets, name resolution (IPv4 and IPv6,
// every address tried in turn), an optional source address, and OpenSSL for
// STARTTLS and implicit TLS.
//
// TLS (when the session asks for it): TLS 1.2 or later; the peer's chain
// checked against the system trust store or connect_options::ca_file; the
// host name checked against the certificate's subjectAltName by OpenSSL's
// X509_check_host rules (RFC 6125/7817; no partial wildcards), or the IP
// address when the host is one; SNI sent for names. Switching to TLS is a
// flag on the same transport (the socket moves into the TLS stream), not a
// new transport type.
//
// For errors that say what happened, it keeps each address a connect tried
// with its error (connect_attempts()) and the first bytes the server sent
// during a TLS handshake (handshake_bytes()): a plain greeting or an SSH
// banner, where OpenSSL only says "wrong version number".
/// \file smtp/transport/tcp.hpp
/// The TCP transport: Boost.Asio sockets and name resolution, and OpenSSL for
/// STARTTLS and implicit TLS. The header's opening comment (in the source)
/// says how TLS is checked.
#ifndef SMTP_TRANSPORT_TCP_HPP
#define SMTP_TRANSPORT_TCP_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace detail {
class x509_error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "x509"; }
    std::string message(int ev) const override { return X509_verify_cert_error_string(ev); }
};

/// The TCP socket under the TLS stream, as it is, except that while it
/// records it keeps the first bytes it reads: what the server sent instead of
/// a ServerHello, when that was not TLS (a plain SMTP greeting, an SSH banner).
class recording_socket {
public:
    using socket_type = boost::asio::ip::tcp::socket;
    using executor_type = socket_type::executor_type;
    using lowest_layer_type = socket_type::lowest_layer_type;
    static constexpr std::size_t kept = 64;

    explicit recording_socket(socket_type s) : s_(std::move(s)) {}

    executor_type get_executor() { return s_.get_executor(); }
    lowest_layer_type& lowest_layer() { return s_.lowest_layer(); }
    const lowest_layer_type& lowest_layer() const { return s_.lowest_layer(); }
    socket_type& socket() noexcept { return s_; }

    void record(bool on)
    {
        recording_ = on;
        if (on)
            first_.clear();
    }
    std::string_view first_bytes() const noexcept { return first_; }

    template <class Buffers, class Handler>
    void async_read_some(const Buffers& b, Handler&& h)
    {
        if (!recording_ || first_.size() >= kept)
            return s_.async_read_some(b, std::forward<Handler>(h));
        const boost::asio::mutable_buffer into = *boost::asio::buffer_sequence_begin(b);
        s_.async_read_some(b, keeping<std::decay_t<Handler>>{std::forward<Handler>(h), this, into});
    }
    template <class Buffers, class Handler>
    void async_write_some(const Buffers& b, Handler&& h)
    {
        s_.async_write_some(b, std::forward<Handler>(h));
    }

private:
    /// The read's handler with the bytes kept first; the handler's executor
    /// and allocator are its own.
    template <class Handler>
    struct keeping {
        Handler h;
        recording_socket* self;
        boost::asio::mutable_buffer into;

        using executor_type = boost::asio::associated_executor_t<Handler, socket_type::executor_type>;
        executor_type get_executor() const noexcept
        {
            return boost::asio::get_associated_executor(h, self->s_.get_executor());
        }
        using allocator_type = boost::asio::associated_allocator_t<Handler>;
        allocator_type get_allocator() const noexcept { return boost::asio::get_associated_allocator(h); }

        void operator()(error_code ec, std::size_t n)
        {
            const std::size_t take = std::min({n, into.size(), kept - std::min(kept, self->first_.size())});
            self->first_.append(static_cast<const char*>(into.data()), take);
            std::move(h)(ec, n);
        }
        friend bool asio_handler_is_continuation(keeping* k)
        {
            return boost_asio_handler_cont_helpers::is_continuation(k->h);
        }
    };

    socket_type s_;
    bool recording_ = false;
    std::string first_{};
};
} // namespace detail

/// The category of certificate verification failures: the values are
/// OpenSSL's X509_V_ERR_* (X509_V_ERR_CERT_HAS_EXPIRED,
/// X509_V_ERR_HOSTNAME_MISMATCH, ...), the messages OpenSSL's.
inline const boost::system::error_category& x509_category() noexcept
{
    static const detail::x509_error_category cat;
    return cat;
}

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
    bool encrypted() const noexcept { return tls_ != nullptr; }

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

    /// The first bytes (at most 64) the server sent during the last TLS
    /// handshake: when it failed on bytes that were not TLS, what they were.
    std::string_view handshake_bytes() const noexcept
    {
        return tls_ ? tls_->stream.next_layer().first_bytes() : std::string_view{};
    }

    /// Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_read_some(boost::asio::mutable_buffer b, Handler&& handler)
    {
        if (tls_)
            tls_->stream.async_read_some(b, std::forward<Handler>(handler));
        else
            socket_.async_read_some(b, std::forward<Handler>(handler));
    }

    /// Writes all of b. Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_write(boost::asio::const_buffer b, Handler&& handler)
    {
        if (tls_)
            boost::asio::async_write(tls_->stream, b, std::forward<Handler>(handler));
        else
            boost::asio::async_write(socket_, b, std::forward<Handler>(handler));
    }

    /// The TLS handshake as a client. Handler: void(error_code).
    template <class Handler>
    void async_handshake(const connect_options& o, bool verify, Handler&& handler)
    {
        error_code ec;
        start_tls(o, verify, ec);
        if (ec) {
            boost::asio::post(socket_.get_executor(),
                              [h = std::forward<Handler>(handler), ec]() mutable { h(ec); });
            return;
        }
        // A failed certificate check says which check failed (x509_category):
        // "certificate has expired", "hostname mismatch", ...
        tls_->stream.next_layer().record(true);
        tls_->stream.async_handshake(boost::asio::ssl::stream_base::client,
                                     [this, h = std::forward<Handler>(handler)](error_code e) mutable {
                                         if (tls_)
                                             tls_->stream.next_layer().record(false);
                                         if (e && tls_) {
                                             const long v = SSL_get_verify_result(tls_->stream.native_handle());
                                             if (v != X509_V_OK)
                                                 e = error_code(static_cast<int>(v), x509_category());
                                         }
                                         std::move(h)(e);
                                     });
    }

    void cancel()
    {
        error_code ignored;
        resolver_.cancel();
        lowest().cancel(ignored);
    }

    void close()
    {
        error_code ignored;
        lowest().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        lowest().close(ignored);
    }

private:
    boost::asio::ip::tcp::socket& lowest() { return tls_ ? tls_->stream.next_layer().socket() : socket_; }

    struct tls_state {
        boost::asio::ssl::context ctx;
        boost::asio::ssl::stream<detail::recording_socket> stream;
        tls_state(boost::asio::ssl::context c, boost::asio::ip::tcp::socket s)
            : ctx(std::move(c)), stream(std::move(s), ctx)
        {}
    };

    void start_tls(const connect_options& o, bool verify, error_code& ec)
    {
        namespace ssl = boost::asio::ssl;
        ssl::context ctx(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
        if (verify) {
            ctx.set_verify_mode(ssl::verify_peer, ec);
            if (!ec) {
                if (o.ca_file.empty())
                    ctx.set_default_verify_paths(ec);
                else
                    ctx.load_verify_file(o.ca_file, ec);
            }
            if (ec)
                return;
        } else {
            ctx.set_verify_mode(ssl::verify_none, ec);
        }
        tls_ = std::make_unique<tls_state>(std::move(ctx), std::move(socket_));
        SSL* handle = tls_->stream.native_handle();
        error_code addr_ec; // set when the host is a name, not an address
        (void)boost::asio::ip::make_address(o.host, addr_ec);
        if (verify) {
            X509_VERIFY_PARAM* param = SSL_get0_param(handle);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            const int ok = addr_ec ? X509_VERIFY_PARAM_set1_host(param, o.host.c_str(), o.host.size())
                                   : X509_VERIFY_PARAM_set1_ip_asc(param, o.host.c_str());
            if (ok != 1) {
                ec = boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::unspecified_system_error);
                return;
            }
        }
        if (addr_ec) // SNI is for names, never for addresses (RFC 6066 3)
            SSL_set_tlsext_host_name(handle, o.host.c_str());
    }

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
    std::unique_ptr<tls_state> tls_{};
    const connect_options* options_ = nullptr;
    std::vector<connect_attempt> attempts_{};
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

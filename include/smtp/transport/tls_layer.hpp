// smtp/transport/tls_layer.hpp
//
// TLS over any stream transport, in one place. transport::tls_layer<Stream>
// is what the session talks to when its transport policy is a stream
// (transport::tcp, transport::unix_socket, a proxy, a user's stream): it
// connects through the stream, and switches TLS on over that same connected
// stream when the session asks (STARTTLS, or implicit TLS right after the
// connect). Before that, bytes pass through untouched.
//
// TLS as a client: TLS 1.2 or later; the peer's chain checked against the
// system trust store or connect_options::ca_file; the host name
// (connect_options::host) checked against the certificate's subjectAltName by
// OpenSSL's X509_check_host rules (RFC 6125/7817; no partial wildcards), or
// the IP address when the host is one; SNI sent for names only (RFC 6066 3).
// A failed certificate check says which check failed (x509_category()).
//
// Boost.Asio's ssl::stream asks its next layer for a few members a plain
// stream transport does not have (lowest_layer_type, lowest_layer()) and
// calls it with buffer sequences: detail::tls_next_layer adapts any stream
// transport, and while the handshake runs it keeps the first bytes the
// server sent (handshake_bytes()): a plain greeting or an SSH banner, where
// OpenSSL only says "wrong version number".
/// \file smtp/transport/tls_layer.hpp
/// transport::tls_layer<Stream>: TLS (STARTTLS and implicit) over any stream
/// transport; the session runs over it when its transport policy is a
/// stream. The header's opening comment (in the source) says how TLS is checked.
#ifndef SMTP_TRANSPORT_TLS_LAYER_HPP
#define SMTP_TRANSPORT_TLS_LAYER_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/version.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

namespace detail {
class x509_error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "x509"; }
    std::string message(int ev) const override { return X509_verify_cert_error_string(ev); }
};

/// The first non-empty buffer of a sequence (an empty one when all are):
/// a stream transport reads and writes one buffer at a time.
template <class Buffer, class Buffers>
Buffer first_buffer(const Buffers& b)
{
    const auto end = boost::asio::buffer_sequence_end(b);
    for (auto it = boost::asio::buffer_sequence_begin(b); it != end; ++it) {
        Buffer one(*it);
        if (one.size() != 0)
            return one;
    }
    return Buffer{};
}

/// A stream transport as Asio's ssl::stream wants its next layer: the
/// lowest_layer members, reads and writes of buffer sequences. While it
/// records, it keeps the first bytes it reads: what the server sent instead
/// of a ServerHello, when that was not TLS.
template <class Stream>
class tls_next_layer {
public:
    using executor_type = typename Stream::executor_type;
    using lowest_layer_type = tls_next_layer;
    static constexpr std::size_t kept = 64;

    template <class... A>
    explicit tls_next_layer(std::in_place_t, A&&... a) : s_(std::forward<A>(a)...)
    {}

    executor_type get_executor() { return s_.get_executor(); }
    lowest_layer_type& lowest_layer() noexcept { return *this; }
    const lowest_layer_type& lowest_layer() const noexcept { return *this; }
    Stream& stream() noexcept { return s_; }
    const Stream& stream() const noexcept { return s_; }

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
        const auto into = first_buffer<boost::asio::mutable_buffer>(b);
        if (!recording_ || first_.size() >= kept)
            return s_.async_read_some(into, std::forward<Handler>(h));
        s_.async_read_some(into, keeping<std::decay_t<Handler>>{std::forward<Handler>(h), this, into});
    }
    template <class Buffers, class Handler>
    void async_write_some(const Buffers& b, Handler&& h)
    {
        s_.async_write_some(first_buffer<boost::asio::const_buffer>(b), std::forward<Handler>(h));
    }

private:
    /// The read's handler with the bytes kept first; the handler's executor
    /// and allocator are its own.
    template <class Handler>
    struct keeping {
        Handler h;
        tls_next_layer* self;
        boost::asio::mutable_buffer into;

        using executor_type = boost::asio::associated_executor_t<Handler, typename Stream::executor_type>;
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

    Stream s_;
    bool recording_ = false;
    std::string first_{};
};

/// The client context for one handshake: TLS 1.2 minimum, and the trust
/// store when the peer is verified.
inline boost::asio::ssl::context make_tls_client_context(const connect_options& o, bool verify, error_code& ec)
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
    } else {
        ctx.set_verify_mode(ssl::verify_none, ec);
    }
    return ctx;
}

/// The host check and SNI on one connection.
inline void set_tls_peer_name(SSL* handle, const connect_options& o, bool verify, error_code& ec)
{
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
    if (addr_ec && SSL_set_tlsext_host_name(handle, o.host.c_str()) != 1) // SNI: names, never addresses
        ec = boost::asio::ssl::error::make_error_code(boost::asio::ssl::error::unspecified_system_error);
}
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

/// TLS over a stream transport: a session transport. Constructed as
/// `tls_layer<Stream>(executor, args...)`, which constructs
/// `Stream(executor, args...)`. Until async_handshake, bytes pass through to
/// the stream; after it, they go through TLS over that same stream.
template <class Stream>
class tls_layer {
    static_assert(stream_transport<Stream>,
                  "smtp::transport::tls_layer<Stream>: Stream must satisfy smtp::transport::stream_transport: "
                  "executor_type, get_executor(), async_connect(options, h), async_read_some(buffer, h), "
                  "async_write_some(buffer, h), cancel(), close(), and a move constructor");

public:
    using policy_category = transport_category;
    using executor_type = typename Stream::executor_type;
    using next_layer_type = Stream;

    template <class... A>
        requires std::constructible_from<Stream, executor_type, A...>
    explicit tls_layer(executor_type ex, A&&... a)
        : plain_(std::in_place, std::in_place, std::move(ex), std::forward<A>(a)...)
    {}
    /// Over a stream made elsewhere (not yet connected: a pool's transport_factory).
    explicit tls_layer(Stream s) : plain_(std::in_place, std::in_place, std::move(s)) {}

    executor_type get_executor() { return next_layer().get_executor(); }
    /// True once a TLS handshake has succeeded on this connection.
    bool encrypted() const noexcept { return tls_ && handshaken_; }

    /// The stream under TLS.
    Stream& next_layer() noexcept { return tls_ ? tls_->stream.next_layer().stream() : plain_->stream(); }
    const Stream& next_layer() const noexcept { return tls_ ? tls_->stream.next_layer().stream() : plain_->stream(); }

    /// Connects the stream (in clear: TLS starts with async_handshake).
    /// Handler: void(error_code).
    template <class Handler>
    void async_connect(const connect_options& o, Handler&& handler)
    {
        if (tls_) { // a new connection: the stream comes back out of the TLS of the last one
            plain_.emplace(std::in_place, std::move(tls_->stream.next_layer().stream()));
            tls_.reset();
            handshaken_ = false;
        }
        plain_->stream().async_connect(o, std::forward<Handler>(handler));
    }

    /// What the stream says of its last connect, when it says it.
    decltype(auto) connect_attempts() const noexcept
        requires requires(const Stream& s) { s.connect_attempts(); }
    {
        return next_layer().connect_attempts();
    }
    decltype(auto) connect_failure_detail() const
        requires requires(const Stream& s) { s.connect_failure_detail(); }
    {
        return next_layer().connect_failure_detail();
    }

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
            plain_->stream().async_read_some(b, std::forward<Handler>(handler));
    }

    /// Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_write_some(boost::asio::const_buffer b, Handler&& handler)
    {
        if (tls_)
            tls_->stream.async_write_some(b, std::forward<Handler>(handler));
        else
            plain_->stream().async_write_some(b, std::forward<Handler>(handler));
    }

    /// Writes all of b. Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_write(boost::asio::const_buffer b, Handler&& handler)
    {
        if (tls_)
            boost::asio::async_write(tls_->stream, b, std::forward<Handler>(handler));
        else
            boost::asio::async_write(*plain_, b, std::forward<Handler>(handler));
    }

    /// The TLS handshake as a client over the connected stream: STARTTLS
    /// after its 220, or implicit TLS right after the connect. Handler:
    /// void(error_code).
    template <class Handler>
    void async_handshake(const connect_options& o, bool verify, Handler&& handler)
    {
        error_code ec;
        start_tls(o, verify, ec);
        if (ec) {
            boost::asio::post(get_executor(), [h = std::forward<Handler>(handler), ec]() mutable { std::move(h)(ec); });
            return;
        }
        tls_->stream.next_layer().record(true);
        tls_->stream.async_handshake(boost::asio::ssl::stream_base::client,
                                     [this, h = std::forward<Handler>(handler)](error_code e) mutable {
                                         if (tls_) {
                                             tls_->stream.next_layer().record(false);
                                             if (e) {
                                                 const long v = SSL_get_verify_result(tls_->stream.native_handle());
                                                 if (v != X509_V_OK)
                                                     e = error_code(static_cast<int>(v), x509_category());
                                             }
                                             handshaken_ = !e;
                                         }
                                         std::move(h)(e);
                                     });
    }

    void cancel() { next_layer().cancel(); }
    void close() { next_layer().close(); }

private:
    using next = detail::tls_next_layer<Stream>;

    struct tls_state {
        boost::asio::ssl::context ctx;
        boost::asio::ssl::stream<next> stream;
        tls_state(boost::asio::ssl::context c, next&& s) : ctx(std::move(c)), stream(std::move(s), ctx) {}
    };

    void start_tls(const connect_options& o, bool verify, error_code& ec)
    {
        if (tls_) { // TLS is started once per connection (RFC 3207 4.2)
            ec = boost::asio::error::already_started;
            return;
        }
        auto ctx = detail::make_tls_client_context(o, verify, ec);
        if (ec)
            return;
        tls_ = std::make_unique<tls_state>(std::move(ctx), std::move(*plain_));
        plain_.reset();
        detail::set_tls_peer_name(tls_->stream.native_handle(), o, verify, ec);
    }

    std::optional<next> plain_; // the stream while in clear (in tls_ once TLS starts)
    std::unique_ptr<tls_state> tls_{};
    bool handshaken_ = false;
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

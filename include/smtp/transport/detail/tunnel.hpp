/// \file smtp/transport/detail/tunnel.hpp
///
/// A stream through a proxy: connect the inner stream to the proxy, run a
/// handshake (detail/proxy_handshake.hpp) over it, then pass bytes through.
/// transport::socks5 and transport::http_connect are this with their
/// handshake. Bytes the proxy sent after its reply (the mail server's
/// greeting can come in the same segment) are the first bytes read.
#ifndef SMTP_TRANSPORT_DETAIL_TUNNEL_HPP
#define SMTP_TRANSPORT_DETAIL_TUNNEL_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/transport/detail/proxy_handshake.hpp>
#include <smtp/version.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

SMTP_NAMESPACE_BEGIN
namespace detail {

template <class Inner, class Handshake>
class tunnel {
public:
    using policy_category = transport_category;
    using executor_type = typename Inner::executor_type;
    using proxy_options = typename Handshake::options_type;

    /// The proxy's options, then whatever the inner stream's constructor
    /// takes after the executor.
    template <class... A>
    tunnel(executor_type ex, proxy_options proxy, A&&... inner_args)
        : inner_(std::move(ex), std::forward<A>(inner_args)...), hs_(std::move(proxy))
    {}

    executor_type get_executor() { return inner_.get_executor(); }

    /// The stream to the proxy.
    Inner& next_layer() noexcept { return inner_; }
    const Inner& next_layer() const noexcept { return inner_; }

    /// Connects the inner stream to the proxy (with o's other settings: the
    /// source address, ...), then asks the proxy for a tunnel to o.host port
    /// o.port (o is copied: it need not outlive the call). A destination or
    /// credentials the proxy cannot be sent fail
    /// before the proxy is contacted. Handler: void(error_code).
    template <class Handler>
    void async_connect(const connect_options& o, Handler&& handler)
    {
        in_.clear();
        in_pos_ = 0;
        detail_.clear();
        boost::asio::async_compose<Handler, void(error_code)>(connect_op{this, &o}, handler, inner_.get_executor());
    }

    /// Why the last connect failed, in words, naming the proxy and what it
    /// said (never the credentials); empty when it did not fail or the
    /// failure was before the proxy.
    const std::string& connect_failure_detail() const noexcept { return detail_; }

    /// Handler: void(error_code, std::size_t). The bytes that came with the
    /// proxy's reply first.
    template <class Handler>
    void async_read_some(boost::asio::mutable_buffer b, Handler&& handler)
    {
        if (in_pos_ < in_.size())
            return boost::asio::async_compose<Handler, void(error_code, std::size_t)>(
                leftover_op{this, b}, handler, inner_.get_executor());
        inner_.async_read_some(b, std::forward<Handler>(handler));
    }

    /// Handler: void(error_code, std::size_t).
    template <class Handler>
    void async_write_some(boost::asio::const_buffer b, Handler&& handler)
    {
        inner_.async_write_some(b, std::forward<Handler>(handler));
    }

    void cancel() { inner_.cancel(); }

    void close()
    {
        in_.clear();
        in_pos_ = 0;
        inner_.close();
    }

private:
    struct leftover_op {
        tunnel* self;
        boost::asio::mutable_buffer into;
        bool posted = false;

        template <class Self>
        void operator()(Self& s)
        {
            if (!posted) { // never complete inside the initiating call
                posted = true;
                return boost::asio::post(s.get_executor(), std::move(s));
            }
            const std::size_t n = std::min(into.size(), self->in_.size() - self->in_pos_);
            if (n)
                std::memcpy(into.data(), self->in_.data() + self->in_pos_, n);
            self->in_pos_ += n;
            if (self->in_pos_ == self->in_.size()) {
                self->in_.clear();
                self->in_pos_ = 0;
            }
            s.complete(error_code{}, n);
        }
    };

    struct connect_op {
        tunnel* self;
        const connect_options* dest;
        enum { starting, refused_early, connecting, writing, reading } state = starting;
        std::string_view out{};
        error_code early{};

        template <class Self>
        void operator()(Self& s, error_code ec = {}, std::size_t n = 0)
        {
            tunnel& t = *self;
            switch (state) {
            case starting:
                t.hs_.start(dest->host, dest->port, ec);
                if (ec) { // nothing sent: complete from a posted call, never inside this one
                    t.detail_ = t.hs_.detail();
                    early = ec;
                    state = refused_early;
                    return boost::asio::post(s.get_executor(), std::move(s));
                }
                t.dest_ = authority(dest->host, dest->port); // o is not read after this call
                t.proxy_ = *dest;
                t.proxy_.host = t.hs_.proxy().host;
                t.proxy_.port = t.hs_.proxy().port;
                state = connecting;
                return t.inner_.async_connect(t.proxy_, std::move(s));
            case refused_early: return s.complete(early);
            case connecting:
                if (ec) {
                    t.unreachable(ec);
                    return s.complete(ec);
                }
                return step(s);
            case writing:
                if (ec)
                    return io_failed(s, ec, "sending to it");
                out.remove_prefix(n);
                if (!out.empty())
                    return t.inner_.async_write_some(boost::asio::buffer(out.data(), out.size()), std::move(s));
                return step(s);
            case reading:
                if (ec)
                    return io_failed(s, ec, "waiting for its reply");
                t.in_.append(t.chunk_.data(), n);
                return step(s);
            }
        }

        template <class Self>
        void step(Self& s)
        {
            tunnel& t = *self;
            error_code ec;
            std::size_t used = 0;
            const proxy_step next = t.hs_.resume(t.in_, used, ec);
            t.in_.erase(0, used);
            switch (next.kind) {
            case proxy_step::write:
                state = writing;
                out = next.bytes;
                return t.inner_.async_write_some(boost::asio::buffer(out.data(), out.size()), std::move(s));
            case proxy_step::read: {
                // Bounded: never more than the longest reply the handshake allows.
                const std::size_t room = t.hs_.max_reply() > t.in_.size() ? t.hs_.max_reply() - t.in_.size() : 1;
                state = reading;
                return t.inner_.async_read_some(boost::asio::buffer(t.chunk_.data(), std::min(room, t.chunk_.size())),
                                                std::move(s));
            }
            case proxy_step::done: return s.complete(error_code{});
            case proxy_step::fail: t.detail_ = t.hs_.detail(); return s.complete(ec);
            }
        }

        template <class Self>
        void io_failed(Self& s, error_code ec, const char* doing)
        {
            tunnel& t = *self;
            if (ec == boost::asio::error::eof) {
                ec = errc::proxy_closed;
                t.detail_ = t.name() + " closed the connection before the tunnel to " + t.dest_ +
                            " was up" + (t.in_.empty() ? "" : " (its reply cut short)");
            } else if (ec == boost::asio::error::operation_aborted) { // cancelled: the connect timeout
                t.detail_ = t.name() + " gave no tunnel to " + t.dest_ + " (cut off while " +
                            doing + ")";
            } else {
                t.detail_ = t.name() + ": " + ec.message() + " while " + doing + " (asking for a tunnel to " +
                            t.dest_ + ")";
            }
            s.complete(ec);
        }
    };

    std::string name() const
    {
        return std::string(Handshake::kind_name) + " proxy " + authority(hs_.proxy().host, hs_.proxy().port);
    }

    /// The proxy did not answer: its name, and each address tried when the
    /// inner stream reports them.
    void unreachable(const error_code& ec)
    {
        detail_ = "cannot reach the " + name() + ": ";
        bool any = false;
        if constexpr (requires(const Inner& i) { i.connect_attempts(); }) {
            for (const auto& a : inner_.connect_attempts()) {
                detail_ += any ? "; " : "";
                detail_ += a.address + ": " + (a.error ? a.error.message() : ec.message());
                any = true;
            }
        }
        if (!any)
            detail_ += ec.message();
    }

    Inner inner_;
    Handshake hs_;
    connect_options proxy_{}; // the inner stream's connect reads them while it runs
    std::string in_{};        // received, not yet used: the handshake's, then the tunnel's
    std::size_t in_pos_ = 0;
    std::string detail_{};
    std::string dest_{}; // "mx.example:25", for the words
    std::array<char, 1024> chunk_{};
};

} // namespace detail
SMTP_NAMESPACE_END

#endif

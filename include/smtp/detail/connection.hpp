// smtp/detail/connection.hpp
//
// What a session owns: the transport, the deadline timer, the protocol state
// (smtp/protocol/algorithms/session_state.hpp: buffers, parser,
// capabilities, flags, the logger) and, for a synchronous session, its own
// io_context. The protocol lives in the algorithms; the driver
// (smtp/detail/driver.hpp) runs them over this.
#ifndef SMTP_DETAIL_CONNECTION_HPP
#define SMTP_DETAIL_CONNECTION_HPP

#include <smtp/detail/deadline.hpp>
#include <smtp/log.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/version.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/host_name.hpp>

#include <memory>
#include <string>
#include <utility>

SMTP_NAMESPACE_BEGIN
namespace detail {

/// The machine's host name when it is a valid EHLO domain, else "localhost".
inline std::string default_local_name()
{
    error_code ec;
    std::string name = boost::asio::ip::host_name(ec);
    if (ec || check_domain(name, false) != errc{})
        return "localhost";
    return name;
}

inline connect_options with_local_name(connect_options o)
{
    if (o.local_name.empty())
        o.local_name = default_local_name();
    return o;
}

template <class Transport, class Log>
class connection {
public:
    using transport_type = Transport;
    using log_type = Log;
    using state_type = sansio::session_state<Log>;

    connection(Transport t, connect_options o, Log l, std::shared_ptr<boost::asio::io_context> owned, bool verify)
        : owned_context(std::move(owned)), transport(std::move(t)), timer(transport.get_executor()),
          st(with_local_name(std::move(o)), std::move(l)), verify_peer(verify)
    {}

    /// Set for sessions made by the sync connect(). First, so that it is
    /// destroyed last: the socket and the timer must go before their context.
    std::shared_ptr<boost::asio::io_context> owned_context;
    Transport transport;
    deadline_timer timer;
    state_type st;
    bool verify_peer;

    /// "connect to HOST port N: " (or to the transport's connect_target(),
    /// "the Unix socket PATH") and each address tried with its error (when
    /// the transport reports them), or the error alone.
    void describe_connect_failure(const error_code& e)
    {
        const connect_options& o = st.options;
        const auto limit = phase_limit(o.timeouts, phase::connect);
        std::string target;
        if constexpr (requires(const Transport& t) { std::string(t.connect_target()); })
            target = transport.connect_target();
        const bool named = !target.empty(); // then its one attempt needs no address
        if (!named)
            target = o.host + " port " + std::to_string(o.port);
        std::string text = "connect to " + target + ": ";
        // A proxy says what it did: its name, and its refusal or why it could not be reached.
        if constexpr (requires(const Transport& t) { std::string_view(t.connect_failure_detail()); }) {
            const std::string_view proxy = transport.connect_failure_detail();
            if (!proxy.empty()) {
                text += proxy;
                if (e == errc::timeout)
                    text += " (no tunnel within " + format_duration(limit) + ")";
                st.diag.set_detail_text(std::move(text));
                return;
            }
        }
        bool any = false, reported = false;
        if constexpr (requires(const Transport& t) { t.connect_attempts(); }) {
            reported = true;
            const auto& attempts = transport.connect_attempts();
            for (const auto& a : attempts) {
                if (any)
                    text += "; ";
                if (!named || attempts.size() > 1) {
                    text += a.address;
                    text += ": ";
                }
                if (e == errc::timeout && a.error == boost::asio::error::operation_aborted)
                    text += "no answer within " + format_duration(limit);
                else
                    text += a.error ? a.error.message() : e.message();
                any = true;
            }
        }
        if (!any && e == errc::timeout)
            text += (reported ? "the name did not resolve within " : "no connection within ") + format_duration(limit);
        else if (!any)
            text += e.message();
        st.diag.set_detail_text(std::move(text));
    }

    /// The peer's first bytes after a failed handshake, when the transport keeps them.
    std::string_view handshake_bytes() const
    {
        if constexpr (requires(const Transport& t) { std::string_view(t.handshake_bytes()); })
            return transport.handshake_bytes();
        else
            return {};
    }
};

} // namespace detail
SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/algorithms/greeting.hpp
///
/// The connect-time algorithm: connect, the TLS handshake for implicit TLS
/// (RFC 8314), then the server's 220 greeting. When no greeting comes, the
/// first bytes received (or the handshake's, from the driver) say why: an
/// implicit-TLS server waiting for the client, TLS where a greeting was
/// expected, a plain greeting where TLS was, or a server that is not SMTP.
#ifndef SMTP_PROTOCOL_ALGORITHMS_GREETING_HPP
#define SMTP_PROTOCOL_ALGORITHMS_GREETING_HPP

#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/detail/first_bytes.hpp>
#include <smtp/version.hpp>

#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace sansio {

class greeting {
public:
    explicit greeting(bool implicit_tls = false) noexcept : implicit_tls_(implicit_tls) {}

    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        switch (step_) {
        case step::start:
            st.start_phase(phase::connect);
            step_ = step::connect;
            return next_action::connect;
        case step::connect:
            if (io_ec) { // the driver described the attempts in st.diag
                st.fail(io_ec);
                return finish();
            }
            if (implicit_tls_) {
                st.current_phase = phase::tls_handshake; // within the connect phase's deadline
                step_ = step::handshake;
                return next_action::tls_handshake;
            }
            io_ec = {};
            [[fallthrough]];
        case step::handshake:
            if (io_ec) {
                st.fail(io_ec);
                describe_handshake_failure(st);
                return finish();
            }
            st.start_phase(phase::greeting);
            step_ = step::read;
            io_ec = {};
            [[fallthrough]];
        case step::read:
            if (!sub_done(read_, st, io_ec, next))
                return next;
            if (st.ec) {
                describe_greeting_failure(st);
                return finish();
            }
            if (st.current.code() != 220)
                st.fail_with_reply(st.current.code().is_failure() ? outcome_error(classify<cmd::starttls>(st.current.code()))
                                                                  : errc::unexpected_reply);
            return finish();
        case step::done: break;
        }
        return next_action::done;
    }

private:
    enum class step { start, connect, handshake, read, done };

    next_action finish() noexcept
    {
        step_ = step::done;
        return next_action::done;
    }

    /// A failed implicit-TLS handshake: when the server's first bytes were
    /// not TLS, they say what it is (a plain SMTP greeting: the wrong TLS
    /// mode for the port; anything else: not an SMTP server).
    template <class State>
    static void describe_handshake_failure(State& st)
    {
        const std::string_view got = st.handshake_bytes;
        switch (detail::classify_first_bytes(got)) {
        case detail::first_bytes_kind::smtp: st.ec = errc::greeting_in_clear; break;
        case detail::first_bytes_kind::other: st.ec = errc::not_smtp; break;
        case detail::first_bytes_kind::none:
        case detail::first_bytes_kind::tls: return;
        }
        st.diag.set_detail_text(detail::quote_first_bytes(got));
    }

    /// No greeting: nothing came (an implicit-TLS server waits for the
    /// client), TLS came, or bytes that are not SMTP. A reply that began and
    /// went wrong keeps its own error.
    template <class State>
    static void describe_greeting_failure(State& st)
    {
        const std::string_view got(st.rbuf.data() + st.rpos, st.rlen - st.rpos);
        switch (detail::classify_first_bytes(got)) {
        case detail::first_bytes_kind::none:
            if (st.ec == errc::timeout) {
                st.ec = errc::no_greeting; // the detail says how long it waited
            } else if (st.ec == errc::connection_closed) {
                st.ec = errc::no_greeting;
                st.diag.set_detail_text("the server closed the connection without a greeting");
            }
            break;
        case detail::first_bytes_kind::tls:
            st.ec = errc::no_greeting;
            st.diag.set_detail_text(detail::quote_first_bytes(got) + ", which is TLS");
            break;
        case detail::first_bytes_kind::other:
            st.ec = errc::not_smtp;
            st.diag.set_detail_text(detail::quote_first_bytes(got));
            break;
        case detail::first_bytes_kind::smtp: break;
        }
    }

    bool implicit_tls_;
    step step_ = step::start;
    read_reply read_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/algorithms/next_action.hpp
///
/// What an algorithm asks for next, and the two pieces every algorithm is
/// built from: running a sub-algorithm to its end (sub_done), and reading one
/// whole reply (read_reply).
///
/// An algorithm is an object with
///     next_action resume(session_state<Log>& st, error_code io_ec);
/// called first with io_ec clear, then once after each I/O it asked for, with
/// that I/O's outcome. It answers:
///     connect        connect the transport (connect_options in st.options)
///     write          write all of st.wbuf (the driver clears it when written)
///     read           read some bytes into st.read_area(), then st.commit_read(n)
///     tls_handshake  run the TLS handshake (STARTTLS or implicit TLS)
///     close          close the transport, then resume at once (io_ec clear)
///     done           finished: st.ec and st.diag hold the outcome
/// It never blocks and does no I/O itself. Its position is an explicit step
/// (an enum member), as sasl::plain keeps its own.
#ifndef SMTP_PROTOCOL_ALGORITHMS_NEXT_ACTION_HPP
#define SMTP_PROTOCOL_ALGORITHMS_NEXT_ACTION_HPP

#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN
namespace sansio {

enum class next_action { connect, write, read, tls_handshake, close, done };

/// Resumes `sub` and tells whether it has finished. When it has not, `next`
/// is the I/O it asked for: the caller returns it, and calls sub_done again
/// (with that I/O's outcome) when it is resumed. This is how an algorithm
/// runs another to its end without a loop of its own.
///
///     case step::ehlo:
///         if (!sub_done(ehlo_, st, io_ec, next))
///             return next;
template <class Sub, class State>
bool sub_done(Sub& sub, State& st, error_code io_ec, next_action& next)
{
    next = sub.resume(st, io_ec);
    return next == next_action::done;
}

/// Reads until a whole reply is in st.current, or st.ec says why not (a
/// malformed reply, or the read's own error). Parses what was received
/// before asking for a read: the replies of a pipelined burst cost no read.
class read_reply {
public:
    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        if (reading_) {
            reading_ = false;
            if (io_ec) {
                st.fail(io_ec);
                return next_action::done;
            }
        }
        if (st.next_reply(st.ec) || st.ec)
            return next_action::done;
        reading_ = true;
        return next_action::read;
    }

private:
    bool reading_ = false;
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

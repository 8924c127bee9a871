/// \file smtp/protocol/algorithms/starttls.hpp
///
/// STARTTLS (RFC 3207): only when the server offered it; after its 220,
/// everything received and not yet used is discarded (plaintext injected
/// after the 220 is dropped unread, RFC 3207 4.2), the capabilities are
/// forgotten, and the TLS handshake runs.
#ifndef SMTP_PROTOCOL_ALGORITHMS_STARTTLS_HPP
#define SMTP_PROTOCOL_ALGORITHMS_STARTTLS_HPP

#include <smtp/protocol/algorithms/command.hpp>
#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN
namespace sansio {

class starttls {
public:
    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        switch (step_) {
        case step::start:
            if (!st.caps.template has<ext::starttls>()) {
                st.fail(errc::starttls_not_offered);
                return finish();
            }
            step_ = step::command;
            [[fallthrough]];
        case step::command:
            if (!sub_done(command_, st, io_ec, next))
                return next;
            if (st.ec)
                return finish();
            st.forget_for_tls();
            st.start_phase(phase::tls_handshake);
            step_ = step::handshake;
            return next_action::tls_handshake;
        case step::handshake:
            if (io_ec)
                st.fail(io_ec);
            return finish();
        case step::done: break;
        }
        return next_action::done;
    }

private:
    enum class step { start, command, handshake, done };
    next_action finish() noexcept
    {
        step_ = step::done;
        return next_action::done;
    }

    step step_ = step::start;
    command<cmd::starttls> command_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

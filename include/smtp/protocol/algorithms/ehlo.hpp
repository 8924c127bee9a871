/// \file smtp/protocol/algorithms/ehlo.hpp
///
/// The greeting command: EHLO, and HELO when EHLO is refused with 5yz (RFC
/// 5321 4.1.4: an old server, no extensions); LHLO for LMTP, with nothing to
/// fall back on (RFC 2033 4.1). Fills st.caps and st.esmtp.
#ifndef SMTP_PROTOCOL_ALGORITHMS_EHLO_HPP
#define SMTP_PROTOCOL_ALGORITHMS_EHLO_HPP

#include <smtp/protocol/algorithms/command.hpp>
#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN
namespace sansio {

class ehlo {
public:
    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        switch (step_) {
        case step::start:
            if (st.lmtp) // LMTP: LHLO
                lhlo_.get().domain = st.options.local_name;
            else
                ehlo_.get().domain = st.options.local_name;
            step_ = st.lmtp ? step::lhlo : step::ehlo;
            return resume(st, io_ec); // into the chosen step
        case step::lhlo:
            if (!sub_done(lhlo_, st, io_ec, next))
                return next;
            if (!st.ec)
                take_capabilities(st);
            return finish();
        case step::ehlo:
            if (!sub_done(ehlo_, st, io_ec, next))
                return next;
            if (!st.ec) {
                take_capabilities(st);
                return finish();
            }
            if (st.ec != errc::permanent_failure)
                return finish();
            // An old server: HELO, no extensions.
            st.ec = {};
            st.diag.clear();
            helo_.get().domain = st.options.local_name;
            step_ = step::helo;
            io_ec = {};
            [[fallthrough]];
        case step::helo:
            if (!sub_done(helo_, st, io_ec, next))
                return next;
            st.caps = {};
            st.esmtp = false;
            return finish();
        case step::done: break;
        }
        return next_action::done;
    }

private:
    enum class step { start, lhlo, ehlo, helo, done };
    next_action finish() noexcept
    {
        step_ = step::done;
        return next_action::done;
    }
    template <class State>
    static void take_capabilities(State& st)
    {
        st.caps = capabilities::from_ehlo(st.current, st.ec);
        st.esmtp = !st.ec;
    }

    step step_ = step::start;
    command<cmd::ehlo> ehlo_{};
    command<cmd::helo> helo_{};
    command<cmd::lhlo> lhlo_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

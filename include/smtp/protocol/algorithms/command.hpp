/// \file smtp/protocol/algorithms/command.hpp
///
/// One command and its reply, classified: RSET, NOOP, VRFY, EXPN, HELP, a raw
/// command (docmd), MAIL, RCPT, and the commands inside the other algorithms
/// (EHLO, HELO, LHLO, STARTTLS, DATA, QUIT). A command whose arguments are
/// refused is an error before any byte is written.
#ifndef SMTP_PROTOCOL_ALGORITHMS_COMMAND_HPP
#define SMTP_PROTOCOL_ALGORITHMS_COMMAND_HPP

#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/version.hpp>

#include <type_traits>
#include <utility>

SMTP_NAMESPACE_BEGIN
namespace sansio {

/// `ph`: the phase whose time limit applies to the reply (phase::mail for
/// MAIL, phase::rcpt for RCPT, phase::data_init for DATA).
template <class C>
class command {
public:
    command() = default;
    explicit command(C c, phase ph = phase::command) : cmd_(std::move(c)), phase_(ph) {}

    C& get() noexcept { return cmd_; }

    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        switch (step_) {
        case step::start:
            if (!st.queue_command(cmd_))
                return finish();
            st.start_phase(phase_, verb_of(cmd_));
            step_ = step::write;
            return next_action::write;
        case step::write:
            if (io_ec) {
                st.fail(io_ec);
                return finish();
            }
            step_ = step::read;
            io_ec = {};
            [[fallthrough]];
        case step::read:
            if (!sub_done(read_, st, io_ec, next))
                return next;
            if (st.ec)
                return finish();
            count_recipients(st);
            if (const errc e = outcome_error(classify<C>(st.current.code())); e != errc{})
                st.fail_with_reply(e);
            return finish();
        case step::done: break;
        }
        return next_action::done;
    }

private:
    enum class step { start, write, read, done };
    /// MAIL and RSET start the count of accepted RCPTs; a 2yz to RCPT adds one.
    template <class State>
    void count_recipients(State& st) const noexcept
    {
        if constexpr (std::is_same_v<C, cmd::mail_from> || std::is_same_v<C, cmd::rset>)
            st.rcpts_accepted = 0;
        else if constexpr (std::is_same_v<C, cmd::rcpt_to>)
            st.rcpts_accepted += st.current.code().value() / 100 == 2;
    }
    next_action finish() noexcept
    {
        step_ = step::done;
        return next_action::done;
    }

    C cmd_{};
    phase phase_ = phase::command;
    step step_ = step::start;
    read_reply read_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

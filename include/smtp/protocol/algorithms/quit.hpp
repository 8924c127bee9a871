/// \file smtp/protocol/algorithms/quit.hpp
///
/// QUIT, then close the connection whatever the server said (or did not say).
#ifndef SMTP_PROTOCOL_ALGORITHMS_QUIT_HPP
#define SMTP_PROTOCOL_ALGORITHMS_QUIT_HPP

#include <smtp/protocol/algorithms/command.hpp>
#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN
namespace sansio {

class quit {
public:
    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        switch (step_) {
        case step::command:
            if (!sub_done(command_, st, io_ec, next))
                return next;
            step_ = step::close;
            return next_action::close;
        case step::close:
            step_ = step::done;
            [[fallthrough]];
        case step::done: break;
        }
        return next_action::done;
    }

private:
    enum class step { command, close, done };
    step step_ = step::command;
    command<cmd::quit> command_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

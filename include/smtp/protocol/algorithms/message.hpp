/// \file smtp/protocol/algorithms/message.hpp
///
/// The message of a transaction opened step by step (session::data() and
/// bdat()): DATA, its 354 and the dot-stuffed bytes, or BDAT n LAST and the
/// bytes as they are (RFC 3030); then the reply to the end of data (under
/// LMTP, one per RCPT accepted: session_state::rcpts_accepted). When the
/// data went out and a reply did not come, the outcome is unknown: the
/// message may have been queued (errc::outcome_unknown).
#ifndef SMTP_PROTOCOL_ALGORITHMS_MESSAGE_HPP
#define SMTP_PROTOCOL_ALGORITHMS_MESSAGE_HPP

#include <smtp/protocol/algorithms/command.hpp>
#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/data_encoder.hpp>
#include <smtp/version.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

SMTP_NAMESPACE_BEGIN
namespace sansio {

/// Dot-stuffs `message` into `out` with its final dot. On an error (the
/// message cannot be sent as it is) nothing has gone out yet.
inline void encode_message(std::string_view message, std::string& out, error_code& ec)
{
    data_encoder enc;
    out.reserve(out.size() + data_encoder::max_encoded_size(message.size()) + data_encoder::max_trailer_size);
    enc.encode(message, out, ec);
    if (!ec)
        enc.finish(out, ec);
}

class message {
public:
    enum class framing { data, bdat };

    /// `payload`: for DATA, the dot-stuffed message with its final dot
    /// (encode_message); for BDAT, the message as it is.
    message(std::string payload, framing f) : payload_(std::move(payload)), framing_(f) {}

    /// True when st.current is the reply to the end of data.
    bool final_reply() const noexcept { return final_reply_; }

    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        switch (step_) {
        case step::start:
            st.data_phase_reply = true;
            if (framing_ == framing::bdat) {
                st.wbuf.clear();
                cmd::bdat{payload_.size(), true}.write_to(st.wbuf);
                st.wbuf.append(payload_);
                return write_payload(st);
            }
            data_ = command<cmd::data>(cmd::data{}, phase::data_init);
            step_ = step::data_command;
            [[fallthrough]];
        case step::data_command:
            if (!sub_done(data_, st, io_ec, next))
                return next;
            if (st.ec)
                return finish(st);
            st.wbuf = std::move(payload_);
            return write_payload(st);
        case step::payload:
            if (io_ec) {
                st.fail(io_ec);
                return finish(st);
            }
            st.start_phase(phase::data_term, "the end of data");
            step_ = step::reply;
            io_ec = {};
            [[fallthrough]];
        case step::reply:
            // One reply; under LMTP one per accepted RCPT, in their order
            // (RFC 2033 4.2): each is read, so that the next command reads
            // its own; the first refusal among them is the error.
            for (;;) {
                if (!sub_done(read_, st, io_ec, next))
                    return next;
                if (st.ec) {
                    st.diag.set_field("end of data");
                    st.ec = errc::outcome_unknown;
                    return finish(st);
                }
                final_reply_ = true;
                if (const errc e = outcome_error(classify<cmd::end_of_data>(st.current.code()));
                    e != errc{} && !refused_)
                    refused_.emplace(e, reply(st.current));
                if (!st.lmtp || ++replies_ >= st.rcpts_accepted)
                    break;
                read_ = read_reply{};
                io_ec = {};
            }
            if (refused_) {
                st.ec = refused_->first;
                st.diag.set_reply(std::move(refused_->second));
            }
            return finish(st);
        case step::done: break;
        }
        return next_action::done;
    }

private:
    enum class step { start, data_command, payload, reply, done };

    template <class State>
    next_action write_payload(State& st)
    {
        st.wkind = log::sent::message;
        st.start_phase(phase::data_block);
        step_ = step::payload;
        return next_action::write;
    }
    template <class State>
    next_action finish(State& st) noexcept
    {
        st.data_phase_reply = false;
        st.rcpts_accepted = 0; // the transaction is over
        step_ = step::done;
        return next_action::done;
    }

    std::string payload_;
    framing framing_;
    bool final_reply_ = false;
    std::size_t replies_ = 0;                        ///< replies to the end of data so far
    std::optional<std::pair<errc, reply>> refused_{}; ///< the first refusal among them
    step step_ = step::start;
    command<cmd::data> data_{};
    read_reply read_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

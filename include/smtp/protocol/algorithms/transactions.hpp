/// \file smtp/protocol/algorithms/transactions.hpp
///
/// Messages, in order, each a planned smtp::transaction (smtp/protocol/
/// transaction.hpp) that says what to write and takes the replies. Replies go
/// to the oldest unfinished transaction. With PIPELINING, once a message's
/// data is complete the next message's commands join the same write (RFC
/// 2920 3.1): with DATA, whose 354 must come back first, a stream of messages
/// costs about one round trip each. With BDAT nothing waits for a go-ahead,
/// so up to transaction_settings::window whole transactions are on the wire
/// at once (a window: about W messages a round trip). Replies already read
/// are taken before anything more is written, so a window is refilled in
/// one write, not one per message. When the connection fails, every
/// transaction still open settles its outcome (not sent, or unknown after
/// its end of data); after a 421 the ones behind its owner are not sent (the
/// server closed before reaching them). st.ec: a single transaction's error;
/// for several, only what broke the session.
///
/// Its per-message path allocates nothing of its own and calls nothing
/// virtual: the write buffer and the read buffer are the state's, reused.
#ifndef SMTP_PROTOCOL_ALGORITHMS_TRANSACTIONS_HPP
#define SMTP_PROTOCOL_ALGORITHMS_TRANSACTIONS_HPP

#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/transaction.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace sansio {

/// The command whose reply a transaction awaits, for a timeout's words.
inline std::string_view awaited_name(transaction::awaiting a) noexcept
{
    switch (a) {
    case transaction::awaiting::mail: return "MAIL";
    case transaction::awaiting::rcpt: return "RCPT";
    case transaction::awaiting::data: return "DATA";
    case transaction::awaiting::bdat: return "BDAT";
    case transaction::awaiting::end_of_data: return "the end of data";
    case transaction::awaiting::rset: return "RSET";
    case transaction::awaiting::nothing: break;
    }
    return {};
}

/// The phase (and so the time limit) of the reply a transaction awaits.
inline phase phase_for(transaction::awaiting a) noexcept
{
    switch (a) {
    case transaction::awaiting::mail: return phase::mail;
    case transaction::awaiting::rcpt: return phase::rcpt;
    case transaction::awaiting::data: return phase::data_init;
    case transaction::awaiting::bdat:
    case transaction::awaiting::end_of_data: return phase::data_term;
    case transaction::awaiting::rset:
    case transaction::awaiting::nothing: break;
    }
    return phase::command;
}

class transactions {
public:
    explicit transactions(std::span<transaction> ts) noexcept : ts_(ts) {}

    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        for (;;) {
            switch (step_) {
            case step::round:
                while (head_ < ts_.size() && ts_[head_].next() == transaction::want::done)
                    ++head_;
                if (head_ == ts_.size()) {
                    step_ = step::finish;
                    continue;
                }
                tail_ = std::max(tail_, head_);
                if (st.has_unread()) {
                    if (ts_[head_].next() == transaction::want::read) {
                        // Replies already here (a window's): take them before
                        // writing more, so that a refill is one write.
                        start_reply(st);
                        continue;
                    }
                    if (will_write(st.options.transactions.window)) { // replies nobody asked for: the stream cannot be trusted
                        fail_open(errc::unsolicited_reply);
                        st.fail(errc::unsolicited_reply);
                        step_ = step::finish;
                        continue;
                    }
                }
                first_incomplete_ = head_;
                while (first_incomplete_ < ts_.size() && ts_[first_incomplete_].data_complete())
                    ++first_incomplete_;
                fill(st);
                if (tail_ < ts_.size() && ts_[tail_].aborted()) {
                    // A streamed message turned out unsendable midway: its end
                    // of data must not go out. Closing the connection makes
                    // the server drop what it got.
                    aborted_ = ts_[tail_].error();
                    st.wbuf.clear();
                    st.logged = false;
                    fail_open(errc::connection_closed);
                    st.broken = true;
                    step_ = step::closed;
                    return next_action::close;
                }
                if (!st.wbuf.empty()) {
                    st.wkind = log::sent::command;
                    st.start_phase(phase::data_block);
                    step_ = step::written;
                    return next_action::write;
                }
                start_reply(st);
                io_ec = {};
                [[fallthrough]];
            case step::reply:
                if (!sub_done(read_, st, io_ec, next))
                    return next;
                st.data_phase_reply = false;
                if (st.ec) {
                    const error_code e = st.ec;
                    fail_open(e);
                    st.ec = e;
                    step_ = step::finish;
                    continue;
                }
                ts_[head_].on_reply(st.current);
                if (ts_[head_].server_closing()) { // 421: the server is going away
                    // It answered in order: what follows the command it
                    // answered was never taken (not sent, even if written).
                    fail_open(errc::connection_closed, head_ + 1);
                    st.broken = true;
                    st.ec = errc::connection_closed;
                    step_ = step::finish;
                    continue;
                }
                step_ = step::round;
                continue;
            case step::written:
                if (io_ec) {
                    // Only the end of data that closed the buffer cannot have
                    // gone: the write that failed held it, and a failed write
                    // moves no byte. One followed by more bytes (the next
                    // message's commands) may have gone before the failure.
                    fail_open(io_ec, end_owner_ >= first_incomplete_ ? end_owner_ : npos);
                    st.fail(io_ec);
                    step_ = step::finish;
                    continue;
                }
                for (std::size_t i = head_; i <= tail_ && i < ts_.size(); ++i)
                    ts_[i].report_progress();
                step_ = step::round;
                continue;
            case step::closed:
                st.ec = aborted_;
                step_ = step::finish;
                continue;
            case step::finish:
                if (ts_.size() == 1) { // its own verdict, with the reply that decided it
                    st.ec = ts_[0].error();
                    std::string what = st.diag.detail_text(); // what happened to the I/O, if anything
                    st.diag = ts_[0].diag();
                    if (st.diag.detail_text().empty() && !what.empty())
                        st.diag.set_detail_text(std::move(what));
                }
                step_ = step::done;
                return next_action::done;
            case step::done: return next_action::done;
            }
        }
    }

private:
    enum class step { round, reply, written, closed, finish, done };

    template <class State>
    void start_reply(State& st)
    {
        const auto a = ts_[head_].awaited();
        st.start_phase(phase_for(a), awaited_name(a));
        st.data_phase_reply = a == transaction::awaiting::data || a == transaction::awaiting::end_of_data;
        step_ = step::reply;
    }

    /// Appends what the transactions have to send now, up to about one write's worth.
    template <class State>
    void fill(State& st)
    {
        const std::size_t limit = st.options.transactions.write_size + 4096;
        const std::size_t window = std::max<std::size_t>(1, st.options.transactions.window);
        end_owner_ = npos;
        while (tail_ < ts_.size() && st.wbuf.size() < limit) {
            transaction& t = ts_[tail_];
            const auto w = t.next();
            if (w == transaction::want::write) {
                const std::size_t at = st.wbuf.size();
                t.write(st.wbuf);
                if (t.aborted())
                    return;
                end_owner_ = t.data_complete() ? tail_ : npos; // whose end of data closes the buffer, if any
                if constexpr (State::log_type::enabled) {
                    st.log.on_send(std::string_view(st.wbuf).substr(at),
                                   t.wrote_data() ? log::sent::message : log::sent::command);
                    st.logged = true;
                }
                continue;
            }
            // Waiting for replies: the next message may follow once this
            // one's data is all out, when the server pipelines.
            // With BDAT, at most `window` transactions are on the wire.
            if (!may_follow(tail_, window) || tail_ + 1 >= ts_.size())
                break;
            if (w != transaction::want::done)
                t.on_followed();
            ++tail_;
        }
    }

    /// May the transaction after ts_[i] go out now? When ts_[i] is done, or
    /// its data is all out and the server pipelines; with BDAT, while fewer
    /// than `window` (at least 1) transactions from the head are on the wire.
    bool may_follow(std::size_t i, std::size_t window) const noexcept
    {
        const transaction& t = ts_[i];
        return t.next() == transaction::want::done ||
               (t.data_complete() && t.pipelined() && (!t.uses_bdat() || i + 1 - head_ < window));
    }

    /// Would fill() write something now? (The same walk, without writing.)
    bool will_write(std::size_t window) const noexcept
    {
        window = std::max<std::size_t>(1, window);
        for (std::size_t i = tail_; i < ts_.size(); ++i) {
            const auto w = ts_[i].next();
            if (w == transaction::want::write)
                return true;
            if (!may_follow(i, window))
                return false;
        }
        return false;
    }

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    /// Every transaction still open settles. Those from `unsent` on cannot
    /// have their end of data at the server (it closed the write that failed).
    void fail_open(error_code e, std::size_t unsent = npos)
    {
        for (std::size_t i = head_; i < ts_.size(); ++i)
            ts_[i].on_failure(e, i < unsent);
    }

    std::span<transaction> ts_;
    std::size_t head_ = 0, tail_ = 0;
    std::size_t first_incomplete_ = 0; ///< before a write: the first transaction whose data is not all out
    std::size_t end_owner_ = npos;     ///< the transaction whose end of data ends the write buffer, if one does
    error_code aborted_{};
    step step_ = step::round;
    read_reply read_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/retry_policy.hpp
///
/// Whether and when to send a message again, decided from its
/// transaction_result alone (no I/O, no clock of its own: the caller gives
/// the attempt number, the time spent and a random number), so that the pool
/// and a user of a plain session decide alike:
/// ```
///   smtp::retry_decision d = smtp::decide_retry(result, attempts, elapsed, options, uniform01);
///   d.action: done | retry_message | retry_recipients (d.recipients), after d.delay
/// ```
/// The rules (docs/retries.md says why):
/// - `unknown` is never sent again: the data went out and the reply to it
///   was lost, so the server may have the message; sending it again could
///   deliver it twice.
/// - `not_sent` is sent again when what stopped it may pass (the
///   connection, a timeout, a 4yz), never when it was the message itself
///   (refused before a byte was sent) or a cancellation.
/// - A refusal is retried only when it was transient (4yz); per recipient,
///   only the recipients that got a 4yz are sent again, in a new
///   transaction with just them; the others' verdicts stay final.
/// - An RFC 3463 enhanced status code decides the class where the reply has
///   one (reply::status(); the parser takes one only when its class agrees
///   with the reply code's first digit), the reply code otherwise.
/// - Each retry waits an exponential backoff with jitter, and none starts
///   after the deadline or beyond max_attempts.
///
/// Also here, for the pool's throttling and usable alone: the throttle
/// signals (is_throttle_signal), an AIMD concurrency controller
/// (throttle_control) and a token bucket (token_bucket), each driven by the
/// caller's time points.
#ifndef SMTP_PROTOCOL_RETRY_POLICY_HPP
#define SMTP_PROTOCOL_RETRY_POLICY_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/protocol/send_request.hpp>
#include <smtp/protocol/transaction_result.hpp>
#include <smtp/version.hpp>


#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// What a reply says about the message, by RFC 3463's classes.
enum class reply_verdict {
    none,      ///< no reply (empty), or a positive one
    transient, ///< 4yz / 4.x.x: may pass later
    permanent, ///< 5yz / 5.x.x: sending it again as it is will not help
};

/// The class of a reply: the enhanced status code's where there is one,
/// the reply code's first digit otherwise.
inline reply_verdict verdict_of(const reply& r) noexcept
{
    if (r.code().value() == 0)
        return reply_verdict::none;
    const unsigned k = r.status() ? r.status()->klass : r.code().value() / 100;
    return k == 4 ? reply_verdict::transient : k == 5 ? reply_verdict::permanent : reply_verdict::none;
}

/// A reply that asks the client to slow down:
/// - 421, any text: the server is closing the connection, most often
///   because of load or too many connections from one client (RFC 5321
///   3.8, 4.2.3);
/// - 454: a temporary failure of a resource the session needs (TLS, AUTH:
///   RFC 3207, RFC 4954), which busy servers give under load;
/// - any 4yz whose enhanced code is 4.7.x (security or policy: rate
///   limits, greylisting, "too many messages"), 4.4.5 (mail system
///   congestion) or 4.3.2 (system not accepting network messages);
///   451 4.7.x is the usual rate limit.
/// A 4yz without such a code (a full mailbox, 450 4.2.1 for one
/// recipient) concerns one recipient or message, not the client's pace.
inline bool is_throttle_signal(const reply& r) noexcept
{
    const unsigned c = r.code().value();
    if (c == 421 || c == 454)
        return true;
    const std::optional<enhanced_status> status = r.status();
    if (c / 100 != 4 || !status)
        return false;
    const enhanced_status& s = *status;
    return s.subject == 7 || (s.subject == 4 && s.detail == 5) || (s.subject == 3 && s.detail == 2);
}

/// Every reply the result holds that says slow down (is_throttle_signal).
inline bool has_throttle_signal(const transaction_result& r) noexcept
{
    if (is_throttle_signal(r.mail_reply) || is_throttle_signal(r.data_reply) || is_throttle_signal(r.final_reply))
        return true;
    return std::any_of(r.recipients.begin(), r.recipients.end(), [](const recipient_result& x) {
        return is_throttle_signal(x.rcpt_reply) || (x.delivery && is_throttle_signal(*x.delivery));
    });
}

/// When not_sent may go again: the connection or the server stopped it
/// (an I/O error, a timeout, a closed or broken session, a 4yz), not the
/// message (a check that fails before a byte is sent fails again) and not
/// the caller (a cancellation).
inline bool retryable_error(const error_code& e) noexcept
{
    if (!e)
        return false;
    if (e == boost::system::errc::operation_canceled)
        return false;
    if (e.category() != smtp_category())
        return true; // the network's or TLS's
    switch (static_cast<errc>(e.value())) {
    case errc::transient_failure:
    case errc::timeout:
    case errc::connection_closed:
    case errc::session_broken:
        return true;
    default:
        return false;
    }
}

struct retry_options {
    unsigned max_attempts = 3; ///< transactions per message, the first included (1: never retry)
    std::chrono::milliseconds initial_backoff = std::chrono::seconds(1); ///< before the first retry
    double multiplier = 2.0;                                        ///< each next wait, times this
    std::chrono::milliseconds max_backoff = std::chrono::minutes(1); ///< no wait longer than this
    /// The wait is drawn from [d * (1 - jitter), d], so that messages
    /// refused together do not come back together. 0: exactly d.
    double jitter = 0.5;
    /// No retry would start later than this after the first attempt.
    std::chrono::milliseconds deadline = std::chrono::minutes(5);
};

enum class retry_action {
    done,             ///< the result is final
    retry_message,    ///< send the whole message again
    retry_recipients, ///< a new transaction for retry_decision::recipients only
};

struct retry_decision {
    retry_action action = retry_action::done;
    /// retry_recipients: indices into the result's recipients (and the
    /// message's `to`, which it follows), in order.
    std::vector<std::size_t> recipients{};
    std::chrono::milliseconds delay{}; ///< wait this long first
    bool throttled = false;            ///< a reply said slow down (is_throttle_signal)
    std::string_view reason{};         ///< why, in words
};

/// The wait before retry number `retry` (1 for the first retry):
/// initial_backoff * multiplier^(retry-1), at most max_backoff, minus up to
/// `jitter` of it as `uniform01` (in [0, 1)) says.
inline std::chrono::milliseconds backoff_delay(unsigned retry, const retry_options& o, double uniform01) noexcept
{
    double d = static_cast<double>(o.initial_backoff.count());
    const double cap = static_cast<double>(o.max_backoff.count());
    for (unsigned i = 1; i < retry && d < cap; ++i)
        d *= o.multiplier;
    d = std::min(d, cap);
    const double j = std::clamp(o.jitter, 0.0, 1.0);
    const double u = std::clamp(uniform01, 0.0, 1.0);
    d -= d * j * u;
    return std::chrono::milliseconds(static_cast<long long>(std::max(0.0, d)));
}

/// Decides what to do with `r`, the result of attempt number `attempts`
/// (1 for the first transaction), `elapsed` after the first began.
/// `uniform01` is a random number in [0, 1) for the jitter.
inline retry_decision decide_retry(const transaction_result& r, unsigned attempts, std::chrono::milliseconds elapsed,
                                   const retry_options& o, double uniform01)
{
    retry_decision d;
    d.throttled = has_throttle_signal(r);
    const auto give_up = [&](std::string_view why) {
        d.action = retry_action::done;
        d.recipients.clear();
        d.reason = why;
        return d;
    };
    // What could be retried, before the bounds are asked.
    switch (r.outcome) {
    case transaction_outcome::unknown:
        return give_up("outcome unknown: the server may have the message; sending it again could duplicate it");
    case transaction_outcome::not_sent:
        if (!retryable_error(r.error) && verdict_of(r.mail_reply) != reply_verdict::transient)
            return give_up(r.error ? "not sent, for a reason a retry does not change" : "not sent");
        d.action = retry_action::retry_message;
        d.reason = "not sent: the server did not get the whole message";
        break;
    case transaction_outcome::refused:
    case transaction_outcome::queued: {
        const bool mail_refused = r.outcome == transaction_outcome::refused && verdict_of(r.mail_reply) != reply_verdict::none;
        if (mail_refused) {
            if (verdict_of(r.mail_reply) != reply_verdict::transient)
                return give_up("MAIL refused permanently");
            d.action = retry_action::retry_message;
            d.reason = "MAIL refused with a transient reply";
            break;
        }
        // DATA, a BDAT chunk or the end of data refused (then no recipient
        // has the message): every recipient not refused for good goes again.
        // (When RCPT accepted no recipient, DATA's refusal only says so.)
        reply_verdict whole = reply_verdict::none;
        const bool some_rcpt = std::any_of(r.recipients.begin(), r.recipients.end(), [](const recipient_result& x) {
            return x.rcpt_reply.code().is_positive();
        });
        if (r.outcome == transaction_outcome::refused && some_rcpt) {
            const bool lmtp = std::any_of(r.recipients.begin(), r.recipients.end(),
                                          [](const recipient_result& x) { return x.delivery.has_value(); });
            const reply_verdict dv = verdict_of(r.data_reply);
            const reply_verdict fv = lmtp ? reply_verdict::none : verdict_of(r.final_reply);
            if (dv == reply_verdict::permanent || fv == reply_verdict::permanent)
                return give_up("refused permanently");
            if (dv == reply_verdict::transient || fv == reply_verdict::transient)
                whole = reply_verdict::transient;
        }
        for (std::size_t i = 0; i < r.recipients.size(); ++i) {
            const recipient_result& x = r.recipients[i];
            const reply_verdict v = verdict_of(x.decisive());
            if (v == reply_verdict::transient || (whole == reply_verdict::transient && v == reply_verdict::none))
                d.recipients.push_back(i);
        }
        if (d.recipients.empty())
            return give_up(r.outcome == transaction_outcome::queued ? "queued" : "refused permanently");
        d.action = d.recipients.size() == r.recipients.size() ? retry_action::retry_message
                                                              : retry_action::retry_recipients;
        d.reason = "refused with a transient reply";
        break;
    }
    }
    if (attempts >= o.max_attempts)
        return give_up("no attempt left (retry_options::max_attempts)");
    d.delay = backoff_delay(attempts, o, uniform01);
    if (elapsed + d.delay > o.deadline)
        return give_up("the deadline would pass (retry_options::deadline)");
    if (d.action == retry_action::retry_message)
        d.recipients.clear();
    return d;
}

/// The recipients of the next attempt: the message's `to` as the decision says.
inline std::vector<recipient> recipients_to_retry(const std::vector<recipient>& to, const retry_decision& d)
{
    if (d.action != retry_action::retry_recipients)
        return d.action == retry_action::done ? std::vector<recipient>{} : to;
    std::vector<recipient> out;
    out.reserve(d.recipients.size());
    for (std::size_t i : d.recipients)
        if (i < to.size())
            out.push_back(to[i]);
    return out;
}

namespace detail {

/// Before a result is merged with another: the recipients an attempt that
/// was not queued accepted at RCPT do not have the message. They take the
/// reply that ended the attempt as their verdict (in `delivery`, as LMTP's
/// per-recipient replies), or, when none came (the connection was lost),
/// an empty reply: no verdict. Then accepted() says who has the message,
/// whatever attempt it came from.
inline void settle_recipients(transaction_result& r)
{
    if (r.outcome == transaction_outcome::queued)
        return;
    const reply* end = nullptr;
    if (r.final_reply.code().value() != 0)
        end = &r.final_reply;
    else if (r.data_reply.code().value() != 0 && r.data_reply.code() != 354)
        end = &r.data_reply;
    for (auto& x : r.recipients) {
        if (!x.rcpt_reply.code().is_positive() || (x.delivery && !x.delivery->code().is_positive()))
            continue;
        if (end && !x.delivery)
            x.delivery = *end;
        else {
            x.rcpt_reply = reply{};
            x.delivery.reset();
        }
    }
}

} // namespace detail

/// Folds the result of a later attempt into what the earlier ones gave, so
/// that the caller sees one result per message: `which[i]` is the index in
/// `so_far.recipients` of `next.recipients[i]`. Those recipients take
/// their new verdict, the others keep theirs (a recipient accepted at RCPT
/// by an attempt that was not queued takes the reply that ended it, or an
/// empty one: accepted() is true only for those that have the message);
/// the message-level replies are
/// the last attempt's; attempts add up. The outcome: unknown when the last
/// attempt's is (the caller must hear of it), queued when some recipient
/// has the message, the last attempt's otherwise.
inline void merge_attempt(transaction_result& so_far, transaction_result&& next, const std::vector<std::size_t>& which)
{
    const bool was_queued = so_far.outcome == transaction_outcome::queued;
    detail::settle_recipients(so_far);
    detail::settle_recipients(next);
    for (std::size_t i = 0; i < next.recipients.size() && i < which.size(); ++i)
        if (which[i] < so_far.recipients.size())
            so_far.recipients[which[i]] = std::move(next.recipients[i]);
    so_far.mail_reply = std::move(next.mail_reply);
    so_far.data_reply = std::move(next.data_reply);
    so_far.final_reply = std::move(next.final_reply);
    so_far.attempts += next.attempts;
    if (next.outcome == transaction_outcome::unknown) {
        so_far.outcome = transaction_outcome::unknown;
        so_far.error = next.error;
    } else if (was_queued || next.outcome == transaction_outcome::queued) {
        so_far.outcome = transaction_outcome::queued;
        so_far.error = {};
    } else {
        so_far.outcome = next.outcome;
        so_far.error = next.error;
    }
}

/// AIMD over the number of sessions: on a throttle signal the limit is
/// multiplied by `decrease` (at least min_sessions) and new work pauses;
/// after as many successes as the limit, it grows by one (at most the
/// configured maximum). One decrease per pause: the sessions a single
/// overload hits together cut the limit once, not once each.
struct throttle_options {
    bool enabled = true;
    double decrease = 0.5;
    std::size_t min_sessions = 1;
    std::chrono::milliseconds initial_pause = std::chrono::seconds(1); ///< after a first signal
    std::chrono::milliseconds max_pause = std::chrono::minutes(1);     ///< doubling while signals keep coming
};

class throttle_control {
public:
    using time_point = std::chrono::steady_clock::time_point;

    throttle_control(std::size_t max_sessions, throttle_options o) noexcept
        : o_(o), max_(std::max<std::size_t>(1, max_sessions)), limit_(static_cast<double>(max_))
    {
        o_.min_sessions = std::clamp<std::size_t>(o_.min_sessions, 1, max_);
    }

    /// A throttle signal at `now`. True when it cut the limit.
    bool on_throttle(time_point now) noexcept
    {
        if (!o_.enabled || now < paused_until_)
            return false;
        limit_ = std::max(static_cast<double>(o_.min_sessions), std::floor(limit_ * o_.decrease));
        pause_ = pause_.count() == 0 ? o_.initial_pause : std::min(o_.max_pause, pause_ * 2);
        paused_until_ = now + pause_;
        successes_ = 0;
        return true;
    }
    /// A message queued.
    void on_success() noexcept
    {
        pause_ = {};
        if (++successes_ >= static_cast<std::size_t>(limit_) && limit_ < static_cast<double>(max_)) {
            limit_ += 1;
            successes_ = 0;
        }
    }
    /// Sessions allowed now.
    std::size_t limit() const noexcept { return static_cast<std::size_t>(limit_); }
    /// Nothing new (connection, transaction) starts before this.
    time_point paused_until() const noexcept { return paused_until_; }

private:
    throttle_options o_;
    std::size_t max_;
    double limit_;
    std::size_t successes_ = 0;
    std::chrono::milliseconds pause_{};
    time_point paused_until_{};
};

/// A token bucket: `rate` tokens a second, at most `burst` saved up (and
/// at first). rate <= 0: no limit.
class token_bucket {
public:
    using time_point = std::chrono::steady_clock::time_point;

    token_bucket(double rate, double burst) noexcept : rate_(rate), burst_(std::max(1.0, burst)), tokens_(burst_) {}

    bool limited() const noexcept { return rate_ > 0; }
    /// Takes a token when there is one at `now`.
    bool try_take(time_point now) noexcept
    {
        if (!limited())
            return true;
        refill(now);
        if (tokens_ < 1.0)
            return false;
        tokens_ -= 1.0;
        return true;
    }
    /// When the next token will be there (now when there is one).
    time_point next_token(time_point now) noexcept
    {
        if (!limited())
            return now;
        refill(now);
        if (tokens_ >= 1.0)
            return now;
        const double seconds = (1.0 - tokens_) / rate_;
        return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(seconds)) + std::chrono::steady_clock::duration(1);
    }

private:
    void refill(time_point now) noexcept
    {
        if (last_ != time_point{} && now > last_)
            tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
        if (now > last_ || last_ == time_point{})
            last_ = now;
    }
    double rate_, burst_, tokens_;
    time_point last_{};
};

SMTP_NAMESPACE_END

#endif

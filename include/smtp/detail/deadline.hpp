// smtp/detail/deadline.hpp
//
// The deadline of the phase a session is in (connect_options::timeouts,
// RFC 5321 4.5.3.2) and its words in errors ("no reply to RCPT within 5 s"),
// and the one timer that enforces it, armed lazily.
#ifndef SMTP_DETAIL_DEADLINE_HPP
#define SMTP_DETAIL_DEADLINE_HPP

#include <smtp/options.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace detail {

using sansio::phase;

/// "300 s", "5 s", "300 ms", "1500 ms": a time limit in words, for errors.
inline std::string format_duration(std::chrono::milliseconds d)
{
    if (d.count() % 1000 == 0)
        return std::to_string(d.count() / 1000) + " s";
    return std::to_string(d.count()) + " ms";
}

/// The time limit of a phase.
inline std::chrono::milliseconds phase_limit(const timeouts& t, phase p) noexcept
{
    switch (p) {
    case phase::connect:
    case phase::tls_handshake: return t.connect;
    case phase::greeting: return t.greeting;
    case phase::command: return t.command;
    case phase::mail: return t.mail;
    case phase::rcpt: return t.rcpt;
    case phase::data_init: return t.data_init;
    case phase::data_block: return t.data_block;
    case phase::data_term: return t.data_term;
    }
    return t.command;
}

/// The words for a timeout in a phase: "no greeting within 300 s", "no
/// reply to RCPT within 5 s". `awaited`: the command whose reply was awaited.
inline std::string timeout_text(const timeouts& t, phase p, std::string_view awaited)
{
    const std::string within = " within " + format_duration(phase_limit(t, p));
    switch (p) {
    case phase::connect: return "no connection" + within;
    case phase::tls_handshake: return "no TLS handshake" + within;
    case phase::greeting: return "no greeting" + within;
    case phase::data_block: return "a write did not finish" + within;
    default: break;
    }
    return "no reply to " + std::string(awaited.empty() ? std::string_view("the command") : awaited) + within;
}

/// One deadline timer per connection, armed lazily: an I/O operation moves
/// `deadline` (cheap); the timer is set again only when the new deadline is
/// earlier than the one it waits for, and when it fires early it waits on.
/// So a stream of messages costs no timer system calls per message.
struct deadline_timer {
    explicit deadline_timer(const boost::asio::any_io_executor& ex) : timer(ex) {}

    boost::asio::steady_timer timer;
    std::chrono::steady_clock::time_point deadline{};
    std::chrono::steady_clock::time_point armed_at{};
    std::uint64_t gen = 0; ///< which wait is current (older ones ignore their completion)
    bool armed = false;
    bool io_pending = false;
    bool timed_out = false;
};

/// Waits for the connection's deadline; when it passes with an I/O pending,
/// cancels the transport (the driver then reports errc::timeout).
template <class Conn>
void wait_for_deadline(Conn& conn)
{
    deadline_timer& d = conn.timer;
    const std::uint64_t gen = ++d.gen;
    d.armed = true;
    d.armed_at = d.deadline;
    d.timer.expires_at(d.deadline);
    d.timer.async_wait([c = &conn, gen](error_code e) {
        deadline_timer& t = c->timer;
        if (e || gen != t.gen)
            return; // cancelled, or replaced by a wait for an earlier deadline
        t.armed = false;
        if (!t.io_pending)
            return;
        if (std::chrono::steady_clock::now() >= t.deadline) {
            t.timed_out = true;
            c->transport.cancel();
        } else {
            wait_for_deadline(*c); // the deadline moved on since
        }
    });
}

/// No wait left behind to keep the caller's io_context busy.
inline void disarm(deadline_timer& d)
{
    if (d.armed) {
        ++d.gen;
        d.armed = false;
        d.timer.cancel();
    }
}

} // namespace detail
SMTP_NAMESPACE_END

#endif

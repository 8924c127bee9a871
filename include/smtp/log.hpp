/// \file smtp/log.hpp
///
/// Logging policies: what the session tells a logger, and three loggers.
///
/// ```
///   smtp::log::none        nothing; an empty type whose hooks compile away
///                          (the default; adds nothing to the session's size)
///   smtp::log::transcript  smtplib's debug output on a std::ostream
///                          (send: '...', reply: b'...', reply: retcode (250); Msg: b'...')
///   smtp::log::callback    every event to a std::function
/// ```
///
/// AUTH lines and SASL responses are masked before any logger sees them.
/// A custom logger is any type that satisfies smtp::logger: the two hooks,
/// `static constexpr bool enabled`, and `using policy_category = smtp::log_category;`.
/// The session owns it: session::logger() reaches it.
#ifndef SMTP_LOG_HPP
#define SMTP_LOG_HPP

#include <smtp/protocol/reply.hpp>
#include <smtp/version.hpp>

#include <concepts>
#include <cstdio>
#include <functional>
#include <type_traits>
#include <iostream>
#include <ostream>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

struct log_category {};

namespace log {

/// What was sent.
enum class sent {
    command,        ///< a command line, as written
    masked_command, ///< an AUTH line or SASL response, with the secret replaced by ********
    message,        ///< message data (DATA content with its final dot, or BDAT chunks)
};

/// One event, for callback loggers.
struct event {
    enum kind_t { send, reply } kind;
    sent what = sent::command;      ///< for send
    std::string_view bytes{};       ///< for send: what went out (masked where secret)
    const reply_view* r = nullptr;  ///< for reply
    bool data_phase = false;        ///< the reply answers DATA or the end of data
};

} // namespace log

/// A logger (the log policy), exactly what the session uses of it: its
/// category, `enabled` (a constant: when false, the session skips building
/// what it would be told), the two hooks, and a move into the session.
/// connect() without a logger argument, and the pool, default-construct it.
template <class L>
concept logger = std::same_as<typename L::policy_category, log_category> && std::move_constructible<L> &&
                 requires(L& l, std::string_view bytes, const reply_view& r) {
                     std::bool_constant<L::enabled>{};
                     l.on_send(bytes, log::sent::command);
                     l.on_reply(r, bool{});
                 };

namespace log {

/// No logging: empty, and every hook an inline no-op.
struct none {
    using policy_category = log_category;
    static constexpr bool enabled = false;
    constexpr void on_send(std::string_view, sent) const noexcept {}
    constexpr void on_reply(const reply_view&, bool) const noexcept {}
};

namespace detail {
/// Python's repr of a str ('...') or bytes (b'...'): what smtplib prints.
inline void python_repr(std::ostream& os, std::string_view s, bool bytes)
{
    if (bytes)
        os << 'b';
    const bool dq = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
    const char q = dq ? '"' : '\'';
    os << q;
    for (unsigned char c : s) {
        switch (c) {
        case '\r': os << "\\r"; break;
        case '\n': os << "\\n"; break;
        case '\t': os << "\\t"; break;
        case '\\': os << "\\\\"; break;
        default:
            if (c == static_cast<unsigned char>(q))
                os << '\\' << q;
            else if (c < 0x20 || c >= 0x7F) {
                char buf[5];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                os << buf;
            } else
                os << static_cast<char>(c);
        }
    }
    os << q;
}
} // namespace detail

/// smtplib's set_debuglevel(1) transcript on a stream (std::cerr by default).
class transcript {
public:
    using policy_category = log_category;
    static constexpr bool enabled = true;

    transcript() noexcept : os_(&std::cerr) {}
    explicit transcript(std::ostream& os) noexcept : os_(&os) {}

    void on_send(std::string_view bytes, sent what) const
    {
        *os_ << "send: ";
        detail::python_repr(*os_, bytes, what == sent::message);
        *os_ << '\n';
    }
    void on_reply(const reply_view& r, bool data_phase) const
    {
        std::string_view raw = r.raw();
        while (!raw.empty()) {
            const auto lf = raw.find('\n');
            const auto line = raw.substr(0, lf == std::string_view::npos ? raw.size() : lf + 1);
            *os_ << "reply: ";
            detail::python_repr(*os_, line, true);
            *os_ << '\n';
            raw.remove_prefix(line.size());
        }
        const std::string msg = r.message();
        *os_ << "reply: retcode (" << r.code().value() << "); Msg: ";
        detail::python_repr(*os_, msg, true);
        *os_ << '\n';
        if (data_phase) {
            *os_ << "data: (" << r.code().value() << ", ";
            detail::python_repr(*os_, msg, true);
            *os_ << ")\n";
        }
    }

private:
    std::ostream* os_;
};

/// Every event to a function.
class callback {
public:
    using policy_category = log_category;
    static constexpr bool enabled = true;

    callback() = default;
    explicit callback(std::function<void(const event&)> f) : f_(std::move(f)) {}

    void on_send(std::string_view bytes, sent what) const
    {
        if (f_)
            f_(event{event::send, what, bytes, nullptr, false});
    }
    void on_reply(const reply_view& r, bool data_phase) const
    {
        if (f_)
            f_(event{event::reply, sent::command, {}, &r, data_phase});
    }

private:
    std::function<void(const event&)> f_;
};

} // namespace log
SMTP_NAMESPACE_END

#endif

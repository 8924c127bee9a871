/// \file smtp/protocol/algorithms/session_state.hpp
///
/// The plain state every protocol algorithm works on: what goes out next (the
/// write buffer), what came in (the read buffer, the reply parser and its
/// cursor, the last reply), what the server offers, the session's flags, the
/// phase whose deadline applies (for the driver), and the outcome (error code
/// and diagnostics). No transport, no timer, no Asio: an algorithm asks for
/// I/O by answering next_action, and whoever drives it (the Asio driver in
/// smtp/detail/driver.hpp, or a test's transcript loop) does the I/O on these
/// buffers.
#ifndef SMTP_PROTOCOL_ALGORITHMS_SESSION_STATE_HPP
#define SMTP_PROTOCOL_ALGORITHMS_SESSION_STATE_HPP

#include <smtp/log.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/diagnostics.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

SMTP_NAMESPACE_BEGIN
namespace sansio {

/// What the session waits for; each phase has its time limit
/// (connect_options::timeouts). tls_handshake has the connect phase's limit.
enum class phase { connect, tls_handshake, greeting, command, mail, rcpt, data_init, data_block, data_term };

/// The state of one SMTP session, with its logger (`Log`, an smtp::logger;
/// log::none costs no space and no call).
template <class Log = log::none>
struct session_state {
    using log_type = Log;

    explicit session_state(connect_options o = {}, Log l = Log{})
        : options(std::move(o)), log(std::move(l)), parser(options.limits)
    {}
    session_state(const session_state&) = delete;
    session_state& operator=(const session_state&) = delete;

    connect_options options;
    [[no_unique_address]] Log log;

    // --- Out ---
    std::string wbuf;           ///< what goes out next (the driver clears it once written)
    log::sent wkind = log::sent::command;
    std::string masked;         ///< what the logger sees instead of wbuf, for secrets
    bool logged = false;        ///< the algorithm logged what is being written, piece by piece

    // --- In ---
    std::string rbuf;           ///< received: [rpos, rlen) not yet parsed; the rest is room for reads
    std::size_t rlen = 0;
    std::size_t rpos = 0;
    std::size_t read_at = 0;    ///< where the pending read writes
    reply_parser parser;
    std::optional<reply_parser::cursor> cursor{}; ///< over rbuf from where it was made; reset when rbuf changes
    reply_view current{};       ///< the last reply; valid until the next read
    bool data_phase_reply = false;

    // --- What the session is ---
    capabilities caps{};
    bool esmtp = false;          ///< EHLO (not HELO) was accepted
    bool lmtp = false;           ///< the dialect is LMTP (LHLO, replies per recipient)
    /// Step by step: the RCPTs accepted since MAIL (under LMTP, the end of
    /// data gets one reply for each: RFC 2033 4.2).
    std::size_t rcpts_accepted = 0;
    bool encrypted = false;      ///< the driver keeps this equal to the transport's encrypted()
    bool server_closing = false; ///< a 421 came: the server is closing the connection
    bool broken = false;         ///< the stream cannot be trusted: every further operation fails
    bool closed = false;         ///< the connection was closed

    // --- For the driver ---
    phase current_phase = phase::connect;
    std::string_view awaited{};  ///< the command whose reply is awaited ("RCPT"), for a timeout's words
    bool new_deadline = false;   ///< start_phase() was called: the driver sets the phase's deadline
    /// After a failed TLS handshake: the peer's first bytes, when the driver
    /// knows them (the transport's handshake_bytes()); valid until the next action.
    std::string_view handshake_bytes{};

    // --- The outcome of the operation ---
    error_code ec{};
    diagnostics diag{};

    /// A new phase; the driver starts its deadline with the next I/O. `what`:
    /// the command whose reply ends it (a literal, or a view that outlives the phase).
    void start_phase(phase p, std::string_view what = {}) noexcept
    {
        current_phase = p;
        awaited = what;
        new_deadline = true;
    }

    /// Consumes the last reply and tries to parse the next from what was
    /// received. True: `current` holds a reply. False with e clear: read more.
    bool next_reply(error_code& e)
    {
        rpos += current.raw().size();
        current = {};
        e = {};
        // The batch parser over what was received: a pipelined burst of
        // replies is scanned block by block, not reply by reply. The cursor
        // lives until the buffer changes (the next read).
        if (!cursor)
            cursor.emplace(parser, std::string_view(rbuf.data() + rpos, rlen - rpos));
        if (!cursor->next(current, e)) {
            cursor.reset(); // go on after the next read, from rpos
            current = {};
            if (e == errc::need_more)
                e = {};
            return false;
        }
        if (current.code() == 421)
            server_closing = true;
        log.on_reply(current, data_phase_reply);
        return true;
    }

    /// Room for the next read, after dropping what was parsed.
    std::span<char> read_area()
    {
        cursor.reset();
        if (rpos) { // what was parsed goes; the rest moves to the front
            std::memmove(rbuf.data(), rbuf.data() + rpos, rlen - rpos);
            rlen -= rpos;
            rpos = 0;
        }
        current = {};
        read_at = rlen;
        const std::size_t room = std::max<std::size_t>(4096, options.limits.max_line);
        if (rbuf.size() < read_at + room)
            rbuf.resize(read_at + room); // grows only: no zero-filling per read
        return {rbuf.data() + read_at, room};
    }
    /// `n` bytes arrived in the read area.
    void commit_read(std::size_t n) noexcept { rlen = read_at + n; }

    /// True when bytes were received beyond the replies used so far. Before
    /// a write that can only be bytes no command asked for: a server (or
    /// someone on the path) injecting replies to desynchronise the session.
    bool has_unread() const noexcept { return rpos + current.raw().size() < rlen; }

    /// Forgets everything received and not used (RFC 3207 4.2) and what the
    /// server said it supports.
    void forget_for_tls() noexcept
    {
        cursor.reset();
        rlen = 0;
        rpos = 0;
        current = {};
        parser.reset();
        caps = {};
        esmtp = false;
    }

    /// Serialises a command into the write buffer; false (with ec, diag) when
    /// its arguments are refused: nothing is queued then.
    template <class C>
    bool queue_command(const C& c)
    {
        const std::size_t at = wbuf.size();
        serialize(c, wbuf, ec, diag);
        if (ec)
            return false;
        if constexpr (carries_secret<C>) {
            wkind = log::sent::masked_command;
            masked.assign(wbuf, at, std::string::npos);
            mask_secret(masked);
        } else {
            wkind = log::sent::command;
        }
        return true;
    }

    /// What the logger is told of the write about to go out (unless the
    /// algorithm logged it piece by piece).
    void log_write()
    {
        if constexpr (Log::enabled) {
            if (std::exchange(logged, false))
                return;
            if (wkind == log::sent::masked_command)
                log.on_send(masked, wkind);
            else
                log.on_send(wbuf, wkind);
        }
    }

    /// "AUTH PLAIN AHVzZXIA..." -> "AUTH PLAIN ********"; a bare response -> "********".
    static void mask_secret(std::string& line)
    {
        const bool crlf = line.size() >= 2 && line.compare(line.size() - 2, 2, "\r\n") == 0;
        std::size_t keep = 0;
        if (line.compare(0, 5, "AUTH ") == 0) {
            const auto sp = line.find(' ', 5);
            if (sp == std::string::npos) // no initial response: nothing secret
                return;
            keep = sp + 1;
        }
        line.resize(keep);
        line += "********";
        if (crlf)
            line += "\r\n";
    }

    void fail(error_code e) noexcept { ec = e; }
    void fail_with_reply(errc e)
    {
        ec = e;
        diag.set_reply(reply(current));
    }
};

/// The verb a command's reply answers, for a timeout's words.
template <class C>
constexpr std::string_view verb_of(const C& c) noexcept
{
    if constexpr (requires { c.verb; })
        return c.verb; // a raw command
    else
        return C::name;
}

} // namespace sansio
SMTP_NAMESPACE_END

#endif

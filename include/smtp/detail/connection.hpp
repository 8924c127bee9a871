// smtp/detail/connection.hpp
//
// What a session owns (transport, buffers, parser, capabilities, logger,
// timer) and the operations on it. Each operation is a small resumable
// algorithm over the protocol core: resume() says what I/O it needs next
// (write the buffer, read more, TLS handshake, done). One driver runs them
// asynchronously on the transport's executor; the synchronous forms run the
// same driver on the session's own io_context. The driver sees an operation
// only through run_base, and gives every I/O the same handler type, so the
// Asio machinery (TLS stream operations, socket operations, timer) is
// compiled once per connection type, not once per operation and completion
// handler. The session types (session.hpp) only decide which operations
// exist in which state.
#ifndef SMTP_DETAIL_CONNECTION_HPP
#define SMTP_DETAIL_CONNECTION_HPP

#include <utility>

#include <smtp/log.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol.hpp>
#include <smtp/protocol/detail/first_bytes.hpp>
#include <smtp/protocol/transaction.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace detail {

enum class io { none, connect, write, read, handshake, close, done };

/// What the session waits for, with its time limit (connect_options::timeouts).
/// tls_handshake has the connect phase's limit.
enum class phase { connect, tls_handshake, greeting, command, mail, rcpt, data_init, data_block, data_term };

/// "300 s", "5 s", "300 ms", "1500 ms": a time limit in words, for errors.
inline std::string format_duration(std::chrono::milliseconds d)
{
    if (d.count() % 1000 == 0)
        return std::to_string(d.count() / 1000) + " s";
    return std::to_string(d.count()) + " ms";
}

/// The machine's host name when it is a valid EHLO domain, else "localhost".
inline std::string default_local_name()
{
    error_code ec;
    std::string name = boost::asio::ip::host_name(ec);
    if (ec || check_domain(name, false) != errc{})
        return "localhost";
    return name;
}

template <class Transport, class Log>
class connection {
public:
    using transport_type = Transport;
    using log_type = Log;

    connection(Transport t, connect_options o, Log l, std::shared_ptr<boost::asio::io_context> owned, bool verify)
        : owned_context(std::move(owned)), transport(std::move(t)), options(std::move(o)), log(std::move(l)),
          timer(transport.get_executor()), parser(options.limits), verify_peer(verify)
    {
        if (options.local_name.empty())
            options.local_name = default_local_name();
    }

    /// Set for sessions made by the sync connect(). First, so that it is
    /// destroyed last: the socket and the timer must go before their context.
    std::shared_ptr<boost::asio::io_context> owned_context;
    Transport transport;
    connect_options options;
    [[no_unique_address]] Log log;
    /// One deadline timer, armed lazily: an I/O operation moves `deadline`
    /// (cheap); the timer is set again only when the new deadline is earlier
    /// than the one it waits for, and when it fires early it waits on. So a
    /// stream of messages costs no timer system calls per message.
    boost::asio::steady_timer timer;
    std::chrono::steady_clock::time_point deadline{};
    std::chrono::steady_clock::time_point armed_at{};
    std::uint64_t timer_gen = 0; ///< which wait is current (older ones ignore their completion)
    bool timer_armed = false;
    bool io_pending = false;
    bool timed_out = false;

    std::string wbuf;           ///< what goes out next
    log::sent wkind = log::sent::command;
    std::string masked;         ///< what the logger sees instead, for secrets
    std::string rbuf;           ///< received: [rpos, rlen) not yet parsed; the rest is room for reads
    std::size_t rlen = 0;
    std::size_t rpos = 0;
    std::size_t read_at = 0;    ///< where the pending read writes
    reply_parser parser;
    std::optional<reply_parser::cursor> cursor{}; ///< over rbuf from where it was made; reset when rbuf changes
    reply_view current{};       ///< the last reply; valid until the next read
    bool data_phase_reply = false;

    capabilities caps{};
    bool esmtp = false;
    bool lmtp = false;          ///< the dialect is LMTP (LHLO, replies per recipient)
    bool server_closing = false; ///< a 421 came: the server is closing the connection
    bool logged = false;        ///< the op logged what is being written, piece by piece
    bool broken = false;
    bool closed = false;
    bool verify_peer;
    error_code ec{};
    diagnostics diag{};
    phase current_phase = phase::connect;
    std::string_view awaited{}; ///< the command whose reply is awaited ("RCPT"), for a timeout's words

    std::chrono::milliseconds limit(phase p) const noexcept
    {
        const auto& t = options.timeouts;
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

    /// A new phase and its deadline. `what`: the command whose reply ends
    /// it (a literal, or a view that outlives the phase).
    void start_phase(phase p, std::string_view what = {})
    {
        current_phase = p;
        awaited = what;
        deadline = std::chrono::steady_clock::now() + limit(p);
    }

    /// The words for a timeout in the current phase: "no greeting within
    /// 300 s", "no reply to RCPT within 5 s".
    std::string timeout_text() const
    {
        const std::string within = " within " + format_duration(limit(current_phase));
        switch (current_phase) {
        case phase::connect: return "no connection" + within;
        case phase::tls_handshake: return "no TLS handshake" + within;
        case phase::greeting: return "no greeting" + within;
        case phase::data_block: return "a write did not finish" + within;
        default: break;
        }
        return "no reply to " + std::string(awaited.empty() ? std::string_view("the command") : awaited) + within;
    }

    /// "connect to HOST port N: " and each address tried with its error (when
    /// the transport reports them), or the error alone.
    void describe_connect_failure(const error_code& e)
    {
        std::string text = "connect to " + options.host + " port " + std::to_string(options.port) + ": ";
        // A proxy says what it did: its name, and its refusal or why it could not be reached.
        if constexpr (requires(const Transport& t) { std::string_view(t.connect_failure_detail()); }) {
            const std::string_view proxy = transport.connect_failure_detail();
            if (!proxy.empty()) {
                text += proxy;
                if (e == errc::timeout)
                    text += " (no tunnel within " + format_duration(limit(phase::connect)) + ")";
                diag.set_detail_text(std::move(text));
                return;
            }
        }
        bool any = false, reported = false;
        if constexpr (requires(const Transport& t) { t.connect_attempts(); }) {
            reported = true;
            for (const auto& a : transport.connect_attempts()) {
                if (any)
                    text += "; ";
                text += a.address;
                text += ": ";
                if (e == errc::timeout && a.error == boost::asio::error::operation_aborted)
                    text += "no answer within " + format_duration(limit(phase::connect));
                else
                    text += a.error ? a.error.message() : e.message();
                any = true;
            }
        }
        if (!any && e == errc::timeout)
            text += (reported ? "the name did not resolve within " : "no connection within ") +
                    format_duration(limit(phase::connect));
        else if (!any)
            text += e.message();
        diag.set_detail_text(std::move(text));
    }

    /// A failed implicit-TLS handshake: when the server's first bytes were
    /// not TLS, they say what it is (a plain SMTP greeting: the wrong TLS
    /// mode for the port; anything else: not an SMTP server).
    void describe_handshake_failure()
    {
        if constexpr (requires(const Transport& t) { std::string_view(t.handshake_bytes()); }) {
            const std::string_view got = transport.handshake_bytes();
            switch (classify_first_bytes(got)) {
            case first_bytes_kind::smtp: ec = errc::greeting_in_clear; break;
            case first_bytes_kind::other: ec = errc::not_smtp; break;
            case first_bytes_kind::none:
            case first_bytes_kind::tls: return;
            }
            diag.set_detail_text(quote_first_bytes(got));
        }
    }

    /// No greeting: nothing came (an implicit-TLS server waits for the
    /// client), TLS came, or bytes that are not SMTP. A reply that began and
    /// went wrong keeps its own error.
    void describe_greeting_failure()
    {
        const std::string_view got(rbuf.data() + rpos, rlen - rpos);
        switch (classify_first_bytes(got)) {
        case first_bytes_kind::none:
            if (ec == errc::timeout) {
                ec = errc::no_greeting; // the detail says how long it waited
            } else if (ec == errc::connection_closed) {
                ec = errc::no_greeting;
                diag.set_detail_text("the server closed the connection without a greeting");
            }
            break;
        case first_bytes_kind::tls:
            ec = errc::no_greeting;
            diag.set_detail_text(quote_first_bytes(got) + ", which is TLS");
            break;
        case first_bytes_kind::other:
            ec = errc::not_smtp;
            diag.set_detail_text(quote_first_bytes(got));
            break;
        case first_bytes_kind::smtp: break;
        }
    }

    /// Consumes the last reply and tries to parse the next from what was
    /// received. True: `current` holds a reply. False with ec clear: read more.
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
    boost::asio::mutable_buffer read_area()
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
        return boost::asio::buffer(rbuf.data() + read_at, room);
    }
    void commit_read(std::size_t n) { rlen = read_at + n; }

    /// True when bytes were received beyond the replies used so far. Before
    /// a write that can only be bytes no command asked for: a server (or
    /// someone on the path) injecting replies to desynchronise the session.
    bool has_unread() const noexcept { return rpos + current.raw().size() < rlen; }

    /// Forgets everything received and not used (RFC 3207 4.2) and what the
    /// server said it supports.
    void forget_for_tls()
    {
        cursor.reset();
        rlen = 0;
        rpos = 0;
        current = {};
        parser.reset();
        caps = {};
        esmtp = false;
    }

    void queue(std::string_view bytes, log::sent kind = log::sent::command)
    {
        wbuf.append(bytes);
        wkind = kind;
    }

    /// The verb a command's reply answers, for a timeout's words.
    template <class C>
    static std::string_view verb_of(const C& c) noexcept
    {
        if constexpr (requires { c.verb; })
            return c.verb; // a raw command
        else
            return C::name;
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

    void fail(error_code e)
    {
        ec = e;
    }
    void fail_with_reply(errc e)
    {
        ec = e;
        diag.set_reply(reply(current));
    }
};

// ---------------------------------------------------------------------------
// Operations. Each: `io resume(Conn& c, error_code io_ec)`; when it returns
// io::done, c.ec (and c.diag) hold the outcome.

#define SMTP_OP_YIELD(x) BOOST_ASIO_CORO_YIELD return (x)

/// Inside an op: reads until a whole reply is in c.current, or c.ec says
/// why not (a malformed reply, or the read's own error). The op then looks
/// at c.ec. (A macro because the coroutine's yield must be in the op.)
#define SMTP_DETAIL_READ_REPLY(c, io_ec)                                                                          \
    while (!(c).next_reply((c).ec) && !(c).ec) {                                                                 \
        BOOST_ASIO_CORO_YIELD return io::read;                                                                    \
        if (io_ec) {                                                                                             \
            (c).fail(io_ec);                                                                                     \
            break;                                                                                               \
        }                                                                                                        \
    }

/// Connect, TLS for implicit-TLS sessions, read the 220 greeting.
template <class Conn>
struct connect_op : boost::asio::coroutine {
    bool implicit_tls;
    io resume(Conn& c, error_code io_ec)
    {
        BOOST_ASIO_CORO_REENTER(*this)
        {
            c.start_phase(phase::connect);
            SMTP_OP_YIELD(io::connect);
            if (io_ec) {
                c.describe_connect_failure(io_ec);
                return c.fail(io_ec), io::done;
            }
            if (implicit_tls) {
                c.current_phase = phase::tls_handshake; // within the connect phase's deadline
                SMTP_OP_YIELD(io::handshake);
                if (io_ec) {
                    c.fail(io_ec);
                    c.describe_handshake_failure();
                    return io::done;
                }
            }
            c.start_phase(phase::greeting);
            SMTP_DETAIL_READ_REPLY(c, io_ec);
            if (c.ec) {
                c.describe_greeting_failure();
                return io::done;
            }
            if (c.current.code() != 220)
                c.fail_with_reply(c.current.code().is_failure() ? outcome_error(classify<cmd::starttls>(c.current.code()))
                                                               : errc::unexpected_reply);
            return io::done;
        }
        return io::done;
    }
};

/// One command, one reply, classified. `accept_intermediate`: 3yz is the
/// expected outcome (DATA, AUTH).
template <class Conn, class C>
struct command_op : boost::asio::coroutine {
    C command;
    phase ph = phase::command;
    io resume(Conn& c, error_code io_ec)
    {
        BOOST_ASIO_CORO_REENTER(*this)
        {
            if (!c.queue_command(command))
                return io::done;
            c.start_phase(ph, Conn::verb_of(command));
            SMTP_OP_YIELD(io::write);
            if (io_ec)
                return c.fail(io_ec), io::done;
            SMTP_DETAIL_READ_REPLY(c, io_ec);
            if (c.ec)
                return io::done;
            if (const errc e = outcome_error(classify<C>(c.current.code())); e != errc{})
                c.fail_with_reply(e);
            return io::done;
        }
        return io::done;
    }
};

/// EHLO; HELO when EHLO is refused with 5yz (RFC 5321 4.1.4). Fills c.caps.
template <class Conn>
struct ehlo_op : boost::asio::coroutine {
    command_op<Conn, cmd::ehlo> ehlo{};
    command_op<Conn, cmd::helo> helo{};
    command_op<Conn, cmd::lhlo> lhlo{};
    io resume(Conn& c, error_code io_ec)
    {
        io next = io::done;
        BOOST_ASIO_CORO_REENTER(*this)
        {
            if (c.lmtp) { // LMTP: LHLO, and no HELO to fall back on (RFC 2033 4.1)
                lhlo.command.domain = c.options.local_name;
                while ((next = lhlo.resume(c, io_ec)) != io::done)
                    SMTP_OP_YIELD(next);
                if (!c.ec) {
                    c.caps = capabilities::from_ehlo(c.current, c.ec);
                    c.esmtp = !c.ec;
                }
                return io::done;
            }
            ehlo.command.domain = c.options.local_name;
            while ((next = ehlo.resume(c, io_ec)) != io::done)
                SMTP_OP_YIELD(next);
            if (!c.ec) {
                c.caps = capabilities::from_ehlo(c.current, c.ec);
                c.esmtp = !c.ec;
                return io::done;
            }
            if (c.ec != errc::permanent_failure)
                return io::done;
            // An old server: HELO, no extensions.
            c.ec = {};
            c.diag.clear();
            helo.command.domain = c.options.local_name;
            while ((next = helo.resume(c, io_ec)) != io::done)
                SMTP_OP_YIELD(next);
            c.caps = {};
            c.esmtp = false;
            return io::done;
        }
        return io::done;
    }
};

/// STARTTLS (RFC 3207): only when offered; after the 220, everything
/// received and not used is discarded, the handshake runs, and the
/// capabilities are forgotten.
template <class Conn>
struct starttls_op : boost::asio::coroutine {
    command_op<Conn, cmd::starttls> command{};
    io resume(Conn& c, error_code io_ec)
    {
        io next = io::done;
        BOOST_ASIO_CORO_REENTER(*this)
        {
            if (!c.caps.template has<ext::starttls>())
                return c.fail(errc::starttls_not_offered), io::done;
            while ((next = command.resume(c, io_ec)) != io::done)
                SMTP_OP_YIELD(next);
            if (c.ec)
                return io::done;
            c.forget_for_tls(); // plaintext injected after the 220 is dropped here, unread
            c.start_phase(phase::tls_handshake);
            SMTP_OP_YIELD(io::handshake);
            if (io_ec)
                return c.fail(io_ec), io::done;
            return io::done;
        }
        return io::done;
    }
};

/// QUIT, then close whatever the server said.
template <class Conn>
struct quit_op : boost::asio::coroutine {
    command_op<Conn, cmd::quit> command{};
    io resume(Conn& c, error_code io_ec)
    {
        io next = io::done;
        BOOST_ASIO_CORO_REENTER(*this)
        {
            while ((next = command.resume(c, io_ec)) != io::done)
                SMTP_OP_YIELD(next);
            SMTP_OP_YIELD(io::close);
            return io::done;
        }
        return io::done;
    }
};

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

/// The message itself: DATA, its 354 and the dot-stuffed bytes (`payload`,
/// encoded beforehand), or BDAT n LAST and the bytes as they are; then the
/// reply to the end of data. When the data went out and no reply came, the
/// outcome is unknown: the message may have been queued.
template <class Conn>
struct message_op : boost::asio::coroutine {
    std::string payload;
    bool bdat = false;
    bool final_reply = false; ///< set when c.current is the reply to the end of data
    command_op<Conn, cmd::data> data{};

    io resume(Conn& c, error_code io_ec)
    {
        io next = io::done;
        BOOST_ASIO_CORO_REENTER(*this)
        {
            c.data_phase_reply = true;
            if (bdat) {
                c.wbuf.clear();
                cmd::bdat{payload.size(), true}.write_to(c.wbuf);
                c.wbuf.append(payload);
            } else {
                data.ph = phase::data_init;
                while ((next = data.resume(c, io_ec)) != io::done)
                    SMTP_OP_YIELD(next);
                if (c.ec)
                    return c.data_phase_reply = false, io::done;
                c.wbuf = std::move(payload);
            }
            c.wkind = log::sent::message;
            c.start_phase(phase::data_block);
            SMTP_OP_YIELD(io::write);
            if (io_ec)
                return c.data_phase_reply = false, c.fail(io_ec), io::done;
            c.start_phase(phase::data_term, "the end of data");
            SMTP_DETAIL_READ_REPLY(c, io_ec);
            c.data_phase_reply = false;
            if (c.ec) {
                c.diag.set_field("end of data");
                c.ec = errc::outcome_unknown;
                return io::done;
            }
            final_reply = true;
            if (const errc e = outcome_error(classify<cmd::end_of_data>(c.current.code())); e != errc{})
                c.fail_with_reply(e);
            return io::done;
        }
        return io::done;
    }
};

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

/// Messages, in order, each a planned smtp::transaction (smtp/protocol/
/// transaction.hpp) that says what to write and takes the replies. Replies go
/// to the oldest unfinished transaction. With PIPELINING, once a message's
/// data is complete the next message's commands join the same write (RFC
/// 2920 3.1): a stream of messages costs about one round trip each. When the
/// connection fails, every transaction still open settles its outcome
/// (not sent, or unknown after its final dot). c.ec: a single transaction's
/// error; for several, only what broke the session.
template <class Conn>
struct transactions_op : boost::asio::coroutine {
    std::span<transaction> ts;
    std::size_t head = 0, tail = 0;
    std::size_t first_incomplete = 0; ///< before a write: the first transaction whose data is not all out
    error_code aborted{};

    /// Appends what the transactions have to send now, up to about one write's worth.
    void fill(Conn& c)
    {
        const std::size_t limit = c.options.transactions.write_size + 4096;
        while (tail < ts.size() && c.wbuf.size() < limit) {
            transaction& t = ts[tail];
            const auto w = t.next();
            if (w == transaction::want::write) {
                const std::size_t at = c.wbuf.size();
                t.write(c.wbuf);
                if (t.aborted())
                    return;
                if constexpr (Conn::log_type::enabled) {
                    c.log.on_send(std::string_view(c.wbuf).substr(at),
                                  t.wrote_data() ? log::sent::message : log::sent::command);
                    c.logged = true;
                }
                continue;
            }
            // Waiting for replies: the next message may follow once this
            // one's data is all out, when the server pipelines.
            const bool follow = w == transaction::want::done ||
                                (t.data_complete() && t.pipelined() && tail + 1 < ts.size());
            if (!follow || tail + 1 >= ts.size())
                break;
            ++tail;
        }
    }

    /// Would fill() write something now? (The same walk, without writing.)
    bool will_write() const noexcept
    {
        for (std::size_t i = tail; i < ts.size(); ++i) {
            const auto w = ts[i].next();
            if (w == transaction::want::write)
                return true;
            if (!(w == transaction::want::done || (ts[i].data_complete() && ts[i].pipelined())))
                return false;
        }
        return false;
    }

    /// Every transaction still open settles. Those from `unsent` on had
    /// their end of data in the write that failed: the server cannot have it.
    void fail_open(error_code e, std::size_t unsent = static_cast<std::size_t>(-1))
    {
        for (std::size_t i = head; i < ts.size(); ++i)
            ts[i].on_failure(e, i < unsent);
    }

    io resume(Conn& c, error_code io_ec)
    {
        BOOST_ASIO_CORO_REENTER(*this)
        {
            for (;;) {
                while (head < ts.size() && ts[head].next() == transaction::want::done)
                    ++head;
                if (head == ts.size())
                    break;
                tail = std::max(tail, head);
                if (c.has_unread() && will_write()) { // replies nobody asked for: the stream cannot be trusted
                    fail_open(errc::unsolicited_reply);
                    c.fail(errc::unsolicited_reply);
                    break;
                }
                first_incomplete = head;
                while (first_incomplete < ts.size() && ts[first_incomplete].data_complete())
                    ++first_incomplete;
                fill(c);
                if (tail < ts.size() && ts[tail].aborted()) {
                    // A streamed message turned out unsendable midway: its end
                    // of data must not go out. Closing the connection makes
                    // the server drop what it got.
                    aborted = ts[tail].error();
                    c.wbuf.clear();
                    c.logged = false;
                    fail_open(errc::connection_closed);
                    c.broken = true;
                    SMTP_OP_YIELD(io::close);
                    c.ec = aborted;
                    break;
                }
                if (!c.wbuf.empty()) {
                    c.wkind = log::sent::command;
                    c.start_phase(phase::data_block);
                    SMTP_OP_YIELD(io::write);
                    if (io_ec) {
                        fail_open(io_ec, first_incomplete);
                        c.fail(io_ec);
                        break;
                    }
                    for (std::size_t i = head; i <= tail && i < ts.size(); ++i)
                        ts[i].report_progress();
                    continue;
                }
                c.start_phase(phase_for(ts[head].awaited()), awaited_name(ts[head].awaited()));
                c.data_phase_reply = ts[head].awaited() == transaction::awaiting::data ||
                                     ts[head].awaited() == transaction::awaiting::end_of_data;
                SMTP_DETAIL_READ_REPLY(c, io_ec);
                c.data_phase_reply = false;
                if (c.ec) {
                    const error_code e = c.ec;
                    fail_open(e);
                    c.ec = e;
                    break;
                }
                ts[head].on_reply(c.current);
                if (ts[head].server_closing()) { // 421: the server is going away
                    fail_open(errc::connection_closed);
                    c.broken = true;
                    c.ec = errc::connection_closed;
                    break;
                }
            }
            if (ts.size() == 1) { // its own verdict, with the reply that decided it
                c.ec = ts[0].error();
                std::string what = c.diag.detail_text(); // what happened to the I/O, if anything
                c.diag = ts[0].diag();
                if (c.diag.detail_text().empty() && !what.empty())
                    c.diag.set_detail_text(std::move(what));
            }
            return io::done;
        }
        return io::done;
    }
};

#undef SMTP_OP_YIELD

// ---------------------------------------------------------------------------
// The driver.

/// Errors after which the stream cannot be trusted: every I/O, TLS and
/// system error, a malformed reply (the parser cannot resynchronise), a
/// timeout, a closed connection, an unknown outcome. A refusal, an unexpected
/// code or a refused argument leave the session usable.
inline bool breaks_session(const error_code& ec) noexcept
{
    if (!ec)
        return false;
    if (ec.category() != smtp_category())
        return true;
    switch (static_cast<errc>(ec.value())) {
    case errc::timeout:
    case errc::connection_closed:
    case errc::outcome_unknown:
    case errc::script_mismatch:
    case errc::reply_code_invalid:
    case errc::reply_separator_invalid:
    case errc::reply_code_mismatch:
    case errc::reply_line_too_long:
    case errc::reply_too_long:
    case errc::reply_too_many_lines:
    case errc::reply_bare_cr:
    case errc::reply_bare_lf:
    case errc::reply_control_character:
    case errc::unsolicited_reply: return true;
    default: return false;
    }
}

/// One run of an operation on a connection, seen by the driver through this
/// interface only: what Asio instantiates (the transport's reads, writes,
/// handshake and connect, the TLS stream's operations, the deadline timer)
/// depends on the connection type alone, never on the operation or on the
/// caller's completion handler. The run derived from it holds the operation
/// and what to call when it is done.
template <class Conn>
struct run_base {
    Conn* c;
    /// Where intermediate completions run: the completion handler's
    /// associated executor (a strand, a coroutine's executor, ...), else the
    /// transport's.
    boost::asio::any_io_executor executor;
    io last = io::none;
    bool continuation = false;

    run_base(Conn& conn, boost::asio::any_io_executor ex) : c(&conn), executor(std::move(ex)) {}
    run_base(const run_base&) = delete;
    run_base& operator=(const run_base&) = delete;

    virtual io resume(error_code io_ec) = 0;
    /// The operation is done: c.ec holds the outcome. May destroy *this.
    virtual void complete(error_code ec) = 0;
    /// A pending I/O's handler went away uncalled (its io_context was
    /// destroyed): the run goes too, and with it the caller's handler.
    virtual void abandon() noexcept = 0;

protected:
    ~run_base() = default;
};

template <class Conn>
class io_handler;
template <class Conn>
void drive(io_handler<Conn> h, error_code io_ec, std::size_t n);

/// The one completion handler every I/O of a connection is given. It owns
/// the run while the I/O is pending, as a composed operation would.
template <class Conn>
class io_handler {
public:
    using executor_type = boost::asio::any_io_executor;

    explicit io_handler(run_base<Conn>* r) noexcept : r_(r) {}
    io_handler(io_handler&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    io_handler& operator=(io_handler&&) = delete;
    ~io_handler()
    {
        if (r_)
            r_->abandon();
    }

    executor_type get_executor() const noexcept { return r_->executor; }
    run_base<Conn>* get() const noexcept { return r_; }
    run_base<Conn>* release() noexcept { return std::exchange(r_, nullptr); }

    void operator()(error_code ec, std::size_t n = 0) { drive(std::move(*this), ec, n); }

    friend bool asio_handler_is_continuation(io_handler* h) { return h->r_ && h->r_->continuation; }

private:
    run_base<Conn>* r_;
};

template <class Conn>
void wait_for_deadline(Conn& conn)
{
    const std::uint64_t gen = ++conn.timer_gen;
    conn.timer_armed = true;
    conn.armed_at = conn.deadline;
    conn.timer.expires_at(conn.deadline);
    conn.timer.async_wait([c = &conn, gen](error_code e) {
        if (e || gen != c->timer_gen)
            return; // cancelled, or replaced by a wait for an earlier deadline
        c->timer_armed = false;
        if (!c->io_pending)
            return;
        if (std::chrono::steady_clock::now() >= c->deadline) {
            c->timed_out = true;
            c->transport.cancel();
        } else {
            wait_for_deadline(*c); // the deadline moved on since
        }
    });
}

template <class Conn>
void disarm_timer(Conn& conn)
{
    if (conn.timer_armed) {
        ++conn.timer_gen;
        conn.timer_armed = false;
        conn.timer.cancel();
    }
}

/// The driver: takes an I/O's outcome, resumes the operation, starts the
/// I/O it asks for (handing `h`, and the run with it, to the transport) or
/// completes the run. Should anything throw, `h` still owns the run.
template <class Conn>
void drive(io_handler<Conn> h, error_code io_ec, std::size_t n)
{
    namespace asio = boost::asio;
    run_base<Conn>* const r = h.get();
    Conn* c = r->c;
    for (;;) {
        if (r->last != io::none) {
            c->io_pending = false;
            if (c->timed_out && io_ec == asio::error::operation_aborted) {
                io_ec = errc::timeout;
                c->diag.set_detail_text(c->timeout_text());
            }
            c->timed_out = false;
            switch (r->last) {
            case io::write:
                if (!io_ec)
                    c->wbuf.clear();
                break;
            case io::read:
                c->commit_read(io_ec ? 0 : n);
                if (io_ec == asio::error::eof)
                    io_ec = errc::connection_closed;
                break;
            default: break;
            }
            if (io_ec && io_ec != asio::error::operation_aborted)
                c->broken = true;
            r->continuation = true;
        } else if (c->broken) {
            c->ec = errc::session_broken;
            h.release();
            return r->complete(c->ec);
        }
        r->last = r->resume(io_ec);
        if (r->last != io::done && r->last != io::close) {
            c->io_pending = true;
            if (!c->timer_armed || c->deadline < c->armed_at)
                wait_for_deadline(*c);
        }
        if (r->last == io::write && c->has_unread()) {
            c->wbuf.clear();
            c->logged = false;
            c->ec = errc::unsolicited_reply;
            r->last = io::done;
        }
        switch (r->last) {
        case io::connect: return c->transport.async_connect(c->options, std::move(h));
        case io::write:
            c->log_write();
            return c->transport.async_write(asio::buffer(c->wbuf), std::move(h));
        case io::read: return c->transport.async_read_some(c->read_area(), std::move(h));
        case io::handshake: return c->transport.async_handshake(c->options, c->verify_peer, std::move(h));
        case io::close:
            c->transport.close();
            c->closed = true;
            io_ec = {};
            n = 0;
            continue; // resumed at once, as after an I/O
        case io::none:
        case io::done: break;
        }
        break;
    }
    if (breaks_session(c->ec) || c->server_closing)
        c->broken = true; // after a 421 the server closes: nothing more can be sent
    disarm_timer(*c); // no wait left behind to keep the caller's io_context busy
    h.release();
    r->complete(c->ec);
}

/// A run for an asynchronous caller: owns the operation and the handler.
template <class Conn, class Op, class Handler>
struct async_run_state final : run_base<Conn> {
    Op op;
    Handler handler;

    async_run_state(Conn& c, Op o, Handler h)
        : run_base<Conn>(c, boost::asio::get_associated_executor(h, c.transport.get_executor())), op(std::move(o)),
          handler(std::move(h))
    {}

    io resume(error_code io_ec) override { return op.resume(*this->c, io_ec); }
    void complete(error_code ec) override
    {
        Handler h(std::move(handler));
        delete this;
        std::move(h)(ec);
    }
    void abandon() noexcept override { delete this; }
};

/// Whether Asio calls the token itself as the completion handler (a
/// function object), rather than making one from it (use_awaitable,
/// use_future, as_tuple, ...). Where Asio does not say, no.
template <class Token, class Sig>
constexpr bool token_is_the_handler() noexcept
{
    using result = boost::asio::async_result<std::decay_t<Token>, Sig>;
    if constexpr (requires { typename result::completion_handler_type; })
        return std::is_same_v<typename result::completion_handler_type, std::decay_t<Token>>;
    else
        return false;
}

template <class Token, class Sig>
struct handler_fits;
template <class Token, class... Args>
struct handler_fits<Token, void(Args...)> {
    static constexpr bool value =
        !token_is_the_handler<Token, void(Args...)>() || std::is_invocable_v<std::decay_t<Token>&&, Args...>;
};

/// async_initiate for the library's public asynchronous operations: a
/// function object that cannot take the completion's arguments is told so
/// in one line, instead of a hundred from inside Asio. `Token` is the
/// caller's forwarding type, given explicitly (an lvalue handler stays an
/// lvalue: Asio copies it rather than moving from it).
template <class Sig, class Token, class Init, class... Args>
auto initiate(Init&& init, std::remove_reference_t<Token>& token, Args&&... args)
{
    if constexpr (!handler_fits<Token, Sig>::value) {
        static_assert(handler_fits<Token, Sig>::value,
                      "smtp: this completion handler cannot take what the operation completes with. Every "
                      "asynchronous operation of the library completes with (smtp::error_code, result): write the "
                      "handler as [](smtp::error_code ec, auto result) { ... } (docs/tutorial.md has the table)");
    } else {
        return boost::asio::async_initiate<Token, Sig>(std::forward<Init>(init), token, std::forward<Args>(args)...);
    }
}

/// Runs `op` on `c` asynchronously; completes with void(error_code).
template <class Conn, class Op, class Token>
auto async_run(Conn& c, Op op, Token&& token)
{
    c.ec = {};
    c.diag.clear();
    return boost::asio::async_initiate<Token, void(error_code)>(
        [&c](auto handler, Op op) {
            using state = async_run_state<Conn, Op, decltype(handler)>;
            drive<Conn>(io_handler<Conn>(new state(c, std::move(op), std::move(handler))), {}, 0);
        },
        token, std::move(op));
}

/// A run for a synchronous caller: on its stack, done when `finished`.
template <class Conn>
struct sync_run_base : run_base<Conn> {
    error_code result{};
    bool finished = false;

    explicit sync_run_base(Conn& c) : run_base<Conn>(c, c.transport.get_executor()) {}
    void complete(error_code ec) final
    {
        result = ec;
        finished = true;
    }
    void abandon() noexcept final {}
};

template <class Conn, class Op>
struct sync_run final : sync_run_base<Conn> {
    Op& op;
    sync_run(Conn& c, Op& o) : sync_run_base<Conn>(c), op(o) {}
    io resume(error_code io_ec) override { return op.resume(*this->c, io_ec); }
};

/// Runs a started synchronous run to its end on the session's io_context.
template <class Conn>
error_code finish_sync(sync_run_base<Conn>& r)
{
    Conn& c = *r.c;
    c.ec = {};
    c.diag.clear();
    drive<Conn>(io_handler<Conn>(&r), {}, 0);
    auto& ctx = *c.owned_context;
    ctx.restart();
    while (!r.finished && ctx.run_one() != 0) {}
    if (!r.finished) { // no work left and no completion: never report a success not had
        c.broken = true;
        return errc::session_broken;
    }
    return r.result;
}

/// The synchronous form: the same driver, run on the session's own io_context.
template <class Conn, class Op>
error_code run(Conn& c, Op op)
{
    if (!c.owned_context)
        throw std::logic_error("smtp: synchronous call on a session made by async_connect");
    sync_run<Conn, Op> r(c, op);
    return finish_sync<Conn>(r);
}

} // namespace detail
SMTP_NAMESPACE_END

#endif

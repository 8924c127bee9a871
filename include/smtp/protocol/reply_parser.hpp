/// \file smtp/protocol/reply_parser.hpp
///
/// The incremental reply parser (RFC 5321 4.2).
///
/// Contract (Beast's basic_parser, picohttpparser): the caller owns the bytes.
/// It calls put() with everything received and not yet consumed, starting at
/// the same byte each time and growing at the end. When a whole reply is there,
/// put() fills a reply_view over those bytes and returns its length: the
/// caller handles the reply, then consumes that many bytes. Otherwise put()
/// returns 0 with errc::need_more, or 0 with a precise error. The parser
/// remembers how far it has scanned, so feeding one byte at a time costs no
/// more than feeding everything at once; it never copies a line and never
/// allocates.
///
/// What it accepts:
/// ```
///   reply-line = code ( "-" / " " ) text CRLF  |  code CRLF
///   code       = %x32-35 DIGIT DIGIT            (200..599)
/// ```
/// Every line of a multi-line reply carries the first line's code. Text may
/// hold any byte but NUL and the other controls (0x00-0x1F, 0x7F), except
/// HTAB; bytes >= 0x80 are kept (RFC 6531 servers send UTF-8).
///
/// Line ends: only CRLF ends a line (RFC 5321 2.3.8). A bare LF is an error
/// (errc::reply_bare_lf) unless reply_limits::accept_bare_lf is set, in which
/// case LF alone also ends a line. A CR not followed by LF is always an error.
///
/// After an error the parser stays failed (the stream cannot be resynchronised)
/// until reset().
///
/// Many replies in one buffer (what a pipelining client reads: the replies to
/// MAIL, each RCPT and DATA at once): reply_parser::cursor, or put_many() with
/// a callback, take them one after the other with the same result as put()
/// called reply after reply, and faster. put() must find each reply's end
/// from the reply's start, so every reply's scan waits on the one before; the
/// batch loop computes each 64-byte block's mask of candidate bytes once and
/// takes the line ends of every reply in the block from it (lowest bit, clear
/// lowest bit). A reply with anything uncommon in it (an error, a limit
/// reached, a control byte other than HTAB, a bare LF, a code alone) or near
/// the input's end goes, from its start, to put(), which gives the precise
/// answer; the batch loop then goes on after it.
#ifndef SMTP_PROTOCOL_REPLY_PARSER_HPP
#define SMTP_PROTOCOL_REPLY_PARSER_HPP

#include <smtp/protocol/detail/scan.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <string_view>
#include <type_traits>
#include <utility>

SMTP_NAMESPACE_BEGIN

/// Bounds on what one reply may take. The defaults are lenient towards real
/// servers and still keep a hostile one to a few tens of kilobytes.
struct reply_limits {
    /// Longest line, CRLF included. RFC 5321 4.5.3.1.5 sets 512 for senders;
    /// real servers exceed it (long EHLO AUTH lists, long 5yz explanations).
    std::size_t max_line = 2048;
    /// Longest reply, all lines together.
    std::size_t max_reply = 65536;
    /// Most lines in one reply.
    std::size_t max_lines = 512;
    /// Accept LF alone as a line end. Off: only CRLF ends a line.
    bool accept_bare_lf = false;

    /// The RFC's own numbers: 512-octet lines.
    static constexpr reply_limits rfc5321_strict() noexcept { return {512, 65536, 512, false}; }
};

class reply_parser {
public:
    reply_parser() noexcept = default;
    explicit reply_parser(const reply_limits& limits) noexcept
        : limits_(limits), fast_limit_(std::min({limits.max_line, limits.max_reply, std::size_t(block)}))
    {}

    const reply_limits& limits() const noexcept { return limits_; }

    class cursor;

    /// Parses every whole reply at the start of `input`, one after the other,
    /// calling on_reply(const reply_view&) for each, with exactly the replies
    /// and errors of put() called reply after reply (see cursor). A callback
    /// that returns bool (exactly) stops the batch after the reply by
    /// returning false. Returns the bytes of the replies passed to on_reply:
    /// the caller consumes that many. ec: {} when the input ended at a reply
    /// boundary or on_reply stopped; need_more only when the input ended
    /// inside a reply (which the parser then remembers as put() would: pass
    /// it again from the returned offset with more bytes); otherwise the
    /// error of the reply that starts at the returned offset. No allocation.
    ///
    ///     std::size_t used = parser.put_many(received, [&](const smtp::reply_view& r) { handle(r); }, ec);
    template <class F>
    std::size_t put_many(std::string_view input, F&& on_reply, error_code& ec) noexcept(
        std::is_nothrow_invocable_v<F&, const reply_view&>);

    /// Parses the next reply at the start of `input`. See the file comment.
    std::size_t put(std::string_view input, reply_view& out, error_code& ec) noexcept
    {
        // Fast path: the first line of a new reply, whole in its first block
        // and nothing odd in it ("250 text", "550-text"). Most replies are
        // one such line: it is the reply. A longer reply goes on in the
        // general loop from the end of its first line. Anything else, or any
        // doubt, takes the general path from the reply's start, which gives
        // the same answer for these and the precise error for the rest.
        const std::size_t size = input.size();
        const char* const b = input.data();
        if (scan_ == 0 && size > block && !failed_) {
            // "ddd " or "ddd-" in one word: x's bytes are d0-'0', d1-'0',
            // d2-'0' and 0 (a space) or sep_dash (a '-') exactly when the
            // four bytes are a code and a separator.
            const std::uint32_t x = load32(b) ^ 0x20303030u;
            // With no candidate, i is block - 1 and the CRLF test fails.
            const std::size_t i = detail::first_candidate<block>(b);
            std::uint16_t crlf;
            std::memcpy(&crlf, b + i, 2); // i + 1 <= block < size: in bounds
            const bool code_ok = (x & 0x00F0F0F0u) == 0 && ((x + 0x00060600u) & 0x00101000u) == 0 &&
                                 (x & 0xFFu) - 2u <= 3u;
            // A code and a separator are no controls, so the first candidate,
            // the CR, is past them.
            if (code_ok && crlf == crlf_word && i + 2 <= fast_limit_) {
                const unsigned first = 100 * (x & 0xFFu) + 10 * ((x >> 8) & 0xFFu) + ((x >> 16) & 0xFFu);
                const std::size_t next = i + 2;
                const std::uint32_t sep = x & 0xFF000000u; // 0 or sep_dash (compared in place)
                if (sep == 0) {
                    out = reply_view(reply_code(first), std::string_view(b, next), 1);
                    ec = {};
                    return next;
                }
                // The first line of several (when more than one may come):
                // the batch loop takes the reply whole when nothing in it is
                // uncommon, with put()'s answer (see cursor), as it takes
                // the lines of many replies: one mask a block, and no loop
                // exit per line. (An EHLO reply, ten lines, in half the time
                // of the general loop.) Otherwise the general loop goes on
                // after the first line, from the state it would have reached
                // itself. next <= fast_limit_ <= max_reply.
                if (sep == sep_dash && limits_.max_lines > 1) {
                    batch_state s;
                    if (batch_start(b, size, 0, s) &&
                        batch_run(b, size, s, [&out](const reply_view& r) noexcept {
                            out = r;
                            return true; // this reply only
                        })) {
                        ec = {};
                        return s.rs;
                    }
                    line_start_ = scan_ = next;
                    lines_ = 1;
                    code_ = first;
                }
            }
        }
        return put_general(input, out, ec);
    }

private:
    std::size_t put_general(std::string_view input, reply_view& out, error_code& ec) noexcept
    {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        assert(input.size() >= scan_);
        // The hot loop works on locals: stores through `out` or `ec` could
        // otherwise alias the members and force reloads.
        const char* const base = input.data();
        const std::size_t size = input.size();
        const std::size_t max_line = limits_.max_line;
        std::size_t line = line_start_; // offset of the current line
        std::size_t pos = scan_;        // the current line holds no unseen control byte before pos
        std::size_t lines = lines_;
        unsigned code = code_;
        while (pos < size) {
            // One mask for a block of bytes: every control byte in them (and
            // every 8-bit byte, which is let through below).
            std::size_t width = block;
            std::uint64_t m;
            if (size - pos >= block) {
                m = detail::control_candidates<block>(base + pos);
            } else {
                width = size - pos;
                m = detail::control_candidates_tail<block>(base + pos, width);
            }
            while (m) {
                const std::size_t q = pos + detail::lowest_bit(m);
                // Bytes past a limit are not looked at: the limit is what is wrong.
                if (q - line >= max_line)
                    return fail(ec, errc::reply_line_too_long);
                if (q >= limits_.max_reply)
                    return fail(ec, errc::reply_too_long);
                std::size_t next;
                const char c = base[q];
                if (c == '\r') {
                    if (q + 1 == size) {
                        pos = q; // look at this CR again when its LF has come
                        goto need_more;
                    }
                    if (base[q + 1] != '\n')
                        return fail(ec, errc::reply_bare_cr);
                    next = q + 2;
                } else if (c == '\n') {
                    if (!limits_.accept_bare_lf)
                        return fail(ec, errc::reply_bare_lf);
                    next = q + 1;
                } else if (c == '\t' || static_cast<unsigned char>(c) > 0x7F) {
                    m &= m - 1; // text
                    continue;
                } else {
                    return fail(ec, errc::reply_control_character);
                }
                // A whole line: [line, q), its end up to next.
                if (next - line > max_line)
                    return fail(ec, errc::reply_line_too_long);
                const std::size_t len = q - line;
                const char* const l = base + line;
                bool last = true;
                if (lines == 0) {
                    // The first line: three digits, the first from 2 to 5.
                    if (len < 3)
                        return fail(ec, errc::reply_code_invalid);
                    const unsigned d0 = static_cast<unsigned char>(l[0] - '2');
                    const unsigned d1 = static_cast<unsigned char>(l[1] - '0');
                    const unsigned d2 = static_cast<unsigned char>(l[2] - '0');
                    if ((d0 > 3) | (d1 > 9) | (d2 > 9))
                        return fail(ec, errc::reply_code_invalid);
                    code = 200 + d0 * 100 + d1 * 10 + d2;
                } else if (len < 3 || l[0] != base[0] || l[1] != base[1] || l[2] != base[2]) {
                    // Later lines repeat the first line's (valid) code exactly.
                    return fail(ec, code_error(l, len));
                }
                if (len > 3) {
                    if (l[3] == '-')
                        last = false;
                    else if (l[3] != ' ')
                        return fail(ec, errc::reply_separator_invalid);
                }
                ++lines;
                if (last) {
                    if (next > limits_.max_reply)
                        return fail(ec, errc::reply_too_long);
                    out = reply_view(reply_code(code), std::string_view(base, next), lines);
                    line_start_ = scan_ = lines_ = 0;
                    ec = {};
                    return next;
                }
                if (lines >= limits_.max_lines)
                    return fail(ec, errc::reply_too_many_lines);
                line = next;
                if (next - pos >= width) {
                    pos = next;
                    goto next_block;
                }
                // Clear the line end's bits: CR and LF are both control bytes,
                // so they are the two lowest. (Not a shift by the position:
                // that would chain every line's work to the one before.)
                m &= m - 1;
                if (c == '\r')
                    m &= m - 1;
            }
            pos += width;
        next_block:
            // The line, or the reply, is already longer than it may be.
            if (pos - line >= max_line)
                return fail(ec, errc::reply_line_too_long);
            if (pos > limits_.max_reply)
                return fail(ec, errc::reply_too_long);
        }
    need_more:
        line_start_ = line;
        scan_ = pos;
        lines_ = lines;
        code_ = code;
        ec = errc::need_more;
        return 0;
    }

public:
    /// Forgets a reply in progress and any error: ready for a new stream.
    void reset() noexcept
    {
        line_start_ = scan_ = lines_ = 0;
        code_ = 0;
        failed_ = {};
    }

private:
#ifndef SMTP_REPLY_BLOCK
#define SMTP_REPLY_BLOCK 64
#endif
    static constexpr unsigned block = SMTP_REPLY_BLOCK;
    /// "\r\n" read as a 16-bit word.
    static constexpr std::uint16_t crlf_word =
        std::endian::native == std::endian::little ? std::uint16_t(0x0A0D) : std::uint16_t(0x0D0A);

    /// '-' ^ ' ' in a line's first word: the separator of a line that is not the last.
    static constexpr std::uint32_t sep_dash = 0x0D000000u;

    /// The four bytes at p as a little-endian word.
    static std::uint32_t load32(const char* p) noexcept
    {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        if constexpr (std::endian::native == std::endian::big)
            w = __builtin_bswap32(w);
        return w;
    }

    static constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

    /// Why a continuation line's code is wrong: not a code at all, or another one.
    static errc code_error(const char* l, std::size_t len) noexcept
    {
        if (len < 3 || l[0] < '2' || l[0] > '5' || !is_digit(l[1]) || !is_digit(l[2]))
            return errc::reply_code_invalid;
        return errc::reply_code_mismatch;
    }

    std::size_t fail(error_code& ec, errc e) noexcept
    {
        failed_ = e;
        ec = e;
        return 0;
    }

    /// Where the batch loop (cursor, put_many) is in the caller's buffer.
    struct batch_state {
        std::size_t rs = 0;     ///< the current reply's start: the bytes of the whole replies before it
        std::size_t pos = 0;    ///< the current block's start
        std::size_t line = 0;   ///< the current line's start
        std::size_t lines = 0;  ///< whole lines of the current reply
        std::uint64_t m = 0;    ///< candidates in the block at pos not yet looked at
        std::uint32_t first = 0; ///< the current reply's first four bytes
    };

    /// The batch loop needs a whole block and the bytes it reads past it: the
    /// LF after a CR at the block's last byte, and the first four bytes of a
    /// line or reply that starts at most two bytes after the block.
    static constexpr std::size_t batch_room = block + 5;

    /// Sets s to a new reply at `at`; false when too little input is left
    /// for the batch loop (s.rs is at, still).
    static bool batch_start(const char* base, std::size_t size, std::size_t at, batch_state& s) noexcept;

    /// The batch loop (see cursor): from s, passes each whole reply to
    /// emit(const reply_view&), which returns true to stop there. Returns
    /// true when emit stopped it (s is where it was), false when the reply at
    /// s.rs is for put(): something uncommon in it, or the input's end near.
    template <class Emit>
    bool batch_run(const char* base, std::size_t size, batch_state& s, Emit&& emit) const
        noexcept(std::is_nothrow_invocable_v<Emit&, const reply_view&>);

    /// The two bytes at p as a 16-bit word.
    static std::uint16_t load16(const char* p) noexcept
    {
        std::uint16_t w;
        std::memcpy(&w, p, 2);
        return w;
    }

    reply_limits limits_{};
    std::size_t fast_limit_ = block; ///< longest line the fast path takes: min(max_line, max_reply, block)
    std::size_t line_start_ = 0; ///< offset of the current line in the caller's buffer
    std::size_t scan_ = 0;       ///< offset up to which the current line holds no control byte
    std::size_t lines_ = 0;
    unsigned code_ = 0;
    error_code failed_{};
};

/// The replies in a buffer, one after the other: what a pipelining client
/// receives (the replies to MAIL, every RCPT and DATA in one read).
///
///     smtp::reply_parser::cursor c(parser, received);
///     smtp::reply_view r;
///     smtp::error_code ec;
///     while (c.next(r, ec))
///         handle(r);               // r views `received`
///     consume(c.consumed());       // whole replies only; ec says why it stopped
///
/// next() gives exactly the replies, and the error at exactly the reply, that
/// calling put() on the rest of the buffer after each reply would: the same
/// rules, limits and errors, and the same parser state afterwards. When the
/// input ends inside a reply, the caller consumes consumed() bytes, reads
/// more and goes on, with put() or a new cursor, from that reply's start. It
/// never allocates. The cursor views `input`, whose bytes must stay where
/// they are while it is used, and the parser is the cursor's meanwhile: no
/// put() in between.
class reply_parser::cursor {
public:
    /// Replies from the start of `input`: the reply in progress, if the
    /// parser has one (input starts where it started, as for put()), or a
    /// new one.
    cursor(reply_parser& parser, std::string_view input) noexcept
        : parser_(&parser), base_(input.data()), size_(input.size())
    {
        // The batch loop starts only at a reply boundary of a parser that has
        // not failed; put() finishes a reply in progress and repeats an error.
        state_.rs = 0;
        fast_ = parser.scan_ == 0 && !parser.failed_ && batch_start(base_, size_, 0, state_);
    }

    /// The next reply: true with `out` set and ec cleared; false with
    /// ec = need_more (the input ends, at consumed() or inside the reply
    /// that starts there) or the error of the reply at consumed().
    bool next(reply_view& out, error_code& ec) noexcept
    {
        if (fast_) {
            if (parser_->batch_run(base_, size_, state_, [&out](const reply_view& r) noexcept {
                    out = r;
                    return true; // one at a time
                })) {
                ec = {};
                return true;
            }
            fast_ = false;
        }
        const std::size_t at = state_.rs;
        const std::size_t n = parser_->put(std::string_view(base_ + at, size_ - at), out, ec);
        if (n == 0)
            return false;
        fast_ = batch_start(base_, size_, at + n, state_);
        return true;
    }

    /// Bytes taken by the replies next() gave: where the next reply starts.
    std::size_t consumed() const noexcept { return state_.rs; }

private:
    reply_parser* parser_;
    const char* base_;
    std::size_t size_;
    batch_state state_;
    bool fast_; ///< in the batch loop; else the reply at state_.rs goes to put()
};

inline bool reply_parser::batch_start(const char* base, std::size_t size, std::size_t at, batch_state& s) noexcept
{
    s.rs = at;
    if (size - at < batch_room)
        return false;
    s.pos = s.line = at;
    s.lines = 0;
    s.first = load32(base + at);
    s.m = detail::control_candidates<block>(base + at);
    return true;
}

template <class Emit>
bool reply_parser::batch_run(const char* base, std::size_t size, batch_state& s, Emit&& emit) const
    noexcept(std::is_nothrow_invocable_v<Emit&, const reply_view&>)
{
    const std::size_t max_line = limits_.max_line;
    const std::size_t max_reply = limits_.max_reply;
    const std::size_t max_lines = limits_.max_lines;
    std::size_t rs = s.rs;
    std::size_t pos = s.pos;
    std::size_t line = s.line;
    std::size_t lines = s.lines;
    std::uint64_t m = s.m;
    std::uint32_t first = s.first;
    for (;;) {
        while (m) {
            // Bounds: q < pos + block and pos + batch_room <= size, so the
            // two bytes at q and the four at line (<= q + 1) are there.
            const std::size_t q = pos + detail::lowest_bit_nonzero(m);
            if (load16(base + q) != crlf_word) [[unlikely]] {
                const auto c = static_cast<unsigned char>(base[q]);
                // Text; or the LF of a CRLF whose CR ended the block before.
                if (c == '\t' || c > 0x7F || q < line) {
                    m &= m - 1;
                    continue;
                }
                goto hand_over; // a bare CR or LF, or another control byte
            }
            // A line [line, q) and its CRLF: its code must be the reply's
            // first line's (that one is checked at the reply's last line).
            const std::size_t next = q + 2;
            const std::uint32_t w = load32(base + line);
            if (((w ^ first) & 0x00FFFFFFu) != 0 || next - line > max_line) [[unlikely]]
                goto hand_over;
            // Both bits of the CRLF. (When the LF is the next block's first
            // byte, the second clears nothing, and that block skips the LF.)
            m &= m - 1;
            m &= m - 1;
            ++lines;
            line = next;
            if ((w >> 24) == '-')
                continue;
            // The last line, "ddd " (anything else, the code alone included,
            // is put()'s): y is the code's digits, the first less 2, and the
            // separator less ' ', each in its byte, when the word is a code
            // and a space: bytes 0..3, 0..9, 0..9 and 0. (A first byte below
            // '2' borrows and leaves byte 0 >= 0xFE.)
            const std::uint32_t y = (w ^ 0x20303030u) - 2u;
            if (((y & 0xFFF0F0FCu) | ((y + 0x00060600u) & 0x00101000u)) != 0 || next - rs > max_reply ||
                lines > max_lines) [[unlikely]]
                goto hand_over;
            const bool stop =
                emit(reply_view(reply_code(200 + 100 * (y & 0xFFu) + 10 * ((y >> 8) & 0xFFu) + ((y >> 16) & 0xFFu)),
                                std::string_view(base + rs, next - rs), lines));
            rs = next;
            lines = 0;
            first = load32(base + next); // next <= pos + block + 1
            if (stop) {
                s.rs = rs;
                s.pos = pos;
                s.line = line;
                s.lines = lines;
                s.m = m;
                s.first = first;
                return true;
            }
        }
        pos += block;
        // Too little input left for the next block and the bytes read past it.
        // (A line or reply that is too long is found at its end; one that does
        // not end before the input does is put()'s, from its start.)
        if (size - pos < batch_room) [[unlikely]]
            goto hand_over;
        m = detail::control_candidates<block>(base + pos);
    }
hand_over:
    s.rs = rs;
    return false;
}

template <class F>
std::size_t reply_parser::put_many(std::string_view input, F&& on_reply, error_code& ec) noexcept(
    std::is_nothrow_invocable_v<F&, const reply_view&>)
{
    const char* const base = input.data();
    const std::size_t size = input.size();
    // True: on_reply says stop.
    const auto emit = [&on_reply](const reply_view& r) {
        if constexpr (std::is_same_v<std::invoke_result_t<F&, const reply_view&>, bool>) {
            return !static_cast<bool>(on_reply(r));
        } else {
            on_reply(r);
            return false;
        }
    };
    batch_state s;
    s.rs = 0;
    bool fast = scan_ == 0 && !failed_;
    for (;;) {
        if (fast && batch_start(base, size, s.rs, s)) {
            if (batch_run(base, size, s, emit)) {
                ec = {};
                return s.rs;
            }
        }
        // The reply at s.rs by put(): a reply in progress, an error, something
        // uncommon or the end of the input. Then the batch loop again.
        reply_view r;
        const std::size_t n = put(input.substr(s.rs), r, ec);
        if (n == 0) {
            // need_more only when a reply is cut: the input ended at a reply
            // boundary with no reply in progress is no error.
            if (ec == errc::need_more && s.rs == size && line_start_ == 0 && scan_ == 0 && lines_ == 0)
                ec = {};
            return s.rs;
        }
        s.rs += n;
        if (emit(std::as_const(r)))
            return s.rs;
        fast = true;
    }
}

SMTP_NAMESPACE_END

#endif

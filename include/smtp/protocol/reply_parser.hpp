// smtp/protocol/reply_parser.hpp
//
// The incremental reply parser (RFC 5321 4.2).
//
// Contract (Beast's basic_parser, picohttpparser): the caller owns the bytes.
// It calls put() with everything received and not yet consumed, starting at
// the same byte each time and growing at the end. When a whole reply is there,
// put() fills a reply_view over those bytes and returns its length: the
// caller handles the reply, then consumes that many bytes. Otherwise put()
// returns 0 with errc::need_more, or 0 with a precise error. The parser
// remembers how far it has scanned, so feeding one byte at a time costs no
// more than feeding everything at once; it never copies a line and never
// allocates.
//
// What it accepts:
//   reply-line = code ( "-" / " " ) text CRLF  |  code CRLF
//   code       = %x32-35 DIGIT DIGIT            (200..599)
// Every line of a multi-line reply carries the first line's code. Text may
// hold any byte but NUL and the other controls (0x00-0x1F, 0x7F), except
// HTAB; bytes >= 0x80 are kept (RFC 6531 servers send UTF-8).
//
// Line ends: only CRLF ends a line (RFC 5321 2.3.8). A bare LF is an error
// (errc::reply_bare_lf) unless reply_limits::accept_bare_lf is set, in which
// case LF alone also ends a line. A CR not followed by LF is always an error.
//
// After an error the parser stays failed (the stream cannot be resynchronised)
// until reset().
#ifndef SMTP_PROTOCOL_REPLY_PARSER_HPP
#define SMTP_PROTOCOL_REPLY_PARSER_HPP

#include <smtp/protocol/detail/scan.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/reply.hpp>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <string_view>

namespace smtp {

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
                const std::uint32_t sep = x >> 24;
                if (sep == 0) {
                    out = reply_view(reply_code(first), std::string_view(b, next), 1);
                    ec = {};
                    return next;
                }
                // The first line of several (when more than one may come): the
                // general loop goes on after it, from the state it would have
                // reached itself. next <= fast_limit_ <= max_reply.
                if (sep == sep_dash && limits_.max_lines > 1) {
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

    reply_limits limits_{};
    std::size_t fast_limit_ = block; ///< longest line the fast path takes: min(max_line, max_reply, block)
    std::size_t line_start_ = 0; ///< offset of the current line in the caller's buffer
    std::size_t scan_ = 0;       ///< offset up to which the current line holds no control byte
    std::size_t lines_ = 0;
    unsigned code_ = 0;
    error_code failed_{};
};

} // namespace smtp

#endif

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

#include <cassert>
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
    explicit reply_parser(const reply_limits& limits) noexcept : limits_(limits) {}

    const reply_limits& limits() const noexcept { return limits_; }

    /// Parses the next reply at the start of `input`. See the file comment.
    std::size_t put(std::string_view input, reply_view& out, error_code& ec) noexcept
    {
        if (failed_) {
            ec = failed_;
            return 0;
        }
        assert(input.size() >= scan_);
        const char* const base = input.data();
        const char* const end = base + input.size();
        for (;;) {
            const char* const line = base + line_start_;
            const std::size_t line_room = limits_.max_line; // bytes of this line we may look at
            const char* const limit = (std::size_t(end - line) > line_room) ? line + line_room : end;
            const char* p = base + scan_;
            const char* eol;    // first byte of the line end
            const char* next;   // first byte after the line end
            for (;;) {
                p = detail::find_control(p, limit);
                if (p == limit) {
                    if (limit != end)
                        return fail(ec, errc::reply_line_too_long);
                    scan_ = static_cast<std::size_t>(p - base);
                    ec = errc::need_more;
                    return 0;
                }
                const char c = *p;
                if (c == '\r') {
                    if (p + 1 == end) {
                        scan_ = static_cast<std::size_t>(p - base);
                        ec = errc::need_more;
                        return 0;
                    }
                    if (p[1] != '\n')
                        return fail(ec, errc::reply_bare_cr);
                    eol = p;
                    next = p + 2;
                    if (std::size_t(next - line) > limits_.max_line)
                        return fail(ec, errc::reply_line_too_long);
                    break;
                }
                if (c == '\n') {
                    if (!limits_.accept_bare_lf)
                        return fail(ec, errc::reply_bare_lf);
                    eol = p;
                    next = p + 1;
                    break;
                }
                if (c != '\t')
                    return fail(ec, errc::reply_control_character);
                ++p;
            }
            // A whole line: [line, eol). Check code and separator.
            const std::size_t len = static_cast<std::size_t>(eol - line);
            if (len < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2]))
                return fail(ec, errc::reply_code_invalid);
            const unsigned code = unsigned(line[0] - '0') * 100 + unsigned(line[1] - '0') * 10 + unsigned(line[2] - '0');
            bool last = true;
            if (len > 3) {
                if (line[3] == '-')
                    last = false;
                else if (line[3] != ' ')
                    return fail(ec, errc::reply_separator_invalid);
            }
            if (lines_ == 0) {
                code_ = code;
                std::size_t ignored = 0;
                enhanced_status s;
                has_status_ = detail::parse_enhanced_status(std::string_view(line, len).substr(len > 4 ? 4 : len),
                                                            code / 100, s, ignored);
                status_ = s;
            } else if (code != code_) {
                return fail(ec, errc::reply_code_mismatch);
            }
            ++lines_;
            const std::size_t total = static_cast<std::size_t>(next - base);
            if (total > limits_.max_reply)
                return fail(ec, errc::reply_too_long);
            if (last) {
                out = reply_view(reply_code(code_), std::string_view(base, total), lines_,
                                 has_status_ ? std::optional<enhanced_status>(status_) : std::nullopt);
                reset();
                ec = {};
                return total;
            }
            if (lines_ >= limits_.max_lines)
                return fail(ec, errc::reply_too_many_lines);
            line_start_ = scan_ = total;
        }
    }

    /// Forgets a reply in progress and any error: ready for a new stream.
    void reset() noexcept
    {
        line_start_ = scan_ = 0;
        lines_ = 0;
        code_ = 0;
        has_status_ = false;
        failed_ = {};
    }

private:
    static constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

    std::size_t fail(error_code& ec, errc e) noexcept
    {
        failed_ = e;
        ec = e;
        return 0;
    }

    reply_limits limits_{};
    std::size_t line_start_ = 0; ///< offset of the current line in the caller's buffer
    std::size_t scan_ = 0;       ///< offset up to which the current line holds no control byte
    std::size_t lines_ = 0;
    unsigned code_ = 0;
    enhanced_status status_{};
    bool has_status_ = false;
    error_code failed_{};
};

} // namespace smtp

#endif

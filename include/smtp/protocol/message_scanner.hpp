/// \file smtp/protocol/message_scanner.hpp
///
/// A message looked at before anything is sent: its facts (RFC 1870 size,
/// 8-bit octets and where, bare CR or LF, the longest line), gathered a piece
/// at a time by message_scanner, and check_content(), what the engine refuses
/// in a message whatever the server offers.
#ifndef SMTP_PROTOCOL_MESSAGE_SCANNER_HPP
#define SMTP_PROTOCOL_MESSAGE_SCANNER_HPP

#include <smtp/protocol/detail/scan.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/line_ends.hpp>
#include <smtp/protocol/message_source.hpp>
#include <smtp/protocol/send_request.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

struct message_facts {
    /// RFC 1870's size: octets with CRLF line ends and a final CRLF, without
    /// dot-stuffing (what DATA declares and BDAT sends).
    std::uint64_t size = 0;
    std::size_t longest_line = 0;        ///< octets, without the line end
    bool eight_bit = false;              ///< an octet >= 0x80 anywhere
    bool eight_bit_headers = false;      ///< ... in the header section (RFC 6532: needs SMTPUTF8)
    std::size_t first_bare_cr = npos;    ///< offset, or npos
    std::size_t first_bare_lf = npos;
    /// The first line longer than the scanner's line limit: its number, from
    /// 1 (every CRLF, bare CR and bare LF ends a line, as the data is sent),
    /// and its length in octets without the line end. 0 and 0: none.
    std::size_t first_long_line = 0;
    std::size_t first_long_line_length = 0;
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

/// message_facts, a piece at a time: any split gives the same facts.
class message_scanner {
public:
    message_scanner() = default;
    /// `line_limit`: the first line longer than this many octets is noted
    /// (message_facts::first_long_line); 0, the default: none is.
    explicit message_scanner(std::size_t line_limit) noexcept
        : limit_(line_limit == 0 ? message_facts::npos : line_limit)
    {}

    void put(std::string_view chunk) noexcept
    {
        const char* p = chunk.data();
        const char* const end = p + chunk.size();
        if (pending_cr_ && p != end) { // a CR ended the last piece
            pending_cr_ = false;
            if (*p == '\n')
                ++p, ++offset_;
            else
                bare(f_.first_bare_cr, offset_ - 1);
        }
        // Which lines have 8-bit octets matters only while there is
        // something left to learn: none in the piece (one vector pass), or
        // 8-bit already seen where it matters, and the lines need no look.
        bool look = detail::has_8bit(p, end);
        while (p != end) {
            const char* q = detail::find_cr_or_lf(p, end);
            const std::size_t len = static_cast<std::size_t>(q - p);
            look = look && !(f_.eight_bit && (f_.eight_bit_headers || !in_headers_));
            if (look && detail::has_8bit(p, q)) {
                f_.eight_bit = true;
                f_.eight_bit_headers = f_.eight_bit_headers || in_headers_;
            }
            line_ += len;
            offset_ += len;
            if (q == end)
                break;
            end_line();
            if (*q == '\r') {
                if (q + 1 == end) {
                    pending_cr_ = true;
                    ++offset_;
                    break;
                }
                if (q[1] == '\n') {
                    offset_ += 2;
                    p = q + 2;
                    continue;
                }
                bare(f_.first_bare_cr, offset_);
            } else {
                bare(f_.first_bare_lf, offset_);
            }
            ++offset_;
            p = q + 1;
        }
    }
    /// The facts; the last line, when open, counts with the CRLF it gets.
    message_facts finish() noexcept
    {
        if (pending_cr_) {
            pending_cr_ = false;
            bare(f_.first_bare_cr, offset_ - 1);
        }
        if (line_ > 0)
            end_line();
        return f_;
    }
    /// The facts so far (the open line not counted in size).
    const message_facts& so_far() const noexcept { return f_; }
    std::size_t open_line() const noexcept { return line_; }

private:
    void end_line() noexcept
    {
        ++lines_;
        if (line_ > limit_ && f_.first_long_line == 0) {
            f_.first_long_line = lines_;
            f_.first_long_line_length = line_;
        }
        f_.longest_line = std::max(f_.longest_line, line_);
        f_.size += line_ + 2;
        if (line_ == 0)
            in_headers_ = false;
        line_ = 0;
    }
    static void bare(std::size_t& first, std::size_t at) noexcept
    {
        if (first == message_facts::npos)
            first = at;
    }
    message_facts f_{};
    std::size_t line_ = 0, offset_ = 0, lines_ = 0;
    std::size_t limit_ = message_facts::npos;
    bool in_headers_ = true, pending_cr_ = false;
};

/// The facts of a whole message; `line_limit` as for message_scanner.
inline message_facts scan_message(std::string_view m, std::size_t line_limit = 0) noexcept
{
    message_scanner s(line_limit);
    s.put(m);
    return s.finish();
}


/// What the engine refuses in a message whatever the server offers, from
/// its facts (scanned with settings.data.max_line as the line limit): a line
/// longer than that limit, or a bare CR or LF under line_endings::reject
/// (neither for body_type::binary, whose octets go as they are), and a binary
/// body when settings.chunking is off (it needs BDAT). errc{} when none.
/// The engine and check_message (smtp/protocol/message_check.hpp) both ask it.
inline errc check_content(const message_facts& f, body_type body, const transaction_settings& settings) noexcept
{
    if (body == body_type::binary)
        return settings.chunking ? errc{} : errc::binarymime_not_offered;
    if (settings.data.bare_line_endings == line_endings::reject) {
        if (f.first_bare_cr != message_facts::npos)
            return errc::data_bare_cr;
        if (f.first_bare_lf != message_facts::npos)
            return errc::data_bare_lf;
    }
    if (settings.data.max_line != 0 && f.longest_line > settings.data.max_line)
        return errc::data_line_too_long;
    return {};
}

namespace detail {
/// Reads a rewindable source once for its facts, then rewinds it. A binary
/// body is only counted (its size is all that matters). False when the
/// source cannot be read or rewound.
inline bool scan_source(message_source& source, bool binary, std::size_t line_limit, message_facts& facts)
{
    if (!source.read || !source.rewind)
        return false;
    std::string buf(64 * 1024, '\0');
    message_scanner scanner(line_limit);
    std::uint64_t total = 0;
    for (std::size_t n; (n = source.read(buf.data(), buf.size())) != 0;) {
        total += n;
        if (!binary)
            scanner.put(std::string_view(buf.data(), n));
    }
    if (!source.rewind())
        return false;
    facts = binary ? message_facts{} : scanner.finish();
    if (binary)
        facts.size = total;
    return true;
}
} // namespace detail

SMTP_NAMESPACE_END

#endif

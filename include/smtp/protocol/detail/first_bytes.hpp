// smtp/protocol/detail/first_bytes.hpp
//
// What a server's first bytes say about it, for the errors of a client that
// reached the wrong server or the wrong TLS mode: an SMTP reply (a plain
// greeting where TLS was expected), a TLS record (TLS where a greeting was
// expected), or something else (an SSH or HTTP server); and those bytes
// quoted for a person, escaped and bounded.
#ifndef SMTP_PROTOCOL_DETAIL_FIRST_BYTES_HPP
#define SMTP_PROTOCOL_DETAIL_FIRST_BYTES_HPP

#include <smtp/version.hpp>

#include <cstddef>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace detail {

enum class first_bytes_kind {
    none,  ///< nothing was received
    smtp,  ///< the start of a reply: a code 2xx..5xx, then ' ', '-' or a line end
    tls,   ///< the start of a TLS record: content type 20..24, version 3.x (x <= 4)
    other, ///< anything else: not SMTP
};

/// As much as the bytes show; a prefix of a reply counts as a reply ("22").
constexpr first_bytes_kind classify_first_bytes(std::string_view b) noexcept
{
    if (b.empty())
        return first_bytes_kind::none;
    const auto at = [&](std::size_t i) { return static_cast<unsigned char>(b[i]); };
    const auto digit = [](unsigned char c) { return c >= '0' && c <= '9'; };
    if (at(0) >= '2' && at(0) <= '5' && (b.size() < 2 || digit(at(1))) && (b.size() < 3 || digit(at(2))) &&
        (b.size() < 4 || at(3) == ' ' || at(3) == '-' || at(3) == '\r' || at(3) == '\n'))
        return first_bytes_kind::smtp;
    if (at(0) >= 20 && at(0) <= 24 && (b.size() < 2 || at(1) == 3) && (b.size() < 3 || at(2) <= 4))
        return first_bytes_kind::tls;
    return first_bytes_kind::other;
}

/// "got '...'": the first `max` bytes; printable ASCII as it is, `\r`, `\n`,
/// `\t`, `\\` and `\'` escaped, any other byte as `\xNN`; "..." after the
/// quote when there was more.
inline std::string quote_first_bytes(std::string_view b, std::size_t max = 64)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "got '";
    for (const char ch : b.substr(0, max)) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '\r': out += "\\r"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        default:
            if (c < 0x20 || c >= 0x7f) {
                out += "\\x";
                out += hex[c >> 4];
                out += hex[c & 0xf];
            } else {
                out += ch;
            }
        }
    }
    out += '\'';
    if (b.size() > max)
        out += "...";
    return out;
}

} // namespace detail
SMTP_NAMESPACE_END

#endif

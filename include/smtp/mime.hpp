/// \file smtp/mime.hpp
///
/// The pieces a message is made of and the MIME helpers that write them:
/// mailbox, attachment, and in smtp::mime the header checks, transfer
/// encodings (quoted-printable, base64 lines), RFC 2047 encoded-words, header
/// folding, dates and RFC 2231 filenames. The builder (message_builder.hpp)
/// uses them; the standard library and protocol/base64.hpp only.
#ifndef SMTP_MIME_HPP
#define SMTP_MIME_HPP

#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/line_ends.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// A display name and an address, like Python's email.utils.formataddr.
struct mailbox {
    std::string name{};
    std::string address{};
};

/// An attachment or an embedded part: its bytes come from memory, from a
/// file (opened when the message is written) or from a reader callback.
struct attachment {
    std::string filename{};                             ///< UTF-8; empty: none
    std::string content_type = "application/octet-stream"; ///< "type/subtype", parameters allowed
    std::string data{};                                 ///< the bytes, when from memory
    std::string path{};                                 ///< the file, when from a file
    /// The bytes, when from a reader: fills up to n bytes, 0 at the end.
    std::function<std::size_t(char*, std::size_t)> read{};
    /// Starts the reader over (needed for a second write or a rewind).
    std::function<bool()> rewind{};

    static attachment from_memory(std::string filename, std::string content_type, std::string bytes)
    {
        attachment a;
        a.filename = std::move(filename);
        a.content_type = std::move(content_type);
        a.data = std::move(bytes);
        return a;
    }
    /// `filename` defaults to the last component of `path`.
    static attachment from_file(std::string path, std::string content_type, std::string filename = {})
    {
        attachment a;
        if (filename.empty()) {
            const auto slash = path.find_last_of('/');
            filename = slash == std::string::npos ? path : path.substr(slash + 1);
        }
        a.filename = std::move(filename);
        a.content_type = std::move(content_type);
        a.path = std::move(path);
        return a;
    }
    static attachment from_reader(std::string filename, std::string content_type,
                                  std::function<std::size_t(char*, std::size_t)> read,
                                  std::function<bool()> rewind = {})
    {
        attachment a;
        a.filename = std::move(filename);
        a.content_type = std::move(content_type);
        a.read = std::move(read);
        a.rewind = std::move(rewind);
        return a;
    }
};

/// Content-Transfer-Encoding of a text body.
enum class transfer_encoding { seven_bit, quoted_printable, base64 };

namespace mime {

// --- Checks ---------------------------------------------------------------------

inline bool has_crlf_nul(std::string_view s) noexcept
{
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

inline void check_value(std::string_view header, std::string_view value)
{
    if (has_crlf_nul(value))
        throw std::invalid_argument("smtp::message: " + std::string(header) +
                                    " contains CR, LF or NUL (header injection refused)");
}

inline bool is_ascii_printable(std::string_view s) noexcept
{
    return std::all_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c >= 0x20 && c < 0x7F) || c == '\t';
    });
}

// --- Transfer encodings ---------------------------------------------------------

/// Bare CR and bare LF made CRLF.
inline std::string normalize_crlf(std::string_view in)
{
    std::string out;
    out.reserve(in.size() + in.size() / 32);
    line_end_normalizer{}.put(in, out);
    return out;
}

/// The rule of the header comment, on CRLF text.
inline transfer_encoding choose_encoding(std::string_view crlf_text) noexcept
{
    std::size_t escapes = 0, line = 0, longest = 0;
    for (const char ch : crlf_text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\n') {
            longest = std::max(longest, line);
            line = 0;
            continue;
        }
        if (c != '\r')
            ++line;
        if (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\r') || c == 0x7F)
            ++escapes;
    }
    longest = std::max(longest, line);
    if (escapes == 0 && longest <= 998)
        return transfer_encoding::seven_bit;
    if (escapes * 6 <= crlf_text.size())
        return transfer_encoding::quoted_printable;
    return transfer_encoding::base64;
}

/// RFC 2045 6.7 on CRLF text: lines of at most 76 characters, soft breaks
/// ("=" at the end of a line) inside long lines.
inline std::string quoted_printable(std::string_view crlf_text)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(crlf_text.size() + crlf_text.size() / 8);
    std::size_t col = 0;
    auto put = [&](std::string_view token) {
        if (col + token.size() > 75) { // leave room for the soft break's '='
            out += "=\r\n";
            col = 0;
        }
        out += token;
        col += token.size();
    };
    std::size_t start = 0;
    while (start <= crlf_text.size()) {
        std::size_t end = crlf_text.find("\r\n", start);
        const bool last = end == std::string_view::npos;
        if (last)
            end = crlf_text.size();
        const std::string_view line = crlf_text.substr(start, end - start);
        for (std::size_t i = 0; i < line.size(); ++i) {
            const auto c = static_cast<unsigned char>(line[i]);
            const bool trailing_ws = (c == ' ' || c == '\t') && i + 1 == line.size();
            if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !trailing_ws)) {
                const char lit[1] = {line[i]};
                put(std::string_view(lit, 1));
            } else {
                const char esc[3] = {'=', hex[c >> 4], hex[c & 15]};
                put(std::string_view(esc, 3));
            }
        }
        if (last)
            break;
        out += "\r\n";
        col = 0;
        start = end + 2;
    }
    return out;
}

/// Base64 in lines of 76 characters joined by CRLF (no CRLF after the last).
inline void base64_lines(std::string_view in, std::string& out, bool& first_line)
{
    for (std::size_t i = 0; i < in.size(); i += 57) {
        if (!first_line)
            out += "\r\n";
        first_line = false;
        base64::encode(in.substr(i, 57), out);
    }
}

// --- Headers --------------------------------------------------------------------

/// Length of the UTF-8 sequence that starts with `c` (1 for anything odd).
inline std::size_t utf8_length(unsigned char c) noexcept
{
    if (c >= 0xF0 && c < 0xF8) return 4;
    if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
    if (c >= 0xC0) return 2;
    return 1;
}

/// Q-encoded length of one byte (RFC 2047 5(3): the phrase-safe set).
inline std::size_t q_length(unsigned char c) noexcept
{
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '!' || c == '*' || c == '+' || c == '-' || c == '/' || c == ' ';
    return plain ? 1 : 3;
}

/// `text` (UTF-8) as RFC 2047 encoded-words separated by single spaces:
/// B or Q, whichever is shorter in total, each word at most 75 characters
/// (the first at most `first_limit`), never splitting a character.
inline std::string encoded_words(std::string_view text, std::size_t first_limit = 75)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    static constexpr std::string_view prefix_b = "=?utf-8?b?", prefix_q = "=?utf-8?q?";
    constexpr std::size_t overhead = 12; // "=?utf-8?b?" and "?="
    first_limit = std::clamp<std::size_t>(first_limit, overhead + 12, 75);
    std::size_t q_total = 0;
    for (const char ch : text)
        q_total += q_length(static_cast<unsigned char>(ch));
    const bool use_q = q_total <= base64::encoded_size(text.size());

    std::string out;
    std::size_t limit = first_limit;
    std::size_t i = 0;
    while (i < text.size()) {
        // Take whole characters while the encoded word fits.
        const std::size_t room = limit - overhead;
        std::size_t j = i, enc = 0;
        while (j < text.size()) {
            const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(text[j])), text.size() - j);
            std::size_t add = 0;
            if (use_q) {
                for (std::size_t k = 0; k < n; ++k)
                    add += q_length(static_cast<unsigned char>(text[j + k]));
                if (enc + add > room)
                    break;
                enc += add;
            } else if (base64::encoded_size(j + n - i) > room) {
                break;
            }
            j += n;
        }
        if (j == i) // cannot happen with room >= 12; guard against looping
            j = i + 1;
        if (!out.empty())
            out.push_back(' ');
        const std::string_view chunk = text.substr(i, j - i);
        if (use_q) {
            out += prefix_q;
            for (const char ch : chunk) {
                const auto c = static_cast<unsigned char>(ch);
                if (c == ' ') {
                    out.push_back('_');
                } else if (q_length(c) == 1) {
                    out.push_back(ch);
                } else {
                    out.push_back('=');
                    out.push_back(hex[c >> 4]);
                    out.push_back(hex[c & 15]);
                }
            }
        } else {
            out += prefix_b;
            base64::encode(chunk, out);
        }
        out += "?=";
        i = j;
        limit = 75;
    }
    return out;
}

/// Unstructured text (Subject, custom headers): as it is when printable
/// ASCII that no decoder could take for an encoded-word and that folds
/// into lines of 998; encoded-words otherwise.
inline std::string unstructured(std::string_view text, std::size_t name_length)
{
    bool plain = is_ascii_printable(text) && text.find("=?") == std::string_view::npos;
    if (plain) {
        std::size_t word = 0;
        for (const char ch : text) {
            word = (ch == ' ' || ch == '\t') ? 0 : word + 1;
            if (word + name_length + 2 > 998)
                plain = false;
        }
    }
    if (plain)
        return std::string(text);
    return encoded_words(text, 78 - std::min<std::size_t>(name_length + 2, 40));
}

/// RFC 5322 atext.
inline bool is_atext(char ch) noexcept
{
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(ch) != std::string_view::npos;
}

/// A display name as a phrase: atoms as they are, specials quoted, anything
/// not printable ASCII as encoded-words.
inline std::string phrase(std::string_view name, std::size_t first_limit)
{
    if (!is_ascii_printable(name) || name.find("=?") != std::string_view::npos)
        return encoded_words(name, first_limit);
    bool atoms = !name.empty() && name.front() != ' ' && name.back() != ' ' &&
                 name.find("  ") == std::string_view::npos;
    for (const char ch : name)
        if (ch != ' ' && !is_atext(ch))
            atoms = false;
    if (atoms)
        return std::string(name);
    std::string out = "\"";
    for (const char ch : name) {
        if (ch == '"' || ch == '\\')
            out.push_back('\\');
        out.push_back(ch);
    }
    out.push_back('"');
    return out;
}

inline std::string format_mailbox(const mailbox& m, std::size_t first_limit)
{
    if (m.name.empty())
        return m.address;
    return phrase(m.name, first_limit) + " <" + m.address + ">";
}

/// "Name: value" folded at whitespace: lines of at most 78 octets where a
/// fold point allows it, never over 998 (std::invalid_argument), CRLF after
/// every line.
inline void fold(std::string_view name, std::string_view value, std::string& out)
{
    std::string line(name);
    line += ":";
    // Segments: a run of whitespace and the word after it.
    std::size_t i = 0;
    bool first = true;
    while (i < value.size() || first) {
        std::size_t j = i;
        while (j < value.size() && (value[j] == ' ' || value[j] == '\t'))
            ++j;
        while (j < value.size() && value[j] != ' ' && value[j] != '\t')
            ++j;
        std::string_view seg = value.substr(i, j - i);
        if (first) { // "Name: " then the first word, on the first line
            line += ' ';
            first = false;
        } else if (const auto word = seg.find_first_not_of(" \t");
                   line.size() + seg.size() > 78 && word != 0 && word != std::string_view::npos) {
            out += line;
            out += "\r\n";
            line.clear();
        }
        line += seg;
        if (line.size() > 998)
            throw std::invalid_argument("smtp::message: " + std::string(name) +
                                        " has a word too long to fold into 998 octets");
        i = j;
        if (i >= value.size())
            break;
    }
    out += line;
    out += "\r\n";
}

/// RFC 5322 3.3 date-time, in UTC: "Sat, 28 Nov 2026 20:08:45 +0000".
inline std::string format_date(std::chrono::system_clock::time_point t)
{
    using namespace std::chrono;
    static constexpr std::array<const char*, 7> day_names = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto secs = floor<seconds>(t);
    const auto day = floor<std::chrono::days>(secs);
    const year_month_day ymd{day};
    const weekday wd{day};
    const hh_mm_ss<seconds> hms{secs - day};
    auto two = [](long v) {
        std::string s = std::to_string(v);
        return s.size() < 2 ? "0" + s : s;
    };
    std::string out = day_names[wd.c_encoding()];
    out += ", " + two(static_cast<unsigned>(ymd.day())) + " " + month_names[static_cast<unsigned>(ymd.month()) - 1] +
           " " + std::to_string(static_cast<int>(ymd.year())) + " " + two(hms.hours().count()) + ":" +
           two(hms.minutes().count()) + ":" + two(static_cast<long>(hms.seconds().count())) + " +0000";
    return out;
}

/// A Content-Disposition filename parameter: filename="..." when printable
/// ASCII, else RFC 2231 filename*=utf-8''... (in continuations when long).
inline std::string filename_parameter(std::string_view name)
{
    if (is_ascii_printable(name) && name.find('\t') == std::string_view::npos) {
        std::string out = "filename=\"";
        for (const char ch : name) {
            if (ch == '"' || ch == '\\')
                out.push_back('\\');
            out.push_back(ch);
        }
        return out + "\"";
    }
    static constexpr char hex[] = "0123456789ABCDEF";
    std::vector<std::string> pieces(1);
    for (std::size_t i = 0; i < name.size();) {
        const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(name[i])), name.size() - i);
        std::string enc;
        for (std::size_t k = 0; k < n; ++k) {
            const char ch = name[i + k];
            const auto c = static_cast<unsigned char>(ch);
            const bool attr = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                              std::string_view("!#$&+-.^_`|~").find(ch) != std::string_view::npos;
            if (attr) {
                enc.push_back(ch);
            } else {
                enc.push_back('%');
                enc.push_back(hex[c >> 4]);
                enc.push_back(hex[c & 15]);
            }
        }
        if (pieces.back().size() + enc.size() > 48)
            pieces.emplace_back();
        pieces.back() += enc;
        i += n;
    }
    if (pieces.size() == 1)
        return "filename*=utf-8''" + pieces[0];
    std::string out;
    for (std::size_t k = 0; k < pieces.size(); ++k) {
        if (k)
            out += "; ";
        out += "filename*" + std::to_string(k) + "*=" + (k == 0 ? "utf-8''" : "") + pieces[k];
    }
    return out;
}

// --- Serialisation --------------------------------------------------------------

/// A piece of the serialised message: text, or an attachment's bytes to
/// be read and base64-encoded as the message is written.
struct segment {
    std::string text{};
    std::shared_ptr<const attachment> stream{};
};

inline void append_text(std::vector<segment>& segs, std::string_view text)
{
    if (segs.empty() || segs.back().stream)
        segs.emplace_back();
    segs.back().text += text;
}

} // namespace mime

SMTP_NAMESPACE_END

#endif

/// \file smtp/message.hpp
///
/// A message builder (RFC 5322 headers, MIME bodies), usable without the
/// client: the standard library and protocol/base64.hpp only.
///
/// ```
///   smtp::message m;
///   m.from({"Author", "author@example.com"})
///    .to({"Doe, John", "john@example.com"})
///    .bcc({"", "archive@example.com"})        // envelope only, never a header
///    .subject("Grüße")
///    .text("Hello.\n")
///    .html("<p>Hello.</p>\n")
///    .attach(smtp::attachment::from_file("report.pdf", "application/pdf"));
///   std::string small = m.to_string();     // the whole message
///   m.write([](std::string_view piece) { ... });  // or piece by piece
///   auto r = m.reader();                   // read(buf, n) / rewind(): what
///   smtp::message_source src{r.read_function(), r.rewind_function()};
/// ```
///
/// Errors: every setter throws std::invalid_argument, naming the header, when
/// a value contains CR, LF or NUL (header injection), when a header name is
/// not printable ASCII without ':', or when an address holds '<' or '>'.
/// write(), to_string() and reader() throw std::invalid_argument for a word
/// that cannot be folded into 998 octets (an address that long), and the
/// writing throws std::runtime_error when an attachment's file cannot be
/// opened or read. One style, exceptions: there is no error_code form.
///
/// What it writes (docs/messages.md):
/// - Display names, Subject and custom headers: as they are when they are
///   printable ASCII; display names with RFC 5322 specials as a quoted-string;
///   anything else as RFC 2047 encoded-words (UTF-8, B or Q, whichever is
///   shorter), each at most 75 characters and holding whole characters.
///   Header lines folded at whitespace to at most 78 octets where possible,
///   never more than 998 (a longer word is an error).
/// - Text bodies: line ends made CRLF, then the transfer encoding by content:
///   - 7bit: only ASCII (no NUL) and no line over 998 octets;
///   - quoted-printable: otherwise, when at most 1 octet in 6 needs escaping
///     (8-bit or control octets): lines at most 76 characters;
///   - base64: otherwise (mostly non-ASCII or binary).
/// - Structure: text alone, or multipart/alternative (text, html); html with
///   embedded parts becomes multipart/related (html first, parts with
///   Content-ID); attachments make multipart/mixed around all of that.
/// - Attachments: base64 in lines of 76; a file or a reader callback is read
///   and encoded 57 KiB at a time, never whole. Filenames: filename="..."
///   when ASCII, RFC 2231 filename*=utf-8''... otherwise.
/// - Boundaries: random ("=_" cannot occur in base64 or quoted-printable
///   text) and checked against every other octet of the message.
/// - Date and Message-ID, and the randomness, are fixed when the message is
///   made, so that every write (and every rewind) gives the same bytes.
#ifndef SMTP_MESSAGE_HPP
#define SMTP_MESSAGE_HPP

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

/// Reads a message's bytes piece by piece: read(buf, n) fills up to n bytes
/// (0: the end), rewind() starts over (false when an attachment's reader
/// cannot). Copies share one position. Attachments from files or readers
/// are read 57 KiB at a time. Made by message::reader(); smtp::message_source
/// (transaction.hpp) takes read_function() and rewind_function().
class message_reader {
public:
    static constexpr std::size_t raw_chunk = 57 * 1024; ///< attachment bytes read at a time

    explicit message_reader(std::vector<mime::segment> segments)
        : s_(std::make_shared<state>())
    {
        s_->segs = std::move(segments);
    }

    std::size_t read(char* buf, std::size_t n)
    {
        state& s = *s_;
        std::size_t done = 0;
        while (done < n && s.seg < s.segs.size()) {
            const mime::segment& seg = s.segs[s.seg];
            if (!seg.stream) {
                const std::size_t take = std::min(n - done, seg.text.size() - s.off);
                std::copy_n(seg.text.data() + s.off, take, buf + done);
                done += take;
                s.off += take;
                if (s.off == seg.text.size())
                    next(s);
                continue;
            }
            if (s.off == s.encoded.size() && !refill(s)) {
                next(s);
                continue;
            }
            const std::size_t take = std::min(n - done, s.encoded.size() - s.off);
            std::copy_n(s.encoded.data() + s.off, take, buf + done);
            done += take;
            s.off += take;
        }
        return done;
    }

    bool rewind()
    {
        state& s = *s_;
        for (const auto& seg : s.segs)
            if (seg.stream && seg.stream->read && !seg.stream->rewind)
                return false;
        for (const auto& seg : s.segs)
            if (seg.stream && seg.stream->read && !seg.stream->rewind())
                return false;
        s.seg = 0;
        s.off = 0;
        s.file.reset();
        s.encoded.clear();
        s.opened = false;
        s.first_line = true;
        return true;
    }

    std::function<std::size_t(char*, std::size_t)> read_function() const
    {
        return [r = *this](char* buf, std::size_t n) mutable { return r.read(buf, n); };
    }
    std::function<bool()> rewind_function() const
    {
        return [r = *this]() mutable { return r.rewind(); };
    }

    /// The largest amount of memory an attachment's encoding holds at once.
    static constexpr std::size_t max_piece() noexcept
    {
        return raw_chunk + base64::encoded_size(raw_chunk) + 2 * (raw_chunk / 57 + 1);
    }

private:
    struct state {
        std::vector<mime::segment> segs;
        std::size_t seg = 0, off = 0;
        std::unique_ptr<std::ifstream> file{};
        std::string raw{}, encoded{};
        bool opened = false, first_line = true;
    };

    static void next(state& s)
    {
        ++s.seg;
        s.off = 0;
        s.file.reset();
        s.encoded.clear();
        s.opened = false;
        s.first_line = true;
    }

    /// Reads and encodes the next chunk of the current attachment; false at its end.
    static bool refill(state& s)
    {
        const attachment& a = *s.segs[s.seg].stream;
        if (!s.opened) {
            s.opened = true;
            if (!a.read && !a.path.empty()) {
                s.file = std::make_unique<std::ifstream>(a.path, std::ios::binary);
                if (!*s.file)
                    throw std::runtime_error("smtp::message: cannot open attachment " + a.path);
            }
        }
        s.raw.resize(raw_chunk);
        std::size_t got = 0;
        while (got < raw_chunk) { // a whole chunk, so that lines stay 57 bytes
            std::size_t n = 0;
            if (a.read) {
                n = a.read(s.raw.data() + got, raw_chunk - got);
            } else {
                s.file->read(s.raw.data() + got, static_cast<std::streamsize>(raw_chunk - got));
                n = static_cast<std::size_t>(s.file->gcount());
                if (n == 0 && s.file->bad())
                    throw std::runtime_error("smtp::message: cannot read attachment " + a.path);
            }
            if (n == 0)
                break;
            got += n;
        }
        s.raw.resize(got);
        s.encoded.clear();
        s.off = 0;
        mime::base64_lines(s.raw, s.encoded, s.first_line);
        return got != 0;
    }

    std::shared_ptr<state> s_;
};

/// An RFC 5322 message with MIME bodies (see the top of this file).
class message {
public:
    /// Random boundaries and Message-ID; Date: now.
    message() : message(random_seed()) {}
    /// Reproducible: the same seed, the same boundaries and Message-ID.
    explicit message(std::uint64_t seed) : rng_(seed), date_(std::chrono::system_clock::now())
    {
        static constexpr char hex[] = "0123456789abcdef";
        for (std::string* t : {&token_, &boundary_token_})
            for (int i = 0; i < 16; ++i) {
                const auto v = static_cast<unsigned>(rng_() & 0xFF);
                t->push_back(hex[v >> 4]);
                t->push_back(hex[v & 15]);
            }
    }

    message& from(mailbox m) { return set_one(from_, "From", std::move(m)); }
    message& to(mailbox m) { return add(to_, "To", std::move(m)); }
    message& cc(mailbox m) { return add(cc_, "Cc", std::move(m)); }
    /// A blind copy: an envelope recipient (envelope_recipients(), which
    /// session::send_message uses), never written into the headers.
    message& bcc(mailbox m) { return add(bcc_, "Bcc", std::move(m)); }
    message& reply_to(mailbox m) { return set_one(reply_to_, "Reply-To", std::move(m)); }
    message& subject(std::string s)
    {
        mime::check_value("Subject", s);
        subject_ = std::move(s);
        return *this;
    }
    message& date(std::chrono::system_clock::time_point t)
    {
        date_ = t;
        return *this;
    }
    /// With or without the angle brackets.
    message& message_id(std::string id)
    {
        mime::check_value("Message-ID", id);
        if (id.size() < 2 || id.front() != '<' || id.back() != '>')
            id = "<" + id + ">";
        if (id.find_first_of("<>", 1) != id.size() - 1 || id.find_first_of(" \t") != std::string::npos)
            throw std::invalid_argument("smtp::message: Message-ID must be <left@right> without spaces");
        message_id_ = std::move(id);
        return *this;
    }
    /// A custom header, added after the others. The builder's own headers
    /// (From, To, Content-Type, ...) are refused: use their setters.
    message& header(std::string name, std::string value)
    {
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7F && c != ':'; }))
            throw std::invalid_argument("smtp::message: header name \"" + printable(name) +
                                        "\" is not printable ASCII without ':'");
        mime::check_value(name, value);
        static constexpr std::array<std::string_view, 11> own = {
            "from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version",
            "content-type", "content-transfer-encoding", "content-disposition"};
        std::string lower = name;
        for (auto& c : lower)
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        if (std::find(own.begin(), own.end(), lower) != own.end())
            throw std::invalid_argument("smtp::message: " + name + " is set by the builder, not header()");
        headers_.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    /// text/plain; charset: a token such as "utf-8" or "us-ascii".
    message& text(std::string body, std::string charset = "utf-8")
    {
        check_charset(charset);
        text_ = text_body{std::move(body), std::move(charset)};
        return *this;
    }
    message& html(std::string body, std::string charset = "utf-8")
    {
        check_charset(charset);
        html_ = text_body{std::move(body), std::move(charset)};
        return *this;
    }
    /// An attachment (multipart/mixed).
    message& attach(attachment a)
    {
        check_attachment(a);
        attachments_.push_back(std::make_shared<const attachment>(std::move(a)));
        return *this;
    }
    /// A part the html refers to as "cid:<content_id>" (multipart/related),
    /// e.g. an image. Without html it becomes an inline attachment.
    message& embed(attachment a, std::string content_id)
    {
        check_attachment(a);
        mime::check_value("Content-ID", content_id);
        if (content_id.empty() || content_id.find_first_of("<> \t\"") != std::string::npos ||
            !mime::is_ascii_printable(content_id))
            throw std::invalid_argument("smtp::message: Content-ID must be printable ASCII without <, >, spaces");
        embedded_.emplace_back(std::make_shared<const attachment>(std::move(a)), std::move(content_id));
        return *this;
    }

    /// The Message-ID it writes: the one given, or `<random-hex@domain>` with From's domain.
    std::string message_id() const
    {
        if (!message_id_.empty())
            return message_id_;
        std::string domain = "localhost";
        if (from_) {
            const auto at = from_->address.rfind('@');
            if (at != std::string::npos && at + 1 < from_->address.size())
                domain = from_->address.substr(at + 1);
        }
        return "<" + token_ + "@" + domain + ">";
    }

    /// The envelope sender: From's address (empty when there is no From).
    std::string envelope_from() const { return from_ ? from_->address : std::string(); }
    /// The envelope recipients: the addresses of To, Cc and Bcc, in that
    /// order, each once.
    std::vector<std::string> envelope_recipients() const
    {
        std::vector<std::string> out;
        for (const auto* list : {&to_, &cc_, &bcc_})
            for (const mailbox& m : *list)
                if (std::find(out.begin(), out.end(), m.address) == out.end())
                    out.push_back(m.address);
        return out;
    }

    /// Calls sink(std::string_view) with the message, piece by piece.
    template <class Sink>
        requires std::invocable<Sink&, std::string_view>
    void write(Sink&& sink) const
    {
        message_reader r = reader();
        std::string buf(64 * 1024, '\0');
        while (const std::size_t n = r.read(buf.data(), buf.size()))
            sink(std::string_view(buf.data(), n));
    }

    std::string to_string() const
    {
        std::string out;
        write([&](std::string_view piece) { out += piece; });
        return out;
    }

    /// A reader of the message as it is now (later changes do not reach it).
    message_reader reader() const { return message_reader(serialise()); }

private:
    struct text_body {
        std::string body;
        std::string charset;
    };
    using part_ptr = std::shared_ptr<const attachment>;

    static std::uint64_t random_seed()
    {
        std::random_device rd;
        return (std::uint64_t(rd()) << 32) ^ rd();
    }

    static std::string printable(std::string_view s)
    {
        std::string out;
        for (const char c : s)
            out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
        return out;
    }

    static void check_mailbox(std::string_view header, const mailbox& m)
    {
        mime::check_value(header, m.name);
        mime::check_value(header, m.address);
        if (m.address.empty() || m.address.find_first_of("<> \t") != std::string::npos ||
            std::any_of(m.address.begin(), m.address.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
            throw std::invalid_argument("smtp::message: " + std::string(header) + " address \"" +
                                        printable(m.address) + "\" is empty or holds '<', '>', a space or a control character");
    }
    message& set_one(std::optional<mailbox>& slot, std::string_view header, mailbox m)
    {
        check_mailbox(header, m);
        slot = std::move(m);
        return *this;
    }
    message& add(std::vector<mailbox>& list, std::string_view header, mailbox m)
    {
        check_mailbox(header, m);
        list.push_back(std::move(m));
        return *this;
    }
    static void check_charset(std::string_view charset)
    {
        if (charset.empty() || !std::all_of(charset.begin(), charset.end(), [](char c) {
                return mime::is_atext(c) && c != '/' && c != '=' && c != '?';
            }))
            throw std::invalid_argument("smtp::message: charset \"" + printable(charset) + "\" is not a token");
    }
    static void check_attachment(const attachment& a)
    {
        mime::check_value("Content-Type", a.content_type);
        mime::check_value("Content-Disposition filename", a.filename);
        const auto slash = a.content_type.find('/');
        if (slash == std::string::npos || slash == 0 || !mime::is_ascii_printable(a.content_type))
            throw std::invalid_argument("smtp::message: Content-Type \"" + printable(a.content_type) +
                                        "\" is not type/subtype");
    }

    // --- Serialisation ------------------------------------------------------------

    void address_header(std::string& out, std::string_view name, const std::vector<mailbox>& list) const
    {
        if (list.empty())
            return;
        std::string value;
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (i)
                value += ", ";
            value += mime::format_mailbox(list[i], i == 0 ? 78 - name.size() - 2 : 75);
        }
        mime::fold(name, value, out);
    }

    std::string top_headers() const
    {
        std::string out;
        if (from_)
            address_header(out, "From", {*from_});
        address_header(out, "To", to_);
        address_header(out, "Cc", cc_);
        if (reply_to_)
            address_header(out, "Reply-To", {*reply_to_});
        if (subject_)
            mime::fold("Subject", mime::unstructured(*subject_, 7), out);
        mime::fold("Date", mime::format_date(date_), out);
        mime::fold("Message-ID", message_id(), out);
        for (const auto& [name, value] : headers_)
            mime::fold(name, mime::unstructured(value, name.size()), out);
        out += "MIME-Version: 1.0\r\n";
        return out;
    }

    /// One node of the MIME tree, with its own headers, as segments.
    struct node {
        std::vector<mime::segment> segs;
    };

    static node text_node(const text_body& t, std::string_view subtype)
    {
        const std::string body = mime::normalize_crlf(t.body);
        const transfer_encoding e = mime::choose_encoding(body);
        std::string out = "Content-Type: text/" + std::string(subtype) + "; charset=\"" + t.charset + "\"\r\n";
        std::string encoded;
        switch (e) {
        case transfer_encoding::seven_bit:
            out += "Content-Transfer-Encoding: 7bit\r\n";
            encoded = body;
            break;
        case transfer_encoding::quoted_printable:
            out += "Content-Transfer-Encoding: quoted-printable\r\n";
            encoded = mime::quoted_printable(body);
            break;
        case transfer_encoding::base64: {
            out += "Content-Transfer-Encoding: base64\r\n";
            bool first = true;
            mime::base64_lines(body, encoded, first);
            break;
        }
        }
        out += "\r\n";
        out += encoded;
        node n;
        mime::append_text(n.segs, out);
        return n;
    }

    static node attachment_node(const part_ptr& a, const std::string* content_id)
    {
        std::string h;
        mime::fold("Content-Type", a->content_type, h);
        h += "Content-Transfer-Encoding: base64\r\n";
        std::string disposition = content_id ? "inline" : "attachment";
        if (!a->filename.empty())
            disposition += "; " + mime::filename_parameter(a->filename);
        mime::fold("Content-Disposition", disposition, h);
        if (content_id)
            h += "Content-ID: <" + *content_id + ">\r\n";
        h += "\r\n";
        node n;
        if (a->read || !a->path.empty()) {
            mime::append_text(n.segs, h);
            n.segs.push_back(mime::segment{{}, a});
        } else {
            bool first = true;
            mime::base64_lines(a->data, h, first);
            mime::append_text(n.segs, h);
        }
        return n;
    }

    node multipart(std::string_view subtype, std::vector<node> children, unsigned& counter) const
    {
        // A boundary that occurs nowhere in the children's text; attachments
        // read as the message is written are base64, where "=_" cannot occur.
        std::string boundary;
        for (int attempt = 0;; ++attempt) {
            boundary = "=_" + boundary_token_ + "." + std::to_string(++counter) + "." + std::to_string(attempt);
            const bool clash = std::any_of(children.begin(), children.end(), [&](const node& c) {
                return std::any_of(c.segs.begin(), c.segs.end(), [&](const mime::segment& s) {
                    return s.text.find(boundary) != std::string::npos;
                });
            });
            if (!clash)
                break;
        }
        node n;
        std::string h;
        mime::fold("Content-Type", "multipart/" + std::string(subtype) + "; boundary=\"" + boundary + "\"", h);
        h += "\r\n";
        mime::append_text(n.segs, h);
        for (auto& c : children) {
            mime::append_text(n.segs, "--" + boundary + "\r\n");
            for (auto& s : c.segs) {
                if (s.stream)
                    n.segs.push_back(std::move(s));
                else
                    mime::append_text(n.segs, s.text);
            }
            mime::append_text(n.segs, "\r\n");
        }
        mime::append_text(n.segs, "--" + boundary + "--");
        return n;
    }

    std::vector<mime::segment> serialise() const
    {
        unsigned counter = 0;
        std::vector<node> body;
        std::optional<node> html;
        if (html_) {
            html = text_node(*html_, "html");
            if (!embedded_.empty()) {
                std::vector<node> related;
                related.push_back(std::move(*html));
                for (const auto& [a, id] : embedded_)
                    related.push_back(attachment_node(a, &id));
                html = multipart("related", std::move(related), counter);
            }
        }
        if (text_ && html) {
            std::vector<node> alt;
            alt.push_back(text_node(*text_, "plain"));
            alt.push_back(std::move(*html));
            body.push_back(multipart("alternative", std::move(alt), counter));
        } else if (html) {
            body.push_back(std::move(*html));
        } else if (text_ || (attachments_.empty() && embedded_.empty())) {
            body.push_back(text_node(text_ ? *text_ : text_body{"", "utf-8"}, "plain"));
        }
        std::vector<node> mixed = std::move(body);
        if (!html_)
            for (const auto& [a, id] : embedded_)
                mixed.push_back(attachment_node(a, &id));
        for (const auto& a : attachments_)
            mixed.push_back(attachment_node(a, nullptr));
        node root = mixed.size() == 1 ? std::move(mixed.front()) : multipart("mixed", std::move(mixed), counter);

        std::vector<mime::segment> segs;
        mime::append_text(segs, top_headers());
        for (auto& s : root.segs) {
            if (s.stream)
                segs.push_back(std::move(s));
            else
                mime::append_text(segs, s.text);
        }
        // The message ends with a line end.
        if (segs.back().stream || segs.back().text.size() < 2 ||
            segs.back().text.compare(segs.back().text.size() - 2, 2, "\r\n") != 0)
            mime::append_text(segs, "\r\n");
        return segs;
    }

    std::mt19937_64 rng_;
    std::string token_, boundary_token_; ///< Message-ID's and the boundaries' random parts
    std::optional<mailbox> from_, reply_to_;
    std::vector<mailbox> to_, cc_, bcc_; // bcc_: the envelope's only
    std::optional<std::string> subject_;
    std::chrono::system_clock::time_point date_;
    std::string message_id_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::optional<text_body> text_, html_;
    std::vector<part_ptr> attachments_;
    std::vector<std::pair<part_ptr, std::string>> embedded_;
};

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/dkim.hpp
///
/// DKIM signing's sans-I/O part (RFC 6376, RFC 8463): the canonicalisations,
/// the streaming body hash, the choice and canonicalisation of the signed
/// headers, and the DKIM-Signature header's text. No OpenSSL here: SHA-256
/// comes in through the dkim::sha256_hash concept, and the signature itself
/// (RSA or Ed25519 over the SHA-256 of the header data) is the caller's
/// (smtp/dkim.hpp does both with OpenSSL).
///
/// ```
///   smtp::dkim::message_digest<my_sha256> d(options, smtp::dkim::algorithm::ed25519_sha256);
///   d.update(chunk);  ...                 // the message, in pieces of any size
///   if (auto ec = d.finish(now)) ...      // dkim_invalid_message: no From, a broken header line
///   auto header = d.signature_header(my_sign(d.header_digest())); // "DKIM-Signature: ...\r\n"
/// ```
///
/// What is signed is what the server receives. The DATA encoder turns CRLF,
/// a bare LF and a bare CR each into CRLF and ends an open last line with
/// CRLF; the server takes the dot-stuffing off again. So the message is read
/// here with the same line ends: a file with bare LF lines and its CRLF copy
/// sign alike, and their signatures hold for what arrives.
#ifndef SMTP_PROTOCOL_DKIM_HPP
#define SMTP_PROTOCOL_DKIM_HPP

#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN
namespace dkim {

/// c= (RFC 6376 3.4): simple keeps the bytes; relaxed forgives whitespace
/// changes and header name case on the way.
enum class canonicalization { simple, relaxed };

/// a= (RFC 6376 3.3, RFC 8463 3): both sign the SHA-256 of the header data.
enum class algorithm { rsa_sha256, ed25519_sha256 };

constexpr std::string_view to_string(canonicalization c) noexcept
{
    return c == canonicalization::simple ? "simple" : "relaxed";
}
constexpr std::string_view to_string(algorithm a) noexcept
{
    return a == algorithm::rsa_sha256 ? "rsa-sha256" : "ed25519-sha256";
}

/// An incremental SHA-256: default-constructible, update() any number of
/// times, finish() once.
template <class H>
concept sha256_hash = std::default_initializable<H> && requires(H h, std::string_view s) {
    h.update(s);
    { h.finish() } -> std::same_as<std::array<unsigned char, 32>>;
};

/// What a signature says and covers.
struct sign_options {
    std::string domain;   ///< d=, the signing domain
    std::string selector; ///< s=, the key's name under d=: the key is in the TXT record SELECTOR._domainkey.DOMAIN
    canonicalization header_canonicalization = canonicalization::relaxed;
    canonicalization body_canonicalization = canonicalization::relaxed;
    /// h=: the header names to sign, in any case; empty: default_headers.
    /// From is always signed (RFC 6376 5.4), added when missing.
    std::vector<std::string> headers{};
    /// Signed once more than the message has them (an empty instance, RFC
    /// 6376 5.4.2), so that nobody can add one on the way and keep the
    /// signature: From, To and Subject by default.
    std::vector<std::string> oversign{"From", "To", "Subject"};
    /// l=: the length of the body signed. Off by default: with it, anyone on
    /// the way may append to the body without breaking the signature.
    bool body_length = false;
    std::string identity{}; ///< i=, the agent or user (@DOMAIN or a subdomain's); empty: none
    /// t=: the time of signing (seconds since 1970); none: now, from the caller.
    std::optional<std::int64_t> time{};
    bool timestamp = true;     ///< write t= at all
    std::int64_t expire_after = 0; ///< x= = t= + this many seconds; 0: no x=
};

/// The headers signed when sign_options::headers is empty, those the message has.
inline const std::vector<std::string_view>& default_headers()
{
    static const std::vector<std::string_view> h{
        "From",       "Sender",       "Reply-To",     "Subject",      "Date",
        "Message-ID", "To",           "Cc",           "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "Content-ID", "Content-Description", "In-Reply-To", "References",
        "List-Id",    "List-Unsubscribe", "List-Unsubscribe-Post"};
    return h;
}

namespace detail {

inline bool is_wsp(char c) noexcept { return c == ' ' || c == '\t'; }

inline char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequal(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

/// A header name RFC 5322 2.2 allows (printable ASCII but ':').
inline bool valid_field_name(std::string_view n) noexcept
{
    if (n.empty())
        return false;
    for (char c : n)
        if (c <= ' ' || c >= 127 || c == ':')
            return false;
    return true;
}

/// A tag value with no ';', whitespace or control byte (d=, s=, i=).
inline bool valid_tag_text(std::string_view v) noexcept
{
    for (char c : v)
        if (static_cast<unsigned char>(c) <= ' ' || c == ';' || c == 127)
            return false;
    return true;
}

} // namespace detail

/// Why these options cannot sign anything, for a person; empty when they can.
inline std::string options_problem(const sign_options& o)
{
    if (o.domain.empty() || !detail::valid_tag_text(o.domain))
        return "DKIM: the domain (d=) is empty or has a space, ';' or control byte";
    if (o.selector.empty() || !detail::valid_tag_text(o.selector))
        return "DKIM: the selector (s=) is empty or has a space, ';' or control byte";
    if (!detail::valid_tag_text(o.identity))
        return "DKIM: the identity (i=) has a space, ';' or control byte";
    if (!o.identity.empty()) {
        const auto at = o.identity.rfind('@');
        if (at == std::string::npos)
            return "DKIM: the identity (i=) has no '@'";
        const std::string_view d = std::string_view(o.identity).substr(at + 1);
        const std::string_view dom = o.domain;
        const bool sub = d.size() > dom.size() && d[d.size() - dom.size() - 1] == '.' &&
                         detail::iequal(d.substr(d.size() - dom.size()), dom);
        if (!detail::iequal(d, dom) && !sub)
            return "DKIM: the identity's domain (i=) is not the domain (d=) or a subdomain of it (RFC 6376 3.5)";
    }
    for (const auto& h : o.headers)
        if (!detail::valid_field_name(h))
            return "DKIM: '" + h + "' is not a header name";
    for (const auto& h : o.oversign)
        if (!detail::valid_field_name(h))
            return "DKIM: '" + h + "' is not a header name";
    if (o.expire_after < 0)
        return "DKIM: expire_after is negative";
    if (o.expire_after > 0 && !o.timestamp)
        return "DKIM: x= (expire_after) needs t= (timestamp)";
    if (o.time && *o.time < 0)
        return "DKIM: the time (t=) is negative";
    return {};
}

/// One header field of the message: its name and its whole text, folded
/// lines and the CRLF that ends it included.
struct header_field {
    std::string_view name;
    std::string_view text;
};

/// The fields of a header block (CRLF line ends, no blank line); a line that
/// is neither a continuation nor "name:" is errc::dkim_invalid_message.
inline std::vector<header_field> parse_header_block(std::string_view block, error_code& ec)
{
    std::vector<header_field> out;
    std::size_t at = 0;
    while (at < block.size()) {
        std::size_t end = at;
        for (;;) { // to the end of the field: past lines that start with WSP
            const std::size_t eol = block.find("\r\n", end);
            end = eol == std::string_view::npos ? block.size() : eol + 2;
            if (end >= block.size() || !detail::is_wsp(block[end]))
                break;
        }
        const std::string_view text = block.substr(at, end - at);
        const std::size_t colon = text.find(':');
        const std::size_t eol = text.find("\r\n");
        if (colon == std::string_view::npos || (eol != std::string_view::npos && colon > eol) ||
            detail::is_wsp(text[0])) {
            ec = errc::dkim_invalid_message;
            return {};
        }
        std::string_view name = text.substr(0, colon);
        while (!name.empty() && detail::is_wsp(name.back()))
            name.remove_suffix(1);
        if (!detail::valid_field_name(name)) {
            ec = errc::dkim_invalid_message;
            return {};
        }
        out.push_back({name, text});
        at = end;
    }
    ec = {};
    return out;
}

/// Appends one header field canonicalised (RFC 6376 3.4.1, 3.4.2) to `out`.
/// `text` is the field as it is sent ("Name: value\r\n", folded or not);
/// simple keeps it, relaxed makes it "name:value\r\n" with the name in lower
/// case, the folds undone, each run of WSP one space, and none at the ends
/// of the value. A text without its CRLF (the DKIM-Signature field being
/// signed) comes out without one too.
inline void canonicalize_header(canonicalization c, std::string_view text, std::string& out)
{
    if (c == canonicalization::simple) {
        out += text;
        return;
    }
    const bool crlf = text.size() >= 2 && text.substr(text.size() - 2) == "\r\n";
    if (crlf)
        text.remove_suffix(2);
    const std::size_t colon = text.find(':');
    std::string_view name = text.substr(0, colon);
    while (!name.empty() && detail::is_wsp(name.back()))
        name.remove_suffix(1);
    for (char ch : name)
        out += detail::lower(ch);
    out += ':';
    bool space = false, started = false;
    for (std::size_t i = colon + 1; i < text.size(); ++i) {
        const char ch = text[i];
        if (ch == '\r' || ch == '\n' || detail::is_wsp(ch)) {
            space = true;
            continue;
        }
        if (space && started)
            out += ' ';
        space = false;
        started = true;
        out += ch;
    }
    if (crlf)
        out += "\r\n";
}

/// The h= list for a message: the names asked for (or default_headers())
/// that the message has, each as many times as it has it, one more time for
/// the over-signed ones (which are listed even when absent), From first.
/// errc::dkim_invalid_message when the message has no From.
inline std::vector<std::string> choose_headers(const std::vector<header_field>& fields, const sign_options& o,
                                               error_code& ec)
{
    std::vector<std::string_view> wanted{"From"};
    auto add = [&wanted](std::string_view n) {
        for (auto w : wanted)
            if (detail::iequal(w, n))
                return;
        wanted.push_back(n);
    };
    if (o.headers.empty())
        for (auto n : default_headers())
            add(n);
    else
        for (const auto& n : o.headers)
            add(n);
    for (const auto& n : o.oversign)
        add(n);
    std::vector<std::string> out;
    for (auto w : wanted) {
        std::size_t count = 0;
        for (const auto& f : fields)
            count += detail::iequal(f.name, w) ? 1 : 0;
        if (detail::iequal(w, "From") && count == 0) {
            ec = errc::dkim_invalid_message;
            return {};
        }
        bool over = false;
        for (const auto& n : o.oversign)
            over = over || detail::iequal(n, w);
        const bool asked = !o.headers.empty() || over;
        const std::size_t times = count + (over ? 1 : 0) + (count == 0 && asked && !over ? 1 : 0);
        for (std::size_t i = 0; i < times; ++i)
            out.emplace_back(w);
    }
    ec = {};
    return out;
}

/// The header data a signature covers (RFC 6376 3.7, 5.4.2): for each name
/// of h=, the last instance not yet used, canonicalised (nothing when none
/// is left), then the DKIM-Signature field as written with an empty b=, no
/// CRLF after it. What the algorithm signs is its SHA-256.
inline std::string header_data(const std::vector<header_field>& fields, const std::vector<std::string>& h,
                               canonicalization c, std::string_view signature_field_without_b)
{
    std::string out;
    std::vector<bool> used(fields.size(), false);
    for (const auto& name : h) {
        for (std::size_t i = fields.size(); i-- > 0;) {
            if (!used[i] && detail::iequal(fields[i].name, name)) {
                used[i] = true;
                canonicalize_header(c, fields[i].text, out);
                break;
            }
        }
    }
    canonicalize_header(c, signature_field_without_b, out);
    return out;
}

/// The body canonicalisation (RFC 6376 3.4.3, 3.4.4) as a stream. It is fed
/// the body with its line ends already made CRLF, as events: text (no CR or
/// LF in it) and line ends; it writes the canonical body to `sink` in blocks
/// of up to 4 KiB. Trailing empty lines are held back until text follows.
template <class Sink>
class body_canonicalizer {
public:
    body_canonicalizer(canonicalization c, Sink sink) : relaxed_(c == canonicalization::relaxed), sink_(std::move(sink))
    {}

    void text(const char* p, std::size_t n)
    {
        if (!relaxed_) {
            open_line();
            put(p, n);
            return;
        }
        std::size_t i = 0;
        while (i < n) {
            if (!line_open_) { // WSP before the first other octet: one space, if the line has more
                while (i < n && detail::is_wsp(p[i])) {
                    wsp_ = true;
                    ++i;
                }
                if (i == n)
                    return;
                open_line();
            }
            // Straight into the buffer: each octet writes at most two.
            char* out = buf_.data() + used_;
            char* const limit = buf_.data() + buf_.size() - 1;
            for (; i < n && out < limit; ++i) {
                const char c = p[i];
                if (c == ' ' || c == '\t') {
                    wsp_ = true;
                    continue;
                }
                if (wsp_) {
                    *out++ = ' ';
                    wsp_ = false;
                }
                *out++ = c;
            }
            used_ = static_cast<std::size_t>(out - buf_.data());
            if (out >= limit)
                flush();
        }
    }
    void line_end()
    {
        wsp_ = false;
        if (line_open_) {
            put("\r\n", 2);
            line_open_ = false;
        } else {
            ++empty_lines_;
        }
    }
    /// Ends the body: an open line gets its CRLF; an empty body is CRLF for
    /// simple, nothing for relaxed. Returns the canonical length.
    std::uint64_t finish()
    {
        wsp_ = false;
        if (line_open_)
            line_end();
        if (length_ == 0 && used_ == 0 && !relaxed_)
            put("\r\n", 2);
        flush();
        return length_;
    }

private:
    void open_line()
    {
        if (line_open_)
            return;
        for (; empty_lines_ > 0; --empty_lines_)
            put("\r\n", 2);
        line_open_ = true;
    }
    void put(const char* p, std::size_t n)
    {
        if (used_ + n > buf_.size()) {
            flush();
            if (n >= buf_.size()) {
                sink_(std::string_view(p, n));
                length_ += n;
                return;
            }
        }
        std::copy(p, p + n, buf_.data() + used_);
        used_ += n;
    }
    void flush()
    {
        if (used_ == 0)
            return;
        sink_(std::string_view(buf_.data(), used_));
        length_ += used_;
        used_ = 0;
    }

    bool relaxed_;
    Sink sink_;
    bool line_open_ = false, wsp_ = false;
    std::uint64_t empty_lines_ = 0, length_ = 0;
    std::size_t used_ = 0;
    std::array<char, 4096> buf_{};
};

/// One message on its way to a signature: feed it (update), end it (finish),
/// sign header_digest() with the key, and signature_header() is the field to
/// put in front of the message. The header block is kept (it is needed
/// whole at the end, and bounded by max_header_block); the body is hashed as
/// it comes and not kept.
template <sha256_hash H>
class message_digest {
public:
    /// The header block is at most this long (errc::header_block_too_long).
    static constexpr std::size_t max_header_block = 1024 * 1024;

    message_digest(sign_options o, algorithm a)
        : o_(std::move(o)), alg_(a), body_(o_.body_canonicalization, body_sink{&body_hash_})
    {}
    message_digest(message_digest&&) = delete; // body_ points at body_hash_

    /// The next piece of the message, as it is given to the library to send
    /// (CRLF or bare LF line ends, dot lines not stuffed).
    void update(std::string_view chunk)
    {
        const char* p = chunk.data();
        const std::size_t n = chunk.size();
        std::size_t i = 0;
        while (i < n) {
            const char c = p[i];
            if (cr_) {
                cr_ = false;
                if (c == '\n') {
                    line_end();
                    ++i;
                    continue;
                }
                line_end();
            }
            if (c == '\r') {
                cr_ = true;
                ++i;
                continue;
            }
            if (c == '\n') {
                line_end();
                ++i;
                continue;
            }
            // To the next CR or LF (memchr: the bulk of a message is here).
            const void* lf = std::memchr(p + i, '\n', n - i);
            std::size_t run = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - p) : n;
            if (const void* cr = std::memchr(p + i, '\r', run - i))
                run = static_cast<std::size_t>(static_cast<const char*>(cr) - p);
            text(p + i, run - i);
            i = run;
        }
    }

    /// After the last piece: reads the headers, chooses h=, hashes. `now`
    /// is t= when sign_options::time is not set.
    error_code finish(std::int64_t now)
    {
        if (cr_) {
            cr_ = false;
            line_end();
        }
        if (!in_body_ && line_length_ > 0) { // a last header line without its line end: the encoder ends it
            header_ += "\r\n";
            line_length_ = 0;
        }
        if (too_long_)
            return errc::header_block_too_long;
        const std::uint64_t length = body_.finish();
        const auto bh = body_hash_.finish();
        error_code ec;
        fields_ = parse_header_block(header_, ec);
        if (ec)
            return ec;
        h_ = choose_headers(fields_, o_, ec);
        if (ec)
            return ec;
        unsigned_ = field_text(base64::encode(std::string_view(reinterpret_cast<const char*>(bh.data()), bh.size())),
                               length, o_.time.value_or(now));
        H h;
        h.update(header_data(fields_, h_, o_.header_canonicalization, unsigned_));
        digest_ = h.finish();
        return {};
    }

    /// What the key signs: the SHA-256 of the header data (RFC 6376 3.7;
    /// for Ed25519 RFC 8463 3: the PureEdDSA signature of these 32 octets).
    const std::array<unsigned char, 32>& header_digest() const noexcept { return digest_; }
    /// The h= list chosen (for tests and logs).
    const std::vector<std::string>& signed_headers() const noexcept { return h_; }
    /// The DKIM-Signature field up to and with "b=" (what the digest covers).
    const std::string& unsigned_field() const noexcept { return unsigned_; }

    /// The whole field with the signature's octets, folded, ending in CRLF.
    std::string signature_header(std::string_view signature) const
    {
        const std::string b = base64::encode(signature);
        std::string out = unsigned_;
        std::size_t col = out.size() - (out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
        std::size_t at = 0;
        while (at < b.size()) {
            if (col >= 76) {
                out += "\r\n\t";
                col = 1;
            }
            const std::size_t take = std::min(b.size() - at, 76 - col);
            out.append(b, at, take);
            at += take;
            col += take;
        }
        out += "\r\n";
        return out;
    }

private:
    struct body_sink {
        H* h;
        void operator()(std::string_view s) const { h->update(s); }
    };

    void text(const char* p, std::size_t n)
    {
        if (in_body_) {
            body_.text(p, n);
            return;
        }
        if (header_.size() + n > max_header_block) {
            too_long_ = true;
            return;
        }
        header_.append(p, n);
        line_length_ += n;
    }
    void line_end()
    {
        if (in_body_) {
            body_.line_end();
            return;
        }
        if (line_length_ == 0) { // the blank line: the body starts after it
            in_body_ = true;
            return;
        }
        if (header_.size() + 2 > max_header_block)
            too_long_ = true;
        else
            header_ += "\r\n";
        line_length_ = 0;
    }

    /// The DKIM-Signature field up to "b=", folded before 78 columns.
    std::string field_text(const std::string& bh, std::uint64_t length, std::int64_t t) const
    {
        std::string out = "DKIM-Signature:";
        std::size_t col = out.size();
        auto piece = [&out, &col](std::string_view s, bool space) {
            const std::size_t need = s.size() + (space ? 1 : 0);
            if (col + need > 77) {
                out += "\r\n\t";
                col = 1;
            } else if (space) {
                out += ' ';
                ++col;
            }
            out += s;
            col += s.size();
        };
        auto tag = [&piece](std::string_view name, std::string_view value) {
            std::string s(name);
            s += '=';
            s += value;
            s += ';';
            piece(s, true);
        };
        tag("v", "1");
        tag("a", to_string(alg_));
        tag("c", std::string(to_string(o_.header_canonicalization)) + "/" +
                     std::string(to_string(o_.body_canonicalization)));
        tag("d", o_.domain);
        tag("s", o_.selector);
        if (!o_.identity.empty())
            tag("i", o_.identity);
        if (o_.timestamp) {
            tag("t", std::to_string(t));
            if (o_.expire_after > 0)
                tag("x", std::to_string(t + o_.expire_after));
        }
        if (o_.body_length)
            tag("l", std::to_string(length));
        for (std::size_t i = 0; i < h_.size(); ++i) // h=, folded after a ':' where needed
            piece((i == 0 ? "h=" : "") + h_[i] + (i + 1 == h_.size() ? ";" : ":"), i == 0);
        tag("bh", bh);
        piece("b=", true);
        return out;
    }

    sign_options o_;
    algorithm alg_;
    H body_hash_{};
    body_canonicalizer<body_sink> body_;
    std::string header_;
    std::size_t line_length_ = 0;
    bool cr_ = false, in_body_ = false, too_long_ = false;
    std::vector<header_field> fields_;
    std::vector<std::string> h_;
    std::string unsigned_;
    std::array<unsigned char, 32> digest_{};
};

} // namespace dkim

/// A step that signs a message on its way out: given the message as it is
/// handed to the library, it returns header fields (CRLF-ended) to put in
/// front of it, or throws. A dkim::signer (smtp/dkim.hpp) is one; the pool
/// (pool_options::sign) and session::send_all take one.
using message_signer = std::function<std::string(std::string_view message)>;

SMTP_NAMESPACE_END

#endif

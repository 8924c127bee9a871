/// \file smtp/protocol/mta_sts.hpp
///
/// MTA-STS (RFC 8461) without I/O: the rules, the parsers, the cache and the
/// per-host decision. The HTTPS fetch is smtp/mta_sts.hpp.
/// ```
///   mta_sts::select_record(txt, ec)       the _mta-sts TXT records -> the id (3.1)
///   mta_sts::parse_policy(body, ec)       the policy file -> mta_sts::policy (3.2)
///   mta_sts::mx_matches(pattern, host)    MX host matching (4.1)
///   mta_sts::response_reader              the HTTP/1.1 response of the fetch (3.3)
///   mta_sts::policy_cache                 policies by domain, max_age, the TXT id (3.3, 5.1)
///   mta_sts::decide(policy, mx_hosts)     per MX host: skip, or TLS required and verified (5)
/// ```
/// What MTA-STS protects against: a man in the middle who strips STARTTLS
/// or presents a certificate of his own, or who forges MX records, once a
/// policy in `enforce` mode is in the cache. What it does not: the first
/// contact (no cached policy: whoever controls DNS can hide the TXT record
/// and block the fetch, and the sender delivers as if there were no policy),
/// nor a CA that issues a certificate it should not.
#ifndef SMTP_PROTOCOL_MTA_STS_HPP
#define SMTP_PROTOCOL_MTA_STS_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace mta_sts {

/// What went wrong in MTA-STS discovery, fetch or validation. Values are
/// stable; 0 is never used.
enum class errc {
    // --- The _mta-sts TXT record (RFC 8461 3.1) ----------------------------
    no_record = 1,          ///< no TXT record begins with "v=STSv1;": the domain has no policy
    several_records,        ///< more than one does: treated as no policy
    record_syntax,          ///< the record is not `v=STSv1; id=...; [ext=value;]...`
    record_id_missing,      ///< the record has no id field
    record_id_invalid,      ///< the id is not 1 to 32 letters and digits

    // --- The policy file (RFC 8461 3.2) ------------------------------------
    policy_syntax,          ///< a line is not `key: value`, or holds a control byte
    policy_version_missing, ///< no version field
    policy_version_invalid, ///< the version is not STSv1
    policy_mode_missing,    ///< no mode field
    policy_mode_invalid,    ///< the mode is not enforce, testing or none
    policy_max_age_missing, ///< no max_age field
    policy_max_age_invalid, ///< max_age is not 1 to 10 digits
    policy_mx_missing,      ///< no mx field (and the mode is not none)
    policy_mx_invalid,      ///< an mx pattern is not a domain, or `*.` and a domain

    // --- The HTTPS fetch (RFC 8461 3.3) ------------------------------------
    domain_invalid,         ///< the policy domain is not a DNS name (checked before a byte is sent)
    http_redirect,          ///< the server answered 3xx: redirects are never followed
    http_status,            ///< the server answered another status than 200
    http_content_type,      ///< the media type is not text/plain
    http_body_too_large,    ///< the body is longer than fetch_options::max_body
    http_response_invalid,  ///< not an HTTP/1.x response, a bad header, a truncated body
    fetch_timeout,          ///< the fetch took longer than fetch_options::timeout

    // --- Validation of an MX host (RFC 8461 4, 5) --------------------------
    mx_not_in_policy,       ///< the MX host matches none of the policy's mx patterns
    starttls_not_offered,   ///< the MX host does not offer STARTTLS
};

namespace detail {
class category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "smtp.mta_sts"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::no_record: return "no _mta-sts TXT record begins with v=STSv1; (RFC 8461 3.1)";
        case errc::several_records: return "several _mta-sts TXT records begin with v=STSv1; (RFC 8461 3.1)";
        case errc::record_syntax: return "the _mta-sts TXT record is malformed (RFC 8461 3.1)";
        case errc::record_id_missing: return "the _mta-sts TXT record has no id (RFC 8461 3.1)";
        case errc::record_id_invalid:
            return "the _mta-sts TXT record's id is not 1 to 32 letters and digits (RFC 8461 3.1)";
        case errc::policy_syntax: return "a line of the MTA-STS policy is not 'key: value' (RFC 8461 3.2)";
        case errc::policy_version_missing: return "the MTA-STS policy has no version (RFC 8461 3.2)";
        case errc::policy_version_invalid: return "the MTA-STS policy's version is not STSv1 (RFC 8461 3.2)";
        case errc::policy_mode_missing: return "the MTA-STS policy has no mode (RFC 8461 3.2)";
        case errc::policy_mode_invalid:
            return "the MTA-STS policy's mode is not enforce, testing or none (RFC 8461 3.2)";
        case errc::policy_max_age_missing: return "the MTA-STS policy has no max_age (RFC 8461 3.2)";
        case errc::policy_max_age_invalid: return "the MTA-STS policy's max_age is not 1 to 10 digits (RFC 8461 3.2)";
        case errc::policy_mx_missing: return "the MTA-STS policy has no mx pattern (RFC 8461 3.2)";
        case errc::policy_mx_invalid: return "an mx pattern of the MTA-STS policy is not a domain name (RFC 8461 3.2)";
        case errc::domain_invalid: return "the MTA-STS policy domain is not a DNS name";
        case errc::http_redirect:
            return "the MTA-STS policy server answered with a redirect, which is not followed (RFC 8461 3.3)";
        case errc::http_status: return "the MTA-STS policy server did not answer 200 (RFC 8461 3.3)";
        case errc::http_content_type: return "the MTA-STS policy is not served as text/plain (RFC 8461 3.2)";
        case errc::http_body_too_large: return "the MTA-STS policy is longer than the size limit";
        case errc::http_response_invalid: return "the MTA-STS policy server's answer is not a valid HTTP/1.1 response";
        case errc::fetch_timeout: return "the MTA-STS policy fetch timed out";
        case errc::mx_not_in_policy: return "the MX host matches no mx pattern of the MTA-STS policy (RFC 8461 4.1)";
        case errc::starttls_not_offered: return "the MX host does not offer STARTTLS, which the MTA-STS policy requires";
        }
        return "unknown MTA-STS error";
    }
};
} // namespace detail

/// The category of smtp::mta_sts::errc.
inline const boost::system::error_category& error_category() noexcept
{
    static const detail::category_impl cat;
    return cat;
}
inline error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }
inline std::ostream& operator<<(std::ostream& os, errc e) { return os << make_error_code(e).message(); }

/// The longest max_age (RFC 8461 3.2: "maximum value of 31557600", a year).
inline constexpr std::uint32_t max_age_limit = 31557600;

namespace detail {
inline bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
inline bool is_wsp(char c) noexcept { return c == ' ' || c == '\t'; }
inline char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
inline std::string lowered(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}
inline bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}
inline std::string_view trim_wsp(std::string_view s) noexcept
{
    while (!s.empty() && is_wsp(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back()))
        s.remove_suffix(1);
    return s;
}
/// An extension name of the record and the policy (RFC 8461 3.1, 3.2):
/// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
inline bool is_extension_name(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 32 || !is_alnum(s.front()))
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; });
}
/// The host name without one trailing dot, lower-cased.
inline std::string normal_host(std::string_view host)
{
    if (!host.empty() && host.back() == '.')
        host.remove_suffix(1);
    return lowered(host);
}
} // namespace detail

/// Whether s is a DNS host name (RFC 1123 labels: letters, digits and
/// hyphens, 1 to 63 bytes, no hyphen at either end; at most 253 bytes in
/// all; one trailing dot allowed). Addresses are not names.
inline bool is_domain_name(std::string_view s) noexcept
{
    if (!s.empty() && s.back() == '.')
        s.remove_suffix(1);
    if (s.empty() || s.size() > 253)
        return false;
    bool all_digits_last = false;
    while (true) {
        const auto dot = s.find('.');
        const std::string_view label = s.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        if (!std::all_of(label.begin(), label.end(), [](char c) { return detail::is_alnum(c) || c == '-'; }))
            return false;
        all_digits_last = std::all_of(label.begin(), label.end(), detail::is_digit);
        if (dot == std::string_view::npos)
            break;
        s.remove_prefix(dot + 1);
    }
    return !all_digits_last; // 192.0.2.1 is an address; a top-level label is never all digits
}

// --- 3.1: the TXT record --------------------------------------------------

/// A parsed `_mta-sts` TXT record: what a sender keeps of it is the id.
struct record {
    std::string id; ///< 1 to 32 letters and digits: a new id means a new policy
};

/// Parses one `_mta-sts` TXT record (its strings joined without spaces, RFC
/// 8461 3.1): `v=STSv1` first, then `;`-separated fields, one of them
/// `id=` with 1 to 32 letters and digits; unknown fields are ignored (their
/// names and values still checked), a second id too (the first one counts).
inline std::optional<record> parse_record(std::string_view txt, error_code& ec)
{
    ec = {};
    constexpr std::string_view version = "v=STSv1";
    if (!txt.starts_with(version)) {
        ec = make_error_code(errc::record_syntax);
        return std::nullopt;
    }
    std::string_view rest = txt.substr(version.size());
    std::optional<std::string> id;
    bool any_field = false;
    while (true) {
        rest = detail::trim_wsp(rest);
        if (rest.empty())
            break;
        if (rest.front() != ';') {
            ec = make_error_code(errc::record_syntax);
            return std::nullopt;
        }
        rest = detail::trim_wsp(rest.substr(1));
        if (rest.empty()) // a trailing ';'
            break;
        const auto end = rest.find(';');
        const std::string_view field = detail::trim_wsp(rest.substr(0, end));
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
        const auto eq = field.find('=');
        if (eq == std::string_view::npos) {
            ec = make_error_code(errc::record_syntax);
            return std::nullopt;
        }
        const std::string_view name = field.substr(0, eq), value = field.substr(eq + 1);
        if (name == "id") {
            if (value.empty() || value.size() > 32 || !std::all_of(value.begin(), value.end(), detail::is_alnum)) {
                ec = make_error_code(errc::record_id_invalid);
                return std::nullopt;
            }
            if (!id)
                id = std::string(value);
        } else {
            // sts-ext-value: 1*(%x21-3A / %x3C / %x3E-7E): no '=', ';', space or control byte.
            const bool value_ok = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
                return c >= 0x21 && c <= 0x7e && c != '=' && c != ';';
            });
            if (!detail::is_extension_name(name) || !value_ok) {
                ec = make_error_code(errc::record_syntax);
                return std::nullopt;
            }
        }
        any_field = true;
    }
    if (!any_field || !id) {
        ec = make_error_code(any_field ? errc::record_id_missing : errc::record_syntax);
        return std::nullopt;
    }
    return record{std::move(*id)};
}

/// The policy record among all the TXT records at `_mta-sts.DOMAIN` (RFC
/// 8461 3.1): those that do not begin with "v=STSv1;" are discarded; none
/// left (errc::no_record), more than one (errc::several_records) or a
/// malformed one mean the domain has no available policy.
inline std::optional<record> select_record(std::span<const std::string> txt_records, error_code& ec)
{
    ec = {};
    const std::string* found = nullptr;
    for (const auto& r : txt_records) {
        if (!r.starts_with("v=STSv1;"))
            continue;
        if (found) {
            ec = make_error_code(errc::several_records);
            return std::nullopt;
        }
        found = &r;
    }
    if (!found) {
        ec = make_error_code(errc::no_record);
        return std::nullopt;
    }
    return parse_record(*found, ec);
}

// --- 3.2: the policy ------------------------------------------------------

/// What a sender does when a host fails validation (RFC 8461 5).
enum class mode {
    none,    ///< as if the domain had no policy
    testing, ///< deliver anyway, and report the failure
    enforce, ///< never deliver to a host that fails MX matching, STARTTLS or the certificate check
};

/// MX host matching (RFC 8461 4.1): the pattern is a domain name, or "*."
/// and a domain name, where "*" stands for exactly one left-most label
/// ("*.example.com" matches "mx.example.com", not "example.com" nor
/// "a.b.example.com"). Case-insensitive; one trailing dot on either is
/// ignored.
inline bool mx_matches(std::string_view pattern, std::string_view host)
{
    const std::string p = detail::normal_host(pattern), h = detail::normal_host(host);
    if (p.empty() || h.empty())
        return false;
    if (!p.starts_with("*."))
        return p == h;
    const std::string_view suffix = std::string_view(p).substr(1); // ".example.com"
    if (h.size() <= suffix.size() || !h.ends_with(suffix))
        return false;
    const std::string_view label = std::string_view(h).substr(0, h.size() - suffix.size());
    return label.find_first_of(".*") == std::string_view::npos; // one label, and not a wildcard itself
}

/// An MTA-STS policy (RFC 8461 3.2).
struct policy {
    mta_sts::mode mode = mta_sts::mode::none;
    std::vector<std::string> mx{}; ///< the mx patterns, lower-cased, without a trailing dot
    std::uint32_t max_age = 0;     ///< seconds the policy may be cached, at most max_age_limit

    /// Whether host matches one of the mx patterns (mx_matches).
    bool matches(std::string_view host) const
    {
        return std::any_of(mx.begin(), mx.end(), [&](const std::string& p) { return mx_matches(p, host); });
    }

    friend bool operator==(const policy&, const policy&) = default;
};

/// Parses a policy file (RFC 8461 3.2): `key: value` lines ended by LF or
/// CRLF (the last one may end without); `version: STSv1`, `mode`, `max_age`
/// (1 to 10 digits; above max_age_limit it is cut to the limit, which is
/// what the text caps) and one or more `mx` (none needed with mode none);
/// unknown keys ignored; a known key other than mx given twice: the first
/// counts. Empty lines are skipped. Case matters in keys and values.
inline std::optional<policy> parse_policy(std::string_view body, error_code& ec)
{
    ec = {};
    std::optional<std::string_view> version, mode_text, max_age_text;
    std::vector<std::string> mx;
    auto fail = [&](errc e) -> std::optional<policy> {
        ec = make_error_code(e);
        return std::nullopt;
    };
    while (!body.empty()) {
        const auto lf = body.find('\n');
        std::string_view line = body.substr(0, lf);
        body = lf == std::string_view::npos ? std::string_view{} : body.substr(lf + 1);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty())
            continue;
        if (std::any_of(line.begin(), line.end(), [](char c) {
                const auto u = static_cast<unsigned char>(c);
                return (u < 0x20 && c != '\t') || u == 0x7f;
            }))
            return fail(errc::policy_syntax);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            return fail(errc::policy_syntax);
        const std::string_view key = line.substr(0, colon);
        const std::string_view value = detail::trim_wsp(line.substr(colon + 1));
        if (!detail::is_extension_name(key))
            return fail(errc::policy_syntax);
        if (key == "version") {
            if (!version)
                version = value;
        } else if (key == "mode") {
            if (!mode_text)
                mode_text = value;
        } else if (key == "max_age") {
            if (!max_age_text)
                max_age_text = value;
        } else if (key == "mx") {
            const std::string_view domain = value.starts_with("*.") ? value.substr(2) : value;
            if (!is_domain_name(domain) || domain.ends_with('.'))
                return fail(errc::policy_mx_invalid);
            mx.push_back(detail::lowered(value));
        }
    }
    if (!version)
        return fail(errc::policy_version_missing);
    if (*version != "STSv1")
        return fail(errc::policy_version_invalid);
    policy p;
    if (!mode_text)
        return fail(errc::policy_mode_missing);
    if (*mode_text == "enforce")
        p.mode = mode::enforce;
    else if (*mode_text == "testing")
        p.mode = mode::testing;
    else if (*mode_text == "none")
        p.mode = mode::none;
    else
        return fail(errc::policy_mode_invalid);
    if (!max_age_text)
        return fail(errc::policy_max_age_missing);
    if (max_age_text->empty() || max_age_text->size() > 10 ||
        !std::all_of(max_age_text->begin(), max_age_text->end(), detail::is_digit))
        return fail(errc::policy_max_age_invalid);
    std::uint64_t age = 0;
    for (char c : *max_age_text)
        age = age * 10 + static_cast<std::uint64_t>(c - '0');
    p.max_age = static_cast<std::uint32_t>(std::min<std::uint64_t>(age, max_age_limit));
    if (mx.empty() && p.mode != mode::none)
        return fail(errc::policy_mx_missing);
    p.mx = std::move(mx);
    return p;
}

// --- 3.3: the fetch's request and response --------------------------------

/// The policy host of a domain: "mta-sts." and the domain, lower-cased,
/// without a trailing dot (RFC 8461 3.3); empty when the domain is not a
/// DNS name, or the host name would be longer than 253 bytes.
inline std::string policy_host(std::string_view domain)
{
    if (!is_domain_name(domain))
        return {};
    std::string host = "mta-sts." + detail::normal_host(domain);
    return host.size() <= 253 ? host : std::string{};
}

/// The fetch's request (RFC 8461 3.3): GET /.well-known/mta-sts.txt over
/// HTTP/1.1, Host the policy host (with the port when it is not 443), and
/// Connection: close, so that the server may end the body by closing.
inline std::string policy_request(std::string_view host, std::uint16_t port)
{
    std::string r = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: ";
    r += host;
    if (port != 443) {
        r += ':';
        r += std::to_string(port);
    }
    r += "\r\nUser-Agent: smtp/" SMTP_VERSION_STRING "\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
    return r;
}

/// Reads the HTTP/1.1 response to policy_request(), incrementally: a 200
/// only (3xx: errc::http_redirect, never followed; others errc::http_status,
/// RFC 8461 3.3), Content-Type text/plain (parameters allowed; RFC 8461 3.2),
/// a body delimited by Content-Length, by chunked transfer coding or by the
/// end of the connection, and at most max_body bytes of it. Each check
/// fails as soon as the bytes that decide it are in, so that a large or
/// endless answer is not read to its end. A response with both
/// Content-Length and Transfer-Encoding is refused (RFC 9112 6.3 lets a
/// client do so; it is how responses are smuggled).
class response_reader {
public:
    enum class state { need_more, done, failed };

    explicit response_reader(std::size_t max_body = 64 * 1024, std::size_t max_head = 16 * 1024)
        : max_body_(max_body), max_head_(max_head)
    {}

    /// Feeds the next bytes. Returns done once the body is complete (the
    /// bytes after it are ignored), failed with error() set.
    state put(std::string_view bytes)
    {
        if (state_ != state::need_more)
            return state_;
        buf_.append(bytes);
        return advance();
    }

    /// The connection ended: a body delimited by the close is complete;
    /// anything else is truncated (errc::http_response_invalid).
    state finish()
    {
        if (state_ != state::need_more)
            return state_;
        if (phase_ == phase::body_close) {
            body_.append(buf_);
            buf_.clear();
            if (body_.size() > max_body_)
                return fail(errc::http_body_too_large);
            state_ = state::done;
            return state_;
        }
        return fail(errc::http_response_invalid);
    }

    state current() const noexcept { return state_; }
    error_code error() const noexcept { return ec_; }
    /// The status code once the status line is in (0 before).
    int status() const noexcept { return status_; }
    /// The Location header of a redirect, for a message.
    const std::string& location() const noexcept { return location_; }
    /// The Content-Type header's value, for a message.
    const std::string& content_type() const noexcept { return content_type_; }
    /// The body, once done.
    const std::string& body() const noexcept { return body_; }

private:
    enum class phase { head, body_length, body_close, chunk_size, chunk_data, chunk_data_end, trailers };

    state fail(errc e)
    {
        ec_ = make_error_code(e);
        state_ = state::failed;
        return state_;
    }

    /// The next line of buf_ from pos_ (CRLF or LF ended), or nullopt when
    /// it has not all come in.
    std::optional<std::string_view> next_line()
    {
        const auto lf = buf_.find('\n', pos_);
        if (lf == std::string::npos)
            return std::nullopt;
        std::string_view line(buf_.data() + pos_, lf - pos_);
        pos_ = lf + 1;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        return line;
    }

    void consume()
    {
        buf_.erase(0, pos_);
        pos_ = 0;
    }

    state head_done()
    {
        if (status_ >= 300 && status_ < 400)
            return fail(errc::http_redirect);
        if (status_ != 200)
            return fail(errc::http_status);
        if (!text_plain_)
            return fail(errc::http_content_type);
        if (chunked_ && length_)
            return fail(errc::http_response_invalid);
        if (length_ && *length_ > max_body_)
            return fail(errc::http_body_too_large);
        phase_ = chunked_ ? phase::chunk_size : length_ ? phase::body_length : phase::body_close;
        return state::need_more;
    }

    state header(std::string_view line)
    {
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            return fail(errc::http_response_invalid);
        const std::string_view name = line.substr(0, colon);
        if (std::any_of(name.begin(), name.end(), [](char c) { return c <= ' ' || c == 0x7f; }))
            return fail(errc::http_response_invalid);
        const std::string_view value = detail::trim_wsp(line.substr(colon + 1));
        if (detail::iequals(name, "content-type")) {
            content_type_ = std::string(value.substr(0, 200));
            const std::string_view type = detail::trim_wsp(value.substr(0, value.find(';')));
            text_plain_ = detail::iequals(type, "text/plain");
        } else if (detail::iequals(name, "content-length")) {
            if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), detail::is_digit))
                return fail(errc::http_response_invalid);
            const std::size_t n = std::stoull(std::string(value));
            if (length_ && *length_ != n)
                return fail(errc::http_response_invalid);
            length_ = n;
        } else if (detail::iequals(name, "transfer-encoding")) {
            if (!detail::iequals(value, "chunked")) // the only coding a server may send unasked
                return fail(errc::http_response_invalid);
            chunked_ = true;
        } else if (detail::iequals(name, "location")) {
            location_ = std::string(value);
        }
        return state::need_more;
    }

    state advance()
    {
        while (true) {
            switch (phase_) {
            case phase::head: {
                auto line = next_line();
                if (!line) {
                    if (buf_.size() > max_head_)
                        return fail(errc::http_response_invalid);
                    return state::need_more;
                }
                if (pos_ > max_head_)
                    return fail(errc::http_response_invalid);
                if (status_ == 0) {
                    // HTTP/1.x SP 3DIGIT SP reason
                    if (line->size() < 12 || !line->starts_with("HTTP/1.") || !detail::is_digit((*line)[7]) ||
                        (*line)[8] != ' ' || !std::all_of(line->begin() + 9, line->begin() + 12, detail::is_digit) ||
                        (line->size() > 12 && (*line)[12] != ' '))
                        return fail(errc::http_response_invalid);
                    status_ = std::stoi(std::string(line->substr(9, 3)));
                    if (status_ < 100)
                        return fail(errc::http_response_invalid);
                    continue;
                }
                if (line->empty()) {
                    consume();
                    if (status_ >= 100 && status_ < 200) { // an interim response: the real one follows
                        status_ = 0;
                        text_plain_ = chunked_ = false;
                        length_.reset();
                        location_.clear();
                        content_type_.clear();
                        continue;
                    }
                    if (head_done() == state::failed)
                        return state_;
                    continue;
                }
                if (is_wsp(line->front())) // obsolete line folding (RFC 9112 5.2)
                    return fail(errc::http_response_invalid);
                if (header(*line) == state::failed)
                    return state_;
                continue;
            }
            case phase::body_length: {
                const std::size_t want = *length_ - body_.size();
                const std::size_t take = std::min(want, buf_.size());
                body_.append(buf_, 0, take);
                buf_.erase(0, take);
                if (body_.size() == *length_) {
                    state_ = state::done;
                    return state_;
                }
                return state::need_more;
            }
            case phase::body_close:
                if (body_.size() + buf_.size() > max_body_)
                    return fail(errc::http_body_too_large);
                body_.append(buf_);
                buf_.clear();
                return state::need_more;
            case phase::chunk_size: {
                auto line = next_line();
                if (!line)
                    return buf_.size() > 1024 ? fail(errc::http_response_invalid) : state::need_more;
                const std::string_view hex = detail::trim_wsp(line->substr(0, line->find(';')));
                if (hex.empty() || hex.size() > 8)
                    return fail(errc::http_response_invalid);
                std::size_t n = 0;
                for (char c : hex) {
                    const int d = is_digit(c) ? c - '0' : (lower(c) >= 'a' && lower(c) <= 'f') ? lower(c) - 'a' + 10 : -1;
                    if (d < 0)
                        return fail(errc::http_response_invalid);
                    n = n * 16 + static_cast<std::size_t>(d);
                }
                consume();
                if (n == 0) {
                    phase_ = phase::trailers;
                    continue;
                }
                if (body_.size() + n > max_body_)
                    return fail(errc::http_body_too_large);
                chunk_left_ = n;
                phase_ = phase::chunk_data;
                continue;
            }
            case phase::chunk_data: {
                const std::size_t take = std::min(chunk_left_, buf_.size());
                body_.append(buf_, 0, take);
                buf_.erase(0, take);
                chunk_left_ -= take;
                if (chunk_left_ != 0)
                    return state::need_more;
                phase_ = phase::chunk_data_end;
                continue;
            }
            case phase::chunk_data_end: {
                auto line = next_line();
                if (!line)
                    return buf_.size() > 2 ? fail(errc::http_response_invalid) : state::need_more;
                if (!line->empty())
                    return fail(errc::http_response_invalid);
                consume();
                phase_ = phase::chunk_size;
                continue;
            }
            case phase::trailers: {
                auto line = next_line();
                if (!line)
                    return buf_.size() > max_head_ ? fail(errc::http_response_invalid) : state::need_more;
                consume();
                if (line->empty()) {
                    state_ = state::done;
                    return state_;
                }
                continue;
            }
            }
        }
    }

    static bool is_digit(char c) noexcept { return detail::is_digit(c); }
    static bool is_wsp(char c) noexcept { return detail::is_wsp(c); }
    static char lower(char c) noexcept { return detail::lower(c); }

    std::size_t max_body_, max_head_;
    std::string buf_{};
    std::size_t pos_ = 0;
    std::string body_{};
    std::string location_{};
    std::string content_type_{};
    phase phase_ = phase::head;
    state state_ = state::need_more;
    error_code ec_{};
    int status_ = 0;
    bool text_plain_ = false;
    bool chunked_ = false;
    std::optional<std::size_t> length_{};
    std::size_t chunk_left_ = 0;
};

// --- 3.3, 5.1: the cache --------------------------------------------------

/// The clock the cache reads: the system clock by default; a test passes
/// its own.
using clock_function = std::function<std::chrono::system_clock::time_point()>;

/// A policy in the cache, with the TXT id it was fetched under and when.
struct cached_policy {
    std::string id;
    mta_sts::policy policy;
    std::chrono::system_clock::time_point fetched;
    /// When max_age runs out.
    std::chrono::system_clock::time_point expires() const { return fetched + std::chrono::seconds(policy.max_age); }
};

/// What discovery does next for a domain (policy_cache::begin).
struct discovery_step {
    enum class action {
        use_cached, ///< the cached policy is in force (same id, or no usable TXT record)
        fetch,      ///< fetch the policy (no cached one, expired, or a new id), then fetched() or fetch_failed()
        no_policy,  ///< no usable TXT record and nothing cached: deliver as if the domain had no policy
    };
    action next = action::no_policy;
    std::string id{};      ///< the TXT record's id (fetch: store the policy under it)
    error_code txt_error{}; ///< why the TXT records gave no id (use_cached or no_policy)
};

/// Policies by domain (RFC 8461 3.3, 5.1). A policy is kept max_age
/// seconds from its fetch; a TXT record with another id than the cached
/// policy's asks for a fetch; while a cached policy is unexpired it stays in
/// force when the TXT lookup or the fetch fails (so that an attacker who
/// blocks them does not turn the policy off). Not thread-safe: one user at
/// a time.
class policy_cache {
public:
    policy_cache() : now_([] { return std::chrono::system_clock::now(); }) {}
    explicit policy_cache(clock_function now) : now_(std::move(now)) {}

    /// The first step for a domain: txt_records are the TXT strings found
    /// at `_mta-sts.DOMAIN` (each record's strings joined); lookup_error is
    /// the lookup's failure, if it failed (then txt_records are not read).
    discovery_step begin(std::string_view domain, std::span<const std::string> txt_records,
                         error_code lookup_error = {}) const
    {
        discovery_step step;
        const cached_policy* cached = find(domain);
        std::optional<record> rec;
        if (lookup_error)
            step.txt_error = lookup_error;
        else
            rec = select_record(txt_records, step.txt_error);
        if (!rec) {
            step.next = cached ? discovery_step::action::use_cached : discovery_step::action::no_policy;
            return step;
        }
        step.id = rec->id;
        step.next = cached && cached->id == rec->id ? discovery_step::action::use_cached : discovery_step::action::fetch;
        return step;
    }

    /// A fetch under TXT id `id` succeeded: p is cached from now, and is the
    /// policy in force.
    const cached_policy& fetched(std::string_view domain, std::string id, mta_sts::policy p)
    {
        auto& slot = entries_[detail::normal_host(domain)];
        slot = cached_policy{std::move(id), std::move(p), now_()};
        return slot;
    }

    /// A fetch failed: the cached policy while unexpired, else none (RFC
    /// 8461 3.3: then deliver as if the domain had no policy).
    const cached_policy* fetch_failed(std::string_view domain) const { return find(domain); }

    /// The unexpired cached policy of a domain, or nullptr.
    const cached_policy* find(std::string_view domain) const
    {
        const auto it = entries_.find(detail::normal_host(domain));
        if (it == entries_.end() || now_() >= it->second.expires())
            return nullptr;
        return &it->second;
    }

    /// Drops expired entries; returns how many are left.
    std::size_t prune()
    {
        const auto now = now_();
        std::erase_if(entries_, [&](const auto& e) { return now >= e.second.expires(); });
        return entries_.size();
    }

    std::size_t size() const noexcept { return entries_.size(); }
    std::chrono::system_clock::time_point now() const { return now_(); }

private:
    clock_function now_;
    std::map<std::string, cached_policy, std::less<>> entries_{};
};

// --- 4, 5: the per-host decision ------------------------------------------

/// What a policy asks of one MX host (RFC 8461 4, 5).
struct host_decision {
    std::string host{};                   ///< the MX host name, as given
    mta_sts::mode mode = mta_sts::mode::none; ///< of the policy in force (none: no policy)
    bool mx_matches = true;               ///< the host matches an mx pattern (true without a policy)
    /// Whether to try the host at all: false only under enforce for a host
    /// that matches no pattern (error: errc::mx_not_in_policy).
    bool allowed = true;
    /// enforce: STARTTLS required, the certificate verified (PKIX, for the
    /// MX host name, RFC 8461 4.2); nothing goes in clear.
    bool tls_required = false;
    /// enforce and testing: the certificate is checked for the MX host name;
    /// under testing a failure is reported, not fatal (after_tls()).
    bool verify_certificate = false;
    /// The failure to report: enforce and not allowed, or testing and no
    /// pattern matched (then the host is still tried).
    error_code failure{};

    /// After the TLS attempt with this host: proceed says whether delivery
    /// may go on, report what failed (a policy in testing mode reports and
    /// proceeds; enforce does not proceed). starttls_offered: the host's
    /// EHLO offered STARTTLS; handshake_error: the handshake's or the
    /// certificate check's failure (an x509_category code, say).
    struct tls_verdict {
        bool proceed = true;
        error_code report{};
    };
    tls_verdict after_tls(bool starttls_offered, error_code handshake_error) const
    {
        tls_verdict v;
        if (mode == mta_sts::mode::none)
            return v;
        if (!starttls_offered)
            v.report = make_error_code(errc::starttls_not_offered);
        else if (handshake_error)
            v.report = handshake_error;
        else if (failure)
            v.report = failure;
        v.proceed = !v.report || mode != mta_sts::mode::enforce;
        return v;
    }
};

/// The decision for one MX host under policy p (nullptr: no policy).
inline host_decision decide(const policy* p, std::string_view host)
{
    host_decision d;
    d.host = std::string(host);
    if (!p || p->mode == mode::none)
        return d;
    d.mode = p->mode;
    d.mx_matches = p->matches(host);
    d.verify_certificate = true;
    if (p->mode == mode::enforce) {
        d.allowed = d.mx_matches;
        d.tls_required = true;
    }
    if (!d.mx_matches)
        d.failure = make_error_code(errc::mx_not_in_policy);
    return d;
}

/// The decisions for a domain's MX hosts, in their order.
inline std::vector<host_decision> decide(const policy* p, std::span<const std::string> mx_hosts)
{
    std::vector<host_decision> out;
    out.reserve(mx_hosts.size());
    for (const auto& h : mx_hosts)
        out.push_back(decide(p, h));
    return out;
}

} // namespace mta_sts

SMTP_NAMESPACE_END

/// \cond
template <>
struct boost::system::is_error_code_enum<smtp::mta_sts::errc> : std::true_type {};
/// \endcond

#endif

// smtp/protocol/detail/validate.hpp
//
// Argument checks for command serialisers (RFC 5321 4.1.2, 4.5.3.1; RFC 6531).
// Each returns errc{} when the argument is fine, or the first problem found.
#ifndef SMTP_PROTOCOL_DETAIL_VALIDATE_HPP
#define SMTP_PROTOCOL_DETAIL_VALIDATE_HPP

#include <smtp/protocol/detail/scan.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <array>
#include <cstddef>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace detail {

constexpr bool is_alpha(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool is_digit_char(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit_char(c); }
constexpr bool is_8bit(char c) noexcept { return static_cast<unsigned char>(c) >= 0x80; }

constexpr char ascii_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? char(c - 32) : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_upper(a[i]) != ascii_upper(b[i]))
            return false;
    return true;
}

/// Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past U+10FFFF.
constexpr bool is_valid_utf8(std::string_view s) noexcept
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else
            return false;
        if (i + n >= s.size())
            return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (d < l || d > h)
                return false;
        }
        i += n + 1;
    }
    return true;
}

/// Control bytes, then 8-bit bytes: the checks every argument gets.
constexpr errc check_text(std::string_view s, bool utf8) noexcept
{
    bool eight = false;
    for (char c : s) {
        if (is_control(static_cast<unsigned char>(c)))
            return errc::control_character;
        eight |= is_8bit(c);
    }
    if (eight) {
        if (!utf8)
            return errc::non_ascii_without_smtputf8;
        if (!is_valid_utf8(s))
            return errc::invalid_utf8;
    }
    return {};
}

/// Domain (RFC 5321 4.1.2) or address literal. Underscores are let through in
/// labels, as real host names carry them; U-labels only with SMTPUTF8.
constexpr errc check_domain(std::string_view d, bool utf8) noexcept
{
    if (d.empty())
        return errc::empty_argument;
    if (const errc e = check_text(d, utf8); e != errc{})
        return e;
    if (d.size() > 255)
        return errc::domain_too_long;
    if (d.front() == '[') {
        if (d.size() < 3 || d.back() != ']')
            return errc::invalid_domain;
        for (char c : d.substr(1, d.size() - 2))
            if (c == '[' || c == ']' || c == '\\' || c == ' ' || is_8bit(c))
                return errc::invalid_domain;
        return {};
    }
    std::size_t label = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
        const char c = d[i];
        if (c == '.') {
            if (label == 0)
                return errc::invalid_domain;
            label = 0;
            continue;
        }
        if (!(is_alnum(c) || c == '-' || c == '_' || is_8bit(c)))
            return errc::invalid_domain;
        if (++label > 63)
            return errc::invalid_domain;
    }
    // A trailing dot (root) is not used in SMTP.
    return label == 0 ? errc::invalid_domain : errc{};
}

/// RFC 5322 atext, as a 128-entry table (one load a character).
inline constexpr auto atext_table = [] {
    std::array<bool, 128> t{};
    for (int c = 0; c < 128; ++c)
        t[static_cast<std::size_t>(c)] = is_alnum(static_cast<char>(c));
    for (char x : std::string_view("!#$%&'*+-/=?^_`{|}~"))
        t[static_cast<std::size_t>(x)] = true;
    return t;
}();

constexpr bool is_atext(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return u < 128 && atext_table[u];
}

/// Byte classes for the usual address (mailbox_is_plain): 1 an octet of a
/// dot-string local part (atext or '.'), 2 an octet of a domain label
/// (letter, digit, '-', '_'). Control and 8-bit octets are in neither.
inline constexpr auto mailbox_octet_table = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 128; ++c) {
        const char ch = static_cast<char>(c);
        if (atext_table[static_cast<std::size_t>(c)] || ch == '.')
            t[static_cast<std::size_t>(c)] |= 1;
        if (is_alnum(ch) || ch == '-' || ch == '_')
            t[static_cast<std::size_t>(c)] |= 2;
    }
    return t;
}();

/// True for the address almost every message carries: ASCII dot-string @
/// ASCII domain name, within the lengths. check_mailbox accepts every such
/// address, so it answers for them in one cheap pass; anything else (a
/// control or 8-bit octet, a quoted local part, an address literal, an
/// error) takes the full checks, which say precisely what is wrong.
constexpr bool mailbox_is_plain(std::string_view a) noexcept
{
    if (a.size() + 2 > 256)
        return false;
    // One pass. '@' is in neither class of the table, so the first '@' ends
    // the local part, and a second one fails the domain's octets.
    unsigned ok = 1;
    std::size_t at = 0;
    while (at < a.size() && a[at] != '@')
        ok &= mailbox_octet_table[static_cast<unsigned char>(a[at++])];
    if (at == a.size() || at == 0 || at > 64 || at + 1 == a.size())
        return false;
    // Each label 1 to 63 octets: checked where it ends (a dot, the end).
    std::size_t label = at + 1; // where the current label starts
    for (std::size_t i = at + 1; i < a.size(); ++i) {
        const auto c = static_cast<unsigned char>(a[i]);
        if (c == '.') {
            ok &= i - label - 1 < 63; // (an empty label wraps around: refused)
            label = i + 1;
        } else {
            ok &= (mailbox_octet_table[c] >> 1) & 1u;
        }
    }
    return ok && a.size() - label - 1 < 63;
}

/// check_mailbox without its fast path: every check, in order.
constexpr errc check_mailbox_fully(std::string_view a, bool utf8, bool allow_null, bool allow_postmaster) noexcept
{
    if (a.empty())
        return allow_null ? errc{} : errc::empty_argument;
    for (char c : a) {
        if (is_control(static_cast<unsigned char>(c)))
            return errc::control_character;
        if (c == '<' || c == '>')
            return errc::angle_bracket_in_address;
    }
    if (const errc e = check_text(a, utf8); e != errc{})
        return e;
    if (a.size() + 2 > 256)
        return errc::path_too_long;
    if (allow_postmaster && iequals(a, "postmaster"))
        return {};
    const auto at = a.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == a.size())
        return errc::address_syntax;
    const std::string_view local = a.substr(0, at), domain = a.substr(at + 1);
    if (local.size() > 64)
        return errc::local_part_too_long;
    if (domain.size() > 255)
        return errc::domain_too_long;
    if (local.front() == '"') {
        // Quoted-string: qtextSMTP / quoted-pairSMTP between DQUOTEs.
        if (local.size() < 2 || local.back() != '"')
            return errc::address_syntax;
        const std::string_view q = local.substr(1, local.size() - 2);
        for (std::size_t i = 0; i < q.size(); ++i) {
            if (q[i] == '\\') {
                if (++i == q.size())
                    return errc::address_syntax;
                continue;
            }
            if (q[i] == '"')
                return errc::address_syntax;
        }
    } else {
        // Dot-string (lenient about dot placement, as real mailboxes are).
        for (char c : local)
            if (!(is_atext(c) || c == '.' || is_8bit(c)))
                return errc::address_syntax;
    }
    const errc d = check_domain(domain, utf8);
    return d == errc::empty_argument ? errc::address_syntax : d;
}

/// A mailbox for MAIL FROM / RCPT TO, without the angle brackets.
/// `allow_null`: "" is the null reverse-path. `allow_postmaster`: bare
/// "Postmaster" (RFC 5321 4.1.1.3).
constexpr errc check_mailbox(std::string_view a, bool utf8, bool allow_null, bool allow_postmaster) noexcept
{
    return mailbox_is_plain(a) ? errc{} : check_mailbox_fully(a, utf8, allow_null, allow_postmaster);
}

/// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
constexpr bool is_esmtp_keyword(std::string_view k) noexcept
{
    if (k.empty() || !is_alnum(k.front()))
        return false;
    for (char c : k)
        if (!(is_alnum(c) || c == '-'))
            return false;
    return true;
}

/// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 with SMTPUTF8 (RFC 6531 3.3).
constexpr errc check_esmtp_value(std::string_view v, bool utf8) noexcept
{
    if (v.empty())
        return errc::invalid_parameter_value;
    if (const errc e = check_text(v, utf8); e != errc{})
        return e;
    for (char c : v)
        if (c == '=' || c == ' ')
            return errc::invalid_parameter_value;
    return {};
}

/// SASL mechanism name (RFC 4422 3.1): 1*20 of [A-Z0-9-_].
constexpr bool is_sasl_mechanism_name(std::string_view m) noexcept
{
    if (m.empty() || m.size() > 20)
        return false;
    for (char c : m)
        if (!((c >= 'A' && c <= 'Z') || is_digit_char(c) || c == '-' || c == '_'))
            return false;
    return true;
}

} // namespace detail
SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/xtext.hpp
///
/// The encodings of ESMTP parameter values: RFC 3461's xtext (ENVID, ORCPT,
/// and any extension that declares it) and RFC 6533's utf-8-addr-xtext.
#ifndef SMTP_PROTOCOL_XTEXT_HPP
#define SMTP_PROTOCOL_XTEXT_HPP

#include <smtp/version.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

/// RFC 3461 4's xtext: '+', '=' and octets outside '!'..'~' as "+XX".
inline void append_xtext(std::string_view s, std::string& out)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= '!' && c <= '~' && c != '+' && c != '=') {
            out.push_back(ch);
        } else {
            out.push_back('+');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
}

/// RFC 6533 4's utf-8-addr-xtext: '+', '=', '\', controls and every
/// non-ASCII character as "\x{HEX}" (its code point). `s` must be UTF-8.
inline void append_utf8_addr_xtext(std::string_view s, std::string& out)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= '!' && c <= '~' && c != '+' && c != '=' && c != '\\') {
            out.push_back(s[i++]);
            continue;
        }
        std::uint32_t cp = c;
        std::size_t n = 1;
        if (c >= 0xF0) cp = c & 0x07, n = 4;
        else if (c >= 0xE0) cp = c & 0x0F, n = 3;
        else if (c >= 0xC0) cp = c & 0x1F, n = 2;
        for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        i += n;
        char digits[8];
        int d = 0;
        do {
            digits[d++] = hex[cp & 15];
            cp >>= 4;
        } while (cp != 0 || d < 2);
        out.append("\\x{");
        while (d > 0)
            out.push_back(digits[--d]);
        out.push_back('}');
    }
}

SMTP_NAMESPACE_END

#endif

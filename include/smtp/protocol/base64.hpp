/// \file smtp/protocol/base64.hpp
///
/// RFC 4648 base64, as SMTP AUTH needs it (RFC 4954): encode client
/// responses, decode server challenges strictly (padding required, no
/// whitespace, no other alphabet).
#ifndef SMTP_PROTOCOL_BASE64_HPP
#define SMTP_PROTOCOL_BASE64_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace base64 {

constexpr std::size_t encoded_size(std::size_t n) noexcept { return (n + 2) / 3 * 4; }

/// Appends the base64 form of `in` to `out`.
inline void encode(std::string_view in, std::string& out)
{
    constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t n = in.size();
    std::size_t at = out.size();
    out.resize(at + encoded_size(n));
    char* o = out.data() + at;
    for (; n >= 3; n -= 3, p += 3) {
        const std::uint32_t v = (std::uint32_t(p[0]) << 16) | (std::uint32_t(p[1]) << 8) | p[2];
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (n) {
        const std::uint32_t v = (std::uint32_t(p[0]) << 16) | (n == 2 ? std::uint32_t(p[1]) << 8 : 0u);
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = n == 2 ? alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
}

inline std::string encode(std::string_view in)
{
    std::string out;
    encode(in, out);
    return out;
}

/// Appends the bytes that `in` encodes to `out`; errc::invalid_base64 and `out`
/// unchanged when `in` is not canonical padded base64.
inline void decode(std::string_view in, std::string& out, error_code& ec)
{
    constexpr auto table = [] {
        std::array<std::int8_t, 256> t{};
        for (auto& x : t)
            x = -1;
        constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; ++i)
            t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
        return t;
    }();
    ec = {};
    if (in.size() % 4 != 0) {
        ec = errc::invalid_base64;
        return;
    }
    const std::size_t at = out.size();
    for (std::size_t i = 0; i < in.size(); i += 4) {
        const bool final_quad = i + 4 == in.size();
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const unsigned char c = static_cast<unsigned char>(in[i + std::size_t(k)]);
            if (c == '=' && final_quad && k >= 2) {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad || table[c] < 0) {
                out.resize(at);
                ec = errc::invalid_base64;
                return;
            }
            v[k] = table[c];
        }
        const std::uint32_t w = (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) |
                                (std::uint32_t(v[2]) << 6) | std::uint32_t(v[3]);
        // Canonical form: the bits the padding hides must be zero.
        if ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF))) {
            out.resize(at);
            ec = errc::invalid_base64;
            return;
        }
        out.push_back(static_cast<char>(w >> 16));
        if (pad < 2)
            out.push_back(static_cast<char>((w >> 8) & 0xFF));
        if (pad < 1)
            out.push_back(static_cast<char>(w & 0xFF));
    }
}

} // namespace base64
SMTP_NAMESPACE_END

#endif

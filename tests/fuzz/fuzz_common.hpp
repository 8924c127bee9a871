// tests/fuzz/fuzz_common.hpp
//
// What the libFuzzer targets share: a reader that takes the settings a target
// needs off the front of the input (zero once the input runs out, so any
// input is a valid one), and FUZZ_CHECK, which reports a broken property
// and aborts (libFuzzer then saves the input as a crash).
#ifndef SMTP_TESTS_FUZZ_COMMON_HPP
#define SMTP_TESTS_FUZZ_COMMON_HPP

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace fuzz {

/// Reports a broken property and aborts: libFuzzer keeps the input.
[[noreturn]] inline void fail(const char* file, int line, const char* what, const std::string& detail)
{
    std::fprintf(stderr, "\n*** fuzz property broken at %s:%d: %s\n", file, line, what);
    if (!detail.empty())
        std::fprintf(stderr, "    %s\n", detail.c_str());
    std::fflush(stderr);
    std::abort();
}

/// The bytes of `s` as a C string literal: printable ASCII as it is, the rest escaped.
inline std::string quoted(std::string_view s, std::size_t max = 400)
{
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '"' || c == '\\')
            out += '\\', out += static_cast<char>(c);
        else if (c >= 0x20 && c < 0x7F)
            out += static_cast<char>(c);
        else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
            // A hex escape would swallow a following hex digit: split the literal.
            if (i + 1 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])))
                out += "\" \"";
        }
    }
    out += '"';
    if (s.size() > max)
        out += " ... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

/// Takes settings off the front of the input; zeros once it is used up.
class reader {
public:
    reader(const std::uint8_t* data, std::size_t size) noexcept
        : p_(reinterpret_cast<const char*>(data)), n_(size)
    {}

    std::uint8_t u8() noexcept
    {
        if (n_ == 0)
            return 0;
        --n_;
        return static_cast<std::uint8_t>(*p_++);
    }
    std::uint16_t u16() noexcept
    {
        const std::uint16_t lo = u8();
        return static_cast<std::uint16_t>(lo | (u8() << 8));
    }
    bool flag() noexcept { return (u8() & 1) != 0; }
    /// Up to n bytes.
    std::string_view bytes(std::size_t n) noexcept
    {
        if (n > n_)
            n = n_;
        const std::string_view s(p_, n);
        p_ += n;
        n_ -= n;
        return s;
    }
    /// One byte of length, then that many bytes.
    std::string_view counted() noexcept { return bytes(u8()); }
    std::string_view rest() noexcept { return bytes(n_); }
    std::size_t left() const noexcept { return n_; }
    bool empty() const noexcept { return n_ == 0; }

private:
    const char* p_;
    std::size_t n_;
};

/// A copy of `s` in a heap allocation of exactly its size, so that
/// AddressSanitizer reports a read one byte past its end.
class exact_copy {
public:
    explicit exact_copy(std::string_view s) : buf_(new char[s.empty() ? 1 : s.size()]), size_(s.size())
    {
        if (!s.empty())
            std::memcpy(buf_.get(), s.data(), s.size());
    }
    std::string_view view() const noexcept { return {buf_.get(), size_}; }

private:
    std::unique_ptr<char[]> buf_;
    std::size_t size_;
};

} // namespace fuzz

#define FUZZ_CHECK(cond, detail)                                                                                    \
    do {                                                                                                            \
        if (!(cond))                                                                                                \
            ::fuzz::fail(__FILE__, __LINE__, #cond, (detail));                                                      \
    } while (0)

#endif

/// \file smtp/protocol/reply.hpp
///
/// Replies as types (RFC 5321 4.2, RFC 3463):
/// ```
///   reply_code       a three-digit code, 200..599, with its class;
///   enhanced_status  class.subject.detail, when the reply text starts with one;
///   reply_view       a parsed reply viewing the bytes it was parsed from (no copy);
///   reply            an owning copy, for keeping a reply past its buffer (errors carry one).
/// ```
#ifndef SMTP_PROTOCOL_REPLY_HPP
#define SMTP_PROTOCOL_REPLY_HPP

#include <smtp/version.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// RFC 5321 4.2.1: the first digit of a reply code.
enum class reply_class : std::uint8_t {
    positive_completion = 2,
    positive_intermediate = 3,
    transient_negative = 4,
    permanent_negative = 5,
};

/// A reply code, 200..599 once it comes out of the parser.
class reply_code {
public:
    constexpr reply_code() noexcept = default;
    constexpr explicit reply_code(unsigned value) noexcept : value_(static_cast<std::uint16_t>(value)) {}

    constexpr unsigned value() const noexcept { return value_; }
    constexpr reply_class klass() const noexcept { return static_cast<reply_class>(value_ / 100); }
    constexpr bool is_positive() const noexcept { return value_ / 100 == 2; }
    constexpr bool is_intermediate() const noexcept { return value_ / 100 == 3; }
    constexpr bool is_transient() const noexcept { return value_ / 100 == 4; }
    constexpr bool is_permanent() const noexcept { return value_ / 100 == 5; }
    constexpr bool is_failure() const noexcept { return is_transient() || is_permanent(); }

    friend constexpr bool operator==(reply_code, reply_code) noexcept = default;
    friend constexpr bool operator==(reply_code a, unsigned b) noexcept { return a.value_ == b; }

    friend std::ostream& operator<<(std::ostream& os, reply_code c) { return os << c.value_; }

private:
    std::uint16_t value_ = 0;
};

/// RFC 3463 enhanced mail system status code: class.subject.detail.
struct enhanced_status {
    std::uint8_t klass = 0;    ///< 2, 4 or 5
    std::uint16_t subject = 0; ///< 0..999
    std::uint16_t detail = 0;  ///< 0..999

    friend constexpr bool operator==(const enhanced_status&, const enhanced_status&) noexcept = default;

    std::string to_string() const
    {
        return std::to_string(klass) + '.' + std::to_string(subject) + '.' + std::to_string(detail);
    }
    friend std::ostream& operator<<(std::ostream& os, const enhanced_status& s) { return os << s.to_string(); }
};

namespace detail {

/// Parses "c.s.d" at the start of `text`, followed by a space or the end, with c
/// equal to the reply code's first digit (RFC 3463 3.1, RFC 2034 4). Writes the
/// status and the number of bytes it took (without the space).
constexpr bool parse_enhanced_status(std::string_view text, unsigned code_class, enhanced_status& out,
                                     std::size_t& length) noexcept
{
    std::size_t i = 0;
    const auto number = [&](std::uint16_t& v, std::size_t max_digits) {
        std::size_t digits = 0;
        v = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < max_digits) {
            v = static_cast<std::uint16_t>(v * 10 + (text[i] - '0'));
            ++i;
            ++digits;
        }
        return digits > 0 && !(i < text.size() && text[i] >= '0' && text[i] <= '9');
    };
    if (text.size() < 5 || text[1] != '.')
        return false;
    const char c = text[0];
    if ((c != '2' && c != '4' && c != '5') || unsigned(c - '0') != code_class)
        return false;
    i = 2;
    std::uint16_t subject = 0, detail = 0;
    if (!number(subject, 3) || i >= text.size() || text[i] != '.')
        return false;
    ++i;
    if (!number(detail, 3))
        return false;
    if (i != text.size() && text[i] != ' ')
        return false;
    out = enhanced_status{static_cast<std::uint8_t>(c - '0'), subject, detail};
    length = i;
    return true;
}

/// The text of one raw reply line ("250-text\r\n" gives "text").
constexpr std::string_view line_text(std::string_view line_without_eol) noexcept
{
    return line_without_eol.size() > 4 ? line_without_eol.substr(4) : std::string_view{};
}

} // namespace detail

/// The lines of a reply, as the text after each line's code and separator.
/// A forward range over string_views into the reply's bytes.
class reply_lines {
public:
    class iterator {
    public:
        using value_type = std::string_view;
        using difference_type = std::ptrdiff_t;
        using iterator_category = std::forward_iterator_tag;
        using pointer = void;
        using reference = std::string_view;

        constexpr iterator() noexcept = default;
        constexpr iterator(std::string_view rest) noexcept : rest_(rest) { settle(); }

        constexpr std::string_view operator*() const noexcept { return detail::line_text(line_); }
        constexpr iterator& operator++() noexcept
        {
            rest_.remove_prefix(advance_);
            settle();
            return *this;
        }
        constexpr iterator operator++(int) noexcept
        {
            auto copy = *this;
            ++*this;
            return copy;
        }
        friend constexpr bool operator==(const iterator& a, const iterator& b) noexcept
        {
            return a.rest_.data() == b.rest_.data() && a.rest_.size() == b.rest_.size();
        }

    private:
        constexpr void settle() noexcept
        {
            const auto lf = rest_.find('\n');
            if (lf == std::string_view::npos) {
                line_ = rest_;
                advance_ = rest_.size();
                return;
            }
            advance_ = lf + 1;
            line_ = rest_.substr(0, (lf > 0 && rest_[lf - 1] == '\r') ? lf - 1 : lf);
        }
        std::string_view rest_{};
        std::string_view line_{};
        std::size_t advance_ = 0;
    };

    constexpr explicit reply_lines(std::string_view raw) noexcept : raw_(raw) {}
    constexpr iterator begin() const noexcept { return iterator(raw_); }
    constexpr iterator end() const noexcept { return iterator(raw_.substr(raw_.size())); }

private:
    std::string_view raw_;
};

/// A complete reply as the parser found it. Views the caller's buffer: valid
/// until those bytes are consumed or moved. No allocation.
class reply_view {
public:
    constexpr reply_view() noexcept = default;
    constexpr reply_view(reply_code code, std::string_view raw, std::size_t line_count) noexcept
        : raw_(raw), line_count_(static_cast<std::uint32_t>(line_count)), code_(code)
    {}

    constexpr reply_code code() const noexcept { return code_; }
    constexpr bool is_multiline() const noexcept { return line_count_ > 1; }
    constexpr std::size_t line_count() const noexcept { return line_count_; }
    /// The enhanced status code at the start of the first line's text, if
    /// any (read when asked: most replies are never asked).
    constexpr std::optional<enhanced_status> status() const noexcept
    {
        enhanced_status s;
        std::size_t length = 0;
        if (detail::parse_enhanced_status(front(), code_.value() / 100, s, length))
            return s;
        return std::nullopt;
    }
    /// The reply's bytes exactly as received, line ends included.
    constexpr std::string_view raw() const noexcept { return raw_; }
    /// The text of each line, without code, separator and line end.
    constexpr reply_lines lines() const noexcept { return reply_lines(raw_); }
    /// The first line's text.
    constexpr std::string_view front() const noexcept { return *lines().begin(); }

    /// The lines' text joined with '\n' (what smtplib calls the reply's Msg).
    std::string message() const
    {
        std::string out;
        out.reserve(raw_.size());
        for (auto l : lines()) {
            out.append(l);
            out.push_back('\n');
        }
        if (!out.empty())
            out.pop_back();
        return out;
    }

private:
    std::string_view raw_{};
    std::uint32_t line_count_ = 0;
    reply_code code_{};
};

/// An owning reply: what errors and results keep.
class reply {
public:
    reply() = default;
    explicit reply(const reply_view& v)
        : raw_(v.raw()), line_count_(static_cast<std::uint32_t>(v.line_count())), code_(v.code())
    {}
    /// Becomes a copy of `v`, in this reply's own storage (no temporary:
    /// a result's entries are filled so as their replies come).
    reply& assign(const reply_view& v)
    {
        raw_.assign(v.raw());
        line_count_ = static_cast<std::uint32_t>(v.line_count());
        code_ = v.code();
        return *this;
    }

    reply_code code() const noexcept { return code_; }
    bool is_multiline() const noexcept { return line_count_ > 1; }
    std::size_t line_count() const noexcept { return line_count_; }
    /// The enhanced status code at the start of the first line's text, if
    /// any (read when asked, as reply_view's: most replies are never asked).
    std::optional<enhanced_status> status() const noexcept { return view().status(); }
    std::string_view raw() const noexcept { return raw_; }
    reply_lines lines() const noexcept { return reply_lines(raw_); }
    std::string message() const { return view().message(); }
    reply_view view() const noexcept { return reply_view(code_, raw_, line_count_); }

    friend std::ostream& operator<<(std::ostream& os, const reply& r)
    {
        return os << r.code_ << ' ' << r.message();
    }

private:
    std::string raw_;
    std::uint32_t line_count_ = 0;
    reply_code code_{};
};

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/extensions.hpp
///
/// SMTP service extensions as types (RFC 5321 4.1.1.1, RFC 1869).
///
/// An extension type names its EHLO keyword and parses the keyword's
/// parameters into a value:
///
/// ```
///   struct my_extension {
///       static constexpr std::string_view keyword = "XFOO";
///       using value_type = ...;                              // what the parameters mean
///       static std::optional<value_type> parse(std::string_view params);  // nullopt: malformed
///       // optional: static void merge(value_type& into, value_type&& more);  // keyword seen twice
///   };
/// ```
///
/// Any such type can be added to a capability record (capabilities.hpp)
/// without touching the library.
#ifndef SMTP_PROTOCOL_EXTENSIONS_HPP
#define SMTP_PROTOCOL_EXTENSIONS_HPP

#include <smtp/protocol/detail/validate.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// The requirements on an extension type (see the file comment).
template <class E>
concept extension = requires(std::string_view params) {
    { E::keyword } -> std::convertible_to<std::string_view>;
    typename E::value_type;
    { E::parse(params) } -> std::same_as<std::optional<typename E::value_type>>;
};

namespace ext {

/// The value of an extension that is a keyword alone.
struct flag {
    friend constexpr bool operator==(flag, flag) noexcept { return true; }
};

namespace detail {
/// Keyword-only extensions: parameters, if a server sends any, are ignored.
template <class Derived>
struct keyword_only {
    using value_type = flag;
    static std::optional<flag> parse(std::string_view) noexcept { return flag{}; }
};
} // namespace detail

/// PIPELINING (RFC 2920).
struct pipelining : detail::keyword_only<pipelining> {
    static constexpr std::string_view keyword = "PIPELINING";
};
/// STARTTLS (RFC 3207).
struct starttls : detail::keyword_only<starttls> {
    static constexpr std::string_view keyword = "STARTTLS";
};
/// 8BITMIME (RFC 6152).
struct eightbitmime : detail::keyword_only<eightbitmime> {
    static constexpr std::string_view keyword = "8BITMIME";
};
/// SMTPUTF8 (RFC 6531).
struct smtputf8 : detail::keyword_only<smtputf8> {
    static constexpr std::string_view keyword = "SMTPUTF8";
};
/// CHUNKING (RFC 3030): BDAT.
struct chunking : detail::keyword_only<chunking> {
    static constexpr std::string_view keyword = "CHUNKING";
};
/// BINARYMIME (RFC 3030).
struct binarymime : detail::keyword_only<binarymime> {
    static constexpr std::string_view keyword = "BINARYMIME";
};
/// DSN (RFC 3461).
struct dsn : detail::keyword_only<dsn> {
    static constexpr std::string_view keyword = "DSN";
};
/// ENHANCEDSTATUSCODES (RFC 2034).
struct enhancedstatuscodes : detail::keyword_only<enhancedstatuscodes> {
    static constexpr std::string_view keyword = "ENHANCEDSTATUSCODES";
};
/// REQUIRETLS (RFC 8689).
struct requiretls : detail::keyword_only<requiretls> {
    static constexpr std::string_view keyword = "REQUIRETLS";
};
/// HELP (RFC 5321 4.1.1.8 names it; servers list it).
struct help : detail::keyword_only<help> {
    static constexpr std::string_view keyword = "HELP";
};

/// SIZE [n] (RFC 1870). The value is the announced maximum in octets; 0 means
/// the server announced no fixed maximum.
struct size {
    static constexpr std::string_view keyword = "SIZE";
    using value_type = std::uint64_t;
    static std::optional<std::uint64_t> parse(std::string_view params) noexcept
    {
        if (params.empty())
            return std::uint64_t{0};
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(params.data(), params.data() + params.size(), v);
        if (ec != std::errc{} || end != params.data() + params.size())
            return std::nullopt;
        return v;
    }
};

/// The SASL mechanisms a server offers, in the order it lists them,
/// upper-cased, without repeats.
class sasl_mechanisms {
public:
    sasl_mechanisms() = default;

    bool contains(std::string_view name) const noexcept
    {
        return std::any_of(names_.begin(), names_.end(),
                           [&](const std::string& n) { return smtp::detail::iequals(n, name); });
    }
    void add(std::string_view name)
    {
        if (!name.empty() && !contains(name)) {
            std::string n(name);
            for (char& c : n)
                c = smtp::detail::ascii_upper(c);
            names_.push_back(std::move(n));
        }
    }
    const std::vector<std::string>& names() const noexcept { return names_; }
    auto begin() const noexcept { return names_.begin(); }
    auto end() const noexcept { return names_.end(); }
    std::size_t size() const noexcept { return names_.size(); }
    bool empty() const noexcept { return names_.empty(); }

    friend bool operator==(const sasl_mechanisms&, const sasl_mechanisms&) = default;

private:
    std::vector<std::string> names_;
};

/// AUTH mech... (RFC 4954). Also read from the pre-standard "AUTH=mech..."
/// line that some servers still send; both lists are merged. A word that is
/// not a SASL mechanism name is skipped: the others stay usable.
struct auth {
    static constexpr std::string_view keyword = "AUTH";
    using value_type = sasl_mechanisms;
    static std::optional<sasl_mechanisms> parse(std::string_view params)
    {
        sasl_mechanisms m;
        while (!params.empty()) {
            const auto sp = params.find(' ');
            const auto word = params.substr(0, sp);
            if (!word.empty() && smtp::detail::is_sasl_mechanism_name(upper(word)))
                m.add(word);
            if (sp == std::string_view::npos)
                break;
            params.remove_prefix(sp + 1);
        }
        return m;
    }
    static void merge(sasl_mechanisms& into, sasl_mechanisms&& more)
    {
        for (const auto& n : more)
            into.add(n);
    }

private:
    static std::string upper(std::string_view w)
    {
        std::string s(w);
        for (char& c : s)
            c = smtp::detail::ascii_upper(c);
        return s;
    }
};

} // namespace ext

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/capabilities.hpp
///
/// The capability record: what a server said it supports in its EHLO (or
/// LHLO) reply, typed and untyped.
///
/// ```
///   auto caps = smtp::capabilities::from_ehlo(reply);      // reply: a 250 reply_view
///   caps.has<smtp::ext::pipelining>();                     // by type
///   caps.get<smtp::ext::size>();                           // optional<uint64_t>
///   caps.get<smtp::ext::auth>()->contains("PLAIN");
///   caps.has_extn("size");                                 // by keyword, as smtplib
///   caps.extn_params("size");                              // "33554432", as esmtp_features
/// ```
///
/// Every keyword is kept, known or not, with its parameters, in order.
/// A record over more extension types: smtp::capabilities_with<my_ext>.
#ifndef SMTP_PROTOCOL_CAPABILITIES_HPP
#define SMTP_PROTOCOL_CAPABILITIES_HPP

#include <smtp/protocol/detail/extension_map.hpp>
#include <smtp/protocol/detail/validate.hpp>
#include <smtp/protocol/diagnostics.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/version.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// One line of an EHLO reply after the first: its keyword (upper-cased) and
/// its parameters as sent.
struct ehlo_keyword {
    std::string keyword;
    std::string params;
    friend bool operator==(const ehlo_keyword&, const ehlo_keyword&) = default;
};

template <extension... Ext>
class basic_capabilities;

/// True when the capability record Caps has a typed slot for E.
template <class E, class Caps>
concept known_extension = extension<E> && Caps::template knows<E>;

template <extension... Ext>
class basic_capabilities {
    static_assert(detail::keywords_distinct<Ext...>(), "two extension types share an EHLO keyword");

public:
    template <class E>
    static constexpr bool knows = detail::contains_type<E, Ext...>;

    /// Calls `f.template operator()<E>()` for each extension type, in order
    /// (the transaction engine folds over them this way).
    template <class F>
    static constexpr void for_each_extension(F&& f)
    {
        (f.template operator()<Ext>(), ...);
    }

    basic_capabilities() = default;

    /// Builds the record from a 250 reply to EHLO or LHLO. Any other code
    /// gives errc::ehlo_reply_malformed. Lines that do not start with an
    /// ESMTP keyword are skipped (as smtplib does).
    static basic_capabilities from_ehlo(const reply_view& r, error_code& ec)
    {
        basic_capabilities caps;
        ec = {};
        if (r.code() != 250) {
            ec = errc::ehlo_reply_malformed;
            return caps;
        }
        bool first = true;
        for (std::string_view line : r.lines()) {
            if (first) {
                first = false;
                caps.server_name_ = std::string(line.substr(0, line.find(' ')));
                continue;
            }
            caps.add_line(line);
        }
        return caps;
    }

    /// The same server's offer in a record over other extension types: each
    /// keyword line read again, so that other's lines parse into this
    /// record's types (a user's extension among them).
    template <class... Other>
    static basic_capabilities from(const basic_capabilities<Other...>& other)
    {
        basic_capabilities caps;
        caps.server_name_ = std::string(other.server_name());
        std::string line;
        for (const auto& k : other.keywords()) {
            line.assign(k.keyword);
            if (!k.params.empty()) {
                line.push_back(' ');
                line.append(k.params);
            }
            caps.add_line(line);
        }
        return caps;
    }

    /// Throwing form.
    static basic_capabilities from_ehlo(const reply_view& r)
    {
        error_code ec;
        auto caps = from_ehlo(r, ec);
        if (ec)
            throw system_error(ec);
        return caps;
    }

    /// Does the server support E?
    template <class E>
        requires known_extension<E, basic_capabilities>
    bool has() const noexcept
    {
        return map_.template get<E>().has_value();
    }

    /// E's parsed parameters, or nullopt when the server does not support it.
    template <class E>
        requires known_extension<E, basic_capabilities>
    const std::optional<typename E::value_type>& get() const noexcept
    {
        return map_.template get<E>();
    }

    /// smtplib's has_extn: is this keyword listed (case-insensitive)?
    bool has_extn(std::string_view keyword) const noexcept { return find(keyword) != nullptr; }

    /// smtplib's esmtp_features[keyword]: the keyword's parameters.
    std::optional<std::string_view> extn_params(std::string_view keyword) const noexcept
    {
        if (const auto* k = find(keyword))
            return std::string_view(k->params);
        return std::nullopt;
    }

    /// Every keyword the server listed, known or not, in order.
    const std::vector<ehlo_keyword>& keywords() const noexcept { return keywords_; }

    /// The first word of the reply's first line: the server's name for itself.
    std::string_view server_name() const noexcept { return server_name_; }

    /// SIZE's announced maximum, when there is one (not for "SIZE" or "SIZE 0").
    std::optional<std::uint64_t> size_limit() const noexcept
        requires(knows<ext::size>)
    {
        const auto& s = get<ext::size>();
        if (s && *s != 0)
            return *s;
        return std::nullopt;
    }

private:
    const ehlo_keyword* find(std::string_view keyword) const noexcept
    {
        for (const auto& k : keywords_)
            if (detail::iequals(k.keyword, keyword))
                return &k;
        return nullptr;
    }

    void add_line(std::string_view line)
    {
        std::string_view keyword = line.substr(0, line.find(' '));
        std::string_view params =
            keyword.size() < line.size() ? line.substr(keyword.size() + 1) : std::string_view{};
        // Pre-standard "AUTH=PLAIN LOGIN": the same as "AUTH PLAIN LOGIN".
        if (keyword.size() > 5 && detail::iequals(keyword.substr(0, 5), "AUTH=")) {
            params = line.substr(5);
            keyword = keyword.substr(0, 4);
        }
        while (!params.empty() && params.front() == ' ')
            params.remove_prefix(1);
        while (!params.empty() && params.back() == ' ')
            params.remove_suffix(1);
        if (!detail::is_esmtp_keyword(keyword))
            return;
        map_.offer(keyword, params);
        for (auto& k : keywords_)
            if (detail::iequals(k.keyword, keyword)) {
                if (!params.empty()) {
                    if (!k.params.empty())
                        k.params.push_back(' ');
                    k.params.append(params);
                }
                return;
            }
        std::string upper(keyword);
        for (char& c : upper)
            c = detail::ascii_upper(c);
        keywords_.push_back({std::move(upper), std::string(params)});
    }

    detail::extension_map<Ext...> map_{};
    std::vector<ehlo_keyword> keywords_{};
    std::string server_name_{};
};

/// The record over the extensions this library knows, plus Extra... . The
/// order is the order of the MAIL parameters: SIZE, BODY, RET, ENVID,
/// REQUIRETLS, SMTPUTF8, then the extra extensions'.
template <extension... Extra>
using capabilities_with =
    basic_capabilities<ext::pipelining, ext::size, ext::starttls, ext::auth, ext::eightbitmime, ext::chunking,
                       ext::binarymime, ext::dsn, ext::enhancedstatuscodes, ext::requiretls, ext::smtputf8,
                       ext::help, Extra...>;

/// The record over the extensions this library knows.
using capabilities = capabilities_with<>;

/// The record over the built-ins and an extensions policy's types:
/// capabilities_for_t<smtp::extensions<my_ext>> is capabilities_with<my_ext>
/// (what a session with that policy can keep, so that get<my_ext>() works).
template <class Policy>
struct capabilities_for;
template <class... Extra>
struct capabilities_for<extensions<Extra...>> {
    using type = capabilities_with<Extra...>;
};
template <class Policy>
using capabilities_for_t = typename capabilities_for<Policy>::type;

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/extensions.hpp
///
/// SMTP service extensions as types (RFC 5321 4.1.1.1, RFC 1869).
///
/// An extension type names its EHLO keyword and parses the keyword's
/// parameters into a value. One that adds MAIL or RCPT parameters also
/// declares them and writes them; the transaction engine folds over the
/// extension types when it plans MAIL FROM and RCPT TO:
///
/// ```
///   struct my_extension {
///       static constexpr std::string_view keyword = "XFOO";
///       using value_type = ...;                              // what the EHLO parameters mean
///       static std::optional<value_type> parse(std::string_view params);  // nullopt: malformed
///       // optional: static void merge(value_type& into, value_type&& more);  // keyword seen twice
///
///       // optional, for MAIL and RCPT parameters (extension_parameters.hpp):
///       using request_type = ...;                            // what a message asks: send_options::set<E>(v)
///       static constexpr smtp::parameter_spec mail_params[] = {{"XFOO", 20}};  // keyword, allowance
///       static bool required(const smtp::mail_context&);     // true: refused when not offered
///                                                            // (may take mail_context& and refuse)
///       static constexpr smtp::errc not_offered = ...;       // default: errc::extension_not_offered
///       static constexpr std::string_view not_offered_field = ...;  // default: keyword
///       static void mail(smtp::mail_context&, const value_type& offered);   // only when offered
///       static constexpr smtp::parameter_spec rcpt_params[] = {...};
///       static void rcpt(smtp::rcpt_context&, const value_type& offered);   // each RCPT, when offered
///   };
/// ```
///
/// When required() says a message needs the extension and the server did
/// not offer it, the transaction is refused before a byte is sent, with
/// `not_offered` and the keyword as diagnostics::field(). mail() and rcpt()
/// write only the parameters they declared (the writer refuses others), and
/// may refuse too (m.refuse(errc, field)).
///
/// Any such type can be added to a capability record (capabilities.hpp) and
/// to a session's transactions (the smtp::extensions<...> policy) without
/// touching the library. The built-ins below own SIZE, BODY (8BITMIME and
/// BINARYMIME), DSN's RET, ENVID, NOTIFY and ORCPT, REQUIRETLS and SMTPUTF8;
/// PIPELINING and CHUNKING shape the engine itself.
#ifndef SMTP_PROTOCOL_EXTENSIONS_HPP
#define SMTP_PROTOCOL_EXTENSIONS_HPP

#include <smtp/protocol/detail/validate.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/extension_parameters.hpp>
#include <smtp/protocol/send_request.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
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

/// An extension that takes part in transactions: it has a mail() or rcpt()
/// hook, or a required() test; each hook with its declared parameters.
template <class E>
concept transaction_extension =
    extension<E> &&
    (requires(mail_context& m, const typename E::value_type& v) { E::mail(m, v); } ||
     requires(rcpt_context& r, const typename E::value_type& v) { E::rcpt(r, v); } ||
     requires(mail_context& m) { { E::required(m) } -> std::convertible_to<bool>; }) &&
    (!requires(mail_context& m, const typename E::value_type& v) { E::mail(m, v); } ||
     requires { std::span<const parameter_spec>(E::mail_params); }) &&
    (!requires(rcpt_context& r, const typename E::value_type& v) { E::rcpt(r, v); } ||
     requires { std::span<const parameter_spec>(E::rcpt_params); });

/// The policy kind of smtp::extensions<...> (smtp::policies<...>).
struct extensions_category {};

/// A session's extensions beyond the built-ins, as a policy:
/// `smtp::policies<smtp::extensions<my_ext>>`. Each message's MAIL and RCPT
/// are planned with them too, after the built-ins.
template <extension... Ext>
struct extensions {
    using policy_category = extensions_category;
};

namespace detail {
template <class P>
inline constexpr bool is_extensions_list = false;
template <class... Ext>
inline constexpr bool is_extensions_list<extensions<Ext...>> = true;
} // namespace detail

/// What policies<> checks of the extensions policy: an smtp::extensions<...>.
template <class P>
concept extensions_policy =
    std::same_as<typename P::policy_category, extensions_category> && detail::is_extensions_list<P>;

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
/// 8BITMIME (RFC 6152): BODY=8BITMIME when the message has 8-bit octets.
struct eightbitmime : detail::keyword_only<eightbitmime> {
    static constexpr std::string_view keyword = "8BITMIME";
    static constexpr parameter_spec mail_params[] = {{"BODY", 14}}; // RFC 6152 2
    static constexpr errc not_offered = errc::eightbitmime_not_offered;
    static constexpr std::string_view not_offered_field = "message";
    static bool required(const mail_context& m) noexcept { return !m.binary() && m.facts().eight_bit; }
    static void mail(mail_context& m, flag)
    {
        if (required(m))
            m.add("BODY", "8BITMIME");
    }
};
/// SMTPUTF8 (RFC 6531): declared when an address or the header section is
/// not ASCII.
struct smtputf8 : detail::keyword_only<smtputf8> {
    static constexpr std::string_view keyword = "SMTPUTF8";
    static constexpr parameter_spec mail_params[] = {{"SMTPUTF8", 10}}; // RFC 6531 3.4
    static constexpr errc not_offered = errc::smtputf8_not_offered;
    static std::string_view not_offered_field(const mail_context& m) noexcept
    {
        return m.facts().eight_bit_headers ? "message headers" : "address";
    }
    static bool required(const mail_context& m) noexcept { return m.smtputf8(); }
    static void mail(mail_context& m, flag)
    {
        if (m.smtputf8())
            m.add("SMTPUTF8");
    }
};
/// CHUNKING (RFC 3030): BDAT.
struct chunking : detail::keyword_only<chunking> {
    static constexpr std::string_view keyword = "CHUNKING";
};
/// BINARYMIME (RFC 3030): BODY=BINARYMIME for body_type::binary (which
/// needs CHUNKING too: the engine checks that).
struct binarymime : detail::keyword_only<binarymime> {
    static constexpr std::string_view keyword = "BINARYMIME";
    static constexpr parameter_spec mail_params[] = {{"BODY", 14}}; // RFC 3030 3, as RFC 6152
    static constexpr errc not_offered = errc::binarymime_not_offered;
    static constexpr std::string_view not_offered_field = "message";
    static bool required(const mail_context& m) noexcept { return m.binary(); }
    static void mail(mail_context& m, flag)
    {
        if (m.binary())
            m.add("BODY", "BINARYMIME");
    }
};
/// DSN (RFC 3461): RET and ENVID per message, NOTIFY and ORCPT per recipient.
struct dsn : detail::keyword_only<dsn> {
    static constexpr std::string_view keyword = "DSN";
    // RFC 3461 4: RET and ENVID add at most 110 octets to MAIL, NOTIFY and ORCPT 500 to RCPT.
    static constexpr parameter_spec mail_params[] = {{"RET", 8}, {"ENVID", 102, parameter_encoding::xtext}};
    static constexpr parameter_spec rcpt_params[] = {{"NOTIFY", 30}, {"ORCPT", 470}};
    static constexpr errc not_offered = errc::dsn_not_offered;

    static bool required(const mail_context& m) noexcept
    {
        const send_options& o = m.options();
        if (o.ret != smtp::dsn::ret::unset || !o.envid.empty())
            return true;
        for (const auto& t : m.recipients())
            if (t.notify != smtp::dsn::notify::unset || !t.original_recipient.empty())
                return true;
        return false;
    }
    static void mail(mail_context& m, flag)
    {
        const send_options& o = m.options();
        if (o.envid.size() > 100) // RFC 3461 4.4
            return m.refuse(errc::invalid_parameter_value, "ENVID");
        if (o.ret != smtp::dsn::ret::unset)
            m.add("RET", o.ret == smtp::dsn::ret::full ? "FULL" : "HDRS");
        if (!o.envid.empty())
            m.add("ENVID", o.envid);
    }
    static void rcpt(rcpt_context& r, flag)
    {
        using smtp::dsn::notify;
        const recipient& t = r.to();
        if (t.notify != notify::unset) {
            if (smtp::dsn::has(t.notify, notify::never) && t.notify != notify::never)
                return r.refuse(errc::invalid_parameter_value, "NOTIFY");
            char list[32];
            std::size_t n = 0;
            for (auto [bit, name] : {std::pair<notify, std::string_view>{notify::never, "NEVER"},
                                     {notify::success, "SUCCESS"},
                                     {notify::failure, "FAILURE"},
                                     {notify::delay, "DELAY"}})
                if (smtp::dsn::has(t.notify, bit)) {
                    if (n != 0)
                        list[n++] = ',';
                    n += name.copy(list + n, name.size());
                }
            r.add("NOTIFY", std::string_view(list, n));
        }
        if (!t.original_recipient.empty()) {
            const std::string& a = t.original_recipient;
            if (smtp::detail::check_text(a, true) != errc{} || !smtp::detail::is_valid_utf8(a))
                return r.refuse(errc::invalid_parameter_value, "ORCPT");
            std::string orcpt; // RFC 3461 4.2 and RFC 6533 3: addr-type ";" xtext
            if (std::any_of(a.begin(), a.end(), smtp::detail::is_8bit)) {
                orcpt = "utf-8;";
                append_utf8_addr_xtext(a, orcpt);
            } else {
                orcpt = "rfc822;";
                append_xtext(a, orcpt);
            }
            r.add("ORCPT", orcpt);
        }
    }
};
/// ENHANCEDSTATUSCODES (RFC 2034).
struct enhancedstatuscodes : detail::keyword_only<enhancedstatuscodes> {
    static constexpr std::string_view keyword = "ENHANCEDSTATUSCODES";
};
/// REQUIRETLS (RFC 8689): only on an encrypted session.
struct requiretls : detail::keyword_only<requiretls> {
    static constexpr std::string_view keyword = "REQUIRETLS";
    static constexpr parameter_spec mail_params[] = {{"REQUIRETLS", 11}}; // RFC 8689 4
    static constexpr errc not_offered = errc::requiretls_not_offered;
    /// Asked for on a session in clear: refused whatever the server offers.
    static bool required(mail_context& m) noexcept
    {
        if (m.options().requiretls && !m.encrypted())
            m.refuse(errc::requiretls_without_tls, keyword);
        return m.options().requiretls;
    }
    static void mail(mail_context& m, flag)
    {
        if (m.options().requiretls)
            m.add("REQUIRETLS");
    }
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

    static constexpr parameter_spec mail_params[] = {{"SIZE", 26}}; // RFC 1870 5
    /// Declares the message's size; refuses one over the announced maximum.
    static void mail(mail_context& m, std::uint64_t limit)
    {
        if (!m.size_known()) // a source read as it goes: its size is not known yet
            return;
        if (limit != 0 && m.facts().size > limit)
            return m.refuse(errc::message_too_large, "message");
        char digits[24];
        const auto r = std::to_chars(digits, digits + sizeof digits, m.facts().size);
        m.add("SIZE", std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
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
    /// MAIL's AUTH=mailbox (RFC 4954 5): the engine does not send it; a
    /// MAIL written step by step may (its line allowance is read from here).
    static constexpr parameter_spec mail_params[] = {{"AUTH", 500, parameter_encoding::xtext}};
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

/// \file smtp/protocol/commands.hpp
///
/// Commands as types (RFC 5321 4.1, 4.3.2; RFC 1869, 2033, 3030, 3207, 4954).
///
/// Each command is a small aggregate of string_views (nothing is copied until
/// it is serialised) with:
/// ```
///   name                 the verb, for logs and errors;
///   success/intermediate the reply codes that mean it worked (RFC 5321 4.3.2);
///   check()              argument validation: control bytes, lengths, syntax;
///   write_to(out)        appends the command line, CRLF included.
/// ```
/// serialize() runs check(), writes, enforces the command-line limit, and
/// leaves `out` exactly as it was when anything is wrong. classify() turns a
/// reply code into the command's outcome.
#ifndef SMTP_PROTOCOL_COMMANDS_HPP
#define SMTP_PROTOCOL_COMMANDS_HPP

#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/detail/validate.hpp>
#include <smtp/protocol/diagnostics.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/extension_parameters.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/version.hpp>

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

/// A set of reply codes (200..599), usable at compile time.
class code_set {
public:
    constexpr code_set() noexcept = default;
    constexpr code_set(std::initializer_list<unsigned> codes) noexcept
    {
        for (unsigned c : codes)
            if (c >= 200 && c < 600)
                bits_[(c - 200) / 64] |= std::uint64_t(1) << ((c - 200) % 64);
    }
    constexpr bool contains(reply_code c) const noexcept
    {
        const unsigned v = c.value();
        return v >= 200 && v < 600 && (bits_[(v - 200) / 64] >> ((v - 200) % 64)) & 1u;
    }
    constexpr bool empty() const noexcept
    {
        for (auto b : bits_)
            if (b)
                return false;
        return true;
    }

private:
    std::uint64_t bits_[7]{};
};

/// What a reply means for the command it answers.
enum class reply_outcome {
    success,           ///< one of the command's success codes
    intermediate,      ///< go on (354 to DATA, 334 to AUTH)
    transient_failure, ///< 4yz
    permanent_failure, ///< 5yz
    unexpected,        ///< a 2yz/3yz the command does not allow: a protocol violation
};

/// The outcome as an error: success and intermediate give no error.
constexpr errc outcome_error(reply_outcome o) noexcept
{
    switch (o) {
    case reply_outcome::transient_failure: return errc::transient_failure;
    case reply_outcome::permanent_failure: return errc::permanent_failure;
    case reply_outcome::unexpected: return errc::unexpected_reply;
    default: return {};
    }
}

/// The result of a command's check(): the problem, and which argument has it.
struct check_result {
    errc error{};
    std::string_view field{};
    constexpr explicit operator bool() const noexcept { return error != errc{}; }
};

/// Something the server answers with a reply: knows which codes mean success.
template <class T>
concept reply_expectation = requires(reply_code c) {
    { T::name } -> std::convertible_to<std::string_view>;
    { T::success.contains(c) } -> std::same_as<bool>;
    { T::intermediate.contains(c) } -> std::same_as<bool>;
};

/// A command: a reply expectation that validates and writes itself.
template <class T>
concept command = reply_expectation<T> && requires(const T& t, std::string& out) {
    { t.check() } -> std::same_as<check_result>;
    t.write_to(out);
    { T::max_line } -> std::convertible_to<std::size_t>;
};

template <reply_expectation C>
constexpr reply_outcome classify(reply_code c) noexcept
{
    if (C::success.contains(c))
        return reply_outcome::success;
    if (C::intermediate.contains(c))
        return reply_outcome::intermediate;
    if (c.is_transient())
        return reply_outcome::transient_failure;
    if (c.is_permanent())
        return reply_outcome::permanent_failure;
    return reply_outcome::unexpected;
}

/// True for commands whose arguments are secrets (a transcript masks them).
template <class C>
inline constexpr bool carries_secret = requires { requires C::carries_secret; };

/// An ESMTP parameter on MAIL or RCPT: KEYWORD or KEYWORD=value.
struct esmtp_param {
    std::string_view keyword;
    std::optional<std::string_view> value{};
};

namespace cmd {

/// RFC 5321 4.5.3.1.4: 512 octets with CRLF.
inline constexpr std::size_t default_max_line = 512;

/// Shared body of EHLO, HELO and LHLO.
template <class Derived>
struct greeting_command {
    std::string_view domain;

    static constexpr code_set success{250};
    static constexpr code_set intermediate{};
    static constexpr std::size_t max_line = default_max_line;

    constexpr check_result check() const noexcept
    {
        return {detail::check_domain(domain, false), Derived::field};
    }
    void write_to(std::string& out) const
    {
        out.append(Derived::name);
        out.push_back(' ');
        out.append(domain);
        out.append(std::string_view("\r\n"));
    }
};

/// EHLO domain (RFC 5321 4.1.1.1). 502/500/504 mean "try HELO".
struct ehlo : greeting_command<ehlo> {
    static constexpr std::string_view name = "EHLO";
    static constexpr std::string_view field = "EHLO domain";
};
/// HELO domain, the RFC 821 fallback.
struct helo : greeting_command<helo> {
    static constexpr std::string_view name = "HELO";
    static constexpr std::string_view field = "HELO domain";
};
/// LHLO domain (RFC 2033 4.1): EHLO's LMTP twin.
struct lhlo : greeting_command<lhlo> {
    static constexpr std::string_view name = "LHLO";
    static constexpr std::string_view field = "LHLO domain";
};

namespace detail_ {

/// Extra octets a parameter may add to the MAIL/RCPT line, as the RFC
/// defining it says: read from the parameter_spec lists of the built-in
/// extension types that declare it (smtp/protocol/extensions.hpp), so the
/// fact is kept once. An unknown keyword adds nothing.
constexpr std::size_t parameter_allowance(std::string_view keyword) noexcept
{
    std::size_t n = 0;
    const auto look = [&](std::span<const parameter_spec> specs) {
        for (const auto& p : specs)
            if (n == 0 && smtp::detail::iequals(p.keyword, keyword))
                n = p.allowance;
    };
    const auto each = [&]<class... E>(std::type_identity<E>...) {
        (
            [&] {
                if constexpr (requires { std::span<const parameter_spec>(E::mail_params); })
                    look(E::mail_params);
                if constexpr (requires { std::span<const parameter_spec>(E::rcpt_params); })
                    look(E::rcpt_params);
            }(),
            ...);
    };
    each(std::type_identity<ext::size>{}, std::type_identity<ext::eightbitmime>{},
         std::type_identity<ext::binarymime>{}, std::type_identity<ext::smtputf8>{}, std::type_identity<ext::dsn>{},
         std::type_identity<ext::auth>{}, std::type_identity<ext::requiretls>{});
    return n;
}

inline check_result check_params(std::span<const esmtp_param> params, bool utf8) noexcept
{
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto& p = params[i];
        if (!smtp::detail::is_esmtp_keyword(p.keyword))
            return {smtp::detail::check_text(p.keyword, false) == errc::control_character ? errc::control_character
                                                                                           : errc::invalid_parameter_keyword,
                    "ESMTP parameter keyword"};
        for (std::size_t j = 0; j < i; ++j)
            if (smtp::detail::iequals(params[j].keyword, p.keyword))
                return {errc::duplicate_parameter, "ESMTP parameter keyword"};
        if (p.value)
            if (const errc e = smtp::detail::check_esmtp_value(*p.value, utf8); e != errc{})
                return {e, "ESMTP parameter value"};
    }
    return {};
}

inline void write_params(std::span<const esmtp_param> params, std::string& out)
{
    for (const auto& p : params) {
        out.push_back(' ');
        out.append(p.keyword);
        if (p.value) {
            out.push_back('=');
            out.append(*p.value);
        }
    }
}

inline std::size_t params_allowance(std::span<const esmtp_param> params) noexcept
{
    std::size_t n = 0;
    for (const auto& p : params)
        n += parameter_allowance(p.keyword);
    return n;
}

} // namespace detail_

/// MAIL FROM:<reverse-path> [params] (RFC 5321 4.1.1.2). An empty address is
/// the null reverse-path "<>". `smtputf8` allows UTF-8 and adds the SMTPUTF8
/// parameter (RFC 6531 3.4).
struct mail_from {
    std::string_view address;
    std::span<const esmtp_param> params{};
    bool smtputf8 = false;

    static constexpr std::string_view name = "MAIL";
    static constexpr code_set success{250};
    static constexpr code_set intermediate{};
    static constexpr std::size_t max_line = default_max_line;

    check_result check() const noexcept
    {
        if (const errc e = smtp::detail::check_mailbox(address, smtputf8, true, false); e != errc{})
            return {e, "MAIL FROM address"};
        if (auto r = detail_::check_params(params, smtputf8))
            return r;
        if (smtputf8)
            for (const auto& p : params)
                if (smtp::detail::iequals(p.keyword, "SMTPUTF8"))
                    return {errc::duplicate_parameter, "ESMTP parameter keyword"};
        return {};
    }
    std::size_t line_limit() const noexcept
    {
        return max_line + detail_::params_allowance(params) + (smtputf8 ? 10 : 0);
    }
    void write_to(std::string& out) const
    {
        out.append(std::string_view("MAIL FROM:<"));
        out.append(address);
        out.push_back('>');
        detail_::write_params(params, out);
        if (smtputf8)
            out.append(std::string_view(" SMTPUTF8"));
        out.append(std::string_view("\r\n"));
    }
};

/// RCPT TO:<forward-path> [params] (RFC 5321 4.1.1.3). 251 is a success too.
/// `smtputf8`: the transaction declared SMTPUTF8, so UTF-8 is allowed.
struct rcpt_to {
    std::string_view address;
    std::span<const esmtp_param> params{};
    bool smtputf8 = false;

    static constexpr std::string_view name = "RCPT";
    static constexpr code_set success{250, 251};
    static constexpr code_set intermediate{};
    static constexpr std::size_t max_line = default_max_line;

    check_result check() const noexcept
    {
        if (const errc e = smtp::detail::check_mailbox(address, smtputf8, false, true); e != errc{})
            return {e, "RCPT TO address"};
        return detail_::check_params(params, smtputf8);
    }
    std::size_t line_limit() const noexcept { return max_line + detail_::params_allowance(params); }
    void write_to(std::string& out) const
    {
        out.append(std::string_view("RCPT TO:<"));
        out.append(address);
        out.push_back('>');
        detail_::write_params(params, out);
        out.append(std::string_view("\r\n"));
    }
};

/// A command that is its verb alone.
template <class Derived>
struct bare_command {
    static constexpr code_set intermediate{};
    static constexpr std::size_t max_line = default_max_line;
    constexpr check_result check() const noexcept { return {}; }
    void write_to(std::string& out) const
    {
        out.append(Derived::name);
        out.append(std::string_view("\r\n"));
    }
};

/// DATA (RFC 5321 4.1.1.4): 354 to go on; the message's own reply is end_of_data's.
struct data : bare_command<data> {
    static constexpr std::string_view name = "DATA";
    static constexpr code_set success{};
    static constexpr code_set intermediate{354};
};

/// Not a command line but a reply to expect: the one after the final
/// CRLF.CRLF (or BDAT LAST). 250 means queued.
struct end_of_data {
    static constexpr std::string_view name = "end of data";
    static constexpr code_set success{250};
    static constexpr code_set intermediate{};
};

/// RSET (RFC 5321 4.1.1.5).
struct rset : bare_command<rset> {
    static constexpr std::string_view name = "RSET";
    static constexpr code_set success{250};
};

/// QUIT (RFC 5321 4.1.1.10).
struct quit : bare_command<quit> {
    static constexpr std::string_view name = "QUIT";
    static constexpr code_set success{221};
};

/// STARTTLS (RFC 3207 4): 220 to begin the handshake.
struct starttls : bare_command<starttls> {
    static constexpr std::string_view name = "STARTTLS";
    static constexpr code_set success{220};
};

/// A command with an optional or required free-text argument.
template <class Derived, bool Required>
struct text_command {
    std::string_view argument{};
    bool smtputf8 = false; ///< RFC 6531 3.7.4: VRFY/EXPN may carry UTF-8 with SMTPUTF8

    static constexpr code_set intermediate{};
    static constexpr std::size_t max_line = default_max_line;

    constexpr check_result check() const noexcept
    {
        if (argument.empty())
            return Required ? check_result{errc::empty_argument, Derived::field} : check_result{};
        return {smtp::detail::check_text(argument, smtputf8 && Derived::utf8_allowed), Derived::field};
    }
    void write_to(std::string& out) const
    {
        out.append(Derived::name);
        if (!argument.empty()) {
            out.push_back(' ');
            out.append(argument);
        }
        if (smtputf8 && Derived::utf8_allowed)
            out.append(std::string_view(" SMTPUTF8"));
        out.append(std::string_view("\r\n"));
    }
};

/// VRFY string (RFC 5321 4.1.1.6): 250/251 known, 252 cannot verify but will try.
struct vrfy : text_command<vrfy, true> {
    static constexpr std::string_view name = "VRFY";
    static constexpr std::string_view field = "VRFY argument";
    static constexpr bool utf8_allowed = true;
    static constexpr code_set success{250, 251, 252};
};

/// EXPN string (RFC 5321 4.1.1.7).
struct expn : text_command<expn, true> {
    static constexpr std::string_view name = "EXPN";
    static constexpr std::string_view field = "EXPN argument";
    static constexpr bool utf8_allowed = true;
    static constexpr code_set success{250, 252};
};

/// HELP [string] (RFC 5321 4.1.1.8): 211 or 214.
struct help : text_command<help, false> {
    static constexpr std::string_view name = "HELP";
    static constexpr std::string_view field = "HELP argument";
    static constexpr bool utf8_allowed = false;
    static constexpr code_set success{211, 214};
};

/// NOOP [string] (RFC 5321 4.1.1.9).
struct noop : text_command<noop, false> {
    static constexpr std::string_view name = "NOOP";
    static constexpr std::string_view field = "NOOP argument";
    static constexpr bool utf8_allowed = false;
    static constexpr code_set success{250};
};

/// BDAT size [LAST] (RFC 3030 2): the chunk's bytes follow the line unchanged.
struct bdat {
    std::uint64_t size = 0;
    bool last = false;

    static constexpr std::string_view name = "BDAT";
    static constexpr code_set success{250};
    static constexpr code_set intermediate{};
    static constexpr std::size_t max_line = default_max_line;

    constexpr check_result check() const noexcept { return {}; }
    void write_to(std::string& out) const
    {
        out.append(std::string_view("BDAT "));
        out.append(std::to_string(size));
        if (last)
            out.append(std::string_view(" LAST"));
        out.append(std::string_view("\r\n"));
    }
};

/// AUTH mechanism [initial-response] (RFC 4954 4). The response is given raw
/// and sent in base64 ("=" when empty). 334 asks for another step.
struct auth {
    std::string_view mechanism;
    std::optional<std::string_view> initial_response{};

    static constexpr std::string_view name = "AUTH";
    static constexpr bool carries_secret = true;
    static constexpr code_set success{235};
    static constexpr code_set intermediate{334};
    /// RFC 4954 4: 12288 octets for an AUTH line with its initial response.
    static constexpr std::size_t max_line = 12288;

    constexpr check_result check() const noexcept
    {
        if (const errc e = smtp::detail::check_text(mechanism, false); e == errc::control_character)
            return {e, "AUTH mechanism"};
        if (!smtp::detail::is_sasl_mechanism_name(mechanism))
            return {errc::invalid_mechanism_name, "AUTH mechanism"};
        return {};
    }
    void write_to(std::string& out) const
    {
        out.append(std::string_view("AUTH "));
        out.append(mechanism);
        if (initial_response) {
            out.push_back(' ');
            if (initial_response->empty())
                out.push_back('=');
            else
                base64::encode(*initial_response, out);
        }
        out.append(std::string_view("\r\n"));
    }
};

/// A client response to a 334 challenge (RFC 4954 4), given raw, sent in base64.
struct auth_response {
    std::string_view response;

    static constexpr std::string_view name = "AUTH response";
    static constexpr bool carries_secret = true;
    static constexpr code_set success{235};
    static constexpr code_set intermediate{334};
    static constexpr std::size_t max_line = 12288;

    constexpr check_result check() const noexcept { return {}; }
    void write_to(std::string& out) const
    {
        base64::encode(response, out);
        out.append(std::string_view("\r\n"));
    }
};

/// "*": the client gives up the exchange (RFC 4954 4); the server answers 501.
struct auth_cancel {
    static constexpr std::string_view name = "AUTH cancel";
    static constexpr code_set success{501};
    static constexpr code_set intermediate{};
    static constexpr std::size_t max_line = default_max_line;
    constexpr check_result check() const noexcept { return {}; }
    void write_to(std::string& out) const { out.append(std::string_view("*\r\n")); }
};

/// Any other command line, validated like the rest: a verb and an optional
/// argument, success codes given at run time through classify_raw().
struct raw {
    std::string_view verb;
    std::string_view argument{};

    static constexpr std::string_view name = "raw command";
    static constexpr code_set success{200, 211, 214, 220, 221, 235, 250, 251, 252};
    static constexpr code_set intermediate{334, 354};
    static constexpr std::size_t max_line = default_max_line;

    constexpr check_result check() const noexcept
    {
        if (verb.empty())
            return {errc::empty_argument, "command verb"};
        if (const errc e = smtp::detail::check_text(verb, false); e != errc{})
            return {e, "command verb"};
        if (!smtp::detail::is_esmtp_keyword(verb))
            return {errc::invalid_command_verb, "command verb"};
        return {smtp::detail::check_text(argument, false), "command argument"};
    }
    void write_to(std::string& out) const
    {
        out.append(verb);
        if (!argument.empty()) {
            out.push_back(' ');
            out.append(argument);
        }
        out.append(std::string_view("\r\n"));
    }
};

} // namespace cmd

namespace detail {
template <class C>
constexpr std::size_t line_limit(const C& c) noexcept
{
    if constexpr (requires { c.line_limit(); })
        return c.line_limit();
    else
        return C::max_line;
}
} // namespace detail

/// Appends the command line to `out`. On any problem `out` is left as it was,
/// ec says what and diag.field() says which argument.
template <command C>
void serialize(const C& c, std::string& out, error_code& ec, diagnostics& diag)
{
    ec = {};
    diag.clear();
    if (const check_result r = c.check()) {
        ec = r.error;
        diag.set_field(r.field);
        return;
    }
    const std::size_t at = out.size();
    c.write_to(out);
    if (out.size() - at > detail::line_limit(c)) {
        out.resize(at);
        ec = errc::command_line_too_long;
        diag.set_field("command line");
    }
}

/// Throwing form: error_with_diagnostics.
template <command C>
void serialize(const C& c, std::string& out)
{
    error_code ec;
    diagnostics diag;
    serialize(c, out, ec, diag);
    detail::throw_on_error(ec, diag);
}

/// The command line as a string (throws on bad arguments).
template <command C>
std::string to_string(const C& c)
{
    std::string out;
    serialize(c, out);
    return out;
}

SMTP_NAMESPACE_END

#endif

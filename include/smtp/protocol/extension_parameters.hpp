/// \file smtp/protocol/extension_parameters.hpp
///
/// What an extension type sees when the engine plans a transaction, and where
/// its MAIL and RCPT parameters go (smtp/protocol/extensions.hpp says what an
/// extension type declares; the engine, transaction.hpp, calls it).
///
/// An extension declares each parameter it may add as a parameter_spec: its
/// keyword, the octets it may add to the command line (RFC 5321 4.5.3.1.1:
/// each extension that adds a parameter says how much longer the line may
/// get), and how its value is encoded (as given, or RFC 3461 xtext). The
/// writer takes only declared keywords, once each, checks every value, and
/// keeps the line within 512 octets plus the allowances of what was written.
/// A problem is a refusal: nothing of the transaction is sent.
#ifndef SMTP_PROTOCOL_EXTENSION_PARAMETERS_HPP
#define SMTP_PROTOCOL_EXTENSION_PARAMETERS_HPP

#include <smtp/protocol/detail/validate.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/message_scanner.hpp>
#include <smtp/protocol/send_request.hpp>
#include <smtp/protocol/xtext.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

/// How a parameter's value goes on the wire.
enum class parameter_encoding {
    verbatim, ///< as given; it must be an esmtp-value (RFC 5321 4.1.2), else a refusal
    xtext,    ///< RFC 3461 4's xtext: any octets
};

/// A MAIL or RCPT parameter an extension may add.
struct parameter_spec {
    std::string_view keyword;
    std::size_t allowance; ///< octets it may add to the command line
    parameter_encoding encoding = parameter_encoding::verbatim;
};

/// Appends " KEYWORD" or " KEYWORD=value" to a command line being planned.
/// The engine points it at one extension's declared parameters before
/// calling that extension.
class parameter_writer {
public:
    /// KEYWORD alone.
    void add(std::string_view keyword) { put(keyword, nullptr); }
    /// KEYWORD=value, the value encoded as the keyword's parameter_spec says.
    void add(std::string_view keyword, std::string_view value) { put(keyword, &value); }
    /// Refuses the transaction before anything is sent: `field` (a string
    /// that lives as long as the program: a keyword, a literal) names what
    /// is wrong in diagnostics::field(). The first refusal stands.
    void refuse(errc e, std::string_view field) noexcept
    {
        if (error_ == errc{}) {
            error_ = e;
            field_ = field;
        }
    }
    errc error() const noexcept { return error_; }
    std::string_view field() const noexcept { return field_; }
    /// The transaction declares SMTPUTF8: values may hold UTF-8.
    bool smtputf8() const noexcept { return utf8_; }

    // --- For the engine ----------------------------------------------------------
    parameter_writer(std::string& line, bool smtputf8) noexcept : out_(&line), utf8_(smtputf8) {}
    /// A new command line starts at the end of `line` (its parameters follow).
    void start_line() noexcept
    {
        line_start_ = out_->size();
        allowance_ = 0;
    }
    /// The next extension asked, with the parameters it declared.
    void declared(std::span<const parameter_spec> specs) noexcept { specs_ = specs; }
    /// What the parameters written on this line may add to its length.
    std::size_t allowance() const noexcept { return allowance_; }

private:
    void put(std::string_view keyword, const std::string_view* value)
    {
        if (error_ != errc{})
            return;
        const parameter_spec* spec = nullptr;
        for (const auto& s : specs_)
            if (detail::iequals(s.keyword, keyword))
                spec = &s;
        if (spec == nullptr || !detail::is_esmtp_keyword(spec->keyword))
            return refuse(errc::invalid_parameter_keyword, "ESMTP parameter keyword");
        if (written(spec->keyword))
            return refuse(errc::duplicate_parameter, spec->keyword);
        const std::size_t at = out_->size();
        out_->push_back(' ');
        out_->append(spec->keyword);
        if (value) {
            out_->push_back('=');
            if (spec->encoding == parameter_encoding::xtext) {
                append_xtext(*value, *out_);
            } else if (const errc e = detail::check_esmtp_value(*value, utf8_); e != errc{}) {
                out_->resize(at);
                return refuse(e, spec->keyword);
            } else {
                out_->append(*value);
            }
        }
        allowance_ += spec->allowance;
    }
    /// Is `keyword` already among this line's parameters?
    bool written(std::string_view keyword) const noexcept
    {
        std::string_view rest = std::string_view(*out_).substr(line_start_);
        while (!rest.empty()) {
            rest.remove_prefix(1); // the space before each parameter
            const std::size_t end = std::min(rest.find(' '), rest.size());
            const std::string_view p = rest.substr(0, end);
            if (detail::iequals(p.substr(0, p.find('=')), keyword))
                return true;
            rest.remove_prefix(end);
        }
        return false;
    }

    std::string* out_;
    bool utf8_;
    std::size_t line_start_ = 0, allowance_ = 0;
    std::span<const parameter_spec> specs_{};
    errc error_{};
    std::string_view field_{};
};

/// What an extension sees when the engine plans MAIL FROM, and where its
/// parameters go.
class mail_context : public parameter_writer {
public:
    mail_context(std::string& line, bool smtputf8, const message_facts& facts, bool size_known,
                 const send_options& options, std::span<const recipient> to, bool encrypted, bool bdat) noexcept
        : parameter_writer(line, smtputf8), facts_(facts), options_(options), to_(to), size_known_(size_known),
          encrypted_(encrypted), bdat_(bdat)
    {}

    /// The message's facts (size, 8-bit octets and where). For a source
    /// read as it goes, size_known() is false and only eight_bit is set:
    /// true when 8BITMIME is offered (the content is checked as it goes).
    const message_facts& facts() const noexcept { return facts_; }
    bool size_known() const noexcept { return size_known_; }
    const send_options& options() const noexcept { return options_; }
    /// The message's value for extension E (send_options::set<E>), or nullptr.
    template <class E>
    const typename E::request_type* request() const noexcept
    {
        return options_.template get<E>();
    }
    std::span<const recipient> recipients() const noexcept { return to_; }
    bool binary() const noexcept { return options_.body == body_type::binary; }
    /// The session is encrypted (TLS).
    bool encrypted() const noexcept { return encrypted_; }
    /// The data goes in BDAT chunks (CHUNKING), not DATA.
    bool uses_bdat() const noexcept { return bdat_; }

private:
    const message_facts& facts_;
    const send_options& options_;
    std::span<const recipient> to_;
    bool size_known_, encrypted_, bdat_;
};

/// What an extension sees when the engine plans one RCPT TO, and where its
/// parameters go.
class rcpt_context : public parameter_writer {
public:
    rcpt_context(std::string& line, bool smtputf8, const recipient& to, const send_options& options) noexcept
        : parameter_writer(line, smtputf8), to_(&to), options_(options)
    {}

    const recipient& to() const noexcept { return *to_; }
    const send_options& options() const noexcept { return options_; }
    template <class E>
    const typename E::request_type* request() const noexcept
    {
        return options_.template get<E>();
    }

    // For the engine: the next recipient.
    void next(const recipient& to) noexcept { to_ = &to; }

private:
    const recipient* to_;
    const send_options& options_;
};

SMTP_NAMESPACE_END

#endif

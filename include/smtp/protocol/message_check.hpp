/// \file smtp/protocol/message_check.hpp
///
/// What makes a message unsendable to any server, found before connecting:
/// the transaction engine's own checks of the content (check_content() in
/// smtp/protocol/transaction.hpp), run on the message alone, with the line
/// at fault.
///
/// ```
///   const smtp::message_check c = smtp::check_message(message, options, settings);
///   if (!c.ok())
///       std::cerr << c.describe() << '\n'; // message line 3 is 1200 octets, over the limit of 998 (...)
/// ```
///
/// It finds what the engine would refuse before a byte whatever the server
/// offers: a line over transaction_settings::data.max_line (998 octets; no
/// limit for body_type::binary, which goes in BDAT chunks as it is), a bare
/// CR or LF under line_endings::reject, a binary body with CHUNKING turned
/// off. What depends on the server (SIZE, 8BITMIME, SMTPUTF8, BINARYMIME,
/// DSN, REQUIRETLS) and the envelope's addresses are the engine's to check
/// after EHLO; the facts returned (size, 8-bit octets) say what it will see.
#ifndef SMTP_PROTOCOL_MESSAGE_CHECK_HPP
#define SMTP_PROTOCOL_MESSAGE_CHECK_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/protocol/transaction.hpp>
#include <smtp/version.hpp>

#include <cstddef>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

/// check_message()'s answer.
struct message_check {
    /// What the engine would refuse the message with; clear when nothing.
    error_code error{};
    /// data_line_too_long: the first line over the limit, from 1 (each CRLF,
    /// bare CR and bare LF ends a line, as the data is sent), its length in
    /// octets without its line end, and the limit.
    std::size_t line = 0;
    std::size_t line_length = 0;
    std::size_t max_line = 0;
    /// data_bare_cr, data_bare_lf: where the first one is, from 0.
    std::size_t offset = message_facts::npos;
    /// What the engine will see: the RFC 1870 size, the longest line, 8-bit octets.
    message_facts facts{};
    /// False for a source that cannot be rewound: it is not read (it could
    /// not be read again to be sent); the engine checks it as it goes.
    bool checked = false;

    bool ok() const noexcept { return !error; }

    /// One line for a person: empty when ok(), else
    /// "message line 3 is 1200 octets, over the limit of 998 (RFC 5321 4.5.3.1.6)".
    std::string describe() const
    {
        if (!error)
            return {};
        if (error == errc::data_line_too_long)
            return "message line " + std::to_string(line) + " is " + std::to_string(line_length) +
                   " octets, over the limit of " + std::to_string(max_line) + " (RFC 5321 4.5.3.1.6)";
        if ((error == errc::data_bare_cr || error == errc::data_bare_lf) && offset != message_facts::npos)
            return error.message() + " at offset " + std::to_string(offset);
        if (error == errc::empty_argument)
            return "message source cannot be read, or cannot be rewound";
        if (error == errc::binarymime_not_offered)
            return "message is binary (body_type::binary), which needs BDAT, and transaction_settings::chunking "
                   "is off";
        return "message " + error.message();
    }
};

namespace detail {
inline message_check make_message_check(const message_facts& f, const send_options& options,
                                        const transaction_settings& settings)
{
    message_check c;
    c.checked = true;
    c.facts = f;
    const errc e = check_content(f, options.body, settings);
    if (e == errc{})
        return c;
    c.error = e;
    if (e == errc::data_line_too_long) {
        c.line = f.first_long_line;
        c.line_length = f.first_long_line_length;
        c.max_line = settings.data.max_line;
    } else if (e == errc::data_bare_cr) {
        c.offset = f.first_bare_cr;
    } else if (e == errc::data_bare_lf) {
        c.offset = f.first_bare_lf;
    }
    return c;
}
} // namespace detail

/// Checks a message in memory as the engine will, before connecting.
inline message_check check_message(std::string_view message, const send_options& options = {},
                                   const transaction_settings& settings = {})
{
    message_facts f;
    if (options.body == body_type::binary)
        f.size = message.size();
    else
        f = scan_message(message, settings.data.max_line);
    return detail::make_message_check(f, options, settings);
}

/// Checks a message source: a rewindable one is read once and rewound, as
/// the engine does; one without rewind is not read (`checked` is false). A
/// source without read, or whose rewind fails, is errc::empty_argument, as
/// the engine has it.
inline message_check check_message(message_source& source, const send_options& options = {},
                                   const transaction_settings& settings = {})
{
    message_check c;
    if (source.read && !source.rewind)
        return c;
    message_facts f;
    if (!detail::scan_source(source, options.body == body_type::binary, settings.data.max_line, f)) {
        c.error = errc::empty_argument;
        return c;
    }
    return detail::make_message_check(f, options, settings);
}

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/envelope.hpp
///
/// The envelope of an RFC 5322 message, read from its headers, as smtplib's
/// send_message does: the sender from Sender (or From), the recipients from
/// To, Cc and Bcc (or, when the message was resent, from the last Resent-
/// block), and the message to send without its Bcc and Resent-Bcc headers.
///
/// ```
///   auto env = smtp::envelope_from_headers(message);
///   session.sendmail(env.from, env.recipients, env.message);
/// ```
///
/// Addresses are taken from "Name <addr>", bare "addr" and groups
/// ("team: a@x, b@x;"), with quoted display names and comments skipped.
/// No header line is rewritten: what is sent is the message minus the Bcc
/// lines.
#ifndef SMTP_PROTOCOL_ENVELOPE_HPP
#define SMTP_PROTOCOL_ENVELOPE_HPP

#include <smtp/protocol/detail/validate.hpp>
#include <smtp/version.hpp>

#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

struct envelope {
    std::string from;
    std::vector<std::string> recipients;
    std::string message; ///< the message without Bcc / Resent-Bcc headers
};

namespace detail {

/// One unfolded header field: name and value (the value without its line ends).
struct header_field {
    std::string_view name;
    std::string value;
    std::size_t begin = 0, end = 0; ///< its bytes in the message, line ends included
};

/// The header fields, unfolded, up to the first empty line.
inline std::vector<header_field> header_fields(std::string_view m)
{
    std::vector<header_field> out;
    std::size_t at = 0;
    while (at < m.size()) {
        const auto eol = m.find('\n', at);
        const std::size_t line_end = eol == std::string_view::npos ? m.size() : eol + 1;
        std::string_view line = m.substr(at, line_end - at);
        std::string_view text = line;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
            text.remove_suffix(1);
        if (text.empty())
            break; // the end of the header
        if ((text.front() == ' ' || text.front() == '\t') && !out.empty()) {
            out.back().value.append(text);
            out.back().end = line_end;
        } else {
            const auto colon = text.find(':');
            if (colon == std::string_view::npos) {
                at = line_end;
                continue; // not a field (e.g. an mbox "From " line): skipped
            }
            header_field f;
            f.name = text.substr(0, colon);
            f.value = std::string(text.substr(colon + 1));
            f.begin = at;
            f.end = line_end;
            out.push_back(std::move(f));
        }
        at = line_end;
    }
    return out;
}

/// The addr-specs in an address list.
inline void addresses(std::string_view v, std::vector<std::string>& out)
{
    std::string token;     // the text of the current address, outside quotes and comments
    std::string angle;     // what was inside <...>
    bool in_angle = false, had_angle = false, in_quote = false;
    int comment = 0;
    auto flush = [&] {
        std::string a = had_angle ? angle : token;
        const auto first = a.find_first_not_of(" \t");
        const auto last = a.find_last_not_of(" \t");
        a = first == std::string::npos ? std::string() : a.substr(first, last - first + 1);
        if (!a.empty())
            out.push_back(std::move(a));
        token.clear();
        angle.clear();
        had_angle = false;
    };
    for (std::size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        if (in_quote) {
            if (c == '\\' && i + 1 < v.size())
                ++i;
            else if (c == '"')
                in_quote = false;
            continue; // display names are not addresses
        }
        if (comment) {
            if (c == '\\' && i + 1 < v.size())
                ++i;
            else if (c == '(')
                ++comment;
            else if (c == ')')
                --comment;
            continue;
        }
        if (in_angle) {
            if (c == '>')
                in_angle = false;
            else
                angle.push_back(c);
            continue;
        }
        switch (c) {
        case '"': in_quote = true; break;
        case '(': comment = 1; break;
        case '<':
            in_angle = had_angle = true;
            angle.clear();
            break;
        case ',':
        case ';': flush(); break;
        case ':': token.clear(); break; // a group's name
        default: token.push_back(c);
        }
    }
    flush();
}

} // namespace detail

/// The envelope of `message` (see the file comment). Fields are matched
/// without regard to case.
inline envelope envelope_from_headers(std::string_view message)
{
    using detail::iequals;
    const auto fields = detail::header_fields(message);
    // A resent message's envelope is its last Resent- block (RFC 5322 3.6.6).
    bool resent = false;
    for (const auto& f : fields)
        resent |= iequals(f.name, "Resent-Date") || iequals(f.name, "Resent-From");
    const std::string_view prefix = resent ? "Resent-" : "";
    auto named = [&](std::string_view name, const detail::header_field& f) {
        return f.name.size() == prefix.size() + name.size() && iequals(f.name.substr(0, prefix.size()), prefix) &&
               iequals(f.name.substr(prefix.size()), name);
    };
    envelope e;
    std::vector<std::string> from, sender;
    for (const auto& f : fields) {
        if (named("From", f))
            detail::addresses(f.value, from);
        else if (named("Sender", f))
            detail::addresses(f.value, sender);
        else if (named("To", f) || named("Cc", f) || named("Bcc", f))
            detail::addresses(f.value, e.recipients);
    }
    if (!sender.empty())
        e.from = sender.front();
    else if (!from.empty())
        e.from = from.front();
    // The message without its Bcc lines.
    std::size_t at = 0;
    for (const auto& f : fields) {
        if (iequals(f.name, "Bcc") || iequals(f.name, "Resent-Bcc")) {
            e.message.append(message.substr(at, f.begin - at));
            at = f.end;
        }
    }
    e.message.append(message.substr(at));
    return e;
}

SMTP_NAMESPACE_END

#endif

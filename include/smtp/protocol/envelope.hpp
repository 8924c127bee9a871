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
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/message_source.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <memory>
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

/// The envelope of a message read from `source`, and the message to send
/// without its Bcc headers, as a source (see envelope_from_headers). Only
/// the header block is read here and held; the rest is read from `source`
/// as it is sent, so `source` must outlive the result. The result can be
/// rewound when `source` can. Errors: errc::header_block_too_long when no
/// blank line ends the headers within `max_header` octets (cutting there
/// could leave half a Bcc line in what is sent); errc::empty_argument when
/// `source` has no read function.
struct source_envelope {
    std::string from;
    std::vector<std::string> recipients;
    message_source message;
};

inline source_envelope envelope_from_source(message_source& source, error_code& ec,
                                            std::size_t max_header = 1024 * 1024)
{
    ec = {};
    if (!source.read) {
        ec = errc::empty_argument;
        return {};
    }
    // Read until the blank line that ends the header block (CRLF or LF line ends).
    std::string head;
    std::size_t end = std::string::npos;
    char buf[16 * 1024];
    bool ended = false; // the source ended before a blank line: all of it is headers
    while (head.size() < max_header) {
        const std::size_t n = source.read(buf, std::min(sizeof buf, max_header - head.size()));
        if (n == 0) {
            ended = true;
            break;
        }
        const std::size_t from = head.size() < 3 ? 0 : head.size() - 3;
        head.append(buf, n);
        const std::size_t crlf = head.find("\r\n\r\n", from), lf = head.find("\n\n", from);
        end = std::min(crlf == std::string::npos ? crlf : crlf + 4, lf == std::string::npos ? lf : lf + 2);
        if (end != std::string::npos)
            break;
    }
    if (end == std::string::npos) {
        if (!ended) {
            ec = errc::header_block_too_long;
            return {};
        }
        end = head.size();
    }
    envelope e = envelope_from_headers(std::string_view(head).substr(0, end));

    struct state {
        message_source* inner;
        std::string prefix;   // the header block without Bcc
        std::string rest;     // what was read past the header block
        std::size_t consumed; // octets of `inner` that prefix and rest stand for
        std::size_t at = 0;   // position in prefix + rest
    };
    auto st = std::make_shared<state>(state{&source, std::move(e.message), head.substr(end), head.size()});
    source_envelope out{std::move(e.from), std::move(e.recipients), {}};
    out.message.read = [st](char* b, std::size_t n) -> std::size_t {
        const std::size_t held = st->prefix.size() + st->rest.size();
        if (st->at < held) {
            std::size_t done = 0;
            while (done < n && st->at < held) {
                const bool in_prefix = st->at < st->prefix.size();
                const std::string& piece = in_prefix ? st->prefix : st->rest;
                const std::size_t off = in_prefix ? st->at : st->at - st->prefix.size();
                const std::size_t take = std::min(n - done, piece.size() - off);
                std::copy_n(piece.data() + off, take, b + done);
                done += take;
                st->at += take;
            }
            return done;
        }
        return st->inner->read(b, n);
    };
    if (source.rewind) {
        out.message.rewind = [st]() {
            if (!st->inner->rewind())
                return false;
            char skip[16 * 1024];
            for (std::size_t left = st->consumed; left > 0;) {
                const std::size_t n = st->inner->read(skip, std::min(sizeof skip, left));
                if (n == 0)
                    return false; // shorter than the first time
                left -= n;
            }
            st->at = 0;
            return true;
        };
    }
    return out;
}

SMTP_NAMESPACE_END

#endif

/// \file smtp/message_builder.hpp
///
/// smtp::message, the builder: RFC 5322 headers and MIME bodies, written
/// whole, piece by piece, or through a message_reader. What it writes and
/// how it refuses: smtp/message.hpp's opening comment, docs/messages.md.
#ifndef SMTP_MESSAGE_BUILDER_HPP
#define SMTP_MESSAGE_BUILDER_HPP

#include <smtp/message_reader.hpp>
#include <smtp/mime.hpp>
#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/line_ends.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// An RFC 5322 message with MIME bodies (see the top of this file).
class message {
public:
    /// Random boundaries and Message-ID; Date: now.
    message() : message(random_seed()) {}
    /// Reproducible: the same seed, the same boundaries and Message-ID.
    explicit message(std::uint64_t seed) : rng_(seed), date_(std::chrono::system_clock::now())
    {
        static constexpr char hex[] = "0123456789abcdef";
        for (std::string* t : {&token_, &boundary_token_})
            for (int i = 0; i < 16; ++i) {
                const auto v = static_cast<unsigned>(rng_() & 0xFF);
                t->push_back(hex[v >> 4]);
                t->push_back(hex[v & 15]);
            }
    }

    message& from(mailbox m) { return set_one(from_, "From", std::move(m)); }
    message& to(mailbox m) { return add(to_, "To", std::move(m)); }
    message& cc(mailbox m) { return add(cc_, "Cc", std::move(m)); }
    /// A blind copy: an envelope recipient (envelope_recipients(), which
    /// session::send_message uses), never written into the headers.
    message& bcc(mailbox m) { return add(bcc_, "Bcc", std::move(m)); }
    message& reply_to(mailbox m) { return set_one(reply_to_, "Reply-To", std::move(m)); }
    message& subject(std::string s)
    {
        mime::check_value("Subject", s);
        subject_ = std::move(s);
        return *this;
    }
    message& date(std::chrono::system_clock::time_point t)
    {
        date_ = t;
        return *this;
    }
    /// With or without the angle brackets.
    message& message_id(std::string id)
    {
        mime::check_value("Message-ID", id);
        if (id.size() < 2 || id.front() != '<' || id.back() != '>')
            id = "<" + id + ">";
        if (id.find_first_of("<>", 1) != id.size() - 1 || id.find_first_of(" \t") != std::string::npos)
            throw std::invalid_argument("smtp::message: Message-ID must be <left@right> without spaces");
        message_id_ = std::move(id);
        return *this;
    }
    /// A custom header, added after the others. The builder's own headers
    /// (From, To, Content-Type, ...) are refused: use their setters.
    message& header(std::string name, std::string value)
    {
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7F && c != ':'; }))
            throw std::invalid_argument("smtp::message: header name \"" + printable(name) +
                                        "\" is not printable ASCII without ':'");
        mime::check_value(name, value);
        static constexpr std::array<std::string_view, 11> own = {
            "from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version",
            "content-type", "content-transfer-encoding", "content-disposition"};
        std::string lower = name;
        for (auto& c : lower)
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        if (std::find(own.begin(), own.end(), lower) != own.end())
            throw std::invalid_argument("smtp::message: " + name + " is set by the builder, not header()");
        headers_.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    /// text/plain; charset: a token such as "utf-8" or "us-ascii".
    message& text(std::string body, std::string charset = "utf-8")
    {
        check_charset(charset);
        text_ = text_body{std::move(body), std::move(charset)};
        return *this;
    }
    message& html(std::string body, std::string charset = "utf-8")
    {
        check_charset(charset);
        html_ = text_body{std::move(body), std::move(charset)};
        return *this;
    }
    /// An attachment (multipart/mixed).
    message& attach(attachment a)
    {
        check_attachment(a);
        attachments_.push_back(std::make_shared<const attachment>(std::move(a)));
        return *this;
    }
    /// A part the html refers to as "cid:<content_id>" (multipart/related),
    /// e.g. an image. Without html it becomes an inline attachment.
    message& embed(attachment a, std::string content_id)
    {
        check_attachment(a);
        mime::check_value("Content-ID", content_id);
        if (content_id.empty() || content_id.find_first_of("<> \t\"") != std::string::npos ||
            !mime::is_ascii_printable(content_id))
            throw std::invalid_argument("smtp::message: Content-ID must be printable ASCII without <, >, spaces");
        embedded_.emplace_back(std::make_shared<const attachment>(std::move(a)), std::move(content_id));
        return *this;
    }

    /// The Message-ID it writes: the one given, or `<random-hex@domain>` with From's domain.
    std::string message_id() const
    {
        if (!message_id_.empty())
            return message_id_;
        std::string domain = "localhost";
        if (from_) {
            const auto at = from_->address.rfind('@');
            if (at != std::string::npos && at + 1 < from_->address.size())
                domain = from_->address.substr(at + 1);
        }
        return "<" + token_ + "@" + domain + ">";
    }

    /// The envelope sender: From's address (empty when there is no From).
    std::string envelope_from() const { return from_ ? from_->address : std::string(); }
    /// The envelope recipients: the addresses of To, Cc and Bcc, in that
    /// order, each once.
    std::vector<std::string> envelope_recipients() const
    {
        std::vector<std::string> out;
        for (const auto* list : {&to_, &cc_, &bcc_})
            for (const mailbox& m : *list)
                if (std::find(out.begin(), out.end(), m.address) == out.end())
                    out.push_back(m.address);
        return out;
    }

    /// Calls sink(std::string_view) with the message, piece by piece.
    template <class Sink>
        requires std::invocable<Sink&, std::string_view>
    void write(Sink&& sink) const
    {
        message_reader r = reader();
        std::string buf(64 * 1024, '\0');
        while (const std::size_t n = r.read(buf.data(), buf.size()))
            sink(std::string_view(buf.data(), n));
    }

    std::string to_string() const
    {
        std::string out;
        write([&](std::string_view piece) { out += piece; });
        return out;
    }

    /// A reader of the message as it is now (later changes do not reach it).
    message_reader reader() const { return message_reader(serialise()); }

private:
    struct text_body {
        std::string body;
        std::string charset;
    };
    using part_ptr = std::shared_ptr<const attachment>;

    static std::uint64_t random_seed()
    {
        std::random_device rd;
        return (std::uint64_t(rd()) << 32) ^ rd();
    }

    static std::string printable(std::string_view s)
    {
        std::string out;
        for (const char c : s)
            out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) ? '?' : c;
        return out;
    }

    static void check_mailbox(std::string_view header, const mailbox& m)
    {
        mime::check_value(header, m.name);
        mime::check_value(header, m.address);
        if (m.address.empty() || m.address.find_first_of("<> \t") != std::string::npos ||
            std::any_of(m.address.begin(), m.address.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
            throw std::invalid_argument("smtp::message: " + std::string(header) + " address \"" +
                                        printable(m.address) + "\" is empty or holds '<', '>', a space or a control character");
    }
    message& set_one(std::optional<mailbox>& slot, std::string_view header, mailbox m)
    {
        check_mailbox(header, m);
        slot = std::move(m);
        return *this;
    }
    message& add(std::vector<mailbox>& list, std::string_view header, mailbox m)
    {
        check_mailbox(header, m);
        list.push_back(std::move(m));
        return *this;
    }
    static void check_charset(std::string_view charset)
    {
        if (charset.empty() || !std::all_of(charset.begin(), charset.end(), [](char c) {
                return mime::is_atext(c) && c != '/' && c != '=' && c != '?';
            }))
            throw std::invalid_argument("smtp::message: charset \"" + printable(charset) + "\" is not a token");
    }
    static void check_attachment(const attachment& a)
    {
        mime::check_value("Content-Type", a.content_type);
        mime::check_value("Content-Disposition filename", a.filename);
        const auto slash = a.content_type.find('/');
        if (slash == std::string::npos || slash == 0 || !mime::is_ascii_printable(a.content_type))
            throw std::invalid_argument("smtp::message: Content-Type \"" + printable(a.content_type) +
                                        "\" is not type/subtype");
    }

    // --- Serialisation ------------------------------------------------------------

    void address_header(std::string& out, std::string_view name, const std::vector<mailbox>& list) const
    {
        if (list.empty())
            return;
        std::string value;
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (i)
                value += ", ";
            value += mime::format_mailbox(list[i], i == 0 ? 78 - name.size() - 2 : 75);
        }
        mime::fold(name, value, out);
    }

    std::string top_headers() const
    {
        std::string out;
        if (from_)
            address_header(out, "From", {*from_});
        address_header(out, "To", to_);
        address_header(out, "Cc", cc_);
        if (reply_to_)
            address_header(out, "Reply-To", {*reply_to_});
        if (subject_)
            mime::fold("Subject", mime::unstructured(*subject_, 7), out);
        mime::fold("Date", mime::format_date(date_), out);
        mime::fold("Message-ID", message_id(), out);
        for (const auto& [name, value] : headers_)
            mime::fold(name, mime::unstructured(value, name.size()), out);
        out += "MIME-Version: 1.0\r\n";
        return out;
    }

    /// One node of the MIME tree, with its own headers, as segments.
    struct node {
        std::vector<mime::segment> segs;
    };

    static node text_node(const text_body& t, std::string_view subtype)
    {
        const std::string body = mime::normalize_crlf(t.body);
        const transfer_encoding e = mime::choose_encoding(body);
        std::string out = "Content-Type: text/" + std::string(subtype) + "; charset=\"" + t.charset + "\"\r\n";
        std::string encoded;
        switch (e) {
        case transfer_encoding::seven_bit:
            out += "Content-Transfer-Encoding: 7bit\r\n";
            encoded = body;
            break;
        case transfer_encoding::quoted_printable:
            out += "Content-Transfer-Encoding: quoted-printable\r\n";
            encoded = mime::quoted_printable(body);
            break;
        case transfer_encoding::base64: {
            out += "Content-Transfer-Encoding: base64\r\n";
            bool first = true;
            mime::base64_lines(body, encoded, first);
            break;
        }
        }
        out += "\r\n";
        out += encoded;
        node n;
        mime::append_text(n.segs, out);
        return n;
    }

    static node attachment_node(const part_ptr& a, const std::string* content_id)
    {
        std::string h;
        mime::fold("Content-Type", a->content_type, h);
        h += "Content-Transfer-Encoding: base64\r\n";
        std::string disposition = content_id ? "inline" : "attachment";
        if (!a->filename.empty())
            disposition += "; " + mime::filename_parameter(a->filename);
        mime::fold("Content-Disposition", disposition, h);
        if (content_id)
            h += "Content-ID: <" + *content_id + ">\r\n";
        h += "\r\n";
        node n;
        if (a->read || !a->path.empty()) {
            mime::append_text(n.segs, h);
            n.segs.push_back(mime::segment{{}, a});
        } else {
            bool first = true;
            mime::base64_lines(a->data, h, first);
            mime::append_text(n.segs, h);
        }
        return n;
    }

    node multipart(std::string_view subtype, std::vector<node> children, unsigned& counter) const
    {
        // A boundary that occurs nowhere in the children's text; attachments
        // read as the message is written are base64, where "=_" cannot occur.
        std::string boundary;
        for (int attempt = 0;; ++attempt) {
            boundary = "=_" + boundary_token_ + "." + std::to_string(++counter) + "." + std::to_string(attempt);
            const bool clash = std::any_of(children.begin(), children.end(), [&](const node& c) {
                return std::any_of(c.segs.begin(), c.segs.end(), [&](const mime::segment& s) {
                    return s.text.find(boundary) != std::string::npos;
                });
            });
            if (!clash)
                break;
        }
        node n;
        std::string h;
        mime::fold("Content-Type", "multipart/" + std::string(subtype) + "; boundary=\"" + boundary + "\"", h);
        h += "\r\n";
        mime::append_text(n.segs, h);
        for (auto& c : children) {
            mime::append_text(n.segs, "--" + boundary + "\r\n");
            for (auto& s : c.segs) {
                if (s.stream)
                    n.segs.push_back(std::move(s));
                else
                    mime::append_text(n.segs, s.text);
            }
            mime::append_text(n.segs, "\r\n");
        }
        mime::append_text(n.segs, "--" + boundary + "--");
        return n;
    }

    std::vector<mime::segment> serialise() const
    {
        unsigned counter = 0;
        std::vector<node> body;
        std::optional<node> html;
        if (html_) {
            html = text_node(*html_, "html");
            if (!embedded_.empty()) {
                std::vector<node> related;
                related.push_back(std::move(*html));
                for (const auto& [a, id] : embedded_)
                    related.push_back(attachment_node(a, &id));
                html = multipart("related", std::move(related), counter);
            }
        }
        if (text_ && html) {
            std::vector<node> alt;
            alt.push_back(text_node(*text_, "plain"));
            alt.push_back(std::move(*html));
            body.push_back(multipart("alternative", std::move(alt), counter));
        } else if (html) {
            body.push_back(std::move(*html));
        } else if (text_ || (attachments_.empty() && embedded_.empty())) {
            body.push_back(text_node(text_ ? *text_ : text_body{"", "utf-8"}, "plain"));
        }
        std::vector<node> mixed = std::move(body);
        if (!html_)
            for (const auto& [a, id] : embedded_)
                mixed.push_back(attachment_node(a, &id));
        for (const auto& a : attachments_)
            mixed.push_back(attachment_node(a, nullptr));
        node root = mixed.size() == 1 ? std::move(mixed.front()) : multipart("mixed", std::move(mixed), counter);

        std::vector<mime::segment> segs;
        mime::append_text(segs, top_headers());
        for (auto& s : root.segs) {
            if (s.stream)
                segs.push_back(std::move(s));
            else
                mime::append_text(segs, s.text);
        }
        // The message ends with a line end.
        if (segs.back().stream || segs.back().text.size() < 2 ||
            segs.back().text.compare(segs.back().text.size() - 2, 2, "\r\n") != 0)
            mime::append_text(segs, "\r\n");
        return segs;
    }

    std::mt19937_64 rng_;
    std::string token_, boundary_token_; ///< Message-ID's and the boundaries' random parts
    std::optional<mailbox> from_, reply_to_;
    std::vector<mailbox> to_, cc_, bcc_; // bcc_: the envelope's only
    std::optional<std::string> subject_;
    std::chrono::system_clock::time_point date_;
    std::string message_id_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::optional<text_body> text_, html_;
    std::vector<part_ptr> attachments_;
    std::vector<std::pair<part_ptr, std::string>> embedded_;
};

SMTP_NAMESPACE_END

#endif

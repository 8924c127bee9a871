/// \file smtp/message.hpp
///
/// A message builder (RFC 5322 headers, MIME bodies), usable without the
/// client: the standard library and protocol/base64.hpp only. In three
/// files by job: mime.hpp (mailbox, attachment, the smtp::mime helpers),
/// message_reader.hpp (the bytes piece by piece), message_builder.hpp
/// (smtp::message); this header includes them all.
///
/// ```
///   smtp::message m;
///   m.from({"Author", "author@example.com"})
///    .to({"Doe, John", "john@example.com"})
///    .bcc({"", "archive@example.com"})        // envelope only, never a header
///    .subject("Grüße")
///    .text("Hello.\n")
///    .html("<p>Hello.</p>\n")
///    .attach(smtp::attachment::from_file("report.pdf", "application/pdf"));
///   std::string small = m.to_string();     // the whole message
///   m.write([](std::string_view piece) { ... });  // or piece by piece
///   auto r = m.reader();                   // read(buf, n) / rewind(): what
///   smtp::message_source src{r.read_function(), r.rewind_function()};
/// ```
///
/// Errors: every setter throws std::invalid_argument, naming the header, when
/// a value contains CR, LF or NUL (header injection), when a header name is
/// not printable ASCII without ':', or when an address holds '<' or '>'.
/// write(), to_string() and reader() throw std::invalid_argument for a word
/// that cannot be folded into 998 octets (an address that long), and the
/// writing throws std::runtime_error when an attachment's file cannot be
/// opened or read. One style, exceptions: there is no error_code form.
///
/// What it writes (docs/messages.md):
/// - Display names, Subject and custom headers: as they are when they are
///   printable ASCII; display names with RFC 5322 specials as a quoted-string;
///   anything else as RFC 2047 encoded-words (UTF-8, B or Q, whichever is
///   shorter), each at most 75 characters and holding whole characters.
///   Header lines folded at whitespace to at most 78 octets where possible,
///   never more than 998 (a longer word is an error).
/// - Text bodies: line ends made CRLF, then the transfer encoding by content:
///   - 7bit: only ASCII (no NUL) and no line over 998 octets;
///   - quoted-printable: otherwise, when at most 1 octet in 6 needs escaping
///     (8-bit or control octets): lines at most 76 characters;
///   - base64: otherwise (mostly non-ASCII or binary).
/// - Structure: text alone, or multipart/alternative (text, html); html with
///   embedded parts becomes multipart/related (html first, parts with
///   Content-ID); attachments make multipart/mixed around all of that.
/// - Attachments: base64 in lines of 76; a file or a reader callback is read
///   and encoded 57 KiB at a time, never whole. Filenames: filename="..."
///   when ASCII, RFC 2231 filename*=utf-8''... otherwise.
/// - Boundaries: random ("=_" cannot occur in base64 or quoted-printable
///   text) and checked against every other octet of the message.
/// - Date and Message-ID, and the randomness, are fixed when the message is
///   made, so that every write (and every rewind) gives the same bytes.
#ifndef SMTP_MESSAGE_HPP
#define SMTP_MESSAGE_HPP

#include <smtp/message_builder.hpp>
#include <smtp/message_reader.hpp>
#include <smtp/mime.hpp>

#endif

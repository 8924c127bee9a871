// The sans-I/O core on its own: parse a server's EHLO reply as it might
// arrive from a socket (in pieces), read the capabilities, write the commands
// of a transaction and dot-stuff a message. No network involved: the bytes
// come from strings and go to std::cout, where CR and LF are shown as \r\n.
#include <smtp/protocol.hpp>

#include <iostream>
#include <string>
#include <string_view>

namespace {
/// The bytes as they would go on the wire, CR and LF made visible: one
/// output line per CRLF.
std::string visible(std::string_view bytes)
{
    std::string out;
    for (char ch : bytes)
        out += ch == '\r' ? std::string("\\r") : ch == '\n' ? std::string("\\n\n") : std::string(1, ch);
    return out;
}
} // namespace

int main()
{
    // What a server sent, split as a socket might deliver it.
    const std::string_view pieces[] = {"250-mail.example.org Hello\r\n250-PIPE", "LINING\r\n250-SIZE 35882577\r\n",
                                       "250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"};
    //! [put]
    std::string received; // the caller owns the bytes
    smtp::reply_parser parser;
    smtp::reply_view reply;
    smtp::error_code ec;
    std::size_t used = 0;
    for (auto piece : pieces) {
        received += piece;                      // all that is not consumed yet, from its first byte
        used = parser.put(received, reply, ec); // a whole reply's length, or 0 with need_more or an error
        if (ec != smtp::errc::need_more)
            break;
    }
    //! [put]
    if (ec) {
        std::cerr << "bad reply: " << ec.message() << '\n';
        return 1;
    }
    std::cout << "reply " << reply.code() << ", " << reply.line_count() << " lines, " << used << " bytes\n";

    const auto caps = smtp::capabilities::from_ehlo(reply);
    std::cout << "server: " << caps.server_name() << '\n'
              << "pipelining: " << caps.has<smtp::ext::pipelining>() << '\n'
              << "size limit: " << caps.size_limit().value_or(0) << '\n'
              << "AUTH PLAIN: " << caps.get<smtp::ext::auth>()->contains("PLAIN") << '\n'
              << "has_extn(\"smtputf8\"): " << caps.has_extn("smtputf8") << '\n';

    // Pipelined replies arrive together: parse the whole burst at once, the
    // way the client does. Either form gives the replies in order, and stops
    // at the first error or where the input ends inside a reply.
    const std::string burst = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No such user\r\n354 Go ahead\r\n";
    //! [put_many]
    // Push: on_reply(const reply_view&) for each whole reply; a bool result of false stops.
    std::size_t consumed = parser.put_many(burst, [&](const smtp::reply_view& r) { std::cout << r.code() << ' '; }, ec);
    //! [put_many]
    std::cout << "(" << consumed << " of " << burst.size() << " bytes, " << ec.message() << ")\n";
    //! [cursor]
    // Pull: one reply per next().
    smtp::reply_parser::cursor c(parser, burst);
    smtp::reply_view r;
    while (c.next(r, ec))
        std::cout << r.code() << ' ';
    consumed = c.consumed(); // whole replies only; ec says why it stopped (need_more: wait for more bytes)
    //! [cursor]
    std::cout << "(" << consumed << " of " << burst.size() << " bytes, " << ec.message() << ")\n";

    // The commands of one transaction, validated before a byte is written.
    std::string out;
    const smtp::esmtp_param size[] = {{"SIZE", "42"}};
    smtp::serialize(smtp::cmd::mail_from{"author@example.com", size}, out);
    smtp::serialize(smtp::cmd::rcpt_to{"recipient@example.com"}, out);
    smtp::serialize(smtp::cmd::data{}, out);
    std::cout << visible(out);

    // A bad argument is refused with the field named, and nothing is written.
    smtp::diagnostics diag;
    smtp::serialize(smtp::cmd::rcpt_to{"victim@example.com>\r\nRCPT TO:<other@example.com"}, out, ec, diag);
    std::cout << "refused: " << diag.describe(ec) << '\n';

    //! [encode]
    // A message in pieces (as it might be read from a file) that tries to end
    // the data early, with a lone "." line split across two pieces, and to
    // smuggle in a second transaction.
    const std::string_view message[] = {"Subject: hi\n\nHello\r", "\n.\r", "\nMAIL FROM:<eve@example.com>\n", ".\nBye"};
    smtp::data_encoder encoder; // line ends made CRLF; a bare CR or LF refused with line_endings::reject
    std::string data;
    for (auto piece : message) {
        encoder.encode(piece, data, ec); // appends; a line start or a CR carries over to the next piece
        if (ec)
            break; // a line over 998 octets: do not end the data (nothing is sent yet here)
    }
    if (!ec)
        encoder.finish(data, ec); // CRLF if the last line is open, then ".\r\n": the one end of data
    //! [encode]
    std::cout << visible(data);

    // The same in one call, for a message held whole.
    std::cout << visible(smtp::data_encoder::encode_message("Hello\n.\nBye"));
}

// Builds a message with smtp::message (smtp/message.hpp) and prints it:
// a UTF-8 sender, a display name that needs quoting, a plain and an html
// body, an image the html shows inline and an attachment. The builder
// needs neither the client nor a network; sending the result is
// `server.sendmail(from, to, m.to_string())`, or m.reader() as a
// smtp::message_source for messages too large to hold in memory.
//
//   build_message            (prints the message on stdout, CRLF line ends)
#include <smtp/message.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <string_view>

int main()
{
    using namespace std::chrono;
    // A seed and a date make the output reproducible; without them the
    // boundaries and the Message-ID are random and the date is now.
    smtp::message m(2026);
    m.from({"Jörg Müller", "joerg@example.com"})
        .to({"Doe, John", "john@example.com"})
        .cc({"", "archive@example.com"})
        .subject("Grüße: the quarterly report")
        .date(sys_days{year{2026} / 11 / 28} + hours{20} + minutes{8} + seconds{45})
        .header("X-Mailer", "smtp::message example")
        .text("Hello John,\n\nthe report is attached.\n")
        .html("<p>Hello John,</p>\n<p>the report is attached. <img src=\"cid:logo@example.com\"></p>\n")
        .embed(smtp::attachment::from_memory("logo.gif", "image/gif", std::string("GIF89a\x01\x00\x01\x00", 10)),
               "logo@example.com")
        .attach(smtp::attachment::from_memory("Übersicht.csv", "text/csv", "quarter;total\r\nQ4;42\r\n"));
    // A large file would be: .attach(smtp::attachment::from_file("report.pdf", "application/pdf"))
    // read and encoded piece by piece when the message is written.

    m.write([](std::string_view piece) { std::cout << piece; });
}

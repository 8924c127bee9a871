// A program of a project that uses smtp (tests/packaging/): one message through
// the scripted transport, and the bytes the client wrote checked. It is built
// the four ways a user gets the library (find_package after an install,
// add_subdirectory, FetchContent, pkg-config); SMTP_EXPECTED_VERSION is the
// version the build system said it found.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>
#include <smtp/version.hpp>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>

int main()
{
    if (std::strcmp(SMTP_VERSION_STRING, SMTP_EXPECTED_VERSION) != 0) {
        std::cerr << "headers say " << SMTP_VERSION_STRING << ", the build system " << SMTP_EXPECTED_VERSION << "\n";
        return 1;
    }
    auto script = std::make_shared<smtp::transport::script>();
    script->respond("220 mx.example ready\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250 8BITMIME\r\n")
        .expect("MAIL FROM:<author@example.com>\r\n")
        .respond("250 OK\r\n")
        .expect("RCPT TO:<recipient@example.com>\r\n")
        .respond("250 OK\r\n")
        .expect("DATA\r\n")
        .respond("354 go ahead\r\n")
        .expect("Subject: hi\r\n\r\nHello\r\n..dot\r\n.\r\n")
        .respond("250 queued\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");

    smtp::connect_options options;
    options.local_name = "client.example";
    using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
    try {
        auto session = smtp::connect<P>(options, script).ehlo();
        const auto result =
            session.sendmail("author@example.com", {"recipient@example.com"}, "Subject: hi\n\nHello\n.dot\n");
        if (!result.refused().empty())
            throw std::runtime_error("a recipient was refused");
        std::move(session).quit();
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n" << script->log() << "\n";
        return 1;
    }
    const std::string expected = "EHLO client.example\r\n"
                                 "MAIL FROM:<author@example.com>\r\n"
                                 "RCPT TO:<recipient@example.com>\r\n"
                                 "DATA\r\n"
                                 "Subject: hi\r\n\r\nHello\r\n..dot\r\n.\r\n"
                                 "QUIT\r\n";
    if (!script->done() || script->written() != expected) {
        std::cerr << "the client wrote:\n" << script->written() << "\n" << script->log() << "\n";
        return 1;
    }
    std::cout << "smtp " << SMTP_VERSION_STRING << ": " << script->written().size() << " bytes as expected\n";
    return 0;
}

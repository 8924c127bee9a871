// smtplib_sendmail.py (PyMOTW) in C++: build a message, send it to a local
// debugging server, and show the conversation the way smtplib's
// set_debuglevel(True) does, on stderr.
//
//   sendmail [HOST [PORT]]          (default: localhost 1025)
//
// `./run demo` starts such a server on 127.0.0.1:1025 and runs this.
#include <smtp/client.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv)
{
    // The message: complete, with its own headers. smtplib (and this
    // library) sends it as it is; only the envelope says where it goes.
    const std::string message = "Content-Type: text/plain; charset=\"us-ascii\"\n"
                                "MIME-Version: 1.0\n"
                                "Content-Transfer-Encoding: 7bit\n"
                                "To: Recipient <recipient@example.com>\n"
                                "From: Author <author@example.com>\n"
                                "Subject: Simple test message\n"
                                "\n"
                                "This is the body of the message.\n";

    smtp::connect_options options;
    options.host = argc > 1 ? argv[1] : "localhost";
    const int port = argc > 2 ? std::atoi(argv[2]) : 1025;
    if (argc > 3 || port < 1 || port > 65535) {
        std::cerr << "usage: sendmail [HOST [PORT]]\n";
        return 2;
    }
    options.port = static_cast<std::uint16_t>(port);

    // tls::none: the server is a plaintext debugging server on this machine
    // (aiosmtpd's Debugging handler, like Python's old smtpd DebuggingServer),
    // so there is no TLS to start. Never use it for a real mail server: the
    // default, tls::starttls, refuses to send anything in clear.
    // log::transcript: smtplib's debug output; smtplib prints it on stderr.
    using P = smtp::policies<smtp::tls::none, smtp::log::transcript>;
    try {
        auto server = smtp::connect<P>(options, smtp::log::transcript(std::cerr)).ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        server.sendmail("author@example.com", {"recipient@example.com"}, message, ec, diag);
        if (ec) { // smtplib's `finally: server.quit()`, keeping the first error
            std::cerr << "sendmail: " << diag.describe(ec) << '\n';
            std::move(server).quit(ec, diag);
            return 1;
        }
        std::move(server).quit();
    } catch (const std::exception& e) {
        std::cerr << "sendmail: " << e.what() << '\n';
        return 1;
    }
}

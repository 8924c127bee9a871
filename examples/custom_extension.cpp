// An SMTP extension the library does not know, added from outside it:
// MT-PRIORITY (RFC 6710), defined in mt_priority.hpp. A session built with
// the smtp::extensions<mt_priority> policy plans every message's MAIL FROM
// with it; the message says what it wants through send_options.
//
//   custom_extension HOST PORT PRIORITY required|if-offered
//
// required:   a server that does not offer MT-PRIORITY gets nothing: the
//             message is refused before a byte of it is sent (exit 1).
// if-offered: MT-PRIORITY=n goes on MAIL FROM when the server offers it;
//             otherwise the message is sent without it.
#include "mt_priority.hpp"

#include <smtp/client.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

int main(int argc, char** argv)
{
    const int port = argc == 5 ? std::atoi(argv[2]) : 0;
    const std::string_view mode = argc == 5 ? argv[4] : "";
    if (port < 1 || port > 65535 || (mode != "required" && mode != "if-offered")) {
        std::cerr << "usage: custom_extension HOST PORT PRIORITY required|if-offered\n";
        return 2;
    }
    smtp::connect_options options;
    options.host = argv[1];
    options.port = static_cast<std::uint16_t>(port);

    //! [use]
    // The message's request: its priority, and whether it may go without.
    smtp::send_options send;
    send.set<mt_priority>({std::atoi(argv[3]), mode == "required"});

    // tls::none: a test server on this machine. The extensions policy adds
    // mt_priority to the built-in extensions (SIZE, 8BITMIME, DSN, ...).
    using P = smtp::policies<smtp::tls::none, smtp::extensions<mt_priority>>;
    //! [use]
    try {
        auto server = smtp::connect<P>(options).ehlo();
        // The session's record knows mt_priority through the policy.
        if (const auto offered = server.server_capabilities().get<mt_priority>())
            std::cout << "the server offers MT-PRIORITY, policy '" << *offered << "'\n";
        else
            std::cout << "the server does not offer MT-PRIORITY\n";

        const std::vector<smtp::recipient> to{{"recipient@example.com"}};
        smtp::error_code ec;
        smtp::diagnostics diag;
        const auto r = server.sendmail("author@example.com", to, "Subject: priority\r\n\r\nHello.\r\n", send, ec, diag);
        if (ec) {
            std::cerr << "custom_extension: " << diag.describe(ec) << '\n';
            std::move(server).quit(ec, diag);
            return 1;
        }
        std::cout << "queued: " << r.final_reply.code().value() << '\n';
        std::move(server).quit();
    } catch (const std::exception& e) {
        std::cerr << "custom_extension: " << e.what() << '\n';
        return 1;
    }
}

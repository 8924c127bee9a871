// Trusting a private CA: a server whose certificate was signed by your own
// CA (a company's, a test PKI's) rather than by one of the roots the system
// trusts. connect_options::tls.ca_file names a PEM file of the CAs to trust; the
// chain and the host name are still checked, and STARTTLS is still required.
//
//   private_ca HOST PORT [CA_FILE]      (no CA_FILE: the system's trust store)
//
// The tests run it against a STARTTLS server whose certificate their own CA
// signed: with that CA's file it sends, without it the handshake fails.
#include <smtp/client.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv)
{
    const int port = argc > 2 ? std::atoi(argv[2]) : 0;
    if (argc < 3 || argc > 4 || port < 1 || port > 65535) {
        std::cerr << "usage: private_ca HOST PORT [CA_FILE]\n";
        return 2;
    }
    try {
        //! [ca_file]
        //! [options]
        smtp::connect_options options;
        options.host = argv[1]; // the name the certificate must carry
        options.port = static_cast<std::uint16_t>(port);
        if (argc > 3)
            options.tls.ca_file = argv[3]; // PEM: the CAs to trust, instead of the system's store
        //! [options]

        // The default policies: STARTTLS required, the certificate verified.
        auto session = smtp::connect(options).ehlo().starttls().ehlo();
        session.sendmail("author@example.com", {"recipient@example.com"},
                         "Subject: over a private CA\r\n\r\nHello.\r\n");
        std::move(session).quit();
        //! [ca_file]
        std::cout << "sent over TLS, the certificate verified against "
                  << (options.tls.ca_file.empty() ? std::string("the system's store") : options.tls.ca_file) << '\n';
    } catch (const std::exception& e) {
        std::cerr << "private_ca: " << e.what() << '\n';
        return 1;
    }
}

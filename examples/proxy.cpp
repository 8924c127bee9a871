// Sending through a proxy: the same session, its STARTTLS and its
// certificate check, over a SOCKS5 proxy or an HTTP proxy's CONNECT.
//
//   proxy socks5|http PROXY_HOST PROXY_PORT MAIL_HOST MAIL_PORT [CA_FILE]
//
// It sends one message from author@example.com to recipient@example.com
// with STARTTLS (required: the default), the certificate checked against
// MAIL_HOST, not the proxy. With SMTP_PROXY_USER in the environment, the
// proxy's credentials are that user and SMTP_PROXY_PASSWORD.
#include <smtp/client.hpp>
#include <smtp/transport/http_connect.hpp>
#include <smtp/transport/socks5.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace {

const std::string message = "From: author@example.com\r\n"
                            "To: recipient@example.com\r\n"
                            "Subject: through a proxy\r\n"
                            "\r\n"
                            "Sent through a tunnel.\r\n";

/// The session over Transport, whatever the proxy: its options are the
/// transport's constructor arguments, given to connect after the options.
template <class Transport, class ProxyOptions>
void send(const smtp::connect_options& options, const ProxyOptions& proxy)
{
    //! [session]
    using P = smtp::policies<Transport>; // tls::starttls and tls::verify_peer: the defaults
    auto session = smtp::connect<P>(options, proxy).ehlo().starttls().ehlo();
    session.sendmail("author@example.com", {"recipient@example.com"}, message);
    std::move(session).quit();
    //! [session]
}

} // namespace

int main(int argc, char** argv)
{
    const std::string_view kind = argc > 1 ? argv[1] : "";
    const int proxy_port = argc > 3 ? std::atoi(argv[3]) : 0;
    const int mail_port = argc > 5 ? std::atoi(argv[5]) : 0;
    if (argc < 6 || argc > 7 || (kind != "socks5" && kind != "http") || proxy_port < 1 || proxy_port > 65535 ||
        mail_port < 1 || mail_port > 65535) {
        std::cerr << "usage: proxy socks5|http PROXY_HOST PROXY_PORT MAIL_HOST MAIL_PORT [CA_FILE]\n";
        return 2;
    }
    smtp::connect_options options;
    options.host = argv[4]; // the mail server: the proxy resolves it, the certificate must name it
    options.port = static_cast<std::uint16_t>(mail_port);
    if (argc > 6)
        options.tls.ca_file = argv[6];
    const char* user = std::getenv("SMTP_PROXY_USER");
    const char* password = std::getenv("SMTP_PROXY_PASSWORD");
    try {
        if (kind == "socks5") {
            //! [socks5]
            smtp::transport::socks5_options proxy;
            proxy.host = argv[2];
            proxy.port = static_cast<std::uint16_t>(proxy_port);
            if (user) { // RFC 1929, when the proxy asks for them
                proxy.username = user;
                proxy.password = password ? password : "";
            }
            send<smtp::transport::socks5<>>(options, proxy);
            //! [socks5]
        } else {
            //! [http]
            smtp::transport::http_proxy_options proxy;
            proxy.host = argv[2];
            proxy.port = static_cast<std::uint16_t>(proxy_port);
            if (user) { // Proxy-Authorization: Basic
                proxy.username = user;
                proxy.password = password ? password : "";
            }
            send<smtp::transport::http_connect<>>(options, proxy);
            //! [http]
        }
    } catch (const std::exception& e) {
        std::cerr << "proxy: " << e.what() << '\n';
        return 1;
    }
    std::cout << "sent through the " << (kind == "socks5" ? "SOCKS5" : "HTTP") << " proxy\n";
}

// The consumer in separate mode (tests/packaging/): linked with smtp::compiled,
// which brings SMTP_SEPARATE_COMPILATION and the compiled part (the driver,
// TCP and TLS, for the default transport), so this file reads no Asio and no
// OpenSSL header. It connects to a loopback port nobody listens on and checks
// the compiled connect's diagnostics.
#include <smtp/client.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <string>

#ifndef SMTP_SEPARATE_COMPILATION
#error "smtp::compiled defines SMTP_SEPARATE_COMPILATION"
#endif

namespace {
/// A loopback port that was free a moment ago (bound, then closed).
unsigned short closed_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        return 0;
    ::close(fd);
    return ntohs(a.sin_port);
}
} // namespace

int main()
{
    smtp::connect_options options;
    options.host = "127.0.0.1";
    options.port = closed_port();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto s = smtp::connect<smtp::policies<smtp::tls::implicit>>(options, ec, diag);
    const std::string said = diag.describe(ec);
    if (s || !ec || options.port == 0 || said.find("127.0.0.1") == std::string::npos) {
        std::cerr << "separate mode: expected a refused connect, got: " << said << "\n";
        return 1;
    }
    std::cout << "separate mode: " << said << "\n";
}

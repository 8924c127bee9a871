// benchmarks/loopback_listener.hpp — the listening socket of the benchmark's
// own servers (chunk_sink.cpp, tls_sink.cpp): 127.0.0.1:PORT (0: a free
// one), then "READY <port>" on stdout, which benchmarks/run_e2e.py waits for.
#ifndef SMTP_BENCHMARKS_LOOPBACK_LISTENER_HPP
#define SMTP_BENCHMARKS_LOOPBACK_LISTENER_HPP

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>

namespace bench {

/// The listening socket, after printing READY; -1 (and perror(who)) when it
/// cannot bind or listen.
inline int listen_loopback_ready(int port, const char* who)
{
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 16) != 0) {
        std::perror(who);
        return -1;
    }
    socklen_t len = sizeof a;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    std::printf("READY %d\n", ntohs(a.sin_port));
    std::fflush(stdout);
    return lfd;
}

} // namespace bench

#endif

// benchmarks/tls_sink.cpp — a minimal SMTP sink with STARTTLS, for the
// large-message benchmark (benchmarks/run_e2e.py). Written with OpenSSL
// directly so that the server side costs the same whichever client talks to
// it.
//
//   tls_sink --cert PEM --key KEY [--port 0] [--fork 1]   prints "READY PORT", serves until killed
//
// One connection at a time, blocking I/O (--fork 1: each in a child process,
// for many open sessions at once; the children share the parent's session
// ticket keys, so TLS 1.3 tickets one child issued resume in another). The dialogue: 220; EHLO/HELO
// (PIPELINING, 8BITMIME, SIZE, and STARTTLS before TLS, AUTH PLAIN after);
// STARTTLS -> 220 and the handshake (what was received before it is
// dropped); AUTH (after TLS, any credentials) -> 235; MAIL, RCPT,
// RSET, NOOP -> 250; DATA -> 354, then the data is drained until CRLF.CRLF
// (searched with memmem, across reads) and answered 250; QUIT -> 221.
// Replies are buffered and flushed before each blocking read, so pipelined
// commands get their replies in one write (as Postfix does). Each
// connection's TLS version and cipher go to stderr.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "loopback_listener.hpp"

namespace {

class connection {
public:
    connection(int fd, SSL_CTX* ctx) : fd_(fd), ctx_(ctx), buf_(256 * 1024) {}
    ~connection()
    {
        if (ssl_) {
            SSL_shutdown(ssl_);
            SSL_free(ssl_);
        }
        ::close(fd_);
    }

    void serve()
    {
        reply("220 tls-sink ESMTP\r\n");
        std::string line;
        while (next_line(line)) {
            std::string verb = line.substr(0, line.find_first_of(" \r\n"));
            for (auto& c : verb)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            if (verb == "EHLO" || verb == "HELO") {
                reply("250-tls-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n");
                reply(ssl_ ? "250-SIZE 1073741824\r\n250 AUTH PLAIN\r\n" : "250-SIZE 1073741824\r\n250 STARTTLS\r\n");
            } else if (verb == "AUTH" && ssl_) {
                // AUTH PLAIN, any credentials (the set-up benchmark): with an
                // initial response one round trip, without it two.
                if (line.find_first_not_of(" \r\n", 10) == std::string::npos) {
                    reply("334 \r\n");
                    if (!next_line(line))
                        return;
                }
                reply("235 2.7.0 Authentication successful\r\n");
            } else if (verb == "STARTTLS" && !ssl_) {
                reply("220 2.0.0 Ready to start TLS\r\n");
                if (!flush())
                    return;
                in_.clear(); // RFC 3207 4.2: nothing received before the handshake counts
                pos_ = 0;
                ssl_ = SSL_new(ctx_);
                SSL_set_fd(ssl_, fd_);
                if (SSL_accept(ssl_) != 1) {
                    std::fprintf(stderr, "tls_sink: handshake failed\n");
                    return;
                }
                std::fprintf(stderr, "tls_sink: %s %s\n", SSL_get_version(ssl_), SSL_get_cipher_name(ssl_));
            } else if (verb == "MAIL" || verb == "RCPT" || verb == "RSET" || verb == "NOOP") {
                reply("250 2.0.0 Ok\r\n");
            } else if (verb == "DATA") {
                reply("354 End data with <CR><LF>.<CR><LF>\r\n");
                if (!flush() || !drain())
                    return;
                reply("250 2.0.0 Ok: queued\r\n");
            } else if (verb == "QUIT") {
                reply("221 2.0.0 Bye\r\n");
                flush();
                return;
            } else {
                reply("502 5.5.2 Error: command not recognized\r\n");
            }
        }
    }

private:
    void reply(std::string_view r) { out_.append(r); }

    bool flush()
    {
        std::string_view b = out_;
        while (!b.empty()) {
            const int w = ssl_ ? SSL_write(ssl_, b.data(), static_cast<int>(b.size()))
                               : static_cast<int>(::write(fd_, b.data(), b.size()));
            if (w <= 0)
                return false;
            b.remove_prefix(static_cast<std::size_t>(w));
        }
        out_.clear();
        return true;
    }

    int read_some(char* b, std::size_t n)
    {
        return ssl_ ? SSL_read(ssl_, b, static_cast<int>(n)) : static_cast<int>(::read(fd_, b, n));
    }

    /// The next command line (CRLF stripped); false at the end of the connection.
    bool next_line(std::string& line)
    {
        for (;;) {
            const auto nl = in_.find('\n', pos_);
            if (nl != std::string::npos) {
                line.assign(in_, pos_, nl + 1 - pos_);
                pos_ = nl + 1;
                return true;
            }
            in_.erase(0, pos_);
            pos_ = 0;
            if (!flush())
                return false;
            const int r = read_some(buf_.data(), buf_.size());
            if (r <= 0)
                return false;
            in_.append(buf_.data(), static_cast<std::size_t>(r));
        }
    }

    /// Discards the message data up to and including CRLF.CRLF (the CRLF
    /// that ended DATA counts as the first one); what follows stays in in_.
    bool drain()
    {
        static constexpr char end[] = "\r\n.\r\n";
        std::string tail = "\r\n"; // the last (at most 4) octets seen
        auto scan = [&](const char* p, std::size_t n) -> std::ptrdiff_t {
            // Across the boundary: tail + the first 4 octets.
            std::string joint = tail;
            joint.append(p, std::min<std::size_t>(n, 4));
            const auto j = joint.find(std::string_view(end, 5));
            if (j != std::string::npos)
                return static_cast<std::ptrdiff_t>(j + 5 - tail.size());
            if (const void* m = ::memmem(p, n, end, 5))
                return static_cast<const char*>(m) - p + 5;
            joint = tail;
            joint.append(p + (n > 4 ? n - 4 : 0), std::min<std::size_t>(n, 4));
            tail = joint.substr(joint.size() > 4 ? joint.size() - 4 : 0);
            return -1;
        };
        // What came with the commands first.
        if (pos_ < in_.size()) {
            const std::ptrdiff_t e = scan(in_.data() + pos_, in_.size() - pos_);
            if (e >= 0) {
                pos_ += static_cast<std::size_t>(e);
                return true;
            }
        }
        in_.clear();
        pos_ = 0;
        for (;;) {
            const int r = read_some(buf_.data(), buf_.size());
            if (r <= 0)
                return false;
            const std::ptrdiff_t e = scan(buf_.data(), static_cast<std::size_t>(r));
            if (e >= 0) {
                in_.assign(buf_.data() + e, static_cast<std::size_t>(r - e));
                return true;
            }
        }
    }

    int fd_;
    SSL_CTX* ctx_;
    SSL* ssl_ = nullptr;
    std::vector<char> buf_;
    std::string in_;
    std::size_t pos_ = 0;
    std::string out_;
};

} // namespace

int main(int argc, char** argv)
{
    std::string cert, key;
    int port = 0;
    bool fork_each = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--cert")
            cert = argv[i + 1];
        else if (k == "--key")
            key = argv[i + 1];
        else if (k == "--port")
            port = std::atoi(argv[i + 1]);
        else if (k == "--fork")
            fork_each = std::atoi(argv[i + 1]) != 0;
    }
    if (cert.empty() || key.empty()) {
        std::fprintf(stderr, "usage: tls_sink --cert PEM --key KEY [--port PORT]\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    if (fork_each)
        ::signal(SIGCHLD, SIG_IGN); // no zombies
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    const int lfd = bench::listen_loopback_ready(port, "tls_sink: bind/listen");
    if (lfd < 0)
        return 1;
    for (;;) {
        const int fd = ::accept(lfd, nullptr, nullptr);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            std::perror("tls_sink: accept");
            return 1;
        }
        // Replies at once: after the handshake OpenSSL sends its session
        // tickets, and Nagle's algorithm would hold the next reply (EHLO's)
        // behind them until the client's delayed ACK, up to 40 ms later.
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fork_each) {
            const pid_t child = ::fork();
            if (child == 0) {
                ::close(lfd);
                connection(fd, ctx).serve();
                std::_Exit(0);
            }
            ::close(fd);
            continue;
        }
        connection(fd, ctx).serve();
    }
}

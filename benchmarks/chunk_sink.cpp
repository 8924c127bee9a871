// benchmarks/chunk_sink.cpp — a minimal plaintext SMTP sink that offers
// CHUNKING, for the windowed-BDAT benchmark (benchmarks/run_e2e.py): cheap,
// so that what is measured is the client and the round trips, not the server.
//
//   chunk_sink [--port 0]     prints "READY PORT", serves until killed
//
// One connection at a time, blocking I/O. The dialogue: 220; EHLO/HELO
// (PIPELINING, CHUNKING, 8BITMIME, SIZE); MAIL, RCPT, RSET, NOOP -> 250;
// BDAT n [LAST] -> n octets drained (from what is buffered, then from the
// socket), then 250; DATA -> 354, the data drained up to CRLF.CRLF, then
// 250; QUIT -> 221. Replies are buffered and flushed before each blocking
// read, so a window of pipelined transactions gets its replies in one write
// (as Postfix does). Messages and octets taken go to stderr at each close.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
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
    explicit connection(int fd) : fd_(fd), buf_(256 * 1024) {}
    ~connection()
    {
        std::fprintf(stderr, "chunk_sink: %llu messages, %llu octets\n", static_cast<unsigned long long>(messages_),
                     static_cast<unsigned long long>(octets_));
        ::close(fd_);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void serve()
    {
        reply("220 chunk-sink ESMTP\r\n");
        std::string line;
        while (next_line(line)) {
            std::string verb = line.substr(0, line.find_first_of(" \r\n"));
            for (auto& c : verb)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            if (verb == "EHLO" || verb == "HELO") {
                reply("250-chunk-sink\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SIZE 1073741824\r\n");
            } else if (verb == "MAIL" || verb == "RCPT" || verb == "RSET" || verb == "NOOP") {
                reply("250 2.0.0 Ok\r\n");
            } else if (verb == "BDAT") {
                char* end = nullptr;
                const char* arg = line.c_str() + 4;
                const unsigned long long n = std::strtoull(arg, &end, 10);
                if (end == arg) {
                    reply("501 5.5.4 Syntax: BDAT count [LAST]\r\n");
                    continue;
                }
                const bool last = std::string_view(end).find("LAST") != std::string_view::npos;
                if (!skip(n))
                    return;
                octets_ += n;
                if (last) {
                    ++messages_;
                    reply("250 2.0.0 Ok: queued\r\n");
                } else {
                    reply("250 2.0.0 Ok: chunk\r\n");
                }
            } else if (verb == "DATA") {
                reply("354 End data with <CR><LF>.<CR><LF>\r\n");
                if (!flush() || !drain_dot())
                    return;
                ++messages_;
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
            const ssize_t w = ::write(fd_, b.data(), b.size());
            if (w <= 0)
                return false;
            b.remove_prefix(static_cast<std::size_t>(w));
        }
        out_.clear();
        return true;
    }

    /// Reads more into in_ (replies flushed first); false at the end of the connection.
    bool fill()
    {
        in_.erase(0, pos_);
        pos_ = 0;
        if (!flush())
            return false;
        const ssize_t r = ::read(fd_, buf_.data(), buf_.size());
        if (r <= 0)
            return false;
        in_.append(buf_.data(), static_cast<std::size_t>(r));
        return true;
    }

    /// The next command line (CRLF included); false at the end of the connection.
    bool next_line(std::string& line)
    {
        for (;;) {
            const auto nl = in_.find('\n', pos_);
            if (nl != std::string::npos) {
                line.assign(in_, pos_, nl + 1 - pos_);
                pos_ = nl + 1;
                return true;
            }
            if (!fill())
                return false;
        }
    }

    /// Discards n octets: what is buffered, then straight from the socket.
    bool skip(unsigned long long n)
    {
        const std::size_t have = std::min<unsigned long long>(n, in_.size() - pos_);
        pos_ += have;
        n -= have;
        while (n > 0) {
            const ssize_t r = ::read(fd_, buf_.data(), buf_.size());
            if (r <= 0)
                return false;
            const std::size_t got = static_cast<std::size_t>(r);
            if (got > n) { // the next commands came with the chunk's end
                in_.assign(buf_.data() + n, got - n);
                pos_ = 0;
                n = 0;
            } else {
                n -= got;
            }
        }
        return true;
    }

    /// Discards the message data up to and including CRLF.CRLF (the CRLF
    /// that ended DATA counts as the first one); what follows stays in in_.
    bool drain_dot()
    {
        in_.erase(0, pos_);
        pos_ = 0;
        std::size_t from = 0;
        std::string joint = "\r\n" + in_; // the CRLF that ended DATA, then the data
        for (;;) {
            const auto e = joint.find("\r\n.\r\n", from);
            if (e != std::string::npos) {
                in_ = joint.substr(e + 5);
                return true;
            }
            // Keep only the last 4 octets: the end may straddle reads.
            if (joint.size() > 4)
                joint.erase(0, joint.size() - 4);
            from = 0;
            const ssize_t r = ::read(fd_, buf_.data(), buf_.size());
            if (r <= 0)
                return false;
            octets_ += static_cast<std::size_t>(r);
            joint.append(buf_.data(), static_cast<std::size_t>(r));
        }
    }

    int fd_;
    std::vector<char> buf_;
    std::string in_;
    std::size_t pos_ = 0;
    std::string out_;
    std::uint64_t messages_ = 0, octets_ = 0;
};

} // namespace

int main(int argc, char** argv)
{
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::string_view(argv[i]) == "--port")
            port = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: chunk_sink [--port PORT]\n");
            return 2;
        }
    }
    ::signal(SIGPIPE, SIG_IGN);
    const int lfd = bench::listen_loopback_ready(port, "chunk_sink: bind/listen");
    if (lfd < 0)
        return 1;
    const int one = 1;
    for (;;) {
        const int fd = ::accept(lfd, nullptr, nullptr);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            std::perror("chunk_sink: accept");
            return 1;
        }
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        connection(fd).serve();
    }
}

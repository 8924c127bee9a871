// benchmarks/latency_proxy.cpp — a TCP proxy that adds a fixed one-way delay
// each way, for the round-trip benchmarks (benchmarks/e2e_rtt.py): this
// kernel has no netem, so the latency of a relay milliseconds away is made
// here, in user space.
//
//   latency_proxy --target PORT [--port 0] [--delay-us D] [--connect-delay-us C]
//       prints "READY PORT", serves until killed
//
// Each accepted connection (on 127.0.0.1) is connected to 127.0.0.1:TARGET.
// Bytes read from one side at time t are written to the other at t + D:
// order kept, no bandwidth cap, TCP_NODELAY on both sides, an end of stream
// passed on (shutdown) after the same delay. The round trip seen by a
// client is therefore 2 D plus loopback's own.
//
// A TCP handshake cannot be delayed from user space (the kernel completes
// it before accept), so the proxy models it: the connection to the target
// starts C after the accept (default 3 D: a real server accepts 1.5 RTT
// after the client's SYN), and the greeting reaches the client 2 RTT after
// its connect(), as across a real network. The client's connect() itself
// returns at once; what it sends meanwhile waits, in order.
//
// One thread, epoll, one timerfd for the earliest due write; each direction
// a FIFO of (due time, bytes), since the delay is the same for every byte.
// A direction holding more than 16 MiB stops reading its source until it
// drains (memory stays bounded; at the delays used here it never happens).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using ns = std::int64_t;

ns now()
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<ns>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const char* what)
{
    std::fprintf(stderr, "latency_proxy: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

void nodelay(int fd)
{
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct chunk {
    ns due;
    std::string bytes; // empty: the end of the stream
};

constexpr std::size_t high_water = 16u << 20;

// One direction: bytes read from `from`, written to `to` when due.
struct direction {
    int from = -1;
    int to = -1;
    std::deque<chunk> queue;
    std::size_t queued = 0;  // bytes in queue
    std::size_t offset = 0;  // of queue.front() already written
    bool read_done = false;  // EOF read (its marker is queued)
    bool write_done = false; // EOF passed on, or the peer failed
    bool blocked = false;    // the last write would block: wait for EPOLLOUT
};

struct connection {
    int client = -1;
    int upstream = -1;
    bool connected = false; // to the target
    ns connect_at = 0;
    direction up;   // client -> target
    direction down; // target -> client
};

class proxy {
public:
    proxy(int port, int target, ns delay, ns connect_delay)
        : target_(target), delay_(delay), connect_delay_(connect_delay)
    {
        listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listen_ < 0)
            die("socket");
        const int one = 1;
        ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_, 1024) != 0)
            die("bind/listen");
        socklen_t len = sizeof a;
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        ep_ = ::epoll_create1(EPOLL_CLOEXEC);
        timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (ep_ < 0 || timer_ < 0)
            die("epoll/timerfd");
        add(listen_, EPOLLIN);
        add(timer_, EPOLLIN);
    }

    int port() const { return port_; }

    [[noreturn]] void run()
    {
        std::vector<epoll_event> events(256);
        for (;;) {
            arm_timer();
            const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                die("epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                const int fd = events[static_cast<std::size_t>(i)].data.fd;
                const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
                if (fd == listen_)
                    accept_all();
                else if (fd == timer_) {
                    std::uint64_t expirations = 0;
                    [[maybe_unused]] auto r = ::read(timer_, &expirations, sizeof expirations);
                } else
                    on_socket(fd, ev);
            }
            run_due();
        }
    }

private:
    void add(int fd, std::uint32_t ev)
    {
        epoll_event e{};
        e.events = ev;
        e.data.fd = fd;
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e) != 0)
            die("epoll_ctl add");
    }

    void accept_all()
    {
        for (;;) {
            const int fd = ::accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                return;
            nodelay(fd);
            auto c = std::make_shared<connection>();
            c->client = fd;
            c->connect_at = now() + connect_delay_;
            c->up.from = fd;
            c->down.to = fd;
            by_fd_[fd] = c;
            conns_.push_back(c);
            add(fd, EPOLLIN | EPOLLOUT | EPOLLET);
            if (connect_delay_ == 0)
                start_connect(*c);
        }
    }

    void start_connect(connection& c)
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket");
        nodelay(fd);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(target_));
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
            std::fprintf(stderr, "latency_proxy: connect to %d: %s\n", target_, std::strerror(errno));
            ::close(fd);
            close_connection(c);
            return;
        }
        c.upstream = fd;
        c.connected = true; // writes before the connection completes get EAGAIN, then EPOLLOUT
        c.up.to = fd;
        c.down.from = fd;
        by_fd_[fd] = by_fd_[c.client];
        add(fd, EPOLLIN | EPOLLOUT | EPOLLET);
    }

    void on_socket(int fd, std::uint32_t ev)
    {
        auto it = by_fd_.find(fd);
        if (it == by_fd_.end())
            return;
        auto c = it->second; // keeps it alive through close_connection
        if (ev & EPOLLOUT) {
            if (c->up.to == fd)
                c->up.blocked = false;
            if (c->down.to == fd)
                c->down.blocked = false;
        }
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            if (c->up.from == fd)
                read_side(*c, c->up);
            if (c->down.from == fd)
                read_side(*c, c->down);
        }
    }

    void read_side(connection& c, direction& d)
    {
        char buf[65536];
        while (!d.read_done && d.queued < high_water) {
            const ssize_t n = ::read(d.from, buf, sizeof buf);
            if (n > 0) {
                d.queue.push_back({now() + delay_, std::string(buf, static_cast<std::size_t>(n))});
                d.queued += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            if (n < 0 && errno == EINTR)
                continue;
            // EOF or an error: pass the end on, after the same delay.
            d.read_done = true;
            d.queue.push_back({now() + delay_, std::string()});
        }
        (void)c;
    }

    // Writes what is due on every direction; starts the connections due.
    void run_due()
    {
        const ns t = now();
        for (std::size_t i = 0; i < conns_.size(); ++i) {
            auto c = conns_[i];
            if (!c->connected && c->client >= 0 && c->connect_at <= t)
                start_connect(*c);
            if (c->connected) {
                write_due(*c, c->up, t);
                write_due(*c, c->down, t);
                // A direction that stopped at the high-water mark resumes reading.
                if (!c->up.read_done && c->up.queued < high_water / 2 && c->client >= 0)
                    read_side(*c, c->up);
                if (!c->down.read_done && c->down.queued < high_water / 2 && c->upstream >= 0)
                    read_side(*c, c->down);
            }
            if ((c->up.write_done && c->down.write_done) || c->client < 0)
                close_connection(*c);
        }
        std::erase_if(conns_, [](const auto& c) { return c->client < 0; });
    }

    void write_due(connection& c, direction& d, ns t)
    {
        while (!d.write_done && !d.blocked && !d.queue.empty() && d.queue.front().due <= t) {
            chunk& front = d.queue.front();
            if (front.bytes.empty()) { // the end of the stream
                ::shutdown(d.to, SHUT_WR);
                d.write_done = true;
                d.queue.clear();
                d.queued = 0;
                return;
            }
            const ssize_t n = ::send(d.to, front.bytes.data() + d.offset, front.bytes.size() - d.offset,
                                     MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN || errno == EINPROGRESS) {
                    d.blocked = true;
                    return;
                }
                if (errno == EINTR)
                    continue;
                // The receiver is gone: so is this connection.
                d.write_done = true;
                close_connection(c);
                return;
            }
            d.offset += static_cast<std::size_t>(n);
            if (d.offset == front.bytes.size()) {
                d.queued -= front.bytes.size();
                d.offset = 0;
                d.queue.pop_front();
            }
        }
    }

    void close_connection(connection& c)
    {
        for (int* fd : {&c.client, &c.upstream}) {
            if (*fd >= 0) {
                ::epoll_ctl(ep_, EPOLL_CTL_DEL, *fd, nullptr);
                by_fd_.erase(*fd);
                ::close(*fd);
                *fd = -1;
            }
        }
        c.up.write_done = c.down.write_done = true;
        c.up.read_done = c.down.read_done = true;
        c.connected = false;
    }

    // The timer fires at the earliest due chunk or connection start (none: disarmed).
    void arm_timer()
    {
        ns next = 0;
        auto consider = [&](ns due) {
            if (next == 0 || due < next)
                next = due;
        };
        for (const auto& c : conns_) {
            if (!c->connected && c->client >= 0)
                consider(c->connect_at);
            for (const direction* d : {&c->up, &c->down})
                if (c->connected && !d->write_done && !d->blocked && !d->queue.empty())
                    consider(d->queue.front().due);
        }
        itimerspec its{};
        if (next != 0) {
            const ns at = std::max<ns>(next, 1);
            its.it_value.tv_sec = static_cast<time_t>(at / 1000000000);
            its.it_value.tv_nsec = static_cast<long>(at % 1000000000);
        }
        if (next != 0 && next <= now()) { // already due: a zero timer would disarm, so fire in 1 ns
            const ns t = now() + 1;
            its.it_value.tv_sec = static_cast<time_t>(t / 1000000000);
            its.it_value.tv_nsec = static_cast<long>(t % 1000000000);
        }
        ::timerfd_settime(timer_, TFD_TIMER_ABSTIME, &its, nullptr);
    }

    int target_;
    ns delay_;
    ns connect_delay_;
    int port_ = 0;
    int listen_ = -1;
    int ep_ = -1;
    int timer_ = -1;
    std::vector<std::shared_ptr<connection>> conns_;
    std::unordered_map<int, std::shared_ptr<connection>> by_fd_;
};

long long flag(int argc, char** argv, const char* name, long long fallback, bool required = false)
{
    for (int i = 1; i + 1 < argc; i += 2)
        if (std::strcmp(argv[i], name) == 0) {
            char* end = nullptr;
            const long long v = std::strtoll(argv[i + 1], &end, 10);
            if (*argv[i + 1] == '\0' || *end != '\0' || v < 0) {
                std::fprintf(stderr, "latency_proxy: %s wants a number >= 0, not '%s'\n", name, argv[i + 1]);
                std::exit(2);
            }
            return v;
        }
    if (required) {
        std::fprintf(stderr, "usage: latency_proxy --target PORT [--port 0] [--delay-us D] [--connect-delay-us C]\n");
        std::exit(2);
    }
    return fallback;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc % 2 == 0) {
        std::fprintf(stderr, "usage: latency_proxy --target PORT [--port 0] [--delay-us D] [--connect-delay-us C]\n");
        return 2;
    }
    for (int i = 1; i < argc; i += 2)
        if (std::strcmp(argv[i], "--target") && std::strcmp(argv[i], "--port") && std::strcmp(argv[i], "--delay-us") &&
            std::strcmp(argv[i], "--connect-delay-us")) {
            std::fprintf(stderr, "latency_proxy: unknown flag %s\n", argv[i]);
            return 2;
        }
    const long long target = flag(argc, argv, "--target", 0, true);
    const long long port = flag(argc, argv, "--port", 0);
    const long long delay_us = flag(argc, argv, "--delay-us", 0);
    const long long connect_delay_us = flag(argc, argv, "--connect-delay-us", 3 * delay_us);
    if (target < 1 || target > 65535 || port > 65535) {
        std::fprintf(stderr, "latency_proxy: ports are 1..65535 (--port 0: any free one)\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    proxy p(static_cast<int>(port), static_cast<int>(target), delay_us * 1000, connect_delay_us * 1000);
    std::printf("READY %d\n", p.port());
    std::fflush(stdout);
    p.run();
}

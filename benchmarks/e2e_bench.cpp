// benchmarks/e2e_bench.cpp — the library end to end, and the references
// that need no other client library. benchmarks/run_e2e.py runs it, one
// measurement per process, and reads the JSON line it prints last.
//
//   e2e_bench lib     --port P --rcpt R --count N --message FILE --mode lockstep|pipelined|each
//       N messages over one connection to a plaintext server (smtp-sink),
//       after one untimed warm-up message. lockstep: PIPELINING not used
//       (connect_options.transactions.pipelining = false), one sendmail per
//       message; pipelined: one send_all() over all N; each: PIPELINING,
//       one sendmail() per message.
//   e2e_bench lib     --port P --rcpt R --count N --message FILE --mode window --window W
//       one send_all() over all N with transactions.window = W: against a
//       server with CHUNKING and PIPELINING (benchmarks/chunk_sink.cpp,
//       Postfix) up to W whole BDAT transactions in flight; the JSON adds
//       "window" and "server_offers_chunking" (without CHUNKING it is DATA,
//       as lib-pipelined)
//   e2e_bench raw     --port P --rcpt R --count N --message FILE --mode lockstep|pipelined
//       the floor for this server: the same commands and bytes written by hand
//       on a blocking socket, replies only counted (no parsing, no checks);
//       lockstep: one command, one reply; pipelined: what lib-pipelined writes
//       (the end of one message's data with the next MAIL, RCPTs and DATA)
//   e2e_bench echo-server --port 0      a one-line TCP echo (prints READY PORT)
//   e2e_bench rtt     --port P --count N [--warmup 1000]  ping-pong of one line against it
//   e2e_bench setup   --port P --ca FILE --count N
//       N connections, each timed phase by phase: connect and greeting, EHLO,
//       STARTTLS and the TLS handshake, EHLO, AUTH PLAIN (smtp_tls_sink); QUIT untimed
//   e2e_bench pool    --port P --sessions K --count N --rcpt R --message FILE
//       N messages through smtp::pool with max_sessions K (pool defaults otherwise)
//   e2e_bench idle    --port P --sessions K --mode async|sync
//       heap and RSS with 1 and with K idle sessions open (after EHLO)
//   e2e_bench tls-lib --port P --ca FILE --size BYTES --count N
//       N messages of BYTES over STARTTLS (verified against FILE), one sendmail each
//   e2e_bench tls-src --port P --ca FILE --size BYTES --count N --source file|callback [--file PATH]
//       the same through smtp::message_source (when the library has it): from a
//       file (smtp::file_message; the file is written first, a piece at a time)
//       or from a callback that generates the message as it is read
//   e2e_bench tls-raw --port P --ca FILE --size BYTES --count N
//       the same dialogue and the same (dot-stuffed) bytes by hand with OpenSSL:
//       MAIL+RCPT+DATA in one SSL_write, then an SSL_write loop of 64 KiB pieces
//       ([--nodelay 1]: with TCP_NODELAY, for comparison; off like the library's)
//   e2e_bench tls-connect --port P --ca FILE --count N --resume 0|1|2 [--host H]
//       N connections, each connect + EHLO + STARTTLS (verified) + EHLO + QUIT,
//       after one untimed warm-up connection; the process's CPU time per
//       connection; --resume 1: TLS session resumption (a tls_session_cache
//       of its own), 0: resume_sessions off (a full handshake, and an OpenSSL
//       context per connection), 2: a cache whose sessions expire at once (a
//       full handshake, the context shared) (benchmarks/e2e_tls_resume.py)
//   e2e_bench tls-idle --port P --ca FILE --sessions K
//       heap and RSS with 1 and with K idle STARTTLS sessions open (after the
//       second EHLO), async on one io_context as a pool has them
#include "e2e_util.hpp"

#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#if __has_include(<smtp/message_file.hpp>)
#include <smtp/message_file.hpp>
#define E2E_HAVE_MESSAGE_SOURCE 1
#endif

#include <boost/asio/io_context.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

const std::string from = "author@example.com";

std::vector<smtp::recipient> recipients(long long n)
{
    std::vector<smtp::recipient> to;
    for (long long i = 0; i < n; ++i)
        to.push_back({"rcpt" + std::to_string(i) + "@example.com"});
    return to;
}

smtp::connect_options plain_options(const e2e::flags& f)
{
    smtp::connect_options o;
    o.host = "127.0.0.1";
    o.port = static_cast<std::uint16_t>(f.num("port"));
    o.local_name = "client.example";
    return o;
}

[[noreturn]] void die(const std::string& what)
{
    std::cerr << "e2e_bench: " << what << '\n';
    std::exit(1);
}

void check(const smtp::transaction_result& r, const char* what)
{
    if (!r.queued())
        die(std::string(what) + ": not queued: " + r.error.message());
}

// --- lib -------------------------------------------------------------------------

int run_lib(const e2e::flags& f)
{
    using P = smtp::policies<smtp::tls::none>;
    const std::string mode = f.str("mode");
    const long long n = f.num("count");
    const std::string message = e2e::read_file(f.str("message"));
    const auto to = recipients(f.num("rcpt"));
    smtp::connect_options o = plain_options(f);
    const bool window = mode == "window";
    if (mode == "lockstep")
        o.transactions.pipelining = false;
    else if (window)
        o.transactions.window = static_cast<std::size_t>(f.num("window"));
    else if (mode != "pipelined" && mode != "each")
        die("unknown --mode " + mode);
    if (window && f.num("window") < 1)
        die("--window W: W >= 1");

    auto s = std::move(smtp::connect<P>(o)).ehlo();
    const bool offered = s.has_extn("PIPELINING");
    const bool chunking = s.has_extn("CHUNKING");
    check(s.sendmail(from, to, message), "warm-up");

    std::vector<smtp::outgoing_message> batch;
    if (mode == "pipelined" || window)
        batch.assign(static_cast<std::size_t>(n), smtp::outgoing_message{from, to, message});

    long long queued = 0;
    const double c0 = e2e::cpu_now();
    const double t0 = e2e::now();
    if (mode == "pipelined" || window) {
        for (const auto& r : s.send_all(batch))
            queued += r.queued();
    } else {
        smtp::error_code ec;
        smtp::diagnostics diag;
        for (long long i = 0; i < n; ++i)
            queued += s.sendmail(from, to, message, smtp::send_options{}, ec, diag).queued();
    }
    const double t1 = e2e::now();
    const double c1 = e2e::cpu_now();
    std::move(s).quit();
    if (queued != n)
        die("only " + std::to_string(queued) + " of " + std::to_string(n) + " queued");
    e2e::json_line line;
    line.add("client", window ? "lib-window" + std::to_string(f.num("window")) : "lib-" + mode)
        .add("messages", n)
        .add("recipients", f.num("rcpt"))
        .add("seconds", t1 - t0)
        .add("messages_per_second", static_cast<double>(n) / (t1 - t0))
        .add("cpu_seconds", c1 - c0)
        .add("server_offers_pipelining", static_cast<long long>(offered));
    if (window)
        line.add("window", f.num("window")).add("server_offers_chunking", static_cast<long long>(chunking));
    line.add("maxrss_kib", static_cast<long long>(e2e::peak_rss_kib())).print();
    return 0;
}

// --- echo and RTT ------------------------------------------------------------------

int listen_on(int port, int& bound)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0)
        die(std::string("bind/listen: ") + std::strerror(errno));
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    bound = ntohs(a.sin_port);
    return fd;
}

int connect_to(int port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        die(std::string("connect: ") + std::strerror(errno));
    return fd;
}

/// Reads until `replies` whole replies (their last lines: "ddd ") have come.
class reply_counter {
public:
    explicit reply_counter(int fd) : fd_(fd) {}
    void wait(std::size_t replies)
    {
        while (replies > 0) {
            const auto nl = buf_.find('\n', pos_);
            if (nl == std::string::npos) {
                buf_.erase(0, pos_);
                pos_ = 0;
                char b[8192];
                const ssize_t r = ::read(fd_, b, sizeof b);
                if (r <= 0)
                    die("raw: read");
                buf_.append(b, static_cast<std::size_t>(r));
                continue;
            }
            if (nl - pos_ >= 4 && buf_[pos_ + 3] == ' ') {
                if (buf_[pos_] != '2' && buf_[pos_] != '3')
                    die("raw: refused: " + buf_.substr(pos_, nl - pos_));
                --replies;
            }
            pos_ = nl + 1;
        }
    }

private:
    int fd_;
    std::string buf_;
    std::size_t pos_ = 0;
};

void write_all(int fd, std::string_view b)
{
    while (!b.empty()) {
        const ssize_t w = ::write(fd, b.data(), b.size());
        if (w <= 0)
            die("raw: write");
        b.remove_prefix(static_cast<std::size_t>(w));
    }
}

int run_raw(const e2e::flags& f)
{
    const std::string mode = f.str("mode");
    const long long n = f.num("count");
    const long long rcpt = f.num("rcpt");
    std::string data; // dot-stuffed, with its end
    {
        smtp::error_code ec;
        smtp::data_encoder enc;
        enc.encode(e2e::read_file(f.str("message")), data, ec);
        enc.finish(data, ec);
    }
    const std::string mail = "MAIL FROM:<" + from + ">\r\n";
    std::vector<std::string> rcpts;
    for (long long i = 0; i < rcpt; ++i)
        rcpts.push_back("RCPT TO:<rcpt" + std::to_string(i) + "@example.com>\r\n");
    std::string group = mail;
    for (const auto& r : rcpts)
        group += r;
    group += "DATA\r\n";
    const int fd = connect_to(static_cast<int>(f.num("port")));
    reply_counter in(fd);
    in.wait(1);
    write_all(fd, "EHLO client.example\r\n");
    in.wait(1);
    auto lockstep_one = [&] {
        write_all(fd, mail);
        in.wait(1);
        for (const auto& r : rcpts) {
            write_all(fd, r);
            in.wait(1);
        }
        write_all(fd, "DATA\r\n");
        in.wait(1);
        write_all(fd, data);
        in.wait(1);
    };
    const std::string data_then_group = data + group;
    const std::size_t group_replies = static_cast<std::size_t>(rcpt) + 2;
    lockstep_one(); // warm-up
    const double c0 = e2e::cpu_now();
    const double t0 = e2e::now();
    if (mode == "lockstep") {
        for (long long i = 0; i < n; ++i)
            lockstep_one();
    } else if (mode == "pipelined") {
        write_all(fd, group);
        in.wait(group_replies);
        for (long long i = 0; i + 1 < n; ++i) {
            write_all(fd, data_then_group); // message i's data and end, message i+1's commands
            in.wait(1 + group_replies);
        }
        write_all(fd, data);
        in.wait(1);
    } else {
        die("raw: unknown --mode " + mode);
    }
    const double t1 = e2e::now();
    const double c1 = e2e::cpu_now();
    write_all(fd, "QUIT\r\n");
    in.wait(1);
    ::close(fd);
    e2e::json_line()
        .add("client", "raw-" + mode)
        .add("messages", n)
        .add("recipients", rcpt)
        .add("seconds", t1 - t0)
        .add("messages_per_second", static_cast<double>(n) / (t1 - t0))
        .add("cpu_seconds", c1 - c0)
        .add("maxrss_kib", static_cast<long long>(e2e::peak_rss_kib()))
        .print();
    return 0;
}

int run_echo_server(const e2e::flags& f)
{
    int port = 0;
    const int lfd = listen_on(static_cast<int>(f.num("port", 0)), port);
    std::printf("READY %d\n", port);
    std::fflush(stdout);
    char buf[4096];
    for (;;) {
        const int fd = ::accept(lfd, nullptr, nullptr);
        if (fd < 0)
            continue;
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0)
                break;
            if (::write(fd, buf, static_cast<std::size_t>(n)) != n)
                break;
        }
        ::close(fd);
    }
}

int run_rtt(const e2e::flags& f)
{
    const long long n = f.num("count");
    const int fd = connect_to(static_cast<int>(f.num("port")));
    const char line[] = "PING 0123456789\r\n";
    char buf[256];
    auto once = [&] {
        if (::write(fd, line, sizeof line - 1) != static_cast<ssize_t>(sizeof line - 1))
            die("rtt: write");
        std::size_t got = 0;
        while (got < sizeof line - 1) {
            const ssize_t r = ::read(fd, buf + got, sizeof buf - got);
            if (r <= 0)
                die("rtt: read");
            got += static_cast<std::size_t>(r);
        }
    };
    for (long long i = 0, w = f.num("warmup", 1000); i < w; ++i)
        once();
    // Batches of n/20: the median batch mean is the figure, robust to a slow spell.
    const long long per = std::max<long long>(1, n / 20);
    std::vector<double> batches;
    const double t0 = e2e::now();
    for (int b = 0; b < 20; ++b) {
        const double b0 = e2e::now();
        for (long long i = 0; i < per; ++i)
            once();
        batches.push_back((e2e::now() - b0) / static_cast<double>(per));
    }
    const double total = e2e::now() - t0;
    ::close(fd);
    std::vector<double> sorted = batches;
    std::sort(sorted.begin(), sorted.end());
    e2e::json_line()
        .add("client", "rtt")
        .add("round_trips", per * 20)
        .add("rtt_seconds", (sorted[9] + sorted[10]) / 2)
        .add("rtt_mean_seconds", total / static_cast<double>(per * 20))
        .add("batches", batches)
        .print();
    return 0;
}

// --- pool ------------------------------------------------------------------------

int run_pool(const e2e::flags& f)
{
    using P = smtp::policies<smtp::tls::none>;
    const long long n = f.num("count");
    const long long sessions = f.num("sessions");
    const std::string message = e2e::read_file(f.str("message"));
    const auto to = recipients(f.num("rcpt", 1));
    const long rss_start = e2e::rss_kib();
    std::vector<smtp::outgoing_message> msgs(static_cast<std::size_t>(n), smtp::outgoing_message{from, to, message});
    const long rss_messages = e2e::rss_kib();

    boost::asio::io_context io(1);
    smtp::pool_options po;
    po.max_sessions = static_cast<std::size_t>(sessions);
    smtp::pool<P> pool(io.get_executor(), plain_options(f), po);
    long long queued = 0;
    std::string first_error;
    const double c0 = e2e::cpu_now();
    const double t0 = e2e::now();
    for (auto& m : msgs)
        pool.async_send(std::move(m), [&](smtp::error_code, smtp::transaction_result r) {
            queued += r.queued();
            if (!r.queued() && first_error.empty())
                first_error = r.error.message();
        });
    pool.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    const double t1 = e2e::now();
    const double c1 = e2e::cpu_now();
    if (queued != n)
        die("pool: only " + std::to_string(queued) + " of " + std::to_string(n) + " queued: " + first_error);
    e2e::json_line()
        .add("client", "pool")
        .add("sessions", sessions)
        .add("messages", n)
        .add("seconds", t1 - t0)
        .add("messages_per_second", static_cast<double>(n) / (t1 - t0))
        .add("cpu_seconds", c1 - c0)
        .add("sessions_opened", static_cast<long long>(pool.stats().sessions_opened))
        .add("most_sessions_open", static_cast<long long>(pool.stats().most_sessions_open))
        .add("rss_start_kib", static_cast<long long>(rss_start))
        .add("rss_with_messages_kib", static_cast<long long>(rss_messages))
        .add("maxrss_kib", static_cast<long long>(e2e::peak_rss_kib()))
        .add("ru_maxrss_kib", static_cast<long long>(e2e::rusage_maxrss_kib()))
        .print();
    return 0;
}

// --- idle sessions -----------------------------------------------------------------

/// The heap in use and the RSS with one session open and with k: the first
/// session is opened alone (it also sets up what every later one shares),
/// then k - 1 more; what each further session costs is the difference over
/// k - 1.
struct open_growth {
    long long k;
    std::size_t heap1, heapk;
    long rss1, rssk;

    double heap_per_session() const { return static_cast<double>(heapk - heap1) / static_cast<double>(k - 1); }
    double rss_per_session() const { return static_cast<double>(rssk - rss1) * 1024.0 / static_cast<double>(k - 1); }

    e2e::json_line& add_to(e2e::json_line& j) const
    {
        return j.add("heap_1_bytes", static_cast<long long>(heap1))
            .add("heap_k_bytes", static_cast<long long>(heapk))
            .add("rss_1_kib", static_cast<long long>(rss1))
            .add("rss_k_kib", static_cast<long long>(rssk))
            .add("heap_bytes_per_session", heap_per_session())
            .add("rss_bytes_per_session", rss_per_session());
    }
};

template <class Open>
open_growth measure_open_growth(Open&& open_one, long long k)
{
    open_growth g{k, 0, 0, 0, 0};
    open_one();
    g.heap1 = e2e::heap_in_use();
    g.rss1 = e2e::rss_kib();
    for (long long i = 1; i < k; ++i)
        open_one();
    g.heapk = e2e::heap_in_use();
    g.rssk = e2e::rss_kib();
    return g;
}

int run_idle(const e2e::flags& f)
{
    using P = smtp::policies<smtp::tls::none>;
    using greeted = smtp::session<P, smtp::state::greeted<false, false>>;
    const long long k = f.num("sessions");
    const std::string mode = f.str("mode");
    const smtp::connect_options o = plain_options(f);
    boost::asio::io_context io(1);
    std::vector<greeted> open;
    open.reserve(static_cast<std::size_t>(k));

    auto open_one = [&] {
        if (mode == "sync") {
            open.push_back(std::move(smtp::connect<P>(o)).ehlo());
            return;
        }
        smtp::async_connect<P>(io.get_executor(), o, [&](smtp::error_code ec, auto s) {
            if (ec)
                die("idle: connect: " + ec.message());
            std::move(*s).async_ehlo([&](smtp::error_code, auto step) {
                if (!step)
                    die("idle: ehlo: " + step.error().message());
                open.push_back(std::move(step).value());
            });
        });
        io.restart();
        io.run();
    };
    if (mode != "sync" && mode != "async")
        die("unknown --mode " + mode);

    // The first session also sets up what every later one shares (the
    // io_context's reactor, the resolver's thread, malloc's arena).
    const open_growth g = measure_open_growth(open_one, k);
    const long threads = e2e::thread_count();
    for (auto& s : open) {
        if (mode == "sync") {
            std::move(s).quit();
        } else {
            std::move(s).async_quit([](smtp::error_code, auto) {});
            io.restart();
            io.run();
        }
    }
    e2e::json_line j;
    j.add("client", "idle-" + mode).add("sessions", k);
    g.add_to(j)
        .add("threads_with_k_sessions", static_cast<long long>(threads))
        .add("sizeof_connection", static_cast<long long>(sizeof(smtp::detail::connection_for<P>)))
        .add("sizeof_transport", static_cast<long long>(sizeof(typename P::transport)))
        .add("sizeof_capabilities", static_cast<long long>(sizeof(smtp::capabilities)))
        .add("sizeof_reply_parser", static_cast<long long>(sizeof(smtp::reply_parser)))
        .add("sizeof_connect_options", static_cast<long long>(sizeof(smtp::connect_options)))
        .add("sizeof_steady_timer", static_cast<long long>(sizeof(boost::asio::steady_timer)))
        .add("sizeof_diagnostics", static_cast<long long>(sizeof(smtp::diagnostics)))
        .print();
    return 0;
}

// --- connection set-up ---------------------------------------------------------------

int run_setup(const e2e::flags& f)
{
    using P = smtp::policies<smtp::tls::starttls>; // certificate verified
    const long long n = f.num("count");
    smtp::connect_options o = plain_options(f);
    o.tls.ca_file = f.str("ca");
    std::vector<double> connect, ehlo, starttls, ehlo2, auth, total;
    for (long long i = 0; i < n; ++i) {
        const double t0 = e2e::now();
        auto c = smtp::connect<P>(o); // TCP connect and the greeting
        const double t1 = e2e::now();
        auto g = std::move(c).ehlo();
        const double t2 = e2e::now();
        auto t = std::move(g).starttls(); // STARTTLS, its 220, the handshake
        const double t3 = e2e::now();
        auto e = std::move(t).ehlo();
        const double t4 = e2e::now();
        auto a = std::move(e).login("user", "password"); // AUTH PLAIN: the server's only mechanism
        const double t5 = e2e::now();
        std::move(a).quit();
        connect.push_back(t1 - t0);
        ehlo.push_back(t2 - t1);
        starttls.push_back(t3 - t2);
        ehlo2.push_back(t4 - t3);
        auth.push_back(t5 - t4);
        total.push_back(t5 - t0);
    }
    e2e::json_line()
        .add("client", "lib-setup")
        .add("connections", n)
        .add("connect_greeting_seconds", connect)
        .add("ehlo_seconds", ehlo)
        .add("starttls_handshake_seconds", starttls)
        .add("ehlo_tls_seconds", ehlo2)
        .add("auth_seconds", auth)
        .add("seconds", total)
        .print();
    return 0;
}

// --- TLS, large messages ------------------------------------------------------------

int run_tls_lib(const e2e::flags& f)
{
    using P = smtp::policies<smtp::tls::starttls>; // certificate verified (tls::verify_peer)
    const long long n = f.num("count");
    const auto size = static_cast<std::size_t>(f.num("size"));
    const long rss_start = e2e::peak_rss_kib();
    const std::string message = e2e::make_message(size);
    const long rss_message = e2e::peak_rss_kib();
    smtp::connect_options o = plain_options(f);
    o.tls.ca_file = f.str("ca");
    auto s = std::move(smtp::connect<P>(o)).ehlo().starttls().ehlo();
    if (!s.encrypted())
        die("tls-lib: not encrypted");
    const std::vector<smtp::recipient> to = recipients(1);
    std::vector<double> secs;
    const long rss_connected = e2e::peak_rss_kib();
    for (long long i = 0; i < n; ++i) {
        smtp::error_code ec;
        smtp::diagnostics diag;
        const double t0 = e2e::now();
        auto r = s.sendmail(from, to, message, smtp::send_options{}, ec, diag);
        secs.push_back(e2e::now() - t0);
        check(r, "tls-lib");
    }
    std::move(s).quit();
    e2e::json_line()
        .add("client", "tls-lib")
        .add("size", static_cast<long long>(size))
        .add("seconds", secs)
        .add("rss_start_kib", static_cast<long long>(rss_start))
        .add("rss_message_kib", static_cast<long long>(rss_message))
        .add("rss_connected_kib", static_cast<long long>(rss_connected))
        .add("maxrss_kib", static_cast<long long>(e2e::peak_rss_kib()))
        .add("ru_maxrss_kib", static_cast<long long>(e2e::rusage_maxrss_kib()))
        .print();
    return 0;
}

int run_tls_src(const e2e::flags& f)
{
#ifdef E2E_HAVE_MESSAGE_SOURCE
    using P = smtp::policies<smtp::tls::starttls>;
    const long long n = f.num("count");
    const auto size = static_cast<std::size_t>(f.num("size"));
    const std::string kind = f.str("source");
    const long rss_start = e2e::peak_rss_kib();
    e2e::message_generator gen(size);
    smtp::message_source source;
    if (kind == "file") {
        const std::string path = f.str("file");
        { // written a piece at a time: the message is never whole in memory
            std::FILE* out = std::fopen(path.c_str(), "wb");
            if (!out)
                die("tls-src: cannot write " + path);
            std::vector<char> buf(64 * 1024);
            while (const std::size_t k = gen.read(buf.data(), buf.size()))
                std::fwrite(buf.data(), 1, k, out);
            std::fclose(out);
        }
        source = smtp::file_message(path);
    } else if (kind == "callback") {
        source.read = [&gen](char* b, std::size_t k) { return gen.read(b, k); };
        source.rewind = [&gen] { return gen.rewind(), true; };
    } else {
        die("tls-src: unknown --source " + kind);
    }
    const long rss_message = e2e::peak_rss_kib();
    smtp::connect_options o = plain_options(f);
    o.tls.ca_file = f.str("ca");
    auto s = std::move(smtp::connect<P>(o)).ehlo().starttls().ehlo();
    const std::vector<smtp::recipient> to = recipients(1);
    std::vector<double> secs;
    const long rss_connected = e2e::peak_rss_kib();
    for (long long i = 0; i < n; ++i) {
        if (source.rewind && !source.rewind())
            die("tls-src: cannot rewind");
        smtp::error_code ec;
        smtp::diagnostics diag;
        const double t0 = e2e::now();
        auto r = s.sendmail(from, to, source, smtp::send_options{}, ec, diag);
        secs.push_back(e2e::now() - t0);
        check(r, "tls-src");
    }
    std::move(s).quit();
    e2e::json_line()
        .add("client", "tls-src-" + kind)
        .add("size", static_cast<long long>(size))
        .add("seconds", secs)
        .add("rss_start_kib", static_cast<long long>(rss_start))
        .add("rss_message_kib", static_cast<long long>(rss_message))
        .add("rss_connected_kib", static_cast<long long>(rss_connected))
        .add("maxrss_kib", static_cast<long long>(e2e::peak_rss_kib()))
        .add("ru_maxrss_kib", static_cast<long long>(e2e::rusage_maxrss_kib()))
        .print();
#else
    (void)f;
    e2e::json_line().add("client", "tls-src").add("unsupported", 1LL).print();
#endif
    return 0;
}

class raw_tls {
public:
    raw_tls(int port, const std::string& ca, bool nodelay)
    {
        ctx_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
        if (SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1)
            die("tls-raw: cannot load " + ca);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        fd_ = connect_to(port);
        if (nodelay) { // off by default, as in the library (which does not set it)
            const int one = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        expect(220);
        send("EHLO client.example\r\n");
        expect(250);
        send("STARTTLS\r\n");
        expect(220);
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
        if (SSL_connect(ssl_) != 1)
            die("tls-raw: handshake failed");
        in_.clear();
        send("EHLO client.example\r\n");
        expect(250);
    }
    ~raw_tls()
    {
        send("QUIT\r\n");
        expect(221);
        SSL_shutdown(ssl_);
        SSL_free(ssl_);
        ::close(fd_);
        SSL_CTX_free(ctx_);
    }
    std::string cipher() const { return SSL_get_cipher_name(ssl_); }
    std::string version() const { return SSL_get_version(ssl_); }

    void send(std::string_view b)
    {
        while (!b.empty()) {
            const int w = ssl_ ? SSL_write(ssl_, b.data(), static_cast<int>(b.size()))
                               : static_cast<int>(::write(fd_, b.data(), b.size()));
            if (w <= 0)
                die("tls-raw: write failed");
            b.remove_prefix(static_cast<std::size_t>(w));
        }
    }
    /// One whole reply; its code must be `code`.
    void expect(int code)
    {
        for (;;) {
            const auto nl = in_.find('\n');
            if (nl == std::string::npos) {
                char b[4096];
                const int r = ssl_ ? SSL_read(ssl_, b, sizeof b) : static_cast<int>(::read(fd_, b, sizeof b));
                if (r <= 0)
                    die("tls-raw: read failed");
                in_.append(b, static_cast<std::size_t>(r));
                continue;
            }
            const std::string line = in_.substr(0, nl + 1);
            in_.erase(0, nl + 1);
            if (line.size() < 4 || std::atoi(line.substr(0, 3).c_str()) != code)
                die("tls-raw: expected " + std::to_string(code) + ", got " + line);
            if (line[3] == ' ')
                return;
        }
    }

private:
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    int fd_ = -1;
    std::string in_;
};

int run_tls_raw(const e2e::flags& f)
{
    const long long n = f.num("count");
    const auto size = static_cast<std::size_t>(f.num("size"));
    const std::string message = e2e::make_message(size);
    // The same bytes the library sends: dot-stuffed, then ".\r\n".
    std::string encoded;
    smtp::error_code ec;
    smtp::data_encoder enc;
    enc.encode(message, encoded, ec);
    enc.finish(encoded, ec);
    if (ec)
        die("tls-raw: encode: " + ec.message());
    const std::string commands = "MAIL FROM:<" + from + "> SIZE=" + std::to_string(message.size()) +
                                 "\r\nRCPT TO:<rcpt0@example.com>\r\nDATA\r\n";
    raw_tls c(static_cast<int>(f.num("port")), f.str("ca"), f.num("nodelay", 0) != 0);
    std::vector<double> secs;
    constexpr std::size_t piece = 64 * 1024;
    for (long long i = 0; i < n; ++i) {
        const double t0 = e2e::now();
        c.send(commands);
        c.expect(250);
        c.expect(250);
        c.expect(354);
        for (std::size_t off = 0; off < encoded.size(); off += piece)
            c.send(std::string_view(encoded).substr(off, piece));
        c.expect(250);
        secs.push_back(e2e::now() - t0);
    }
    e2e::json_line()
        .add("client", "tls-raw")
        .add("size", static_cast<long long>(size))
        .add("encoded_size", static_cast<long long>(encoded.size()))
        .add("tls_version", c.version())
        .add("cipher", c.cipher())
        .add("seconds", secs)
        .add("maxrss_kib", static_cast<long long>(e2e::peak_rss_kib()))
        .print();
    return 0;
}

// --- TLS connection set-up and idle TLS sessions ----------------------------------------

using tls_greeted = smtp::session<smtp::policies<smtp::tls::starttls>, smtp::state::greeted<true, false>>;

smtp::connect_options tls_options_from(const e2e::flags& f)
{
    smtp::connect_options o = plain_options(f);
    o.host = f.str("host", "127.0.0.1"); // the test certificate names 127.0.0.1 and localhost
    o.tls.ca_file = f.str("ca");
    return o;
}

int run_tls_connect(const e2e::flags& f)
{
    using P = smtp::policies<smtp::tls::starttls>;
    const long long n = f.num("count");
    const long long mode = f.num("resume");
    const bool resume = mode == 1;
    smtp::connect_options o = tls_options_from(f);
    o.tls.resume_sessions = mode != 0;
    o.tls.session_cache = mode == 2 ? std::make_shared<smtp::tls_session_cache>(64, 4, std::chrono::seconds(0))
                                    : std::make_shared<smtp::tls_session_cache>();
    long long resumed = 0;
    auto one = [&] {
        auto s = std::move(std::move(smtp::connect<P>(o)).ehlo()).starttls().ehlo();
        resumed += s.transport().session_resumed() ? 1 : 0;
        std::move(s).quit();
    };
    one(); // warm-up: OpenSSL's tables, the CA file's pages, and the first session
    resumed = 0;
    const double c0 = e2e::cpu_now(), t0 = e2e::now();
    for (long long i = 0; i < n; ++i)
        one();
    const double cpu = e2e::cpu_now() - c0, wall = e2e::now() - t0;
    if (resumed != (resume ? n : 0))
        die("tls-connect: " + std::to_string(resumed) + " of " + std::to_string(n) + " resumed");
    e2e::json_line()
        .add("client", resume ? "tls-connect-resumed" : mode == 2 ? "tls-connect-full-shared" : "tls-connect-full")
        .add("connections", n)
        .add("resumed", resumed)
        .add("cpu_seconds", cpu)
        .add("seconds", wall)
        .add("cpu_us_per_connection", cpu * 1e6 / static_cast<double>(n))
        .print();
    return 0;
}

int run_tls_idle(const e2e::flags& f)
{
    using P = smtp::policies<smtp::tls::starttls>;
    const long long k = f.num("sessions");
    smtp::connect_options o = tls_options_from(f);
    o.tls.session_cache = std::make_shared<smtp::tls_session_cache>(); // as a pool has its own
    boost::asio::io_context io(1);
    std::vector<tls_greeted> open;
    open.reserve(static_cast<std::size_t>(k));
    auto open_one = [&] {
        smtp::async_connect<P>(io.get_executor(), o, [&](smtp::error_code ec, auto s) {
            if (ec)
                die("tls-idle: connect: " + ec.message());
            std::move(*s).async_ehlo([&](smtp::error_code, auto g) {
                if (!g)
                    die("tls-idle: ehlo: " + g.error().message());
                std::move(g).value().async_starttls([&](smtp::error_code, auto t) {
                    if (!t)
                        die("tls-idle: starttls: " + t.error().message());
                    std::move(t).value().async_ehlo([&](smtp::error_code, auto e) {
                        if (!e)
                            die("tls-idle: ehlo after starttls: " + e.error().message());
                        open.push_back(std::move(e).value());
                    });
                });
            });
        });
        io.restart();
        io.run();
    };
    // The first session also sets up what every later one shares (the
    // reactor, OpenSSL's tables, malloc's arena, the cache's first entry).
    const open_growth g = measure_open_growth(open_one, k);
    long long resumed = 0;
    for (auto& s : open)
        resumed += s.transport().session_resumed() ? 1 : 0;
    for (auto& s : open) {
        std::move(s).async_quit([](smtp::error_code, auto) {});
        io.restart();
        io.run();
    }
    e2e::json_line j;
    j.add("client", "tls-idle").add("sessions", k).add("resumed", resumed);
    g.add_to(j).print();
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::cerr << "usage: e2e_bench lib|raw|echo-server|rtt|setup|pool|idle|tls-lib|tls-src|tls-raw --flag value...\n";
        return 2;
    }
    try {
        const std::string cmd = argv[1];
        const e2e::flags f(argc, argv, 2);
        if (cmd == "lib")
            return run_lib(f);
        if (cmd == "raw")
            return run_raw(f);
        if (cmd == "echo-server")
            return run_echo_server(f);
        if (cmd == "rtt")
            return run_rtt(f);
        if (cmd == "pool")
            return run_pool(f);
        if (cmd == "setup")
            return run_setup(f);
        if (cmd == "idle")
            return run_idle(f);
        if (cmd == "tls-lib")
            return run_tls_lib(f);
        if (cmd == "tls-src")
            return run_tls_src(f);
        if (cmd == "tls-raw")
            return run_tls_raw(f);
        if (cmd == "tls-connect")
            return run_tls_connect(f);
        if (cmd == "tls-idle")
            return run_tls_idle(f);
        std::cerr << "e2e_bench: unknown command " << cmd << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "e2e_bench: " << e.what() << '\n';
        return 1;
    }
}

// The synchronous driver's direct reads and writes (smtp/detail/blocking_io.hpp)
// on a real loopback socket, against a server thread here that answers as a
// script says: the bytes of a large message arrive whole (the socket's buffer
// fills, so the write waits for room), each wait of a transaction times out
// with its words, a write the server never reads times out, and a drop before
// and after the end of data gives not_sent and unknown. The reactor path has
// the same cases over transport::scripted (test_errors.cpp, test_session.cpp).
#include <smtp/detail/blocking_io.hpp>

#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/asio/io_context.hpp>
#define BOOST_TEST_MODULE sync_io
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>

#if !SMTP_HAS_BLOCKING_IO
#error "test_sync_io runs where the direct path exists (POSIX)"
#endif

using smtp::errc;
using std::chrono::milliseconds;

namespace {

using clear = smtp::policies<smtp::tls::none>;

/// One accepted connection, seen by the server thread.
class peer_conn {
public:
    explicit peer_conn(int fd) : fd_(fd) {}
    void send(const std::string& s)
    {
        std::size_t done = 0;
        while (done < s.size()) {
            const ssize_t w = ::send(fd_, s.data() + done, s.size() - done, MSG_NOSIGNAL);
            if (w <= 0)
                return;
            done += static_cast<std::size_t>(w);
        }
    }
    /// One line with its CRLF; empty at the end of the stream.
    std::string line()
    {
        for (;;) {
            const auto nl = buf_.find("\r\n");
            if (nl != std::string::npos) {
                std::string l = buf_.substr(0, nl + 2);
                buf_.erase(0, nl + 2);
                return l;
            }
            if (!fill())
                return {};
        }
    }
    /// The data up to and with the end of data; its length, or 0 when the stream ended first.
    std::size_t data()
    {
        std::size_t n = 0;
        for (;;) {
            const std::string l = line();
            if (l.empty())
                return 0;
            n += l.size();
            if (l == ".\r\n")
                return n;
        }
    }
    /// Until the client closes.
    void drain()
    {
        while (fill()) {}
    }

private:
    bool fill()
    {
        char b[65536];
        const ssize_t r = ::recv(fd_, b, sizeof b, 0);
        if (r <= 0)
            return false;
        buf_.append(b, static_cast<std::size_t>(r));
        return true;
    }
    int fd_;
    std::string buf_;
};

/// A server on a free loopback port; its thread runs `script` on the first connection.
class peer {
public:
    explicit peer(std::function<void(peer_conn&)> script)
    {
        lfd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_REQUIRE(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        BOOST_REQUIRE(::listen(lfd_, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this, script = std::move(script)] {
            const int fd = ::accept(lfd_, nullptr, nullptr);
            if (fd < 0)
                return;
            peer_conn c(fd);
            script(c);
            ::close(fd);
        });
    }
    ~peer()
    {
        ::shutdown(lfd_, SHUT_RDWR); // an accept still waiting returns
        thread_.join();
        ::close(lfd_);
    }
    smtp::connect_options options() const
    {
        smtp::connect_options o;
        o.host = "127.0.0.1";
        o.port = port_;
        o.local_name = "client.example";
        return o;
    }

private:
    int lfd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

/// Greets and answers EHLO (with `ehlo_extra` lines before the last).
void greet(peer_conn& c, const std::string& ehlo_extra = "")
{
    c.send("220 mx.example ESMTP\r\n");
    if (c.line() == "EHLO client.example\r\n")
        c.send("250-mx.example\r\n" + ehlo_extra + "250 8BITMIME\r\n");
}

/// Answers MAIL, RCPT and DATA (lockstep: the client sends one at a time).
void envelope(peer_conn& c)
{
    c.line();
    c.send("250 2.1.0 ok\r\n");
    c.line();
    c.send("250 2.1.5 ok\r\n");
    c.line();
    c.send("354 go ahead\r\n");
}

/// A message of `lines` lines, one in three starting with a dot.
std::string big_message(std::size_t lines, std::size_t& stuffed)
{
    std::string m = "Subject: big\r\n\r\n";
    for (std::size_t i = 0; i < lines; ++i)
        m += (i % 3 == 0 ? "." : "") + std::string(60, 'a' + static_cast<char>(i % 26)) + "\r\n";
    stuffed = m.size() + (lines + 2) / 3 + 3; // each dot doubled, then ".\r\n"
    return m;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_socket_in_clear_is_named_and_the_others_are_not)
{
    boost::asio::io_context io;
    smtp::transport::tls_layer<smtp::transport::tcp> t(io.get_executor());
    BOOST_TEST(smtp::detail::blocking_descriptor(t) == -1); // not connected
    peer p([](peer_conn& c) { c.drain(); });
    smtp::error_code seen = boost::asio::error::would_block;
    const auto o = p.options();
    t.async_connect(o, [&](smtp::error_code ec) { seen = ec; });
    io.run();
    BOOST_REQUIRE(!seen);
    BOOST_TEST(smtp::detail::blocking_descriptor(t) >= 0);
    t.close();
    BOOST_TEST(smtp::detail::blocking_descriptor(t) == -1);
    smtp::transport::scripted s(io.get_executor(), std::make_shared<smtp::transport::script>());
    BOOST_TEST(smtp::detail::blocking_descriptor(s) == -1); // no socket: the reactor path
}

namespace {
bool in_blocking_mode(int fd)
{
    return (::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0;
}
long long receive_wait_us(int fd)
{
    timeval tv{};
    socklen_t len = sizeof tv;
    BOOST_REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0);
    return static_cast<long long>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
}
} // namespace

BOOST_AUTO_TEST_CASE(reads_block_in_recv_for_a_bounded_wait_and_asio_gets_its_mode_back)
{
    boost::asio::io_context io;
    smtp::transport::tls_layer<smtp::transport::tcp> t(io.get_executor());
    peer p([](peer_conn& c) {
        c.line();
        c.send("pong\r\n");
        c.drain();
    });
    smtp::error_code seen = boost::asio::error::would_block;
    const auto o = p.options();
    t.async_connect(o, [&](smtp::error_code ec) { seen = ec; });
    io.run();
    BOOST_REQUIRE(!seen);
    const int fd = t.next_layer().sync_descriptor();
    BOOST_TEST(!in_blocking_mode(fd)); // as Asio left it after its connect
    BOOST_TEST(receive_wait_us(fd) == 0); // no SO_RCVTIMEO yet: a blocking recv would wait for ever
    BOOST_TEST(smtp::detail::blocking_descriptor(t) == fd);
    BOOST_TEST(in_blocking_mode(fd));
    BOOST_TEST(receive_wait_us(fd) == std::chrono::microseconds(smtp::detail::longest_blocking_recv).count());
    // An asynchronous operation (as after STARTTLS) finds the socket as Asio wants it.
    std::size_t n = 0;
    char buf[16];
    t.async_write(boost::asio::buffer("ping\r\n", 6), [](smtp::error_code, std::size_t) {});
    t.async_read_some(boost::asio::buffer(buf), [&](smtp::error_code ec, std::size_t got) {
        seen = ec;
        n = got;
    });
    io.restart();
    io.run();
    BOOST_TEST(!seen);
    BOOST_TEST(std::string(buf, n) == "pong\r\n");
    BOOST_TEST(!in_blocking_mode(fd));
    BOOST_TEST(smtp::detail::blocking_descriptor(t) == fd); // and the synchronous driver gets it back
    BOOST_TEST(in_blocking_mode(fd));
    t.close();
}

BOOST_AUTO_TEST_CASE(a_reply_slower_than_one_blocking_recv_and_a_deadline_past_several)
{
    const auto wait = smtp::detail::longest_blocking_recv;
    smtp::error_code ec;
    smtp::diagnostics diag;
    {   // RCPT's reply comes after two of recv's waits: it is taken, the message goes.
        peer p([&](peer_conn& c) {
            greet(c);
            c.line();
            c.send("250 ok\r\n");
            c.line();
            std::this_thread::sleep_for(2 * wait + wait / 2);
            c.send("250 ok\r\n");
            c.line();
            c.send("354 go ahead\r\n");
            c.data();
            c.send("250 queued\r\n");
            if (c.line() == "QUIT\r\n")
                c.send("221 bye\r\n");
        });
        auto o = p.options();
        o.timeouts.rcpt = milliseconds(5000);
        auto g = std::move(smtp::connect<clear>(o)).ehlo();
        const auto result = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n", ec, diag);
        BOOST_TEST(!ec, ec.message());
        BOOST_TEST(result.queued());
        std::move(g).quit();
    }
    {   // No reply, a limit of several of recv's waits: the timeout comes at the limit, not before.
        peer p([](peer_conn& c) {
            greet(c);
            c.line();
            c.send("250 ok\r\n");
            c.drain();
        });
        auto o = p.options();
        o.timeouts.rcpt = 2 * wait + wait / 4;
        auto g = std::move(smtp::connect<clear>(o)).ehlo();
        const auto t0 = std::chrono::steady_clock::now();
        const auto result = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n", ec, diag);
        const auto took = std::chrono::steady_clock::now() - t0;
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to RCPT within " + std::to_string(o.timeouts.rcpt.count()) + " ms");
        BOOST_TEST(result.outcome == smtp::transaction_outcome::not_sent);
        BOOST_TEST((took >= o.timeouts.rcpt));
        BOOST_TEST((took < o.timeouts.rcpt + std::chrono::seconds(2)));
    }
}

BOOST_AUTO_TEST_CASE(a_large_message_arrives_whole_through_a_full_socket_buffer)
{
    std::size_t stuffed = 0;
    const std::string message = big_message(200000, stuffed); // 12 MiB: more than loopback buffers hold
    std::promise<std::size_t> got;
    peer p([&](peer_conn& c) {
        greet(c, "250-PIPELINING\r\n");
        std::string group;
        for (int i = 0; i < 3; ++i)
            group += c.line();
        c.send("250 ok\r\n250 ok\r\n354 go ahead\r\n");
        got.set_value(c.data());
        c.send("250 2.0.0 queued\r\n");
        if (c.line() == "QUIT\r\n")
            c.send("221 bye\r\n");
    });
    auto s = std::move(smtp::connect<clear>(p.options())).ehlo();
    const auto r = s.sendmail("a@x.org", {"b@x.org"}, message);
    BOOST_TEST(r.queued(), r.error.message());
    std::move(s).quit();
    BOOST_TEST(got.get_future().get() == stuffed);
}

BOOST_AUTO_TEST_CASE(each_wait_of_a_transaction_times_out_with_its_words)
{
    smtp::error_code ec;
    smtp::diagnostics diag;
    {   // RCPT's reply never comes (lockstep).
        peer p([](peer_conn& c) {
            greet(c);
            c.line();
            c.send("250 ok\r\n");
            c.drain();
        });
        auto o = p.options();
        o.timeouts.rcpt = milliseconds(60);
        auto g = std::move(smtp::connect<clear>(o)).ehlo();
        const auto t0 = std::chrono::steady_clock::now();
        const auto result = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n", ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to RCPT within 60 ms");
        BOOST_TEST(result.outcome == smtp::transaction_outcome::not_sent);
        BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)));
    }
    {   // After the end of data: unknown.
        peer p([](peer_conn& c) {
            greet(c);
            envelope(c);
            c.data();
            c.drain();
        });
        auto o = p.options();
        o.timeouts.data_term = milliseconds(50);
        auto g = std::move(smtp::connect<clear>(o)).ehlo();
        const auto result = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n", ec, diag);
        BOOST_TEST(ec == errc::outcome_unknown);
        BOOST_TEST(diag.detail_text() == "no reply to the end of data within 50 ms");
        BOOST_TEST(result.outcome == smtp::transaction_outcome::unknown);
    }
}

BOOST_AUTO_TEST_CASE(a_write_the_server_never_reads_times_out)
{
    std::size_t stuffed = 0;
    const std::string message = big_message(400000, stuffed); // 24 MiB
    std::promise<void> client_done;
    peer p([&](peer_conn& c) {
        greet(c);
        envelope(c);
        client_done.get_future().wait(); // reads no data: the client's writes fill the buffers
    });
    auto o = p.options();
    o.timeouts.data_block = milliseconds(100);
    auto g = std::move(smtp::connect<clear>(o)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto result = g.sendmail("a@x.org", {"b@x.org"}, message, ec, diag);
    client_done.set_value();
    BOOST_TEST(ec == errc::timeout);
    BOOST_TEST(diag.detail_text() == "a write did not finish within 100 ms");
    BOOST_TEST(result.outcome == smtp::transaction_outcome::not_sent); // the end of data never went
}

BOOST_AUTO_TEST_CASE(a_drop_before_and_after_the_end_of_data)
{
    smtp::error_code ec;
    smtp::diagnostics diag;
    {   // Closed while DATA's reply is awaited: nothing of the message went.
        peer p([](peer_conn& c) {
            greet(c);
            c.line();
            c.send("250 ok\r\n");
            c.line();
            c.send("250 ok\r\n");
            c.line(); // DATA: no reply, the connection closes
        });
        auto g = std::move(smtp::connect<clear>(p.options())).ehlo();
        const auto result = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n", ec, diag);
        BOOST_TEST(ec == errc::connection_closed);
        BOOST_TEST(result.outcome == smtp::transaction_outcome::not_sent);
        BOOST_TEST(g.broken());
    }
    {   // Closed after the end of data, before its reply: unknown.
        peer p([](peer_conn& c) {
            greet(c);
            envelope(c);
            c.data();
        });
        auto g = std::move(smtp::connect<clear>(p.options())).ehlo();
        const auto result = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n", ec, diag);
        BOOST_TEST(ec == errc::outcome_unknown);
        BOOST_TEST(result.outcome == smtp::transaction_outcome::unknown);
    }
}

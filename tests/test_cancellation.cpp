// Per-operation cancellation (Boost 1.77 and later; registered only there):
// an asio::cancellation_signal emitted while an operation is pending stops
// it with operation_aborted and leaves the session broken (session_broken
// afterwards, QUIT and destruction safe), never a half-sent message
// reported sent; a pool's waiting message taken back; the awaitable
// operators' timeout idiom. The server is a TCP peer in this process, on a
// loopback port, that says when it got what it waited for: each signal is
// emitted then, while the client's read, write or handshake is known to be
// pending (a server that stops reading and a 32 MiB message keep a write
// pending however large the socket buffers are). Every test ends with
// io.run() returning well before the 20 s time limits: no deadline timer or
// operation is left behind.
#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#endif

#define BOOST_TEST_MODULE cancellation
#include <boost/test/unit_test.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

static_assert(SMTP_HAS_CANCELLATION == 1, "this test is registered for Boost 1.77 and later only");

namespace asio = boost::asio;
using asio::ip::tcp;
using smtp::errc;

namespace {

/// The server's side of one connection: accepts, writes, reads until it has
/// seen a given string, reads everything until the client closes.
class peer {
public:
    explicit peer(asio::io_context& io) : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), s_(io)
    {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    /// Everything received so far.
    const std::string& received() const { return in_; }
    bool closed_by_client() const { return eof_; }

    void accept(std::function<void()> then)
    {
        acceptor_.async_accept(s_, [then = std::move(then)](smtp::error_code ec) {
            BOOST_REQUIRE(!ec);
            then();
        });
    }
    void send(std::string text, std::function<void()> then)
    {
        auto out = std::make_shared<std::string>(std::move(text));
        asio::async_write(s_, asio::buffer(*out), [out, then = std::move(then)](smtp::error_code ec, std::size_t) {
            BOOST_REQUIRE(!ec);
            then();
        });
    }
    /// Reads until what was received since `from` holds `needle`.
    void read_until(std::string needle, std::function<void()> then, std::size_t from = 0)
    {
        if (in_.find(needle, from) != std::string::npos)
            return then();
        s_.async_read_some(asio::buffer(chunk_), [this, needle = std::move(needle), then = std::move(then),
                                                  from](smtp::error_code ec, std::size_t n) mutable {
            BOOST_REQUIRE_MESSAGE(!ec, "the server's read failed: " << ec.message());
            in_.append(chunk_.data(), n);
            read_until(std::move(needle), std::move(then), from);
        });
    }
    /// Reads until the client closes (or resets) the connection.
    void drain(std::function<void()> then = [] {})
    {
        s_.async_read_some(asio::buffer(chunk_), [this, then = std::move(then)](smtp::error_code ec, std::size_t n) {
            in_.append(chunk_.data(), n);
            if (ec) {
                eof_ = true;
                return then();
            }
            drain(std::move(then));
        });
    }

private:
    tcp::acceptor acceptor_;
    tcp::socket s_;
    std::array<char, 64 * 1024> chunk_{};
    std::string in_;
    bool eof_ = false;
};

smtp::connect_options options(std::uint16_t port)
{
    smtp::connect_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.local_name = "client.example";
    // Long beside a test, short beside ctest's limit: an operation the signal
    // failed to stop ends in a timeout, not operation_aborted, and a timer
    // left armed would hold io.run() this long (each test checks it does not).
    const std::chrono::milliseconds limit = std::chrono::seconds(20);
    o.timeouts = {limit, limit, limit, limit, limit, limit, limit, limit};
    return o;
}

/// Runs `io` until it has no work left; that took less than half of any
/// time limit: no deadline timer was left armed.
void run_to_the_end(asio::io_context& io)
{
    const auto start = std::chrono::steady_clock::now();
    io.run();
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(10)));
}

using plain = smtp::policies<smtp::tls::none>;
using connected = smtp::connected_session<plain>;

/// Connects to `p` (which greets with a 220) and hands the session on.
template <class F>
void connect_greeted(asio::io_context& io, peer& p, F then)
{
    p.accept([&p] { p.send("220 mx.example ESMTP\r\n", [] {}); });
    smtp::async_connect<plain>(io.get_executor(), options(p.port()),
                               [then = std::move(then)](smtp::error_code ec, std::optional<connected> s) mutable {
                                   BOOST_REQUIRE_MESSAGE(!ec, ec.message());
                                   then(std::move(*s));
                               });
}

} // namespace

// (a) during a read: the server got EHLO and does not answer.
BOOST_AUTO_TEST_CASE(a_cancelled_read_aborts_and_breaks_the_session)
{
    asio::io_context io;
    peer server(io);
    asio::cancellation_signal signal;
    smtp::error_code ehlo_ec, again_ec, quit_ec;
    bool ehlo_done = false, again_done = false, quit_done = false, broken = false;
    connect_greeted(io, server, [&](connected s) {
        server.read_until("EHLO client.example\r\n", [&] { signal.emit(asio::cancellation_type::terminal); });
        std::move(s).async_ehlo(asio::bind_cancellation_slot(signal.slot(), [&](smtp::error_code ec, auto step) {
            ehlo_ec = ec;
            ehlo_done = true;
            BOOST_REQUIRE(!step.has_value());
            auto back = std::move(step).recover();
            broken = back.broken();
            // Every later operation fails at once; QUIT is still safe.
            std::move(back).async_ehlo([&](smtp::error_code ec2, auto step2) {
                again_ec = ec2;
                again_done = true;
                std::move(step2).recover().async_quit([&](smtp::error_code ec3, auto) {
                    quit_ec = ec3;
                    quit_done = true;
                    server.drain();
                });
            });
        }));
    });
    run_to_the_end(io); // no timer, no I/O left behind
    BOOST_TEST(ehlo_done);
    BOOST_TEST(ehlo_ec == asio::error::operation_aborted, ehlo_ec.message());
    BOOST_TEST(broken);
    BOOST_TEST(again_done);
    BOOST_TEST(again_ec == errc::session_broken, again_ec.message());
    BOOST_TEST(quit_done);
    BOOST_TEST(quit_ec == errc::session_broken, quit_ec.message());
    BOOST_TEST(server.closed_by_client());
    BOOST_TEST(server.received() == "EHLO client.example\r\n"); // nothing after the cancelled command
}

// A signal that comes while no I/O holds the slot (the scripted transport
// completes its write of EHLO by posting): the next I/O, the read of the
// reply, never starts.
BOOST_AUTO_TEST_CASE(a_signal_between_two_ios_stops_the_next_one)
{
    using S = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
    asio::io_context io;
    auto script = std::make_shared<smtp::transport::script>();
    script->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250 mx\r\n");
    asio::cancellation_signal signal;
    smtp::error_code ehlo_ec;
    int calls = 0;
    bool broken = false;
    smtp::async_connect<S>(
        io.get_executor(), options(0),
        [&](smtp::error_code ec, std::optional<smtp::connected_session<S>> s) {
            BOOST_REQUIRE_MESSAGE(!ec, ec.message());
            std::move(*s).async_ehlo(asio::bind_cancellation_slot(signal.slot(), [&](smtp::error_code e, auto step) {
                ++calls;
                ehlo_ec = e;
                broken = !step.has_value() && std::move(step).recover().broken();
            }));
            signal.emit(asio::cancellation_type::terminal); // EHLO's write is done, its completion posted
        },
        script);
    run_to_the_end(io);
    BOOST_TEST(calls == 1);
    BOOST_TEST(ehlo_ec == asio::error::operation_aborted, ehlo_ec.message());
    BOOST_TEST(broken);
    BOOST_TEST(!script->done(), script->log()); // the 250 was never read
}

// A partial or total cancellation alone is not honoured (no SMTP exchange
// can stop half-way and leave the session usable): the command completes.
BOOST_AUTO_TEST_CASE(partial_and_total_cancellation_alone_are_ignored)
{
    for (auto type : {asio::cancellation_type::partial, asio::cancellation_type::total}) {
        asio::io_context io;
        peer server(io);
        asio::cancellation_signal signal;
        smtp::error_code ehlo_ec = asio::error::fault;
        connect_greeted(io, server, [&](connected s) {
            server.read_until("EHLO client.example\r\n", [&, type] {
                signal.emit(type);
                server.send("250 mx.example\r\n", [] {});
            });
            std::move(s).async_ehlo(asio::bind_cancellation_slot(signal.slot(), [&](smtp::error_code ec, auto step) {
                ehlo_ec = ec;
                BOOST_REQUIRE(step.has_value());
                auto greeted = std::move(step).value();
                BOOST_TEST(!greeted.broken());
                std::move(greeted).async_quit([&](smtp::error_code, auto) {});
                server.read_until("QUIT\r\n", [&] { server.send("221 bye\r\n", [&] { server.drain(); }); });
            }));
        });
        run_to_the_end(io);
        BOOST_TEST(!ehlo_ec, ehlo_ec.message());
        BOOST_TEST(server.received() == "EHLO client.example\r\nQUIT\r\n");
    }
}

// (a') during the greeting's read, inside async_connect: no session comes out.
BOOST_AUTO_TEST_CASE(a_cancelled_connect_waiting_for_the_greeting_aborts)
{
    asio::io_context io;
    peer server(io);
    asio::cancellation_signal signal;
    smtp::error_code ec_seen;
    bool done = false, had_session = true;
    server.accept([&] {
        // Accepted, never greets: the client's read of the greeting is pending.
        signal.emit(asio::cancellation_type::terminal);
        server.drain();
    });
    smtp::async_connect<plain>(
        io.get_executor(), options(server.port()),
        asio::bind_cancellation_slot(signal.slot(), [&](smtp::error_code ec, std::optional<connected> s) {
            ec_seen = ec;
            done = true;
            had_session = s.has_value();
        }));
    run_to_the_end(io);
    BOOST_TEST(done);
    BOOST_TEST(ec_seen == asio::error::operation_aborted, ec_seen.message());
    BOOST_TEST(!had_session);
    BOOST_TEST(server.closed_by_client());
    BOOST_TEST(server.received().empty());
}

// The connect itself (the name lookup and Happy Eyeballs race): a signal
// emitted right after async_connect returns reaches the race.
BOOST_AUTO_TEST_CASE(a_cancelled_tcp_connect_aborts)
{
    asio::io_context io;
    asio::cancellation_signal signal;
    smtp::error_code ec_seen;
    bool done = false;
    smtp::connect_options o = options(25);
    o.host = "localhost"; // resolved by the asynchronous resolver: pending when the signal comes
    smtp::async_connect<plain>(io.get_executor(), o,
                               asio::bind_cancellation_slot(signal.slot(),
                                                            [&](smtp::error_code ec, std::optional<connected>) {
                                                                ec_seen = ec;
                                                                done = true;
                                                            }));
    signal.emit(asio::cancellation_type::terminal);
    run_to_the_end(io);
    BOOST_TEST(done);
    BOOST_TEST(ec_seen == asio::error::operation_aborted, ec_seen.message());
}

// (b) during a write: the server accepted DATA, read the first bytes of the
// message and stopped reading. The message is not sent, the end of data
// never reached the server, and the session is broken.
BOOST_AUTO_TEST_CASE(a_cancelled_write_never_reports_the_message_sent)
{
    asio::io_context io;
    peer server(io);
    asio::cancellation_signal signal;
    std::string message = "Subject: big\r\n\r\n";
    const std::string line(998, 'x');
    while (message.size() < 32 * 1024 * 1024)
        message += line + "\r\n";
    smtp::error_code send_ec, again_ec;
    smtp::transaction_result result, again;
    bool sent_done = false, broken = false;
    std::size_t at_cancel = 0;
    connect_greeted(io, server, [&](connected s) {
        // No PIPELINING, no CHUNKING: MAIL, RCPT, DATA one at a time, then the data.
        server.read_until("EHLO client.example\r\n", [&] {
            server.send("250 mx.example\r\n", [] {});
        });
        std::move(s).async_ehlo([&](smtp::error_code ec, auto step) {
            BOOST_REQUIRE_MESSAGE(!ec, ec.message());
            using greeted_session = decltype(std::move(step).value());
            auto greeted = std::make_shared<greeted_session>(std::move(step).value());
            // Each command answered as it comes; after 354 the server reads
            // the first bytes of the data, then stops reading and cancels.
            server.read_until("MAIL FROM:<a@example.com>\r\n", [&] {
                server.send("250 ok\r\n", [&] {
                    server.read_until("RCPT TO:<b@example.com>\r\n", [&] {
                        server.send("250 ok\r\n", [&] {
                            server.read_until("DATA\r\n", [&] {
                                const std::size_t start = server.received().size();
                                server.send("354 go on\r\n", [&, start] {
                                    server.read_until("Subject: big", [&] {
                                        at_cancel = server.received().size();
                                        signal.emit(asio::cancellation_type::terminal);
                                    }, start);
                                });
                            });
                        });
                    });
                });
            });
            greeted->async_sendmail(
                "a@example.com", {"b@example.com"}, std::string_view(message),
                asio::bind_cancellation_slot(signal.slot(), [&, greeted](smtp::error_code ec, smtp::transaction_result r) {
                    send_ec = ec;
                    result = std::move(r);
                    sent_done = true;
                    broken = greeted->broken();
                    greeted->async_sendmail("a@example.com", {"b@example.com"}, std::string("Subject: x\r\n\r\nx\r\n"),
                                            [&, greeted](smtp::error_code ec2, smtp::transaction_result r2) {
                                                again_ec = ec2;
                                                again = std::move(r2);
                                                std::move(*greeted).async_quit([&](smtp::error_code, auto) {
                                                    // Closed: the server reads what was left in its buffers.
                                                    server.drain();
                                                });
                                            });
                }));
        });
    });
    run_to_the_end(io);
    BOOST_TEST(sent_done);
    BOOST_TEST(send_ec == asio::error::operation_aborted, send_ec.message());
    BOOST_TEST(result.error == asio::error::operation_aborted, result.error.message());
    BOOST_TEST(!result.queued());
    BOOST_TEST((result.outcome == smtp::transaction_outcome::not_sent)); // the end of data was never written
    BOOST_TEST(broken);
    BOOST_TEST(again_ec == errc::session_broken, again_ec.message());
    BOOST_TEST((again.outcome == smtp::transaction_outcome::not_sent));
    // What reached the server: part of the data, never its end.
    BOOST_TEST(at_cancel > 0u);
    BOOST_TEST(server.closed_by_client());
    BOOST_TEST(server.received().size() < message.size());
    BOOST_TEST(server.received().find("\r\n.\r\n") == std::string::npos);
}

// (c) during the TLS handshake: the server accepts TCP and never answers
// the ClientHello.
BOOST_AUTO_TEST_CASE(a_cancelled_tls_handshake_aborts)
{
    using implicit = smtp::policies<smtp::tls::implicit>;
    asio::io_context io;
    peer server(io);
    asio::cancellation_signal signal;
    smtp::error_code ec_seen;
    bool done = false, had_session = true;
    server.accept([&] {
        server.read_until(std::string("\x16\x03", 2), [&] { // a TLS handshake record: the ClientHello
            signal.emit(asio::cancellation_type::terminal);
            server.drain();
        });
    });
    smtp::async_connect<implicit>(
        io.get_executor(), options(server.port()),
        asio::bind_cancellation_slot(signal.slot(),
                                     [&](smtp::error_code ec, std::optional<smtp::connected_session<implicit>> s) {
                                         ec_seen = ec;
                                         done = true;
                                         had_session = s.has_value();
                                     }));
    run_to_the_end(io);
    BOOST_TEST(done);
    BOOST_TEST(ec_seen == asio::error::operation_aborted, ec_seen.message());
    BOOST_TEST(!had_session);
    BOOST_TEST(server.closed_by_client());
}

// (d) during a pool's wait: one session, busy with the first message; the
// second waits and is taken back. The first is still sent, the second never
// reaches the server, and the pool ends clean.
BOOST_AUTO_TEST_CASE(a_cancelled_pool_wait_takes_the_message_back)
{
    using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
    asio::io_context io;
    auto script = std::make_shared<smtp::transport::script>();
    script->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250 PIPELINING\r\n")
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<one@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("first\r\n.\r\n")
        .respond("250 queued\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    int opened = 0;
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_batch = 1;
    smtp::pool<P> pool(io.get_executor(), options(0), po, [&](asio::any_io_executor ex) {
        ++opened;
        return smtp::transport::scripted(ex, script);
    });
    smtp::transaction_result first, second;
    smtp::error_code second_ec;
    int first_calls = 0, second_calls = 0;
    asio::cancellation_signal signal;
    pool.async_send({"a@x.org", {{"one@x.org"}}, "first", {}}, [&](smtp::error_code, smtp::transaction_result r) {
        ++first_calls;
        first = std::move(r);
    });
    pool.async_send({"a@x.org", {{"two@x.org"}}, "second", {}},
                    asio::bind_cancellation_slot(signal.slot(), [&](smtp::error_code ec, smtp::transaction_result r) {
                        ++second_calls;
                        second_ec = ec;
                        second = std::move(r);
                    }));
    BOOST_TEST(pool.queued() == 2u); // the only session is still opening: both wait
    signal.emit(asio::cancellation_type::terminal);
    BOOST_TEST(pool.queued() == 1u); // taken back at once: no session can take it any more
    bool closed = false;
    pool.async_close([&](smtp::error_code, smtp::pool_stats) { closed = true; });
    io.run();
    signal.emit(asio::cancellation_type::terminal); // after the completion: reaches nothing
    io.restart();
    io.run();
    BOOST_TEST(closed);
    BOOST_TEST(first_calls == 1);
    BOOST_TEST(first.queued());
    BOOST_TEST(second_calls == 1);
    BOOST_TEST(second_ec == asio::error::operation_aborted, second_ec.message());
    BOOST_TEST((second.outcome == smtp::transaction_outcome::not_sent));
    BOOST_TEST(opened == 1);
    BOOST_TEST(script->done(), script->log()); // "second" never reached the server
    BOOST_TEST(pool.open_sessions() == 0u);
    BOOST_TEST(pool.queued() == 0u);
}

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
// The timeout idiom: `op || timer` with Asio's awaitable operators. The
// timer wins, the session's EHLO is cancelled by the operator, the session
// is broken, and nothing is left behind.
BOOST_AUTO_TEST_CASE(awaitable_or_timer_times_out_cleanly)
{
    using namespace asio::experimental::awaitable_operators;
    asio::io_context io;
    peer server(io);
    server.accept([&] { server.send("220 mx.example ESMTP\r\n", [&] { server.drain(); }); }); // never answers EHLO
    bool timer_won = false, aborted = false, broken = false, finished = false;
    smtp::error_code again_ec;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto c = co_await smtp::async_connect<plain>(co_await asio::this_coro::executor, options(server.port()),
                                                         asio::use_awaitable);
            BOOST_REQUIRE(c.has_value());
            auto session = std::move(*c);
            asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
            std::optional<connected> back;
            smtp::error_code ehlo_ec;
            auto ehlo = [&]() -> asio::awaitable<void> {
                // (error_code, step): redirect_error keeps the step, and in it the session, on an error
                auto step =
                    co_await std::move(session).async_ehlo(asio::redirect_error(asio::use_awaitable, ehlo_ec));
                if (!step.has_value())
                    back.emplace(std::move(step).recover());
            };
            auto winner = co_await (ehlo() || timer.async_wait(asio::use_awaitable));
            timer_won = winner.index() == 1;
            aborted = ehlo_ec == asio::error::operation_aborted;
            BOOST_REQUIRE(back.has_value());
            broken = back->broken();
            auto again = co_await std::move(*back).async_ehlo(asio::redirect_error(asio::use_awaitable, again_ec));
            smtp::error_code quit_ec;
            co_await std::move(again).recover().async_quit(asio::redirect_error(asio::use_awaitable, quit_ec));
            finished = true;
        },
        [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
    run_to_the_end(io);
    BOOST_TEST(timer_won);
    BOOST_TEST(aborted);
    BOOST_TEST(broken);
    BOOST_TEST(again_ec == errc::session_broken, again_ec.message());
    BOOST_TEST(finished);
    BOOST_TEST(server.closed_by_client());
    BOOST_TEST(server.received() == "EHLO client.example\r\n");
}
#endif

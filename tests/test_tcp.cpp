// transport::tcp's Happy Eyeballs (RFC 8305) on the loopback interface, with
// a resolver of the test's own (the tcp constructor's option) so that a name
// can have the addresses the test chooses: an address that never answers (a
// listening socket whose accept queue is full drops new SYNs) before one that
// does; an address that refuses before one that answers; the order of the
// families; the source address. Each case asserts the outcome and the
// attempts, never a duration.
#include <smtp/transport/tcp.hpp>

#define BOOST_TEST_MODULE tcp
#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using tcp_socket = asio::ip::tcp::socket;
using endpoint = asio::ip::tcp::endpoint;

namespace {

/// A port on 127.0.0.1 that nobody listens on (bound, then released).
std::uint16_t closed_port(asio::io_context& io)
{
    asio::ip::tcp::acceptor a(io, endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = a.local_endpoint().port();
    a.close();
    return port;
}

/// A listener that never answers a new connection: its accept queue (backlog
/// 0) is filled with connections nobody accepts, after which the kernel drops
/// the SYNs of the next ones. Checked: a connect to it is still pending after
/// a while.
struct black_hole {
    asio::ip::tcp::acceptor acceptor;
    std::vector<std::unique_ptr<tcp_socket>> fillers{};
    endpoint at;

    explicit black_hole(asio::io_context& io) : acceptor(io)
    {
        acceptor.open(asio::ip::tcp::v4());
        acceptor.bind(endpoint(asio::ip::make_address("127.0.0.1"), 0));
        acceptor.listen(0);
        at = acceptor.local_endpoint();
        // Fill the queue: connect until a connect does not complete at once.
        for (int i = 0; i < 16; ++i) {
            auto s = std::make_unique<tcp_socket>(io);
            bool connected = false;
            s->async_connect(at, [&](boost::system::error_code ec) { connected = !ec; });
            io.restart();
            io.run_for(std::chrono::milliseconds(200));
            fillers.push_back(std::move(s));
            if (!connected) {
                io.restart();
                io.run_for(std::chrono::milliseconds(300));
                BOOST_REQUIRE_MESSAGE(!connected, "the kernel accepted past the backlog");
                // That connect stays pending (the kernel retries its SYN):
                // give it up, the queue stays full.
                fillers.back()->close();
                io.restart();
                io.run();
                return;
            }
        }
        BOOST_FAIL("could not fill the accept queue");
    }
};

struct result {
    std::optional<boost::system::error_code> ec;
    std::vector<smtp::transport::connect_attempt> attempts;
};

/// Connects through tcp with a resolver that answers `eps`.
result connect(asio::io_context& io, std::vector<endpoint> eps, std::chrono::milliseconds limit,
               const std::string& source = {})
{
    smtp::transport::tcp t(io.get_executor(), [eps](const std::string& host, std::uint16_t, smtp::error_code& ec) {
        BOOST_TEST(host == "mail.example.test");
        ec = {};
        return eps;
    });
    smtp::connect_options o;
    o.host = "mail.example.test";
    o.port = 25; // each endpoint carries its own port here
    o.source_address = source;
    result r;
    // The session's connect timeout, as the driver applies it: cancel().
    asio::steady_timer deadline(io, limit);
    deadline.async_wait([&](boost::system::error_code e) {
        if (!e)
            t.cancel();
    });
    t.async_connect(o, [&](boost::system::error_code ec) {
        r.ec = ec;
        deadline.cancel();
    });
    io.restart();
    io.run();
    r.attempts = t.connect_attempts();
    return r;
}

} // namespace

BOOST_AUTO_TEST_CASE(an_address_that_never_answers_does_not_hold_up_the_next)
{
    asio::io_context io;
    black_hole hole(io);
    asio::ip::tcp::acceptor good(io, endpoint(asio::ip::make_address("127.0.0.1"), 0));
    good.listen();
    // Without Happy Eyeballs the first address would use up the whole
    // connect timeout (a minute here) and the connect would fail.
    const auto r = connect(io, {hole.at, good.local_endpoint()}, std::chrono::minutes(1));
    BOOST_REQUIRE(r.ec.has_value());
    BOOST_TEST(!*r.ec, r.ec->message());
    BOOST_REQUIRE(r.attempts.size() == 2u);
    BOOST_TEST(r.attempts[0].address == "127.0.0.1");
    BOOST_TEST((r.attempts[0].error == asio::error::operation_aborted)); // the loser, cancelled
    BOOST_TEST(!r.attempts[1].error);
}

BOOST_AUTO_TEST_CASE(a_refusal_moves_on_to_the_next_address)
{
    asio::io_context io;
    const auto refused = endpoint(asio::ip::make_address("127.0.0.1"), closed_port(io));
    asio::ip::tcp::acceptor good(io, endpoint(asio::ip::make_address("127.0.0.1"), 0));
    good.listen();
    const auto r = connect(io, {refused, good.local_endpoint()}, std::chrono::minutes(1));
    BOOST_REQUIRE(r.ec.has_value());
    BOOST_TEST(!*r.ec);
    BOOST_REQUIRE(r.attempts.size() == 2u);
    BOOST_TEST((r.attempts[0].error == asio::error::connection_refused), r.attempts[0].error.message());
    BOOST_TEST(!r.attempts[1].error);
}

BOOST_AUTO_TEST_CASE(ipv6_first_then_the_families_alternate)
{
    asio::io_context io;
    const auto port = closed_port(io);
    auto v4 = [&](const char* a) { return endpoint(asio::ip::make_address(a), port); };
    // Every address fails at once (refused, or no IPv6 here): each is
    // tried, in RFC 8305's order. (::ffff:127.0.0.2 is IPv6 to the resolver.)
    const auto r = connect(io, {v4("127.0.0.1"), v4("127.0.0.2"), v4("::1"), v4("::ffff:127.0.0.2")},
                           std::chrono::minutes(1));
    BOOST_REQUIRE(r.ec.has_value());
    BOOST_TEST(r.ec->failed());
    BOOST_REQUIRE(r.attempts.size() == 4u);
    BOOST_TEST(r.attempts[0].address == "::1");
    BOOST_TEST(r.attempts[1].address == "127.0.0.1");
    BOOST_TEST(r.attempts[2].address == "::ffff:127.0.0.2");
    BOOST_TEST(r.attempts[3].address == "127.0.0.2");
    for (const auto& a : r.attempts)
        BOOST_TEST(a.error.failed(), a.address);
}

BOOST_AUTO_TEST_CASE(the_source_address_is_honoured)
{
    asio::io_context io;
    asio::ip::tcp::acceptor good(io, endpoint(asio::ip::make_address("127.0.0.1"), 0));
    good.listen();
    tcp_socket accepted(io);
    good.async_accept(accepted, [](boost::system::error_code) {});
    const auto here = good.local_endpoint();
    // An IPv6 address first: another family than the source, skipped.
    const auto r = connect(io, {endpoint(asio::ip::make_address("::1"), here.port()), here}, std::chrono::minutes(1),
                           "127.0.0.3");
    BOOST_REQUIRE(r.ec.has_value());
    BOOST_TEST(!*r.ec, r.ec->message());
    BOOST_REQUIRE(r.attempts.size() == 2u);
    BOOST_TEST((r.attempts[0].error == asio::error::address_family_not_supported));
    BOOST_TEST(!r.attempts[1].error);
    BOOST_TEST(accepted.remote_endpoint().address().to_string() == "127.0.0.3");
}

BOOST_AUTO_TEST_CASE(the_connect_timeout_cancels_every_attempt)
{
    asio::io_context io;
    black_hole a(io), b(io);
    const auto r = connect(io, {a.at, b.at}, std::chrono::milliseconds(600));
    BOOST_REQUIRE(r.ec.has_value());
    BOOST_TEST((*r.ec == asio::error::operation_aborted), r.ec->message());
    BOOST_REQUIRE(r.attempts.size() == 2u); // the second started 250 ms after the first
    for (const auto& at : r.attempts)
        BOOST_TEST((at.error == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(a_tcp_destroyed_while_connecting)
{
    // Its pending attempts are cut off; the handler still runs, once, with
    // operation_aborted, and nothing touches the destroyed object.
    asio::io_context io;
    black_hole hole(io);
    std::optional<boost::system::error_code> got;
    int calls = 0;
    {
        smtp::transport::tcp t(io.get_executor(), [&](const std::string&, std::uint16_t, smtp::error_code& ec) {
            ec = {};
            return std::vector<endpoint>{hole.at};
        });
        smtp::connect_options o;
        t.async_connect(o, [&](boost::system::error_code ec) {
            got = ec;
            ++calls;
        });
        io.restart();
        io.run_for(std::chrono::milliseconds(50));
    }
    io.restart();
    io.run();
    BOOST_TEST(calls == 1);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST((*got == asio::error::operation_aborted), got->message());
}

BOOST_AUTO_TEST_CASE(the_real_resolver)
{
    // The production path: "localhost" through getaddrinfo, to a listener.
    asio::io_context io;
    asio::ip::tcp::acceptor good(io, endpoint(asio::ip::make_address("127.0.0.1"), 0));
    good.listen();
    smtp::transport::tcp t(io.get_executor());
    smtp::connect_options o;
    o.host = "localhost";
    o.port = good.local_endpoint().port();
    std::optional<boost::system::error_code> got;
    t.async_connect(o, [&](boost::system::error_code ec) { got = ec; });
    io.run();
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(!*got, got->message());
    bool v4_ok = false;
    for (const auto& a : t.connect_attempts())
        v4_ok = v4_ok || (a.address == "127.0.0.1" && !a.error);
    BOOST_TEST(v4_ok);
}

// transport::unix_socket against aiosmtpd listening on Unix sockets
// (with_servers.py --server "NAME:--unix ..."): LMTP with its per-recipient
// replies, SMTP with STARTTLS checked against connect_options::host, a pool
// of sessions over the socket, and a path with nobody behind it.
#define BOOST_TEST_MODULE live_unix
#include "live_servers.hpp"

#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#include <smtp/transport/unix_socket.hpp>

#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>

#include <string>
#include <vector>

namespace {

using live::contains;
using live::env;
using live::records;

/// Options for a server on a socket: the test CA, the name its certificate carries.
smtp::connect_options options()
{
    smtp::connect_options o;
    o.host = "localhost"; // not used to connect: only to check the certificate
    o.tls.ca_file = env("SMTP_TEST_CERTS") + "/ca.pem";
    o.local_name = "client.example";
    o.timeouts.command = o.timeouts.greeting = o.timeouts.connect = std::chrono::seconds(10);
    return o;
}

std::string socket_of(const std::string& name) { return env("SMTP_TEST_" + name + "_SOCKET"); }

using lmtp = smtp::policies<smtp::transport::unix_socket, smtp::tls::none, smtp::dialect::lmtp>;
using smtp_over_socket = smtp::policies<smtp::transport::unix_socket>; // STARTTLS required, verified

static_assert(std::is_same_v<lmtp::transport, smtp::transport::tls_layer<smtp::transport::unix_socket>>);

} // namespace

BOOST_AUTO_TEST_CASE(lmtp_over_a_unix_socket)
{
    // Server "lmtp": LHLO, one reply per recipient; full@example.com refused after the data.
    auto g = std::move(smtp::connect<lmtp>(options(), socket_of("LMTP"))).ehlo();
    BOOST_TEST(g.transport().next_layer().path() == socket_of("LMTP"));
    const auto r = g.sendmail("a@example.com", {"ok@example.com", "full@example.com"}, "Subject: lmtp\r\n\r\nhi\r\n");
    BOOST_REQUIRE(r.recipients.size() == 2u);
    BOOST_TEST(r.recipients[0].accepted());
    BOOST_REQUIRE(r.recipients[1].delivery.has_value());
    BOOST_TEST(r.recipients[1].delivery->code() == 550);
    std::move(g).quit();
    const auto rec = records("LMTP");
    BOOST_REQUIRE(rec.size() == 1u);
    BOOST_TEST(contains(rec[0], "\"helo\": \"client.example\""));
}

BOOST_AUTO_TEST_CASE(starttls_over_a_unix_socket)
{
    // Server "tls": STARTTLS required; the certificate is checked against
    // connect_options::host, as over TCP.
    auto e = std::move(std::move(smtp::connect<smtp_over_socket>(options(), socket_of("TLS"))).ehlo()).starttls().ehlo();
    BOOST_TEST(e.encrypted());
    e.sendmail("author@example.com", {"a@example.com"}, "Subject: unix tls\r\n\r\nhi\r\n");
    std::move(e).quit();
    const auto rec = records("TLS");
    BOOST_REQUIRE(rec.size() == 1u);
    BOOST_TEST(contains(rec[0], "\"tls\": true"));

    // The wrong name: the certificate check fails, as it would over TCP.
    auto wrong = options();
    wrong.host = "wrong.example";
    auto g = std::move(smtp::connect<smtp_over_socket>(wrong, socket_of("TLS"))).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto t = std::move(g).starttls(ec, diag);
    BOOST_TEST(!t.has_value());
    BOOST_TEST((ec == smtp::error_code(X509_V_ERR_HOSTNAME_MISMATCH, smtp::x509_category())), ec.message());
    BOOST_TEST(records("TLS").size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_pool_over_a_unix_socket)
{
    // The pool makes each session's stream with its transport_factory (a
    // unix_socket needs its path); the session's TLS layer goes over it.
    boost::asio::io_context io;
    smtp::pool_options po;
    po.max_sessions = 2;
    po.max_messages_per_session = 3;
    const std::string path = socket_of("POOL");
    int made = 0;
    smtp::pool<lmtp> pool(io.get_executor(), options(), po, [&](boost::asio::any_io_executor ex) {
        ++made;
        return smtp::transport::unix_socket(ex, path);
    });
    std::vector<smtp::transaction_result> results(7);
    std::size_t done = 0;
    for (std::size_t i = 0; i < results.size(); ++i)
        pool.async_send({"a@example.com", {{"b@example.com"}}, "Subject: pool\r\n\r\nm" + std::to_string(i), {}},
                        [&, i](smtp::error_code, smtp::transaction_result r) {
                            results[i] = std::move(r);
                            ++done;
                        });
    pool.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    BOOST_TEST(done == results.size());
    for (const auto& r : results)
        BOOST_TEST(r.queued());
    BOOST_TEST(records("POOL").size() == results.size());
    BOOST_TEST(made >= 3); // 7 messages, at most 3 a session
    BOOST_TEST(static_cast<std::size_t>(made) == pool.stats().sessions_opened);
}

BOOST_AUTO_TEST_CASE(a_path_nobody_listens_on)
{
    smtp::error_code ec;
    smtp::diagnostics diag;
    const std::string path = env("SMTP_TEST_CERTS") + "/no-such.sock";
    BOOST_TEST(!smtp::connect<lmtp>(options(), ec, diag, path).has_value());
    BOOST_TEST(ec.failed());
    BOOST_TEST(contains(diag.describe(ec), path), diag.describe(ec)); // the path, named
    // As what it is, once: not as a host and port the transport never used.
    BOOST_TEST(contains(diag.describe(ec), "connect to the Unix socket " + path + ": "), diag.describe(ec));
    BOOST_TEST(!contains(diag.describe(ec), " port "), diag.describe(ec));
    BOOST_TEST(diag.describe(ec).find(path) == diag.describe(ec).rfind(path), diag.describe(ec));
    // A path too long for a socket address: refused before any system call.
    BOOST_TEST(!smtp::connect<lmtp>(options(), ec, diag, std::string(200, 'x')).has_value());
    BOOST_TEST(ec == boost::asio::error::name_too_long, ec.message());
}

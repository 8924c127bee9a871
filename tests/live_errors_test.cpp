// Errors that say what happened, against real servers (tests/servers/
// with_servers.py starts them on free loopback ports; tests/CMakeLists.txt
// says which): a plain aiosmtpd under tls::implicit, an implicit-TLS aiosmtpd
// under tls::starttls and tls::none, an SSH-like banner, Python's
// http.server, a server that says nothing, one that closes at once, one that
// greets and then falls silent, a port nobody listens on, and a wrong
// password. Each in the synchronous and the asynchronous form.
#define BOOST_TEST_MODULE live_errors
#include "live_servers.hpp"

#include <smtp/client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

namespace asio = boost::asio;
using smtp::errc;
using std::chrono::milliseconds;

namespace {

using live::server;

using implicit = smtp::policies<smtp::tls::implicit>;
using starttls = smtp::policies<>; // the default: STARTTLS required
using clear = smtp::policies<smtp::tls::none>;

const std::string in_clear = "the server greets in clear: use tls::starttls, usually port 587";
const std::string no_greeting = "the server sent no greeting: if it expects TLS at once, use tls::implicit, usually port 465";
const std::string ssh_got = "got 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\\r\\n'";

/// What a connect said: the error, the diagnostics, and how long it took.
struct outcome {
    smtp::error_code ec;
    smtp::diagnostics diag;
    milliseconds took{};
};

/// The synchronous connect, error_code form.
template <class P>
outcome connect_sync(const smtp::connect_options& o)
{
    outcome r;
    const auto t0 = std::chrono::steady_clock::now();
    auto c = smtp::connect<P>(o, r.ec, r.diag);
    r.took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
    BOOST_TEST(!c.has_value());
    return r;
}

/// The asynchronous connect, with its diagnostics.
template <class P>
outcome connect_async(const smtp::connect_options& o)
{
    outcome r;
    asio::io_context io;
    bool called = false;
    const auto t0 = std::chrono::steady_clock::now();
    smtp::async_connect<P>(io.get_executor(), o, r.diag, [&](smtp::error_code ec, auto c) {
        called = true;
        r.ec = ec;
        BOOST_TEST(!c.has_value());
    });
    io.run();
    r.took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
    BOOST_TEST(called);
    return r;
}

/// The throwing connect: what() of what it throws.
template <class P>
std::string connect_what(const smtp::connect_options& o, smtp::error_code& code)
{
    try {
        smtp::connect<P>(o);
    } catch (const smtp::error_with_diagnostics& e) {
        code = e.code();
        return e.what();
    }
    BOOST_FAIL("no exception");
    return {};
}

/// Both forms of connect under P, with their error and detail checked.
template <class P, class Check>
void both_forms(const smtp::connect_options& o, Check check)
{
    BOOST_TEST_CONTEXT("synchronous") { check(connect_sync<P>(o)); }
    BOOST_TEST_CONTEXT("asynchronous") { check(connect_async<P>(o)); }
}

} // namespace

// ---------------------------------------------------------------------------
// The wrong TLS mode for the port.

BOOST_AUTO_TEST_CASE(plain_server_under_implicit_tls)
{
    // aiosmtpd in clear greets; OpenSSL calls the greeting a "wrong version number".
    both_forms<implicit>(server("PLAIN"), [](const outcome& r) {
        BOOST_TEST(r.ec == errc::greeting_in_clear, r.ec.message());
        BOOST_TEST(r.diag.detail_text().rfind("got '220 ", 0) == 0, r.diag.detail_text());
        BOOST_TEST(r.diag.describe(r.ec) == in_clear + ": " + r.diag.detail_text());
    });
    smtp::error_code code;
    const std::string what = connect_what<implicit>(server("PLAIN"), code);
    BOOST_TEST(code == errc::greeting_in_clear);
    BOOST_TEST(what.rfind(in_clear + ": got '220 ", 0) == 0, what);
}

BOOST_AUTO_TEST_CASE(implicit_tls_server_under_starttls_and_none)
{
    // An implicit-TLS server waits for the ClientHello: the client hears nothing.
    auto o = server("IMPLICIT");
    o.timeouts.greeting = milliseconds(300);
    auto check = [](const outcome& r) {
        BOOST_TEST(r.ec == errc::no_greeting, r.ec.message());
        BOOST_TEST(r.diag.detail_text() == "no greeting within 300 ms");
        BOOST_TEST(r.diag.describe(r.ec) == no_greeting + ": no greeting within 300 ms");
        BOOST_TEST(r.took < milliseconds(3000));
    };
    BOOST_TEST_CONTEXT("tls::starttls") { both_forms<starttls>(o, check); }
    BOOST_TEST_CONTEXT("tls::none") { both_forms<clear>(o, check); }
    smtp::error_code code;
    BOOST_TEST(connect_what<starttls>(o, code) == no_greeting + ": no greeting within 300 ms");
    BOOST_TEST(code == errc::no_greeting);
}

// ---------------------------------------------------------------------------
// Not an SMTP server.

BOOST_AUTO_TEST_CASE(ssh_banner)
{
    auto check = [](const outcome& r) {
        BOOST_TEST(r.ec == errc::not_smtp, r.ec.message());
        BOOST_TEST(r.diag.detail_text() == ssh_got);
        BOOST_TEST(r.diag.describe(r.ec) == "not an SMTP server: " + ssh_got);
    };
    BOOST_TEST_CONTEXT("tls::none") { both_forms<clear>(server("SSH"), check); }
    BOOST_TEST_CONTEXT("tls::starttls") { both_forms<starttls>(server("SSH"), check); }
    // Under implicit TLS the banner is what OpenSSL read instead of a ServerHello.
    BOOST_TEST_CONTEXT("tls::implicit") { both_forms<implicit>(server("SSH"), check); }
    smtp::error_code code;
    BOOST_TEST(connect_what<clear>(server("SSH"), code) == "not an SMTP server: " + ssh_got);
}

BOOST_AUTO_TEST_CASE(http_server)
{
    // Under implicit TLS, Python's http.server answers the ClientHello with
    // an error page; in clear it waits for a request, so no greeting comes.
    both_forms<implicit>(server("WEB", "127.0.0.1"), [](const outcome& r) {
        BOOST_TEST(r.ec == errc::not_smtp, r.ec.message());
        BOOST_TEST(r.diag.detail_text().rfind("got '<!DOCTYPE HTML>\\n<html", 0) == 0, r.diag.detail_text());
        BOOST_TEST(r.diag.detail_text().size() <= std::string("got '...'...").size() + 4 * 64);
    });
    auto o = server("WEB", "127.0.0.1");
    o.timeouts.greeting = milliseconds(200);
    both_forms<clear>(o, [](const outcome& r) {
        BOOST_TEST(r.ec == errc::no_greeting, r.ec.message());
        BOOST_TEST(r.diag.detail_text() == "no greeting within 200 ms");
    });
}

BOOST_AUTO_TEST_CASE(silent_and_closing_servers)
{
    auto o = server("SILENT");
    o.timeouts.greeting = milliseconds(200);
    both_forms<clear>(o, [](const outcome& r) {
        BOOST_TEST(r.ec == errc::no_greeting, r.ec.message());
        BOOST_TEST(r.diag.detail_text() == "no greeting within 200 ms");
    });
    both_forms<starttls>(server("CLOSER"), [](const outcome& r) {
        BOOST_TEST(r.ec == errc::no_greeting, r.ec.message());
        BOOST_TEST(r.diag.detail_text() == "the server closed the connection without a greeting");
    });
}

// ---------------------------------------------------------------------------
// Timeouts name their phase; failed connects their host, port and addresses.

BOOST_AUTO_TEST_CASE(a_server_that_falls_silent_after_its_greeting)
{
    auto o = server("MUTE");
    o.timeouts.command = milliseconds(200);
    {
        auto c = smtp::connect<clear>(o);
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(c).ehlo(ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to EHLO within 200 ms");
        BOOST_TEST(std::move(r).recover().broken());
    }
    {
        asio::io_context io;
        smtp::error_code seen;
        std::string detail;
        smtp::async_connect<clear>(io.get_executor(), o, [&](smtp::error_code ec, auto c) {
            BOOST_REQUIRE(!ec);
            std::move(*c).async_ehlo([&](smtp::error_code, auto r) {
                seen = r.error();
                detail = r.diag().detail_text();
            });
        });
        io.run();
        BOOST_TEST(seen == errc::timeout);
        BOOST_TEST(detail == "no reply to EHLO within 200 ms");
    }
}

BOOST_AUTO_TEST_CASE(connect_refused_names_host_port_and_address)
{
    // A port bound and not listening: the connect is refused.
    asio::io_context io;
    asio::ip::tcp::socket held(io);
    held.open(asio::ip::tcp::v4());
    held.bind({asio::ip::make_address("127.0.0.1"), 0});
    smtp::connect_options o = server("PLAIN", "localhost");
    o.port = held.local_endpoint().port();
    const smtp::error_code refused = asio::error::connection_refused;
    const std::string want =
        "connect to localhost port " + std::to_string(o.port) + ": 127.0.0.1: " + refused.message();
    both_forms<clear>(o, [&](const outcome& r) {
        BOOST_TEST(r.ec == refused, r.ec.message());
        BOOST_TEST(r.diag.detail_text() == want);
        BOOST_TEST(r.diag.describe(r.ec) == want);
    });
    smtp::error_code code;
    BOOST_TEST(connect_what<clear>(o, code) == want);
    // IPv6, when this machine has it.
    asio::ip::tcp::socket held6(io);
    smtp::error_code e6;
    held6.open(asio::ip::tcp::v6(), e6);
    if (!e6)
        held6.bind({asio::ip::make_address("::1"), 0}, e6);
    if (!e6) {
        o.host = "::1";
        o.port = held6.local_endpoint().port();
        const auto r = connect_sync<clear>(o);
        BOOST_TEST(r.diag.detail_text() ==
                   "connect to ::1 port " + std::to_string(o.port) + ": ::1: " + refused.message());
    }
}

// ---------------------------------------------------------------------------
// A wrong password: errc::auth_refused, and a polite QUIT after it.

namespace {
using logged = smtp::policies<smtp::log::transcript>;

bool said_goodbye(const std::string& transcript)
{
    return transcript.find("send: 'QUIT\\r\\n'") != std::string::npos &&
           transcript.find("reply: retcode (221)") != std::string::npos;
}
} // namespace

BOOST_AUTO_TEST_CASE(wrong_password_error_code_form_then_quit)
{
    std::ostringstream log;
    auto e = std::move(std::move(smtp::connect<logged>(server("AUTH"), smtp::log::transcript(log))).ehlo())
                 .starttls()
                 .ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(e).login("alice", "wrong", ec, diag);
    BOOST_TEST(ec == errc::auth_refused);
    BOOST_REQUIRE(diag.server_reply().has_value());
    BOOST_TEST(diag.server_reply()->code() == 535);
    BOOST_TEST(diag.describe(ec) == "authentication refused: 535 5.7.8 Authentication credentials invalid");
    auto closed = std::move(r).recover().quit(ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(closed.clean());
    BOOST_TEST(said_goodbye(log.str()), log.str());
}

BOOST_AUTO_TEST_CASE(wrong_password_throwing_form_quits_before_the_exception)
{
    std::ostringstream log;
    auto e = std::move(std::move(smtp::connect<logged>(server("AUTH"), smtp::log::transcript(log))).ehlo())
                 .starttls()
                 .ehlo();
    try {
        std::move(e).login("alice", "wrong");
        BOOST_FAIL("no exception");
    } catch (const smtp::error_with_diagnostics& x) {
        BOOST_TEST(x.code() == errc::auth_refused);
        BOOST_TEST(std::string(x.what()) == "authentication refused: 535 5.7.8 Authentication credentials invalid");
        BOOST_TEST(said_goodbye(log.str()), log.str());
    }
}

BOOST_AUTO_TEST_CASE(wrong_password_async_then_quit)
{
    asio::io_context io;
    smtp::error_code login_ec, quit_ec = errc::timeout;
    std::optional<smtp::reply> refusal;
    smtp::async_connect<starttls>(io.get_executor(), server("AUTH"), [&](smtp::error_code ec, auto c) {
        BOOST_REQUIRE(!ec);
        std::move(*c).async_ehlo([&](smtp::error_code, auto g) {
            std::move(g).value().async_starttls([&](smtp::error_code, auto t) {
                std::move(t).value().async_ehlo([&](smtp::error_code, auto e) {
                    std::move(e).value().async_login("alice", "wrong", [&](smtp::error_code, auto r) {
                        login_ec = r.error();
                        refusal = r.diag().server_reply();
                        // async_quit keeps the session until it completes: a temporary will do.
                        std::move(r).recover().async_quit([&](smtp::error_code q, auto) { quit_ec = q; });
                    });
                });
            });
        });
    });
    io.run();
    BOOST_TEST(login_ec == errc::auth_refused);
    BOOST_REQUIRE(refusal.has_value());
    BOOST_TEST(refusal->code() == 535);
    BOOST_TEST(!quit_ec); // 221: QUIT answered
}

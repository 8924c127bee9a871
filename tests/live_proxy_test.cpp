// The proxies (transport::socks5, transport::http_connect) against real ones,
// microsocks and tinyproxy, started by with_servers.py in front of aiosmtpd:
// the tunnel carries SMTP both ways, credentials are asked for and refused,
// a proxy that refuses the destination and one that is not there are errors
// naming the proxy. And a scripted proxy in this process for the replies no
// real proxy sends: truncated, overlong, of the wrong version, endless.
#include <smtp/transport/any_stream.hpp>
#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#include <smtp/transport/http_connect.hpp>
#include <smtp/transport/socks5.hpp>

#define BOOST_TEST_MODULE live_proxy
#include <boost/test/unit_test.hpp>

#include "live_servers.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/x509_vfy.h>
#include <boost/asio/write.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using smtp::errc;
using smtp::error_code;
using smtp::transport::http_proxy_options;
using smtp::transport::socks5_options;

namespace {

static_assert(smtp::transport::stream_transport<smtp::transport::socks5<>>);
static_assert(smtp::transport::stream_transport<smtp::transport::http_connect<>>);

std::uint16_t port_of(const std::string& name) { return static_cast<std::uint16_t>(std::stoi(live::env("SMTP_TEST_" + name + "_PORT"))); }

/// A port nobody listens on.
std::uint16_t dead_port()
{
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

template <class Stream>
error_code connect(asio::io_context& io, Stream& s, const smtp::connect_options& o)
{
    std::optional<error_code> got;
    s.async_connect(o, [&](error_code e) { got = e; });
    io.restart();
    io.run_for(std::chrono::seconds(20));
    BOOST_REQUIRE(got.has_value());
    return *got;
}

/// Reads one SMTP reply line (the servers here answer EHLO with several:
/// reads until the last).
template <class Stream>
std::string reply(asio::io_context& io, Stream& s)
{
    std::string got;
    for (;;) {
        char buf[512];
        std::optional<std::pair<error_code, std::size_t>> r;
        s.async_read_some(asio::buffer(buf), [&](error_code e, std::size_t n) { r.emplace(e, n); });
        io.restart();
        io.run_for(std::chrono::seconds(10));
        BOOST_REQUIRE(r.has_value());
        BOOST_REQUIRE_MESSAGE(!r->first, r->first.message());
        got.append(buf, r->second);
        // The last line of a reply: code and a space.
        const auto end = got.rfind("\r\n");
        if (end != std::string::npos) {
            const auto start = got.rfind("\r\n", end - 1);
            const std::string last = got.substr(start == std::string::npos ? 0 : start + 2);
            if (last.size() > 3 && last[3] == ' ')
                return got;
        }
    }
}

template <class Stream>
void send(asio::io_context& io, Stream& s, std::string text)
{
    while (!text.empty()) {
        std::optional<std::pair<error_code, std::size_t>> r;
        s.async_write_some(asio::buffer(text), [&](error_code e, std::size_t n) { r.emplace(e, n); });
        io.restart();
        io.run_for(std::chrono::seconds(10));
        BOOST_REQUIRE(r.has_value());
        BOOST_REQUIRE(!r->first);
        text.erase(0, r->second);
    }
}

/// A whole message by hand through the stream; the server records it.
template <class Stream>
void mail_through(asio::io_context& io, Stream& s, const std::string& marker)
{
    BOOST_TEST(reply(io, s).starts_with("220 "));
    send(io, s, "EHLO client.example\r\n");
    BOOST_TEST(reply(io, s).starts_with("250"));
    send(io, s, "MAIL FROM:<a@example.com>\r\n");
    BOOST_TEST(reply(io, s).starts_with("250"));
    send(io, s, "RCPT TO:<b@example.com>\r\n");
    BOOST_TEST(reply(io, s).starts_with("250"));
    send(io, s, "DATA\r\n");
    BOOST_TEST(reply(io, s).starts_with("354"));
    send(io, s, "Subject: " + marker + "\r\n\r\nthrough a proxy\r\n.\r\n");
    BOOST_TEST(reply(io, s).starts_with("250"));
    send(io, s, "QUIT\r\n");
    BOOST_TEST(reply(io, s).starts_with("221"));
}

bool recorded(const std::string& marker)
{
    for (const auto& r : live::records("MAIN"))
        if (live::contains(live::recorded_data(r), "Subject: " + marker))
            return true;
    return false;
}

socks5_options socks_at(const std::string& name, std::string user = {}, std::string pass = {})
{
    return {"127.0.0.1", port_of(name), std::move(user), std::move(pass)};
}

http_proxy_options http_at(const std::string& name, std::string user = {}, std::string pass = {})
{
    return {"127.0.0.1", port_of(name), std::move(user), std::move(pass)};
}

} // namespace

BOOST_AUTO_TEST_CASE(socks5_carries_a_message_to_the_mail_server)
{
    asio::io_context io;
    smtp::transport::socks5<> s(io.get_executor(), socks_at("SOCKS"));
    BOOST_REQUIRE(!connect(io, s, live::server("MAIN")));
    mail_through(io, s, "socks5-plain");
    BOOST_TEST(recorded("socks5-plain"));
    BOOST_TEST(s.connect_failure_detail().empty());
}

BOOST_AUTO_TEST_CASE(socks5_with_credentials)
{
    asio::io_context io;
    smtp::transport::socks5<> s(io.get_executor(), socks_at("SOCKS_AUTH", "alice", "s3cret"));
    BOOST_REQUIRE(!connect(io, s, live::server("MAIN")));
    mail_through(io, s, "socks5-auth");
    BOOST_TEST(recorded("socks5-auth"));
}

BOOST_AUTO_TEST_CASE(socks5_credentials_missing_or_wrong)
{
    asio::io_context io;
    smtp::transport::socks5<> none(io.get_executor(), socks_at("SOCKS_AUTH"));
    BOOST_TEST(connect(io, none, live::server("MAIN")) == errc::proxy_auth_required);
    BOOST_TEST(none.connect_failure_detail() == "SOCKS5 proxy 127.0.0.1:" + std::to_string(port_of("SOCKS_AUTH")) +
                                                    " asks for credentials (it refused no authentication)");

    smtp::transport::socks5<> wrong(io.get_executor(), socks_at("SOCKS_AUTH", "alice", "not-the-password"));
    BOOST_TEST(connect(io, wrong, live::server("MAIN")) == errc::proxy_auth_refused);
    BOOST_TEST(live::contains(wrong.connect_failure_detail(), "refused the username and password"),
               wrong.connect_failure_detail());
    BOOST_TEST(!live::contains(wrong.connect_failure_detail(), "not-the-password"));
}

BOOST_AUTO_TEST_CASE(socks5_destination_refused)
{
    asio::io_context io;
    smtp::transport::socks5<> s(io.get_executor(), socks_at("SOCKS"));
    smtp::connect_options o = live::server("MAIN");
    o.port = dead_port();
    BOOST_TEST(connect(io, s, o) == errc::proxy_refused);
    BOOST_TEST(s.connect_failure_detail() == "SOCKS5 proxy 127.0.0.1:" + std::to_string(port_of("SOCKS")) +
                                                 " refused CONNECT to localhost:" + std::to_string(o.port) +
                                                 ": connection refused by destination host (5)");
}

BOOST_AUTO_TEST_CASE(dead_proxies_are_named)
{
    asio::io_context io;
    const std::uint16_t dead = dead_port();
    smtp::transport::socks5<> s(io.get_executor(), socks5_options{"127.0.0.1", dead});
    BOOST_TEST(connect(io, s, live::server("MAIN")) == asio::error::connection_refused);
    BOOST_TEST(s.connect_failure_detail() == // each address of the proxy tried (transport::tcp's)
               "cannot reach the SOCKS5 proxy 127.0.0.1:" + std::to_string(dead) + ": 127.0.0.1: " +
                   error_code(asio::error::connection_refused).message());

    smtp::transport::http_connect<> h(io.get_executor(), http_proxy_options{"127.0.0.1", dead});
    BOOST_TEST(connect(io, h, live::server("MAIN")) == asio::error::connection_refused);
    BOOST_TEST(live::contains(h.connect_failure_detail(), "cannot reach the HTTP proxy 127.0.0.1:" + std::to_string(dead)));
}

BOOST_AUTO_TEST_CASE(http_connect_carries_a_message_to_the_mail_server)
{
    asio::io_context io;
    smtp::transport::http_connect<> h(io.get_executor(), http_at("WEB"));
    BOOST_REQUIRE(!connect(io, h, live::server("MAIN")));
    mail_through(io, h, "http-plain"); // tinyproxy's 200 and the greeting can share a segment
    BOOST_TEST(recorded("http-plain"));
}

BOOST_AUTO_TEST_CASE(http_connect_with_credentials)
{
    asio::io_context io;
    smtp::transport::http_connect<> h(io.get_executor(), http_at("WEB_AUTH", "alice", "s3cret"));
    BOOST_REQUIRE(!connect(io, h, live::server("MAIN")));
    mail_through(io, h, "http-auth");
    BOOST_TEST(recorded("http-auth"));
}

BOOST_AUTO_TEST_CASE(http_connect_credentials_missing_or_wrong)
{
    asio::io_context io;
    smtp::transport::http_connect<> none(io.get_executor(), http_at("WEB_AUTH"));
    BOOST_TEST(connect(io, none, live::server("MAIN")) == errc::proxy_auth_required);
    BOOST_TEST(none.connect_failure_detail() == "HTTP proxy 127.0.0.1:" + std::to_string(port_of("WEB_AUTH")) +
                                                    " asks for credentials: HTTP/1.0 407 Proxy Authentication Required");

    smtp::transport::http_connect<> wrong(io.get_executor(), http_at("WEB_AUTH", "alice", "not-the-password"));
    BOOST_TEST(connect(io, wrong, live::server("MAIN")) == errc::proxy_auth_refused);
    BOOST_TEST(wrong.connect_failure_detail() == "HTTP proxy 127.0.0.1:" + std::to_string(port_of("WEB_AUTH")) +
                                                     " refused the credentials: HTTP/1.0 401 Unauthorized"); // tinyproxy's way
    BOOST_TEST(!live::contains(wrong.connect_failure_detail(), "not-the-password"));
}

BOOST_AUTO_TEST_CASE(http_connect_destination_refused)
{
    // tinyproxy "WEB_PORTS" allows CONNECT to port 1 only: 403.
    asio::io_context io;
    smtp::transport::http_connect<> h(io.get_executor(), http_at("WEB_PORTS"));
    const smtp::connect_options o = live::server("MAIN");
    BOOST_TEST(connect(io, h, o) == errc::proxy_refused);
    BOOST_TEST(h.connect_failure_detail().starts_with("HTTP proxy 127.0.0.1:" + std::to_string(port_of("WEB_PORTS")) +
                                                      " refused CONNECT to localhost:" + std::to_string(o.port) +
                                                      ": HTTP/1.1 403 "),
               h.connect_failure_detail());
}

// ---------------------------------------------------------------------------
// A proxy in this process, answering what it is told to.

namespace {

/// Accepts one client on a loopback port, reads its first request, answers
/// `answer`, then closes (or, with `hold`, keeps the connection open).
class scripted_proxy {
public:
    scripted_proxy(std::string answer, bool hold = false)
        : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), answer_(std::move(answer)), hold_(hold)
    {
        thread_ = std::thread([this] {
            error_code ec;
            asio::ip::tcp::socket s(io_);
            acceptor_.accept(s, ec);
            if (ec)
                return;
            char buf[1024];
            s.read_some(asio::buffer(buf), ec);
            asio::write(s, asio::buffer(answer_), ec);
            if (hold_)
                s.read_some(asio::buffer(buf), ec); // until the client goes
        });
    }
    ~scripted_proxy()
    {
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::string answer_;
    bool hold_;
    std::thread thread_;
};

smtp::connect_options anywhere()
{
    smtp::connect_options o;
    o.host = "mx.example";
    o.port = 25;
    return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(scripted_http_proxy_hostile_replies)
{
    struct hostile {
        std::string answer;
        bool hold;
        std::size_t max;
        errc expected;
        std::string says;
    };
    const hostile cases[] = {
        {"HTTP/1.1 200 Connection established\r\nX: y\r\n", false, 8192, errc::proxy_closed,
         "closed the connection before the tunnel to mx.example:25 was up (its reply cut short)"},
        {"HTTP/1.1 200 OK\r\n" + std::string(300, 'x'), true, 256, errc::proxy_reply_too_long,
         "without ending its reply's headers (the limit is 256)"},
        {std::string(2000, 'A'), true, 1024, errc::proxy_reply_too_long, "without ending its reply's status line"},
        {"SSH-2.0-OpenSSH_9.2p1\r\n", true, 8192, errc::proxy_bad_reply, "not an HTTP status line: 'SSH-2.0-OpenSSH_9.2p1'"},
        {"", false, 8192, errc::proxy_closed, "closed the connection before the tunnel to mx.example:25 was up"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.says)
        {
            scripted_proxy p(c.answer, c.hold);
            asio::io_context io;
            smtp::transport::http_connect<> h(io.get_executor(),
                                                       http_proxy_options{"127.0.0.1", p.port(), {}, {}, c.max});
            BOOST_TEST(connect(io, h, anywhere()) == c.expected);
            BOOST_TEST(live::contains(h.connect_failure_detail(), c.says), h.connect_failure_detail());
            h.close();
        }
    }
}

BOOST_AUTO_TEST_CASE(scripted_socks5_proxy_hostile_replies)
{
    struct hostile {
        std::string answer;
        errc expected;
        std::string says;
    };
    const hostile cases[] = {
        {std::string("\x04\x00", 2), errc::proxy_bad_reply, "answered the greeting with version 4, not 5"},
        {std::string("\x05", 1), errc::proxy_closed, "closed the connection before the tunnel"},
        {"HTTP/1.1 400 Bad Request\r\n\r\n", errc::proxy_bad_reply, "not a SOCKS5 proxy"},
        {std::string("\x05\x02", 2), errc::proxy_bad_reply, "chose authentication method 2, which was not offered"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.says)
        {
            scripted_proxy p(c.answer);
            asio::io_context io;
            smtp::transport::socks5<> s(io.get_executor(), socks5_options{"127.0.0.1", p.port()});
            BOOST_TEST(connect(io, s, anywhere()) == c.expected);
            BOOST_TEST(live::contains(s.connect_failure_detail(), c.says), s.connect_failure_detail());
            s.close();
        }
    }
}

BOOST_AUTO_TEST_CASE(nothing_is_sent_for_a_request_the_proxy_cannot_be_given)
{
    // No proxy listens on this port; the error comes before any connect.
    asio::io_context io;
    smtp::transport::http_connect<> h(io.get_executor(), http_proxy_options{"127.0.0.1", dead_port()});
    smtp::connect_options o = anywhere();
    o.host = "mx.example\r\nX-Injected: 1";
    BOOST_TEST(connect(io, h, o) == errc::proxy_invalid_request);
    smtp::transport::socks5<> s(io.get_executor(), socks5_options{"127.0.0.1", dead_port(), "alice", ""});
    BOOST_TEST(connect(io, s, anywhere()) == errc::proxy_invalid_request);
}

BOOST_AUTO_TEST_CASE(a_silent_proxy_is_cut_off_by_cancel)
{
    // What the session's connect timeout does: cancel(). The proxy read the
    // greeting and never answers.
    scripted_proxy p("", true);
    asio::io_context io;
    smtp::transport::socks5<> s(io.get_executor(), socks5_options{"127.0.0.1", p.port()});
    std::optional<error_code> got;
    s.async_connect(anywhere(), [&](error_code e) { got = e; });
    asio::steady_timer timer(io, std::chrono::milliseconds(200));
    timer.async_wait([&](error_code) { s.cancel(); });
    io.run_for(std::chrono::seconds(10));
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(*got == asio::error::operation_aborted);
    BOOST_TEST(s.connect_failure_detail() == "SOCKS5 proxy 127.0.0.1:" + std::to_string(p.port()) +
                                                 " gave no tunnel to mx.example:25 (cut off while waiting for its reply)");
    s.close();
}

// ---------------------------------------------------------------------------
// A stream chosen at run time.

namespace {
using chosen = smtp::transport::any_stream;
static_assert(smtp::transport::stream_transport<chosen>);
} // namespace

BOOST_AUTO_TEST_CASE(any_stream_picks_the_stream_from_its_arguments)
{
    asio::io_context io;
    chosen direct(io.get_executor());
    BOOST_TEST(direct.holds<smtp::transport::tcp>());
    BOOST_REQUIRE(!connect(io, direct, live::server("MAIN")));
    mail_through(io, direct, "any-direct");
    BOOST_TEST(recorded("any-direct"));

    chosen socks(io.get_executor(), socks_at("SOCKS_AUTH", "alice", "s3cret"));
    BOOST_TEST(socks.holds<smtp::transport::socks5<>>());
    BOOST_REQUIRE(!connect(io, socks, live::server("MAIN")));
    mail_through(io, socks, "any-socks");
    BOOST_TEST(recorded("any-socks"));

    chosen web(io.get_executor(), std::in_place_type<smtp::transport::http_connect<>>, http_at("WEB_PORTS"));
    BOOST_TEST(web.index() == 3u); // tcp, unix_socket, socks5, http_connect
    BOOST_TEST(connect(io, web, live::server("MAIN")) == errc::proxy_refused);
    BOOST_TEST(live::contains(web.connect_failure_detail(), " refused CONNECT to localhost:"), web.connect_failure_detail());
    BOOST_TEST(direct.connect_failure_detail().empty());
}

// ---------------------------------------------------------------------------
// Whole sessions through the proxies: the session's TLS layer over the
// tunnel, checked against the mail server's name.

namespace {

const std::string mail = "From: a@example.com\r\nTo: b@example.com\r\nSubject: %s\r\n\r\nthrough a proxy\r\n";

std::string message(const std::string& subject)
{
    std::string m = mail;
    m.replace(m.find("%s"), 2, subject);
    return m;
}

bool recorded_by(const std::string& server, const std::string& subject, bool tls)
{
    for (const auto& r : live::records(server))
        if (live::contains(live::recorded_data(r), "Subject: " + subject))
            return live::contains(r, tls ? "\"tls\": true" : "\"tls\": false");
    return false;
}

} // namespace

BOOST_AUTO_TEST_CASE(session_through_socks5_in_clear)
{
    // Everything the session logs, with the proxy's credentials in use: they
    // are not in it (the logger sees SMTP only).
    std::string logged;
    smtp::log::callback log([&](const smtp::log::event& e) {
        logged += e.bytes;
        if (e.r)
            logged += e.r->raw();
    });
    using P = smtp::policies<smtp::transport::socks5<>, smtp::tls::none, smtp::log::callback>;
    auto s = smtp::connect<P>(live::server("MAIN"), log, socks_at("SOCKS_AUTH", "alice", "s3cret")).ehlo();
    s.sendmail("a@example.com", {"b@example.com"}, message("session-socks5-clear"));
    std::move(s).quit();
    BOOST_TEST(recorded_by("MAIN", "session-socks5-clear", false));
    BOOST_TEST(live::contains(logged, "MAIL FROM:<a@example.com>"));
    BOOST_TEST(!live::contains(logged, "s3cret"));
    BOOST_TEST(!live::contains(logged, "alice"));
}

BOOST_AUTO_TEST_CASE(session_through_socks5_with_starttls)
{
    // Credentials for the proxy, STARTTLS through it; the server's SNI record
    // shows the name TLS was for: the mail server's, not the proxy's 127.0.0.1.
    using P = smtp::policies<smtp::transport::socks5<>>;
    auto s = smtp::connect<P>(live::server("TLS"), socks_at("SOCKS_AUTH", "alice", "s3cret")).ehlo().starttls().ehlo();
    BOOST_TEST(s.transport().encrypted());
    s.sendmail("a@example.com", {"b@example.com"}, message("session-socks5-starttls"));
    std::move(s).quit();
    BOOST_TEST(recorded_by("TLS", "session-socks5-starttls", true));
    BOOST_TEST(live::contains(live::slurp(live::env("SMTP_TEST_TLS_RECORD") + "/sni.txt"), "localhost"));
}

BOOST_AUTO_TEST_CASE(session_through_http_connect_with_implicit_tls)
{
    using P = smtp::policies<smtp::transport::http_connect<>, smtp::tls::implicit>;
    auto s = smtp::connect<P>(live::server("IMPLICIT"), http_at("WEB_AUTH", "alice", "s3cret")).ehlo();
    s.sendmail("a@example.com", {"b@example.com"}, message("session-http-implicit"));
    std::move(s).quit();
    BOOST_TEST(recorded_by("IMPLICIT", "session-http-implicit", true));
}

BOOST_AUTO_TEST_CASE(session_through_http_connect_with_starttls)
{
    using P = smtp::policies<smtp::transport::http_connect<>>;
    auto s = smtp::connect<P>(live::server("TLS"), http_at("WEB")).ehlo().starttls().ehlo();
    s.sendmail("a@example.com", {"b@example.com"}, message("session-http-starttls"));
    std::move(s).quit();
    BOOST_TEST(recorded_by("TLS", "session-http-starttls", true));
}

BOOST_AUTO_TEST_CASE(the_certificate_is_checked_through_the_proxies)
{
    // A server whose certificate names wrong.example only: through either
    // proxy, the check against "localhost" fails, as it does directly.
    using S = smtp::policies<smtp::transport::socks5<>, smtp::tls::implicit>;
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto s = smtp::connect<S>(live::server("WRONGHOST"), ec, diag, socks_at("SOCKS"));
    BOOST_TEST(!s);
    BOOST_TEST(ec == smtp::error_code(X509_V_ERR_HOSTNAME_MISMATCH, smtp::x509_category()), ec.message());

    using H = smtp::policies<smtp::transport::http_connect<>, smtp::tls::implicit>;
    auto h = smtp::connect<H>(live::server("WRONGHOST"), ec, diag, http_at("WEB"));
    BOOST_TEST(!h);
    BOOST_TEST(ec == smtp::error_code(X509_V_ERR_HOSTNAME_MISMATCH, smtp::x509_category()), ec.message());

    // The same server by the name its certificate does not carry but the
    // proxy resolves: 127.0.0.1 is in server.pem, not in wronghost.pem.
    auto a = smtp::connect<S>(live::server("WRONGHOST", "127.0.0.1"), ec, diag, socks_at("SOCKS"));
    BOOST_TEST(!a);
    BOOST_TEST(ec == smtp::error_code(X509_V_ERR_IP_ADDRESS_MISMATCH, smtp::x509_category()), ec.message());
}

BOOST_AUTO_TEST_CASE(a_refusal_reaches_the_sessions_diagnostics_without_credentials)
{
    using P = smtp::policies<smtp::transport::socks5<>, smtp::tls::none>;
    smtp::error_code ec;
    smtp::diagnostics diag;
    smtp::connect_options o = live::server("MAIN");
    auto s = smtp::connect<P>(o, ec, diag, socks_at("SOCKS_AUTH", "alice", "not-the-password"));
    BOOST_TEST(!s);
    BOOST_TEST(ec == errc::proxy_auth_refused);
    BOOST_TEST(diag.detail_text().starts_with("connect to localhost port " + std::to_string(o.port) +
                                              ": SOCKS5 proxy 127.0.0.1:" + std::to_string(port_of("SOCKS_AUTH")) +
                                              " refused the username and password (status "),
               diag.detail_text());
    BOOST_TEST(!live::contains(diag.describe(ec), "not-the-password"));

    o.port = dead_port();
    using H = smtp::policies<smtp::transport::http_connect<>, smtp::tls::none>;
    auto h = smtp::connect<H>(o, ec, diag, http_at("WEB"));
    BOOST_TEST(!h);
    BOOST_TEST(ec == errc::proxy_refused);
    BOOST_TEST(diag.describe(ec).starts_with("the proxy refused to connect to the mail server: connect to localhost port " +
                                             std::to_string(o.port) + ": HTTP proxy 127.0.0.1:" +
                                             std::to_string(port_of("WEB")) + " refused CONNECT to localhost:" +
                                             std::to_string(o.port) + ": HTTP/1.1 500 "),
               diag.describe(ec));
}

BOOST_AUTO_TEST_CASE(a_pool_through_a_proxy)
{
    // The pool makes each session's stream with its factory: here a SOCKS5
    // tunnel with credentials, under the session's STARTTLS.
    using P = smtp::policies<smtp::transport::socks5<>>;
    asio::io_context io;
    smtp::pool_options po;
    po.max_sessions = 2;
    po.max_messages_per_session = 3;
    int made = 0;
    smtp::pool<P> pool(io.get_executor(), live::server("TLS"), po, [&](smtp::pool<P>::executor_type ex) {
        ++made;
        return smtp::transport::socks5<>(ex, socks_at("SOCKS_AUTH", "alice", "s3cret"));
    });
    std::vector<smtp::transaction_result> results(8);
    std::vector<smtp::error_code> errors(results.size());
    for (std::size_t i = 0; i < results.size(); ++i)
        pool.async_send({"a@example.com", {{"b@example.com"}}, message("pool-" + std::to_string(i)), {}},
                        [&, i](smtp::error_code ec, smtp::transaction_result r) {
                            errors[i] = ec;
                            results[i] = std::move(r);
                        });
    pool.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run_for(std::chrono::seconds(60));
    for (std::size_t i = 0; i < results.size(); ++i) {
        BOOST_TEST(!errors[i], errors[i].message());
        BOOST_TEST(results[i].queued());
        BOOST_TEST(recorded_by("TLS", "pool-" + std::to_string(i), true));
    }
    BOOST_TEST(made >= 3); // 8 messages, at most 3 a session
    BOOST_TEST(pool.stats().sessions_opened == static_cast<std::size_t>(made));
}

// Errors that say what happened (the scripted transport, no network): every
// error code has its own message; diagnostics carry a detail that reaches
// the exception's what(); a failed connect names the host, the port and each
// address tried; a timeout names its phase and its length; a refused AUTH is
// errc::auth_refused with the server's reply, and the session can still QUIT
// (error_code form: recover() and quit(); throwing form: QUIT is sent before
// the exception leaves). The wrong server and the wrong TLS mode, against
// real servers, are in live_errors_test.cpp; the hostile-server cases in
// test_hostile.cpp.
#define BOOST_TEST_MODULE errors
#include <smtp/client.hpp>

#include <smtp/protocol/detail/first_bytes.hpp>
#include <smtp/transport/scripted.hpp>

#include "scripted_server.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using smtp::errc;
using std::chrono::milliseconds;
using script_ptr = std::shared_ptr<smtp::transport::script>;

namespace {

using clear = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext,
                             smtp::auth::mechanisms<smtp::sasl::plain>>;
using clear_log = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext,
                                 smtp::auth::mechanisms<smtp::sasl::plain>, smtp::log::transcript>;

using scripted_server::opts;
using scripted_server::script;

script_ptr greeted(const std::string& ehlo = "250-mx.example\r\n250 AUTH PLAIN\r\n")
{
    return scripted_server::greeted(ehlo);
}

const std::string auth_line = "AUTH PLAIN AGFsaWNlAHdyb25n\r\n"; // alice, wrong
const std::string refusal = "535 5.7.8 Authentication credentials invalid\r\n";

} // namespace

// ---------------------------------------------------------------------------
// Error codes and diagnostics.

BOOST_AUTO_TEST_CASE(every_error_code_has_its_own_message)
{
    std::set<std::string> seen;
    for (int v = 1; v <= static_cast<int>(errc::dane_in_clear); ++v) { // the last
        const std::string m = smtp::make_error_code(static_cast<errc>(v)).message();
        BOOST_TEST_CONTEXT("errc value " << v)
        {
            BOOST_TEST(m != "unknown smtp error");
            BOOST_TEST(seen.insert(m).second, "the message is another code's too: " << m);
        }
    }
    BOOST_TEST(smtp::make_error_code(errc::greeting_in_clear).message() ==
               "the server greets in clear: use tls::starttls, usually port 587");
    BOOST_TEST(smtp::make_error_code(errc::no_greeting).message() ==
               "the server sent no greeting: if it expects TLS at once, use tls::implicit, usually port 465");
    BOOST_TEST(smtp::make_error_code(errc::not_smtp).message() == "not an SMTP server");
    BOOST_TEST(smtp::make_error_code(errc::auth_refused).message() == "authentication refused");
}

BOOST_AUTO_TEST_CASE(describe_with_a_detail)
{
    smtp::diagnostics d;
    d.set_detail_text("got 'SSH-2.0-OpenSSH_9.2'");
    BOOST_TEST(d.describe(errc::not_smtp) == "not an SMTP server: got 'SSH-2.0-OpenSSH_9.2'");
    // The message is not said twice when the detail has it.
    const smtp::error_code refused = asio::error::connection_refused;
    d.set_detail_text("connect to mx.example port 25: 127.0.0.1: " + refused.message());
    BOOST_TEST(d.describe(refused) == "connect to mx.example port 25: 127.0.0.1: " + refused.message());
    // And the exception's what() is describe().
    const smtp::error_with_diagnostics e(refused, d);
    BOOST_TEST(std::string(e.what()) == d.describe(refused));
    BOOST_TEST(e.get_diagnostics().detail_text() == d.detail_text());
    d.clear();
    BOOST_TEST(d.detail_text().empty());
    BOOST_TEST(d.describe(errc::timeout) == "the server did not answer in time");
}

BOOST_AUTO_TEST_CASE(first_bytes_quoted_and_classified)
{
    using smtp::detail::first_bytes_kind;
    using smtp::detail::classify_first_bytes;
    using smtp::detail::quote_first_bytes;
    BOOST_TEST(quote_first_bytes("SSH-2.0-OpenSSH_9.2\r\n") == "got 'SSH-2.0-OpenSSH_9.2\\r\\n'");
    BOOST_TEST(quote_first_bytes(std::string("\x00\x7f\xff'\\\t", 6)) == "got '\\x00\\x7f\\xff\\'\\\\\\t'");
    BOOST_TEST(quote_first_bytes(std::string(100, 'A')) == "got '" + std::string(64, 'A') + "'...");
    BOOST_TEST(quote_first_bytes(std::string(64, 'A')) == "got '" + std::string(64, 'A') + "'");
    BOOST_TEST((classify_first_bytes("") == first_bytes_kind::none));
    for (const char* smtp_like : {"2", "22", "220", "220 ", "220-mx", "554 no\r\n", "421\r\n"})
        BOOST_TEST((classify_first_bytes(smtp_like) == first_bytes_kind::smtp), smtp_like);
    for (const char* other : {"SSH-2.0-x", "HTTP/1.1 400", "<!DOCTYPE HTML>", "1xx", "22a", "2200", "600 ", " 220"})
        BOOST_TEST((classify_first_bytes(other) == first_bytes_kind::other), other);
    BOOST_TEST((classify_first_bytes(std::string("\x16\x03\x03\x00\x7a", 5)) == first_bytes_kind::tls));
    BOOST_TEST((classify_first_bytes(std::string("\x15\x03\x01\x00\x02\x02\x46", 7)) == first_bytes_kind::tls));
    BOOST_TEST((classify_first_bytes(std::string("\x16", 1)) == first_bytes_kind::tls));
    BOOST_TEST((classify_first_bytes(std::string("\x16\x04", 2)) == first_bytes_kind::other));
}

BOOST_AUTO_TEST_CASE(durations_in_words)
{
    using smtp::detail::format_duration;
    BOOST_TEST(format_duration(std::chrono::minutes(5)) == "300 s");
    BOOST_TEST(format_duration(std::chrono::seconds(5)) == "5 s");
    BOOST_TEST(format_duration(milliseconds(300)) == "300 ms");
    BOOST_TEST(format_duration(milliseconds(1500)) == "1500 ms");
}

// ---------------------------------------------------------------------------
// A failed connect names the host, the port and each address tried.

namespace {
/// The scripted transport, and the addresses a connect tried (as the TCP
/// transport reports them).
class tried_transport : public smtp::transport::scripted {
public:
    tried_transport(executor_type ex, script_ptr s, std::vector<smtp::transport::connect_attempt> tried)
        : scripted(std::move(ex), std::move(s)), tried_(std::move(tried))
    {}
    const std::vector<smtp::transport::connect_attempt>& connect_attempts() const noexcept { return tried_; }

private:
    std::vector<smtp::transport::connect_attempt> tried_;
};
using tried = smtp::policies<tried_transport, smtp::tls::none>;
} // namespace

BOOST_AUTO_TEST_CASE(connect_failure_names_host_port_and_each_address)
{
    const smtp::error_code refused = asio::error::connection_refused;
    auto s = script();
    s->fail_at(1, refused);
    auto o = opts();
    o.host = "mail.example.org";
    o.port = 587;
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto c = smtp::connect<tried>(o, ec, diag, s,
                                  std::vector<smtp::transport::connect_attempt>{{"127.0.0.1", refused}, {"::1", refused}});
    BOOST_TEST(!c.has_value());
    BOOST_TEST(ec == refused);
    const std::string want = "connect to mail.example.org port 587: 127.0.0.1: " + refused.message() + "; ::1: " +
                             refused.message();
    BOOST_TEST(diag.detail_text() == want);
    BOOST_TEST(diag.describe(ec) == want);
    // The throwing form: the same words in what().
    try {
        auto s2 = script();
        s2->fail_at(1, refused);
        smtp::connect<tried>(o, s2, std::vector<smtp::transport::connect_attempt>{{"127.0.0.1", refused}});
        BOOST_FAIL("no exception");
    } catch (const smtp::error_with_diagnostics& e) {
        BOOST_TEST(e.code() == refused);
        BOOST_TEST(std::string(e.what()) == "connect to mail.example.org port 587: 127.0.0.1: " + refused.message());
    }
}

BOOST_AUTO_TEST_CASE(connect_failure_without_addresses_names_host_and_port)
{
    // A transport that reports no addresses (or a name that did not
    // resolve): the host, the port and the error.
    const smtp::error_code not_found = asio::error::host_not_found;
    auto s = script();
    s->fail_at(1, not_found);
    auto o = opts();
    o.host = "nosuch.example";
    o.port = 25;
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<clear>(o, ec, diag, s).has_value());
    BOOST_TEST(ec == not_found);
    BOOST_TEST(diag.detail_text() == "connect to nosuch.example port 25: " + not_found.message());
}

BOOST_AUTO_TEST_CASE(connect_timeout_names_what_it_waited_for)
{
    auto o = opts();
    o.host = "mail.example.org";
    o.port = 587;
    o.timeouts.connect = milliseconds(30);
    {   // The address being tried when the time ran out (the TCP transport
        // records it with operation_aborted).
        auto s = script();
        s->stall_connect();
        smtp::error_code ec;
        smtp::diagnostics diag;
        BOOST_TEST(!smtp::connect<tried>(o, ec, diag, s,
                                         std::vector<smtp::transport::connect_attempt>{
                                             {"192.0.2.1", asio::error::operation_aborted}})
                        .has_value());
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "connect to mail.example.org port 587: 192.0.2.1: no answer within 30 ms");
    }
    {   // A transport that reports no addresses.
        auto s = script();
        s->stall_connect();
        smtp::error_code ec;
        smtp::diagnostics diag;
        BOOST_TEST(!smtp::connect<clear>(o, ec, diag, s).has_value());
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "connect to mail.example.org port 587: no connection within 30 ms");
        BOOST_TEST(diag.describe(ec) ==
                   "the server did not answer in time: connect to mail.example.org port 587: no connection within 30 ms");
    }
}

BOOST_AUTO_TEST_CASE(async_connect_gives_the_diagnostics)
{
    const smtp::error_code refused = asio::error::connection_refused;
    auto s = script();
    s->fail_at(1, refused);
    auto o = opts();
    o.host = "mail.example.org";
    o.port = 587;
    asio::io_context io;
    smtp::diagnostics diag;
    smtp::error_code seen;
    bool called = false;
    smtp::async_connect<tried>(
        io.get_executor(), o, diag,
        [&](smtp::error_code ec, auto c) {
            called = true;
            seen = ec;
            BOOST_TEST(!c.has_value());
        },
        s, std::vector<smtp::transport::connect_attempt>{{"127.0.0.1", refused}});
    io.run();
    BOOST_TEST(called);
    BOOST_TEST(seen == refused);
    BOOST_TEST(diag.detail_text() == "connect to mail.example.org port 587: 127.0.0.1: " + refused.message());
}

// ---------------------------------------------------------------------------
// A timeout names its phase and its length.

BOOST_AUTO_TEST_CASE(timeout_names_the_greeting)
{
    auto s = script();
    s->respond("220 mx.exa").stall(); // a greeting begun, never finished
    auto o = opts();
    o.timeouts.greeting = milliseconds(30);
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<clear>(o, ec, diag, s).has_value());
    BOOST_TEST(ec == errc::timeout);
    BOOST_TEST(diag.detail_text() == "no greeting within 30 ms");
    BOOST_TEST(diag.describe(ec) == "the server did not answer in time: no greeting within 30 ms");
}

BOOST_AUTO_TEST_CASE(timeout_names_the_command)
{
    auto o = opts();
    o.timeouts.command = milliseconds(30);
    {
        auto s = script();
        s->respond("220 mx\r\n").expect("EHLO client.example\r\n").stall();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(smtp::connect<clear>(o, s)).ehlo(ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to EHLO within 30 ms");
        BOOST_TEST(r.diag().detail_text() == "no reply to EHLO within 30 ms");
    }
    {
        auto s = greeted();
        s->expect(auth_line).stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(g).login("alice", "wrong", ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to AUTH within 30 ms");
    }
    {
        auto s = greeted();
        s->expect("NOOP\r\n").stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        try {
            g.noop();
            BOOST_FAIL("no exception");
        } catch (const smtp::error_with_diagnostics& e) {
            BOOST_TEST(e.code() == errc::timeout);
            BOOST_TEST(std::string(e.what()) == "the server did not answer in time: no reply to NOOP within 30 ms");
        }
    }
}

BOOST_AUTO_TEST_CASE(timeout_names_each_step_of_a_transaction)
{
    auto o = opts();
    o.timeouts.mail = milliseconds(20);
    o.timeouts.rcpt = milliseconds(30);
    o.timeouts.data_init = milliseconds(40);
    o.timeouts.data_term = std::chrono::seconds(1);
    smtp::error_code ec;
    smtp::diagnostics diag;
    {
        auto s = greeted("250 mx.example\r\n");
        s->expect("MAIL FROM:<a@x.org>\r\n").stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        std::move(g).mail_from("a@x.org", {}, ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to MAIL within 20 ms");
    }
    {
        auto s = greeted("250 mx.example\r\n");
        s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 ok\r\n").expect("RCPT TO:<b@x.org>\r\n").stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        auto m = std::move(g).mail_from("a@x.org");
        std::move(m).rcpt_to("b@x.org", {}, ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to RCPT within 30 ms");
    }
    {
        auto s = greeted("250 mx.example\r\n");
        s->expect("MAIL FROM:<a@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("RCPT TO:<b@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("DATA\r\n")
            .stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        auto r = std::move(std::move(g).mail_from("a@x.org")).rcpt_to("b@x.org");
        std::move(r).data("hi\r\n", ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to DATA within 40 ms");
    }
    {   // After the final dot: the outcome is unknown, and the detail says which wait ran out.
        o.timeouts.data_term = milliseconds(50);
        auto s = greeted("250 mx.example\r\n");
        s->expect("MAIL FROM:<a@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("RCPT TO:<b@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("DATA\r\n")
            .respond("354 go\r\n")
            .expect("hi\r\n.\r\n")
            .stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        auto r = std::move(std::move(g).mail_from("a@x.org")).rcpt_to("b@x.org");
        std::move(r).data("hi\r\n", ec, diag);
        BOOST_TEST(ec == errc::outcome_unknown);
        BOOST_TEST(diag.detail_text() == "no reply to the end of data within 50 ms");
    }
    {   // sendmail, lockstep: the RCPT's wait.
        auto s = greeted("250 mx.example\r\n");
        s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 ok\r\n").expect("RCPT TO:<b@x.org>\r\n").stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        const auto result = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n", ec, diag);
        BOOST_TEST(ec == errc::timeout);
        BOOST_TEST(diag.detail_text() == "no reply to RCPT within 30 ms");
        BOOST_TEST(result.error == errc::timeout);
    }
    {   // sendmail, pipelined: the first reply awaited is MAIL's.
        auto s = greeted("250-mx.example\r\n250 PIPELINING\r\n");
        s->expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\n").stall();
        auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
        try {
            g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n");
            BOOST_FAIL("no exception");
        } catch (const smtp::error_with_diagnostics& e) {
            BOOST_TEST(e.code() == errc::timeout);
            BOOST_TEST(std::string(e.what()) == "the server did not answer in time: no reply to MAIL within 20 ms");
        }
    }
}

// ---------------------------------------------------------------------------
// A refused AUTH.

BOOST_AUTO_TEST_CASE(auth_refused_error_code_form_then_quit)
{
    auto s = greeted();
    s->expect(auth_line).respond(refusal).expect("QUIT\r\n").respond("221 2.0.0 Bye\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).login("alice", "wrong", ec, diag);
    BOOST_TEST(!r.has_value());
    BOOST_TEST(ec == errc::auth_refused);
    BOOST_TEST(r.error() == errc::auth_refused);
    BOOST_REQUIRE(diag.server_reply().has_value());
    BOOST_TEST(diag.server_reply()->code() == 535);
    BOOST_TEST(diag.describe(ec) == "authentication refused: 535 5.7.8 Authentication credentials invalid");
    auto back = std::move(r).recover();
    BOOST_TEST(!back.broken());
    auto closed = std::move(back).quit(ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(closed.clean());
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(s->closed_by_client());
}

BOOST_AUTO_TEST_CASE(auth_refused_transient_is_auth_refused_too)
{
    // 454: try again later; the code says so, the error is still the refusal.
    auto s = greeted();
    s->expect(auth_line).respond("454 4.7.0 Temporary authentication failure\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).login("alice", "wrong", ec, diag);
    BOOST_TEST(ec == errc::auth_refused);
    BOOST_TEST(diag.server_reply()->code().is_transient());
    BOOST_TEST(!std::move(r).recover().broken());
}

BOOST_AUTO_TEST_CASE(auth_421_is_the_server_going_away)
{
    auto s = greeted();
    s->expect(auth_line).respond("421 4.3.2 Shutting down\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).login("alice", "wrong", ec, diag);
    BOOST_TEST(ec == errc::transient_failure);
    BOOST_TEST(std::move(r).recover().broken());
}

BOOST_AUTO_TEST_CASE(auth_refused_throwing_form_quits_before_throwing)
{
    auto s = greeted();
    s->expect(auth_line).respond(refusal).expect("QUIT\r\n").respond("221 2.0.0 Bye\r\n");
    std::ostringstream log;
    auto g = std::move(smtp::connect<clear_log>(opts(), smtp::log::transcript(log), s)).ehlo();
    try {
        std::move(g).login("alice", "wrong");
        BOOST_FAIL("no exception");
    } catch (const smtp::error_with_diagnostics& e) {
        BOOST_TEST(e.code() == errc::auth_refused);
        BOOST_TEST(std::string(e.what()) == "authentication refused: 535 5.7.8 Authentication credentials invalid");
        BOOST_TEST(e.get_diagnostics().server_reply()->code() == 535);
        // Before the exception left, the session said goodbye and closed.
        BOOST_TEST(s->done(), s->log());
        BOOST_TEST(s->closed_by_client());
    }
    BOOST_TEST(log.str().find("send: 'QUIT\\r\\n'") != std::string::npos, log.str());
    BOOST_TEST(log.str().find("reply: retcode (221)") != std::string::npos, log.str());
}

BOOST_AUTO_TEST_CASE(throwing_form_of_a_broken_session_sends_nothing_more)
{
    // A timeout broke the session: no QUIT, the connection is closed.
    auto s = greeted();
    s->expect(auth_line).stall();
    auto o = opts();
    o.timeouts.command = milliseconds(20);
    auto g = std::move(smtp::connect<clear>(o, s)).ehlo();
    const std::size_t before = s->written().size();
    try {
        std::move(g).login("alice", "wrong");
        BOOST_FAIL("no exception");
    } catch (const smtp::error_with_diagnostics& e) {
        BOOST_TEST(e.code() == errc::timeout);
        BOOST_TEST(s->written().size() == before + auth_line.size());
        BOOST_TEST(s->closed_by_client());
    }
}

BOOST_AUTO_TEST_CASE(step_value_of_a_failed_transition_quits)
{
    // value() on a failed step is the throwing form: the same goodbye.
    auto s = greeted("250 mx.example\r\n");
    s->expect("MAIL FROM:<a@x.org>\r\n")
        .respond("550 5.7.1 Sender refused\r\n")
        .expect("QUIT\r\n")
        .respond("221 Bye\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).mail_from("a@x.org", {}, ec, diag);
    BOOST_CHECK_THROW(std::move(r).value(), smtp::error_with_diagnostics);
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(s->closed_by_client());
    // What is left in the step is closed: nothing more is sent.
    auto back = std::move(r).recover();
    BOOST_TEST(back.broken());
    back.noop(ec, diag);
    BOOST_TEST(ec == errc::session_broken);
}

BOOST_AUTO_TEST_CASE(auth_refused_async_then_quit)
{
    auto s = greeted();
    s->expect(auth_line).respond(refusal).expect("QUIT\r\n").respond("221 2.0.0 Bye\r\n");
    asio::io_context io;
    smtp::error_code login_ec, quit_ec = errc::timeout;
    std::string described;
    smtp::async_connect<clear>(
        io.get_executor(), opts(),
        [&](smtp::error_code ec, auto c) {
            BOOST_REQUIRE(!ec);
            std::move(*c).async_ehlo([&](smtp::error_code, auto g) {
                BOOST_REQUIRE(g.has_value());
                std::move(g).value().async_login("alice", "wrong", [&](smtp::error_code, auto r) {
                    login_ec = r.error();
                    described = r.diag().describe(r.error());
                    // async_quit keeps the session until it completes: a temporary will do.
                    std::move(r).recover().async_quit([&](smtp::error_code e, auto) { quit_ec = e; });
                });
            });
        },
        s);
    io.run();
    BOOST_TEST(login_ec == errc::auth_refused);
    BOOST_TEST(described == "authentication refused: 535 5.7.8 Authentication credentials invalid");
    BOOST_TEST(!quit_ec);
    BOOST_TEST(s->done(), s->log());
}

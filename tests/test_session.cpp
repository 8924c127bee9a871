// The typestate session over the scripted transport: exact bytes on the
// wire, the transcript, every transition's errors, STARTTLS hygiene, AUTH,
// sendmail's refused recipients, an I/O error at every step, timeouts, and
// the compile-time rules (in-process; tests/compile_fail/ has the one-TU-per-
// case versions).
#define BOOST_TEST_MODULE session
#include "test_mechanisms.hpp"

#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include "scripted_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
// Boost 1.74's Asio enables co_await for g++ only: with clang 14 and
// libstdc++ it looks for <experimental/coroutine>, which is not there.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <sstream>
#include <string>

namespace asio = boost::asio;
using smtp::errc;
using script_ptr = std::shared_ptr<smtp::transport::script>;

namespace {

template <class... Ps>
using scripted = smtp::policies<smtp::transport::scripted, Ps...>;

using clear = scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext>;

using scripted_server::opts;
const auto make_script = scripted_server::script;


/// A logger of one's own that keeps no state.
struct [[maybe_unused]] empty_logger {
    using policy_category = smtp::log_category;
    [[maybe_unused]] static constexpr bool enabled = false;
    void on_send(std::string_view, smtp::log::sent) const {}
    void on_reply(const smtp::reply_view&, bool) const {}
};

const std::string ehlo_reply = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-STARTTLS\r\n"
                               "250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 8BITMIME\r\n";

} // namespace

// ---------------------------------------------------------------------------
// The seed's first program: EHLO, sendmail, QUIT, with smtplib's transcript.

BOOST_AUTO_TEST_CASE(sendmail_bytes_and_transcript)
{
    auto s = make_script();
    s->respond("220 mx ready\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250-SIZE 33554432\r\n250 HELP\r\n")
        .expect("MAIL FROM:<author@example.com> SIZE=10\r\n")
        .respond("250 OK\r\n")
        .expect("RCPT TO:<recipient@example.com>\r\n")
        .respond("250 OK\r\n")
        .expect("DATA\r\n")
        .respond("354 End data with <CR><LF>.<CR><LF>\r\n")
        .expect("Hi\r\n..dot\r\n.\r\n")
        .respond("250 OK\r\n")
        .expect("QUIT\r\n")
        .respond("221 Bye\r\n");
    std::ostringstream log;
    auto c = smtp::connect<scripted<smtp::tls::none, smtp::log::transcript>>(opts(), smtp::log::transcript(log), s);
    auto g = std::move(c).ehlo();
    BOOST_TEST(g.does_esmtp());
    BOOST_TEST(g.has_extn("size"));
    BOOST_TEST(*g.server_capabilities().size_limit() == 33554432u);
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r = g.sendmail("author@example.com", {"recipient@example.com"}, "Hi\n.dot", ec, diag);
    BOOST_TEST(!ec, s->log());
    BOOST_TEST(r.refused().empty());
    BOOST_TEST(r.final_reply.code().value() == 250u);
    auto closed = std::move(g).quit();
    BOOST_TEST(closed.clean());
    BOOST_TEST(s->done(), s->log());
    const std::string t = log.str();
    BOOST_TEST(t.find("send: 'EHLO client.example\\r\\n'\n") != std::string::npos);
    BOOST_TEST(t.find("reply: b'250-SIZE 33554432\\r\\n'\n") != std::string::npos);
    BOOST_TEST(t.find("reply: retcode (250); Msg: b'mx.example\\nSIZE 33554432\\nHELP'\n") != std::string::npos);
    BOOST_TEST(t.find("data: (354, b'End data with <CR><LF>.<CR><LF>')\n") != std::string::npos);
    BOOST_TEST(t.find("send: b'Hi\\r\\n..dot\\r\\n.\\r\\n'\n") != std::string::npos);
    BOOST_TEST(t.find("data: (250, b'OK')\n") != std::string::npos);
    BOOST_TEST(t.find("send: 'QUIT\\r\\n'\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(refused_recipients_and_bcc)
{
    // Three envelope recipients (one of them in no header: a BCC), one refused.
    auto s = make_script();
    const std::string msg = "To: a@x.org\r\nCc: b@x.org\r\n\r\nbody\r\n";
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("MAIL FROM:<me@x.org>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect("RCPT TO:<a@x.org>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect("RCPT TO:<nobody@x.org>\r\n")
        .respond("550 5.1.1 <nobody@x.org>: Recipient address rejected\r\n")
        .expect("RCPT TO:<hidden@x.org>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect(msg + ".\r\n")
        .respond("250 2.0.0 Ok: queued as 1\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    const auto r = g.sendmail("me@x.org", {"a@x.org", "nobody@x.org", "hidden@x.org"}, msg);
    BOOST_REQUIRE(r.refused().size() == 1u);
    const smtp::reply refused = r.refused().at("nobody@x.org");
    BOOST_TEST(refused.code().value() == 550u);
    BOOST_TEST(refused.status()->to_string() == "5.1.1");
    BOOST_TEST(r.final_reply.message() == "2.0.0 Ok: queued as 1");
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(s->written().find("hidden@x.org") < s->written().find("DATA"));
}

BOOST_AUTO_TEST_CASE(send_message_takes_the_envelope_from_the_headers)
{
    const std::string msg = "From: Me <me@x.org>\r\nTo: a@x.org\r\nBcc: hidden@x.org\r\n\r\nbody\r\n";
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("MAIL FROM:<me@x.org>\r\n")
        .respond("250 Ok\r\n")
        .expect("RCPT TO:<a@x.org>\r\n")
        .respond("250 Ok\r\n")
        .expect("RCPT TO:<hidden@x.org>\r\n")
        .respond("250 Ok\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect("From: Me <me@x.org>\r\nTo: a@x.org\r\n\r\nbody\r\n.\r\n")
        .respond("250 Ok\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    g.send_message(msg);
    BOOST_TEST(s->done(), s->log());
    smtp::error_code ec;
    smtp::diagnostics diag;
    g.send_message("Subject: no sender\r\n\r\nx\r\n", ec, diag);
    BOOST_TEST(ec == errc::empty_argument);
    BOOST_TEST(diag.field() == "From header");
}

BOOST_AUTO_TEST_CASE(all_recipients_refused_sends_no_data)
{
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("MAIL FROM:<me@x.org>\r\n")
        .respond("250 Ok\r\n")
        .expect("RCPT TO:<a@x.org>\r\n")
        .respond("450 4.2.1 try later\r\n")
        .expect("RSET\r\n")
        .respond("250 Ok\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r = g.sendmail("me@x.org", {"a@x.org"}, "body", ec, diag);
    BOOST_TEST(ec == errc::all_recipients_refused);
    BOOST_TEST(r.refused().at("a@x.org").code().is_transient());
    BOOST_TEST(s->written().find("DATA") == std::string::npos);
    BOOST_TEST(s->done(), s->log());
    BOOST_CHECK_THROW(g.sendmail("me@x.org", {"a@x.org"}, "body"), smtp::error_with_diagnostics);
}

BOOST_AUTO_TEST_CASE(bad_arguments_never_reach_the_wire)
{
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250 mx\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    const std::string before = s->written();
    smtp::error_code ec;
    smtp::diagnostics diag;
    g.sendmail("me@x.org", {"ok@x.org", "evil@x.org>\r\nRCPT TO:<x@y.org"}, "body", ec, diag);
    BOOST_TEST(ec == errc::angle_bracket_in_address);
    BOOST_TEST(diag.field() == "RCPT TO address");
    g.sendmail("me@x.org\r\nRSET", {"ok@x.org"}, "body", ec, diag);
    BOOST_TEST(ec == errc::control_character);
    BOOST_TEST(diag.field() == "MAIL FROM address");
    BOOST_TEST(s->written() == before);
    BOOST_TEST(!g.broken());
    BOOST_CHECK_THROW(g.docmd("DATA"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(helo_when_ehlo_is_refused)
{
    auto s = make_script();
    s->respond("220 old\r\n")
        .expect("EHLO client.example\r\n")
        .respond("502 5.5.1 command not implemented\r\n")
        .expect("HELO client.example\r\n")
        .respond("250 old.example\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    BOOST_TEST(!g.does_esmtp());
    BOOST_TEST(!g.has_extn("SIZE"));
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(ehlo_refused_with_421_keeps_the_state)
{
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("421 4.3.2 shutting down\r\n");
    auto c = smtp::connect<clear>(opts(), s);
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(c).ehlo(ec, diag);
    BOOST_TEST(!r.has_value());
    BOOST_TEST(ec == errc::transient_failure);
    BOOST_TEST(r.diag().server_reply()->code().value() == 421u);
    auto back = std::move(r).recover();
    static_assert(std::is_same_v<decltype(back)::state_type, smtp::state::connected<false>>);
    BOOST_CHECK_THROW(smtp::connect<clear>(opts(), s), smtp::system_error); // script exhausted: no greeting
}

BOOST_AUTO_TEST_CASE(greeting_554_is_an_error)
{
    auto s = make_script();
    s->respond("554 5.7.1 no service for you\r\n");
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto c = smtp::connect<clear>(opts(), ec, diag, s);
    BOOST_TEST(!c.has_value());
    BOOST_TEST(ec == errc::permanent_failure);
    BOOST_TEST(diag.server_reply()->message() == "5.7.1 no service for you");
}

// ---------------------------------------------------------------------------
// STARTTLS

BOOST_AUTO_TEST_CASE(starttls_discards_injected_plaintext_and_forgets_capabilities)
{
    // NO STARTTLS (USENIX Security 2021): the server sends extra lines after
    // its 220, before the handshake. They must never be read as replies.
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(ehlo_reply)
        .expect("STARTTLS\r\n")
        .respond("220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
        .handshake()
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250 AUTH LOGIN\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    BOOST_TEST(g.has_extn("STARTTLS"));
    auto t = std::move(g).starttls();
    BOOST_TEST(!t.has_extn("STARTTLS")); // forgotten until EHLO again
    BOOST_TEST(!t.has_extn("AUTH"));
    BOOST_TEST(t.encrypted());
    auto e = std::move(t).ehlo();
    BOOST_TEST(e.has_extn("AUTH"));
    BOOST_TEST(e.server_capabilities().get<smtp::ext::auth>()->contains("LOGIN"));
    BOOST_TEST(!e.server_capabilities().get<smtp::ext::auth>()->contains("PLAIN"));
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(starttls_not_offered_sends_nothing)
{
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250-mx\r\n250 SIZE 10\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    const auto before = s->written();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).starttls(ec, diag);
    BOOST_TEST(ec == errc::starttls_not_offered);
    BOOST_TEST(s->written() == before);
    auto back = std::move(r).recover();
    BOOST_TEST(!back.encrypted());
}

BOOST_AUTO_TEST_CASE(starttls_refused)
{
    for (std::string_view answer : {"454 4.7.0 TLS not available\r\n", "501 5.5.4 syntax\r\n", "250 sure\r\n"}) {
        auto s = make_script();
        s->respond("220 mx\r\n")
            .expect("EHLO client.example\r\n")
            .respond(ehlo_reply)
            .expect("STARTTLS\r\n")
            .respond(std::string(answer));
        auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(g).starttls(ec, diag);
        BOOST_TEST(!r.has_value());
        BOOST_TEST((ec == errc::transient_failure || ec == errc::permanent_failure || ec == errc::unexpected_reply));
        BOOST_TEST(!std::move(r).recover().encrypted());
    }
}

// ---------------------------------------------------------------------------
// AUTH

BOOST_AUTO_TEST_CASE(login_picks_the_policy_order_and_masks_secrets)
{
    // Policy prefers PLAIN over LOGIN; the server lists LOGIN first.
    using P = scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext, smtp::log::transcript,
                       smtp::auth::mechanisms<smtp::sasl::plain, smtp::sasl::login>>;
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx\r\n250 AUTH LOGIN PLAIN\r\n")
        .expect("AUTH PLAIN AHVzZXIAcGFzcw==\r\n")
        .respond("235 2.7.0 ok\r\n");
    std::ostringstream log;
    auto g = std::move(smtp::connect<P>(opts(), smtp::log::transcript(log), s)).ehlo();
    auto a = std::move(g).login("user", "pass");
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(log.str().find("send: 'AUTH PLAIN ********\\r\\n'") != std::string::npos);
    BOOST_TEST(log.str().find("AHVzZXIAcGFzcw") == std::string::npos);
    static_assert(std::is_same_v<decltype(a)::state_type, smtp::state::greeted<false, true>>);
}

BOOST_AUTO_TEST_CASE(login_mechanism_challenges)
{
    using P = scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext, smtp::log::transcript,
                       smtp::auth::mechanisms<smtp::sasl::login>>;
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx\r\n250 AUTH LOGIN\r\n")
        .expect("AUTH LOGIN\r\n")
        .respond("334 VXNlcm5hbWU6\r\n")
        .expect("dXNlcg==\r\n")
        .respond("334 UGFzc3dvcmQ6\r\n")
        .expect("cGFzcw==\r\n")
        .respond("235 ok\r\n");
    std::ostringstream log;
    auto g = std::move(smtp::connect<P>(opts(), smtp::log::transcript(log), s)).ehlo();
    auto a = std::move(g).login("user", "pass");
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(log.str().find("cGFzcw") == std::string::npos);
    BOOST_TEST(log.str().find("dXNlcg") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(auth_failures)
{
    using P = scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext,
                       smtp::auth::mechanisms<smtp::sasl::login>>;
    {   // The server offers none of ours: nothing is sent.
        auto s = make_script();
        s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250-mx\r\n250 AUTH GSSAPI\r\n");
        auto g = std::move(smtp::connect<P>(opts(), s)).ehlo();
        const auto before = s->written();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(g).login("u", "p", ec, diag);
        BOOST_TEST(ec == errc::no_common_mechanism);
        BOOST_TEST(s->written() == before);
    }
    {   // 535: refused, the session is back, not authenticated.
        auto s = make_script();
        s->respond("220 mx\r\n")
            .expect("EHLO client.example\r\n")
            .respond("250-mx\r\n250 AUTH LOGIN\r\n")
            .expect("AUTH LOGIN\r\n")
            .respond("334 VXNlcm5hbWU6\r\n")
            .expect("dQ==\r\n")
            .respond("334 UGFzc3dvcmQ6\r\n")
            .expect("cA==\r\n")
            .respond("535 5.7.8 Authentication credentials invalid\r\n");
        auto g = std::move(smtp::connect<P>(opts(), s)).ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(g).login("u", "p", ec, diag);
        BOOST_TEST(ec == errc::auth_refused);
        BOOST_TEST(diag.server_reply()->status()->to_string() == "5.7.8");
        auto back = std::move(r).recover();
        static_assert(std::is_same_v<decltype(back)::state_type, smtp::state::greeted<false, false>>);
    }
    {   // A challenge that is not base64: "*" and invalid_base64.
        auto s = make_script();
        s->respond("220 mx\r\n")
            .expect("EHLO client.example\r\n")
            .respond("250-mx\r\n250 AUTH LOGIN\r\n")
            .expect("AUTH LOGIN\r\n")
            .respond("334 not base64!\r\n")
            .expect("*\r\n")
            .respond("501 5.0.0 cancelled\r\n");
        auto g = std::move(smtp::connect<P>(opts(), s)).ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        std::move(g).login("u", "p", ec, diag);
        BOOST_TEST(ec == errc::invalid_base64);
        BOOST_TEST(s->done(), s->log());
    }
    {   // Endless challenges are cut off.
        auto s = make_script();
        s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250-mx\r\n250 AUTH LOGIN\r\n");
        s->expect("AUTH LOGIN\r\n").respond("334 VXNlcm5hbWU6\r\n").expect("dQ==\r\n").respond("334 UGFzc3dvcmQ6\r\n");
        s->expect("cA==\r\n").respond("334 VXNlcm5hbWU6\r\n").expect("*\r\n").respond("501 cancelled\r\n");
        auto g = std::move(smtp::connect<P>(opts(), s)).ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        std::move(g).login("u", "p", ec, diag); // LOGIN refuses a third prompt itself
        BOOST_TEST(ec == errc::sasl_unexpected_challenge);
        BOOST_TEST(s->done(), s->log());
    }
}

BOOST_AUTO_TEST_CASE(challenge_bound_applies_to_any_mechanism)
{
    // A mechanism that would answer forever; the session's bound stops it.
    using P = scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext, smtp::auth::mechanisms<chatty>>;
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250-mx\r\n250 AUTH X-CHATTY\r\n");
    s->expect("AUTH X-CHATTY\r\n").respond("334 \r\n");
    for (int i = 0; i < 2; ++i)
        s->expect("bW9yZQ==\r\n").respond("334 \r\n");
    s->expect("*\r\n").respond("501 cancelled\r\n");
    auto o = opts();
    o.max_auth_challenges = 2;
    auto g = std::move(smtp::connect<P>(o, s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    std::move(g).login("u", "p", ec, diag);
    BOOST_TEST(ec == errc::too_many_challenges);
    BOOST_TEST(s->done(), s->log());
}

// ---------------------------------------------------------------------------
// Lower-level transitions, VRFY, NOOP

BOOST_AUTO_TEST_CASE(mail_rcpt_data_transitions)
{
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("MAIL FROM:<>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<gone@x.org>\r\n")
        .respond("550 no\r\n")
        .expect("RCPT TO:<a@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n")
        .respond("452 4.5.3 too many\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect("x\r\n.\r\n")
        .respond("250 queued\r\n")
        .expect("VRFY someone\r\n")
        .respond("550 5.1.1 <someone>... User unknown\r\n")
        .expect("NOOP\r\n")
        .respond("250 ok\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    auto m = std::move(g).mail_from(""); // the null reverse-path
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r1 = std::move(m).rcpt_to("gone@x.org", {}, ec, diag);
    BOOST_TEST(ec == errc::permanent_failure);
    auto m2 = std::move(r1).recover(); // still only MAIL: no DATA possible
    auto r = std::move(m2).rcpt_to("a@x.org");
    auto r2 = std::move(r).rcpt_to("b@x.org", {}, ec, diag);
    BOOST_TEST(ec == errc::transient_failure);
    auto still = std::move(r2).recover(); // one recipient accepted: DATA is allowed
    auto g2 = std::move(still).data("x");
    const auto v = g2.verify("someone");
    BOOST_TEST(v.code().value() == 550u);
    BOOST_TEST(g2.noop().code().value() == 250u);
    BOOST_TEST(s->done(), s->log());
}

// ---------------------------------------------------------------------------
// Failures of the connection.

BOOST_AUTO_TEST_CASE(io_error_at_every_step)
{
    // A whole session, with the k-th I/O operation failing, for every k.
    auto full = [] {
        auto s = make_script();
        s->respond("220 mx\r\n")
            .expect("EHLO client.example\r\n")
            .respond(ehlo_reply)
            .expect("STARTTLS\r\n")
            .respond("220 go\r\n")
            .handshake()
            .expect("EHLO client.example\r\n")
            .respond("250-mx\r\n250 AUTH PLAIN\r\n")
            .expect("AUTH PLAIN AHUAcA==\r\n")
            .respond("235 ok\r\n")
            .expect("MAIL FROM:<a@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("RCPT TO:<b@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("DATA\r\n")
            .respond("354 go\r\n")
            .expect("m\r\n.\r\n")
            .respond("250 queued\r\n")
            .expect("QUIT\r\n")
            .respond("221 bye\r\n");
        return s;
    };
    using P = scripted<smtp::auth::mechanisms<smtp::sasl::plain>>;
    auto run = [](const script_ptr& s) -> smtp::error_code {
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto c = smtp::connect<P>(opts(), ec, diag, s);
        if (ec)
            return ec;
        auto g = std::move(*c).ehlo(ec, diag);
        if (ec)
            return ec;
        auto t = std::move(g).value().starttls(ec, diag);
        if (ec)
            return ec;
        auto e = std::move(t).value().ehlo(ec, diag);
        if (ec)
            return ec;
        auto a = std::move(e).value().login("u", "p", ec, diag);
        if (ec)
            return ec;
        auto ok = std::move(a).value();
        ok.sendmail("a@x.org", {"b@x.org"}, "m", ec, diag);
        if (ec) {
            BOOST_TEST(ok.broken());
            ok.noop(ec, diag);
            BOOST_TEST(ec == errc::session_broken); // nothing more after an I/O error
            return diag.field() == "end of data" ? smtp::error_code(errc::outcome_unknown) : ec;
        }
        std::move(ok).quit(ec, diag);
        return ec;
    };
    {
        auto s = full();
        BOOST_TEST(!run(s));
        BOOST_TEST(s->done(), s->log());
    }
    const unsigned steps = [&] {
        auto s = full();
        run(s);
        return s->operations();
    }();
    BOOST_TEST(steps >= 20u);
    for (unsigned k = 1; k <= steps; ++k) {
        auto s = full();
        s->fail_at(k, asio::error::connection_reset);
        const auto ec = run(s);
        BOOST_TEST(static_cast<bool>(ec), "step " << k);
    }
}

BOOST_AUTO_TEST_CASE(drop_after_the_final_dot_is_outcome_unknown)
{
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("MAIL FROM:<a@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect("m\r\n.\r\n")
        .close();
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    g.sendmail("a@x.org", {"b@x.org"}, "m", ec, diag);
    BOOST_TEST(ec == errc::outcome_unknown);
    BOOST_TEST(g.broken());
}

BOOST_AUTO_TEST_CASE(hostile_reply_breaks_the_session)
{
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250-mx\r\n251 changed code\r\n");
    auto c = smtp::connect<clear>(opts(), s);
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(c).ehlo(ec, diag);
    BOOST_TEST(ec == errc::reply_code_mismatch);
    auto back = std::move(r).recover();
    BOOST_TEST(back.broken());
}

BOOST_AUTO_TEST_CASE(a_silent_server_times_out)
{
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").stall();
    auto o = opts();
    o.timeouts.command = std::chrono::milliseconds(30);
    auto c = smtp::connect<clear>(o, s);
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = std::move(c).ehlo(ec, diag);
    BOOST_TEST(ec == errc::timeout);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)));
    BOOST_TEST(std::move(r).recover().broken());
}

// ---------------------------------------------------------------------------
// Asynchronous forms.

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
BOOST_AUTO_TEST_CASE(async_with_a_coroutine)
{
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    asio::io_context io;
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto c = co_await smtp::async_connect<clear>(io.get_executor(), opts(), asio::use_awaitable, s);
            BOOST_REQUIRE(c.has_value());
            auto g = co_await std::move(*c).async_ehlo(asio::use_awaitable);
            BOOST_REQUIRE(g.has_value());
            co_await std::move(g).value().async_quit(asio::use_awaitable);
            finished = true;
        },
        asio::detached);
    io.run();
    BOOST_TEST(finished);
    BOOST_TEST(s->done(), s->log());
}
#endif

BOOST_AUTO_TEST_CASE(async_with_a_callback)
{
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("550 go away\r\n").expect("HELO client.example\r\n").respond("554 no\r\n");
    asio::io_context io;
    smtp::error_code seen;
    smtp::async_connect<clear>(io.get_executor(), opts(),
                               [&](smtp::error_code ec, auto c) {
                                   BOOST_REQUIRE(!ec);
                                   std::move(*c).async_ehlo([&](smtp::error_code e, auto r) {
                                       BOOST_TEST(e == r.error());
                                       seen = e;
                                   });
                               },
                               s);
    io.run();
    BOOST_TEST(seen == errc::permanent_failure);
}

// ---------------------------------------------------------------------------
// The compile-time protocol model, in-process.

namespace {
template <class S>
concept can_ehlo = requires(S s) { std::move(s).ehlo(); };
template <class S>
concept can_starttls = requires(S s) { std::move(s).starttls(); };
template <class S>
concept can_login = requires(S s) { std::move(s).login("u", "p"); };
template <class S>
concept can_mail = requires(S s) { std::move(s).mail_from("a@b.c"); };
template <class S>
concept can_sendmail = requires(S s) { s.sendmail("a@b.c", {"d@e.f"}, "m"); };
template <class S>
concept can_rcpt = requires(S s) { std::move(s).rcpt_to("a@b.c"); };
template <class S>
concept can_data = requires(S s) { std::move(s).data("m"); };
template <class S>
concept can_bdat = requires(S s) { std::move(s).bdat("m"); };
template <class S>
concept can_noop = requires(S s) { s.noop(); };
template <class S>
concept can_quit = requires(S s) { std::move(s).quit(); };

using strict = smtp::policies<smtp::transport::scripted>; // tls::starttls, require_tls, default mechanisms
template <class St>
using S = smtp::session<strict, St>;
template <class St>
using C = smtp::session<clear, St>;
using namespace smtp::state;
} // namespace

// AUTH before EHLO; MAIL before EHLO
static_assert(!can_login<C<connected<false>>> && can_login<C<greeted<false, false>>>);
static_assert(!can_mail<C<connected<false>>> && can_mail<C<greeted<false, false>>>);
// AUTH twice
static_assert(!can_login<C<greeted<false, true>>>);
// STARTTLS twice, after AUTH, with a TLS-less policy
static_assert(!can_starttls<S<greeted<true, false>>> && can_starttls<S<greeted<false, false>>>);
static_assert(!can_starttls<C<greeted<false, true>>>);
static_assert(!can_starttls<smtp::session<scripted<smtp::tls::none>, greeted<false, false>>>);
static_assert(!can_starttls<smtp::session<scripted<smtp::tls::implicit>, greeted<true, false>>>);
// After STARTTLS: only EHLO and QUIT
static_assert(can_ehlo<S<tls_started>> && can_quit<S<tls_started>>);
static_assert(!can_login<S<tls_started>> && !can_mail<S<tls_started>> && !can_noop<S<tls_started>> &&
              !can_starttls<S<tls_started>> && !can_sendmail<S<tls_started>>);
// RCPT before MAIL; DATA/BDAT before an accepted RCPT
static_assert(!can_rcpt<C<greeted<false, false>>> && can_rcpt<C<mail<false, false>>>);
static_assert(!can_data<C<mail<false, false>>> && can_data<C<rcpt<false, false>>>);
static_assert(!can_bdat<C<mail<false, false>>> && can_bdat<C<rcpt<false, false>>>);
// VRFY, EXPN, HELP, NOOP before EHLO (RFC 5321 4.1.4), but not right after STARTTLS
template <class S>
concept can_verify = requires(S s) { s.verify("x"); };
static_assert(can_verify<C<connected<false>>> && !can_verify<S<tls_started>> && !can_verify<C<closed>>);
static_assert(!can_verify<S<connected<false>>>); // in clear under tls::starttls: no
// Nothing after QUIT
static_assert(!can_noop<C<closed>> && !can_quit<C<closed>> && !can_ehlo<C<closed>> && !can_mail<C<closed>>);
// AUTH in clear unless allowed; mail in clear under tls::starttls
static_assert(!can_login<S<greeted<false, false>>> && can_login<S<greeted<true, false>>>);
static_assert(!can_mail<S<greeted<false, false>>> && can_mail<S<greeted<true, false>>>);
static_assert(!can_sendmail<S<greeted<false, false>>> && can_sendmail<S<greeted<true, true>>>);
// AUTH with no mechanism
static_assert(!can_login<smtp::session<scripted<smtp::auth::none, smtp::tls::opportunistic>, greeted<true, false>>>);

// Policies: named, any order, defaults.
static_assert(std::is_same_v<smtp::policies<smtp::log::transcript, smtp::tls::implicit>::tls, smtp::tls::implicit>);
static_assert(std::is_same_v<smtp::policies<smtp::tls::implicit, smtp::log::transcript>::log, smtp::log::transcript>);
static_assert(std::is_same_v<smtp::policies<>::tls, smtp::tls::starttls>);
static_assert(std::is_same_v<smtp::policies<>::verify, smtp::tls::verify_peer>);
static_assert(std::is_same_v<smtp::policies<>::plaintext_auth, smtp::auth::require_tls>);

BOOST_AUTO_TEST_CASE(stateless_policies_cost_no_space)
{
    // A session is one pointer, whatever its policies; the connection carries
    // a logger's state only when it has some.
    static_assert(sizeof(C<greeted<false, false>>) == sizeof(void*));
    using none = smtp::detail::connection<smtp::transport::scripted, smtp::log::none>;
    using custom = smtp::detail::connection<smtp::transport::scripted, empty_logger>;
    using transcript = smtp::detail::connection<smtp::transport::scripted, smtp::log::transcript>;
    BOOST_TEST(sizeof(none) == sizeof(custom));
    BOOST_TEST(sizeof(transcript) > sizeof(none));
    BOOST_TEST(std::is_empty_v<smtp::log::none>);
}

// ---------------------------------------------------------------------------
// The TCP transport against a minimal in-process server: IPv6 and IPv4, and a
// source address. (tests/live_test.cpp has the real servers.)

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <thread>

namespace {
/// Accepts one connection on `address`, plays greeting/EHLO/QUIT, and
/// records the peer's address.
struct tiny_server {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor;
    std::string peer;
    std::thread thread;

    explicit tiny_server(const std::string& address)
        : acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address(address), 0))
    {
        thread = std::thread([this] {
            asio::ip::tcp::socket s(io);
            acceptor.accept(s);
            peer = s.remote_endpoint().address().to_string();
            asio::streambuf in;
            asio::write(s, asio::buffer(std::string("220 tiny\r\n")));
            asio::read_until(s, in, "\r\n");
            asio::write(s, asio::buffer(std::string("250 tiny\r\n")));
            asio::read_until(s, in, "QUIT\r\n");
            asio::write(s, asio::buffer(std::string("221 bye\r\n")));
        });
    }
    std::uint16_t port() const { return acceptor.local_endpoint().port(); }
    ~tiny_server() { thread.join(); }
};
} // namespace

BOOST_AUTO_TEST_CASE(tcp_over_ipv6_and_ipv4_with_a_source_address)
{
    using P = smtp::policies<smtp::tls::none>;
    for (const std::string address : {"::1", "127.0.0.1"}) {
        tiny_server server(address);
        smtp::connect_options o = opts();
        o.host = address;
        o.port = server.port();
        o.source_address = address;
        o.timeouts.greeting = o.timeouts.command = std::chrono::seconds(5);
        auto g = std::move(smtp::connect<P>(o)).ehlo();
        BOOST_TEST(g.does_esmtp());
        std::move(g).quit();
        BOOST_TEST(server.peer == address);
    }
    // A source address of the other family leaves nothing to connect to.
    tiny_server v4("127.0.0.1");
    smtp::connect_options o = opts();
    o.host = "127.0.0.1";
    o.port = v4.port();
    o.source_address = "::1";
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<P>(o, ec, diag).has_value());
    BOOST_TEST(static_cast<bool>(ec));
    // Play the server's script to its end with a proper client.
    o.source_address.clear();
    std::move(std::move(smtp::connect<P>(o)).ehlo()).quit();
}

BOOST_AUTO_TEST_CASE(callback_logger_help_expn_rset_docmd)
{
    using P = scripted<smtp::tls::opportunistic, smtp::log::callback>;
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("HELP\r\n")
        .respond("214 see RFC 5321\r\n")
        .expect("EXPN staff\r\n")
        .respond("250-A <a@x.org>\r\n250 B <b@x.org>\r\n")
        .expect("XCUSTOM arg\r\n")
        .respond("250 custom ok\r\n")
        .expect("RSET\r\n")
        .respond("250 ok\r\n");
    std::vector<std::string> events;
    smtp::log::callback log([&](const smtp::log::event& e) {
        if (e.kind == smtp::log::event::send)
            events.push_back("send " + std::string(e.bytes));
        else
            events.push_back("reply " + std::to_string(e.r->code().value()));
    });
    auto g = std::move(smtp::connect<P>(opts(), log, s)).ehlo();
    BOOST_TEST(g.help().code().value() == 214u);
    const auto staff = g.expn("staff");
    BOOST_TEST(staff.line_count() == 2u);
    BOOST_TEST(g.docmd("XCUSTOM", "arg").message() == "custom ok");
    BOOST_CHECK_THROW(g.docmd("XCUSTOM", "a\r\nRSET"), smtp::error_with_diagnostics);
    auto again = std::move(g).rset();
    BOOST_TEST(s->done(), s->log());
    BOOST_REQUIRE(events.size() >= 4u);
    BOOST_TEST(events[0] == "reply 220");
    BOOST_TEST(events[1] == "send EHLO client.example\r\n");
    BOOST_TEST(events[2] == "reply 250");
}

BOOST_AUTO_TEST_CASE(a_message_that_cannot_be_sent_is_refused_before_data)
{
    // A line over 998 octets: refused before DATA, the transaction reset.
    const std::string long_line(1200, 'x');
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250 mx\r\n")
        .expect("MAIL FROM:<a@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RSET\r\n")
        .respond("250 ok\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    g.sendmail("a@x.org", {"b@x.org"}, long_line, ec, diag); // refused before MAIL
    BOOST_TEST(ec == errc::data_line_too_long);
    BOOST_TEST(diag.field() == "message");
    auto r = std::move(std::move(g).mail_from("a@x.org")).rcpt_to("b@x.org");
    auto back = std::move(r).data(long_line, ec, diag);
    BOOST_TEST(ec == errc::data_line_too_long);
    BOOST_TEST(s->written().find("DATA") == std::string::npos);
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(!back.broken());
}

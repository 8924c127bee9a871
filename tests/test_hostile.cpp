// The hostile-server suite: a server that misbehaves on cue, and what the
// client must do each time (fail closed with a precise error, send nothing
// further in clear, never report a success it did not get). Most cases play
// a script over the in-process scripted transport, so the bytes the client
// wrote are checked exactly; the timeout cases use a real TCP server in this
// process that drips or stalls. Certificates are in live_test.cpp (real TLS).
//
// Each case is one entry of a table; `test_hostile -- --table` prints the
// table as docs/security.md shows it, and ctest checks that they agree.
#define BOOST_TEST_MODULE hostile
#include "test_mechanisms.hpp"

#include <smtp/client.hpp>
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/transport/scripted.hpp>

#include "test_offers.hpp"

#include "scripted_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using smtp::errc;
using smtp::transaction_outcome;
using script_ptr = std::shared_ptr<smtp::transport::script>;
using std::chrono::milliseconds;

namespace {

using clear = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
using clear_auth = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext>;
using strict = smtp::policies<smtp::transport::scripted>; // STARTTLS required: the default

using scripted_server::opts;
using scripted_server::script;

script_ptr greeted(const std::string& ehlo = "250-mx.example\r\n250 PIPELINING\r\n")
{
    return scripted_server::greeted(ehlo);
}

using chatty_auth = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext,
                                   smtp::auth::mechanisms<chatty>>;

template <class G>
concept can_send = requires(G g) { g.sendmail("a@b.c", std::vector<std::string>{"d@e.f"}, "m"); };
template <class G>
concept can_mail = requires(G g) { std::move(g).mail_from("a@b.c"); };
template <class G>
concept can_login = requires(G g) { std::move(g).login("u", "p"); };
template <class G>
concept can_verify = requires(G g) { g.verify("u"); };

struct hostile_case {
    const char* id;
    const char* category;
    const char* server;   ///< what the server does
    const char* expected; ///< what the client must do
    std::function<void()> run;
};


/// sendmail through a pipelining session, its error and result.
struct sent {
    smtp::error_code ec;
    smtp::diagnostics diag;
    smtp::transaction_result r;
};
template <class G>
sent send(G& g, const std::string& body = "hi\r\n")
{
    sent out;
    out.r = g.sendmail("a@x.org", {"b@x.org"}, body, out.ec, out.diag);
    return out;
}

const std::string group = "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\n";

// --- A real TCP server in this process, for the timeout cases -------------------

/// Accepts one connection and plays: `greeting`, then answers each line read
/// with the next of `answers`, and reads on without answering when they run
/// out (a stall). With `drip`, what it sends goes one byte at a time, every
/// `drip` (the greeting only when `drip_greeting`).
class tcp_server {
public:
    tcp_server(std::string greeting, std::vector<std::string> answers, milliseconds drip = milliseconds(0),
               bool drip_greeting = true)
        : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0))
    {
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this, greeting, answers, drip, drip_greeting] {
            try {
                asio::ip::tcp::socket sock(io_);
                acceptor_.accept(sock);
                auto say = [&](const std::string& bytes, bool slowly) {
                    if (!slowly || drip.count() == 0)
                        return (void)asio::write(sock, asio::buffer(bytes));
                    for (char c : bytes) {
                        if (stop_)
                            return;
                        asio::write(sock, asio::buffer(&c, 1));
                        std::this_thread::sleep_for(drip);
                    }
                };
                say(greeting, drip_greeting);
                std::string in;
                for (std::size_t i = 0; !stop_; ++i) {
                    const std::size_t n = asio::read_until(sock, asio::dynamic_buffer(in), "\r\n");
                    in.erase(0, n);
                    if (i < answers.size())
                        say(answers[i], true);
                }
            } catch (const std::exception&) { // the client went away, or the test ended
            }
        });
    }
    ~tcp_server()
    {
        stop_ = true;
        boost::system::error_code ec;
        acceptor_.close(ec);
        thread_.join();
    }
    std::uint16_t port() const { return port_; }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

smtp::connect_options tcp_opts(const tcp_server& s)
{
    auto o = opts();
    o.host = "127.0.0.1";
    o.port = s.port();
    return o;
}

using tcp_clear = smtp::policies<smtp::tls::none>;

template <class F>
milliseconds timed(F&& f)
{
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
}

// --- The cases -------------------------------------------------------------------------

/// Text made at run time for the table, kept alive as long as the cases.
std::deque<std::string> descriptions;

std::vector<hostile_case> make_cases()
{
    std::vector<hostile_case> v;

    // STARTTLS ---------------------------------------------------------------------
    v.push_back({"starttls-not-offered", "STARTTLS", "EHLO without STARTTLS, TLS required",
                 "errc::starttls_not_offered; nothing but EHLO written", [] {
                     auto s = greeted("250-mx.example\r\n250 AUTH PLAIN\r\n");
                     auto g = std::move(smtp::connect<strict>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).starttls(ec, d);
                     BOOST_TEST(ec == errc::starttls_not_offered);
                     BOOST_TEST(s->written() == "EHLO client.example\r\n");
                 }});
    for (auto [id, reply, expect_ec, text] :
         {std::tuple{"starttls-454", "454 4.7.0 TLS not available\r\n", errc::transient_failure, "errc::transient_failure"},
          std::tuple{"starttls-554", "554 5.7.0 no\r\n", errc::permanent_failure, "errc::permanent_failure"},
          std::tuple{"starttls-wrong-code", "250 sure\r\n", errc::unexpected_reply, "errc::unexpected_reply"},
          std::tuple{"starttls-garbage", "hello there\r\n", errc::reply_code_invalid,
                     "errc::reply_code_invalid, session broken"}}) {
        const std::string r = reply;
        const errc e = expect_ec;
        v.push_back({id, "STARTTLS", descriptions.emplace_back("`" + r.substr(0, r.size() - 2) + "` to STARTTLS").c_str(), text, [r, e] {
                         auto s = greeted("250-mx.example\r\n250 STARTTLS\r\n");
                         s->expect("STARTTLS\r\n").respond(r);
                         auto g = std::move(smtp::connect<strict>(opts(), s)).ehlo();
                         smtp::error_code ec;
                         smtp::diagnostics d;
                         auto st = std::move(g).starttls(ec, d);
                         BOOST_TEST(ec == e);
                         BOOST_TEST(!st.has_value());
                         // Nothing after STARTTLS: a session in clear has no MAIL or AUTH (typestate).
                         BOOST_TEST(s->written() == "EHLO client.example\r\nSTARTTLS\r\n");
                     }});
    }
    v.push_back({"starttls-injected-lines", "STARTTLS",
                 "220 to STARTTLS followed in the same packet by plaintext replies",
                 "the plaintext is dropped unread; capabilities come from the EHLO after TLS", [] {
                     auto s = greeted("250-mx.example\r\n250 STARTTLS\r\n");
                     s->expect("STARTTLS\r\n")
                         .respond("220 go\r\n250-INJECTED\r\n250 AUTH PLAIN\r\n")
                         .handshake()
                         .expect("EHLO client.example\r\n")
                         .respond("250-mx.example\r\n250 AUTH LOGIN\r\n");
                     auto t = std::move(smtp::connect<strict>(opts(), s)).ehlo().starttls().ehlo();
                     BOOST_TEST(!t.has_extn("INJECTED"));
                     BOOST_TEST(t.server_capabilities().get<smtp::ext::auth>()->contains("LOGIN"));
                     BOOST_TEST(!t.server_capabilities().get<smtp::ext::auth>()->contains("PLAIN"));
                     BOOST_TEST(s->done(), s->log());
                 }});
    v.push_back({"starttls-injected-partial-line", "STARTTLS", "220 to STARTTLS followed by half a reply line",
                 "the partial line is dropped; the EHLO after TLS parses cleanly", [] {
                     auto s = greeted("250-mx.example\r\n250 STARTTLS\r\n");
                     s->expect("STARTTLS\r\n")
                         .respond("220 go\r\n250-INJ")
                         .handshake()
                         .expect("EHLO client.example\r\n")
                         .respond("250 mx.example\r\n");
                     auto t = std::move(smtp::connect<strict>(opts(), s)).ehlo().starttls().ehlo();
                     BOOST_TEST(t.encrypted());
                     BOOST_TEST(s->done(), s->log());
                 }});
    v.push_back({"ehlo-refused-helo-fallback", "STARTTLS", "EHLO refused with 502, so HELO is tried (no extensions)",
                 "STARTTLS is then not offered: errc::starttls_not_offered, nothing else sent", [] {
                     auto s = script();
                     s->respond("220 mx\r\n")
                         .expect("EHLO client.example\r\n")
                         .respond("502 no\r\n")
                         .expect("HELO client.example\r\n")
                         .respond("250 mx\r\n");
                     auto g = std::move(smtp::connect<strict>(opts(), s)).ehlo();
                     BOOST_TEST(!g.does_esmtp());
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).starttls(ec, d);
                     BOOST_TEST(ec == errc::starttls_not_offered);
                     BOOST_TEST(s->written() == "EHLO client.example\r\nHELO client.example\r\n");
                 }});
    v.push_back({"starttls-handshake-fails", "STARTTLS", "the TLS handshake fails",
                 "the error; the session is broken; nothing after STARTTLS was written", [] {
                     auto s = greeted("250-mx.example\r\n250 STARTTLS\r\n");
                     s->expect("STARTTLS\r\n").respond("220 go\r\n").handshake();
                     s->fail_at(7, asio::error::connection_reset); // connect, read, write, read, write, read, handshake
                     auto g = std::move(smtp::connect<strict>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).starttls(ec, d);
                     BOOST_TEST(ec == asio::error::connection_reset);
                     BOOST_TEST(std::move(st).recover().broken());
                     BOOST_TEST(s->written() == "EHLO client.example\r\nSTARTTLS\r\n");
                 }});
    v.push_back({"no-mail-in-clear", "STARTTLS", "(any) a session in clear under the default policies",
                 "MAIL, RCPT, DATA, AUTH and VRFY do not compile before STARTTLS", [] {
                     using G = smtp::session<strict, smtp::state::greeted<false, false>>;
                     using T = smtp::session<strict, smtp::state::greeted<true, false>>;
                     BOOST_TEST(!can_send<G>);
                     BOOST_TEST(!can_mail<G>);
                     BOOST_TEST(!can_login<G>);
                     BOOST_TEST(!can_verify<G>);
                     BOOST_TEST(can_send<T>); // once encrypted, they are there
                     BOOST_TEST(can_login<T>);
                 }});

    // Replies ------------------------------------------------------------------------
    struct bad_reply {
        const char* id;
        std::string bytes;
        errc e;
        const char* server;
    };
    const std::vector<bad_reply> bad{
        {"reply-line-too-long", "250 " + std::string(3000, 'a') + "\r\n", errc::reply_line_too_long,
         "an EHLO reply line of 3,000 octets"},
        {"reply-endless-multiline", [] {
             std::string r;
             for (int i = 0; i < 5000; ++i)
                 r += "250-KEYWORD" + std::to_string(i) + "\r\n";
             return r;
         }(),
         errc::reply_too_many_lines, "an EHLO reply that goes on for 5,000 lines (80 KB)"},
        {"reply-code-mismatch", "250-mx\r\n251 PIPELINING\r\n", errc::reply_code_mismatch,
         "a multi-line reply whose code changes"},
        {"reply-code-malformed", "2x0 hello\r\n", errc::reply_code_invalid, "a code with a letter"},
        {"reply-code-600", "600 hello\r\n", errc::reply_code_invalid, "a code above 599"},
        {"reply-code-199", "199 hello\r\n", errc::reply_code_invalid, "a code below 200"},
        {"reply-nul", std::string("250 mx\0x\r\n", 10), errc::reply_control_character, "a NUL in the text"},
        {"reply-escape", "250 mx\x1b[31m\r\n", errc::reply_control_character, "a terminal escape in the text"},
        {"reply-bare-lf", "250 mx\n", errc::reply_bare_lf, "a line ended by a bare LF"},
        {"reply-bare-cr", "250 m\rx\r\n", errc::reply_bare_cr, "a bare CR inside a line"},
        {"reply-bad-separator", "250xmx\r\n", errc::reply_separator_invalid, "no space or hyphen after the code"},
    };
    for (const auto& b : bad) {
        v.push_back({b.id, "Replies", b.server, "the parser's precise error; the session is broken", [b] {
                         auto s = script();
                         s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond(b.bytes);
                         smtp::error_code ec;
                         smtp::diagnostics d;
                         auto st = std::move(smtp::connect<clear>(opts(), s)).ehlo(ec, d);
                         BOOST_TEST(ec == b.e);
                         auto c = std::move(st).recover();
                         BOOST_TEST(c.broken());
                         c.noop(ec, d);
                         BOOST_TEST(ec == errc::session_broken);
                         BOOST_TEST(s->written() == "EHLO client.example\r\n");
                     }});
    }
    v.push_back({"reply-before-command", "Replies", "a second reply right after the greeting, before EHLO",
                 "errc::unsolicited_reply before EHLO is written; session broken", [] {
                     auto s = script();
                     s->respond("220 mx\r\n250 fake EHLO reply\r\n");
                     auto c = smtp::connect<clear>(opts(), s);
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(c).ehlo(ec, d);
                     BOOST_TEST(ec == errc::unsolicited_reply);
                     BOOST_TEST(s->written().empty());
                     BOOST_TEST(std::move(st).recover().broken());
                 }});
    v.push_back({"reply-extra-in-pipelined-group", "Replies",
                 "one reply too many to a pipelined MAIL/RCPT/DATA group (a desynchronisation attempt)",
                 "errc::unsolicited_reply; no message data written; outcome not_sent", [] {
                     auto s = greeted();
                     s->expect(group).respond("250 ok\r\n250 ok\r\n354 go\r\n250 extra\r\n");
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     const auto r = send(g);
                     BOOST_TEST(r.ec == errc::unsolicited_reply);
                     BOOST_TEST(r.r.outcome == transaction_outcome::not_sent);
                     BOOST_TEST(s->written().find("hi") == std::string::npos);
                     BOOST_TEST(g.broken());
                 }});
    v.push_back({"reply-truncated-every-byte", "Replies",
                 "the replies to a pipelined transaction cut at every byte, then the connection closed",
                 "never a success: not_sent before the final dot, unknown after it", [] {
                     const std::string replies = "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
                     const std::size_t data_at = std::string("250 ok\r\n250 ok\r\n354 go\r\n").size();
                     for (std::size_t cut = 0; cut < replies.size(); ++cut) {
                         auto s = greeted();
                         s->expect(group);
                         if (cut > 0)
                             s->respond(replies.substr(0, std::min(cut, data_at)));
                         if (cut >= data_at) {
                             s->expect("hi\r\n.\r\n");
                             if (cut > data_at)
                                 s->respond(replies.substr(data_at, cut - data_at));
                         }
                         s->close();
                         auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                         const auto r = send(g);
                         BOOST_TEST_CONTEXT("cut at " << cut)
                         {
                             BOOST_TEST(!r.r.queued());
                             BOOST_TEST(r.ec);
                             BOOST_TEST(r.r.outcome == (cut >= data_at ? transaction_outcome::unknown
                                                                       : transaction_outcome::not_sent));
                         }
                     }
                 }});
    // A 421 at each step.
    v.push_back({"421-greeting", "Replies", "421 instead of the greeting",
                 "errc::transient_failure with the 421; no session", [] {
                     auto s = script();
                     s->respond("421 4.3.2 busy\r\n");
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto c = smtp::connect<clear>(opts(), ec, d, s);
                     BOOST_TEST(!c.has_value());
                     BOOST_TEST(ec == errc::transient_failure);
                     BOOST_TEST(d.server_reply()->code() == 421);
                 }});
    v.push_back({"421-ehlo", "Replies", "421 to EHLO", "errc::transient_failure; session broken; no HELO", [] {
                     auto s = script();
                     s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("421 4.3.2 bye\r\n");
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(smtp::connect<clear>(opts(), s)).ehlo(ec, d);
                     BOOST_TEST(ec == errc::transient_failure);
                     BOOST_TEST(std::move(st).recover().broken());
                     BOOST_TEST(s->written() == "EHLO client.example\r\n");
                 }});
    for (auto [id, step_replies, what] :
         {std::tuple{"421-mail", "421 4.3.2 bye\r\n", "421 to MAIL"},
          std::tuple{"421-rcpt", "250 ok\r\n421 4.3.2 bye\r\n", "421 to RCPT"},
          std::tuple{"421-data", "250 ok\r\n250 ok\r\n421 4.3.2 bye\r\n", "421 to DATA"}}) {
        const std::string replies = step_replies;
        v.push_back({id, "Replies", what, "outcome not_sent, errc::transient_failure; session broken", [replies] {
                         auto s = greeted();
                         s->expect(group).respond(replies);
                         auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                         const auto r = send(g);
                         BOOST_TEST(r.ec == errc::transient_failure);
                         BOOST_TEST(r.r.outcome == transaction_outcome::not_sent);
                         BOOST_TEST(g.broken());
                         BOOST_TEST(s->written().find("hi\r\n") == std::string::npos);
                     }});
    }
    v.push_back({"421-final-dot", "Replies", "421 to the end of data",
                 "outcome refused (not queued), errc::transient_failure; session broken", [] {
                     auto s = greeted();
                     s->expect(group).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("hi\r\n.\r\n").respond(
                         "421 4.3.2 bye\r\n");
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     const auto r = send(g);
                     BOOST_TEST(r.ec == errc::transient_failure);
                     BOOST_TEST(r.r.outcome == transaction_outcome::refused);
                     BOOST_TEST(g.broken());
                 }});
    v.push_back({"421-auth", "Replies", "421 to AUTH", "errc::transient_failure; session broken", [] {
                     auto s = greeted("250-mx.example\r\n250 AUTH PLAIN\r\n");
                     s->expect("AUTH PLAIN AHUAcA==\r\n").respond("421 4.3.2 bye\r\n");
                     auto g = std::move(smtp::connect<clear_auth>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).login("u", "p", ec, d);
                     BOOST_TEST(ec == errc::transient_failure);
                     BOOST_TEST(std::move(st).recover().broken());
                 }});
    v.push_back({"wrong-code-mail-354", "Replies", "354 to MAIL",
                 "errc::unexpected_reply; no data sent; outcome refused", [] {
                     auto s = greeted("250 mx.example\r\n"); // no PIPELINING: lockstep
                     s->expect("MAIL FROM:<a@x.org>\r\n").respond("354 go on\r\n");
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     const auto r = send(g);
                     BOOST_TEST(r.ec == errc::unexpected_reply);
                     BOOST_TEST(r.r.outcome == transaction_outcome::refused);
                     BOOST_TEST(s->written().find("RCPT") == std::string::npos);
                 }});
    v.push_back({"wrong-code-data-250", "Replies", "250 to DATA (instead of 354)",
                 "errc::unexpected_reply; no data sent; RSET; session usable", [] {
                     auto s = greeted();
                     s->expect(group).respond("250 ok\r\n250 ok\r\n250 sure\r\n").expect("RSET\r\n").respond(
                         "250 reset\r\n");
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     const auto r = send(g);
                     BOOST_TEST(r.ec == errc::unexpected_reply);
                     BOOST_TEST(r.r.outcome == transaction_outcome::refused);
                     BOOST_TEST(!g.broken());
                     BOOST_TEST(s->done(), s->log());
                 }});
    v.push_back({"wrong-code-ehlo-354", "Replies", "354 to EHLO", "errc::unexpected_reply; no HELO", [] {
                     auto s = script();
                     s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("354 what\r\n");
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(smtp::connect<clear>(opts(), s)).ehlo(ec, d);
                     BOOST_TEST(ec == errc::unexpected_reply);
                     BOOST_TEST(s->written() == "EHLO client.example\r\n");
                 }});
    v.push_back({"auth-endless-challenges", "Replies", "334 challenges forever",
                 "errc::too_many_challenges after connect_options::max_auth_challenges", [] {
                     auto s = greeted("250-mx.example\r\n250 AUTH X-CHATTY\r\n");
                     s->expect("AUTH X-CHATTY\r\n").respond("334 \r\n");
                     for (int i = 0; i < 8; ++i)
                         s->expect("bW9yZQ==\r\n").respond("334 \r\n");
                     s->expect("*\r\n").respond("501 cancelled\r\n");
                     auto o = opts();
                     o.max_auth_challenges = 8;
                     auto g = std::move(smtp::connect<chatty_auth>(o, s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).login("u", "p", ec, d);
                     BOOST_TEST(ec == errc::too_many_challenges);
                     BOOST_TEST(s->done(), s->log());
                 }});
    v.push_back({"auth-challenge-not-base64", "Replies", "a 334 challenge that is not base64",
                 "errc::invalid_base64; not authenticated", [] {
                     auto s = greeted("250-mx.example\r\n250 AUTH LOGIN\r\n");
                     s->expect("AUTH LOGIN\r\n").respond("334 !!not*base64\r\n").expect("*\r\n").respond(
                         "501 cancelled\r\n");
                     auto g = std::move(smtp::connect<clear_auth>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).login("u", "p", ec, d);
                     BOOST_TEST(ec == errc::invalid_base64);
                     BOOST_TEST(!st.has_value());
                 }});
    v.push_back({"auth-challenge-to-plain", "Replies", "a 334 challenge after PLAIN's initial response",
                 "a SASL error (the mechanism expects none); not authenticated", [] {
                     auto s = greeted("250-mx.example\r\n250 AUTH PLAIN\r\n");
                     s->expect("AUTH PLAIN AHUAcA==\r\n").respond("334 \r\n").expect("*\r\n").respond(
                         "501 cancelled\r\n");
                     auto g = std::move(smtp::connect<clear_auth>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).login("u", "p", ec, d);
                     BOOST_TEST(ec == errc::sasl_unexpected_challenge);
                     BOOST_TEST(!st.has_value());
                 }});

    // The connection dropped -------------------------------------------------------------
    v.push_back({"drop-before-greeting", "Connection", "accepts, then closes without a greeting",
                 "errc::no_greeting (an implicit-TLS server? use tls::implicit); no session", [] {
                     auto s = script();
                     s->close();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     BOOST_TEST(!smtp::connect<clear>(opts(), ec, d, s).has_value());
                     BOOST_TEST(ec == errc::no_greeting);
                     BOOST_TEST(d.detail_text() == "the server closed the connection without a greeting");
                 }});
    v.push_back({"drop-after-ehlo", "Connection", "closes instead of answering EHLO",
                 "errc::connection_closed; session broken", [] {
                     auto s = script();
                     s->respond("220 mx\r\n").expect("EHLO client.example\r\n").close();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(smtp::connect<clear>(opts(), s)).ehlo(ec, d);
                     BOOST_TEST(ec == errc::connection_closed);
                     BOOST_TEST(std::move(st).recover().broken());
                 }});
    v.push_back({"drop-at-every-step", "Connection",
                 "lockstep transaction; the connection fails at each I/O operation in turn",
                 "not_sent until the final dot is written, unknown after; never queued", [] {
                     // connect, read 220, write EHLO, read, then MAIL, RCPT, DATA (write+read
                     // each), the data (write), its reply (read): operations 5..12.
                     for (unsigned k = 5; k <= 12; ++k) {
                         auto s = greeted("250 mx.example\r\n");
                         s->expect("MAIL FROM:<a@x.org>\r\n")
                             .respond("250 ok\r\n")
                             .expect("RCPT TO:<b@x.org>\r\n")
                             .respond("250 ok\r\n")
                             .expect("DATA\r\n")
                             .respond("354 go\r\n")
                             .expect("hi\r\n.\r\n")
                             .respond("250 queued\r\n");
                         s->fail_at(k, asio::error::connection_reset);
                         auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                         const auto r = send(g);
                         BOOST_TEST_CONTEXT("failing operation " << k)
                         {
                             BOOST_TEST(!r.r.queued());
                             BOOST_TEST(r.r.outcome ==
                                        (k == 12 ? transaction_outcome::unknown : transaction_outcome::not_sent));
                             BOOST_TEST(g.broken());
                         }
                     }
                 }});
    v.push_back({"drop-during-auth", "Connection", "closes after the AUTH LOGIN username",
                 "errc::connection_closed; not authenticated", [] {
                     auto s = greeted("250-mx.example\r\n250 AUTH LOGIN\r\n");
                     s->expect("AUTH LOGIN\r\n").respond("334 VXNlcm5hbWU6\r\n").expect("dQ==\r\n").close();
                     auto g = std::move(smtp::connect<clear_auth>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).login("u", "p", ec, d);
                     BOOST_TEST(ec == errc::connection_closed);
                     BOOST_TEST(!st.has_value());
                 }});

    // Caller input: refused before a byte is written -----------------------------------------
    v.push_back({"input-ehlo-name-crlf", "Input", "(caller) CR LF in the EHLO name",
                 "errc::control_character naming \"EHLO domain\"; nothing written", [] {
                     auto s = script();
                     s->respond("220 mx\r\n");
                     auto o = opts();
                     o.local_name = "client.example\r\nMAIL FROM:<x@y>";
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(smtp::connect<clear>(o, s)).ehlo(ec, d);
                     BOOST_TEST(ec == errc::control_character);
                     BOOST_TEST(d.field() == "EHLO domain");
                     BOOST_TEST(s->written().empty());
                 }});
    struct bad_address {
        const char* id;
        std::string from, to;
        errc e;
        const char* field;
        const char* what;
    };
    const std::vector<bad_address> addrs{
        {"input-address-crlf", "a@x.org", "b@x.org\r\nRCPT TO:<c@y.org>", errc::control_character, "RCPT TO address",
         "(caller) CR LF in a recipient"},
        {"input-address-nul", std::string("a\0@x.org", 8), "b@x.org", errc::control_character, "MAIL FROM address",
         "(caller) NUL in the sender"},
        {"input-address-angle", "a@x.org", "b@x.org> NOTIFY=NEVER <c", errc::angle_bracket_in_address,
         "RCPT TO address", "(caller) '>' in a recipient"},
        {"input-local-part-65", "a@x.org", std::string(65, 'l') + "@x.org", errc::local_part_too_long,
         "RCPT TO address", "(caller) a 65-octet local part"},
        {"input-path-too-long", "a@x.org", "b@" + std::string(252, 'd') + ".org", errc::path_too_long,
         "RCPT TO address", "(caller) a 260-octet path (a 256-octet domain)"},
        {"input-utf8-without-smtputf8", "a@x.org", "j\xC3\xB6rg@x.org", errc::smtputf8_not_offered, "address",
         "(caller) a UTF-8 address, server without SMTPUTF8"},
    };
    for (const auto& a : addrs) {
        v.push_back({a.id, "Input", a.what, "the precise error naming the field; nothing written", [a] {
                         auto s = greeted();
                         auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                         smtp::error_code ec;
                         smtp::diagnostics d;
                         g.sendmail(a.from, {a.to}, "hi", ec, d);
                         BOOST_TEST(ec == a.e);
                         BOOST_TEST(d.field() == a.field);
                         BOOST_TEST(s->writes().size() == 1u); // EHLO only
                         BOOST_TEST(!g.broken());
                     }});
    }
    v.push_back({"input-param-crlf", "Input", "(caller) CR LF in an ESMTP parameter value",
                 "errc::control_character naming the parameter value; nothing written", [] {
                     auto s = greeted();
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     const smtp::esmtp_param p[]{{"X-TAG", "a\r\nRSET"}};
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).mail_from("a@x.org", p, ec, d);
                     BOOST_TEST(ec == errc::control_character);
                     BOOST_TEST(d.field() == "ESMTP parameter value");
                     BOOST_TEST(s->writes().size() == 1u);
                 }});
    v.push_back({"input-param-keyword", "Input", "(caller) a space in an ESMTP parameter keyword",
                 "errc::invalid_parameter_keyword; nothing written", [] {
                     auto s = greeted();
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     const smtp::esmtp_param p[]{{"X TAG", std::nullopt}};
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).mail_from("a@x.org", p, ec, d);
                     BOOST_TEST(ec == errc::invalid_parameter_keyword);
                     BOOST_TEST(s->writes().size() == 1u);
                 }});
    v.push_back({"input-credentials-nul", "Input", "(caller) NUL in a PLAIN password",
                 "errc::sasl_invalid_credentials; nothing written", [] {
                     auto s = greeted("250-mx.example\r\n250 AUTH PLAIN\r\n");
                     auto g = std::move(smtp::connect<clear_auth>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto st = std::move(g).login("u", std::string("p\0q", 3), ec, d);
                     BOOST_TEST(ec == errc::sasl_invalid_credentials);
                     BOOST_TEST(s->writes().size() == 1u);
                 }});
    v.push_back({"input-vrfy-crlf", "Input", "(caller) CR LF in a VRFY argument",
                 "errc::control_character; nothing written", [] {
                     auto s = greeted();
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     g.verify("a\r\nDATA", ec, d);
                     BOOST_TEST(ec == errc::control_character);
                     BOOST_TEST(s->writes().size() == 1u);
                 }});
    v.push_back({"input-envid-long", "Input", "(caller) a 101-character ENVID",
                 "errc::invalid_parameter_value naming ENVID; nothing written", [] {
                     auto s = greeted("250-mx.example\r\n250 DSN\r\n");
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     smtp::send_options o;
                     o.envid = std::string(101, 'e');
                     const std::vector<smtp::recipient> to{{"b@x.org"}};
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     g.sendmail("a@x.org", to, "hi", o, ec, d);
                     BOOST_TEST(ec == errc::invalid_parameter_value);
                     BOOST_TEST(d.field() == "ENVID");
                     BOOST_TEST(s->writes().size() == 1u);
                 }});
    v.push_back({"input-line-999", "Input", "(caller) a message line of 999 octets",
                 "errc::data_line_too_long before MAIL; nothing written", [] {
                     auto s = greeted();
                     auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
                     const auto r = send(g, std::string(999, 'x') + "\r\n");
                     BOOST_TEST(r.ec == errc::data_line_too_long);
                     BOOST_TEST(s->writes().size() == 1u);
                 }});
    v.push_back({"input-smuggling", "Input",
                 "(caller) message data with every arrangement of CR, LF, '.' and NUL up to 5 octets",
                 "exactly one end of data on the wire, at its end; line ends CRLF", [] {
                     const char alphabet[] = {'\r', '\n', '.', '\0', 'a'};
                     std::vector<std::string> inputs{""};
                     for (int len = 1; len <= 5; ++len) {
                         std::vector<std::string> next;
                         for (const auto& p : inputs)
                             if (p.size() == static_cast<std::size_t>(len - 1))
                                 for (char c : alphabet)
                                     next.push_back(p + c);
                         inputs.insert(inputs.end(), next.begin(), next.end());
                     }
                     std::size_t checked = 0;
                     for (const auto& in : inputs) {
                         test_offers o;
                         o.pipelining = true;
                         const std::vector<smtp::recipient> to{{"b@x.org"}};
                         const std::string message = "x\r\n" + in; // the transaction views it
                         smtp::transaction t("a@x.org", to, message, smtp::send_options{}, caps(o), {});
                         std::string out;
                         t.write(out);
                         smtp::reply_parser p;
                         smtp::reply_view rv;
                         smtp::error_code pe;
                         const std::string ok = "250 ok\r\n";
                         for (int i = 0; i < 2; ++i) {
                             p.put(ok, rv, pe);
                             t.on_reply(rv);
                         }
                         const std::string go = "354 go\r\n";
                         p.put(go, rv, pe);
                         t.on_reply(rv);
                         std::string data;
                         while (t.next() == smtp::transaction::want::write)
                             t.write(data);
                         const auto first = data.find("\r\n.\r\n");
                         BOOST_TEST((first != std::string::npos && first + 5 == data.size()), "input #" << checked);
                         for (std::size_t i = 0; i < data.size(); ++i)
                             if (data[i] == '\n' || data[i] == '\r')
                                 BOOST_TEST((data[i] == '\r' ? data[i + 1] == '\n' : data[i - 1] == '\r'));
                         ++checked;
                     }
                     BOOST_TEST(checked == inputs.size());
                 }});

    // Not SMTP, or the wrong TLS mode: named, and nothing written -----------------------------
    for (auto [id, what, first, got] :
         {std::tuple{"not-smtp-ssh", "an SSH banner instead of a greeting",
                     std::string("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\n"),
                     std::string("got 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\\r\\n'")},
          std::tuple{"not-smtp-http", "an HTTP response instead of a greeting",
                     std::string("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
                     std::string("got 'HTTP/1.1 400 Bad Request\\r\\nContent-Length: 0\\r\\n\\r\\n'")},
          std::tuple{"not-smtp-binary", "binary bytes, then a long line, instead of a greeting",
                     std::string("\x00\x01\xfe\xff", 4) + std::string(100, 'x') + "\r\n",
                     "got '\\x00\\x01\\xfe\\xff" + std::string(60, 'x') + "'..."}}) {
        descriptions.push_back(std::string("errc::not_smtp, \"") + (std::string(id) == "not-smtp-binary"
                                   ? "got '\\x00\\x01\\xfe\\xffxxx...'...\" (64 bytes, escaped)"
                                   : got + "\"") + "; nothing written");
        v.push_back({id, "Not SMTP", what, descriptions.back().c_str(), [first = first, got = got] {
                         auto s = script();
                         s->respond(first);
                         smtp::error_code ec;
                         smtp::diagnostics d;
                         BOOST_TEST(!smtp::connect<clear>(opts(), ec, d, s).has_value());
                         BOOST_TEST(ec == errc::not_smtp);
                         BOOST_TEST(d.detail_text() == got);
                         BOOST_TEST(d.describe(ec) == "not an SMTP server: " + got);
                         BOOST_TEST(s->written().empty());
                     }});
    }
    v.push_back({"greeting-silent", "Not SMTP", "accepts and says nothing (an implicit-TLS server waits for the client)",
                 "errc::no_greeting, \"no greeting within 50 ms\" (use tls::implicit, usually port 465); nothing written",
                 [] {
                     auto s = script();
                     s->stall();
                     auto o = opts();
                     o.timeouts.greeting = milliseconds(50);
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     BOOST_TEST(!smtp::connect<clear>(o, ec, d, s).has_value());
                     BOOST_TEST(ec == errc::no_greeting);
                     BOOST_TEST(d.detail_text() == "no greeting within 50 ms");
                     BOOST_TEST(d.describe(ec) == "the server sent no greeting: if it expects TLS at once, use "
                                                  "tls::implicit, usually port 465: no greeting within 50 ms");
                     BOOST_TEST(s->written().empty());
                 }});
    v.push_back({"greeting-tls-alert", "Not SMTP", "a TLS alert instead of a greeting (a TLS server)",
                 "errc::no_greeting, \"got '\\x15\\x03\\x01\\x00\\x02\\x02F', which is TLS\"; nothing written", [] {
                     auto s = script();
                     s->respond(std::string("\x15\x03\x01\x00\x02\x02\x46", 7));
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     BOOST_TEST(!smtp::connect<clear>(opts(), ec, d, s).has_value());
                     BOOST_TEST(ec == errc::no_greeting);
                     BOOST_TEST(d.detail_text() == "got '\\x15\\x03\\x01\\x00\\x02\\x02F', which is TLS");
                     BOOST_TEST(s->written().empty());
                 }});

    // Timeouts (a real TCP server in this process) ----------------------------------------------
    v.push_back({"timeout-dripped-greeting", "Timeouts",
                 "the greeting dripped one byte every 40 ms (2 s in all)",
                 "errc::timeout at the greeting deadline, not per read: \"no greeting within 300 ms\"", [] {
                     tcp_server srv("220 mx.example ESMTP dripping slowly\r\n", {}, milliseconds(40));
                     auto o = tcp_opts(srv);
                     o.timeouts.greeting = milliseconds(300);
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     const auto took = timed([&] { smtp::connect<tcp_clear>(o, ec, d); });
                     BOOST_TEST(ec == errc::timeout);
                     BOOST_TEST(d.detail_text() == "no greeting within 300 ms");
                     BOOST_TEST(took < milliseconds(1200));
                 }});
    v.push_back({"timeout-dripped-ehlo", "Timeouts", "the EHLO reply dripped one byte every 40 ms (2 s in all)",
                 "errc::timeout at the command deadline: \"no reply to EHLO within 300 ms\"; session broken", [] {
                     tcp_server srv("220 mx\r\n", {"250-mx.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 HELP\r\n"},
                                    milliseconds(40), false);
                     auto o = tcp_opts(srv);
                     o.timeouts.command = milliseconds(300);
                     smtp::error_code ec;
                     smtp::diagnostics d;
                     auto c = smtp::connect<tcp_clear>(o);
                     std::optional<decltype(std::move(c).ehlo(ec, d))> st;
                     const auto took = timed([&] { st.emplace(std::move(c).ehlo(ec, d)); });
                     BOOST_TEST(ec == errc::timeout);
                     BOOST_TEST(d.detail_text() == "no reply to EHLO within 300 ms");
                     BOOST_TEST(took < milliseconds(1200));
                     BOOST_TEST(std::move(*st).recover().broken());
                 }});
    v.push_back({"timeout-stall-after-ehlo", "Timeouts", "accepts MAIL, then never answers RCPT",
                 "errc::timeout: \"no reply to RCPT within 300 ms\"; outcome not_sent; session broken", [] {
                     tcp_server srv("220 mx\r\n", {"250 mx.example\r\n", "250 ok\r\n"});
                     auto o = tcp_opts(srv);
                     o.timeouts.rcpt = milliseconds(300);
                     auto g = std::move(smtp::connect<tcp_clear>(o)).ehlo();
                     sent r;
                     const auto took = timed([&] { r = send(g); });
                     BOOST_TEST(r.ec == errc::timeout);
                     BOOST_TEST(r.diag.detail_text() == "no reply to RCPT within 300 ms");
                     BOOST_TEST(r.r.outcome == transaction_outcome::not_sent);
                     BOOST_TEST(g.broken());
                     BOOST_TEST(took < milliseconds(1200));
                 }});
    v.push_back({"timeout-stall-after-final-dot", "Timeouts", "takes the data, never answers the final dot",
                 "errc::outcome_unknown at the data_term deadline: \"no reply to the end of data within 300 ms\"; do not resend blindly", [] {
                     tcp_server srv("220 mx\r\n", {"250 mx.example\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"});
                     auto o = tcp_opts(srv);
                     o.timeouts.data_term = milliseconds(300);
                     auto g = std::move(smtp::connect<tcp_clear>(o)).ehlo();
                     const auto r = send(g);
                     BOOST_TEST(r.ec == errc::outcome_unknown);
                     BOOST_TEST(r.diag.detail_text() == "no reply to the end of data within 300 ms");
                     BOOST_TEST(r.r.outcome == transaction_outcome::unknown);
                     BOOST_TEST(g.broken());
                 }});
    return v;
}

const std::vector<hostile_case>& cases()
{
    static const std::vector<hostile_case> all = make_cases();
    return all;
}

/// `test_hostile -- --table FILE`: writes the table docs/security.md
/// carries (tests/check_security_table.cmake compares them).
struct table_printer {
    table_printer()
    {
        const auto& m = boost::unit_test::framework::master_test_suite();
        for (int i = 1; i + 1 < m.argc; ++i)
            if (std::string(m.argv[i]) == "--table") {
                std::ofstream out(m.argv[i + 1]);
                out << "| case | category | the server (or the caller) | the client |\n|---|---|---|---|\n";
                for (const auto& c : cases())
                    out << "| `" << c.id << "` | " << c.category << " | " << c.server << " | " << c.expected << " |\n";
            }
    }
};

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(table_printer);

BOOST_DATA_TEST_CASE(hostile, boost::unit_test::data::xrange(cases().size()), i)
{
    const auto& c = cases()[i];
    BOOST_TEST_CONTEXT(c.id) { c.run(); }
}

BOOST_AUTO_TEST_CASE(at_least_forty_cases)
{
    BOOST_TEST(cases().size() >= 40u);
}

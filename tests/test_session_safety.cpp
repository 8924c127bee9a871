// A session used the ways that went wrong for new users (issue 12): a
// moved-from session (every member fails cleanly, never undefined
// behaviour), a temporary message given to an asynchronous form (kept until
// the completion: run under AddressSanitizer by ./run test), one handler
// shape for every asynchronous operation, the policy concepts met by minimal
// types of one's own (and the logger read back), the commands that compile
// in clear under tls::starttls checked against the three places that list
// them, the error_code forms of EXPN, HELP and docmd, and messages from the
// builder or a message_source given to sendmail and send_message (Bcc in
// the envelope only).
#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#include <smtp/transport/scripted.hpp>

#include "scripted_server.hpp"

#define BOOST_TEST_MODULE session_safety
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using smtp::errc;
using script_ptr = std::shared_ptr<smtp::transport::script>;

namespace {

template <class... Ps>
using scripted = smtp::policies<smtp::transport::scripted, Ps...>;
using clear = scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext>;

using scripted_server::opts;
const auto make_script = scripted_server::script;

const std::string plain_ehlo = "250-mx.example\r\n250 AUTH PLAIN\r\n"; // no PIPELINING: one command at a time

/// The code an error_with_diagnostics carries, or {} when `f` does not throw one.
template <class F>
smtp::error_code thrown(F&& f)
{
    try {
        f();
    } catch (const smtp::error_with_diagnostics& e) {
        return e.code();
    }
    return {};
}

/// Overwrites freed heap blocks of about `size` octets, so that a message
/// read after it was freed shows as garbage even without AddressSanitizer.
void scribble(std::size_t size)
{
    std::vector<std::string> junk;
    for (int i = 0; i < 64; ++i)
        junk.emplace_back(size, '#');
}

} // namespace

// ---------------------------------------------------------------------------
// A moved-from session: every public member fails cleanly.

BOOST_AUTO_TEST_CASE(the_reported_crash_noop_on_a_session_a_transition_consumed)
{
    // auto g2 = std::move(g).ehlo(); g.noop(); crashed (a null dereference).
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo)
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo);
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    auto g2 = std::move(g).ehlo();
    BOOST_TEST(thrown([&] { g.noop(); }) == errc::moved_from_session);
    smtp::error_code ec;
    smtp::diagnostics diag;
    g.noop(ec, diag);
    BOOST_TEST(ec == errc::moved_from_session);
    BOOST_TEST(g2.valid());
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(every_member_of_a_moved_from_greeted_session)
{
    auto s = make_script();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond(plain_ehlo);
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    auto keep = std::move(g); // g is moved from; nothing below may reach the wire
    const std::vector<std::string> to{"b@x.org"};
    const std::vector<smtp::recipient> rcpts{{"b@x.org"}};
    smtp::message built(7);
    built.from({"", "a@x.org"}).to({"", "b@x.org"}).text("hi\n");
    smtp::message_source source{[](char*, std::size_t) { return std::size_t(0); }, {}};
    const std::vector<smtp::outgoing_message> batch{{"a@x.org", rcpts, "m", {}}, {"a@x.org", rcpts, "n", {}}};
    constexpr auto moved = errc::moved_from_session;

    // Observers: nothing is there.
    BOOST_TEST(!g.valid());
    BOOST_TEST(g.broken());
    BOOST_TEST(!g.encrypted());
    BOOST_TEST(!g.does_esmtp());
    BOOST_TEST(!g.has_extn("AUTH"));
    BOOST_TEST(!g.server_capabilities().has_extn("AUTH"));
    BOOST_TEST(g.options().host == smtp::connect_options{}.host);
    BOOST_TEST(thrown([&] { (void)g.transport(); }) == moved);
    BOOST_TEST(thrown([&] { (void)g.logger(); }) == moved);
    BOOST_TEST(thrown([&] { (void)std::as_const(g).logger(); }) == moved);

    // Commands that keep the state: both forms.
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto with_ec = [&](auto&& call) {
        ec = {};
        call();
        return ec;
    };
    BOOST_TEST(thrown([&] { g.noop(); }) == moved);
    BOOST_TEST(thrown([&] { g.verify("x"); }) == moved);
    BOOST_TEST(thrown([&] { g.expn("x"); }) == moved);
    BOOST_TEST(thrown([&] { g.help(); }) == moved);
    BOOST_TEST(thrown([&] { g.docmd("XFOO"); }) == moved);
    BOOST_TEST(with_ec([&] { g.noop(ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.verify("x", ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.expn("x", ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.help("", ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.docmd("XFOO", "", ec, diag); }) == moved);

    // Mail: every overload, both forms; the result says so too.
    BOOST_TEST(thrown([&] { g.sendmail("a@x.org", to, "m"); }) == moved);
    BOOST_TEST(thrown([&] { g.sendmail("a@x.org", rcpts, "m"); }) == moved);
    BOOST_TEST(thrown([&] { g.sendmail("a@x.org", rcpts, source); }) == moved);
    BOOST_TEST(thrown([&] { g.sendmail("a@x.org", to, source); }) == moved);
    BOOST_TEST(thrown([&] { g.sendmail("a@x.org", to, built); }) == moved);
    BOOST_TEST(thrown([&] { g.send_message("From: a@x.org\r\nTo: b@x.org\r\n\r\nm\r\n"); }) == moved);
    BOOST_TEST(thrown([&] { g.send_message(source); }) == moved);
    BOOST_TEST(thrown([&] { g.send_message(built); }) == moved);
    BOOST_TEST(with_ec([&] { BOOST_TEST(g.sendmail("a@x.org", to, "m", ec, diag).error == moved); }) == moved);
    BOOST_TEST(with_ec([&] { g.sendmail("a@x.org", rcpts, "m", {}, ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.sendmail("a@x.org", rcpts, source, {}, ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.sendmail("a@x.org", to, source, ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.sendmail("a@x.org", to, built, ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { g.send_message("From: a@x.org\r\nTo: b@x.org\r\n\r\nm\r\n", ec, diag); }) == moved);
    BOOST_TEST(with_ec([&] { BOOST_TEST(g.send_message(source, ec, diag).error == moved); }) == moved);
    BOOST_TEST(with_ec([&] { g.send_message(built, ec, diag); }) == moved);
    const auto all = g.send_all(batch);
    BOOST_TEST(all.size() == 2u);
    for (const auto& r : all) {
        BOOST_TEST(r.error == moved);
        BOOST_TEST(r.outcome == smtp::transaction_outcome::not_sent);
    }

    // Asynchronous forms: no executor to complete on, so they throw at the call.
    const auto ignore = [](smtp::error_code, auto&&) {};
    BOOST_TEST(thrown([&] { g.async_sendmail("a@x.org", to, "m", ignore); }) == moved);

    // Transitions: the error form gives the (still empty) session back; the
    // throwing form throws. Each on its own moved-from session.
    {
        auto step = std::move(g).mail_from("a@x.org", {}, ec, diag);
        BOOST_TEST(ec == moved);
        BOOST_TEST(!std::move(step).recover().valid());
    }
    BOOST_TEST(thrown([&] { (void)std::move(g).mail_from("a@x.org"); }) == moved);
    BOOST_TEST(thrown([&] { (void)std::move(g).starttls(); }) == moved);
    BOOST_TEST(with_ec([&] { (void)std::move(g).starttls(ec, diag); }) == moved);
    BOOST_TEST(thrown([&] { (void)std::move(g).login("u", "p"); }) == moved);
    BOOST_TEST(with_ec([&] { (void)std::move(g).login("u", "p", ec, diag); }) == moved);
    BOOST_TEST(thrown([&] { (void)std::move(g).rset(); }) == moved);
    BOOST_TEST(with_ec([&] { (void)std::move(g).rset(ec, diag); }) == moved);
    BOOST_TEST(thrown([&] { (void)std::move(g).ehlo(); }) == moved);
    BOOST_TEST(with_ec([&] { (void)std::move(g).ehlo(ec, diag); }) == moved);
    BOOST_TEST(thrown([&] { std::move(g).async_ehlo(ignore); }) == moved);
    BOOST_TEST(thrown([&] { std::move(g).async_starttls(ignore); }) == moved);
    BOOST_TEST(thrown([&] { std::move(g).async_login("u", "p", ignore); }) == moved);
    BOOST_TEST(thrown([&] { std::move(g).async_quit(ignore); }) == moved);
    {
        auto closed = std::move(g).quit(ec, diag);
        BOOST_TEST(ec == moved);
        BOOST_TEST(!closed.clean());
    }
    BOOST_TEST(thrown([&] { (void)std::move(g).quit(); }) == moved);

    // Nothing of it reached the server; the session it moved to still works.
    BOOST_TEST(s->written() == "EHLO client.example\r\n");
    BOOST_TEST(keep.valid());
    BOOST_TEST(keep.has_extn("AUTH"));
}

BOOST_AUTO_TEST_CASE(every_member_of_a_moved_from_session_in_a_transaction)
{
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo)
        .expect("MAIL FROM:<a@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n")
        .respond("250 ok\r\n");
    auto m = std::move(smtp::connect<clear>(opts(), s)).ehlo().mail_from("a@x.org");
    auto r = std::move(m).rcpt_to("b@x.org");
    BOOST_TEST(!m.valid());
    BOOST_TEST(thrown([&] { (void)std::move(m).rcpt_to("c@x.org"); }) == errc::moved_from_session);
    auto keep = std::move(r);
    smtp::error_code ec;
    smtp::diagnostics diag;
    (void)std::move(r).rcpt_to("c@x.org", {}, ec, diag);
    BOOST_TEST(ec == errc::moved_from_session);
    BOOST_TEST(thrown([&] { (void)std::move(r).data("m"); }) == errc::moved_from_session);
    BOOST_TEST(!std::move(r).data("m", ec, diag).valid());
    BOOST_TEST(ec == errc::moved_from_session);
    BOOST_TEST(thrown([&] { (void)std::move(r).bdat("m"); }) == errc::moved_from_session);
    ec = {};
    BOOST_TEST(!std::move(r).bdat("m", ec, diag).valid());
    BOOST_TEST(ec == errc::moved_from_session);
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(keep.valid());
}

// ---------------------------------------------------------------------------
// Asynchronous forms: one handler shape, and messages that outlive the call.

BOOST_AUTO_TEST_CASE(one_handler_shape_for_every_asynchronous_operation)
{
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
        .expect("STARTTLS\r\n")
        .respond("220 go ahead\r\n")
        .handshake()
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo)
        .expect("AUTH PLAIN AHUAcA==\r\n")
        .respond("235 ok\r\n")
        .expect("MAIL FROM:<a@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 queued\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    asio::io_context io;
    std::vector<std::string> seen; // which operation completed, with which error
    // The one shape: (error_code, result), whatever the operation.
    const auto record = [&seen](std::string name) {
        return [&seen, name](smtp::error_code ec, auto&&) { seen.push_back(name + ":" + ec.message()); };
    };
    using P = scripted<smtp::tls::starttls, smtp::auth::mechanisms<smtp::sasl::plain>>;
    const std::vector<std::string> to{"b@x.org"};
    smtp::async_connect<P>(
        io.get_executor(), opts(),
        [&](smtp::error_code ec, auto c) {
            record("connect")(ec, c);
            std::move(*c).async_ehlo([&](smtp::error_code ec, auto g) {
                record("ehlo")(ec, g);
                std::move(g).value().async_starttls([&](smtp::error_code ec, auto t) {
                    record("starttls")(ec, t);
                    std::move(t).value().async_ehlo([&](smtp::error_code ec, auto e) {
                        record("ehlo")(ec, e);
                        std::move(e).value().async_login("u", "p", [&](smtp::error_code ec, auto a) {
                            record("login")(ec, a);
                            auto session = std::make_shared<decltype(std::move(a).value())>(std::move(a).value());
                            session->async_sendmail(
                                "a@x.org", to, "hi", [&, session](smtp::error_code ec, smtp::transaction_result r) {
                                    BOOST_TEST(r.queued());
                                    record("sendmail")(ec, r);
                                    std::move(*session).async_quit(record("quit"));
                                });
                        });
                    });
                });
            });
        },
        s);
    io.run();
    const std::vector<std::string> want{"connect:Success", "ehlo:Success",     "starttls:Success", "ehlo:Success",
                                        "login:Success",   "sendmail:Success", "quit:Success"};
    BOOST_TEST(seen == want, boost::test_tools::per_element());
    BOOST_TEST(s->done(), s->log());

    // The pool's two operations take the same shape.
    auto p1 = make_script();
    p1->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo)
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
    seen.clear();
    using Q = scripted<smtp::tls::none>;
    smtp::pool<Q> pool(io.get_executor(), opts(), {},
                       [&](asio::any_io_executor ex) { return smtp::transport::scripted(ex, p1); });
    pool.async_send({"a@x.org", {{"b@x.org"}}, "m", {}}, record("send"));
    pool.async_close([&](smtp::error_code ec, smtp::pool_stats stats) {
        BOOST_TEST(stats.sessions_opened == 1u);
        record("close")(ec, stats);
    });
    io.restart();
    io.run();
    BOOST_TEST(seen == (std::vector<std::string>{"send:Success", "close:Success"}), boost::test_tools::per_element());
    BOOST_TEST(p1->done(), p1->log());
}

BOOST_AUTO_TEST_CASE(a_temporary_message_outlives_the_asynchronous_call)
{
    // The report: async_sendmail(from, {to}, "Subject: x\r\n\r\nHello " + name +
    // "\r\n", ...) read freed memory (AddressSanitizer: heap-use-after-free
    // in data_encoder::run) and the server stored garbage. Now the operation
    // keeps a temporary std::string, and an smtp::message is read through
    // its own reader: both may go as soon as the call returns.
    const std::string name(300, 'n'); // long enough for the heap, not the small-string buffer
    const std::string body = "Subject: x\r\n\r\nHello " + name + "\r\n";
    smtp::message built(11);
    built.from({"", "a@x.org"}).to({"", "b@x.org"}).subject("built").text("Hello " + name + "\n");
    const std::string built_bytes = built.to_string();

    auto s2 = make_script();
    s2->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond(plain_ehlo);
    for (const std::string* m : {&body, &built_bytes, &body})
        s2->expect("MAIL FROM:<a@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("RCPT TO:<b@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("DATA\r\n")
            .respond("354 go\r\n")
            .expect(*m + ".\r\n")
            .respond("250 queued\r\n");
    asio::io_context io;
    using P = scripted<smtp::tls::none>;
    std::optional<smtp::session<P, smtp::state::greeted<false, false>>> g;
    std::vector<smtp::transaction_result> results;
    smtp::async_connect<P>(
        io.get_executor(), opts(),
        [&](smtp::error_code, auto c) {
            std::move(*c).async_ehlo([&](smtp::error_code, auto step) {
                g.emplace(std::move(step).value());
                g->async_sendmail("a@x.org", {"b@x.org"}, "Subject: x\r\n\r\nHello " + name + "\r\n",
                                  [&](smtp::error_code, smtp::transaction_result r) {
                                      results.push_back(std::move(r));
                                      g->async_sendmail(
                                          "a@x.org", {"b@x.org"},
                                          smtp::message(11).from({"", "a@x.org"}).to({"", "b@x.org"}).subject("built").text("Hello " + name + "\n"),
                                          [&](smtp::error_code, smtp::transaction_result r) {
                                              results.push_back(std::move(r));
                                              // A named string, gone before the operation reads
                                              // it: copied by the call.
                                              std::string named = "Subject: x\r\n\r\nHello " + name + "\r\n";
                                              g->async_sendmail("a@x.org", {"b@x.org"}, named,
                                                                [&](smtp::error_code, smtp::transaction_result r) {
                                                                    results.push_back(std::move(r));
                                                                });
                                              named.assign(named.size(), '#');
                                          });
                                      scribble(body.size());
                                  });
                scribble(body.size());
            });
        },
        s2);
    io.run();
    BOOST_REQUIRE(results.size() == 3u);
    for (const auto& r : results)
        BOOST_TEST(r.queued());
    BOOST_TEST(s2->done(), s2->log());
}

namespace {
/// A completion handler with state: a moved-from one has lost it.
BOOST_AUTO_TEST_CASE(an_asynchronous_login_owns_its_credentials)
{
    // LOGIN reads the user name and the password only when the server's
    // challenges come, after async_login has returned: the caller's strings
    // (temporaries here) are gone by then. The operation must have copied
    // them (under AddressSanitizer a view would be a heap-use-after-free;
    // anywhere, the script checks the bytes).
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250 AUTH LOGIN\r\n")
        .expect("AUTH LOGIN\r\n")
        .respond("334 VXNlcm5hbWU6\r\n")
        .expect("YWxpY2UtdGhlLWxvbmctdXNlci1uYW1lQGV4YW1wbGUub3Jn\r\n") // alice-the-long-user-name@example.org
        .respond("334 UGFzc3dvcmQ6\r\n")
        .expect("YS12ZXJ5LWxvbmctcGFzc3dvcmQtdGhhdC1pcy1ub3Qtc21hbGw=\r\n") // a-very-long-password-that-is-not-small
        .respond("235 ok\r\n");
    using P = scripted<smtp::tls::none, smtp::auth::allow_plaintext, smtp::auth::mechanisms<smtp::sasl::login>>;
    asio::io_context io;
    smtp::error_code result = smtp::errc::timeout;
    std::optional<smtp::session<P, smtp::state::greeted<false, true>>> done;
    smtp::async_connect<P>(
        io.get_executor(), opts(),
        [&](smtp::error_code, auto c) {
            std::move(*c).async_ehlo([&](smtp::error_code, auto g) {
                std::move(g).value().async_login(std::string("alice-the-long-user-name@example.org"),
                                                 std::string("a-very-long-password-that-is-not-small"),
                                                 [&](smtp::error_code ec, auto a) {
                                                     result = ec;
                                                     if (!ec)
                                                         done.emplace(std::move(a).value());
                                                 });
                // The strings above are destroyed here, before any challenge is read;
                // their memory is reused.
                std::string reuse(64, 'x');
                BOOST_TEST(reuse.size() == 64u);
            });
        },
        s);
    io.run();
    BOOST_TEST(result.message() == smtp::error_code{}.message());
    BOOST_TEST(done.has_value());
    BOOST_TEST(s->done(), s->log());
}

struct counting_handler {
    std::shared_ptr<int> calls = std::make_shared<int>(0);
    void operator()(smtp::error_code, smtp::transaction_result) const { ++*calls; }
};
} // namespace

BOOST_AUTO_TEST_CASE(a_named_handler_is_copied_never_moved_from)
{
    auto s = scripted_server::greeted(plain_ehlo);
    for (int i = 0; i < 2; ++i)
        s->expect("MAIL FROM:<a@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("RCPT TO:<b@x.org>\r\n")
            .respond("250 ok\r\n")
            .expect("DATA\r\n")
            .respond("354 go\r\n")
            .expect("m\r\n.\r\n")
            .respond("250 queued\r\n");
    asio::io_context io;
    using P = scripted<smtp::tls::none>;
    std::optional<smtp::session<P, smtp::state::greeted<false, false>>> g;
    counting_handler handler; // given by name to two operations
    smtp::async_connect<P>(
        io.get_executor(), opts(),
        [&](smtp::error_code, auto c) {
            std::move(*c).async_ehlo([&](smtp::error_code, auto step) {
                g.emplace(std::move(step).value());
                g->async_sendmail("a@x.org", {"b@x.org"}, "m", handler);
                BOOST_TEST(handler.calls != nullptr); // still ours: copied
            });
        },
        s);
    io.run();
    BOOST_REQUIRE(handler.calls != nullptr);
    BOOST_TEST(*handler.calls == 1);
    g->async_sendmail("a@x.org", {"b@x.org"}, "m", handler);
    BOOST_TEST(handler.calls != nullptr);
    io.restart();
    io.run();
    BOOST_TEST(*handler.calls == 2);
    BOOST_TEST(s->done(), s->log());
}

// Explicit template arguments cannot step around a rule: the unnamed pack in
// front of each member's own takes them.
template <class S>
concept login_as_if_encrypted = requires(S s) {
    std::move(s).template login<smtp::state::greeted<true, false>>("u", "p");
};
template <class S>
concept send_as_if_encrypted = requires(S s) {
    s.template sendmail<smtp::state::greeted<true, false>>("a@b.c", std::vector<std::string>{"d@e.f"}, "m");
};
using strict_in_clear = smtp::session<scripted<>, smtp::state::greeted<false, false>>;
static_assert(!login_as_if_encrypted<strict_in_clear> && !send_as_if_encrypted<strict_in_clear>);

BOOST_AUTO_TEST_CASE(the_pool_owns_its_messages)
{
    auto s = make_script();
    const std::string name(300, 'p');
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo)
        .expect("MAIL FROM:<a@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect("Subject: p\r\n\r\n" + name + "\r\n.\r\n")
        .respond("250 queued\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    asio::io_context io;
    smtp::pool<scripted<smtp::tls::none>> pool(io.get_executor(), opts(), {},
                                               [&](asio::any_io_executor ex) { return smtp::transport::scripted(ex, s); });
    bool queued = false;
    {
        std::string from = "a@x.org", to = "b@x.org", text = "Subject: p\r\n\r\n" + name + "\r\n";
        pool.async_send({from, {{to}}, text, {}}, [&](smtp::error_code, smtp::transaction_result r) { queued = r.queued(); });
    } // everything the caller had is gone before the pool runs
    scribble(name.size());
    pool.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    BOOST_TEST(queued);
    BOOST_TEST(s->done(), s->log());
}

// ---------------------------------------------------------------------------
// The policy concepts, met by minimal types of one's own.

namespace mine {
struct tls {
    using policy_category = smtp::tls_category;
    static constexpr bool offers_starttls = false, implicit_tls = false, clear_text_allowed = true;
};
struct check_certificates {
    using policy_category = smtp::verify_category;
    static constexpr bool verify = true;
};
struct plaintext {
    using policy_category = smtp::plaintext_auth_category;
    static constexpr bool allowed = true;
};
struct dialect {
    using policy_category = smtp::dialect_category;
    static constexpr bool per_recipient_replies = false;
};
/// Counts what it is told: read back through session::logger().
struct counter {
    using policy_category = smtp::log_category;
    static constexpr bool enabled = true;
    int sends = 0, replies = 0;
    void on_send(std::string_view, smtp::log::sent) { ++sends; }
    void on_reply(const smtp::reply_view&, bool) { ++replies; }
};
/// Not loggers: each lacks one thing the session uses.
struct no_enabled {
    using policy_category = smtp::log_category;
    void on_send(std::string_view, smtp::log::sent) {}
    void on_reply(const smtp::reply_view&, bool) {}
};
struct runtime_enabled {
    using policy_category = smtp::log_category;
    static inline bool enabled = true; // not a constant
    void on_send(std::string_view, smtp::log::sent) {}
    void on_reply(const smtp::reply_view&, bool) {}
};
struct wrong_category {
    using policy_category = smtp::tls_category;
    static constexpr bool enabled = true;
    void on_send(std::string_view, smtp::log::sent) {}
    void on_reply(const smtp::reply_view&, bool) {}
};
struct no_on_reply {
    using policy_category = smtp::log_category;
    static constexpr bool enabled = true;
    void on_send(std::string_view, smtp::log::sent) {}
};
struct tls_missing_a_flag {
    using policy_category = smtp::tls_category;
    static constexpr bool offers_starttls = false, implicit_tls = false;
};
} // namespace mine

static_assert(smtp::tls_policy<mine::tls> && smtp::verify_policy<mine::check_certificates> &&
              smtp::plaintext_auth_policy<mine::plaintext> && smtp::dialect_policy<mine::dialect> &&
              smtp::logger<mine::counter> && smtp::auth_policy<smtp::auth::mechanisms<smtp::sasl::plain>>);
static_assert(!smtp::logger<mine::no_enabled> && !smtp::logger<mine::runtime_enabled> &&
              !smtp::logger<mine::wrong_category> && !smtp::logger<mine::no_on_reply>);
static_assert(!smtp::tls_policy<mine::tls_missing_a_flag> && !smtp::tls_policy<mine::check_certificates> &&
              !smtp::auth_policy<mine::plaintext> && !smtp::dialect_policy<mine::tls>);
/// Not a transport: no cancel() (the session cancels a read at its deadline).
struct transport_without_cancel {
    using policy_category = smtp::transport_category;
    using executor_type = asio::any_io_executor;
    executor_type get_executor() { return {}; }
    bool encrypted() const noexcept { return false; }
    template <class H>
    void async_connect(const smtp::connect_options&, H&&) {}
    template <class H>
    void async_handshake(const smtp::connect_options&, bool, H&&) {}
    template <class H>
    void async_read_some(asio::mutable_buffer, H&&) {}
    template <class H>
    void async_write(asio::const_buffer, H&&) {}
    void close() {}
};
static_assert(!smtp::transport_policy<transport_without_cancel>);
static_assert(smtp::transport_policy<smtp::transport::tcp> && smtp::transport_policy<smtp::transport::scripted>);
// A stream policy runs under the TLS layer; a session transport is used as it is.
static_assert(std::is_same_v<smtp::policies<>::transport, smtp::transport::tls_layer<smtp::transport::tcp>>);
static_assert(std::is_same_v<smtp::policies<smtp::transport::scripted>::transport, smtp::transport::scripted>);
static_assert(smtp::transport::stream_transport<smtp::transport::tcp> && !smtp::transport::session_transport<smtp::transport::tcp>);
static_assert(smtp::transport::session_transport<smtp::transport::tls_layer<smtp::transport::tcp>>);
// Every built-in policy meets its kind's concept.
static_assert(smtp::tls_policy<smtp::tls::starttls> && smtp::tls_policy<smtp::tls::implicit> &&
              smtp::tls_policy<smtp::tls::opportunistic> && smtp::tls_policy<smtp::tls::none>);
static_assert(smtp::verify_policy<smtp::tls::verify_peer> && smtp::verify_policy<smtp::tls::insecure_no_verify>);
static_assert(smtp::auth_policy<smtp::auth::none> && smtp::auth_policy<smtp::auth::default_mechanisms>);
static_assert(smtp::plaintext_auth_policy<smtp::auth::require_tls> &&
              smtp::plaintext_auth_policy<smtp::auth::allow_plaintext>);
static_assert(smtp::logger<smtp::log::none> && smtp::logger<smtp::log::transcript> &&
              smtp::logger<smtp::log::callback>);
static_assert(smtp::dialect_policy<smtp::dialect::smtp> && smtp::dialect_policy<smtp::dialect::lmtp>);

BOOST_AUTO_TEST_CASE(minimal_policies_of_ones_own_make_a_working_session)
{
    using P = smtp::policies<smtp::transport::scripted, mine::tls, mine::check_certificates, mine::plaintext, mine::dialect,
                             mine::counter, smtp::auth::mechanisms<smtp::sasl::plain>>;
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo)
        .expect("AUTH PLAIN AHUAcA==\r\n")
        .respond("235 ok\r\n")
        .expect("MAIL FROM:<a@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n")
        .respond("250 ok\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 queued\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    auto a = std::move(smtp::connect<P>(opts(), mine::counter{}, s)).ehlo().login("u", "p");
    BOOST_TEST(a.sendmail("a@x.org", {"b@x.org"}, "hi").queued());
    // The session owns the logger and moved it along each transition:
    // its counts are read back here, no shared pointer needed.
    BOOST_TEST(a.logger().sends == 6);   // EHLO, AUTH, MAIL, RCPT, DATA, the message
    BOOST_TEST(a.logger().replies == 7); // the greeting and one reply to each
    a.logger().sends = 0;
    auto closed = std::move(a).quit();
    BOOST_TEST(closed.clean());
    BOOST_TEST(s->done(), s->log());
}

// ---------------------------------------------------------------------------
// In clear under tls::starttls: what compiles, and the three places that say so.

namespace {
template <class S>
concept can_ehlo = requires(S s) { std::move(s).ehlo(); };
template <class S>
concept can_starttls = requires(S s) { std::move(s).starttls(); };
template <class S>
concept can_rset = requires(S s) { std::move(s).rset(); };
template <class S>
concept can_noop = requires(S s) { s.noop(); };
template <class S>
concept can_help = requires(S s) { s.help(); };
template <class S>
concept can_quit = requires(S s) { std::move(s).quit(); };
template <class S>
concept can_login = requires(S s) { std::move(s).login("u", "p"); };
template <class S>
concept can_mail = requires(S s) { std::move(s).mail_from("a@b.c"); };
template <class S>
concept can_sendmail = requires(S s) { s.sendmail("a@b.c", {"d@e.f"}, "m"); };
template <class S>
concept can_send_message = requires(S s) { s.send_message("m"); };
template <class S>
concept can_verify = requires(S s) { s.verify("x"); };
template <class S>
concept can_expn = requires(S s) { s.expn("x"); };
template <class S>
concept can_docmd = requires(S s) { s.docmd("XFOO"); };

// Even with auth::allow_plaintext: that opt-in is for the TLS policies that allow clear text.
using in_clear = smtp::session<scripted<smtp::tls::starttls, smtp::auth::allow_plaintext>,
                               smtp::state::greeted<false, false>>;
using encrypted = smtp::session<scripted<smtp::tls::starttls, smtp::auth::allow_plaintext>,
                                smtp::state::greeted<true, false>>;
} // namespace

// The list: EHLO, STARTTLS, RSET, NOOP, HELP, QUIT.
static_assert(can_ehlo<in_clear> && can_starttls<in_clear> && can_rset<in_clear> && can_noop<in_clear> &&
              can_help<in_clear> && can_quit<in_clear>);
// Nothing else: no credentials, no mail, no address probes, no raw commands.
static_assert(!can_login<in_clear> && !can_mail<in_clear> && !can_sendmail<in_clear> &&
              !can_send_message<in_clear> && !can_verify<in_clear> && !can_expn<in_clear> && !can_docmd<in_clear>);
// After STARTTLS (and EHLO again) all of them.
static_assert(can_login<encrypted> && can_mail<encrypted> && can_sendmail<encrypted> && can_verify<encrypted> &&
              can_expn<encrypted> && can_docmd<encrypted>);
// With a TLS policy that allows clear text, the opt-in lets AUTH go in clear.
static_assert(can_login<smtp::session<scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext>,
                                      smtp::state::greeted<false, false>>>);
static_assert(!can_login<smtp::session<scripted<smtp::tls::opportunistic>, smtp::state::greeted<false, false>>>);

// The session rules' table (smtp/protocol/session_rules.hpp, which the pool
// reads at run time) is what the members' constraints say: in every state,
// under every TLS and AUTH policy, each member compiles exactly when the
// table allows its operation.
namespace {
template <class S>
concept can_rcpt = requires(S s) { std::move(s).rcpt_to("a@b.c"); };
template <class S>
concept can_data = requires(S s) { std::move(s).data("m"); };
template <class S>
concept can_bdat = requires(S s) { std::move(s).bdat("m"); };

template <class P, class St>
constexpr bool members_follow_the_table()
{
    using S = smtp::session<P, St>;
    using op = smtp::session_rules::operation;
    constexpr auto facts = smtp::detail::facts_of<St>();
    constexpr auto policy = smtp::detail::policy_facts_of<P>();
    auto allows = [&](op o) { return smtp::session_rules::allows(o, facts, policy); };
    return can_ehlo<S> == allows(op::ehlo) && can_starttls<S> == allows(op::starttls) &&
           can_login<S> == allows(op::login) && can_sendmail<S> == allows(op::sendmail) &&
           can_send_message<S> == allows(op::sendmail) && can_mail<S> == allows(op::mail_from) &&
           can_rcpt<S> == allows(op::rcpt_to) && can_data<S> == allows(op::data) && can_bdat<S> == allows(op::bdat) &&
           can_rset<S> == allows(op::rset) && can_verify<S> == allows(op::verify) &&
           can_expn<S> == allows(op::expn) && can_help<S> == allows(op::help) && can_noop<S> == allows(op::noop) &&
           can_docmd<S> == allows(op::docmd) && can_quit<S> == allows(op::quit);
}

template <class P>
constexpr bool every_state_follows_the_table()
{
    namespace st = smtp::state;
    return members_follow_the_table<P, st::connected<false>>() && members_follow_the_table<P, st::connected<true>>() &&
           members_follow_the_table<P, st::tls_started>() && members_follow_the_table<P, st::greeted<false, false>>() &&
           members_follow_the_table<P, st::greeted<true, false>>() &&
           members_follow_the_table<P, st::greeted<false, true>>() &&
           members_follow_the_table<P, st::greeted<true, true>>() && members_follow_the_table<P, st::mail<false, false>>() &&
           members_follow_the_table<P, st::mail<true, true>>() && members_follow_the_table<P, st::rcpt<false, false>>() &&
           members_follow_the_table<P, st::rcpt<true, true>>() && members_follow_the_table<P, st::closed>();
}
} // namespace

static_assert(every_state_follows_the_table<scripted<smtp::tls::starttls>>());
static_assert(every_state_follows_the_table<scripted<smtp::tls::starttls, smtp::auth::allow_plaintext>>());
static_assert(every_state_follows_the_table<scripted<smtp::tls::implicit>>());
static_assert(every_state_follows_the_table<scripted<smtp::tls::opportunistic>>());
static_assert(every_state_follows_the_table<scripted<smtp::tls::opportunistic, smtp::auth::allow_plaintext>>());
static_assert(every_state_follows_the_table<scripted<smtp::tls::none, smtp::auth::none>>());

BOOST_AUTO_TEST_CASE(the_docs_list_what_compiles_in_clear_as_the_code_does)
{
    // The sentence, as the static_asserts above have it, in each place that
    // lists the commands (comment markers and line breaks aside).
    const std::string sentence = "only EHLO, STARTTLS, RSET, NOOP, HELP and QUIT compile";
    const std::string root = std::string(SMTP_TEST_DATA) + "/../../";
    for (const char* file : {"include/smtp/tls.hpp", "include/smtp/session.hpp", "docs/policies.md"}) {
        std::ifstream in(root + file);
        BOOST_REQUIRE_MESSAGE(in, "cannot open " << root + file);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string text, word;
        for (std::istringstream words(ss.str()); words >> word;)
            if (word != "///" && word != "//")
                text += (text.empty() ? "" : " ") + word;
        BOOST_TEST(text.find(sentence) != std::string::npos, file << " does not say: " << sentence);
    }
}

// ---------------------------------------------------------------------------
// EXPN, HELP and docmd: the error_code forms.

BOOST_AUTO_TEST_CASE(expn_help_and_docmd_have_error_code_forms)
{
    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(plain_ehlo)
        .expect("EXPN staff\r\n")
        .respond("250-Ann <ann@x.org>\r\n250 Bob <bob@x.org>\r\n")
        .expect("EXPN nobody\r\n")
        .respond("550 5.1.1 no such list\r\n")
        .expect("HELP MAIL\r\n")
        .respond("214 MAIL FROM:<address>\r\n")
        .expect("XCLIENT ADDR=192.0.2.1\r\n")
        .respond("220 ok\r\n")
        .expect("XFOO\r\n")
        .respond("502 5.5.1 unknown\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = g.expn("staff", ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(r.server_reply.code().value() == 250u);
    BOOST_TEST(r.server_reply.line_count() == 2u);
    r = g.expn("nobody", ec, diag);
    BOOST_TEST(ec == errc::permanent_failure);
    BOOST_TEST(r.ec == errc::permanent_failure);
    BOOST_TEST(r.server_reply.code().value() == 550u);
    BOOST_REQUIRE(diag.server_reply().has_value());
    BOOST_TEST(diag.server_reply()->code().value() == 550u);
    r = g.help("MAIL", ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(r.server_reply.code().value() == 214u);
    r = g.docmd("XCLIENT", "ADDR=192.0.2.1", ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(r.server_reply.code().value() == 220u);
    r = g.docmd("XFOO", "", ec, diag);
    BOOST_TEST(ec == errc::permanent_failure);
    BOOST_TEST(r.server_reply.code().value() == 502u);
    // A state-changing verb is refused before a byte, in this form with a code.
    const auto before = s->written().size();
    r = g.docmd("mail", "FROM:<a@x.org>", ec, diag);
    BOOST_TEST(ec == errc::invalid_command_verb);
    BOOST_TEST(std::string(diag.field()).find("docmd") != std::string::npos);
    r = g.docmd("XFOO", "a\r\nRSET", ec, diag);
    BOOST_TEST(ec == errc::control_character);
    BOOST_TEST(s->written().size() == before);
    BOOST_CHECK_THROW(g.docmd("RSET"), std::invalid_argument);
    BOOST_TEST(s->done(), s->log());
}

// ---------------------------------------------------------------------------
// sendmail and send_message with a builder's message or a message_source.

namespace {
/// A source over bytes, rewindable, reading `piece` octets at a time.
smtp::message_source bytes_source(std::string bytes, std::size_t piece = 7)
{
    auto st = std::make_shared<std::pair<std::string, std::size_t>>(std::move(bytes), 0);
    return smtp::message_source{
        [st, piece](char* b, std::size_t n) {
            const std::size_t take = std::min({n, piece, st->first.size() - st->second});
            std::copy_n(st->first.data() + st->second, take, b);
            st->second += take;
            return take;
        },
        [st] {
            st->second = 0;
            return true;
        }};
}

const std::string pipelining_ehlo = "250-mx.example\r\n250 PIPELINING\r\n";
} // namespace

BOOST_AUTO_TEST_CASE(send_message_with_a_builder_message_keeps_bcc_out_of_the_headers)
{
    smtp::message m(3);
    m.from({"Ann", "a@x.org"}).to({"Bob", "b@x.org"}).cc({"", "c@x.org"}).bcc({"Hidden", "hidden@x.org"});
    m.subject("blind").text("Hello.\n");
    BOOST_TEST(m.envelope_from() == "a@x.org");
    BOOST_TEST(m.envelope_recipients() == (std::vector<std::string>{"b@x.org", "c@x.org", "hidden@x.org"}),
               boost::test_tools::per_element());
    const std::string bytes = m.to_string();
    BOOST_TEST(bytes.find("hidden") == std::string::npos);
    BOOST_TEST(bytes.find("Bcc") == std::string::npos);

    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(pipelining_ehlo)
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nRCPT TO:<c@x.org>\r\nRCPT TO:<hidden@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(bytes + ".\r\n")
        .respond("250 queued\r\n")
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<z@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(bytes + ".\r\n")
        .respond("250 queued\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    const auto r = g.send_message(m);
    BOOST_TEST(r.queued());
    BOOST_TEST(r.recipients.size() == 3u);
    BOOST_TEST(g.sendmail("a@x.org", {"z@x.org"}, m).queued()); // the envelope given, the message as built
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(send_message_and_sendmail_with_a_message_source)
{
    const std::string headers = "From: Ann <a@x.org>\r\nTo: b@x.org\r\nBcc: hidden@x.org,\r\n  other@x.org\r\n"
                                "Subject: from a source\r\n\r\n";
    std::string body;
    for (int i = 0; i < 3000; ++i) // past the header block's first read
        body += "line " + std::to_string(i) + "\r\n";
    const std::string without_bcc = "From: Ann <a@x.org>\r\nTo: b@x.org\r\nSubject: from a source\r\n\r\n" + body;

    auto s = make_script();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond(pipelining_ehlo)
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nRCPT TO:<hidden@x.org>\r\nRCPT TO:<other@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(without_bcc + ".\r\n")
        .respond("250 queued\r\n")
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<q@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(headers + body + ".\r\n")
        .respond("250 queued\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    auto source = bytes_source(headers + body, 4096);
    BOOST_TEST(g.send_message(source).queued());
    auto again = bytes_source(headers + body);
    BOOST_TEST(g.sendmail("a@x.org", {"q@x.org"}, again).queued()); // sent as it is: the envelope was given
    BOOST_TEST(s->done(), s->log());

    // Without a From (or Sender), there is no envelope sender: refused before a byte.
    auto s2 = make_script();
    s2->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond(pipelining_ehlo);
    auto g2 = std::move(smtp::connect<clear>(opts(), s2)).ehlo();
    auto anonymous = bytes_source("To: b@x.org\r\n\r\nhi\r\n");
    smtp::error_code ec;
    smtp::diagnostics diag;
    g2.send_message(anonymous, ec, diag);
    BOOST_TEST(ec == errc::empty_argument);
    BOOST_TEST(diag.field() == "From header");
    smtp::message nobody(1);
    nobody.to({"", "b@x.org"}).text("hi\n");
    g2.send_message(nobody, ec, diag);
    BOOST_TEST(ec == errc::empty_argument);
    BOOST_TEST(s2->done(), s2->log());
}

BOOST_AUTO_TEST_CASE(envelope_from_source_reads_the_header_block_only_and_says_when_it_cannot)
{
    // A Bcc line and the blank line cut by reads of 3 octets: still removed.
    const std::string headers = "From: a@x.org\r\nBcc: hidden@x.org\r\nTo: b@x.org\r\n\r\n";
    auto small = bytes_source(headers + "body\r\n", 3);
    smtp::error_code ec;
    auto env = smtp::envelope_from_source(small, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(env.from == "a@x.org");
    BOOST_TEST(env.recipients == (std::vector<std::string>{"hidden@x.org", "b@x.org"}), boost::test_tools::per_element());
    const auto read_all = [](smtp::message_source& m) {
        std::string all;
        char buf[5];
        while (const std::size_t n = m.read(buf, sizeof buf))
            all.append(buf, n);
        return all;
    };
    BOOST_TEST(read_all(env.message) == "From: a@x.org\r\nTo: b@x.org\r\n\r\nbody\r\n");
    BOOST_REQUIRE(env.message.rewind()); // the same bytes again
    BOOST_TEST(read_all(env.message) == "From: a@x.org\r\nTo: b@x.org\r\n\r\nbody\r\n");

    // Headers only, no blank line: the source ends, all of it is the header block.
    auto only = bytes_source("From: a@x.org\r\nTo: b@x.org\r\n");
    env = smtp::envelope_from_source(only, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(env.recipients.size() == 1u);

    // No end of the header block within the limit: refused, never cut (a cut
    // could send half a Bcc line).
    auto endless = bytes_source("From: a@x.org\r\nBcc: " + std::string(200, 'h') + "@x.org\r\nX: y\r\n\r\nbody");
    env = smtp::envelope_from_source(endless, ec, 64);
    BOOST_TEST(ec == errc::header_block_too_long);

    // No read function: a clear error, not std::bad_function_call.
    smtp::message_source none{};
    env = smtp::envelope_from_source(none, ec);
    BOOST_TEST(ec == errc::empty_argument);
}

BOOST_AUTO_TEST_CASE(a_builder_message_with_dsn_and_a_temporary_source_in_the_synchronous_forms)
{
    smtp::message m(9);
    m.from({"", "a@x.org"}).to({"", "b@x.org"}).subject("dsn").text("Hi.\n");
    const std::string bytes = m.to_string();
    const std::string raw = "From: a@x.org\r\nTo: c@x.org\r\nBcc: d@x.org\r\n\r\nhi\r\n";
    auto s = scripted_server::greeted("250-mx.example\r\n250-PIPELINING\r\n250 DSN\r\n");
    s->expect("MAIL FROM:<a@x.org> RET=HDRS\r\nRCPT TO:<b@x.org> NOTIFY=FAILURE,DELAY\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(bytes + ".\r\n")
        .respond("250 queued\r\n")
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<c@x.org>\r\nRCPT TO:<d@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("From: a@x.org\r\nTo: c@x.org\r\n\r\nhi\r\n.\r\n")
        .respond("250 queued\r\n")
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<e@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(raw + ".\r\n")
        .respond("250 queued\r\n");
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    const std::vector<smtp::recipient> to{{"b@x.org", smtp::dsn::notify::failure | smtp::dsn::notify::delay}};
    smtp::send_options o;
    o.ret = smtp::dsn::ret::headers;
    BOOST_TEST(g.sendmail("a@x.org", to, m, o).queued());
    // A source written in the call: the synchronous forms are done with it before they return.
    BOOST_TEST(g.send_message(bytes_source(raw)).queued());
    BOOST_TEST(g.sendmail("a@x.org", {"e@x.org"}, bytes_source(raw)).queued());
    BOOST_TEST(s->done(), s->log());
}

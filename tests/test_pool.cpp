// The asynchronous pool over the scripted transport: messages queued and
// sent, the bound on messages per session, a session that dies mid-stream
// (no message lost, none sent twice: not-sent ones go again on a new
// session, unknown ones never), the NOOP check of an idle session and the
// reconnection when the server closed it, connection failures.
#define BOOST_TEST_MODULE pool
#include <smtp/pool.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

using smtp::errc;
using smtp::transaction_outcome;
using script_ptr = std::shared_ptr<smtp::transport::script>;
using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;

namespace {

smtp::connect_options opts()
{
    smtp::connect_options o;
    o.local_name = "client.example";
    return o;
}

const std::string ehlo = "250-mx.example\r\n250 PIPELINING\r\n";

script_ptr session_script()
{
    auto s = std::make_shared<smtp::transport::script>();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond(ehlo);
    return s;
}

std::string group(const std::string& to) { return "MAIL FROM:<a@x.org>\r\nRCPT TO:<" + to + ">\r\nDATA\r\n"; }

smtp::outgoing_message msg(const std::string& to) { return {"a@x.org", {{to}}, "m-" + to, {}}; }

struct fixture {
    boost::asio::io_context io;
    std::deque<script_ptr> scripts;
    std::vector<script_ptr> used;
    std::vector<smtp::transaction_result> results;

    smtp::pool<P> make(smtp::pool_options po)
    {
        return smtp::pool<P>(io.get_executor(), opts(), po, [this](boost::asio::any_io_executor ex) {
            BOOST_REQUIRE_MESSAGE(!scripts.empty(), "the pool opened more sessions than scripted");
            used.push_back(scripts.front());
            scripts.pop_front();
            return smtp::transport::scripted(ex, used.back());
        });
    }
    void send(smtp::pool<P>& p, const std::string& to)
    {
        const std::size_t i = results.size();
        results.emplace_back();
        p.async_send(msg(to), [this, i](smtp::error_code ec, smtp::transaction_result r) {
            BOOST_TEST(ec == r.error);
            results[i] = std::move(r);
        });
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(messages_per_session_bound, fixture)
{
    // One session at a time, two messages each: three sessions for five
    // messages, each ending with QUIT.
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_messages_per_session = 2;
    po.max_batch = 1;
    for (int k = 0; k < 3; ++k) {
        auto s = session_script();
        const int n = k < 2 ? 2 : 1;
        for (int m = 0; m < n; ++m) {
            const std::string to = "r" + std::to_string(2 * k + m) + "@x.org";
            s->expect(group(to)).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-" + to + "\r\n.\r\n").respond(
                "250 queued\r\n");
        }
        s->expect("QUIT\r\n").respond("221 bye\r\n");
        scripts.push_back(s);
    }
    auto p = make(po);
    for (int i = 0; i < 5; ++i)
        send(p, "r" + std::to_string(i) + "@x.org");
    bool closed = false;
    p.async_close([&](smtp::error_code, smtp::pool_stats) { closed = true; });
    io.run();
    BOOST_TEST(closed);
    for (const auto& r : results)
        BOOST_TEST(r.queued());
    for (const auto& s : used)
        BOOST_TEST(s->done(), s->log());
    BOOST_TEST(p.stats().sessions_opened == 3u);
    BOOST_TEST(p.stats().most_sessions_open == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_session_dies_nothing_lost_nothing_twice, fixture)
{
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_batch = 1;
    po.retry.initial_backoff = std::chrono::milliseconds(0); // at once, so that r1 goes before r2
    // Session 1: r0 queued; r1's commands go out, the server vanishes: r1
    // was not sent and goes again on session 2.
    auto s1 = session_script();
    s1->expect(group("r0@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r0@x.org\r\n.\r\n").respond(
        "250 q0\r\n");
    s1->expect(group("r1@x.org")).close();
    // Session 2: r1 queued; r2's data goes out and the connection drops
    // before its reply: r2 is unknown and is not sent again.
    auto s2 = session_script();
    s2->expect(group("r1@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r1@x.org\r\n.\r\n").respond(
        "250 q1\r\n");
    s2->expect(group("r2@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r2@x.org\r\n.\r\n").close();
    // Session 3: r3.
    auto s3 = session_script();
    s3->expect(group("r3@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r3@x.org\r\n.\r\n").respond(
        "250 q3\r\n");
    s3->expect("QUIT\r\n").respond("221 bye\r\n");
    scripts = {s1, s2, s3};
    auto p = make(po);
    for (int i = 0; i < 4; ++i)
        send(p, "r" + std::to_string(i) + "@x.org");
    p.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    BOOST_TEST(results[0].queued());
    BOOST_TEST(results[1].queued());
    BOOST_TEST(results[1].final_reply.message() == "q1");
    BOOST_TEST(results[2].outcome == transaction_outcome::unknown);
    BOOST_TEST(results[2].error == errc::outcome_unknown);
    BOOST_TEST(results[3].queued());
    BOOST_TEST(p.stats().retried == 1u);
    BOOST_TEST(p.stats().sessions_dropped == 2u);
    for (const auto& s : used)
        BOOST_TEST(s->done(), s->log());
    // r1's data reached a server once, r2's once.
    std::size_t r1 = 0, r2 = 0;
    for (const auto& s : used) {
        r1 += s->written().find("m-r1@x.org") != std::string::npos;
        r2 += s->written().find("m-r2@x.org") != std::string::npos;
    }
    BOOST_TEST(r1 == 1u);
    BOOST_TEST(r2 == 1u);
}

BOOST_FIXTURE_TEST_CASE(idle_session_checked_with_noop_and_replaced, fixture)
{
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_batch = 1;
    po.idle_check = std::chrono::milliseconds(0); // every reuse is checked
    auto s1 = session_script();
    s1->expect(group("r0@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r0@x.org\r\n.\r\n").respond(
        "250 q0\r\n");
    s1->expect("NOOP\r\n").respond("250 ok\r\n");
    s1->expect(group("r1@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r1@x.org\r\n.\r\n").respond(
        "250 q1\r\n");
    s1->close(); // the server drops the idle connection: the NOOP finds out
    auto s2 = session_script();
    s2->expect(group("r2@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r2@x.org\r\n.\r\n").respond(
        "250 q2\r\n");
    s2->expect("QUIT\r\n").respond("221 bye\r\n");
    scripts = {s1, s2};
    auto p = make(po);
    // One after the other, so that the session is idle in between.
    send(p, "r0@x.org");
    io.run();
    io.restart();
    send(p, "r1@x.org");
    io.run();
    io.restart();
    send(p, "r2@x.org");
    p.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    for (const auto& r : results)
        BOOST_TEST(r.queued());
    BOOST_TEST(s1->written().find("NOOP\r\n") != std::string::npos);
    BOOST_TEST(p.stats().retried == 0u); // the NOOP failed, not a transaction
    BOOST_TEST(p.stats().sessions_dropped == 1u);
    for (const auto& s : used)
        BOOST_TEST(s->done(), s->log());
}

BOOST_FIXTURE_TEST_CASE(messages_fail_when_no_session_can_be_opened, fixture)
{
    smtp::pool_options po;
    po.max_sessions = 2;
    auto s1 = std::make_shared<smtp::transport::script>();
    s1->respond("554 5.3.2 go away\r\n");
    auto s2 = std::make_shared<smtp::transport::script>();
    s2->respond("554 5.3.2 go away\r\n");
    scripts = {s1, s2};
    auto p = make(po);
    send(p, "r0@x.org");
    send(p, "r1@x.org");
    io.run();
    for (const auto& r : results) {
        BOOST_TEST(r.outcome == transaction_outcome::not_sent);
        BOOST_TEST(r.error == errc::permanent_failure);
    }
    BOOST_TEST(p.stats().sessions_failed >= 1u);
}

BOOST_FIXTURE_TEST_CASE(several_messages_share_round_trips, fixture)
{
    // One session, three messages waiting: taken together, pipelined.
    smtp::pool_options po;
    po.max_sessions = 1;
    auto s = session_script();
    s->expect(group("r0@x.org"))
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m-r0@x.org\r\n.\r\n" + group("r1@x.org"))
        .respond("250 q0\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m-r1@x.org\r\n.\r\n" + group("r2@x.org"))
        .respond("250 q1\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m-r2@x.org\r\n.\r\n")
        .respond("250 q2\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    scripts = {s};
    auto p = make(po);
    for (int i = 0; i < 3; ++i)
        send(p, "r" + std::to_string(i) + "@x.org");
    p.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    for (const auto& r : results)
        BOOST_TEST(r.queued());
    BOOST_TEST(s->done(), s->log());
}

BOOST_FIXTURE_TEST_CASE(a_destroyed_pool_completes_every_message_it_took, fixture)
{
    // One session: r0's data goes out and the server never answers it; r1
    // waits for a session. Destroying the pool (an I/O object: what it took
    // ends with operation_aborted, as Asio's do) completes each handler
    // once: r0 unknown (its data went: never to be sent again), r1 not sent.
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_batch = 1;
    auto s = session_script();
    s->expect(group("r0@x.org")).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-r0@x.org\r\n.\r\n").stall();
    scripts.push_back(s);
    std::vector<int> calls(2, 0);
    std::vector<smtp::transaction_result> got(2);
    {
        auto p = make(po);
        for (std::size_t i = 0; i < 2; ++i)
            p.async_send(msg("r" + std::to_string(i) + "@x.org"),
                         [&, i](smtp::error_code ec, smtp::transaction_result r) {
                             BOOST_TEST(ec == r.error);
                             ++calls[i];
                             got[i] = std::move(r);
                         });
        io.poll(); // up to the server's silence after r0's data
        BOOST_REQUIRE(s->done());
        BOOST_REQUIRE(p.queued() == 1u);
        BOOST_TEST(calls[0] + calls[1] == 0);
    }
    io.restart();
    io.run();
    BOOST_TEST(calls[0] == 1);
    BOOST_TEST(calls[1] == 1);
    BOOST_TEST((got[0].outcome == transaction_outcome::unknown));
    BOOST_TEST(got[0].error == errc::outcome_unknown, got[0].error.message());
    BOOST_TEST((got[1].outcome == transaction_outcome::not_sent));
    BOOST_TEST(got[1].error == boost::asio::error::operation_aborted, got[1].error.message());
}

BOOST_FIXTURE_TEST_CASE(auth_in_clear_is_refused_by_the_session_rules, fixture)
{
    // tls::none and credentials, without auth::allow_plaintext: the rules
    // (smtp/protocol/session_rules.hpp, the table the typestate reads) forbid
    // AUTH in clear. The pool says so with errc::auth_in_clear (no STARTTLS
    // was ever asked for, so not starttls_not_offered), and no AUTH line, no
    // credential and no message goes out; the session, which still works, QUITs.
    smtp::pool_options po;
    po.max_sessions = 1;
    po.login = std::make_pair(std::string("user"), std::string("secret"));
    auto s = std::make_shared<smtp::transport::script>();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250-mx.example\r\n250 AUTH PLAIN\r\n");
    s->expect("QUIT\r\n").respond("221 bye\r\n");
    scripts.push_back(s);
    auto p = make(po);
    send(p, "r0@x.org");
    io.run();
    BOOST_TEST(s->done(), s->log());
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_TEST(results[0].error == errc::auth_in_clear);
    BOOST_TEST(results[0].outcome == transaction_outcome::not_sent);
    BOOST_TEST(p.stats().sessions_failed == 1u);
}

BOOST_AUTO_TEST_CASE(auth_in_clear_is_allowed_with_allow_plaintext)
{
    // The same session under auth::allow_plaintext: AUTH goes out, then the message.
    using PP = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext>;
    boost::asio::io_context io;
    auto s = std::make_shared<smtp::transport::script>();
    s->respond("220 mx\r\n").expect("EHLO client.example\r\n").respond("250-mx.example\r\n250 AUTH PLAIN\r\n");
    s->expect("AUTH PLAIN AHVzZXIAc2VjcmV0\r\n").respond("235 ok\r\n");
    s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 ok\r\n").expect("RCPT TO:<r0@x.org>\r\n").respond("250 ok\r\n");
    s->expect("DATA\r\n").respond("354 go\r\n").expect("m-r0@x.org\r\n.\r\n").respond("250 queued\r\n");
    smtp::pool_options po;
    po.max_sessions = 1;
    po.login = std::make_pair(std::string("user"), std::string("secret"));
    smtp::pool<PP> p(io.get_executor(), opts(), po,
                     [s](boost::asio::any_io_executor ex) { return smtp::transport::scripted(ex, s); });
    smtp::transaction_result result;
    p.async_send(msg("r0@x.org"), [&](smtp::error_code, smtp::transaction_result r) { result = std::move(r); });
    io.run();
    BOOST_TEST(result.queued(), result.error.message());
}

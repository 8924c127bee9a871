// The transaction engine inside the session, over the scripted transport:
// how commands are grouped into writes (RFC 2920), a stream of messages at
// one round trip each, LMTP as a policy, refusals before a byte is sent,
// the session left clean after every recipient is refused, the outcome of
// each message when the connection drops at every point, progress reports.
#define BOOST_TEST_MODULE session_transactions
#include <smtp/client.hpp>
#include <smtp/message_file.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using smtp::errc;
using smtp::transaction_outcome;
using script_ptr = std::shared_ptr<smtp::transport::script>;

namespace {

template <class... Ps>
using scripted = smtp::policies<smtp::transport::scripted, smtp::tls::none, Ps...>;

smtp::connect_options opts()
{
    smtp::connect_options o;
    o.local_name = "client.example";
    return o;
}

const std::string pipelining_ehlo = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";

script_ptr greeted_script(const std::string& ehlo = pipelining_ehlo)
{
    auto s = std::make_shared<smtp::transport::script>();
    s->respond("220 mx ready\r\n").expect("EHLO client.example\r\n").respond(ehlo);
    return s;
}

std::vector<std::string> after_ehlo(const smtp::transport::script& s)
{
    return {s.writes().begin() + 1, s.writes().end()};
}

/// A source over `body` (which must outlive it) that cannot be rewound.
smtp::message_source unrewindable(const std::string& body)
{
    smtp::message_source s;
    s.read = [&body, at = std::size_t{0}](char* buf, std::size_t n) mutable {
        const std::size_t k = std::min(n, body.size() - at);
        std::copy_n(body.data() + at, k, buf);
        at += k;
        return k;
    };
    return s;
}

smtp::outgoing_message msg(std::string from, std::string to, std::string body)
{
    return {std::move(from), {{std::move(to)}}, std::move(body), {}};
}

} // namespace

BOOST_AUTO_TEST_CASE(pipelined_sendmail_is_two_writes)
{
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nRCPT TO:<c@x.org>\r\nDATA\r\n")
        .respond("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 2.0.0 queued\r\n");
    std::ostringstream log;
    auto g = std::move(smtp::connect<scripted<smtp::log::transcript>>(opts(), smtp::log::transcript(log), s)).ehlo();
    const auto r = g.sendmail("a@x.org", {"b@x.org", "c@x.org"}, "hi\r\n");
    BOOST_TEST(s->done(), s->log());
    const std::vector<std::string> expected{
        "MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nRCPT TO:<c@x.org>\r\nDATA\r\n", "hi\r\n.\r\n"};
    BOOST_TEST(after_ehlo(*s) == expected, boost::test_tools::per_element());
    BOOST_TEST(r.queued());
    BOOST_TEST(r.refused().size() == 1u);
    BOOST_TEST(r.recipients[1].permanent());
    // The transcript shows the grouped write and every reply.
    BOOST_TEST(log.str().find("send: 'MAIL FROM:<a@x.org> SIZE=4\\r\\nRCPT TO:<b@x.org>") != std::string::npos);
    BOOST_TEST(log.str().find("data: (354, b'go')") != std::string::npos);
    BOOST_TEST(log.str().find("data: (250, b'2.0.0 queued')") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pipelining_off_by_option_is_lockstep)
{
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\n").respond("250 ok\r\n");
    s->expect("RCPT TO:<b@x.org>\r\n").respond("250 ok\r\n");
    s->expect("DATA\r\n").respond("354 go\r\n");
    s->expect("hi\r\n.\r\n").respond("250 queued\r\n");
    auto o = opts();
    o.transactions.pipelining = false;
    auto g = std::move(smtp::connect<scripted<>>(o, s)).ehlo();
    const auto r = g.sendmail("a@x.org", {"b@x.org"}, "hi\r\n");
    BOOST_TEST(r.queued());
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(after_ehlo(*s).size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_stream_of_messages_costs_one_round_trip_each)
{
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m1\r\n.\r\nMAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<c@x.org>\r\nDATA\r\n")
        .respond("250 q1\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m2\r\n.\r\nMAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<d@x.org>\r\nDATA\r\n")
        .respond("554 5.7.1 q2 refused\r\n250 ok\r\n550 no d\r\n554 no valid recipients\r\n")
        .expect("RSET\r\n")
        .respond("250 reset\r\n")
        .expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<e@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m4\r\n.\r\n")
        .respond("250 q4\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    const std::vector<smtp::outgoing_message> batch{msg("a@x.org", "b@x.org", "m1"), msg("a@x.org", "c@x.org", "m2"),
                                                    msg("a@x.org", "d@x.org", "m3"), msg("a@x.org", "e@x.org", "m4")};
    const auto rs = g.send_all(batch);
    BOOST_TEST(s->done(), s->log());
    BOOST_REQUIRE(rs.size() == 4u);
    BOOST_TEST(rs[0].queued());
    BOOST_TEST(rs[0].final_reply.message() == "q1");
    BOOST_TEST(rs[1].outcome == transaction_outcome::refused);
    BOOST_TEST(rs[1].error == errc::permanent_failure);
    BOOST_TEST(rs[2].outcome == transaction_outcome::refused);
    BOOST_TEST(rs[2].error == errc::all_recipients_refused);
    BOOST_TEST(rs[3].queued());
    // Five writes for four messages: the end of each message's data travels
    // with the next one's commands; only the RSET needs its own round trip.
    BOOST_TEST(after_ehlo(*s).size() == 6u);
}

BOOST_AUTO_TEST_CASE(a_message_refused_locally_does_not_stop_the_others)
{
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m1\r\n.\r\nMAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<d@x.org>\r\nDATA\r\n")
        .respond("250 q1\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("m3\r\n.\r\n")
        .respond("250 q3\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    const std::vector<smtp::outgoing_message> batch{msg("a@x.org", "b@x.org", "m1"),
                                                    msg("a@x.org", "c@x.org\r\nRSET", "m2"),
                                                    msg("a@x.org", "d@x.org", "m3")};
    const auto rs = g.send_all(batch);
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(rs[0].queued());
    BOOST_TEST(rs[1].outcome == transaction_outcome::not_sent);
    BOOST_TEST(rs[1].error == errc::control_character);
    BOOST_TEST(rs[2].queued());
}

BOOST_AUTO_TEST_CASE(a_failed_write_after_an_end_of_data_leaves_that_message_unknown)
{
    // Pipelined: message 1's end of data travels with message 2's commands.
    // When that write fails, the kernel may have taken message 1's final dot
    // before the failure (a write that fails moves no byte of its own, but
    // an earlier piece of the same write may have gone): message 1 is
    // unknown, never not_sent (sending it again could deliver it twice).
    // Message 2 never had its data out: not_sent.
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n").respond("250 ok\r\n250 ok\r\n354 go\r\n");
    // I/O steps: connect, greeting, EHLO, its reply, the first group, its
    // replies, then the write with m1's end of data (7).
    s->fail_at(7, boost::asio::error::connection_reset);
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    const std::vector<smtp::outgoing_message> batch{msg("a@x.org", "b@x.org", "m1"), msg("a@x.org", "c@x.org", "m2")};
    const auto rs = g.send_all(batch);
    BOOST_REQUIRE(s->writes().size() == 2u); // EHLO and the first group: the third write is the one that failed
    BOOST_TEST(s->operations() == 7u);
    BOOST_TEST(rs[0].outcome == transaction_outcome::unknown);
    BOOST_TEST(rs[0].error == errc::outcome_unknown);
    BOOST_TEST(rs[1].outcome == transaction_outcome::not_sent);
    BOOST_TEST(g.broken());
}

BOOST_AUTO_TEST_CASE(a_failed_write_that_ends_with_the_end_of_data_leaves_it_not_sent)
{
    // The end of data closes the write that failed: the failing write moved
    // no byte, so the server cannot have the whole message.
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n").respond("250 ok\r\n250 ok\r\n354 go\r\n");
    s->fail_at(7, boost::asio::error::connection_reset);
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    const std::vector<smtp::outgoing_message> batch{msg("a@x.org", "b@x.org", "m1")};
    const auto rs = g.send_all(batch);
    BOOST_REQUIRE(s->writes().size() == 2u);
    BOOST_TEST(rs[0].outcome == transaction_outcome::not_sent);
}

BOOST_AUTO_TEST_CASE(connection_dropped_at_every_point_of_a_stream)
{
    // Three messages; the server closes after k replies. Each message ends
    // queued, unknown (its data went out, its reply did not come) or not
    // sent, and never queued without its reply.
    const std::vector<std::string> replies{"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 q1\r\n",
                                           "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 q2\r\n"};
    for (std::size_t k = 0; k <= replies.size(); ++k) {
        auto s = greeted_script();
        std::size_t given = 0;
        auto give = [&](std::size_t n) {
            std::string out;
            for (std::size_t i = 0; i < n && given < k; ++i, ++given)
                out += replies[given];
            if (!out.empty())
                s->respond(out);
        };
        s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n");
        give(3);
        if (k >= 3) {
            s->expect("m1\r\n.\r\nMAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<c@x.org>\r\nDATA\r\n");
            give(4);
        }
        if (k >= 7) {
            s->expect("m2\r\n.\r\n");
            give(1);
        }
        if (k < replies.size())
            s->close();
        auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
        const std::vector<smtp::outgoing_message> batch{msg("a@x.org", "b@x.org", "m1"),
                                                        msg("a@x.org", "c@x.org", "m2")};
        const auto rs = g.send_all(batch);
        BOOST_TEST_CONTEXT("server closes after " << k << " replies")
        {
            BOOST_TEST(rs[0].outcome == (k >= 4 ? transaction_outcome::queued
                                         : k == 3 ? transaction_outcome::unknown
                                                  : transaction_outcome::not_sent));
            BOOST_TEST(rs[1].outcome == (k >= 8 ? transaction_outcome::queued
                                         : k == 7 ? transaction_outcome::unknown
                                                  : transaction_outcome::not_sent));
            if (k < replies.size())
                BOOST_TEST(g.broken());
            else
                BOOST_TEST(!g.broken());
            for (const auto& r : rs)
                BOOST_TEST((r.queued() == !r.error));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_recipient_refused_leaves_the_session_clean)
{
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n")
        .expect("RSET\r\n")
        .respond("250 reset\r\n")
        .expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<c@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 queued\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r1 = g.sendmail("a@x.org", {"b@x.org"}, "hi", ec, diag);
    BOOST_TEST(ec == errc::all_recipients_refused);
    BOOST_TEST(r1.refused().at("b@x.org").code() == 550);
    BOOST_TEST(!g.broken());
    const auto r2 = g.sendmail("a@x.org", {"c@x.org"}, "hi", ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(r2.queued());
    BOOST_TEST(s->done(), s->log());
    // And the throwing form says the same.
    auto s2 = greeted_script();
    s2->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n")
        .expect("RSET\r\n")
        .respond("250 reset\r\n");
    auto g2 = std::move(smtp::connect<scripted<>>(opts(), s2)).ehlo();
    BOOST_CHECK_EXCEPTION(g2.sendmail("a@x.org", {"b@x.org"}, "hi"), smtp::error_with_diagnostics,
                          [](const smtp::error_with_diagnostics& e) { return e.code() == errc::all_recipients_refused; });
}

BOOST_AUTO_TEST_CASE(refused_before_a_byte_is_sent)
{
    // SIZE 1000 and no SMTPUTF8, no DSN: each of these fails with nothing written after EHLO.
    auto s = greeted_script();
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    g.sendmail("a@x.org", {"b@x.org"}, std::string(1001, 'x'), ec, diag);
    BOOST_TEST(ec == errc::data_line_too_long);
    std::string big;
    for (int i = 0; i < 20; ++i)
        big += std::string(60, 'x') + "\r\n";
    auto r = g.sendmail("a@x.org", {"b@x.org"}, big, ec, diag);
    BOOST_TEST(ec == errc::message_too_large);
    BOOST_TEST(diag.field() == "message");
    BOOST_TEST(r.outcome == transaction_outcome::not_sent);
    g.sendmail("a@x.org", {"b\xC3\xA9@x.org"}, "hi", ec, diag);
    BOOST_TEST(ec == errc::smtputf8_not_offered);
    const std::vector<smtp::recipient> dsn{{"b@x.org", smtp::dsn::notify::success, {}}};
    g.sendmail("a@x.org", dsn, "hi", {}, ec, diag);
    BOOST_TEST(ec == errc::dsn_not_offered);
    smtp::send_options rt;
    rt.requiretls = true;
    const std::vector<smtp::recipient> one{{"b@x.org"}};
    g.sendmail("a@x.org", one, "hi", rt, ec, diag);
    BOOST_TEST(ec == errc::requiretls_without_tls);
    BOOST_TEST(s->writes().size() == 1u); // EHLO only
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(!g.broken());
}

BOOST_AUTO_TEST_CASE(chunking_sends_bdat)
{
    auto s = greeted_script("250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n");
    s->expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nBDAT 10 LAST\r\n.a\r\nb\r\nc\r\n")
        .respond("250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    const auto r = g.sendmail("a@x.org", {"b@x.org"}, ".a\nb\rc");
    BOOST_TEST(r.queued());
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(after_ehlo(*s).size() == 1u); // the whole transaction in one write

    auto s2 = greeted_script("250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n");
    s2->expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("..a\r\nb\r\nc\r\n.\r\n")
        .respond("250 queued\r\n");
    auto o = opts();
    o.transactions.chunking = false;
    auto g2 = std::move(smtp::connect<scripted<>>(o, s2)).ehlo();
    BOOST_TEST(g2.sendmail("a@x.org", {"b@x.org"}, ".a\nb\rc").queued());
    BOOST_TEST(s2->done(), s2->log());
}

BOOST_AUTO_TEST_CASE(lmtp_is_a_policy_of_the_same_client)
{
    auto s = std::make_shared<smtp::transport::script>();
    s->respond("220 lmtp ready\r\n")
        .expect("LHLO client.example\r\n")
        .respond("250-lmtp.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
        .expect("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nRCPT TO:<c@x.org>\r\nRCPT TO:<d@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n550 5.1.1 no c\r\n250 ok\r\n354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 2.0.0 b delivered\r\n452 4.2.2 d over quota\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    auto g = std::move(smtp::connect<scripted<smtp::dialect::lmtp>>(opts(), s)).ehlo();
    const auto r = g.sendmail("a@x.org", {"b@x.org", "c@x.org", "d@x.org"}, "hi");
    BOOST_TEST(r.queued());
    BOOST_TEST(r.recipients[0].delivery->message() == "2.0.0 b delivered");
    BOOST_TEST(r.recipients[1].permanent());
    BOOST_TEST(r.recipients[2].transient());
    BOOST_TEST(r.refused().size() == 2u);
    BOOST_TEST(std::move(g).quit().clean());
    BOOST_TEST(s->done(), s->log());

    // Step by step: data() reads one reply per accepted RCPT (RFC 2033
    // 4.2), so that NOOP after it reads its own; the refusal is the error.
    auto s3 = std::make_shared<smtp::transport::script>();
    s3->respond("220 lmtp\r\n")
        .expect("LHLO client.example\r\n")
        .respond("250 lmtp.example\r\n")
        .expect("MAIL FROM:<a@x.org>\r\n").respond("250 ok\r\n")
        .expect("RCPT TO:<b@x.org>\r\n").respond("250 ok\r\n")
        .expect("RCPT TO:<c@x.org>\r\n").respond("550 5.1.1 no c\r\n")
        .expect("RCPT TO:<d@x.org>\r\n").respond("250 ok\r\n")
        .expect("DATA\r\n").respond("354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 2.0.0 b delivered\r\n452 4.2.2 d over quota\r\n")
        .expect("NOOP\r\n").respond("250 2.0.0 noop\r\n")
        .expect("QUIT\r\n").respond("221 bye\r\n");
    auto g3 = std::move(smtp::connect<scripted<smtp::dialect::lmtp>>(opts(), s3)).ehlo();
    auto r1 = std::move(std::move(g3).mail_from("a@x.org")).rcpt_to("b@x.org");
    smtp::error_code ec3;
    smtp::diagnostics diag3;
    auto refused = std::move(r1).rcpt_to("c@x.org", {}, ec3, diag3);
    BOOST_TEST(ec3 == errc::permanent_failure);
    auto r3 = std::move(std::move(refused).recover()).rcpt_to("d@x.org");
    auto after = std::move(r3).data("hi\r\n", ec3, diag3);
    BOOST_TEST(ec3 == errc::transient_failure);
    BOOST_REQUIRE(diag3.server_reply().has_value());
    BOOST_TEST(diag3.server_reply()->code().value() == 452u);
    BOOST_TEST(after.noop().code().value() == 250u); // its own reply, not the 452
    BOOST_TEST(std::move(after).quit().clean());
    BOOST_TEST(s3->done(), s3->log());

    // No HELO fallback under LMTP: a refused LHLO is the error.
    auto s2 = std::make_shared<smtp::transport::script>();
    s2->respond("220 lmtp\r\n").expect("LHLO client.example\r\n").respond("500 what\r\n");
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto step = std::move(smtp::connect<scripted<smtp::dialect::lmtp>>(opts(), s2)).ehlo(ec, diag);
    BOOST_TEST(ec == errc::permanent_failure);
    BOOST_TEST(s2->done(), s2->log());
}

BOOST_AUTO_TEST_CASE(progress_reports_each_write_of_data)
{
    auto s = greeted_script();
    const std::string body(250, 'x'); // a 250-octet line; write_size 100 gives three pieces
    s->expect("MAIL FROM:<a@x.org> SIZE=252\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(body + "\r\n.\r\n")
        .respond("250 queued\r\n");
    auto o = opts();
    o.transactions.write_size = 100;
    auto g = std::move(smtp::connect<scripted<>>(o, s)).ehlo();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
    smtp::send_options so;
    so.progress = [&](std::uint64_t done, std::uint64_t total) { seen.emplace_back(done, total); };
    const std::vector<smtp::recipient> one{{"b@x.org"}};
    BOOST_TEST(g.sendmail("a@x.org", one, body, so).queued());
    BOOST_REQUIRE(!seen.empty());
    BOOST_TEST(seen.back().first == 252u);
    BOOST_TEST(seen.back().second == 252u);
    for (std::size_t i = 1; i < seen.size(); ++i)
        BOOST_TEST(seen[i].first > seen[i - 1].first);
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(a_421_mid_transaction_breaks_the_session)
{
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("421 4.3.2 shutting down\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r = g.sendmail("a@x.org", {"b@x.org"}, "hi", ec, diag);
    BOOST_TEST(ec == errc::transient_failure);
    BOOST_TEST(diag.server_reply()->code() == 421);
    BOOST_TEST(r.outcome == transaction_outcome::not_sent);
    BOOST_TEST(g.broken());
    g.noop(ec, diag);
    BOOST_TEST(ec == errc::session_broken);
}

BOOST_AUTO_TEST_CASE(requiretls_after_starttls)
{
    auto s = std::make_shared<smtp::transport::script>();
    s->respond("220 mx\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250 STARTTLS\r\n")
        .expect("STARTTLS\r\n")
        .respond("220 go ahead\r\n")
        .handshake()
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250-PIPELINING\r\n250 REQUIRETLS\r\n")
        .expect("MAIL FROM:<a@x.org> REQUIRETLS\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 queued\r\n");
    using tls = smtp::policies<smtp::transport::scripted>; // tls::starttls, required
    auto g = std::move(smtp::connect<tls>(opts(), s)).ehlo().starttls().ehlo();
    smtp::send_options o;
    o.requiretls = true;
    const std::vector<smtp::recipient> one{{"b@x.org"}};
    BOOST_TEST(g.sendmail("a@x.org", one, "hi", o).queued());
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(async_sendmail_with_callbacks)
{
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 queued\r\n");
    boost::asio::io_context io;
    using G = smtp::session<scripted<>, smtp::state::greeted<false, false>>;
    std::optional<G> g;
    const std::vector<std::string> to{"b@x.org"}, bad{"b@x.org\r\nRSET"};
    smtp::transaction_result r1, r2;
    smtp::error_code e1 = errc::timeout, e2;
    smtp::async_connect<scripted<>>(
        io.get_executor(), opts(),
        [&](smtp::error_code ec, auto c) {
            BOOST_REQUIRE(!ec);
            std::move(*c).async_ehlo([&](smtp::error_code, auto step) {
                g.emplace(std::move(step).value());
                // Refused here, before a byte: completes with the error, posted.
                g->async_sendmail("a@x.org", bad, "hi", [&](smtp::error_code ec2, smtp::transaction_result r) {
                    e2 = ec2;
                    r2 = std::move(r);
                    g->async_sendmail("a@x.org", to, "hi", [&](smtp::error_code ec1, smtp::transaction_result r) {
                        e1 = ec1;
                        r1 = std::move(r);
                    });
                });
            });
        },
        s);
    io.run();
    BOOST_TEST(!e1);
    BOOST_TEST(r1.queued());
    BOOST_TEST(e2 == errc::control_character);
    BOOST_TEST(r2.outcome == transaction_outcome::not_sent);
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(a_message_from_a_file)
{
    const auto path = std::filesystem::temp_directory_path() / "smtp-test-message.eml";
    {
        std::ofstream f(path, std::ios::binary);
        f << "Subject: file\n\n.dot\nbody";
    }
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> SIZE=29\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("Subject: file\r\n\r\n..dot\r\nbody\r\n.\r\n")
        .respond("250 queued\r\n");
    auto g = std::move(smtp::connect<scripted<>>(opts(), s)).ehlo();
    auto source = smtp::file_message(path.string());
    const std::vector<smtp::recipient> one{{"b@x.org"}};
    BOOST_TEST(g.sendmail("a@x.org", one, source).queued());
    BOOST_TEST(s->done(), s->log());
    std::filesystem::remove(path);
    BOOST_CHECK_THROW(smtp::file_message("/nonexistent/file.eml"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_stream_found_unsendable_midway_closes_without_end_of_data)
{
    // A source that cannot be rewound is checked as it goes; a line of 1,200
    // octets in its second piece stops it: no end of data, the connection
    // closed, so the server drops what it got.
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> BODY=8BITMIME\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n");
    auto o = opts();
    o.transactions.write_size = 9; // pieces of 9 octets, gathered into one write: all dropped
    auto g = std::move(smtp::connect<scripted<>>(o, s)).ehlo();
    const std::string body = "ok line\r\n" + std::string(1200, 'x') + "\r\n";
    smtp::message_source source = unrewindable(body);
    const std::vector<smtp::recipient> one{{"b@x.org"}};
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r = g.sendmail("a@x.org", one, source, {}, ec, diag);
    BOOST_TEST(ec == errc::data_line_too_long);
    BOOST_TEST(r.outcome == transaction_outcome::not_sent);
    BOOST_TEST(g.broken());
    BOOST_TEST(s->closed_by_client());
    BOOST_TEST(s->written().find("\r\n.\r\n") == std::string::npos);
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(a_stream_stopped_after_some_data_went_out)
{
    // 500 good lines, then one too long: the first write (pieces gathered up
    // to write_size + 4 KiB) has gone out when the bad line is found; the
    // connection is closed without an end of data.
    std::string body;
    for (int i = 0; i < 500; ++i)
        body += "ok line\r\n";
    const std::string good = body;
    body += std::string(1200, 'x') + "\r\n";
    auto s = greeted_script();
    s->expect("MAIL FROM:<a@x.org> BODY=8BITMIME\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect(good.substr(0, 4113));
    auto o = opts();
    o.transactions.write_size = 9;
    auto g = std::move(smtp::connect<scripted<>>(o, s)).ehlo();
    smtp::message_source source = unrewindable(body);
    const std::vector<smtp::recipient> one{{"b@x.org"}};
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r = g.sendmail("a@x.org", one, source, {}, ec, diag);
    BOOST_TEST(ec == errc::data_line_too_long);
    BOOST_TEST(r.outcome == transaction_outcome::not_sent);
    BOOST_TEST(s->closed_by_client());
    BOOST_TEST(s->written().find("\r\n.\r\n") == std::string::npos);
    BOOST_TEST(s->done(), s->log());
}

// Tests for the sans-I/O transaction engine (smtp/protocol/transaction.hpp):
// what goes on the wire and in which groups (RFC 2920 pipelining, lockstep,
// BDAT), how each reply lands in the transaction result, what is refused
// before a byte is written (SIZE, 8BITMIME, SMTPUTF8, DSN, REQUIRETLS), LMTP's
// per-recipient replies, and the outcome when the connection fails.
#define BOOST_TEST_MODULE transaction
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/protocol/transaction.hpp>

#include "test_offers.hpp"

#include <boost/test/unit_test.hpp>

#include <deque>
#include <optional>
#include <string>
#include <vector>

using smtp::errc;
using smtp::transaction;
using smtp::transaction_outcome;
namespace dsn = smtp::dsn;

namespace {

/// Runs a transaction against canned replies. Consecutive writes with no
/// read between them are one entry of `writes`: what one write() of the
/// client sends. When the replies run out, the connection "fails".
struct wire {
    std::vector<std::string> writes;
    std::deque<std::string> replies;
    smtp::error_code failure = errc::connection_closed;
    std::size_t reads = 0;

    void run(transaction& t)
    {
        std::string pending;
        for (int guard = 0; guard < 10000; ++guard) {
            const auto w = t.next();
            if (w == transaction::want::write) {
                t.write(pending);
                continue;
            }
            if (!pending.empty()) {
                writes.push_back(pending);
                pending.clear();
            }
            if (w == transaction::want::done)
                return;
            if (replies.empty()) {
                t.on_failure(failure);
                continue;
            }
            const std::string text = replies.front();
            replies.pop_front();
            smtp::reply_parser p;
            smtp::reply_view v;
            smtp::error_code ec;
            p.put(text, v, ec);
            BOOST_REQUIRE_MESSAGE(!ec, "bad canned reply: " << text);
            ++reads;
            t.on_reply(v);
        }
        BOOST_FAIL("the transaction did not end");
    }
};

test_offers plain_esmtp()
{
    return {};
}
test_offers pipelining()
{
    test_offers o;
    o.pipelining = true;
    return o;
}

std::vector<smtp::recipient> rcpts(std::initializer_list<const char*> a)
{
    std::vector<smtp::recipient> out;
    for (const char* x : a)
        out.push_back({x});
    return out;
}

const smtp::send_options no_options{};

} // namespace

// --- Pipelining ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(pipelined_group_then_data)
{
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "Subject: x\r\n\r\nhi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 2.1.0 ok\r\n", "250 2.1.5 ok\r\n", "550 5.1.1 no such user\r\n", "354 go\r\n",
                 "250 2.0.0 queued as X\r\n"};
    w.run(t);
    const std::vector<std::string> expected{
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
        "Subject: x\r\n\r\nhi\r\n.\r\n"};
    BOOST_TEST(w.writes == expected, boost::test_tools::per_element());
    BOOST_TEST(!t.error());
    const auto& r = t.result();
    BOOST_TEST(r.queued());
    BOOST_TEST(r.final_reply.code() == 250);
    BOOST_TEST(r.data_reply.code() == 354);
    BOOST_REQUIRE(r.recipients.size() == 2u);
    BOOST_TEST(r.recipients[0].accepted());
    BOOST_TEST(!r.recipients[1].accepted());
    BOOST_TEST(r.recipients[1].permanent());
    BOOST_TEST(r.recipients[1].rcpt_reply.status()->subject == 1);
    BOOST_TEST(r.accepted_count() == 1u);
    const auto refused = r.refused();
    BOOST_TEST(refused.size() == 1u);
    BOOST_TEST(refused.count("c@example.org") == 1u);
    BOOST_TEST(t.data_written() == t.size());
}

BOOST_AUTO_TEST_CASE(lockstep_without_pipelining)
{
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(plain_esmtp()), {});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "451 4.3.0 later\r\n", "354 go\r\n", "250 queued\r\n"};
    w.run(t);
    const std::vector<std::string> expected{"MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n",
                                            "RCPT TO:<c@example.org>\r\n", "DATA\r\n", "hi\r\n.\r\n"};
    BOOST_TEST(w.writes == expected, boost::test_tools::per_element());
    BOOST_TEST(t.result().queued());
    BOOST_TEST(t.result().recipients[1].transient());
}

BOOST_AUTO_TEST_CASE(pipelining_can_be_turned_off)
{
    const auto to = rcpts({"b@example.org"});
    smtp::transaction_settings s;
    s.pipelining = false;
    transaction t("a@example.org", to, "hi", no_options, caps(pipelining()), {}, s);
    BOOST_TEST(!t.pipelined());
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"};
    w.run(t);
    BOOST_TEST(w.writes.size() == 4u);
    BOOST_TEST(w.writes.back() == "hi\r\n.\r\n"); // the open last line gets its CRLF
}

BOOST_AUTO_TEST_CASE(all_refused_pipelined_data_refused_then_rset)
{
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 ok\r\n", "550 no\r\n", "450 busy\r\n", "554 5.5.1 no valid recipients\r\n", "250 reset\r\n"};
    w.run(t);
    BOOST_TEST(w.writes.size() == 2u);
    BOOST_TEST(w.writes[1] == "RSET\r\n"); // no message data, session clean
    BOOST_TEST(t.error() == errc::all_recipients_refused);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
    BOOST_TEST(t.result().refused().size() == 2u);
    BOOST_TEST(t.result().recipients[0].permanent());
    BOOST_TEST(t.result().recipients[1].transient());
    BOOST_TEST(w.replies.empty());
}

BOOST_AUTO_TEST_CASE(all_refused_but_data_accepted_sends_a_lone_dot)
{
    // RFC 2920 3.1: the client must check DATA's reply; after a 354 it
    // ends the data at once.
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "secret body\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 ok\r\n", "550 no\r\n", "354 go ahead anyway\r\n", "554 no recipients\r\n"};
    w.run(t);
    BOOST_REQUIRE(w.writes.size() == 2u);
    BOOST_TEST(w.writes[1] == ".\r\n");
    BOOST_TEST(t.error() == errc::all_recipients_refused);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
    BOOST_TEST(!t.data_complete());
}

BOOST_AUTO_TEST_CASE(all_refused_lockstep_rset_no_data)
{
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(plain_esmtp()), {});
    wire w;
    w.replies = {"250 ok\r\n", "550 no\r\n", "250 reset\r\n"};
    w.run(t);
    const std::vector<std::string> expected{"MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n", "RSET\r\n"};
    BOOST_TEST(w.writes == expected, boost::test_tools::per_element());
    BOOST_TEST(t.error() == errc::all_recipients_refused);
}

BOOST_AUTO_TEST_CASE(mail_refused_pipelined_reads_every_reply)
{
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"553 5.1.8 bad sender\r\n", "503 5.5.1 need MAIL\r\n", "503 5.5.1 need MAIL\r\n",
                 "503 5.5.1 need RCPT\r\n"};
    w.run(t);
    BOOST_TEST(w.writes.size() == 1u);
    BOOST_TEST(w.reads == 4u);
    BOOST_TEST(t.error() == errc::permanent_failure);
    BOOST_REQUIRE(t.diag().server_reply());
    BOOST_TEST(t.diag().server_reply()->code() == 553);
    BOOST_TEST(t.result().mail_reply.code() == 553);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
}

BOOST_AUTO_TEST_CASE(mail_refused_lockstep_stops)
{
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(plain_esmtp()), {});
    wire w;
    w.replies = {"451 4.3.0 try later\r\n"};
    w.run(t);
    BOOST_TEST(w.writes.size() == 1u);
    BOOST_TEST(t.error() == errc::transient_failure);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
}

BOOST_AUTO_TEST_CASE(data_refused_resets)
{
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "451 4.3.1 no space\r\n", "250 reset\r\n"};
    w.run(t);
    BOOST_TEST(w.writes.back() == "RSET\r\n");
    BOOST_TEST(t.error() == errc::transient_failure);
    BOOST_TEST(t.diag().server_reply()->code() == 451);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
    BOOST_TEST(!t.data_complete());
}

BOOST_AUTO_TEST_CASE(final_reply_refused)
{
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "554 5.7.1 spam\r\n"};
    w.run(t);
    BOOST_TEST(t.error() == errc::permanent_failure);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
    BOOST_TEST(t.result().final_reply.code() == 554);
    BOOST_TEST(w.writes.size() == 2u); // no RSET: the transaction is over
}

// --- Failures: what the outcome says -----------------------------------------------

BOOST_AUTO_TEST_CASE(connection_lost_before_the_data_is_not_sent)
{
    const auto to = rcpts({"b@example.org"});
    for (std::size_t cut = 0; cut < 3; ++cut) {
        transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
        wire w;
        const std::vector<std::string> all{"250 ok\r\n", "250 ok\r\n", "354 go\r\n"};
        w.replies.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(cut));
        w.run(t);
        BOOST_TEST(t.result().outcome == transaction_outcome::not_sent);
        BOOST_TEST(t.error() == errc::connection_closed);
        BOOST_TEST(!t.data_complete());
    }
}

BOOST_AUTO_TEST_CASE(connection_lost_after_the_final_dot_is_unknown)
{
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "354 go\r\n"};
    w.failure = errc::timeout;
    w.run(t);
    BOOST_TEST(t.data_complete());
    BOOST_TEST(t.result().outcome == transaction_outcome::unknown);
    BOOST_TEST(t.error() == errc::outcome_unknown);
}

BOOST_AUTO_TEST_CASE(a_421_ends_the_transaction_unsent)
{
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 ok\r\n", "421 4.3.2 shutting down\r\n"};
    w.run(t);
    BOOST_TEST(t.server_closing());
    BOOST_TEST(t.result().outcome == transaction_outcome::not_sent);
    BOOST_TEST(t.error() == errc::transient_failure);
    BOOST_TEST(t.diag().server_reply()->code() == 421);
    BOOST_TEST(w.reads == 2u);
}

BOOST_AUTO_TEST_CASE(a_421_to_the_final_dot_is_a_refusal)
{
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "421 4.3.2 bye\r\n"};
    w.run(t);
    BOOST_TEST(t.server_closing());
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
    BOOST_TEST(t.error() == errc::transient_failure);
}

// --- What the message and the options need ------------------------------------

BOOST_AUTO_TEST_CASE(size_is_declared_and_checked_before_sending)
{
    test_offers o = pipelining();
    o.size = true;
    o.size_limit = 100;
    const auto to = rcpts({"b@example.org"});
    const std::string body = "line one\n.dot\r\nend"; // 8+2 + 4+2 + 3+2 = 21 after CRLF, no stuffing counted
    transaction t("a@example.org", to, body, no_options, caps(o), {});
    BOOST_TEST(!t.error());
    BOOST_TEST(t.size() == 21u);
    std::string out;
    t.write(out);
    BOOST_TEST(out.find("MAIL FROM:<a@example.org> SIZE=21\r\n") == 0u);

    const std::string big(101, 'x');
    transaction t2("a@example.org", to, big, no_options, caps(o), {});
    BOOST_TEST(t2.error() == errc::message_too_large);
    BOOST_TEST(t2.diag().field() == "message");
    BOOST_TEST((t2.next() == transaction::want::done));
    BOOST_TEST(t2.result().outcome == transaction_outcome::not_sent);

    o.size_limit.reset(); // "SIZE" alone: no limit
    transaction t3("a@example.org", to, big, no_options, caps(o), {});
    BOOST_TEST(!t3.error());
}

BOOST_AUTO_TEST_CASE(eight_bit_needs_8bitmime)
{
    const auto to = rcpts({"b@example.org"});
    const std::string body = "Subject: x\r\n\r\ncaf\xC3\xA9\r\n";
    transaction t("a@example.org", to, body, no_options, caps(pipelining()), {});
    BOOST_TEST(t.error() == errc::eightbitmime_not_offered);

    test_offers o = pipelining();
    o.eightbitmime = true;
    transaction t2("a@example.org", to, body, no_options, caps(o), {});
    BOOST_TEST(!t2.error());
    std::string out;
    t2.write(out);
    BOOST_TEST(out.find("MAIL FROM:<a@example.org> BODY=8BITMIME\r\n") == 0u);

    transaction t3("a@example.org", to, "Subject: x\r\n\r\nplain\r\n", no_options, caps(o), {});
    out.clear();
    t3.write(out);
    BOOST_TEST(out.find("MAIL FROM:<a@example.org>\r\n") == 0u); // 7-bit: nothing declared
}

BOOST_AUTO_TEST_CASE(utf8_addresses_and_headers_need_smtputf8)
{
    test_offers o = pipelining();
    o.eightbitmime = true;
    const auto to = rcpts({"j\xC3\xB6rg@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(o), {});
    BOOST_TEST(t.error() == errc::smtputf8_not_offered);
    BOOST_TEST(t.diag().field() == "address");

    const auto ascii = rcpts({"b@example.org"});
    transaction t2("a@example.org", ascii, "Subject: gr\xC3\xBC\xC3\x9F" "e\r\n\r\nhi\r\n", no_options, caps(o), {});
    BOOST_TEST(t2.error() == errc::smtputf8_not_offered);
    BOOST_TEST(t2.diag().field() == "message headers");

    o.smtputf8 = true;
    transaction t3("a@example.org", to, "hi\r\n", no_options, caps(o), {});
    BOOST_TEST(!t3.error());
    std::string out;
    t3.write(out);
    BOOST_TEST(out.find("MAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<j\xC3\xB6rg@example.org>\r\n") == 0u);

    const auto bad = rcpts({"j\xC3@example.org"}); // not UTF-8
    transaction t4("a@example.org", bad, "hi\r\n", no_options, caps(o), {});
    BOOST_TEST(t4.error() == errc::invalid_utf8);
}

BOOST_AUTO_TEST_CASE(dsn_parameters)
{
    test_offers o = pipelining();
    std::vector<smtp::recipient> to{{"b@example.org", dsn::notify::success | dsn::notify::failure, "B+x=y@example.org"},
                                    {"c@example.org", dsn::notify::never, {}},
                                    {"d@example.org"}};
    smtp::send_options opts;
    opts.ret = dsn::ret::headers;
    opts.envid = "id 1+2";
    transaction t("a@example.org", to, "hi\r\n", opts, caps(o), {});
    BOOST_TEST(t.error() == errc::dsn_not_offered);

    o.dsn = true;
    transaction t2("a@example.org", to, "hi\r\n", opts, caps(o), {});
    BOOST_REQUIRE(!t2.error());
    std::string out;
    t2.write(out);
    BOOST_TEST(out == "MAIL FROM:<a@example.org> RET=HDRS ENVID=id+201+2B2\r\n"
                      "RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B+2Bx+3Dy@example.org\r\n"
                      "RCPT TO:<c@example.org> NOTIFY=NEVER\r\n"
                      "RCPT TO:<d@example.org>\r\n"
                      "DATA\r\n");

    std::vector<smtp::recipient> bad{{"b@example.org", dsn::notify::never | dsn::notify::success, {}}};
    transaction t3("a@example.org", bad, "hi\r\n", no_options, caps(o), {});
    BOOST_TEST(t3.error() == errc::invalid_parameter_value);
    BOOST_TEST(t3.diag().field() == "NOTIFY");

    smtp::send_options long_id;
    long_id.envid = std::string(101, 'x');
    transaction t4("a@example.org", rcpts({"b@example.org"}), "hi\r\n", long_id, caps(o), {});
    BOOST_TEST(t4.error() == errc::invalid_parameter_value);

    o.smtputf8 = true;
    std::vector<smtp::recipient> intl{{"b@example.org", dsn::notify::unset, "\xC3\xA9l\xC3\xA8ve@example.org"}};
    transaction t5("a@example.org", intl, "hi\r\n", no_options, caps(o), {});
    BOOST_REQUIRE(!t5.error());
    out.clear();
    t5.write(out);
    BOOST_TEST(out.find("ORCPT=utf-8;\\x{E9}l\\x{E8}ve@example.org\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(requiretls_needs_tls_and_the_extension)
{
    const auto to = rcpts({"b@example.org"});
    smtp::send_options opts;
    opts.requiretls = true;
    test_offers o = pipelining();
    o.requiretls = true;
    transaction t("a@example.org", to, "hi\r\n", opts, caps(o), {false, false});
    BOOST_TEST(t.error() == errc::requiretls_without_tls);
    transaction t2("a@example.org", to, "hi\r\n", opts, caps(pipelining()), {true, false});
    BOOST_TEST(t2.error() == errc::requiretls_not_offered);
    transaction t3("a@example.org", to, "hi\r\n", opts, caps(o), {true, false});
    BOOST_REQUIRE(!t3.error());
    std::string out;
    t3.write(out);
    BOOST_TEST(out.find("MAIL FROM:<a@example.org> REQUIRETLS\r\n") == 0u);
}

BOOST_AUTO_TEST_CASE(bad_input_refused_before_anything_is_written)
{
    test_offers o = pipelining();
    struct bad_case {
        const char* from;
        const char* to;
        std::string body;
        errc expected;
        const char* field;
    };
    const std::vector<bad_case> cases{
        {"a@example.org\r\nRSET", "b@example.org", "hi", errc::control_character, "MAIL FROM address"},
        {"a@example.org", "b@example.org\r\nDATA", "hi", errc::control_character, "RCPT TO address"},
        {"a@example.org", "b<c@example.org", "hi", errc::angle_bracket_in_address, "RCPT TO address"},
        {"a@example.org", "b@example.org", std::string(999, 'x'), errc::data_line_too_long, "message"},
    };
    for (const auto& c : cases) {
        const auto to = rcpts({c.to});
        transaction t(c.from, to, c.body, no_options, caps(o), {});
        BOOST_TEST(t.error() == c.expected);
        BOOST_TEST(t.diag().field() == c.field);
        BOOST_TEST((t.next() == transaction::want::done));
    }
    transaction none("a@example.org", {}, "hi", no_options, caps(o), {});
    BOOST_TEST(none.error() == errc::empty_argument);

    smtp::transaction_settings strict;
    strict.data.bare_line_endings = smtp::line_endings::reject;
    const auto to = rcpts({"b@example.org"});
    transaction lf("a@example.org", to, "a\nb\r\n", no_options, caps(o), {}, strict);
    BOOST_TEST(lf.error() == errc::data_bare_lf);
    transaction cr("a@example.org", to, "a\rb\r\n", no_options, caps(o), {}, strict);
    BOOST_TEST(cr.error() == errc::data_bare_cr);
}

BOOST_AUTO_TEST_CASE(data_is_dot_stuffed_in_pieces)
{
    const auto to = rcpts({"b@example.org"});
    smtp::transaction_settings s;
    s.write_size = 7; // many pieces: the stuffing state crosses them
    const std::string body = ".a\n..b\r\n.\r\nc\r.\r\n.";
    transaction t("a@example.org", to, body, no_options, caps(pipelining()), {}, s);
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"};
    w.run(t);
    BOOST_REQUIRE(w.writes.size() == 2u);
    BOOST_TEST(w.writes[1] == "..a\r\n...b\r\n..\r\nc\r\n..\r\n..\r\n.\r\n");
    BOOST_TEST(t.result().queued());
}

// --- CHUNKING ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(bdat_pipelined_travels_with_the_commands)
{
    test_offers o = pipelining();
    o.chunking = true;
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "a\n.b\r\n", no_options, caps(o), {});
    BOOST_TEST(t.uses_bdat());
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "250 2.0.0 queued\r\n"};
    w.run(t);
    const std::vector<std::string> expected{
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 7 LAST\r\na\r\n.b\r\n"};
    BOOST_TEST(w.writes == expected, boost::test_tools::per_element());
    BOOST_TEST(t.result().queued());
    BOOST_TEST(t.result().final_reply.code() == 250);
}

BOOST_AUTO_TEST_CASE(bdat_chunks_pipelined_and_lockstep)
{
    test_offers o = pipelining();
    o.chunking = true;
    smtp::transaction_settings s;
    s.chunk_size = 4;
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "0123456789", no_options, caps(o), {}, s);
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "250 c1\r\n", "250 c2\r\n", "250 done\r\n"};
    w.run(t);
    BOOST_REQUIRE(w.writes.size() == 1u); // every chunk without waiting
    BOOST_TEST(w.writes[0] == "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
                              "BDAT 4\r\n0123BDAT 4\r\n4567BDAT 4 LAST\r\n89\r\n");
    BOOST_TEST(t.result().queued());

    o.pipelining = false;
    transaction l("a@example.org", to, "0123456789", no_options, caps(o), {}, s);
    wire w2;
    w2.replies = {"250 ok\r\n", "250 ok\r\n", "250 c1\r\n", "250 c2\r\n", "250 done\r\n"};
    w2.run(l);
    const std::vector<std::string> expected{"MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n",
                                            "BDAT 4\r\n0123", "BDAT 4\r\n4567", "BDAT 4 LAST\r\n89\r\n"};
    BOOST_TEST(w2.writes == expected, boost::test_tools::per_element());
    BOOST_TEST(l.result().queued());
}

BOOST_AUTO_TEST_CASE(bdat_refused_chunk_resets)
{
    test_offers o = pipelining();
    o.chunking = true;
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(o), {});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "552 5.3.4 too big\r\n", "250 reset\r\n"};
    w.run(t);
    BOOST_TEST(w.writes.back() == "RSET\r\n");
    BOOST_TEST(t.error() == errc::permanent_failure);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);

    // Every recipient refused: the server discards the chunk, the client resets.
    transaction t2("a@example.org", to, "hi\r\n", no_options, caps(o), {});
    wire w2;
    w2.replies = {"250 ok\r\n", "550 no\r\n", "554 no valid recipients\r\n", "250 reset\r\n"};
    w2.run(t2);
    BOOST_TEST(t2.error() == errc::all_recipients_refused);
    BOOST_TEST(w2.writes.back() == "RSET\r\n");
}

BOOST_AUTO_TEST_CASE(binarymime_sends_the_bytes_as_they_are)
{
    test_offers o = pipelining();
    o.chunking = true;
    smtp::send_options opts;
    opts.body = smtp::body_type::binary;
    const auto to = rcpts({"b@example.org"});
    const std::string body("a\nb\r\x00\xFF", 6);
    transaction no("a@example.org", to, body, opts, caps(o), {});
    BOOST_TEST(no.error() == errc::binarymime_not_offered);
    o.binarymime = true;
    transaction t("a@example.org", to, body, opts, caps(o), {});
    BOOST_REQUIRE(!t.error());
    std::string out;
    while (t.next() == transaction::want::write)
        t.write(out);
    BOOST_TEST(out == "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\nRCPT TO:<b@example.org>\r\nBDAT 6 LAST\r\n" + body);
}

// --- LMTP -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(lmtp_one_reply_per_accepted_recipient)
{
    const auto to = rcpts({"b@example.org", "c@example.org", "d@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {false, true});
    wire w;
    w.replies = {"250 ok\r\n",     "250 ok\r\n",          "550 unknown\r\n",  "250 ok\r\n", "354 go\r\n",
                 "250 2.0.0 b ok\r\n", "452 4.2.2 d full\r\n"};
    w.run(t);
    BOOST_TEST(w.replies.empty());
    const auto& r = t.result();
    BOOST_TEST(r.queued());
    BOOST_TEST(!t.error());
    BOOST_TEST(r.recipients[0].accepted());
    BOOST_REQUIRE(r.recipients[0].delivery);
    BOOST_TEST(r.recipients[0].delivery->code() == 250);
    BOOST_TEST(!r.recipients[1].delivery); // refused at RCPT
    BOOST_TEST(r.recipients[1].permanent());
    BOOST_TEST(r.recipients[2].transient()); // accepted at RCPT, failed at delivery
    BOOST_TEST(r.recipients[2].decisive().code() == 452);
    BOOST_TEST(r.refused().size() == 2u);

    // A copy of the result has its own delivery replies (optional_reply
    // copies what it points to), and an entry stays a pointer's size.
    smtp::transaction_result copy = r;
    BOOST_REQUIRE(copy.recipients[0].delivery);
    BOOST_TEST(&*copy.recipients[0].delivery != &*r.recipients[0].delivery);
    BOOST_TEST(copy.recipients[0].delivery->raw() == r.recipients[0].delivery->raw());
    BOOST_TEST(!copy.recipients[1].delivery);
    copy.recipients[0].delivery = std::nullopt;
    BOOST_TEST(!copy.recipients[0].delivery.has_value());
    BOOST_TEST(r.recipients[0].delivery.has_value());
    BOOST_TEST(r.recipients[0].delivery.value().code() == 250);
    BOOST_CHECK_THROW(copy.recipients[0].delivery.value(), std::bad_optional_access);
    static_assert(sizeof(smtp::optional_reply) == sizeof(void*));
}

BOOST_AUTO_TEST_CASE(lmtp_every_delivery_failed)
{
    const auto to = rcpts({"b@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {false, true});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "552 full\r\n"};
    w.run(t);
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
    BOOST_TEST(t.error() == errc::all_recipients_refused);
}

BOOST_AUTO_TEST_CASE(lmtp_connection_lost_between_recipient_replies)
{
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {false, true});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 b delivered\r\n"};
    w.run(t);
    BOOST_TEST(t.result().outcome == transaction_outcome::unknown);
    BOOST_TEST(t.error() == errc::outcome_unknown);
    BOOST_TEST(t.result().recipients[0].delivery.has_value());
    BOOST_TEST(!t.result().recipients[1].delivery.has_value());
}

BOOST_AUTO_TEST_CASE(lmtp_with_bdat)
{
    test_offers o = pipelining();
    o.chunking = true;
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(o), {false, true});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "250 b ok\r\n", "550 c gone\r\n"};
    w.run(t);
    BOOST_TEST(w.replies.empty());
    BOOST_TEST(t.result().queued());
    BOOST_TEST(t.result().recipients[0].accepted());
    BOOST_TEST(t.result().recipients[1].permanent());
}

// --- Helpers -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(message_facts_and_normalizer)
{
    const auto f = smtp::scan_message("A: \xC3\xA9\r\n\r\nbody\nx\ry");
    BOOST_TEST(f.eight_bit);
    BOOST_TEST(f.eight_bit_headers);
    BOOST_TEST(f.size == 5u + 2 + 2 + 4 + 2 + 1 + 2 + 1 + 2);
    BOOST_TEST(f.first_bare_lf == 13u);
    BOOST_TEST(f.first_bare_cr == 15u);
    const auto g = smtp::scan_message("A: b\r\n\r\nbody \xC3\xA9\r\n");
    BOOST_TEST(g.eight_bit);
    BOOST_TEST(!g.eight_bit_headers);
    BOOST_TEST(smtp::scan_message("").size == 0u);

    // The normalizer, cut at every point, agrees with the size.
    const std::string m = "a\r\nb\nc\rd\r";
    for (std::size_t cut = 0; cut <= m.size(); ++cut) {
        smtp::line_end_normalizer n;
        std::string out;
        n.put(std::string_view(m).substr(0, cut), out);
        n.put(std::string_view(m).substr(cut), out);
        n.finish(out);
        BOOST_TEST(out == "a\r\nb\r\nc\r\nd\r\n");
        BOOST_TEST(out.size() == smtp::scan_message(m).size);
    }
}

BOOST_AUTO_TEST_CASE(offers_from_a_real_ehlo)
{
    // Postfix's smtp-sink (tests/data/ehlo/smtp-sink_ehlo.txt).
    const std::string ehlo = "250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
                             "250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 SIZE 1000\r\n";
    smtp::reply_parser p;
    smtp::reply_view v;
    smtp::error_code ec;
    p.put(ehlo, v, ec);
    BOOST_REQUIRE(!ec);
    const auto caps = smtp::capabilities::from_ehlo(v, ec);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(caps.has<smtp::ext::pipelining>());
    BOOST_TEST(caps.has<smtp::ext::dsn>());
    BOOST_TEST(caps.has<smtp::ext::eightbitmime>());
    BOOST_TEST(!caps.has<smtp::ext::chunking>());
    BOOST_TEST(*caps.size_limit() == 1000u);
    const auto to = rcpts({"b@example.org"});
    std::string big;
    for (int i = 0; i < 30; ++i)
        big += std::string(70, 'x') + "\r\n";
    transaction t("a@example.org", to, big, no_options, caps, {});
    BOOST_TEST(t.error() == errc::message_too_large);
}

// --- Messages read from a source -------------------------------------------------

namespace {
/// A source over a string, giving at most `step` octets a read.
struct string_source {
    std::string data;
    std::size_t at = 0, step = 7;
    bool can_rewind = true;
    smtp::message_source make()
    {
        smtp::message_source s;
        s.read = [this](char* buf, std::size_t n) {
            const std::size_t k = std::min({n, step, data.size() - at});
            std::copy_n(data.data() + at, k, buf);
            at += k;
            return k;
        };
        if (can_rewind)
            s.rewind = [this] { return at = 0, true; };
        return s;
    }
};

std::string drive(transaction& t, std::initializer_list<const char*> replies)
{
    std::string out;
    smtp::reply_parser p;
    auto it = replies.begin();
    while (t.next() != transaction::want::done) {
        if (t.next() == transaction::want::write) {
            t.write(out);
            continue;
        }
        if (it == replies.end()) {
            t.on_failure(errc::connection_closed);
            break;
        }
        smtp::reply_view v;
        smtp::error_code ec;
        p.put(*it++, v, ec);
        t.on_reply(v);
    }
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(scanner_gives_the_same_facts_at_every_split)
{
    const std::vector<std::string> messages{"A: \xC3\xA9\r\n\r\nbody\nx\ry", "a\r\n\r\n", "\r", "\n\r\n\r", "x\r\r\n",
                                            std::string(1200, 'z') + "\r\nend", "H: v\r\n\r\n\xC3\xA9\r\n"};
    for (const auto& m : messages) {
        const auto whole = smtp::scan_message(m);
        for (std::size_t cut = 0; cut <= m.size(); ++cut) {
            smtp::message_scanner s;
            s.put(std::string_view(m).substr(0, cut));
            s.put(std::string_view(m).substr(cut));
            const auto f = s.finish();
            BOOST_TEST_CONTEXT("message " << &m - messages.data() << " cut " << cut)
            {
                BOOST_TEST(f.size == whole.size);
                BOOST_TEST(f.longest_line == whole.longest_line);
                BOOST_TEST(f.eight_bit == whole.eight_bit);
                BOOST_TEST(f.eight_bit_headers == whole.eight_bit_headers);
                BOOST_TEST(f.first_bare_cr == whole.first_bare_cr);
                BOOST_TEST(f.first_bare_lf == whole.first_bare_lf);
            }
        }
        smtp::message_scanner bytes; // one octet at a time
        for (char c : m)
            bytes.put(std::string_view(&c, 1));
        BOOST_TEST(bytes.finish().size == whole.size);
    }
}

// The 8-bit facts against values written down, not against the scanner
// itself: where the 8-bit octet is (none, a header, the body, both, a long
// piece past the 16- and 64-octet blocks), at every split into two pieces.
BOOST_AUTO_TEST_CASE(scanner_eight_bit_facts_are_right)
{
    const std::string pad(70, 'p'); // lines longer than one 64-octet block
    struct expected {
        std::string m;
        bool eight_bit, eight_bit_headers;
    };
    const std::vector<expected> cases{
        {"Subject: a\r\nX: " + pad + "\r\n\r\n" + pad + "\r\n", false, false},
        {"Subject: a\r\nX: " + pad + "\xC3\xA9\r\n\r\nbody\r\n", true, true},
        {"Subject: a\r\n\r\n" + pad + "\xC3\xA9" + pad + "\r\n", true, false},
        {"Subject: \xC3\xA9\r\n\r\n\xC3\xA9\r\n", true, true},
        {"Subject: a\r\n\r\nascii\r\n" + pad + pad + "\x80", true, false},
        {"\xFF", true, true}, // an open first line is a header line
    };
    for (const auto& c : cases)
        for (std::size_t cut = 0; cut <= c.m.size(); ++cut) {
            smtp::message_scanner s;
            s.put(std::string_view(c.m).substr(0, cut));
            s.put(std::string_view(c.m).substr(cut));
            const auto f = s.finish();
            BOOST_TEST_CONTEXT("case " << &c - cases.data() << " cut " << cut)
            {
                BOOST_TEST(f.eight_bit == c.eight_bit);
                BOOST_TEST(f.eight_bit_headers == c.eight_bit_headers);
            }
        }
}

BOOST_AUTO_TEST_CASE(a_rewindable_source_sends_what_the_string_sends)
{
    test_offers o = pipelining();
    o.size = true;
    o.eightbitmime = true;
    const std::string body = "Subject: s\r\n\r\n.a\nb \xC3\xA9\r\n..\r\nend";
    const auto to = rcpts({"b@example.org"});
    for (bool bdat : {false, true}) {
        o.chunking = bdat;
        smtp::transaction_settings s;
        s.write_size = 5;
        s.chunk_size = 6;
        transaction a("a@example.org", to, body, no_options, caps(o), {}, s);
        string_source src{body};
        auto ms = src.make();
        transaction b("a@example.org", to, ms, no_options, caps(o), {}, s);
        BOOST_REQUIRE(!b.error());
        const auto data = {"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"};
        const auto chunks = {"250 ok\r\n", "250 ok\r\n", "250 c\r\n", "250 c\r\n", "250 c\r\n", "250 c\r\n",
                             "250 c\r\n", "250 c\r\n", "250 c\r\n", "250 c\r\n"};
        const std::string wa = drive(a, bdat ? chunks : data), wb = drive(b, bdat ? chunks : data);
        BOOST_TEST(wa == wb);
        BOOST_TEST(wb.find("SIZE=") != std::string::npos);
        BOOST_TEST(b.size() == a.size());
        BOOST_TEST(a.result().queued());
        BOOST_TEST(b.result().queued());
    }
}

BOOST_AUTO_TEST_CASE(an_unrewindable_source_is_checked_as_it_goes)
{
    test_offers o = pipelining();
    o.size = true;
    o.eightbitmime = true;
    const auto to = rcpts({"b@example.org"});
    smtp::transaction_settings s;
    s.write_size = 16;
    // Fine: no SIZE (not known), BODY=8BITMIME (content not known yet).
    string_source ok{"line one\r\nline two\r\n"};
    ok.can_rewind = false;
    auto ms = ok.make();
    transaction t("a@example.org", to, ms, no_options, caps(o), {}, s);
    const std::string w = drive(t, {"250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"});
    BOOST_TEST(w.find("MAIL FROM:<a@example.org> BODY=8BITMIME\r\n") == 0u);
    BOOST_TEST(w.find("line one\r\nline two\r\n.\r\n") != std::string::npos);
    BOOST_TEST(t.result().queued());

    // A line too long in the second piece: the transaction stops before that
    // piece and never writes an end of data.
    string_source bad{"short\r\n" + std::string(1200, 'x') + "\r\n"};
    bad.can_rewind = false;
    auto mb = bad.make();
    transaction u("a@example.org", to, mb, no_options, caps(o), {}, s);
    const std::string wu = drive(u, {"250 ok\r\n", "250 ok\r\n", "354 go\r\n"});
    BOOST_TEST(u.aborted());
    BOOST_TEST(u.error() == errc::data_line_too_long);
    BOOST_TEST(u.result().outcome == transaction_outcome::not_sent);
    BOOST_TEST(wu.find("\r\n.\r\n") == std::string::npos);
    BOOST_TEST(!u.data_complete());
}

// --- Found by the fuzzers (tests/fuzz/crashes/) ------------------------------------

BOOST_AUTO_TEST_CASE(normalizer_keeps_a_pending_cr_across_an_empty_piece)
{
    smtp::line_end_normalizer n;
    std::string out;
    n.put("a\r", out);
    n.put("", out);
    n.put("\nb", out);
    n.finish(out);
    BOOST_TEST(out == "a\r\nb\r\n");
}

BOOST_AUTO_TEST_CASE(lmtp_421_as_the_last_recipients_reply_keeps_the_verdict)
{
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "hi\r\n", no_options, caps(pipelining()), {false, true});
    wire w;
    w.replies = {"250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 b ok\r\n", "421 4.3.2 bye\r\n"};
    w.run(t);
    BOOST_TEST(t.result().queued());
    BOOST_TEST(!t.error());
    BOOST_TEST(t.result().recipients[1].transient());
    BOOST_TEST(t.server_closing());
}

BOOST_AUTO_TEST_CASE(lmtp_bdat_after_a_refused_mail_is_not_queued)
{
    test_offers o = pipelining();
    o.chunking = true;
    const auto to = rcpts({"b@example.org", "c@example.org"});
    transaction t("a@example.org", to, "", no_options, caps(o), {false, true});
    wire w;
    w.replies = {"452 4.3.1 later\r\n", "250 ok\r\n", "250 ok\r\n", "250 odd\r\n"};
    w.run(t);
    BOOST_TEST(!t.result().queued());
    BOOST_TEST(t.result().outcome == transaction_outcome::refused);
    BOOST_TEST(t.error() == errc::transient_failure);
    BOOST_TEST(w.replies.empty());
}

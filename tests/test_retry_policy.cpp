// The retry policy without I/O (smtp/protocol/retry_policy.hpp): what is
// retried and what never is (unknown, permanent refusals, a message refused
// before a byte was sent, a cancellation), per recipient only the 4yz ones,
// the enhanced status code's class, the backoff with its jitter, the
// attempts and deadline, the merged result, the throttle signals, the AIMD
// controller and the token bucket on a test clock; and a plain session's
// user retrying with them.
#include <smtp/protocol/retry_policy.hpp>

#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include "scripted_server.hpp"

#define BOOST_TEST_MODULE retry_policy
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using smtp::retry_action;
using smtp::transaction_outcome;

namespace {

smtp::reply rep(std::string raw)
{
    const unsigned code = static_cast<unsigned>(std::stoi(raw.substr(0, 3)));
    raw += "\r\n";
    return smtp::reply(smtp::reply_view(smtp::reply_code(code), raw, 1));
}

smtp::recipient_result rcpt(std::string address, std::string reply)
{
    smtp::recipient_result r;
    r.address = std::move(address);
    r.rcpt_reply = rep(std::move(reply));
    return r;
}

/// A result as the transaction engine makes it: MAIL accepted, the recipients' replies given.
smtp::transaction_result result(transaction_outcome o, std::vector<smtp::recipient_result> rs = {})
{
    smtp::transaction_result r;
    r.outcome = o;
    r.mail_reply = rep("250 2.1.0 ok");
    r.recipients = std::move(rs);
    if (r.recipients.empty())
        r.recipients.push_back(rcpt("a@x.org", "250 2.1.5 ok"));
    return r;
}

smtp::retry_options no_jitter()
{
    smtp::retry_options o;
    o.jitter = 0;
    return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(unknown_is_never_retried)
{
    auto r = result(transaction_outcome::unknown);
    r.error = smtp::errc::outcome_unknown;
    const auto d = smtp::decide_retry(r, 1, 0ms, no_jitter(), 0.0);
    BOOST_TEST((d.action == retry_action::done));
    BOOST_TEST(d.reason.find("unknown") != std::string_view::npos);
    // Not even with attempts and time to spare, nor when the reply was a throttle signal.
    smtp::retry_options many = no_jitter();
    many.max_attempts = 100;
    r.final_reply = rep("421 4.7.0 closing");
    BOOST_TEST((smtp::decide_retry(r, 1, 0ms, many, 0.5).action == retry_action::done));
}

BOOST_AUTO_TEST_CASE(not_sent_is_retried_with_backoff_until_the_attempts_or_the_deadline)
{
    auto r = result(transaction_outcome::not_sent);
    r.error = boost::asio::error::connection_reset;
    const auto o = no_jitter(); // 1 s, doubling, 3 attempts, 5 min
    auto d = smtp::decide_retry(r, 1, 0ms, o, 0.0);
    BOOST_TEST((d.action == retry_action::retry_message));
    BOOST_TEST(d.delay.count() == 1000);
    BOOST_TEST(d.recipients.empty());
    d = smtp::decide_retry(r, 2, 1500ms, o, 0.0);
    BOOST_TEST((d.action == retry_action::retry_message));
    BOOST_TEST(d.delay.count() == 2000);
    BOOST_TEST((smtp::decide_retry(r, 3, 4000ms, o, 0.0).action == retry_action::done)); // max_attempts
    // The deadline: no retry would start after it.
    BOOST_TEST((smtp::decide_retry(r, 1, std::chrono::milliseconds(o.deadline) - 500ms, o, 0.0).action ==
                retry_action::done));
    // Errors of the connection and the server's 4yz go again.
    for (smtp::error_code e : {smtp::error_code(smtp::errc::timeout), smtp::error_code(smtp::errc::connection_closed),
                               smtp::error_code(smtp::errc::session_broken),
                               smtp::error_code(smtp::errc::transient_failure),
                               smtp::error_code(boost::asio::error::eof)}) {
        r.error = e;
        BOOST_TEST((smtp::decide_retry(r, 1, 0ms, o, 0.0).action == retry_action::retry_message), e.message());
    }
}

BOOST_AUTO_TEST_CASE(not_sent_because_of_the_message_or_a_cancellation_is_final)
{
    auto r = result(transaction_outcome::not_sent);
    for (smtp::error_code e :
         {smtp::error_code(smtp::errc::message_too_large), smtp::error_code(smtp::errc::data_bare_lf),
          smtp::error_code(smtp::errc::smtputf8_not_offered), smtp::error_code(smtp::errc::permanent_failure),
          smtp::error_code(boost::asio::error::operation_aborted), smtp::error_code(smtp::errc::auth_in_clear)}) {
        r.error = e;
        BOOST_TEST((smtp::decide_retry(r, 1, 0ms, no_jitter(), 0.0).action == retry_action::done), e.message());
    }
}

BOOST_AUTO_TEST_CASE(permanent_refusals_are_final)
{
    auto mail = result(transaction_outcome::refused);
    mail.mail_reply = rep("550 5.7.1 not you");
    mail.recipients = {rcpt("a@x.org", "503 5.5.1 MAIL first")};
    BOOST_TEST((smtp::decide_retry(mail, 1, 0ms, no_jitter(), 0.0).action == retry_action::done));

    auto data = result(transaction_outcome::refused);
    data.data_reply = rep("554 5.6.0 no");
    BOOST_TEST((smtp::decide_retry(data, 1, 0ms, no_jitter(), 0.0).action == retry_action::done));

    auto final = result(transaction_outcome::refused);
    final.data_reply = rep("354 go");
    final.final_reply = rep("554 5.7.1 spam");
    BOOST_TEST((smtp::decide_retry(final, 1, 0ms, no_jitter(), 0.0).action == retry_action::done));

    auto all = result(transaction_outcome::refused,
                      {rcpt("a@x.org", "550 5.1.1 no such user"), rcpt("b@x.org", "553 5.1.3 bad address")});
    BOOST_TEST((smtp::decide_retry(all, 1, 0ms, no_jitter(), 0.0).action == retry_action::done));
}

BOOST_AUTO_TEST_CASE(transient_refusals_are_retried)
{
    auto mail = result(transaction_outcome::refused);
    mail.mail_reply = rep("451 4.3.0 try later");
    mail.recipients = {rcpt("a@x.org", "503 5.5.1 MAIL first"), rcpt("b@x.org", "503 5.5.1 MAIL first")};
    auto d = smtp::decide_retry(mail, 1, 0ms, no_jitter(), 0.0);
    BOOST_TEST((d.action == retry_action::retry_message)); // every recipient: MAIL decided, not their 503s
    BOOST_TEST(!d.throttled);

    // 451 4.7.1 to the end of data: retried, and a throttle signal. The
    // recipient refused for good at RCPT stays out.
    auto final = result(transaction_outcome::refused,
                        {rcpt("a@x.org", "250 ok"), rcpt("b@x.org", "550 5.1.1 no"), rcpt("c@x.org", "250 ok")});
    final.data_reply = rep("354 go");
    final.final_reply = rep("451 4.7.1 slow down");
    d = smtp::decide_retry(final, 1, 0ms, no_jitter(), 0.0);
    BOOST_TEST((d.action == retry_action::retry_recipients));
    BOOST_TEST(d.recipients == (std::vector<std::size_t>{0, 2}), boost::test_tools::per_element());
    BOOST_TEST(d.throttled);
}

BOOST_AUTO_TEST_CASE(only_the_recipients_with_a_transient_reply_are_retried)
{
    auto r = result(transaction_outcome::queued, {rcpt("a@x.org", "250 2.1.5 ok"), rcpt("b@x.org", "450 4.2.1 later"),
                                                  rcpt("c@x.org", "550 5.1.1 no"), rcpt("d@x.org", "452 4.5.3 too many")});
    r.final_reply = rep("250 2.0.0 queued");
    const auto d = smtp::decide_retry(r, 1, 0ms, no_jitter(), 0.0);
    BOOST_TEST((d.action == retry_action::retry_recipients));
    BOOST_TEST(d.recipients == (std::vector<std::size_t>{1, 3}), boost::test_tools::per_element());
    BOOST_TEST(!d.throttled); // a busy mailbox, too many recipients: not the client's pace
    const std::vector<smtp::recipient> to{{"a@x.org"}, {"b@x.org"}, {"c@x.org"}, {"d@x.org"}};
    const auto again = smtp::recipients_to_retry(to, d);
    BOOST_REQUIRE(again.size() == 2u);
    BOOST_TEST(again[0].address == "b@x.org");
    BOOST_TEST(again[1].address == "d@x.org");

    // Every recipient accepted: nothing to do.
    auto all = result(transaction_outcome::queued, {rcpt("a@x.org", "250 ok")});
    BOOST_TEST((smtp::decide_retry(all, 1, 0ms, no_jitter(), 0.0).action == retry_action::done));
}

BOOST_AUTO_TEST_CASE(every_recipient_4yz_and_data_refused_for_want_of_them)
{
    // Pipelined: DATA went out with the RCPTs, and its 554 only says that
    // no recipient was accepted. The recipients' 4yz decide.
    auto r = result(transaction_outcome::refused,
                    {rcpt("a@x.org", "450 4.2.1 later"), rcpt("b@x.org", "550 5.1.1 no such user")});
    r.data_reply = rep("554 5.5.1 no valid recipients");
    r.error = smtp::errc::all_recipients_refused;
    const auto d = smtp::decide_retry(r, 1, 0ms, no_jitter(), 0.0);
    BOOST_TEST((d.action == retry_action::retry_recipients));
    BOOST_TEST(d.recipients == (std::vector<std::size_t>{0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(lmtp_deliveries_that_failed_transiently_are_retried)
{
    auto r = result(transaction_outcome::queued, {rcpt("a@x.org", "250 ok"), rcpt("b@x.org", "250 ok")});
    r.recipients[0].delivery = rep("250 2.0.0 delivered");
    r.recipients[1].delivery = rep("452 4.2.2 mailbox full");
    r.final_reply = rep("452 4.2.2 mailbox full");
    const auto d = smtp::decide_retry(r, 1, 0ms, no_jitter(), 0.0);
    BOOST_TEST((d.action == retry_action::retry_recipients));
    BOOST_TEST(d.recipients == (std::vector<std::size_t>{1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_enhanced_status_code_decides_the_class_where_there_is_one)
{
    // It agrees with the reply code's first digit (the parser takes no code
    // that does not: RFC 3463's classes are the reply code's), and refines it.
    BOOST_TEST((smtp::verdict_of(rep("450 4.2.1 later")) == smtp::reply_verdict::transient));
    BOOST_TEST((smtp::verdict_of(rep("550 5.7.1 refused")) == smtp::reply_verdict::permanent));
    BOOST_TEST((smtp::verdict_of(rep("250 2.0.0 ok")) == smtp::reply_verdict::none));
    BOOST_TEST((smtp::verdict_of(smtp::reply{}) == smtp::reply_verdict::none));
    // A code whose class disagrees is not an enhanced code: the reply code decides.
    const auto odd = rep("451 5.7.1 says permanent, is transient");
    BOOST_TEST(!odd.status().has_value());
    BOOST_TEST((smtp::verdict_of(odd) == smtp::reply_verdict::transient));
    BOOST_TEST((smtp::verdict_of(rep("550 4.2.2 full")) == smtp::reply_verdict::permanent));
    BOOST_TEST(!smtp::is_throttle_signal(rep("550 4.7.1 odd"))); // 5yz: not a throttle
}

BOOST_AUTO_TEST_CASE(throttle_signals)
{
    for (const char* yes : {"421 mx closing", "421 4.7.0 too many connections", "454 4.7.0 TLS not available",
                            "451 4.7.1 rate limited", "450 4.7.1 greylisted", "452 4.4.5 congestion",
                            "451 4.3.2 not accepting messages"})
        BOOST_TEST(smtp::is_throttle_signal(rep(yes)), yes);
    for (const char* no : {"451 local error", "450 4.2.1 mailbox busy", "452 4.2.2 mailbox full", "550 5.7.1 refused",
                           "250 2.0.0 ok", "452 4.5.3 too many recipients"})
        BOOST_TEST(!smtp::is_throttle_signal(rep(no)), no);
    auto r = result(transaction_outcome::queued, {rcpt("a@x.org", "250 ok"), rcpt("b@x.org", "451 4.7.1 slow")});
    BOOST_TEST(smtp::has_throttle_signal(r));
}

BOOST_AUTO_TEST_CASE(backoff_grows_is_capped_and_jittered)
{
    smtp::retry_options o;
    o.initial_backoff = 100ms;
    o.multiplier = 3;
    o.max_backoff = 1000ms;
    o.jitter = 0;
    BOOST_TEST(smtp::backoff_delay(1, o, 0.7).count() == 100);
    BOOST_TEST(smtp::backoff_delay(2, o, 0.7).count() == 300);
    BOOST_TEST(smtp::backoff_delay(3, o, 0.7).count() == 900);
    BOOST_TEST(smtp::backoff_delay(4, o, 0.7).count() == 1000);
    BOOST_TEST(smtp::backoff_delay(40, o, 0.7).count() == 1000);
    o.jitter = 0.5; // [d/2, d]
    BOOST_TEST(smtp::backoff_delay(2, o, 0.0).count() == 300);
    BOOST_TEST(smtp::backoff_delay(2, o, 1.0).count() == 150);
    BOOST_TEST(smtp::backoff_delay(2, o, 0.5).count() == 225);
    o.initial_backoff = 0ms;
    BOOST_TEST(smtp::backoff_delay(5, o, 0.3).count() == 0);
}

BOOST_AUTO_TEST_CASE(attempts_merge_into_one_result)
{
    // Attempt 1: a queued, b 450, c 550. Attempt 2 (b alone): queued.
    auto first = result(transaction_outcome::queued,
                        {rcpt("a@x.org", "250 ok"), rcpt("b@x.org", "450 4.2.1 later"), rcpt("c@x.org", "550 5.1.1 no")});
    first.final_reply = rep("250 2.0.0 queued as 1");
    auto second = result(transaction_outcome::queued, {rcpt("b@x.org", "250 2.1.5 ok")});
    second.final_reply = rep("250 2.0.0 queued as 2");
    smtp::merge_attempt(first, std::move(second), {1});
    BOOST_TEST(first.attempts == 2u);
    BOOST_TEST(first.queued());
    BOOST_TEST(first.accepted_count() == 2u);
    BOOST_TEST(first.recipients[1].rcpt_reply.code().value() == 250u);
    BOOST_TEST(first.recipients[2].permanent());
    BOOST_TEST(first.final_reply.message() == "2.0.0 queued as 2");

    // Attempt 3 for one recipient, refused at the end of data: that
    // recipient does not have the message, though RCPT accepted it.
    auto third = result(transaction_outcome::refused, {rcpt("b@x.org", "250 ok")});
    third.data_reply = rep("354 go");
    third.final_reply = rep("451 4.7.1 later");
    auto base = result(transaction_outcome::queued, {rcpt("a@x.org", "250 ok"), rcpt("b@x.org", "450 4.2.1 later")});
    smtp::merge_attempt(base, std::move(third), {1});
    BOOST_TEST(base.queued()); // a has it
    BOOST_TEST(base.recipients[0].accepted());
    BOOST_TEST(!base.recipients[1].accepted());
    BOOST_TEST(base.recipients[1].transient());

    // A last attempt whose outcome is unknown makes the message's unknown.
    auto lost = result(transaction_outcome::unknown, {rcpt("b@x.org", "250 ok")});
    lost.error = smtp::errc::outcome_unknown;
    smtp::merge_attempt(base, std::move(lost), {1});
    BOOST_TEST((base.outcome == transaction_outcome::unknown));
    BOOST_TEST(base.error == smtp::errc::outcome_unknown);
    BOOST_TEST(base.attempts == 3u);
    BOOST_TEST(base.recipients[0].accepted());
    BOOST_TEST(!base.recipients[1].accepted()); // no verdict: its reply was lost
}

BOOST_AUTO_TEST_CASE(aimd_halves_on_a_signal_once_per_pause_and_grows_by_one_per_window)
{
    using tp = smtp::throttle_control::time_point;
    smtp::throttle_options o;
    o.initial_pause = 100ms;
    o.max_pause = 400ms;
    smtp::throttle_control c(8, o);
    const tp t0{std::chrono::seconds(10)};
    BOOST_TEST(c.limit() == 8u);
    BOOST_TEST(c.on_throttle(t0));
    BOOST_TEST(c.limit() == 4u);
    BOOST_TEST((c.paused_until() == t0 + 100ms));
    BOOST_TEST(!c.on_throttle(t0 + 50ms)); // the same overload, seen by another session
    BOOST_TEST(c.limit() == 4u);
    BOOST_TEST(c.on_throttle(t0 + 100ms)); // still throttled after the pause: halved again, longer pause
    BOOST_TEST(c.limit() == 2u);
    BOOST_TEST((c.paused_until() == t0 + 300ms));
    BOOST_TEST(c.on_throttle(t0 + 300ms));
    BOOST_TEST(c.on_throttle(t0 + 700ms));
    BOOST_TEST(c.limit() == 1u); // never below min_sessions
    BOOST_TEST((c.paused_until() == t0 + 1100ms)); // the pause stops doubling at max_pause
    // Additive increase: one more session after as many successes as allowed.
    c.on_success();
    BOOST_TEST(c.limit() == 2u);
    c.on_success();
    BOOST_TEST(c.limit() == 2u);
    c.on_success();
    BOOST_TEST(c.limit() == 3u);
    for (int i = 0; i < 100; ++i)
        c.on_success();
    BOOST_TEST(c.limit() == 8u); // never above the maximum
    // A success resets the pause: the next signal pauses the initial time again.
    BOOST_TEST(c.on_throttle(t0 + 2000ms));
    BOOST_TEST((c.paused_until() == t0 + 2100ms));
    // Disabled: signals change nothing.
    o.enabled = false;
    smtp::throttle_control off(8, o);
    BOOST_TEST(!off.on_throttle(t0));
    BOOST_TEST(off.limit() == 8u);
}

BOOST_AUTO_TEST_CASE(token_bucket_on_a_test_clock)
{
    using tp = smtp::token_bucket::time_point;
    const tp t0{std::chrono::seconds(100)};
    smtp::token_bucket b(10.0, 2.0); // 10 a second, 2 at once
    BOOST_TEST(b.try_take(t0));
    BOOST_TEST(b.try_take(t0));
    BOOST_TEST(!b.try_take(t0));
    const tp next = b.next_token(t0);
    BOOST_TEST((next > t0 + 99ms && next <= t0 + 101ms));
    BOOST_TEST(!b.try_take(t0 + 50ms));
    BOOST_TEST(b.try_take(t0 + 100ms));
    // After a long quiet time, at most the burst.
    BOOST_TEST(b.try_take(t0 + 10s));
    BOOST_TEST(b.try_take(t0 + 10s));
    BOOST_TEST(!b.try_take(t0 + 10s));
    // Over a second of steady demand: the rate's worth, plus what was saved.
    smtp::token_bucket c(10.0, 1.0);
    int taken = 0;
    for (int ms = 0; ms <= 1000; ++ms)
        taken += c.try_take(t0 + std::chrono::milliseconds(ms));
    BOOST_TEST(taken == 11);
    smtp::token_bucket none(0, 1);
    for (int i = 0; i < 1000; ++i)
        BOOST_TEST_REQUIRE(none.try_take(t0));
}

BOOST_AUTO_TEST_CASE(a_plain_session_retries_the_recipients_it_is_told_to)
{
    // A user of a session, no pool: send, ask the policy, send again to the
    // recipients it names, fold the results into one.
    auto s = scripted_server::greeted("250-mx\r\n250 ENHANCEDSTATUSCODES\r\n");
    s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 2.1.0 ok\r\n");
    s->expect("RCPT TO:<b@x.org>\r\n").respond("250 2.1.5 ok\r\n");
    s->expect("RCPT TO:<c@x.org>\r\n").respond("451 4.7.1 greylisted, come back later\r\n");
    s->expect("DATA\r\n").respond("354 go\r\n").expect("Subject: hi\r\n\r\nHello.\r\n.\r\n").respond("250 2.0.0 q1\r\n");
    s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 2.1.0 ok\r\n");
    s->expect("RCPT TO:<c@x.org>\r\n").respond("250 2.1.5 ok\r\n");
    s->expect("DATA\r\n").respond("354 go\r\n").expect("Subject: hi\r\n\r\nHello.\r\n.\r\n").respond("250 2.0.0 q2\r\n");
    using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
    auto session = smtp::connect<P>(scripted_server::opts(), s).ehlo();
    const std::vector<smtp::recipient> to{{"b@x.org"}, {"c@x.org"}};
    const std::string message = "Subject: hi\r\n\r\nHello.\r\n";
    auto total = session.sendmail("a@x.org", to, message);
    auto d = smtp::decide_retry(total, total.attempts, 0ms, no_jitter(), 0.0);
    BOOST_REQUIRE((d.action == retry_action::retry_recipients));
    BOOST_TEST(d.throttled); // 4.7.1
    BOOST_TEST(d.delay.count() == 1000); // (the test does not wait it)
    const auto again = smtp::recipients_to_retry(to, d);
    smtp::merge_attempt(total, session.sendmail("a@x.org", again, message), d.recipients);
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(total.attempts == 2u);
    BOOST_TEST(total.queued());
    BOOST_TEST(total.accepted_count() == 2u);
    BOOST_TEST((smtp::decide_retry(total, total.attempts, 0ms, no_jitter(), 0.0).action == retry_action::done));
}

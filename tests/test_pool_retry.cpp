// The pool's retries and throttling against an SMTP server in memory
// (sim_server.hpp), which stores what it takes and drops connections at
// every point around the data:
// - a BDAT window of eight with each fault at each message: the store
//   against the outcomes, each outcome exact;
// - duplicates: 3600 messages through faults at every point (DATA
//   pipelined, DATA in lockstep, BDAT in small chunks): the store holds each
//   message and recipient at most once, every recipient the result says has
//   it is there exactly once, every one it says does not is absent unless
//   the outcome is unknown, and every message completes exactly once;
// - transient refusals retried, with the attempts counted, up to the bound;
// - only the recipients with a 4yz go again;
// - throttling: the concurrency the server sees drops after its 421s and
//   comes back after successes; a fixed rate is kept.
#include <smtp/pool.hpp>

#include "scripted_server.hpp"
#include "sim_server.hpp"

#define BOOST_TEST_MODULE pool_retry
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using smtp::transaction_outcome;
using SP = smtp::policies<sim::transport, smtp::tls::none>;

namespace {

std::string id_of(std::size_t i) { return "m" + std::to_string(i) + "@test"; }

smtp::outgoing_message message(std::size_t i, std::size_t recipients = 2)
{
    smtp::outgoing_message m;
    m.from = "sender@x.org";
    for (std::size_t k = 0; k < recipients; ++k)
        m.to.push_back({"r" + std::to_string(k) + "-" + std::to_string(i) + "@x.org"});
    m.message = "Message-ID: <" + id_of(i) + ">\r\nSubject: message " + std::to_string(i) +
                "\r\n\r\nA body long enough for several small BDAT chunks, line one.\r\n.leading dot\r\nend.\r\n";
    return m;
}

struct fixture {
    boost::asio::io_context io;
    std::shared_ptr<sim::server> srv = std::make_shared<sim::server>();
    std::vector<smtp::transaction_result> results;
    std::vector<int> completions;

    smtp::pool<SP> make(smtp::pool_options po, smtp::connect_options o = scripted_server::opts())
    {
        auto s = srv;
        return smtp::pool<SP>(io.get_executor(), o, po,
                              [s](boost::asio::any_io_executor ex) { return sim::transport(ex, s); });
    }
    void send(smtp::pool<SP>& p, std::size_t i, std::size_t recipients = 2)
    {
        if (results.size() <= i) {
            results.resize(i + 1);
            completions.resize(i + 1);
        }
        p.async_send(message(i, recipients), [this, i](smtp::error_code ec, smtp::transaction_result r) {
            BOOST_TEST(ec == r.error);
            ++completions[i];
            results[i] = std::move(r);
        });
    }
    void close(smtp::pool<SP>& p)
    {
        bool closed = false;
        p.async_close([&](smtp::error_code, smtp::pool_stats) { closed = true; });
        io.run();
        io.restart();
        BOOST_TEST(closed);
    }
};

/// Quick options for tests: retries at once, pauses of a millisecond.
smtp::pool_options quick(std::size_t sessions, unsigned attempts)
{
    smtp::pool_options po;
    po.max_sessions = sessions;
    po.retry.max_attempts = attempts;
    po.retry.initial_backoff = 0ms;
    po.throttle.initial_pause = 0ms;
    po.throttle.max_pause = 0ms;
    return po;
}

struct tally {
    std::size_t queued = 0, unknown = 0, not_sent = 0, refused = 0, retried_messages = 0;
};

/// The duplicate rules, checked on every message and recipient.
tally check_store(const fixture& f, std::size_t n)
{
    tally t;
    for (const auto& [key, times] : f.srv->store)
        BOOST_TEST_REQUIRE(times == 1, key << " stored " << times << " times");
    for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST_REQUIRE(f.completions[i] == 1, "message " << i << " completed " << f.completions[i] << " times");
        const auto& r = f.results[i];
        switch (r.outcome) {
        case transaction_outcome::queued: ++t.queued; break;
        case transaction_outcome::unknown:
            ++t.unknown;
            BOOST_TEST_REQUIRE(r.error == smtp::errc::outcome_unknown);
            break;
        case transaction_outcome::not_sent: ++t.not_sent; break;
        case transaction_outcome::refused: ++t.refused; break;
        }
        t.retried_messages += r.attempts > 1;
        const smtp::outgoing_message m = message(i);
        BOOST_TEST_REQUIRE(r.recipients.size() == m.to.size());
        for (std::size_t k = 0; k < m.to.size(); ++k) {
            const int stored = f.srv->stored(id_of(i), m.to[k].address);
            // What the result says of this recipient: has it (exactly once),
            // does not (never), or, with an unknown outcome, cannot say.
            const bool has_it = r.recipients[k].accepted() && (r.outcome == transaction_outcome::queued || r.attempts > 1);
            if (has_it)
                BOOST_TEST_REQUIRE(stored == 1, "message " << i << " to " << m.to[k].address << ": said queued, stored "
                                                           << stored << " times (outcome " << r.outcome << ", "
                                                           << r.attempts << " attempts)");
            else if (r.outcome != transaction_outcome::unknown)
                BOOST_TEST_REQUIRE(stored == 0, "message " << i << " to " << m.to[k].address << ": said "
                                                           << r.outcome << ", stored " << stored << " times");
        }
    }
    return t;
}

/// A fault for about one MAIL in `one_in`, of every kind, seeded.
std::function<sim::fault(std::size_t)> faults(unsigned seed, unsigned one_in, std::vector<std::size_t>& seen)
{
    auto rng = std::make_shared<std::minstd_rand>(seed);
    seen.assign(static_cast<std::size_t>(sim::fault::count), 0);
    return [rng, one_in, &seen](std::size_t) {
        if ((*rng)() % one_in != 0)
            return sim::fault::none;
        const auto k = static_cast<sim::fault>(1 + (*rng)() % (static_cast<unsigned>(sim::fault::count) - 1));
        ++seen[static_cast<std::size_t>(k)];
        return k;
    };
}

void run_duplicates(fixture& f, std::size_t n, smtp::connect_options o, unsigned seed, bool bdat)
{
    std::vector<std::size_t> seen;
    f.srv->plan = faults(seed, 4, seen);
    auto po = quick(4, 4);
    // With BDAT the client pipelines each message's data behind its MAIL
    // and RCPTs, and the next message's behind it, so a drop leaves every
    // message of the batch that was written unknown: smaller batches, or
    // few messages would be queued at all.
    if (bdat)
        po.max_batch = 2;
    auto p = f.make(po, o);
    for (std::size_t i = 0; i < n; ++i)
        f.send(p, i);
    f.close(p);
    const tally t = check_store(f, n);
    BOOST_TEST_MESSAGE(n << " messages: " << t.queued << " queued, " << t.unknown << " unknown, " << t.not_sent
                         << " not sent, " << t.refused << " refused; " << t.retried_messages << " retried; "
                         << f.srv->connections << " connections");
    // Every kind of fault happened (mid-BDAT only with BDAT), and the
    // retries did their work: most messages arrived, some after retries,
    // and the lost replies were reported as unknown.
    for (std::size_t k = 1; k < seen.size(); ++k)
        if (bdat || static_cast<sim::fault>(k) != sim::fault::mid_bdat)
            BOOST_TEST(seen[k] > 0u, "fault " << k << " never happened");
    BOOST_TEST(t.unknown > 0u);
    BOOST_TEST(t.retried_messages > 0u);
    BOOST_TEST(t.queued > n / 2);
    BOOST_TEST(p.stats().retried > 0u);
}

} // namespace

BOOST_FIXTURE_TEST_CASE(no_duplicates_pipelined_data, fixture)
{
    run_duplicates(*this, 2000, scripted_server::opts(), 1, false);
}

BOOST_FIXTURE_TEST_CASE(no_duplicates_lockstep_data, fixture)
{
    srv->pipelining = false;
    run_duplicates(*this, 600, scripted_server::opts(), 2, false);
}

BOOST_FIXTURE_TEST_CASE(no_duplicates_bdat_in_small_chunks, fixture)
{
    srv->chunking = true;
    auto o = scripted_server::opts();
    o.transactions.chunk_size = 32; // several chunks a message: drops mid-BDAT
    run_duplicates(*this, 1000, o, 3, true);
}

BOOST_AUTO_TEST_CASE(bdat_window_of_eight_at_every_fault)
{
    // Eight messages in one window (BDAT, three chunks each, all written
    // before any reply is read), with each fault of the server at each of
    // the eight in turn, no retries: the store against the outcomes
    // (check_store: nothing lost, nothing queued that was not stored,
    // nothing stored twice), and each message's outcome exactly what the
    // replies that came say.
    using O = transaction_outcome;
    for (std::size_t fk = 1; fk < static_cast<std::size_t>(sim::fault::count); ++fk) {
        const auto f = static_cast<sim::fault>(fk);
        if (f == sim::fault::drop_at_data || f == sim::fault::drop_mid_data) // DATA only
            continue;
        for (std::size_t k = 0; k < 8; ++k) {
            BOOST_TEST_CONTEXT("fault " << fk << " at message " << k)
            {
                fixture fx;
                fx.srv->chunking = true;
                fx.srv->plan = [f, k](std::size_t n) { return n == k ? f : sim::fault::none; };
                auto o = scripted_server::opts();
                o.transactions.chunk_size = 48;
                o.transactions.window = 8;
                auto po = quick(1, 1);
                po.max_batch = 8;
                auto p = fx.make(po, o);
                for (std::size_t i = 0; i < 8; ++i)
                    fx.send(p, i);
                fx.close(p);
                check_store(fx, 8);
                BOOST_TEST(fx.srv->mails <= 8u); // one connection's window: nothing sent twice
                for (std::size_t i = 0; i < 8; ++i) {
                    O want = O::queued;
                    switch (f) {
                    case sim::fault::drop_at_mail:
                    case sim::fault::drop_at_rcpt:
                    case sim::fault::drop_before_store:
                    case sim::fault::drop_after_store: // a FIN before k's verdict: the rest was written, unanswered
                        want = i < k ? O::queued : O::unknown;
                        break;
                    case sim::fault::reply_then_close: want = i <= k ? O::queued : O::unknown; break;
                    case sim::fault::reply_lost: // a reset: every reply not yet read is lost; before
                        // the window's last octet it fails the write too, so its last end of data never arrived
                        want = i == 7 && k < 7 ? O::not_sent : O::unknown;
                        break;
                    case sim::fault::mid_bdat: // a reset that also fails the window's write
                        want = i == 7 ? O::not_sent : O::unknown;
                        break;
                    case sim::fault::refuse_mail_421: want = i < k ? O::queued : O::not_sent; break;
                    case sim::fault::refuse_final_451: want = i == k ? O::refused : O::queued; break;
                    default: break; // rcpt_450: one of two recipients refused, the message queued
                    }
                    BOOST_TEST((fx.results[i].outcome == want), "message " << i << ": " << fx.results[i].outcome);
                }
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(transient_refusals_are_retried_and_counted, fixture)
{
    // Each message's first end of data gets 451 4.7.1 (one session, one
    // message at a time, a retry at once: MAILs 0, 2, 4, ... are first
    // attempts): each goes again (a throttle signal each time) and is
    // queued by its second attempt.
    srv->plan = [](std::size_t n) { return n < 20 && n % 2 == 0 ? sim::fault::refuse_final_451 : sim::fault::none; };
    auto po = quick(1, 3);
    po.max_batch = 1;
    auto p = make(po);
    for (std::size_t i = 0; i < 10; ++i)
        send(p, i);
    close(p);
    for (std::size_t i = 0; i < 10; ++i) {
        BOOST_TEST(results[i].queued());
        BOOST_TEST(results[i].attempts == 2u);
        BOOST_TEST(results[i].accepted_count() == 2u);
    }
    check_store(*this, 10);
    BOOST_TEST(p.stats().retried == 10u);
    BOOST_TEST(p.stats().throttle_signals == 10u);
    BOOST_TEST(p.stats().gave_up == 0u);
}

BOOST_FIXTURE_TEST_CASE(retries_end_at_max_attempts_with_the_last_reply, fixture)
{
    srv->plan = [](std::size_t) { return sim::fault::refuse_final_451; };
    auto p = make(quick(2, 3));
    for (std::size_t i = 0; i < 3; ++i)
        send(p, i);
    close(p);
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST((results[i].outcome == transaction_outcome::refused));
        BOOST_TEST(results[i].error == smtp::errc::transient_failure);
        BOOST_TEST(results[i].attempts == 3u);
        BOOST_TEST(results[i].final_reply.code().value() == 451u);
    }
    BOOST_TEST(srv->mails == 9u);
    BOOST_TEST(srv->store.empty());
    BOOST_TEST(p.stats().gave_up == 3u);
}

BOOST_FIXTURE_TEST_CASE(only_the_recipient_with_a_4yz_goes_again, fixture)
{
    // MAIL 0: 450 4.2.1 to the first recipient, the second queued; then the
    // first alone, in a new transaction.
    srv->plan = [](std::size_t n) { return n == 0 ? sim::fault::rcpt_450 : sim::fault::none; };
    auto p = make(quick(1, 3));
    send(p, 0);
    close(p);
    const auto& r = results[0];
    BOOST_TEST(r.queued());
    BOOST_TEST(r.attempts == 2u);
    BOOST_TEST(r.accepted_count() == 2u);
    BOOST_TEST(srv->mails == 2u);
    BOOST_TEST(srv->stored(id_of(0), "r0-0@x.org") == 1);
    BOOST_TEST(srv->stored(id_of(0), "r1-0@x.org") == 1);
    BOOST_TEST(p.stats().retried == 1u);
}

BOOST_FIXTURE_TEST_CASE(concurrency_drops_on_421_and_recovers_after_successes, fixture)
{
    // The server serves two connections at once and greets a third with
    // 421 4.7.0. The pool starts with eight.
    srv->capacity = 2;
    smtp::pool_options po = quick(8, 3);
    po.max_batch = 4;
    po.throttle.initial_pause = 1ms;
    po.throttle.max_pause = 4ms;
    po.retry.initial_backoff = 1ms;
    auto p = make(po);
    for (std::size_t i = 0; i < 300; ++i)
        send(p, i);
    io.run();
    io.restart();
    const auto& seen = srv->open_at_connect;
    // It tried eight at first, the server refused six of them; from then on
    // the pool never held more than half as many.
    BOOST_REQUIRE(seen.size() > 8u);
    BOOST_TEST(*std::max_element(seen.begin(), seen.begin() + 8) == 8u);
    const std::size_t after = *std::max_element(seen.begin() + 8, seen.end());
    BOOST_TEST(after <= 4u);
    BOOST_TEST(p.stats().throttled >= 1u);
    BOOST_TEST(srv->refused_connections >= 6u);
    const std::size_t phase1 = seen.size();
    for (std::size_t i = 0; i < 300; ++i)
        BOOST_TEST_REQUIRE(results[i].queued(), i << ": " << results[i].error.message());

    // The server takes any number now: the successes bring the limit back
    // to eight, and the pool uses more sessions again.
    srv->capacity = 1000;
    const std::size_t limit_before = p.session_limit();
    BOOST_TEST(limit_before < 8u);
    for (std::size_t i = 300; i < 700; ++i)
        send(p, i);
    close(p);
    BOOST_TEST(p.session_limit() == 8u);
    BOOST_REQUIRE(seen.size() > phase1);
    const std::size_t later = *std::max_element(seen.begin() + static_cast<std::ptrdiff_t>(phase1), seen.end());
    BOOST_TEST(later > after);
    BOOST_TEST(later > limit_before);
    check_store(*this, 700);
}

BOOST_FIXTURE_TEST_CASE(a_fixed_rate_is_kept, fixture)
{
    // 400 messages a second, one at a time: 40 messages take at least 39
    // intervals of 2.5 ms, however fast the server. (A lower bound: a slow
    // machine only makes it longer.) The bucket itself is checked on a test
    // clock in test_retry_policy.
    smtp::pool_options po = quick(4, 1);
    po.max_rate = 400;
    po.rate_burst = 1;
    auto p = make(po);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < 40; ++i)
        send(p, i);
    close(p);
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(std::chrono::duration_cast<std::chrono::microseconds>(took).count() >= 39 * 2500);
    for (std::size_t i = 0; i < 40; ++i)
        BOOST_TEST(results[i].queued());
    BOOST_TEST(p.stats().rate_waits > 0u);
    BOOST_TEST(srv->mails == 40u);
}

BOOST_FIXTURE_TEST_CASE(a_destroyed_pool_ends_a_message_waiting_for_its_retry, fixture)
{
    // Refused with 451 4.7.1, it waits ten seconds for its retry; the pool
    // is destroyed meanwhile: the handler runs once, at once, with the first
    // attempt's result marked operation_aborted.
    srv->plan = [](std::size_t) { return sim::fault::refuse_final_451; };
    auto po = quick(1, 3);
    po.retry.initial_backoff = 10s;
    po.retry.jitter = 0;
    smtp::transaction_result result;
    int calls = 0;
    {
        auto p = make(po);
        p.async_send(message(0), [&](smtp::error_code ec, smtp::transaction_result r) {
            BOOST_TEST(ec == r.error);
            ++calls;
            result = std::move(r);
        });
        while (p.stats().retried == 0)
            BOOST_REQUIRE(io.run_one() > 0);
        BOOST_REQUIRE(p.queued() == 1u); // waiting for its time
    }
    const auto t0 = std::chrono::steady_clock::now();
    io.run(); // the retry's timer is gone: returns without the ten seconds
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
    BOOST_TEST(calls == 1);
    BOOST_TEST(result.error == boost::asio::error::operation_aborted);
    BOOST_TEST((result.outcome == transaction_outcome::refused));
    BOOST_TEST(result.final_reply.code().value() == 451u);
    BOOST_TEST(result.attempts == 1u);
    BOOST_TEST(srv->mails == 1u);
}

#if SMTP_HAS_CANCELLATION
BOOST_FIXTURE_TEST_CASE(a_message_waiting_for_its_retry_can_be_cancelled, fixture)
{
    // Refused with 451 4.7.1, it waits ten seconds for its retry; the
    // cancellation ends it at once, with its first attempt's result.
    srv->plan = [](std::size_t) { return sim::fault::refuse_final_451; };
    auto po = quick(1, 3);
    po.retry.initial_backoff = 10s;
    po.retry.jitter = 0;
    auto p = make(po);
    boost::asio::cancellation_signal cancel;
    smtp::transaction_result result;
    int calls = 0;
    p.async_send(message(0), boost::asio::bind_cancellation_slot(
                                 cancel.slot(), [&](smtp::error_code, smtp::transaction_result r) {
                                     ++calls;
                                     result = std::move(r);
                                 }));
    while (p.stats().retried == 0)
        BOOST_REQUIRE(io.run_one() > 0);
    BOOST_TEST(p.queued() == 1u); // waiting for its time
    cancel.emit(boost::asio::cancellation_type::terminal);
    const auto t0 = std::chrono::steady_clock::now();
    io.run(); // nothing left to wait for: returns without the ten seconds
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
    BOOST_TEST(calls == 1);
    BOOST_TEST(result.error == boost::asio::error::operation_aborted);
    BOOST_TEST((result.outcome == transaction_outcome::refused));
    BOOST_TEST(result.final_reply.code().value() == 451u);
    BOOST_TEST(result.attempts == 1u);
    BOOST_TEST(srv->mails == 1u);
    io.restart();
    close(p);
}
#endif

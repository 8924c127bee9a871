// smtp::deliver (smtp/deliver.hpp) against a whole test bed: knotd serving the
// DNSSEC-signed zones with the MX, A, TLSA and TXT records below
// (with_servers.py --dns), HTTPS servers with MTA-STS policies (--https), and
// aiosmtpd MX hosts on 127.0.0.2 to .6, one port for all ({mxport}):
//
//   GOOD    127.0.0.2  STARTTLS, server.pem (TLSA 3 1 1 server matches it); refuses bad@refuse.test
//   FORGED  127.0.0.3  STARTTLS, selfsigned.pem: another key than the TLSA records name
//   PLAIN   127.0.0.4  no STARTTLS (a stripped one, as a man in the middle leaves it)
//   STS     127.0.0.5  STARTTLS, mxhosts.pem: valid for mx1.sts.test under the test CA
//   WRONG   127.0.0.6  STARTTLS, wronghost.pem: a valid chain for another name
//   DROP    127.0.0.7  STARTTLS; takes the message and cuts the connection before its reply
//   PF      127.0.0.8  Postfix (postfix_server.py --starttls, server.pem), delivering pf.test into maildirs
//
// Each case checks what the report says and what each server stored: a
// downgrade never delivers anywhere.
#include <smtp/deliver.hpp>

#define BOOST_TEST_MODULE live_deliver_test
#include <boost/test/unit_test.hpp>

#include "live_servers.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace dns = smtp::dns;
namespace delivery = smtp::delivery;
using live::env;
using namespace std::chrono_literals;

namespace {

const std::string message = "From: a@example.org\r\nTo: b@example.test\r\nSubject: direct\r\n\r\nHello.\r\n";

dns::resolver_options bed()
{
    dns::resolver_options o;
    o.resolv_conf = "";
    o.stubs = {{"test.", {"127.0.0.1@" + env("SMTP_TEST_DNS_PORT")}}};
    o.trust_anchor_files = {env("SMTP_TEST_DNS_ANCHOR")};
    o.root_anchor_file = "";
    o.nodefault_zones = {"test."};
    o.timeout = 5s;
    return o;
}

struct fixture {
    boost::asio::io_context io;
    dns::resolver resolver{io.get_executor(), bed()};

    /// Options for the bed: its MX port, its CA for PKIX, the MTA-STS
    /// policy server `https` (empty: a closed port, no policy reachable).
    smtp::deliver_options options(const std::string& https = {}) const
    {
        smtp::deliver_options o;
        o.port = static_cast<std::uint16_t>(std::stoi(env("SMTP_TEST_MXPORT")));
        o.local_name = "client.example";
        o.timeouts.connect = o.timeouts.greeting = o.timeouts.command = 5s;
        o.tls.ca_file = env("SMTP_TEST_CERTS") + "/ca.pem";
        o.mta_sts.tls.ca_file = o.tls.ca_file;
        o.mta_sts.address = "127.0.0.1";
        o.mta_sts.port = https.empty() ? std::uint16_t(1) : static_cast<std::uint16_t>(std::stoi(env("SMTP_TEST_" + https + "_PORT")));
        o.mta_sts.timeout = 5s;
        o.seed = 1;
        return o;
    }

    smtp::delivery_report send(std::vector<std::string> to, const smtp::deliver_options& o,
                               const std::string& from = "sender@example.org")
    {
        return smtp::deliver(resolver, from, to, message, o);
    }
};

/// How many messages each server has stored so far.
struct stores {
    std::size_t good = live::records("GOOD").size(), forged = live::records("FORGED").size(),
                plain = live::records("PLAIN").size(), sts = live::records("STS").size(),
                wrong = live::records("WRONG").size(), drop = live::records("DROP").size();
    friend bool operator==(const stores&, const stores&) = default;
};

std::vector<std::string> since(const std::string& server, std::size_t before)
{
    auto all = live::records(server);
    return {all.begin() + static_cast<std::ptrdiff_t>(before), all.end()};
}

bool tried(const smtp::domain_report& d, const std::string& host, smtp::error_code ec)
{
    return std::any_of(d.attempts.begin(), d.attempts.end(),
                       [&](const smtp::host_attempt& a) { return a.host == host && a.error == ec; });
}

std::string attempts_of(const smtp::domain_report& d)
{
    std::string s;
    for (const auto& a : d.attempts)
        s += a.host + "@" + a.address + ": " + (a.error ? a.detail : std::string("ok")) + "; ";
    return s;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(dane_ee_matching_delivers_and_names_the_record, fixture)
{
    const stores before;
    const auto r = send({"rcpt@dane.test"}, options());
    BOOST_REQUIRE_EQUAL(r.recipients.size(), 1u);
    const auto& x = r.recipients[0];
    BOOST_TEST((x.outcome == delivery::outcome::delivered), attempts_of(r.domains[0]) << x.error.message());
    BOOST_TEST(x.mx_host == "mx.dane.test");
    BOOST_TEST(x.mx_address == "127.0.0.2");
    BOOST_TEST((x.protection == delivery::protection::dane_authenticated));
    BOOST_REQUIRE(x.dane_match.has_value());
    BOOST_TEST(x.dane_match->record.usage == 3);
    BOOST_TEST(x.dane_match->record.selector == 1);
    BOOST_TEST(x.dane_match->depth == 0);
    BOOST_REQUIRE(x.server_reply.has_value());
    BOOST_TEST(x.server_reply->code().value() == 250u);
    BOOST_TEST(r.domains[0].mx_secure);
    const auto got = since("GOOD", before.good);
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_TEST(live::contains(got[0], "rcpt@dane.test"));
    BOOST_TEST(live::contains(got[0], "\"tls\": true"));
    // The same from an smtp::message (written out once for every domain).
    smtp::message m;
    m.from({"Sender", "sender@example.org"}).to({"", "rcpt@dane.test"}).subject("built").text("Hello.\n");
    const std::vector<std::string> to{"rcpt@dane.test"};
    const auto b = smtp::deliver(resolver, "sender@example.org", to, m, options());
    BOOST_TEST((b.recipients[0].outcome == delivery::outcome::delivered));
    const auto more = since("GOOD", before.good);
    BOOST_REQUIRE_EQUAL(more.size(), 2u);
    BOOST_TEST(live::contains(live::recorded_data(more[1]), "Subject: built"));
}

BOOST_FIXTURE_TEST_CASE(postfix_as_the_mx_under_dane, fixture)
{
    // (The test Postfix takes senders of its own domain only.)
    const auto r = send({"rcpt@pf.test"}, options(), "sender@pf.test");
    const auto& x = r.recipients[0];
    BOOST_TEST((x.outcome == delivery::outcome::delivered), attempts_of(r.domains[0]) << x.error.message());
    BOOST_TEST(x.mx_host == "mx.pf.test");
    BOOST_TEST(x.mx_address == "127.0.0.8");
    BOOST_TEST((x.protection == delivery::protection::dane_authenticated));
    BOOST_REQUIRE(x.server_reply.has_value());
    BOOST_TEST(x.server_reply->status().has_value()); // Postfix's 250 2.0.0 Ok: queued as ...
    // Postfix delivers it into the maildir of "rcpt" (asynchronously: wait a little).
    const auto dir = std::filesystem::path(env("SMTP_TEST_PF_MAILDIR")) / "rcpt" / "new";
    bool there = false;
    for (int i = 0; i < 100 && !there; ++i) {
        there = std::filesystem::exists(dir) && !std::filesystem::is_empty(dir);
        if (!there)
            std::this_thread::sleep_for(50ms);
    }
    BOOST_TEST(there, dir);
}

BOOST_FIXTURE_TEST_CASE(a_forged_first_mx_is_passed_over_for_the_matching_second, fixture)
{
    const stores before;
    const auto r = send({"rcpt@danefail.test"}, options());
    const auto& x = r.recipients[0];
    BOOST_TEST((x.outcome == delivery::outcome::delivered), attempts_of(r.domains[0]));
    BOOST_TEST(x.mx_host == "mx2.danefail.test");
    BOOST_TEST((x.protection == delivery::protection::dane_authenticated));
    BOOST_TEST(tried(r.domains[0], "mx1.danefail.test", smtp::tls_errc::dane_mismatch), attempts_of(r.domains[0]));
    BOOST_TEST(live::records("FORGED").size() == before.forged); // the forger stored nothing
    BOOST_TEST(live::records("GOOD").size() == before.good + 1);
}

BOOST_FIXTURE_TEST_CASE(under_dane_a_forged_key_and_a_stripped_starttls_deliver_nothing, fixture)
{
    const stores before;
    const auto r = send({"one@daneall.test", "two@daneall.test"}, options());
    for (const auto& x : r.recipients) {
        BOOST_TEST((x.outcome == delivery::outcome::deferred), attempts_of(r.domains[0]));
        BOOST_TEST((x.error == smtp::errc::starttls_not_offered), x.error.message()); // the last host's
    }
    BOOST_TEST(tried(r.domains[0], "mx1.daneall.test", smtp::tls_errc::dane_mismatch), attempts_of(r.domains[0]));
    BOOST_TEST(tried(r.domains[0], "mx2.daneall.test", smtp::errc::starttls_not_offered), attempts_of(r.domains[0]));
    BOOST_TEST((stores{} == before)); // nothing stored anywhere
}

BOOST_FIXTURE_TEST_CASE(mta_sts_enforce_skips_an_unlisted_mx, fixture)
{
    const stores before;
    const auto r = send({"rcpt@sts.test"}, options("STSENF"));
    const auto& x = r.recipients[0];
    BOOST_TEST((x.outcome == delivery::outcome::delivered), attempts_of(r.domains[0]) << x.error.message());
    BOOST_TEST(x.mx_host == "mx1.sts.test");
    BOOST_TEST((x.protection == delivery::protection::mta_sts_enforced));
    BOOST_TEST((x.mta_sts_mode == smtp::mta_sts::mode::enforce));
    BOOST_TEST(r.domains[0].mta_sts_policy.has_value(), r.domains[0].mta_sts_fetch_error.message());
    // rogue.sts.test (preference 5, before mx1) is not in the policy: no connection.
    BOOST_TEST(tried(r.domains[0], "rogue.sts.test", smtp::mta_sts::errc::mx_not_in_policy));
    BOOST_TEST(r.domains[0].attempts.front().address.empty());
    BOOST_TEST(live::records("GOOD").size() == before.good);
    BOOST_TEST(live::records("STS").size() == before.sts + 1);
}

BOOST_FIXTURE_TEST_CASE(mta_sts_enforce_a_wrong_name_and_a_stripped_starttls_deliver_nothing, fixture)
{
    const stores before;
    const auto r = send({"rcpt@stsbad.test"}, options("STSBAD"));
    const auto& x = r.recipients[0];
    BOOST_TEST((x.outcome == delivery::outcome::deferred), attempts_of(r.domains[0]));
    BOOST_TEST((x.error == smtp::errc::starttls_not_offered), x.error.message());
    const auto& a = r.domains[0].attempts;
    BOOST_REQUIRE_GE(a.size(), 2u);
    BOOST_TEST(a[0].host == "mx1.stsbad.test");
    BOOST_TEST((a[0].error.category() == smtp::x509_category()), a[0].detail); // the name check
    BOOST_TEST(tried(r.domains[0], "mx2.stsbad.test", smtp::errc::starttls_not_offered));
    BOOST_TEST((stores{} == before));
}

BOOST_FIXTURE_TEST_CASE(mta_sts_testing_delivers_and_reports_the_failure, fixture)
{
    const stores before;
    const auto r = send({"rcpt@ststest.test"}, options("STSTEST"));
    const auto& x = r.recipients[0];
    BOOST_TEST((x.outcome == delivery::outcome::delivered), attempts_of(r.domains[0]));
    BOOST_TEST(x.mx_host == "mx1.ststest.test");
    BOOST_TEST((x.mta_sts_mode == smtp::mta_sts::mode::testing));
    BOOST_TEST((x.mta_sts_report.category() == smtp::x509_category()), x.mta_sts_report.message());
    BOOST_TEST((x.protection == delivery::protection::tls_unverified)); // not what the policy asked for
    BOOST_TEST(live::records("WRONG").size() == before.wrong + 1);
}

BOOST_FIXTURE_TEST_CASE(an_insecure_zone_gets_opportunistic_tls_reported_unprotected, fixture)
{
    const stores before;
    const auto r = send({"rcpt@deliv.insecure.test"}, options());
    const auto& x = r.recipients[0];
    BOOST_TEST((x.outcome == delivery::outcome::delivered), attempts_of(r.domains[0]));
    BOOST_TEST(!r.domains[0].mx_secure);
    BOOST_TEST((x.protection == delivery::protection::tls_unverified));
    BOOST_TEST(!x.dane_match.has_value());
    BOOST_TEST((x.mta_sts_mode == smtp::mta_sts::mode::none));
    const auto got = since("GOOD", before.good);
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_TEST(live::contains(got[0], "\"tls\": true"));
}

BOOST_FIXTURE_TEST_CASE(an_unsigned_domain_hosted_on_signed_mx_hosts_still_gets_dane, fixture)
{
    // RFC 7672 2.2.1: the MX answer of hosted.insecure.test is insecure, but
    // its MX hosts live in a signed zone with secure addresses and TLSA
    // records: DANE applies to them (with the MX host as the only reference
    // name), so the forger at the first is passed over, not given the
    // message under opportunistic TLS.
    const stores before;
    const auto r = send({"rcpt@hosted.insecure.test"}, options());
    const auto& x = r.recipients[0];
    BOOST_TEST(!r.domains[0].mx_secure);
    BOOST_TEST((x.outcome == delivery::outcome::delivered), attempts_of(r.domains[0]));
    BOOST_TEST(x.mx_host == "mx2.provider.test");
    BOOST_TEST((x.protection == delivery::protection::dane_authenticated));
    BOOST_TEST(tried(r.domains[0], "mx1.provider.test", smtp::tls_errc::dane_mismatch), attempts_of(r.domains[0]));
    BOOST_TEST(live::records("FORGED").size() == before.forged);
    BOOST_TEST(live::records("GOOD").size() == before.good + 1);
}

BOOST_FIXTURE_TEST_CASE(null_mx_no_address_and_bogus_domains_make_no_connection, fixture)
{
    const stores before;
    const auto r = send({"a@nullmx.test", "b@expired.test", "c@txt.test"}, options());
    BOOST_TEST((r.recipients[0].outcome == delivery::outcome::refused));
    BOOST_TEST((r.recipients[0].error == smtp::mx::errc::null_mx));
    BOOST_TEST((r.recipients[1].outcome == delivery::outcome::deferred));
    BOOST_TEST((r.recipients[1].error == dns::errc::bogus), r.recipients[1].error.message());
    // No MX and no address (txt.test has TXT records only): refused.
    BOOST_TEST((r.recipients[2].outcome == delivery::outcome::refused));
    BOOST_TEST((r.recipients[2].error == dns::errc::no_data), r.recipients[2].error.message());
    BOOST_REQUIRE_EQUAL(r.domains.size(), 3u);
    BOOST_TEST(r.domains[0].attempts.empty());
    BOOST_TEST(r.domains[1].attempts.empty());
    BOOST_REQUIRE_EQUAL(r.domains[2].attempts.size(), 1u);
    BOOST_TEST(r.domains[2].attempts[0].address.empty()); // no connection
    BOOST_TEST((stores{} == before));
}

BOOST_FIXTURE_TEST_CASE(two_domains_each_to_its_own_mx_one_an_implicit_mx, fixture)
{
    const stores before;
    const auto r = send({"x@dane.test", "y@implicit.test"}, options());
    BOOST_REQUIRE_EQUAL(r.domains.size(), 2u);
    BOOST_TEST((r.recipients[0].outcome == delivery::outcome::delivered));
    BOOST_TEST(r.recipients[0].mx_address == "127.0.0.2");
    BOOST_TEST((r.recipients[1].outcome == delivery::outcome::delivered), attempts_of(r.domains[1]));
    BOOST_TEST(r.recipients[1].mx_host == "implicit.test"); // no MX: the domain's own A record
    BOOST_TEST(r.recipients[1].mx_address == "127.0.0.6");
    BOOST_TEST((r.recipients[1].protection == delivery::protection::tls_unverified));
    BOOST_TEST(r.all_delivered());
    BOOST_TEST(live::records("GOOD").size() == before.good + 1);
    BOOST_TEST(live::records("WRONG").size() == before.wrong + 1);
}

BOOST_FIXTURE_TEST_CASE(an_mx_that_does_not_answer_is_passed_over, fixture)
{
    // mx1.down.test is 127.0.0.9, where nothing listens.
    const stores before;
    const auto r = send({"rcpt@down.test"}, options());
    BOOST_TEST((r.recipients[0].outcome == delivery::outcome::delivered), attempts_of(r.domains[0]));
    BOOST_TEST(r.recipients[0].mx_host == "mx2.down.test");
    BOOST_REQUIRE_EQUAL(r.domains[0].attempts.size(), 2u);
    BOOST_TEST(r.domains[0].attempts[0].address == "127.0.0.9");
    BOOST_TEST((r.domains[0].attempts[0].error == boost::asio::error::connection_refused),
               r.domains[0].attempts[0].detail);
    BOOST_TEST(live::records("GOOD").size() == before.good + 1);
}

BOOST_FIXTURE_TEST_CASE(a_4xx_greeting_moves_on_to_the_next_mx, fixture)
{
    // mx1.busy.test greets with 421 and closes (banner_server.py).
    const stores before;
    const auto r = send({"rcpt@busy.test"}, options());
    BOOST_TEST((r.recipients[0].outcome == delivery::outcome::delivered), attempts_of(r.domains[0]));
    BOOST_TEST(r.recipients[0].mx_host == "mx2.busy.test");
    BOOST_REQUIRE_GE(r.domains[0].attempts.size(), 2u);
    const auto& first = r.domains[0].attempts[0];
    BOOST_TEST(first.host == "mx1.busy.test");
    BOOST_TEST(!!first.error);
    BOOST_REQUIRE(first.server_reply.has_value());
    BOOST_TEST(first.server_reply->code().value() == 421u, first.detail);
    BOOST_TEST(live::records("GOOD").size() == before.good + 1);
}

BOOST_FIXTURE_TEST_CASE(a_5xx_rcpt_at_the_first_host_is_final, fixture)
{
    const stores before;
    const auto r = send({"bad@refuse.test", "good@refuse.test"}, options());
    BOOST_TEST((r.recipients[0].outcome == delivery::outcome::refused));
    BOOST_TEST((r.recipients[0].error == smtp::errc::permanent_failure));
    BOOST_REQUIRE(r.recipients[0].server_reply.has_value());
    BOOST_TEST(r.recipients[0].server_reply->code().value() == 550u);
    BOOST_TEST(r.recipients[0].mx_host == "mx1.refuse.test");
    BOOST_TEST((r.recipients[1].outcome == delivery::outcome::delivered));
    BOOST_TEST(r.domains[0].attempts.size() == 1u, attempts_of(r.domains[0])); // never the second host
    BOOST_TEST(live::records("STS").size() == before.sts);
    const auto got = since("GOOD", before.good);
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_TEST(!live::contains(got[0], "bad@refuse.test"));
}

BOOST_FIXTURE_TEST_CASE(a_connection_lost_after_the_data_is_unknown_and_never_resent, fixture)
{
    const stores before;
    const auto r = send({"one@lost.test", "two@lost.test"}, options());
    for (const auto& x : r.recipients) {
        BOOST_TEST((x.outcome == delivery::outcome::unknown), attempts_of(r.domains[0]));
        BOOST_TEST((x.error == smtp::errc::outcome_unknown), x.error.message());
        BOOST_TEST(x.mx_host == "mx1.lost.test");
    }
    BOOST_TEST(r.domains[0].attempts.size() == 1u, attempts_of(r.domains[0])); // mx2 never tried
    BOOST_TEST(live::records("DROP").size() == before.drop + 1); // the first host has it
    BOOST_TEST(live::records("GOOD").size() == before.good);     // and no second copy went out
}

BOOST_FIXTURE_TEST_CASE(bad_input_is_refused_before_any_lookup, fixture)
{
    const stores before;
    smtp::error_code ec;
    smtp::diagnostics diag;
    const std::vector<std::string> nodomain{"nobody"};
    auto r = smtp::deliver(resolver, "sender@example.org", nodomain, message, options(), ec, diag);
    BOOST_TEST(!!ec);
    BOOST_TEST(r.recipients.empty());
    const std::vector<std::string> crlf{"a@dane.test\r\nRSET"};
    r = smtp::deliver(resolver, "sender@example.org", crlf, message, options(), ec, diag);
    BOOST_TEST(!!ec);
    const std::vector<std::string> literal{"a@[127.0.0.2]"};
    r = smtp::deliver(resolver, "sender@example.org", literal, message, options(), ec, diag);
    BOOST_TEST((ec == smtp::errc::invalid_domain), ec.message());
    const std::vector<std::string> none;
    BOOST_CHECK_THROW(smtp::deliver(resolver, "sender@example.org", none, message, options()),
                      smtp::error_with_diagnostics);
    BOOST_TEST((stores{} == before));
}

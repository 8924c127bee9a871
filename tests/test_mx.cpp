// MX selection (protocol/mx.hpp), DNS RDATA parsing (protocol/dns.hpp) and
// the delivery rules over them (protocol/delivery.hpp): no Asio, no
// libunbound (ctest mx_selection_has_no_io_headers).
#include <smtp/protocol/mx.hpp>
#include <smtp/protocol/delivery.hpp>
#include <smtp/protocol/dns.hpp>

#define BOOST_TEST_MODULE test_mx
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace dns = smtp::dns;
namespace mx = smtp::mx;

namespace {

std::vector<std::string> names(const mx::plan& p)
{
    std::vector<std::string> out;
    for (const auto& h : p.hosts)
        out.push_back(h.name);
    return out;
}

mx::plan must_select(std::span<const dns::mx_record> rs, unsigned seed, bool secure = true)
{
    std::mt19937 rng(seed);
    mx::plan p;
    const auto ec = mx::select("example.test", rs, secure, rng, p);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    return p;
}

} // namespace

BOOST_AUTO_TEST_CASE(by_preference_and_random_among_equals)
{
    const std::vector<dns::mx_record> rs{{20, "c.example.test"}, {10, "a.example.test"}, {30, "d.example.test"},
                                         {10, "b.example.test"}};
    std::set<std::vector<std::string>> orders;
    for (unsigned seed = 0; seed < 64; ++seed) {
        const auto p = must_select(rs, seed);
        const auto n = names(p);
        BOOST_TEST_REQUIRE(n.size() == 4u);
        BOOST_TEST((n[0] == "a.example.test" || n[0] == "b.example.test"));
        BOOST_TEST((n[1] == "a.example.test" || n[1] == "b.example.test"));
        BOOST_TEST(n[0] != n[1]);
        BOOST_TEST(n[2] == "c.example.test");
        BOOST_TEST(n[3] == "d.example.test");
        BOOST_TEST(p.hosts[0].preference == 10);
        BOOST_TEST(!p.hosts[0].implicit);
        orders.insert(n);
    }
    BOOST_TEST(orders.size() == 2u); // both orders of the equal pair occur
}

BOOST_AUTO_TEST_CASE(the_random_source_decides_and_is_injectable)
{
    // Two generators in the same state give the same order: the order is
    // the generator's alone (a constant generator would do, but can make a
    // uniform distribution's rejection loop endless).
    const std::vector<dns::mx_record> rs{{10, "a.test"}, {10, "b.test"}, {10, "c.test"}, {10, "d.test"}};
    for (unsigned seed = 0; seed < 8; ++seed) {
        std::minstd_rand g1(seed), g2(seed);
        mx::plan p1, p2;
        BOOST_TEST(!mx::select("d.test", rs, false, g1, p1));
        BOOST_TEST(!mx::select("d.test", rs, false, g2, p2));
        BOOST_TEST(names(p1) == names(p2));
    }
}

BOOST_AUTO_TEST_CASE(no_mx_is_the_implicit_mx)
{
    std::mt19937 rng(1);
    mx::plan p;
    BOOST_TEST(!mx::select("Implicit.Test", std::span<const dns::mx_record>{}, true, rng, p));
    BOOST_TEST_REQUIRE(p.hosts.size() == 1u);
    BOOST_TEST(p.hosts[0].name == "Implicit.Test");
    BOOST_TEST(p.hosts[0].implicit);
    BOOST_TEST(p.secure);

    // from a resolver's NODATA answer: the same, with its security
    dns::answer<dns::mx_record> a;
    a.error = dns::errc::no_data;
    a.dnssec = dns::security::insecure;
    mx::plan q;
    BOOST_TEST(!mx::select("implicit.test", a, rng, q));
    BOOST_TEST(q.hosts.at(0).implicit);
    BOOST_TEST(!q.secure);
}

BOOST_AUTO_TEST_CASE(null_mx_is_a_permanent_refusal)
{
    std::mt19937 rng(1);
    const std::vector<dns::mx_record> rs{{0, "."}};
    mx::plan p;
    p.domain = "unchanged";
    const auto ec = mx::select("nullmx.test", rs, true, rng, p);
    BOOST_TEST((ec == mx::errc::null_mx));
    BOOST_TEST(ec.category().name() == std::string("smtp.mx"));
    BOOST_TEST(p.domain == "unchanged");
}

BOOST_AUTO_TEST_CASE(root_and_addresses_among_others_are_left_out)
{
    const std::vector<dns::mx_record> rs{{0, "."}, {5, "192.0.2.1"}, {6, "[192.0.2.2]"}, {7, "2001:db8::1"},
                                         {10, "mx.example.test"}, {10, "MX.example.test"}, {20, "1.2.3.example.test"}};
    const auto p = must_select(rs, 3);
    BOOST_TEST((names(p) == std::vector<std::string>{"mx.example.test", "1.2.3.example.test"}));
    BOOST_TEST((p.ignored == std::vector<std::string>{".", "192.0.2.1", "[192.0.2.2]", "2001:db8::1"}));

    std::mt19937 rng(1);
    const std::vector<dns::mx_record> only_bad{{10, "192.0.2.1"}, {20, "."}};
    mx::plan q;
    BOOST_TEST((mx::select("x.test", only_bad, true, rng, q) == mx::errc::no_usable_exchange));
    // a "." of another preference than 0 is not the null MX, and names no host
    const std::vector<dns::mx_record> dot10{{10, "."}};
    BOOST_TEST((mx::select("x.test", dot10, true, rng, q) == mx::errc::no_usable_exchange));
}

BOOST_AUTO_TEST_CASE(duplicate_exchange_kept_once_at_its_lowest_preference)
{
    const std::vector<dns::mx_record> rs{{30, "a.test"}, {20, "b.test"}, {10, "A.test"}};
    const auto p = must_select(rs, 0);
    BOOST_TEST((names(p) == std::vector<std::string>{"a.test", "b.test"}));
    BOOST_TEST(p.hosts[0].preference == 10);
}

BOOST_AUTO_TEST_CASE(dns_errors_pass_through_selection)
{
    std::mt19937 rng(1);
    for (auto e : {dns::errc::nxdomain, dns::errc::server_failure, dns::errc::bogus, dns::errc::timeout}) {
        dns::answer<dns::mx_record> a;
        a.error = e;
        mx::plan p;
        BOOST_TEST((mx::select("x.test", a, rng, p) == e));
        BOOST_TEST(p.hosts.empty());
    }
    dns::answer<dns::mx_record> a;
    a.records = {{10, "mx.x.test"}};
    a.dnssec = dns::security::secure;
    mx::plan p;
    BOOST_TEST(!mx::select("x.test", a, rng, p));
    BOOST_TEST(p.secure);
    BOOST_TEST(names(p) == std::vector<std::string>{"mx.x.test"});
}

BOOST_AUTO_TEST_CASE(recipients_grouped_by_domain_case_insensitively)
{
    const std::vector<std::string> rcpts{"a@Example.TEST", "b@other.test", "C@example.test", "\"x@y\"@other.TEST"};
    std::vector<mx::domain_group> groups;
    std::size_t bad = 99;
    BOOST_TEST(!mx::group_by_domain(std::span<const std::string>(rcpts), groups, bad));
    BOOST_TEST_REQUIRE(groups.size() == 2u);
    BOOST_TEST(groups[0].domain == "Example.TEST");
    BOOST_TEST((groups[0].recipients == std::vector<std::size_t>{0, 2}));
    BOOST_TEST(groups[1].domain == "other.test");
    BOOST_TEST((groups[1].recipients == std::vector<std::size_t>{1, 3}));

    const std::vector<std::string_view> broken{"a@x.test", "nodomain", "c@x.test"};
    groups.clear();
    BOOST_TEST((mx::group_by_domain(std::span<const std::string_view>(broken), groups, bad) == mx::errc::no_domain));
    BOOST_TEST(bad == 1u);
    BOOST_TEST(groups.empty());
    const std::vector<std::string_view> empty_domain{"a@"};
    BOOST_TEST((mx::group_by_domain(std::span<const std::string_view>(empty_domain), groups, bad) == mx::errc::no_domain));
}

BOOST_AUTO_TEST_CASE(rdata_mx_and_names)
{
    const std::vector<std::uint8_t> wire{0, 10, 2, 'm', 'x', 4, 't', 'e', 's', 't', 0};
    dns::mx_record r;
    BOOST_TEST(dns::parse_mx(wire, r));
    BOOST_TEST(r.preference == 10);
    BOOST_TEST(r.exchange == "mx.test");

    const std::vector<std::uint8_t> null_mx{0, 0, 0};
    BOOST_TEST(dns::parse_mx(null_mx, r));
    BOOST_TEST(r.exchange == ".");
    BOOST_TEST(r.preference == 0);

    // escapes: a dot and a control byte inside a label
    const std::vector<std::uint8_t> odd{0, 1, 3, 'a', '.', 1, 0};
    BOOST_TEST(dns::parse_mx(odd, r));
    BOOST_TEST(r.exchange == "a\\.\\001");

    r = {7, "kept"};
    const std::vector<std::uint8_t> compressed{0, 10, 0xC0, 12};
    BOOST_TEST(!dns::parse_mx(compressed, r));
    const std::vector<std::uint8_t> trailing{0, 10, 0, 1};
    BOOST_TEST(!dns::parse_mx(trailing, r));
    const std::vector<std::uint8_t> truncated{0, 10, 5, 'a'};
    BOOST_TEST(!dns::parse_mx(truncated, r));
    BOOST_TEST(r.exchange == "kept");
}

BOOST_AUTO_TEST_CASE(rdata_tlsa_txt_addresses)
{
    const std::vector<std::uint8_t> tlsa{3, 1, 1, 0xAB, 0xCD};
    smtp::dane::tlsa_record t;
    BOOST_TEST(dns::parse_tlsa(tlsa, t));
    BOOST_TEST((t == smtp::dane::tlsa_record{3, 1, 1, {0xAB, 0xCD}}));
    const std::vector<std::uint8_t> short_tlsa{3, 1, 1};
    BOOST_TEST(!dns::parse_tlsa(short_tlsa, t));

    const std::vector<std::uint8_t> txt{3, 'a', 'b', 'c', 0, 2, 'd', 'e'};
    std::string s;
    BOOST_TEST(dns::parse_txt(txt, s));
    BOOST_TEST(s == "abcde");
    const std::vector<std::uint8_t> bad_txt{5, 'a'};
    BOOST_TEST(!dns::parse_txt(bad_txt, s));

    std::array<std::uint8_t, 4> a4{};
    const std::vector<std::uint8_t> four{127, 0, 0, 2};
    BOOST_TEST(dns::parse_address(four, a4));
    BOOST_TEST(a4[3] == 2);
    std::array<std::uint8_t, 16> a6{};
    BOOST_TEST(!dns::parse_address(four, a6));
}

BOOST_AUTO_TEST_CASE(query_names_checked)
{
    BOOST_TEST(dns::valid_query_name("mx.example.test"));
    BOOST_TEST(dns::valid_query_name("mx.example.test."));
    BOOST_TEST(dns::valid_query_name("_25._tcp.mx.test"));
    BOOST_TEST(!dns::valid_query_name(""));
    BOOST_TEST(!dns::valid_query_name("."));
    BOOST_TEST(!dns::valid_query_name("a..b"));
    BOOST_TEST(!dns::valid_query_name("a b.test"));
    BOOST_TEST(!dns::valid_query_name("a\nb.test"));
    BOOST_TEST(!dns::valid_query_name(std::string(64, 'a') + ".test"));
    BOOST_TEST(dns::valid_query_name(std::string(63, 'a') + ".test"));
    std::string long_name;
    for (int i = 0; i < 64; ++i)
        long_name += "abc.";
    BOOST_TEST(!dns::valid_query_name(long_name + "x"));
    BOOST_TEST((make_error_code(dns::errc::bogus).category().name() == std::string("smtp.dns")));
}

// --- The delivery rules (protocol/delivery.hpp) ------------------------------
namespace {

namespace delivery = smtp::delivery;
namespace dane = smtp::dane;
namespace sts = smtp::mta_sts;

dane::tlsa_record ee_record() { return {3, 1, 1, std::vector<std::uint8_t>(32, 0xab)}; }

sts::policy policy_of(sts::mode m)
{
    sts::policy p;
    p.mode = m;
    p.max_age = 86400;
    p.mx = {"mx1.example.test"};
    return p;
}

smtp::reply rep(std::string raw)
{
    const unsigned code = static_cast<unsigned>(std::stoi(raw.substr(0, 3)));
    raw += "\r\n";
    return smtp::reply(smtp::reply_view(smtp::reply_code(code), raw, 1));
}

smtp::transaction_result txn(smtp::transaction_outcome o, std::string mail, std::vector<std::string> rcpts,
                             std::string data = {}, std::string final_reply = {})
{
    smtp::transaction_result r;
    r.outcome = o;
    if (!mail.empty())
        r.mail_reply = rep(mail);
    for (auto& x : rcpts) {
        smtp::recipient_result rr;
        rr.address = "r@example.test";
        if (!x.empty())
            rr.rcpt_reply = rep(x);
        r.recipients.push_back(std::move(rr));
    }
    if (!data.empty())
        r.data_reply = rep(data);
    if (!final_reply.empty())
        r.final_reply = rep(final_reply);
    return r;
}

std::vector<delivery::outcome> outcomes(const smtp::transaction_result& r)
{
    std::vector<delivery::outcome> out;
    for (const auto& v : delivery::settle(r))
        out.push_back(v.what);
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(dane_decides_before_mta_sts)
{
    const auto enforce = policy_of(sts::mode::enforce);
    // A secure TLSA RRset with a usable record: DANE, whatever the policy
    // says of the host (RFC 8461 2), even a host it does not list.
    const auto d = dane::decide(dane::lookup::secure, {ee_record()}, {"mx9.example.test"});
    auto r = delivery::rules_for(d, {}, sts::decide(&enforce, "mx9.example.test"), delivery::baseline::opportunistic_tls);
    BOOST_TEST(r.use_host);
    BOOST_TEST((r.tls == delivery::tls_requirement::required));
    BOOST_TEST((r.check == delivery::certificate_check::dane));
    BOOST_TEST((r.dane.mode == dane::mode::authenticate));
    BOOST_TEST((r.sts_mode == sts::mode::none));
    BOOST_TEST((delivery::achieved(r, true, true) == delivery::protection::dane_authenticated));
    BOOST_TEST((delivery::achieved(r, false, false) == delivery::protection::none));
    // A secure RRset of unusable records: TLS required, nothing checked.
    const auto u = dane::decide(dane::lookup::secure, {{0, 0, 1, std::vector<std::uint8_t>(32, 1)}}, {"mx1.example.test"});
    r = delivery::rules_for(u, {}, sts::decide(&enforce, "mx1.example.test"), delivery::baseline::opportunistic_tls);
    BOOST_TEST((r.tls == delivery::tls_requirement::required));
    BOOST_TEST((r.check == delivery::certificate_check::none));
    BOOST_TEST((r.dane.mode == dane::mode::encrypt_only));
    BOOST_TEST((delivery::achieved(r, true, false) == delivery::protection::dane_encrypted));
    // A failed TLSA lookup: the host is not used, with the lookup's error.
    const auto f = dane::decide(dane::lookup::failed, {}, {});
    r = delivery::rules_for(f, smtp::dns::errc::bogus, sts::decide(nullptr, "mx1.example.test"),
                            delivery::baseline::opportunistic_tls);
    BOOST_TEST(!r.use_host);
    BOOST_TEST((r.skip == smtp::dns::errc::bogus));
}

BOOST_AUTO_TEST_CASE(mta_sts_and_the_baseline_without_dane)
{
    const auto off = dane::decide(dane::lookup::absent, {}, {});
    const auto enforce = policy_of(sts::mode::enforce);
    const auto testing = policy_of(sts::mode::testing);
    // enforce, a listed host: TLS required, PKIX for the name.
    auto r = delivery::rules_for(off, {}, sts::decide(&enforce, "MX1.example.test."), delivery::baseline::opportunistic_tls);
    BOOST_TEST(r.use_host);
    BOOST_TEST((r.tls == delivery::tls_requirement::required));
    BOOST_TEST((r.check == delivery::certificate_check::pkix));
    BOOST_TEST(!r.report_only);
    BOOST_TEST((delivery::achieved(r, true, true) == delivery::protection::mta_sts_enforced));
    // enforce, a host it does not list: skipped, no connection.
    r = delivery::rules_for(off, {}, sts::decide(&enforce, "rogue.example.test"), delivery::baseline::opportunistic_tls);
    BOOST_TEST(!r.use_host);
    BOOST_TEST((r.skip == sts::errc::mx_not_in_policy));
    // testing: opportunistic, PKIX checked and reported; an unlisted host is
    // tried, with the failure to report.
    r = delivery::rules_for(off, {}, sts::decide(&testing, "rogue.example.test"), delivery::baseline::require_tls);
    BOOST_TEST(r.use_host);
    BOOST_TEST((r.tls == delivery::tls_requirement::opportunistic));
    BOOST_TEST(r.report_only);
    BOOST_TEST((r.sts_report == sts::errc::mx_not_in_policy));
    BOOST_TEST((delivery::achieved(r, true, true) == delivery::protection::mta_sts_testing));
    BOOST_TEST((delivery::achieved(r, true, false) == delivery::protection::tls_unverified));
    BOOST_TEST((delivery::achieved(r, false, false) == delivery::protection::none));
    // Neither (an insecure TLSA answer counts as none): the baseline.
    const auto insecure = dane::decide(dane::lookup::insecure, {ee_record()}, {});
    r = delivery::rules_for(insecure, {}, sts::decide(nullptr, "mx1.example.test"), delivery::baseline::opportunistic_tls);
    BOOST_TEST((r.tls == delivery::tls_requirement::opportunistic));
    BOOST_TEST((r.check == delivery::certificate_check::none));
    BOOST_TEST((r.dane.mode == dane::mode::off));
    BOOST_TEST((delivery::achieved(r, true, true) == delivery::protection::tls_unverified));
    r = delivery::rules_for(insecure, {}, sts::decide(nullptr, "mx1.example.test"), delivery::baseline::require_tls);
    BOOST_TEST((r.tls == delivery::tls_requirement::required));
    BOOST_TEST(delivery::to_string(delivery::protection::dane_authenticated) == "dane_authenticated");
}

BOOST_AUTO_TEST_CASE(a_domain_without_hosts)
{
    BOOST_TEST((delivery::no_host(mx::errc::null_mx) == delivery::outcome::refused));
    BOOST_TEST((delivery::no_host(mx::errc::no_usable_exchange) == delivery::outcome::refused));
    BOOST_TEST((delivery::no_host(dns::errc::nxdomain) == delivery::outcome::refused));
    BOOST_TEST((delivery::no_host(dns::errc::bogus) == delivery::outcome::deferred));
    BOOST_TEST((delivery::no_host(dns::errc::server_failure) == delivery::outcome::deferred));
    BOOST_TEST((delivery::no_host(dns::errc::timeout) == delivery::outcome::deferred));
}

BOOST_AUTO_TEST_CASE(what_moves_on_and_what_is_final)
{
    using o = delivery::outcome;
    using t = smtp::transaction_outcome;
    // Queued: accepted recipients delivered, a 5yz RCPT refused, a 4yz RCPT
    // on to the next host.
    auto r = txn(t::queued, "250 ok", {"250 ok", "550 5.1.1 no", "450 4.2.1 later"}, "354 go", "250 queued");
    BOOST_TEST((outcomes(r) == std::vector<o>{o::delivered, o::refused, o::pending}));
    BOOST_TEST(delivery::settle(r)[0].server_reply.code().value() == 250u);
    BOOST_TEST(delivery::settle(r)[1].server_reply.status()->to_string() == "5.1.1");
    // MAIL: 4yz or no reply moves on, 5yz is final for everyone.
    BOOST_TEST((outcomes(txn(t::refused, "451 busy", {"", ""})) == std::vector<o>{o::pending, o::pending}));
    BOOST_TEST((outcomes(txn(t::not_sent, "", {""})) == std::vector<o>{o::pending}));
    BOOST_TEST((outcomes(txn(t::refused, "550 no", {"", ""})) == std::vector<o>{o::refused, o::refused}));
    // The data: a 5yz to DATA or to the final dot is final, a 4yz moves on,
    // and a 5yz RCPT stays refused beside them.
    BOOST_TEST((outcomes(txn(t::refused, "250 ok", {"250 ok", "550 no"}, "554 no data")) ==
                std::vector<o>{o::refused, o::refused}));
    BOOST_TEST((outcomes(txn(t::refused, "250 ok", {"250 ok"}, "354 go", "552 too big")) == std::vector<o>{o::refused}));
    BOOST_TEST((outcomes(txn(t::refused, "250 ok", {"250 ok"}, "354 go", "451 later")) == std::vector<o>{o::pending}));
    // The connection lost during the data, before the final dot: not sent, on.
    BOOST_TEST((outcomes(txn(t::not_sent, "250 ok", {"250 ok", "450 later"}, "354 go")) ==
                std::vector<o>{o::pending, o::pending}));
    // Lost after the final dot: unknown for the accepted recipients, never
    // tried again; the one refused with 4yz was never accepted and may go on.
    BOOST_TEST((outcomes(txn(t::unknown, "250 ok", {"250 ok", "450 later", "550 no"}, "354 go")) ==
                std::vector<o>{o::unknown, o::pending, o::refused}));
}

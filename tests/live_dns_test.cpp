// smtp::dns::resolver (libunbound) against the DNSSEC test bed: knotd serving
// the signed zones under test. on a free loopback port (tests/servers/
// dns_server.py, started by with_servers.py --dns). The trust anchor is the
// bed's SMTP_TEST_DNS_ANCHOR; nothing leaves the machine.
#include <smtp/dns/resolver.hpp>
#include <smtp/protocol/mx.hpp>
#include <smtp/cancellation.hpp>

#define BOOST_TEST_MODULE live_dns_test
#include <boost/test/unit_test.hpp>

#include <boost/asio/bind_executor.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#endif
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/io_context.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace dns = smtp::dns;
namespace mx = smtp::mx;
using namespace std::chrono_literals;

namespace {

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    BOOST_TEST_REQUIRE(v != nullptr, name << " is not set: run under with_servers.py --dns dns");
    return v;
}

dns::resolver_options bed(const std::string& anchor_file)
{
    dns::resolver_options o;
    o.resolv_conf = "";                 // no upstream but the bed
    o.stubs = {{"test.", {"127.0.0.1@" + env("SMTP_TEST_DNS_PORT")}}};
    o.trust_anchor_files = {anchor_file};
    o.root_anchor_file = "";            // only the bed's anchor
    o.nodefault_zones = {"test."};      // RFC 6761: unbound answers test. itself otherwise
    o.timeout = 10s;
    return o;
}

struct fixture {
    boost::asio::io_context io;
    dns::resolver r{io.get_executor(), bed(env("SMTP_TEST_DNS_ANCHOR"))};
};

std::multiset<std::pair<int, std::string>> as_set(const std::vector<dns::mx_record>& rs)
{
    std::multiset<std::pair<int, std::string>> s;
    for (const auto& r : rs)
        s.emplace(r.preference, r.exchange);
    return s;
}

/// SHA2-256 of the certificate (selector 0) or its SubjectPublicKeyInfo (1).
std::vector<std::uint8_t> cert_sha256(const std::string& pem_file, int selector)
{
    FILE* f = std::fopen(pem_file.c_str(), "r");
    BOOST_TEST_REQUIRE(f != nullptr, pem_file);
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    BOOST_TEST_REQUIRE(x != nullptr);
    unsigned char* der = nullptr;
    const int len = selector == 0 ? i2d_X509(x, &der) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    std::vector<std::uint8_t> md(32);
    unsigned int mdlen = 0;
    EVP_Digest(der, static_cast<std::size_t>(len), md.data(), &mdlen, EVP_sha256(), nullptr);
    OPENSSL_free(der);
    X509_free(x);
    return md;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(secure_mx_rrset_and_its_selection, fixture)
{
    const auto a = r.mx("multi.test");
    BOOST_TEST_REQUIRE(!a.error, a.error.message() << " " << a.why_bogus);
    BOOST_TEST((a.dnssec == dns::security::secure));
    BOOST_TEST((as_set(a.records) == std::multiset<std::pair<int, std::string>>{
                    {10, "mx1.multi.test"}, {10, "mx2.multi.test"}, {20, "mx3.multi.test"}, {30, "mx4.multi.test"}}));
    std::mt19937 rng(7);
    mx::plan p;
    BOOST_TEST_REQUIRE(!mx::select("multi.test", a, rng, p));
    BOOST_TEST(p.secure);
    BOOST_TEST_REQUIRE(p.hosts.size() == 4u);
    BOOST_TEST(p.hosts[2].name == "mx3.multi.test");
    BOOST_TEST(p.hosts[3].name == "mx4.multi.test");
}

BOOST_FIXTURE_TEST_CASE(addresses_and_an_alias, fixture)
{
    const auto a = r.a("mx1.multi.test");
    BOOST_TEST_REQUIRE(!a.error, a.error.message());
    BOOST_TEST(a.secure());
    BOOST_TEST_REQUIRE(a.records.size() == 1u);
    BOOST_TEST(a.records[0].to_string() == "127.0.0.2");
    BOOST_TEST(a.canonical_name.empty());

    const auto v6 = r.aaaa("mx1.multi.test");
    BOOST_TEST_REQUIRE(!v6.error, v6.error.message());
    BOOST_TEST(v6.secure());
    BOOST_TEST(v6.records.at(0).to_string() == "::1");

    // an MX exchange that is a CNAME: the lookup follows it, and says where to
    const auto alias = r.a("cname.alias.test");
    BOOST_TEST_REQUIRE(!alias.error, alias.error.message());
    BOOST_TEST(alias.secure());
    BOOST_TEST(alias.records.at(0).to_string() == "127.0.0.2");
    BOOST_TEST(alias.canonical_name == "mx1.multi.test");
}

BOOST_FIXTURE_TEST_CASE(null_mx_read_and_refused, fixture)
{
    const auto a = r.mx("nullmx.test");
    BOOST_TEST_REQUIRE(!a.error, a.error.message());
    BOOST_TEST(a.secure());
    BOOST_TEST((a.records == std::vector<dns::mx_record>{{0, "."}}));
    std::mt19937 rng(1);
    mx::plan p;
    BOOST_TEST((mx::select("nullmx.test", a, rng, p) == mx::errc::null_mx));
}

BOOST_FIXTURE_TEST_CASE(no_mx_is_nodata_and_the_implicit_mx, fixture)
{
    const auto a = r.mx("implicit.test");
    BOOST_TEST((a.error == dns::errc::no_data));
    BOOST_TEST(a.secure()); // a signed proof that there is no MX
    BOOST_TEST(a.records.empty());
    std::mt19937 rng(1);
    mx::plan p;
    BOOST_TEST_REQUIRE(!mx::select("implicit.test", a, rng, p));
    BOOST_TEST(p.hosts.at(0).implicit);
    BOOST_TEST(p.secure);
    const auto addr = r.a(p.hosts.at(0).name);
    BOOST_TEST_REQUIRE(!addr.error);
    BOOST_TEST(addr.records.at(0).to_string() == "127.0.0.6");

    const auto txt = r.txt("implicit.test");
    BOOST_TEST((txt.error == dns::errc::no_data));
}

BOOST_FIXTURE_TEST_CASE(nxdomain_is_proven, fixture)
{
    const auto a = r.mx("nothing-here.test");
    BOOST_TEST((a.error == dns::errc::nxdomain));
    BOOST_TEST(a.secure());
    std::mt19937 rng(1);
    mx::plan p;
    BOOST_TEST((mx::select("nothing-here.test", a, rng, p) == dns::errc::nxdomain));
}

BOOST_FIXTURE_TEST_CASE(tlsa_read_back_exactly, fixture)
{
    const auto a = r.tlsa("mx.mail.test", 25);
    BOOST_TEST_REQUIRE(!a.error, a.error.message());
    BOOST_TEST(a.secure());
    BOOST_TEST(a.name == "_25._tcp.mx.mail.test");
    const std::string certs = env("SMTP_TEST_CERTS");
    const smtp::dane::tlsa_record ee{3, 1, 1, cert_sha256(certs + "/server.pem", 1)};
    const smtp::dane::tlsa_record ta{2, 0, 1, cert_sha256(certs + "/ca.pem", 0)};
    BOOST_TEST_REQUIRE(a.records.size() == 2u);
    BOOST_TEST((std::count(a.records.begin(), a.records.end(), ee) == 1));
    BOOST_TEST((std::count(a.records.begin(), a.records.end(), ta) == 1));

    const auto none = r.tlsa("mx1.multi.test", 25);
    BOOST_TEST((none.error == dns::errc::nxdomain || none.error == dns::errc::no_data));
    BOOST_TEST(none.secure()); // a secure denial: DANE does not apply (RFC 7672 2.2)
}

BOOST_FIXTURE_TEST_CASE(txt_read_back_exactly, fixture)
{
    const auto sts = r.txt("_mta-sts.mail.test");
    BOOST_TEST_REQUIRE(!sts.error, sts.error.message());
    BOOST_TEST(sts.secure());
    BOOST_TEST((sts.records == std::vector<std::string>{"v=STSv1; id=20261207T000000;"}));

    const auto two = r.txt("txt.test");
    BOOST_TEST_REQUIRE(!two.error);
    BOOST_TEST((std::multiset<std::string>(two.records.begin(), two.records.end())
                == std::multiset<std::string>{"v=STSv1; id=two-strings;", "second record"}));
}

BOOST_FIXTURE_TEST_CASE(unsigned_child_is_insecure, fixture)
{
    const auto a = r.mx("insecure.test");
    BOOST_TEST_REQUIRE(!a.error, a.error.message() << " " << a.why_bogus);
    BOOST_TEST((a.dnssec == dns::security::insecure));
    BOOST_TEST((a.records == std::vector<dns::mx_record>{{10, "mx.insecure.test"}}));
    std::mt19937 rng(1);
    mx::plan p;
    BOOST_TEST_REQUIRE(!mx::select("insecure.test", a, rng, p));
    BOOST_TEST(!p.secure); // DANE must not use these names
}

BOOST_FIXTURE_TEST_CASE(expired_signatures_are_bogus, fixture)
{
    const auto a = r.mx("expired.test");
    BOOST_TEST((a.error == dns::errc::bogus));
    BOOST_TEST((a.dnssec == dns::security::bogus));
    BOOST_TEST(a.records.empty());
    BOOST_TEST(!a.why_bogus.empty());
    BOOST_TEST_MESSAGE("why_bogus: " << a.why_bogus);
    std::mt19937 rng(1);
    mx::plan p;
    BOOST_TEST((mx::select("expired.test", a, rng, p) == dns::errc::bogus));
}

BOOST_AUTO_TEST_CASE(a_wrong_trust_anchor_makes_everything_bogus)
{
    boost::asio::io_context io;
    dns::resolver r(io.get_executor(), bed(env("SMTP_TEST_DNS_WRONG_ANCHOR")));
    const auto a = r.mx("multi.test");
    BOOST_TEST((a.error == dns::errc::bogus));
    BOOST_TEST(!a.why_bogus.empty());
    BOOST_TEST(a.records.empty());
}

BOOST_AUTO_TEST_CASE(anchor_as_text_and_a_forwarder)
{
    // The anchor given as text rather than a file, and the bed asked as a
    // forwarder (every query to it) rather than as the stub for test.
    std::ifstream in(env("SMTP_TEST_DNS_ANCHOR"));
    std::string anchor;
    std::getline(in, anchor);
    BOOST_TEST_REQUIRE(anchor.find("\tDS\t") != std::string::npos, anchor); // ldns-keygen's .ds file
    auto o = bed(env("SMTP_TEST_DNS_ANCHOR"));
    o.trust_anchor_files.clear();
    o.trust_anchors = {anchor};
    o.stubs.clear();
    o.forwarders = {"127.0.0.1@" + env("SMTP_TEST_DNS_PORT")};
    boost::asio::io_context io;
    dns::resolver r(io.get_executor(), o);
    const auto a = r.mx("multi.test");
    BOOST_TEST_REQUIRE(!a.error, a.error.message() << " " << a.why_bogus);
    BOOST_TEST(a.secure());
    BOOST_TEST(a.records.size() == 4u);
    BOOST_TEST((r.mx("expired.test").error == dns::errc::bogus));
    BOOST_TEST((r.mx("insecure.test").dnssec == dns::security::insecure));
}

BOOST_AUTO_TEST_CASE(async_lookups_share_the_context)
{
    fixture f;
    dns::answer<dns::mx_record> m;
    dns::answer<smtp::dane::tlsa_record> t;
    dns::answer<std::string> n;
    dns::answer<dns::mx_record> bad;
    int done = 0;
    f.r.async_mx("multi.test", [&](boost::system::error_code ec, dns::answer<dns::mx_record> a) {
        BOOST_TEST(!ec);
        m = std::move(a);
        ++done;
    });
    f.r.async_tlsa("mx.mail.test", 25, [&](boost::system::error_code ec, dns::answer<smtp::dane::tlsa_record> a) {
        BOOST_TEST(!ec);
        t = std::move(a);
        ++done;
    });
    f.r.async_txt("gone.test", [&](boost::system::error_code ec, dns::answer<std::string> a) {
        BOOST_TEST((ec == dns::errc::nxdomain));
        n = std::move(a);
        ++done;
    });
    f.r.async_mx("expired.test", [&](boost::system::error_code ec, dns::answer<dns::mx_record> a) {
        BOOST_TEST((ec == dns::errc::bogus));
        bad = std::move(a);
        ++done;
    });
    BOOST_TEST(done == 0); // never inside the initiating call
    f.io.run_for(20s);
    BOOST_TEST(done == 4);
    BOOST_TEST(m.secure());
    BOOST_TEST(m.records.size() == 4u);
    BOOST_TEST(t.secure());
    BOOST_TEST(t.records.size() == 2u);
    BOOST_TEST(n.secure());
    BOOST_TEST((bad.dnssec == dns::security::bogus));
    // and a sync lookup after them, on the same context (now from its cache)
    BOOST_TEST(f.r.mx("multi.test").records.size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_handler_on_another_executor_keeps_it_busy)
{
    // The resolver runs on one io_context (in a thread), the handler is bound
    // to another: that one's run() returns only after the handler ran.
    fixture f;
    boost::asio::io_context other;
    bool ran_on_other = false;
    f.r.async_mx("multi.test", boost::asio::bind_executor(other, [&](boost::system::error_code ec,
                                                                      dns::answer<dns::mx_record> a) {
                     BOOST_TEST(!ec);
                     BOOST_TEST(a.records.size() == 4u);
                     ran_on_other = other.get_executor().running_in_this_thread();
                 }));
    std::thread resolver_thread([&] { f.io.run_for(20s); });
    other.run_for(20s);
    resolver_thread.join();
    BOOST_TEST(ran_on_other);
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_times_out)
{
    // A UDP socket that never reads: queries to it get no answer, not even
    // an ICMP error.
    const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    BOOST_TEST_REQUIRE(s >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_TEST_REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    socklen_t len = sizeof sa;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
    auto o = bed(env("SMTP_TEST_DNS_ANCHOR"));
    o.stubs = {{"test.", {"127.0.0.1@" + std::to_string(ntohs(sa.sin_port))}}};
    o.timeout = 300ms;
    boost::asio::io_context io;
    dns::resolver r(io.get_executor(), o);

    auto start = std::chrono::steady_clock::now();
    const auto a = r.mx("multi.test");
    BOOST_TEST((a.error == dns::errc::timeout));
    BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));

    boost::system::error_code got;
    start = std::chrono::steady_clock::now();
    r.async_txt("txt.test", [&](boost::system::error_code ec, dns::answer<std::string>) { got = ec; });
    io.run_for(5s);
    BOOST_TEST((got == dns::errc::timeout));
    BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));

#if SMTP_HAS_CANCELLATION
    // Per-operation cancellation ends a lookup at once with operation_aborted
    // (the query is cancelled in libunbound), whatever the type: nothing of a
    // lookup is left half-done. One not cancelled ends by its timeout.
    o.timeout = 2s;
    dns::resolver slow(io.get_executor(), o);
    boost::asio::cancellation_signal terminal, total;
    boost::system::error_code by_terminal, by_total, by_timeout;
    slow.async_mx("multi.test", boost::asio::bind_cancellation_slot(terminal.slot(), [&](boost::system::error_code ec,
                                                                                      dns::answer<dns::mx_record> a) {
                      by_terminal = ec;
                      BOOST_TEST(a.records.empty());
                  }));
    slow.async_txt("txt.test", boost::asio::bind_cancellation_slot(total.slot(), [&](boost::system::error_code ec,
                                                                                  dns::answer<std::string>) {
                       by_total = ec;
                   }));
    slow.async_a("mx1.multi.test",
                 [&](boost::system::error_code ec, dns::answer<boost::asio::ip::address_v4>) { by_timeout = ec; });
    boost::asio::steady_timer later(io, 100ms);
    later.async_wait([&](boost::system::error_code) {
        terminal.emit(boost::asio::cancellation_type::terminal);
        total.emit(boost::asio::cancellation_type::total);
    });
    io.restart();
    start = std::chrono::steady_clock::now();
    io.run_for(1s);
    BOOST_TEST((by_terminal == boost::asio::error::operation_aborted));
    BOOST_TEST((by_total == boost::asio::error::operation_aborted));
    BOOST_TEST(!by_timeout); // still waiting
    io.run_for(5s);
    BOOST_TEST((by_timeout == dns::errc::timeout));
    BOOST_TEST((std::chrono::steady_clock::now() - start > 1500ms));
    // A signal emitted after its lookup ended does nothing.
    terminal.emit(boost::asio::cancellation_type::terminal);
    io.restart();
    io.poll();
#endif
    ::close(s);
}

BOOST_AUTO_TEST_CASE(bad_names_and_options_are_refused_before_any_query)
{
    fixture f;
    BOOST_TEST((f.r.mx("bad name.test").error == dns::errc::invalid_name));
    BOOST_TEST((f.r.txt("").error == dns::errc::invalid_name));
    boost::system::error_code got;
    f.r.async_a("a..test", [&](boost::system::error_code ec, dns::answer<boost::asio::ip::address_v4>) { got = ec; });
    f.io.run_for(2s);
    BOOST_TEST((got == dns::errc::invalid_name));

    auto o = bed(env("SMTP_TEST_DNS_ANCHOR"));
    o.trust_anchor_files.clear();
    boost::system::error_code ec;
    std::string why;
    dns::resolver none(f.io.get_executor(), o, ec, why);
    BOOST_TEST((ec == dns::errc::no_trust_anchor));
    BOOST_TEST(!why.empty());

    o.trust_anchor_files = {"/nonexistent/anchor.ds"};
    dns::resolver missing(f.io.get_executor(), o, ec, why);
    BOOST_TEST((ec == dns::errc::resolver_error));
    BOOST_TEST(why.find("/nonexistent/anchor.ds") != std::string::npos);

    // The defaults validate from the root's anchor (dns-root-data's
    // /usr/share/dns/root.key): no anchor given, and no error.
    dns::resolver_options defaults;
    defaults.resolv_conf = ""; // the machine's upstreams are not the test's business
    dns::resolver with_root(f.io.get_executor(), defaults, ec, why);
    BOOST_TEST(!ec, ec.message() << ": " << why);
    defaults.root_anchor_file = "/nonexistent/root.key";
    dns::resolver without_root(f.io.get_executor(), defaults, ec, why);
    BOOST_TEST((ec == dns::errc::no_trust_anchor));

    o = bed(env("SMTP_TEST_DNS_ANCHOR"));
    o.stubs = {{"test.", {"not an address"}}};
    BOOST_CHECK_THROW(dns::resolver(f.io.get_executor(), o), boost::system::system_error);

    // libunbound reads a trust anchor's text, and most options' values, only
    // when it starts, at the first query: the constructor starts it, so that a
    // malformed one is refused here, with libunbound's words, not at the
    // first lookup as an "initialization failure".
    o = bed(env("SMTP_TEST_DNS_ANCHOR"));
    o.trust_anchors = {"test. DS not a record"};
    dns::resolver malformed(f.io.get_executor(), o, ec, why);
    BOOST_TEST((ec == dns::errc::resolver_error));
    BOOST_TEST(why.find("trust anchor") != std::string::npos, why);
    BOOST_TEST(why.find("not a record") != std::string::npos, why);
    // A resolver that did not open answers every lookup with that error.
    BOOST_TEST((malformed.mx("multi.test").error == dns::errc::resolver_error));
    BOOST_TEST(malformed.txt("txt.test").why_bogus.find("did not open") != std::string::npos);
    boost::system::error_code late;
    malformed.async_tlsa("mx1.multi.test", 25, [&](boost::system::error_code e, dns::answer<smtp::dane::tlsa_record>) { late = e; });
    f.io.restart();
    f.io.run_for(1s);
    BOOST_TEST((late == dns::errc::resolver_error));

    o = bed(env("SMTP_TEST_DNS_ANCHOR"));
    o.unbound_options = {{"val-bogus-ttl:", "forever"}};
    dns::resolver bad_option(f.io.get_executor(), o, ec, why);
    BOOST_TEST((ec == dns::errc::resolver_error));
    BOOST_TEST(why.find("val-bogus-ttl") != std::string::npos, why);
}

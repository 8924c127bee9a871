// DANE's rules for SMTP (RFC 7672), I/O-free: which TLSA records are usable,
// what a host's TLSA lookup means for its connection, the reference
// identifiers of DANE-TA name checks, and the settings the TLS layer refuses.
// (The TLS layer applying them against real servers: live_tls_test.cpp.)
#include <smtp/protocol/dane.hpp>

#define BOOST_TEST_MODULE dane
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

namespace dane = smtp::dane;

dane::tlsa_record rec(std::uint8_t u, std::uint8_t s, std::uint8_t m, std::size_t len)
{
    return {u, s, m, std::vector<std::uint8_t>(len, 0xab)};
}

} // namespace

BOOST_AUTO_TEST_CASE(usable_records_are_dane_ta_and_dane_ee_with_known_parameters)
{
    using U = dane::usability;
    // RFC 7672 3.1: DANE-TA(2) and DANE-EE(3), either selector, each matching type.
    for (std::uint8_t u : {2, 3})
        for (std::uint8_t s : {0, 1}) {
            BOOST_TEST((dane::check(rec(u, s, 1, 32)) == U::usable));
            BOOST_TEST((dane::check(rec(u, s, 2, 64)) == U::usable));
            BOOST_TEST((dane::check(rec(u, s, 0, 300)) == U::usable));
            BOOST_TEST(dane::usable(rec(u, s, 1, 32)));
        }
    // 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP, however well formed.
    BOOST_TEST((dane::check(rec(0, 0, 1, 32)) == U::pkix_usage));
    BOOST_TEST((dane::check(rec(1, 1, 1, 32)) == U::pkix_usage));
    BOOST_TEST(!dane::usable(rec(1, 1, 1, 32)));
    // Unknown parameters.
    BOOST_TEST((dane::check(rec(4, 1, 1, 32)) == U::unknown_usage));
    BOOST_TEST((dane::check(rec(255, 1, 1, 32)) == U::unknown_usage));
    BOOST_TEST((dane::check(rec(3, 2, 1, 32)) == U::unknown_selector));
    BOOST_TEST((dane::check(rec(3, 1, 3, 32)) == U::unknown_matching_type));
    BOOST_TEST((dane::check(rec(3, 1, 255, 32)) == U::unknown_matching_type));
    // Data of the wrong length for its digest; empty Full(0) data.
    for (std::size_t bad : {0u, 31u, 33u, 64u})
        BOOST_TEST((dane::check(rec(3, 1, 1, bad)) == U::bad_length), bad);
    for (std::size_t bad : {0u, 32u, 63u, 65u})
        BOOST_TEST((dane::check(rec(2, 0, 2, bad)) == U::bad_length), bad);
    BOOST_TEST((dane::check(rec(3, 0, 0, 0)) == U::bad_length));
    BOOST_TEST(dane::describe(U::pkix_usage).find("3.1.3") != std::string_view::npos);
}

BOOST_AUTO_TEST_CASE(the_decision_for_a_host_follows_rfc_7672_2_2)
{
    const std::vector<std::string> names{"mx.example.test"};
    const std::vector<dane::tlsa_record> mixed{rec(1, 1, 1, 32), rec(3, 1, 1, 32)};
    const std::vector<dane::tlsa_record> unusable{rec(0, 0, 1, 32), rec(3, 1, 1, 31), rec(3, 7, 1, 32)};

    // Secure with a usable record: authenticated, the records and names kept.
    auto d = dane::decide(dane::lookup::secure, mixed, names);
    BOOST_TEST(d.use_host);
    BOOST_TEST((d.tls.mode == dane::mode::authenticate));
    BOOST_TEST((d.tls.records == mixed));
    BOOST_TEST((d.tls.names == names));
    BOOST_TEST((dane::settings_problem(d.tls) == dane::problem::none));

    // Secure, every record unusable: TLS still mandatory, not authenticated.
    d = dane::decide(dane::lookup::secure, unusable, names);
    BOOST_TEST(d.use_host);
    BOOST_TEST((d.tls.mode == dane::mode::encrypt_only));
    BOOST_TEST(d.tls.records.empty());
    BOOST_TEST((dane::settings_problem(d.tls) == dane::problem::none));
    // An empty secure RRset cannot be (that is NODATA): the same answer.
    BOOST_TEST((dane::decide(dane::lookup::secure, {}, names).tls.mode == dane::mode::encrypt_only));

    // Insecure or absent: no DANE, whatever the records say.
    for (auto status : {dane::lookup::insecure, dane::lookup::absent}) {
        d = dane::decide(status, mixed, names);
        BOOST_TEST(d.use_host);
        BOOST_TEST((d.tls == dane::tls_settings{}));
    }
    // Failed (bogus, SERVFAIL): not this host now.
    d = dane::decide(dane::lookup::failed, mixed, names);
    BOOST_TEST(!d.use_host);
}

BOOST_AUTO_TEST_CASE(reference_identifiers_follow_rfc_7672_3_2_2)
{
    using names = std::vector<std::string>;
    // A secure MX RRset: the MX host, then the next-hop domain and its CNAME expansion.
    BOOST_TEST((dane::reference_names("MX1.Example.Net.", true, "example.org", "hosted.example.net") ==
                names{"mx1.example.net", "example.org", "hosted.example.net"}));
    // An insecure MX RRset: the MX host name alone.
    BOOST_TEST((dane::reference_names("mx1.example.net", false, "example.org", "hosted.example.net") ==
                names{"mx1.example.net"}));
    // The implicit MX: the base domain is the domain; no name twice.
    BOOST_TEST((dane::reference_names("example.org", true, "example.org.") == names{"example.org"}));
    BOOST_TEST((dane::reference_names("example.org", true, "EXAMPLE.org", "") == names{"example.org"}));
}

BOOST_AUTO_TEST_CASE(settings_the_tls_layer_refuses)
{
    dane::tls_settings s;
    BOOST_TEST((dane::settings_problem(s) == dane::problem::none));
    // Records with the mode off would silently not be used.
    s.records = {rec(3, 1, 1, 32)};
    BOOST_TEST((dane::settings_problem(s) == dane::problem::records_without_mode));
    s.mode = dane::mode::authenticate;
    BOOST_TEST((dane::settings_problem(s) == dane::problem::none));
    // Authentication with no usable record.
    s.records = {rec(1, 1, 1, 32), rec(3, 1, 1, 20)};
    BOOST_TEST((dane::settings_problem(s) == dane::problem::no_usable_record));
    s.records.push_back(rec(2, 0, 2, 64));
    BOOST_TEST((dane::settings_problem(s) == dane::problem::none));
    // Names that are not host names.
    for (const std::string& bad : std::vector<std::string>{"", ".", "*.example.net", "mx..example.net", "-mx.example.net", "mx-.example.net",
                                  "mx example.net", "mx.example.net\r\nRCPT", std::string(64, 'a') + ".net",
                                  std::string(254, 'a')}) {
        s.names = {"mx.example.net", bad};
        BOOST_TEST((dane::settings_problem(s) == dane::problem::bad_name), bad);
        BOOST_TEST(!dane::valid_name(bad), bad);
    }
    for (const std::string& good : std::vector<std::string>{"mx.example.net", "mx.example.net.", "localhost", "a-b.c1", std::string(63, 'a')}) {
        s.names = {good};
        BOOST_TEST((dane::settings_problem(s) == dane::problem::none), good);
    }
    // encrypt_only checks its names too, and needs no record.
    s = {};
    s.mode = dane::mode::encrypt_only;
    BOOST_TEST((dane::settings_problem(s) == dane::problem::none));
    s.names = {"bad name"};
    BOOST_TEST((dane::settings_problem(s) == dane::problem::bad_name));
}

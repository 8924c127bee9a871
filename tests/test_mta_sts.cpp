// MTA-STS without I/O (smtp/protocol/mta_sts.hpp): the TXT record (RFC 8461
// 3.1), the policy file (3.2), MX matching (4.1), the fetch's HTTP response
// (3.3), the cache with an injected clock (3.3, 5.1) and the per-host
// decision (5). No Asio here (ctest test_mta_sts_has_no_io_headers).
#include <smtp/protocol/mta_sts.hpp>

#define BOOST_TEST_MODULE mta_sts
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace sts = smtp::mta_sts;
using sts::errc;

namespace {

std::optional<sts::record> record_of(std::string_view txt, smtp::error_code& ec) { return sts::parse_record(txt, ec); }

smtp::error_code record_error(std::string_view txt)
{
    smtp::error_code ec;
    (void)sts::parse_record(txt, ec);
    return ec;
}

smtp::error_code policy_error(std::string_view body)
{
    smtp::error_code ec;
    (void)sts::parse_policy(body, ec);
    return ec;
}

sts::policy policy_of(std::string_view body)
{
    smtp::error_code ec;
    auto p = sts::parse_policy(body, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    BOOST_TEST_REQUIRE(p.has_value());
    return *p;
}

constexpr std::string_view good_policy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
                                         "mx: *.example.net\r\nmax_age: 604800\r\n";

} // namespace

// --- 3.1 ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(record_with_id_and_extensions)
{
    smtp::error_code ec;
    auto r = record_of("v=STSv1; id=20160831085700Z;", ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(r->id == "20160831085700Z");
    r = record_of("v=STSv1;id=abc", ec); // no space, no trailing ';'
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(r->id == "abc");
    r = record_of("v=STSv1; ext_1=x-y; id=A1 ; other=1;", ec); // unknown fields ignored
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(r->id == "A1");
    r = record_of("v=STSv1; id=first; id=second;", ec); // the first id counts
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(r->id == "first");
    r = record_of("v=STSv1; id=" + std::string(32, 'a'), ec);
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(malformed_records)
{
    BOOST_TEST(record_error("id=abc; v=STSv1;") == errc::record_syntax); // v=STSv1 not first
    BOOST_TEST(record_error("v=STSv2; id=abc;") == errc::record_syntax);
    BOOST_TEST(record_error("v=STSv1;") == errc::record_syntax);          // no field at all
    BOOST_TEST(record_error("v=STSv1; ext=1;") == errc::record_id_missing);
    BOOST_TEST(record_error("v=STSv1; id=;") == errc::record_id_invalid);
    BOOST_TEST(record_error("v=STSv1; id=" + std::string(33, 'a')) == errc::record_id_invalid);
    BOOST_TEST(record_error("v=STSv1; id=ab-c;") == errc::record_id_invalid);
    BOOST_TEST(record_error("v=STSv1; id=abc; junk") == errc::record_syntax);
    BOOST_TEST(record_error("v=STSv1; id=abc; ext=a b") == errc::record_syntax);
    BOOST_TEST(record_error("v=STSv1; id=abc; _x=1") == errc::record_syntax); // a name starts with a letter or digit
    BOOST_TEST(record_error("v=STSv1 id=abc") == errc::record_syntax);
}

BOOST_AUTO_TEST_CASE(record_selection)
{
    smtp::error_code ec;
    // Records not starting with "v=STSv1;" are discarded.
    std::vector<std::string> txt{"google-site-verification=xyz", "v=STSv1; id=42;", "v=spf1 -all"};
    auto r = sts::select_record(txt, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(r->id == "42");
    // None left: no policy.
    txt = {"v=spf1 -all"};
    BOOST_TEST(!sts::select_record(txt, ec));
    BOOST_TEST(ec == errc::no_record);
    BOOST_TEST(!sts::select_record({}, ec));
    BOOST_TEST(ec == errc::no_record);
    // Two: no policy, even when one is valid.
    txt = {"v=STSv1; id=1;", "v=STSv1; id=2;"};
    BOOST_TEST(!sts::select_record(txt, ec));
    BOOST_TEST(ec == errc::several_records);
    // The one left is malformed: no policy.
    txt = {"v=STSv1; id=;"};
    BOOST_TEST(!sts::select_record(txt, ec));
    BOOST_TEST(ec == errc::record_id_invalid);
}

// --- 3.2 ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(policy_parsed_crlf_and_lf)
{
    const auto p = policy_of(good_policy);
    BOOST_TEST((p.mode == sts::mode::enforce));
    BOOST_TEST(p.max_age == 604800u);
    BOOST_TEST(p.mx == (std::vector<std::string>{"mail.example.com", "*.example.net"}));
    // LF alone, no final line end, unknown keys, white space after the colon and at the end.
    const auto q = policy_of("version: STSv1\nmode:testing\nmx:   MX1.Example.COM  \nfuture_key: a b c\nmax_age: 0");
    BOOST_TEST((q.mode == sts::mode::testing));
    BOOST_TEST(q.max_age == 0u);
    BOOST_TEST(q.mx == std::vector<std::string>{"mx1.example.com"});
    // A known field other than mx given twice: the first counts.
    const auto r = policy_of("version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 5\nmax_age: 9\n");
    BOOST_TEST((r.mode == sts::mode::enforce));
    BOOST_TEST(r.max_age == 5u);
    // mode none needs no mx.
    BOOST_TEST((policy_of("version: STSv1\nmode: none\nmax_age: 86400\n").mode == sts::mode::none));
}

BOOST_AUTO_TEST_CASE(policy_max_age_range)
{
    BOOST_TEST(policy_of("version: STSv1\nmode: none\nmax_age: 31557600\n").max_age == 31557600u);
    // 10 digits are valid syntax; the text caps the lifetime at a year.
    BOOST_TEST(policy_of("version: STSv1\nmode: none\nmax_age: 9999999999\n").max_age == sts::max_age_limit);
    BOOST_TEST(policy_of("version: STSv1\nmode: none\nmax_age: 31557601\n").max_age == sts::max_age_limit);
    BOOST_TEST(policy_error("version: STSv1\nmode: none\nmax_age: 12345678901\n") == errc::policy_max_age_invalid);
    BOOST_TEST(policy_error("version: STSv1\nmode: none\nmax_age: -1\n") == errc::policy_max_age_invalid);
    BOOST_TEST(policy_error("version: STSv1\nmode: none\nmax_age: 1e6\n") == errc::policy_max_age_invalid);
    BOOST_TEST(policy_error("version: STSv1\nmode: none\nmax_age:\n") == errc::policy_max_age_invalid);
}

BOOST_AUTO_TEST_CASE(malformed_policies)
{
    BOOST_TEST(policy_error("mode: enforce\nmx: a.example\nmax_age: 1\n") == errc::policy_version_missing);
    BOOST_TEST(policy_error("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n") ==
               errc::policy_version_invalid);
    BOOST_TEST(policy_error("version: STSv1\nmx: a.example\nmax_age: 1\n") == errc::policy_mode_missing);
    BOOST_TEST(policy_error("version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n") == errc::policy_mode_invalid);
    BOOST_TEST(policy_error("version: STSv1\nmode: report\nmx: a.example\nmax_age: 1\n") == errc::policy_mode_invalid);
    BOOST_TEST(policy_error("version: STSv1\nmode: enforce\nmx: a.example\n") == errc::policy_max_age_missing);
    BOOST_TEST(policy_error("version: STSv1\nmode: enforce\nmax_age: 1\n") == errc::policy_mx_missing);
    BOOST_TEST(policy_error("version: STSv1\nmode: testing\nmax_age: 1\n") == errc::policy_mx_missing);
    for (const char* mx : {"*", "*.", "a.*.example", "**.example", "mx_1.example", "-a.example", "a..example",
                           "192.0.2.1", "mx.example.", ""})
        BOOST_TEST(policy_error(std::string("version: STSv1\nmode: enforce\nmax_age: 1\nmx: ") + mx + "\n") ==
                       errc::policy_mx_invalid,
                   mx);
    BOOST_TEST(policy_error("version: STSv1\nmode enforce\n") == errc::policy_syntax);          // no colon
    BOOST_TEST(policy_error("version: STSv1\nmo de: enforce\n") == errc::policy_syntax);        // not a key
    BOOST_TEST(policy_error("version: STSv1\nmode: enforce\x01\n") == errc::policy_syntax);     // control byte
    BOOST_TEST(policy_error("version: STSv1\rmode: enforce\nmx: a.b\nmax_age: 1") == errc::policy_syntax); // bare CR
    BOOST_TEST(policy_error("") == errc::policy_version_missing);
    BOOST_TEST(policy_error("<html><body>Not here</body></html>") == errc::policy_syntax);
}

// --- 4.1 ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mx_matching)
{
    BOOST_TEST(sts::mx_matches("mail.example.com", "mail.example.com"));
    BOOST_TEST(sts::mx_matches("mail.example.com", "MAIL.Example.COM."));   // case, trailing dot
    BOOST_TEST(sts::mx_matches("MAIL.example.com.", "mail.example.com"));
    BOOST_TEST(!sts::mx_matches("mail.example.com", "mail.example.com.evil"));
    BOOST_TEST(!sts::mx_matches("mail.example.com", "xmail.example.com"));
    BOOST_TEST(sts::mx_matches("*.example.com", "mx1.example.com"));
    BOOST_TEST(sts::mx_matches("*.example.com", "MX1.EXAMPLE.COM."));
    BOOST_TEST(!sts::mx_matches("*.example.com", "example.com"));           // the wildcard is one label, not none
    BOOST_TEST(!sts::mx_matches("*.example.com", "a.b.example.com"));       // nor two
    BOOST_TEST(!sts::mx_matches("*.example.com", ".example.com"));
    BOOST_TEST(!sts::mx_matches("*.example.com", "mx1.badexample.com"));
    BOOST_TEST(!sts::mx_matches("*.example.com", "*.example.com")); // a host name is no pattern
    BOOST_TEST(!sts::mx_matches("", "example.com"));
    const auto p = policy_of(good_policy);
    BOOST_TEST(p.matches("Mail.Example.Com"));
    BOOST_TEST(p.matches("mx9.example.net."));
    BOOST_TEST(!p.matches("mx9.example.com"));
}

// --- 3.3: the fetch's request and response --------------------------------------

BOOST_AUTO_TEST_CASE(request_and_host)
{
    BOOST_TEST(sts::policy_host("Example.COM.") == "mta-sts.example.com");
    BOOST_TEST(sts::policy_host("example.com\r\nX: y").empty());
    BOOST_TEST(sts::policy_host("127.0.0.1").empty());
    BOOST_TEST(sts::policy_host("").empty());
    BOOST_TEST(sts::policy_host(std::string(250, 'a')).empty());
    BOOST_TEST(sts::policy_request("mta-sts.example.com", 443) ==
               "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nUser-Agent: smtp/" SMTP_VERSION_STRING
               "\r\nAccept: text/plain\r\nConnection: close\r\n\r\n");
    BOOST_TEST(sts::policy_request("mta-sts.example.com", 8443).find("Host: mta-sts.example.com:8443\r\n") !=
               std::string::npos);
}

namespace {
using state = sts::response_reader::state;

// Feeds the response one byte at a time (every split point), then ends it.
state read_all(sts::response_reader& r, std::string_view bytes, bool close = true)
{
    for (char c : bytes)
        if (r.put(std::string_view(&c, 1)) != state::need_more)
            return r.current();
    return close ? r.finish() : r.current();
}

smtp::error_code response_error(std::string_view bytes, std::size_t max_body = 64 * 1024)
{
    sts::response_reader r(max_body);
    read_all(r, bytes);
    return r.error();
}
} // namespace

BOOST_AUTO_TEST_CASE(response_bodies)
{
    { // Content-Length: done before the close; what follows is ignored.
        sts::response_reader r;
        BOOST_TEST((read_all(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
                             false) == state::done));
        BOOST_TEST(r.body() == "hello");
        BOOST_TEST(r.status() == 200);
    }
    { // Delimited by the close, media type with parameters, header names in any case, LF line ends.
        sts::response_reader r;
        BOOST_TEST((read_all(r, "HTTP/1.0 200 OK\ncontent-TYPE: Text/Plain; charset=utf-8\n\nline1\nline2\n") ==
                    state::done));
        BOOST_TEST(r.body() == "line1\nline2\n");
    }
    { // Chunked, with an extension and a trailer; an interim 100 first.
        sts::response_reader r;
        BOOST_TEST((read_all(r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-T: 1\r\n\r\n",
                             false) == state::done));
        BOOST_TEST(r.body() == "hello, world!!!");
    }
    { // The whole response in one piece.
        sts::response_reader r;
        BOOST_TEST((r.put("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok") == state::done));
        BOOST_TEST(r.body() == "ok");
    }
}

BOOST_AUTO_TEST_CASE(response_refusals)
{
    {
        sts::response_reader r;
        read_all(r, "HTTP/1.1 301 Moved Permanently\r\nLocation: https://evil.example/p.txt\r\n"
                    "Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
        BOOST_TEST(r.error() == errc::http_redirect);
        BOOST_TEST(r.status() == 301);
        BOOST_TEST(r.location() == "https://evil.example/p.txt");
    }
    BOOST_TEST(response_error("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno") == errc::http_status);
    BOOST_TEST(response_error("HTTP/1.1 204 No Content\r\n\r\n") == errc::http_status);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nx") == errc::http_content_type);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plainx\r\n\r\nx") == errc::http_content_type);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx") == errc::http_content_type);
    // Too large: by Content-Length at once, by chunks, by a close-delimited body.
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n", 10) ==
               errc::http_body_too_large);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n",
                              10) == errc::http_body_too_large);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + std::string(11, 'x'), 10) ==
               errc::http_body_too_large);
    // Not HTTP, truncated, ambiguous.
    BOOST_TEST(response_error("220 mx.example ESMTP\r\n") == errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/2 200\r\n\r\n") == errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhel") ==
               errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") == errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                              "Content-Length: 6\r\n\r\nhello!") == errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\n") ==
               errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "zz\r\n") == errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2\r\nabc\r\n0\r\n\r\n") == errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n folded\r\n\r\n") ==
               errc::http_response_invalid);
    BOOST_TEST(response_error("HTTP/1.1 200 OK\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n") ==
               errc::http_response_invalid);
    BOOST_TEST(response_error("") == errc::http_response_invalid);
}

// --- 3.3, 5.1: the cache ----------------------------------------------------------

namespace {
struct fake_clock {
    std::chrono::system_clock::time_point t{std::chrono::hours(24 * 365 * 50)};
    sts::clock_function fn()
    {
        return [this] { return t; };
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(cache_max_age_expiry)
{
    fake_clock clock;
    sts::policy_cache cache(clock.fn());
    const std::vector<std::string> txt{"v=STSv1; id=1;"};
    auto step = cache.begin("example.com", txt);
    BOOST_TEST((step.next == sts::discovery_step::action::fetch)); // nothing cached
    BOOST_TEST(step.id == "1");
    cache.fetched("Example.COM.", step.id, policy_of(good_policy)); // max_age 604800
    BOOST_TEST(cache.find("example.com") != nullptr);

    clock.t += std::chrono::seconds(604799);
    BOOST_TEST((cache.begin("example.com", txt).next == sts::discovery_step::action::use_cached));
    // TXT record gone or lookup failed: the unexpired policy stays in force.
    BOOST_TEST((cache.begin("example.com", {}).next == sts::discovery_step::action::use_cached));
    BOOST_TEST((cache.begin("example.com", txt, make_error_code(boost::system::errc::timed_out)).next ==
                sts::discovery_step::action::use_cached));
    BOOST_TEST(cache.fetch_failed("example.com") != nullptr);

    clock.t += std::chrono::seconds(1); // max_age reached: expired
    BOOST_TEST(cache.find("example.com") == nullptr);
    BOOST_TEST(cache.fetch_failed("example.com") == nullptr); // a failed refresh now leaves no policy
    BOOST_TEST((cache.begin("example.com", txt).next == sts::discovery_step::action::fetch));
    const auto none = cache.begin("example.com", {});
    BOOST_TEST((none.next == sts::discovery_step::action::no_policy));
    BOOST_TEST(none.txt_error == errc::no_record);
    BOOST_TEST(cache.size() == 1u);
    BOOST_TEST(cache.prune() == 0u);
}

BOOST_AUTO_TEST_CASE(cache_id_change_refreshes)
{
    fake_clock clock;
    sts::policy_cache cache(clock.fn());
    cache.fetched("example.com", "1", policy_of(good_policy));
    clock.t += std::chrono::hours(1);
    std::vector<std::string> txt{"v=STSv1; id=2;"};
    auto step = cache.begin("example.com", txt);
    BOOST_TEST((step.next == sts::discovery_step::action::fetch)); // a new id: fetch, though unexpired
    BOOST_TEST(step.id == "2");
    // The refresh fails: the old policy stays in force until it expires.
    const auto* kept = cache.fetch_failed("example.com");
    BOOST_TEST_REQUIRE(kept != nullptr);
    BOOST_TEST(kept->id == "1");
    // The refresh succeeds: the new policy under the new id, its max_age from now.
    const auto& fresh = cache.fetched("example.com", "2", policy_of("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 60\n"));
    BOOST_TEST(fresh.id == "2");
    BOOST_TEST((fresh.expires() == clock.t + std::chrono::seconds(60)));
    BOOST_TEST((cache.begin("example.com", txt).next == sts::discovery_step::action::use_cached));
    // Domains apart.
    BOOST_TEST(cache.find("example.net") == nullptr);
    // A malformed record with a cached policy: the cache; its error says why.
    txt = {"v=STSv1; id=;"};
    step = cache.begin("example.com", txt);
    BOOST_TEST((step.next == sts::discovery_step::action::use_cached));
    BOOST_TEST(step.txt_error == errc::record_id_invalid);
}

// --- 5: the per-host decision --------------------------------------------------

BOOST_AUTO_TEST_CASE(decisions_per_mode)
{
    const std::vector<std::string> mx{"mail.example.com", "backup.other.example"};
    { // enforce: only matching hosts, TLS required and verified.
        const auto p = policy_of(good_policy);
        const auto d = sts::decide(&p, mx);
        BOOST_TEST_REQUIRE(d.size() == 2u);
        BOOST_TEST(d[0].allowed);
        BOOST_TEST(d[0].tls_required);
        BOOST_TEST(d[0].verify_certificate);
        BOOST_TEST(!d[0].failure);
        BOOST_TEST(!d[1].allowed);
        BOOST_TEST(d[1].failure == errc::mx_not_in_policy);
        // After TLS: a stripped STARTTLS or a bad certificate stops delivery.
        BOOST_TEST(d[0].after_tls(true, {}).proceed);
        auto v = d[0].after_tls(false, {});
        BOOST_TEST(!v.proceed);
        BOOST_TEST(v.report == errc::starttls_not_offered);
        v = d[0].after_tls(true, make_error_code(boost::system::errc::permission_denied));
        BOOST_TEST(!v.proceed);
        BOOST_TEST(v.report == boost::system::errc::permission_denied);
    }
    { // testing: every host tried, failures reported.
        const auto p = policy_of("version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 60\n");
        const auto d = sts::decide(&p, mx);
        BOOST_TEST(d[0].allowed);
        BOOST_TEST(!d[0].tls_required);
        BOOST_TEST(d[0].verify_certificate);
        BOOST_TEST(d[1].allowed);
        BOOST_TEST(d[1].failure == errc::mx_not_in_policy);
        auto v = d[0].after_tls(false, {});
        BOOST_TEST(v.proceed);
        BOOST_TEST(v.report == errc::starttls_not_offered);
        v = d[1].after_tls(true, {});
        BOOST_TEST(v.proceed);
        BOOST_TEST(v.report == errc::mx_not_in_policy);
    }
    { // none, and no policy at all: as without MTA-STS.
        const auto p = policy_of("version: STSv1\nmode: none\nmax_age: 60\n");
        for (const auto* pp : {&p, static_cast<const sts::policy*>(nullptr)}) {
            const auto d = sts::decide(pp, mx);
            for (const auto& h : d) {
                BOOST_TEST(h.allowed);
                BOOST_TEST(!h.tls_required);
                BOOST_TEST(!h.verify_certificate);
                BOOST_TEST(!h.failure);
                BOOST_TEST(h.after_tls(false, {}).proceed);
                BOOST_TEST(!h.after_tls(false, {}).report);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(error_messages_name_the_rfc)
{
    const smtp::error_code ec = errc::http_redirect;
    BOOST_TEST(ec.category().name() == std::string("smtp.mta_sts"));
    BOOST_TEST(ec.message().find("redirect") != std::string::npos);
    for (int e = 1; e <= static_cast<int>(errc::starttls_not_offered); ++e)
        BOOST_TEST(smtp::error_code(e, sts::error_category()).message() != "unknown MTA-STS error");
}

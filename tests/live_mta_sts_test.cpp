// The MTA-STS policy fetch (smtp/mta_sts.hpp) against real HTTPS servers
// (tests/servers/https_server.py, started by with_servers.py on free loopback
// ports with the test PKI's mtasts.pem, SAN mta-sts.example.test; CMake says
// which server answers what): a valid policy, by Content-Length, chunked and
// by the close, sync and async, with the request the server recorded; a
// close-delimited body cut without the TLS close_notify refused; a
// redirect not followed; a 404; the wrong media type; a body over the limit;
// a certificate for another name, and one the system's store does not trust;
// a server that does not answer in time; discovery over the cache (fetched,
// then cached, refreshed on a new id, kept when the refresh fails).
#define BOOST_TEST_MODULE live_mta_sts
#include <smtp/mta_sts.hpp>

#include "live_servers.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#endif
#include <boost/test/unit_test.hpp>

#include <openssl/x509_vfy.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sts = smtp::mta_sts;
namespace fs = std::filesystem;
using live::contains;
using live::env;
using sts::errc;

namespace {

const std::string domain = "example.test";

/// The options that reach server NAME: its port, the loopback address
/// (no DNS: the name stays mta-sts.example.test for SNI and the
/// certificate), the test CA.
sts::fetch_options at(const std::string& name)
{
    sts::fetch_options o;
    o.port = static_cast<std::uint16_t>(std::stoi(env("SMTP_TEST_" + name + "_PORT")));
    o.address = env("SMTP_TEST_HOST");
    o.tls.ca_file = env("SMTP_TEST_CERTS") + "/ca.pem";
    o.timeout = std::chrono::seconds(20);
    return o;
}

/// The requests server NAME recorded, one JSON line each.
std::vector<std::string> requests(const std::string& name)
{
    std::ifstream f(fs::path(env("SMTP_TEST_" + name + "_RECORD")) / "requests.jsonl");
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line);)
        out.push_back(line);
    return out;
}

void check_good_policy(const sts::policy& p)
{
    BOOST_TEST((p.mode == sts::mode::enforce));
    BOOST_TEST(p.mx == (std::vector<std::string>{"mx1.example.test", "*.mx.example.test"}));
    BOOST_TEST(p.max_age == 86400u);
    BOOST_TEST(p.matches("mx1.example.test"));
    BOOST_TEST(p.matches("b.mx.example.test"));
    BOOST_TEST(!p.matches("evil.example.test"));
}

smtp::error_code fetch_error(const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(20))
{
    auto o = at(name);
    o.timeout = timeout;
    smtp::error_code ec;
    (void)sts::fetch_policy(domain, o, ec);
    return ec;
}

/// The failure's words (diagnostics::detail_text()) of a fetch from NAME.
std::string detail_of(const std::string& name)
{
    smtp::error_code ec;
    smtp::diagnostics diag;
    (void)sts::fetch_policy(domain, at(name), ec, diag);
    return diag.detail_text();
}

std::string url_of(const std::string& name)
{
    return "https://mta-sts.example.test:" + env("SMTP_TEST_" + name + "_PORT") + "/.well-known/mta-sts.txt";
}

} // namespace

BOOST_AUTO_TEST_CASE(valid_policy_fetched_and_parsed)
{
    const std::size_t before = requests("GOOD").size();
    smtp::error_code ec;
    const sts::policy p = sts::fetch_policy(domain, at("GOOD"), ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    check_good_policy(p);
    // What the server saw: SNI and Host name the policy host, the well-known path.
    const auto seen = requests("GOOD");
    BOOST_TEST_REQUIRE(seen.size() == before + 1);
    const std::string& r = seen.back();
    BOOST_TEST(contains(r, R"("sni": "mta-sts.example.test")"), r);
    BOOST_TEST(contains(r, R"(GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.test:)" +
                               env("SMTP_TEST_GOOD_PORT") + R"(\r\n)"),
               r);
    // The throwing form.
    check_good_policy(sts::fetch_policy(domain, at("GOOD")));
}

BOOST_AUTO_TEST_CASE(resolver_hook_asked_for_the_policy_host)
{
    auto o = at("GOOD");
    o.address.clear();
    std::vector<std::string> asked;
    o.resolve = [&](const std::string& host, std::uint16_t port, smtp::error_code&) {
        asked.push_back(host + ":" + std::to_string(port));
        return std::vector<smtp::transport::tcp::endpoint>{
            smtp::transport::tcp::endpoint(boost::asio::ip::make_address(env("SMTP_TEST_HOST")), port)};
    };
    smtp::error_code ec;
    check_good_policy(sts::fetch_policy("Example.Test", o, ec));
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(asked == std::vector<std::string>{"mta-sts.example.test:" + env("SMTP_TEST_GOOD_PORT")});
}

BOOST_AUTO_TEST_CASE(chunked_and_close_delimited_bodies_async)
{
    // Two fetches at once on an io_context that two threads run (each fetch
    // keeps to a strand of its own); results checked after both threads end.
    boost::asio::io_context io;
    const std::array<const char*, 2> names{"CHUNKED", "CLOSE"};
    std::array<smtp::error_code, 2> errors;
    std::array<sts::policy, 2> policies;
    for (std::size_t i = 0; i < names.size(); ++i)
        sts::async_fetch_policy(io.get_executor(), "EXAMPLE.test.", at(names[i]),
                                [&, i](smtp::error_code ec, sts::policy p) {
                                    errors[i] = ec;
                                    policies[i] = std::move(p);
                                });
    std::thread other([&] { io.run(); });
    io.run();
    other.join();
    for (std::size_t i = 0; i < names.size(); ++i) {
        BOOST_TEST(!errors[i], names[i] << ": " << errors[i].message());
        check_good_policy(policies[i]);
    }
}

BOOST_AUTO_TEST_CASE(close_delimited_body_cut_without_close_notify_fails)
{
    // The same policy as CLOSE sends, but the connection ends without the
    // TLS close_notify: it may have been cut short (a line such as
    // "mode: enforce" dropped), so it is no policy at all.
    const smtp::error_code ec = fetch_error("CUT");
    BOOST_TEST(ec.failed());
    BOOST_TEST(ec != errc::policy_mode_missing);
}

BOOST_AUTO_TEST_CASE(redirect_not_followed)
{
    BOOST_TEST(fetch_error("REDIRECT") == errc::http_redirect);
    BOOST_TEST(requests("REDIRECT").size() == 1u); // one request: the Location was not visited
    BOOST_TEST(detail_of("REDIRECT") == url_of("REDIRECT") +
                                            ": HTTP 301 to https://mta-sts.example.test/elsewhere.txt, not followed");
}

BOOST_AUTO_TEST_CASE(not_found)
{
    BOOST_TEST(fetch_error("NOTFOUND") == errc::http_status);
    BOOST_TEST(detail_of("NOTFOUND") == url_of("NOTFOUND") + ": HTTP 404");
}

BOOST_AUTO_TEST_CASE(wrong_content_type)
{
    BOOST_TEST(fetch_error("HTML") == errc::http_content_type);
    BOOST_TEST(detail_of("HTML") == url_of("HTML") + ": Content-Type 'text/html'");
}

BOOST_AUTO_TEST_CASE(oversized_body)
{
    BOOST_TEST(fetch_error("BIG") == errc::http_body_too_large);
    BOOST_TEST(detail_of("BIG") == url_of("BIG") + ": the body is longer than 65536 bytes");
}

BOOST_AUTO_TEST_CASE(certificate_for_another_name_refused)
{
    const smtp::error_code ec = fetch_error("WRONGNAME");
    BOOST_TEST(ec == smtp::error_code(X509_V_ERR_HOSTNAME_MISMATCH, smtp::x509_category()), ec.message());
    BOOST_TEST(requests("WRONGNAME").empty()); // refused in the handshake: no request went out
    BOOST_TEST(contains(detail_of("WRONGNAME"), ": the certificate of mta-sts.example.test: "));
    // The throwing form says the same.
    try {
        (void)sts::fetch_policy(domain, at("WRONGNAME"));
        BOOST_ERROR("no exception");
    } catch (const smtp::system_error& e) {
        BOOST_TEST(contains(e.what(), url_of("WRONGNAME")), e.what());
    }
}

BOOST_AUTO_TEST_CASE(untrusted_issuer_refused_by_default)
{
    auto o = at("GOOD");
    o.tls.ca_file.clear(); // the system's store, which does not know the test CA
    smtp::error_code ec;
    (void)sts::fetch_policy(domain, o, ec);
    BOOST_TEST(ec == smtp::error_code(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, smtp::x509_category()),
               ec.message());
}

BOOST_AUTO_TEST_CASE(slow_server_times_out)
{
    const auto start = std::chrono::steady_clock::now();
    auto o = at("SLOW");
    o.timeout = std::chrono::milliseconds(300);
    smtp::error_code ec;
    smtp::diagnostics diag;
    (void)sts::fetch_policy(domain, o, ec, diag);
    BOOST_TEST(ec == errc::fetch_timeout);
    BOOST_TEST(diag.detail_text() == url_of("SLOW") + ": no complete answer within 300 ms");
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(5))); // the server waits 30 s
}

#if SMTP_HAS_CANCELLATION
BOOST_AUTO_TEST_CASE(a_cancelled_fetch_ends_at_once)
{
    // The slow server again, with the whole minute allowed: a cancellation
    // (any type: nothing of a fetch is left half-done) ends the fetch, once,
    // with operation_aborted; a signal after that does nothing.
    auto o = at("SLOW");
    boost::asio::io_context io;
    boost::asio::cancellation_signal signal;
    smtp::error_code got;
    int calls = 0;
    sts::async_fetch_policy(io.get_executor(), domain, o,
                            boost::asio::bind_cancellation_slot(signal.slot(), [&](smtp::error_code ec, sts::policy) {
                                got = ec;
                                ++calls;
                            }));
    boost::asio::steady_timer later(io, std::chrono::milliseconds(200));
    later.async_wait([&](smtp::error_code) { signal.emit(boost::asio::cancellation_type::total); });
    const auto start = std::chrono::steady_clock::now();
    io.run_for(std::chrono::seconds(5));
    BOOST_TEST(calls == 1);
    BOOST_TEST((got == boost::asio::error::operation_aborted), got.message());
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(3)));
    signal.emit(boost::asio::cancellation_type::terminal);
    io.restart();
    io.poll();
    BOOST_TEST(calls == 1);

    // Discovery passes the slot on to its fetch.
    sts::policy_cache cache;
    const std::vector<std::string> txt{"v=STSv1; id=slow;"};
    std::optional<sts::discovery> found;
    sts::async_discover(io.get_executor(), cache, domain, txt, {}, o,
                        boost::asio::bind_cancellation_slot(signal.slot(), [&](sts::discovery d) { found = std::move(d); }));
    later.expires_after(std::chrono::milliseconds(200));
    later.async_wait([&](smtp::error_code) { signal.emit(boost::asio::cancellation_type::terminal); });
    io.restart();
    io.run_for(std::chrono::seconds(5));
    BOOST_TEST_REQUIRE(found.has_value());
    BOOST_TEST((found->fetch_error == boost::asio::error::operation_aborted), found->fetch_error.message());
    BOOST_TEST(!found->policy.has_value());
}
#endif

BOOST_AUTO_TEST_CASE(bad_domain_refused_before_any_io)
{
    auto o = at("GOOD");
    const std::size_t before = requests("GOOD").size();
    smtp::error_code ec;
    (void)sts::fetch_policy("example.test/../x", o, ec);
    BOOST_TEST(ec == errc::domain_invalid);
    (void)sts::fetch_policy("127.0.0.1", o, ec);
    BOOST_TEST(ec == errc::domain_invalid);
    BOOST_TEST(requests("GOOD").size() == before);
}

BOOST_AUTO_TEST_CASE(discovery_over_the_cache)
{
    auto now = std::chrono::system_clock::now();
    sts::policy_cache cache([&] { return now; });
    const std::vector<std::string> txt1{"v=spf1 -all", "v=STSv1; id=one;"};
    const std::size_t before = requests("GOOD").size();

    // Nothing cached: fetched.
    auto d = sts::discover(cache, domain, txt1, {}, at("GOOD"));
    BOOST_TEST((d.from == sts::discovery::source::fetched));
    BOOST_TEST_REQUIRE(d.in_force() != nullptr);
    check_good_policy(*d.in_force());
    BOOST_TEST(requests("GOOD").size() == before + 1);

    // Same id, unexpired: the cache, no request.
    d = sts::discover(cache, domain, txt1, {}, at("GOOD"));
    BOOST_TEST((d.from == sts::discovery::source::cache));
    BOOST_TEST(requests("GOOD").size() == before + 1);

    // A new id, and the policy host answers 404: the cached policy stays in force.
    const std::vector<std::string> txt2{"v=STSv1; id=two;"};
    d = sts::discover(cache, domain, txt2, {}, at("NOTFOUND"));
    BOOST_TEST((d.from == sts::discovery::source::cache_kept));
    BOOST_TEST(d.fetch_error == errc::http_status);
    BOOST_TEST(d.fetch_detail == url_of("NOTFOUND") + ": HTTP 404");
    BOOST_TEST_REQUIRE(d.in_force() != nullptr);
    BOOST_TEST(cache.find(domain)->id == "one");

    // The new id again, the host answers: refreshed under the new id.
    d = sts::discover(cache, domain, txt2, {}, at("GOOD"));
    BOOST_TEST((d.from == sts::discovery::source::fetched));
    BOOST_TEST(cache.find(domain)->id == "two");
    BOOST_TEST(requests("GOOD").size() == before + 2);

    // max_age (a day) passes and the refresh fails: no policy.
    now += std::chrono::hours(24);
    d = sts::discover(cache, domain, txt2, {}, at("NOTFOUND"));
    BOOST_TEST((d.from == sts::discovery::source::none));
    BOOST_TEST(d.in_force() == nullptr);
    BOOST_TEST(d.fetch_error == errc::http_status);

    // The decision for the MX hosts under the policy in force.
    d = sts::discover(cache, domain, txt2, {}, at("GOOD"));
    const std::vector<std::string> mx{"mx1.example.test", "other.example.test"};
    const auto hosts = sts::decide(d.in_force(), mx);
    BOOST_TEST(hosts[0].allowed);
    BOOST_TEST(hosts[0].tls_required);
    BOOST_TEST(!hosts[1].allowed);
    BOOST_TEST(hosts[1].failure == errc::mx_not_in_policy);
}

// connect_options::tls against real servers (tests/servers/with_servers.py;
// tests/CMakeLists.txt says which): a client certificate that a server
// requires (the server records whose it saw), its key with a passphrase, the
// wrong certificate or none; TLS 1.3 as the minimum; public-key pins that
// match and that do not (then nothing is sent after the handshake, as the
// server's events.txt shows); the SSL_CTX hook; TLS session resumption
// (a reconnect resumes, a pool's too; another host name, other checks or
// the option off do not), as the server records it too. DANE (RFC 7672,
// tls_options::dane): DANE-EE and DANE-TA records that match, that do not,
// DANE-TA's names, DANE-EE's indifference to names and dates, a server
// without STARTTLS, a secure RRset of unusable records.
#define BOOST_TEST_MODULE live_tls
#include "live_servers.hpp"

#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#include <smtp/tls_session_cache.hpp>

#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using live::contains;
using live::env;
using live::records;
using live::server;

using implicit = smtp::policies<smtp::tls::implicit>;
const std::string message = "Subject: tls options\r\n\r\nHello.\r\n";

std::string certs() { return env("SMTP_TEST_CERTS"); }

/// The lines of a server's record file (events.txt: commands and handshakes; sni.txt).
std::vector<std::string> lines(const std::string& name, const char* file)
{
    std::ifstream f(fs::path(env("SMTP_TEST_" + name + "_RECORD")) / file);
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line);)
        out.push_back(line);
    return out;
}

/// Lines added to a record file since `before` lines.
std::vector<std::string> since(const std::string& name, const char* file, std::size_t before)
{
    auto all = lines(name, file);
    return {all.begin() + static_cast<std::ptrdiff_t>(std::min(before, all.size())), all.end()};
}

smtp::connect_options with_client_cert(const std::string& name, const std::string& cert)
{
    auto o = server(name);
    o.tls.cert_file = certs() + "/" + cert + ".pem";
    o.tls.key_file = certs() + "/" + cert + ".key";
    return o;
}

/// The pin of a certificate file, as 64 hex digits.
std::string hex_pin_of(const std::string& pem)
{
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(pem.c_str(), "r"), &std::fclose);
    BOOST_REQUIRE(f);
    std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free);
    BOOST_REQUIRE(cert);
    smtp::detail::spki_digest d{};
    BOOST_REQUIRE(smtp::detail::spki_sha256(cert.get(), d));
    std::string hex;
    for (unsigned char b : d) {
        static const char digits[] = "0123456789abcdef";
        hex += digits[b >> 4];
        hex += digits[b & 15];
    }
    return hex;
}

/// A message over implicit TLS; the record the server made of it.
std::string send_implicit(const std::string& name, const smtp::connect_options& o)
{
    auto g = std::move(smtp::connect<implicit>(o)).ehlo();
    g.sendmail("author@example.com", {"a@example.com"}, message);
    std::move(g).quit();
    const auto rec = records(name);
    BOOST_REQUIRE(!rec.empty());
    return rec.back();
}

/// A message over STARTTLS (the default policies); the server's record of it.
std::string send_starttls(const std::string& name, const smtp::connect_options& o)
{
    auto e = std::move(std::move(smtp::connect(o)).ehlo()).starttls().ehlo();
    e.sendmail("author@example.com", {"a@example.com"}, message);
    std::move(e).quit();
    const auto rec = records(name);
    BOOST_REQUIRE(!rec.empty());
    return rec.back();
}

/// STARTTLS and EHLO (the TLS 1.3 tickets come before its reply), then QUIT:
/// whether the handshake resumed a session.
bool starttls_resumed(const smtp::connect_options& o)
{
    auto e = std::move(std::move(smtp::connect(o)).ehlo()).starttls().ehlo();
    const bool resumed = e.transport().session_resumed();
    std::move(e).quit();
    return resumed;
}

/// The server's record of its last TLS handshake ("TLS TLSv1.3 client=- resumed=1").
std::string last_handshake(const std::string& name)
{
    const auto all = lines(name, "events.txt");
    for (auto it = all.rbegin(); it != all.rend(); ++it)
        if (it->starts_with("TLS "))
            return *it;
    return {};
}

} // namespace

BOOST_AUTO_TEST_CASE(a_reconnect_resumes_its_session_and_only_to_the_same_name)
{
    auto o = server("TLS");
    o.tls.session_cache = std::make_shared<smtp::tls_session_cache>();
    const auto& cache = *o.tls.session_cache;
    BOOST_TEST(!starttls_resumed(o)); // nothing to offer yet
    BOOST_TEST(contains(last_handshake("TLS"), "resumed=0"));
    BOOST_TEST(cache.size() >= 1u); // what the server gave
    BOOST_TEST(starttls_resumed(o));
    BOOST_TEST(contains(last_handshake("TLS"), "resumed=1"), last_handshake("TLS"));
    BOOST_TEST(cache.offered() == 1u);
    BOOST_TEST(cache.resumed() == 1u);
    // The same server by another name (its certificate names 127.0.0.1
    // too): the session is not offered; a full handshake checks the name.
    auto by_address = o;
    by_address.host = "127.0.0.1";
    BOOST_TEST(!starttls_resumed(by_address));
    BOOST_TEST(cache.offered() == 1u);
    BOOST_TEST(contains(last_handshake("TLS"), "resumed=0"));
    BOOST_TEST(starttls_resumed(by_address)); // its own session now
    BOOST_TEST(starttls_resumed(o));          // and the name's is still there
    BOOST_TEST(cache.resumed() == 3u);
    // Implicit TLS, with no cache named: the process-wide one.
    auto imp = server("IMP");
    for (int i = 0; i < 2; ++i) {
        auto c = smtp::connect<implicit>(imp);
        BOOST_TEST(c.transport().session_resumed() == (i == 1));
        std::move(std::move(c).ehlo()).quit();
    }
    BOOST_TEST(contains(last_handshake("IMP"), "resumed=1"));
}

BOOST_AUTO_TEST_CASE(a_cache_shares_one_context_and_drops_what_expired)
{
    // Connections that name one cache share its OpenSSL context: the hook
    // runs once for all of them, and they still resume.
    auto o = server("TLS");
    o.tls.session_cache = std::make_shared<smtp::tls_session_cache>();
    int calls = 0;
    o.tls.context_hook = [&](ssl_ctx_st*, smtp::error_code&) { ++calls; };
    BOOST_TEST(!starttls_resumed(o));
    BOOST_TEST(starttls_resumed(o));
    BOOST_TEST(calls == 1);
    o.tls.session_cache->clear(); // sessions and contexts: a full handshake, the hook again
    BOOST_TEST(!starttls_resumed(o));
    BOOST_TEST(calls == 2);
    // Sessions older than the cache's max_age (here 0 s) are never offered.
    auto expiring = server("TLS");
    expiring.tls.session_cache = std::make_shared<smtp::tls_session_cache>(64, 4, std::chrono::seconds(0));
    BOOST_TEST(!starttls_resumed(expiring));
    BOOST_TEST(expiring.tls.session_cache->size() >= 1u); // kept, but expired
    BOOST_TEST(!starttls_resumed(expiring));
    BOOST_TEST(expiring.tls.session_cache->offered() == 0u);
}

BOOST_AUTO_TEST_CASE(resumption_off)
{
    auto o = server("TLS");
    o.tls.session_cache = std::make_shared<smtp::tls_session_cache>();
    o.tls.resume_sessions = false;
    BOOST_TEST(!starttls_resumed(o));
    BOOST_TEST(!starttls_resumed(o));
    BOOST_TEST(contains(last_handshake("TLS"), "resumed=0"));
    BOOST_TEST(o.tls.session_cache->size() == 0u); // nothing kept
    BOOST_TEST(o.tls.session_cache->offered() == 0u);
    // A hook and no cache named: the process's cache is not used either.
    auto hooked = server("IMP");
    hooked.tls.context_hook = [](ssl_ctx_st*, smtp::error_code&) {};
    for (int i = 0; i < 2; ++i) {
        auto c = smtp::connect<implicit>(hooked);
        BOOST_TEST(!c.transport().session_resumed());
        std::move(std::move(c).ehlo()).quit();
    }
}

BOOST_AUTO_TEST_CASE(a_session_is_offered_only_under_the_same_checks)
{
    // A resumed handshake brings no certificate: were a session offered
    // under other settings, what those settings check would go unchecked.
    const auto cache = std::make_shared<smtp::tls_session_cache>();
    {
        // Made with the test CA; then another CA (one that did not sign the
        // server's certificate): a full handshake, and it fails.
        auto o = server("TLS");
        o.tls.session_cache = cache;
        BOOST_TEST(!starttls_resumed(o));
        BOOST_TEST(starttls_resumed(o));
        const auto offered = cache->offered();
        o.tls.ca_file = certs() + "/selfsigned.pem";
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto t = std::move(std::move(smtp::connect(o)).ehlo()).starttls(ec, diag);
        BOOST_TEST(!t.has_value());
        BOOST_TEST((ec.category() == smtp::x509_category()), ec.message());
        BOOST_TEST(cache->offered() == offered);
        // A wrong pin: not offered either, and the pin fails.
        o = server("TLS");
        o.tls.session_cache = cache;
        o.tls.pin_sha256 = {hex_pin_of(certs() + "/selfsigned.pem")};
        auto p = std::move(std::move(smtp::connect(o)).ehlo()).starttls(ec, diag);
        BOOST_TEST(!p.has_value());
        BOOST_TEST((ec == smtp::tls_errc::pin_mismatch), ec.message());
        BOOST_TEST(cache->offered() == offered);
    }
    {
        // Made without verification (a self-signed server); then verified:
        // not offered, and the chain fails.
        using unverified = smtp::policies<smtp::tls::implicit, smtp::tls::insecure_no_verify>;
        auto o = server("SELF");
        o.tls.session_cache = cache;
        for (int i = 0; i < 2; ++i) {
            auto c = smtp::connect<unverified>(o);
            BOOST_TEST(c.transport().session_resumed() == (i == 1));
            std::move(std::move(c).ehlo()).quit();
        }
        const auto offered = cache->offered();
        smtp::error_code ec;
        smtp::diagnostics diag;
        BOOST_TEST(!smtp::connect<implicit>(o, ec, diag).has_value());
        BOOST_TEST((ec.category() == smtp::x509_category()), ec.message());
        BOOST_TEST(cache->offered() == offered);
    }
}

BOOST_AUTO_TEST_CASE(a_pools_reconnects_resume)
{
    // One message a session, one session at a time: each reconnect offers
    // what the last connection got, from the pool's own cache.
    boost::asio::io_context io;
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_messages_per_session = 1;
    smtp::pool<> pool(io.get_executor(), server("TLS"), po);
    BOOST_REQUIRE(pool.tls_sessions());
    BOOST_TEST(pool.tls_sessions() != smtp::tls_session_cache::process_default());
    const auto events = lines("TLS", "events.txt").size();
    std::size_t queued = 0;
    for (int i = 0; i < 3; ++i)
        pool.async_send({"a@example.com", {{"b@example.com"}}, message, {}},
                        [&](smtp::error_code, smtp::transaction_result r) { queued += r.queued(); });
    pool.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    BOOST_TEST(queued == 3u);
    BOOST_TEST(pool.stats().sessions_opened == 3u);
    BOOST_TEST(pool.tls_sessions()->resumed() == 2u);
    std::vector<std::string> handshakes;
    for (const auto& line : since("TLS", "events.txt", events))
        if (line.starts_with("TLS "))
            handshakes.push_back(line.substr(line.rfind(' ') + 1));
    BOOST_TEST((handshakes == std::vector<std::string>{"resumed=0", "resumed=1", "resumed=1"}));
}

BOOST_AUTO_TEST_CASE(a_client_certificate_the_server_requires)
{
    // Servers "ccs" (STARTTLS) and "cci" (implicit) ask for a certificate
    // signed by the test CA, and record the subject they saw.
    BOOST_TEST(contains(send_starttls("CCS", with_client_cert("CCS", "client")),
                        "\"client_cert\": \"smtp test client\""));
    BOOST_TEST(contains(send_implicit("CCI", with_client_cert("CCI", "client")),
                        "\"client_cert\": \"smtp test client\""));
    // The certificate and its key in one file: key_file empty.
    auto both = server("CCI");
    const std::string combined = (fs::temp_directory_path() / "smtp-live-tls-client-both.pem").string();
    {
        std::ofstream f(combined);
        f << live::slurp(certs() + "/client.pem") << live::slurp(certs() + "/client.key");
    }
    both.tls.cert_file = combined;
    BOOST_TEST(contains(send_implicit("CCI", both), "\"client_cert\": \"smtp test client\""));
    fs::remove(combined);
}

BOOST_AUTO_TEST_CASE(an_encrypted_key_opens_with_its_passphrase_only)
{
    auto o = with_client_cert("CCI", "client_enc");
    o.tls.key_passphrase = "client-pass";
    BOOST_TEST(contains(send_implicit("CCI", o), "\"client_cert\": \"smtp test client enc\""));

    // A wrong passphrase, or none: refused when the connection opens, before
    // any byte reaches the server (it saw no handshake at all).
    for (const std::string& pass : {std::string("wrong"), std::string()}) {
        BOOST_TEST_CONTEXT("passphrase '" << pass << "'")
        {
            const auto handshakes = lines("CCI", "sni.txt").size();
            o.tls.key_passphrase = pass;
            smtp::error_code ec;
            smtp::diagnostics diag;
            BOOST_TEST(!smtp::connect<implicit>(o, ec, diag).has_value());
            BOOST_TEST((ec == smtp::tls_errc::key_passphrase_wrong), ec.message());
            BOOST_TEST(contains(diag.describe(ec), "key_passphrase"), diag.describe(ec));
            BOOST_TEST(lines("CCI", "sni.txt").size() == handshakes);
        }
    }
    // A key that is not the certificate's.
    auto mismatched = with_client_cert("CCI", "client");
    mismatched.tls.key_file = certs() + "/otherclient.key";
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<implicit>(mismatched, ec, diag).has_value());
    BOOST_TEST((ec == smtp::tls_errc::key_cert_mismatch), ec.message());
}

BOOST_AUTO_TEST_CASE(no_client_certificate_or_the_wrong_one_is_refused)
{
    // Without a certificate, or with one another CA signed, the server ends
    // the handshake. Under TLS 1.3 the client learns it at its first read
    // after the handshake (the server checks the client's certificate after
    // the client finished): either way an error, and no mail.
    const auto before_i = records("CCI").size();
    const auto before_s = records("CCS").size();
    for (const std::string& cert : {std::string(), std::string("otherclient")}) {
        BOOST_TEST_CONTEXT("certificate '" << cert << "'")
        {
            auto oi = cert.empty() ? server("CCI") : with_client_cert("CCI", cert);
            smtp::error_code ec;
            smtp::diagnostics diag;
            auto c = smtp::connect<implicit>(oi, ec, diag); // the greeting is the first read
            BOOST_TEST(!c.has_value());
            BOOST_TEST(ec.failed());

            const auto events = lines("CCS", "events.txt").size();
            auto os = cert.empty() ? server("CCS") : with_client_cert("CCS", cert);
            auto g = std::move(smtp::connect(os)).ehlo();
            auto t = std::move(g).starttls(ec, diag);
            if (t) { // TLS 1.3: the refusal comes with the reply to the next command
                auto e = std::move(t).value().ehlo(ec, diag);
            }
            BOOST_TEST(ec.failed());
            for (const auto& line : since("CCS", "events.txt", events))
                BOOST_TEST(!contains(line, "tls=1"), line); // no command was read under TLS
        }
    }
    BOOST_TEST(records("CCI").size() == before_i);
    BOOST_TEST(records("CCS").size() == before_s);
}

BOOST_AUTO_TEST_CASE(tls_1_3_as_the_minimum)
{
    // Server "tls12" offers TLS 1.2 at most: fine by default, refused with
    // tls_version::v1_3.
    BOOST_TEST(contains(send_implicit("TLS12", server("TLS12")), "\"tls_version\": \"TLSv1.2\""));
    auto o = server("TLS12");
    o.tls.min_version = smtp::tls_version::v1_3;
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<implicit>(o, ec, diag).has_value());
    BOOST_TEST(ec.failed());
    BOOST_TEST(records("TLS12").size() == 1u);
    // And against a server that speaks 1.3 it is what is negotiated.
    auto modern = server("IMP");
    modern.tls.min_version = smtp::tls_version::v1_3;
    BOOST_TEST(contains(send_implicit("IMP", modern), "\"tls_version\": \"TLSv1.3\""));
}

BOOST_AUTO_TEST_CASE(a_pin_that_matches)
{
    const std::string hex = hex_pin_of(certs() + "/server.pem");
    // Hex, with a wrong pin beside it: one match is enough.
    auto o = server("IMP");
    o.tls.pin_sha256 = {std::string(64, '0'), hex};
    auto c = smtp::connect<implicit>(o);
    BOOST_TEST(c.encrypted());
    // The layer reports the pin it saw, in base64: the same key.
    const std::string b64 = c.transport().server_pin_sha256();
    smtp::detail::spki_digest from_hex{}, from_b64{};
    BOOST_TEST(smtp::detail::parse_pin(hex, from_hex));
    BOOST_TEST(smtp::detail::parse_pin(b64, from_b64));
    BOOST_TEST((from_hex == from_b64));
    std::move(c).quit();
    // That base64 form, as curl writes it, over STARTTLS.
    auto s = server("TLS");
    s.tls.pin_sha256 = {"sha256//" + b64};
    send_starttls("TLS", s);
    // A self-signed server known by its key alone: the pin is the check under
    // tls::insecure_no_verify.
    using pinned_only = smtp::policies<smtp::tls::implicit, smtp::tls::insecure_no_verify>;
    auto self = server("SELF");
    self.tls.pin_sha256 = {hex_pin_of(certs() + "/selfsigned.pem")};
    auto sc = smtp::connect<pinned_only>(self);
    BOOST_TEST(sc.encrypted());
    std::move(sc).quit();
}

BOOST_AUTO_TEST_CASE(a_pin_that_does_not_match_fails_before_any_command)
{
    const std::string other = hex_pin_of(certs() + "/selfsigned.pem"); // another key than server.pem's
    {
        // Implicit TLS: the handshake fails; the server read no command at all.
        auto o = server("IMP");
        o.tls.pin_sha256 = {other};
        const auto events = lines("IMP", "events.txt").size();
        const auto handshakes = lines("IMP", "sni.txt").size();
        smtp::error_code ec;
        smtp::diagnostics diag;
        BOOST_TEST(!smtp::connect<implicit>(o, ec, diag).has_value());
        BOOST_TEST((ec == smtp::tls_errc::pin_mismatch), ec.message());
        BOOST_TEST(contains(ec.message(), "pin"));
        BOOST_TEST(lines("IMP", "sni.txt").size() == handshakes + 1); // it did reach the handshake
        BOOST_TEST(since("IMP", "events.txt", events).empty(), "the server read a command");
    }
    {
        // STARTTLS: EHLO and STARTTLS in clear, then nothing.
        auto o = server("TLS");
        o.tls.pin_sha256 = {other};
        const auto events = lines("TLS", "events.txt").size();
        auto g = std::move(smtp::connect(o)).ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto t = std::move(g).starttls(ec, diag);
        BOOST_TEST(!t.has_value());
        BOOST_TEST((ec == smtp::tls_errc::pin_mismatch), ec.message());
        const auto seen = since("TLS", "events.txt", events);
        BOOST_TEST((seen == std::vector<std::string>{"EHLO tls=0", "STARTTLS tls=0"}));
    }
    {
        // Under tls::insecure_no_verify a wrong pin fails all the same.
        using pinned_only = smtp::policies<smtp::tls::implicit, smtp::tls::insecure_no_verify>;
        auto o = server("SELF");
        o.tls.pin_sha256 = {hex_pin_of(certs() + "/server.pem")};
        smtp::error_code ec;
        smtp::diagnostics diag;
        BOOST_TEST(!smtp::connect<pinned_only>(o, ec, diag).has_value());
        BOOST_TEST((ec == smtp::tls_errc::pin_mismatch), ec.message());
    }
}

BOOST_AUTO_TEST_CASE(the_context_hook)
{
    // Called with the SSL_CTX before the handshake: here it caps the version
    // at TLS 1.2, which the server records.
    auto o = server("IMP");
    int calls = 0;
    o.tls.context_hook = [&](ssl_ctx_st* ctx, smtp::error_code&) {
        ++calls;
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    };
    BOOST_TEST(contains(send_implicit("IMP", o), "\"tls_version\": \"TLSv1.2\""));
    BOOST_TEST(calls == 1);
    // An error it sets fails the handshake with it, before the ClientHello.
    const auto handshakes = lines("IMP", "sni.txt").size();
    o.tls.context_hook = [](ssl_ctx_st*, smtp::error_code& ec) { ec = smtp::errc::invalid_parameter_value; };
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<implicit>(o, ec, diag).has_value());
    BOOST_TEST(ec == smtp::errc::invalid_parameter_value);
    BOOST_TEST(lines("IMP", "sni.txt").size() == handshakes);
}

// --- DANE (RFC 7672): tls_options::dane ---------------------------------------
// The TLSA records are computed here from the test PKI (SHA-256/512 of the
// DER certificate or SubjectPublicKeyInfo). The client connects to the
// address, as a delivery to an MX host's address does, and names the host in
// tls_options::dane.names; no CA file is given: under DANE the records, not
// a trust store, authenticate the server.
namespace {

namespace dane = smtp::dane;

/// A TLSA record for the certificate in `pem`.
dane::tlsa_record tlsa_of(const std::string& pem, std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype)
{
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(pem.c_str(), "r"), &std::fclose);
    BOOST_REQUIRE(f);
    std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free);
    BOOST_REQUIRE(cert);
    unsigned char* der = nullptr;
    const int len = selector == 0 ? i2d_X509(cert.get(), &der) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
    BOOST_REQUIRE(len > 0);
    dane::tlsa_record r{usage, selector, mtype, {}};
    if (mtype == 0) {
        r.data.assign(der, der + len);
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        BOOST_REQUIRE(EVP_Digest(der, static_cast<std::size_t>(len), md, &n, mtype == 1 ? EVP_sha256() : EVP_sha512(),
                                 nullptr) == 1);
        r.data.assign(md, md + n);
    }
    OPENSSL_free(der);
    return r;
}

std::string pem(const std::string& name) { return certs() + "/" + name + ".pem"; }

/// A server by its address, authenticated by DANE: `records`, `names`.
smtp::connect_options under_dane(const std::string& name, std::vector<dane::tlsa_record> records,
                                 std::vector<std::string> names = {"localhost"})
{
    auto o = server(name, "127.0.0.1");
    o.tls.ca_file.clear(); // not the test CA: the records are the trust
    o.tls.dane.mode = dane::mode::authenticate;
    o.tls.dane.records = std::move(records);
    o.tls.dane.names = std::move(names);
    return o;
}

/// STARTTLS under `o`, then a message; the error of the first step that
/// failed (STARTTLS, the handshake) and what the server read meanwhile.
struct attempt {
    smtp::error_code ec;
    std::optional<dane::match> matched;
    std::vector<std::string> seen; // the server's events.txt lines
};
template <class P = smtp::policies<>>
attempt starttls_and_send(const std::string& name, const smtp::connect_options& o)
{
    attempt a;
    const auto before = lines(name, "events.txt").size();
    smtp::diagnostics diag;
    auto g = std::move(smtp::connect<P>(o)).ehlo();
    auto t = std::move(g).starttls(a.ec, diag);
    if (t) {
        auto s = std::move(t).value();
        a.matched = s.transport().dane_match();
        auto e = std::move(s).ehlo();
        BOOST_TEST(e.encrypted());
        e.sendmail("author@example.com", {"a@example.com"}, message);
        std::move(e).quit();
    }
    a.seen = since(name, "events.txt", before);
    return a;
}

bool saw_mail(const attempt& a)
{
    return std::any_of(a.seen.begin(), a.seen.end(), [](const std::string& l) { return l.starts_with("MAIL"); });
}

} // namespace

BOOST_AUTO_TEST_CASE(dane_ee_matching_the_server_key_delivers_and_says_which_record)
{
    // 3 1 1 of server.pem's key: delivered, over TLS, and reported.
    const auto ee = tlsa_of(pem("server"), 3, 1, 1);
    auto a = starttls_and_send("TLS", under_dane("TLS", {ee}));
    BOOST_TEST(!a.ec, a.ec.message());
    BOOST_TEST(saw_mail(a));
    BOOST_TEST(contains(records("TLS").back(), "\"tls\": true"));
    BOOST_REQUIRE(a.matched.has_value());
    BOOST_TEST((a.matched->record == ee));
    BOOST_TEST(a.matched->depth == 0);
    // Among records that do not match (another key, an unusable PKIX-EE of
    // this very key), the one that does: 3 0 2, the certificate's SHA-512.
    const auto full = tlsa_of(pem("server"), 3, 0, 2);
    a = starttls_and_send("TLS", under_dane("TLS", {tlsa_of(pem("selfsigned"), 3, 1, 1),
                                                    tlsa_of(pem("server"), 1, 1, 1), full}));
    BOOST_TEST(!a.ec, a.ec.message());
    BOOST_REQUIRE(a.matched.has_value());
    BOOST_TEST((a.matched->record == full));
    // Implicit TLS too; no session is kept or resumed under DANE.
    auto imp = under_dane("IMP", {ee});
    for (int i = 0; i < 2; ++i) {
        auto c = smtp::connect<implicit>(imp);
        BOOST_TEST(c.transport().dane_match().has_value());
        BOOST_TEST(!c.transport().session_resumed());
        std::move(std::move(c).ehlo()).quit();
    }
}

BOOST_AUTO_TEST_CASE(dane_ee_of_another_key_fails_before_any_command_after_starttls)
{
    auto a = starttls_and_send("TLS", under_dane("TLS", {tlsa_of(pem("selfsigned"), 3, 1, 1)}));
    BOOST_TEST((a.ec == smtp::tls_errc::dane_mismatch), a.ec.message());
    BOOST_TEST(contains(a.ec.message(), "DANE"));
    BOOST_TEST((a.seen == std::vector<std::string>{"EHLO tls=0", "STARTTLS tls=0"}));
    BOOST_TEST(!saw_mail(a));
    // Implicit TLS: no command at all.
    const auto before = lines("IMP", "events.txt").size();
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<implicit>(under_dane("IMP", {tlsa_of(pem("selfsigned"), 3, 1, 1)}), ec, diag));
    BOOST_TEST((ec == smtp::tls_errc::dane_mismatch), ec.message());
    BOOST_TEST(since("IMP", "events.txt", before).empty());
}

BOOST_AUTO_TEST_CASE(dane_ta_checks_the_chain_to_the_anchor_and_the_names)
{
    // The server sends its chain with the test CA (serverchain.pem): 2 0 1
    // and 2 1 1 of the CA, with the name its certificate carries.
    for (std::uint8_t selector : {0, 1}) {
        const auto ta = tlsa_of(pem("ca"), 2, selector, 1);
        auto a = starttls_and_send("CHAIN", under_dane("CHAIN", {ta}));
        BOOST_TEST(!a.ec, a.ec.message());
        BOOST_TEST(saw_mail(a));
        BOOST_REQUIRE(a.matched.has_value());
        BOOST_TEST((a.matched->record == ta));
        BOOST_TEST(a.matched->depth == 1);
    }
    const auto ta = tlsa_of(pem("ca"), 2, 1, 1);
    // A name the certificate does not carry: a typed error, no MAIL.
    auto a = starttls_and_send("CHAIN", under_dane("CHAIN", {ta}, {"mx.example.test"}));
    BOOST_TEST((a.ec == smtp::tls_errc::dane_name_mismatch), a.ec.message());
    BOOST_TEST((a.seen == std::vector<std::string>{"EHLO tls=0", "STARTTLS tls=0"}));
    // The same MX name with the next-hop domain beside it (RFC 7672 3.2.2),
    // here the one the certificate carries: accepted.
    a = starttls_and_send("CHAIN", under_dane("CHAIN", {ta}, dane::reference_names("mx.example.test", true, "LOCALHOST")));
    BOOST_TEST(!a.ec, a.ec.message());
    BOOST_TEST(saw_mail(a));
    // ...but not when the MX RRset was insecure: only the MX name counts.
    a = starttls_and_send("CHAIN", under_dane("CHAIN", {ta}, dane::reference_names("mx.example.test", false, "localhost")));
    BOOST_TEST((a.ec == smtp::tls_errc::dane_name_mismatch), a.ec.message());
    // A trust anchor that is not in the chain (another CA): no match.
    a = starttls_and_send("CHAIN", under_dane("CHAIN", {tlsa_of(pem("otherca"), 2, 1, 1)}));
    BOOST_TEST((a.ec == smtp::tls_errc::dane_mismatch), a.ec.message());
    BOOST_TEST(!saw_mail(a));
}

BOOST_AUTO_TEST_CASE(dane_ee_checks_neither_the_name_nor_the_dates)
{
    // The control: without DANE, the certificate for wrong.example fails the
    // host check even with the CA that signed it.
    {
        auto o = server("WRONG");
        smtp::error_code ec;
        smtp::diagnostics diag;
        BOOST_TEST(!std::move(smtp::connect(o)).ehlo().starttls(ec, diag).has_value());
        BOOST_TEST((ec == smtp::error_code(X509_V_ERR_HOSTNAME_MISMATCH, smtp::x509_category())), ec.message());
    }
    // RFC 7672 3.1.1: DANE-EE(3) binds the key to the host; its name and
    // its validity dates do not matter.
    auto a = starttls_and_send("WRONG", under_dane("WRONG", {tlsa_of(pem("wronghost"), 3, 1, 1)}));
    BOOST_TEST(!a.ec, a.ec.message());
    BOOST_TEST(saw_mail(a));
    a = starttls_and_send("EXPIRED", under_dane("EXPIRED", {tlsa_of(pem("expired"), 3, 1, 1)}));
    BOOST_TEST(!a.ec, a.ec.message());
    BOOST_TEST(saw_mail(a));
    BOOST_REQUIRE(a.matched.has_value());
    BOOST_TEST(a.matched->record.usage == dane::usage::dane_ee);
}

BOOST_AUTO_TEST_CASE(a_server_without_starttls_is_refused_under_dane)
{
    const auto ee = tlsa_of(pem("server"), 3, 1, 1);
    // tls::starttls (the default): STARTTLS not offered, nothing after EHLO.
    auto a = starttls_and_send("PLAIN", under_dane("PLAIN", {ee}));
    BOOST_TEST((a.ec == smtp::errc::starttls_not_offered), a.ec.message());
    BOOST_TEST((a.seen == std::vector<std::string>{"EHLO tls=0"}));
    // A policy that allows clear text is refused before connecting, sync and
    // async: DANE makes TLS mandatory.
    using clear_allowed = smtp::policies<smtp::tls::opportunistic>;
    const auto before = lines("PLAIN", "events.txt").size();
    const auto sessions = records("PLAIN").size();
    smtp::error_code ec;
    smtp::diagnostics diag;
    BOOST_TEST(!smtp::connect<clear_allowed>(under_dane("PLAIN", {ee}), ec, diag).has_value());
    BOOST_TEST((ec == smtp::errc::dane_in_clear), ec.message());
    boost::asio::io_context io;
    std::optional<smtp::error_code> async_ec;
    smtp::async_connect<smtp::policies<smtp::tls::none>>(io.get_executor(), under_dane("PLAIN", {ee}),
                                                          [&](smtp::error_code e, auto s) {
                                                              async_ec = e;
                                                              BOOST_TEST(!s.has_value());
                                                          });
    io.run();
    BOOST_REQUIRE(async_ec.has_value());
    BOOST_TEST((*async_ec == smtp::errc::dane_in_clear), async_ec->message());
    BOOST_TEST(lines("PLAIN", "events.txt").size() == before);
    BOOST_TEST(records("PLAIN").size() == sessions);
}

BOOST_AUTO_TEST_CASE(a_secure_rrset_of_unusable_records_means_encrypted_not_authenticated)
{
    // RFC 7672 2.2: PKIX-TA/PKIX-EE and a digest of the wrong length are
    // unusable; a secure RRset of only such records still makes TLS
    // mandatory, without authentication.
    auto short_digest = tlsa_of(pem("server"), 3, 1, 1);
    short_digest.data.pop_back();
    const auto d = dane::decide(dane::lookup::secure,
                                {tlsa_of(pem("ca"), 0, 0, 1), tlsa_of(pem("wronghost"), 1, 1, 1), short_digest},
                                {"localhost"});
    BOOST_REQUIRE(d.use_host);
    BOOST_TEST((d.tls.mode == dane::mode::encrypt_only));
    // A certificate for another name, no CA file: delivered over TLS.
    auto o = server("WRONG", "127.0.0.1");
    o.tls.ca_file.clear();
    o.tls.dane = d.tls;
    auto a = starttls_and_send("WRONG", o);
    BOOST_TEST(!a.ec, a.ec.message());
    BOOST_TEST(saw_mail(a));
    BOOST_TEST(!a.matched.has_value()); // encrypted, not authenticated by DANE
    // But never in clear: a server without STARTTLS is refused.
    o.port = server("PLAIN").port;
    a = starttls_and_send("PLAIN", o);
    BOOST_TEST((a.ec == smtp::errc::starttls_not_offered), a.ec.message());
    BOOST_TEST(!saw_mail(a));
}

BOOST_AUTO_TEST_CASE(a_pool_under_dane_requires_starttls_whatever_its_policy)
{
    // tls::opportunistic would send in clear to a server without STARTTLS;
    // under DANE the pool's sessions require it.
    using opportunistic = smtp::policies<smtp::tls::opportunistic>;
    const auto ee = tlsa_of(pem("server"), 3, 1, 1);
    const auto send_one = [&](const std::string& name) {
        boost::asio::io_context io;
        smtp::pool_options po;
        po.max_sessions = 1;
        smtp::pool<opportunistic> pool(io.get_executor(), under_dane(name, {ee}), po);
        std::optional<smtp::transaction_result> got;
        pool.async_send({"a@example.com", {{"b@example.com"}}, message, {}},
                        [&](smtp::error_code, smtp::transaction_result r) { got = std::move(r); });
        pool.async_close([](smtp::error_code, smtp::pool_stats) {});
        io.run();
        BOOST_REQUIRE(got.has_value());
        return *got;
    };
    auto before = lines("PLAIN", "events.txt").size();
    BOOST_TEST(!send_one("PLAIN").queued());
    auto seen = since("PLAIN", "events.txt", before);
    BOOST_TEST(std::none_of(seen.begin(), seen.end(), [](const std::string& l) { return l.starts_with("MAIL"); }));
    before = lines("TLS", "events.txt").size();
    BOOST_TEST(send_one("TLS").queued());
    seen = since("TLS", "events.txt", before);
    BOOST_TEST((std::find(seen.begin(), seen.end(), "STARTTLS tls=0") != seen.end()));
    // tls::none cannot do TLS at all: the pool refuses to be made.
    boost::asio::io_context io;
    BOOST_CHECK_THROW(smtp::pool<smtp::policies<smtp::tls::none>>(io.get_executor(), under_dane("PLAIN", {ee})),
                      std::invalid_argument);
}

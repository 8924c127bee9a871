// The client against real servers, started by tests/servers/with_servers.py
// on free loopback ports (see tests/CMakeLists.txt for which): aiosmtpd in
// clear, with STARTTLS and AUTH, with implicit TLS, with certificates that
// must fail, with VRFY; and Postfix's smtp-sink. What the servers received is
// read back from their record directories.
#define BOOST_TEST_MODULE live
#include "live_servers.hpp"

#include <smtp/client.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using smtp::errc;

namespace {

using live::contains;
using live::env;
using live::recorded_data;
using live::records;
using live::server;

const std::string message = "From: Author <author@example.com>\r\nTo: Recipient <a@example.com>\r\n"
                            "Subject: live test\r\n\r\nHello.\r\n.a line with a dot\r\n";

using clear = smtp::policies<smtp::tls::none>;
using clear_auth = smtp::policies<smtp::tls::opportunistic, smtp::auth::allow_plaintext>;

} // namespace

BOOST_AUTO_TEST_CASE(sendmail_with_refused_and_bcc_recipients)
{
    // Server "plain": refuses nobody@example.com.
    auto g = std::move(smtp::connect<clear>(server("PLAIN"))).ehlo();
    BOOST_TEST(g.does_esmtp());
    BOOST_TEST(g.has_extn("SIZE"));
    const auto r = g.sendmail("author@example.com", {"a@example.com", "nobody@example.com", "hidden@example.com"},
                              message);
    BOOST_REQUIRE(r.refused().size() == 1u);
    BOOST_TEST(r.refused().at("nobody@example.com").code().value() == 550u);
    BOOST_TEST(r.final_reply.code().value() == 250u);
    std::move(g).quit();

    const auto rec = records("PLAIN");
    BOOST_REQUIRE(rec.size() == 1u);
    BOOST_TEST(contains(rec[0], "\"mail_from\": \"author@example.com\""));
    BOOST_TEST(contains(rec[0], "\"a@example.com\""));
    BOOST_TEST(contains(rec[0], "\"hidden@example.com\"")); // the BCC: envelope only
    BOOST_TEST(!contains(rec[0], "\"nobody@example.com\""));
    BOOST_TEST(contains(rec[0], "\"helo\": \"client.example\""));
    BOOST_TEST(recorded_data(rec[0]) == message); // un-stuffed by the server: what we meant
}

BOOST_AUTO_TEST_CASE(starttls_then_auth_with_the_default_policies)
{
    // Server "tls": STARTTLS required by the server, AUTH PLAIN and LOGIN.
    // The default policies: STARTTLS required, certificate verified.
    auto g = std::move(smtp::connect(server("TLS"))).ehlo();
    BOOST_TEST(g.has_extn("STARTTLS"));
    BOOST_TEST(!g.encrypted());
    auto e = std::move(g).starttls().ehlo();
    BOOST_TEST(e.encrypted());
    BOOST_TEST(!e.has_extn("STARTTLS")); // not offered twice
    BOOST_TEST(e.has_extn("AUTH"));
    auto a = std::move(e).login("alice", "s3cret");
    a.sendmail("author@example.com", {"a@example.com"}, message);
    std::move(a).quit();
    const auto rec = records("TLS");
    BOOST_REQUIRE(rec.size() == 1u);
    BOOST_TEST(contains(rec[0], "\"tls\": true"));
    BOOST_TEST(contains(rec[0], "\"auth_user\": \"alice\""));
}

BOOST_AUTO_TEST_CASE(each_mechanism_and_a_wrong_password)
{
    auto run = [](auto policy_tag, std::string_view password) {
        using P = typename decltype(policy_tag)::type;
        auto e = std::move(std::move(smtp::connect<P>(server("TLS"))).ehlo()).starttls().ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(e).login("alice", password, ec, diag);
        return std::pair{ec, diag};
    };
    using plain = smtp::policies<smtp::auth::mechanisms<smtp::sasl::plain>>;
    using login = smtp::policies<smtp::auth::mechanisms<smtp::sasl::login>>;
    using cram = smtp::policies<smtp::auth::mechanisms<smtp::sasl::cram_md5_openssl>>;
    BOOST_TEST(!run(std::type_identity<plain>{}, "s3cret").first);
    BOOST_TEST(!run(std::type_identity<login>{}, "s3cret").first);
    const auto [ec, diag] = run(std::type_identity<plain>{}, "wrong");
    BOOST_TEST(ec == errc::auth_refused);
    BOOST_TEST(diag.server_reply()->code().value() == 535u);
    // aiosmtpd does not offer CRAM-MD5: refused before a byte is sent.
    BOOST_TEST(run(std::type_identity<cram>{}, "s3cret").first == errc::no_common_mechanism);
}

BOOST_AUTO_TEST_CASE(implicit_tls)
{
    using P = smtp::policies<smtp::tls::implicit>;
    auto c = smtp::connect<P>(server("IMPLICIT"));
    BOOST_TEST(c.encrypted());
    auto a = std::move(std::move(c).ehlo()).login("alice", "s3cret");
    a.sendmail("author@example.com", {"a@example.com"}, message);
    std::move(a).quit();
    const auto rec = records("IMPLICIT");
    BOOST_REQUIRE(rec.size() == 1u);
    BOOST_TEST(contains(rec[0], "\"tls\": true"));
}

BOOST_AUTO_TEST_CASE(certificates_that_must_fail)
{
    // On both paths, the handshake fails with the reason, and nothing more is
    // sent: the servers record no message (they would accept one without AUTH).
    const std::pair<std::string, int> cases[] = {{"EXPIRED", X509_V_ERR_CERT_HAS_EXPIRED},
                                                 {"WRONGHOST", X509_V_ERR_HOSTNAME_MISMATCH},
                                                 {"SELFSIGNED", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
                                                 {"UNKNOWNROOT", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY}};
    for (const auto& [name, reason] : cases) {
        const smtp::error_code expected(reason, smtp::x509_category());
        BOOST_TEST_CONTEXT(name)
        {
            {
                using P = smtp::policies<smtp::tls::implicit>;
                smtp::error_code ec;
                smtp::diagnostics diag;
                auto c = smtp::connect<P>(server(name + "_IMPLICIT"), ec, diag);
                BOOST_TEST(!c.has_value());
                BOOST_TEST((ec == expected), ec.message());
            }
            {
                auto g = std::move(smtp::connect(server(name + "_STARTTLS"))).ehlo();
                smtp::error_code ec;
                smtp::diagnostics diag;
                auto t = std::move(g).starttls(ec, diag);
                BOOST_TEST(!t.has_value());
                BOOST_TEST((ec == expected), ec.message());
                auto back = std::move(t).recover();
                BOOST_TEST(back.broken());
                // Under tls::starttls nothing but EHLO/STARTTLS/NOOP/QUIT exists in clear,
                // and the broken session sends nothing at all.
                back.noop(ec, diag);
                BOOST_TEST(ec == errc::session_broken);
            }
            BOOST_TEST(records(name + "_STARTTLS").empty());
        }
    }
    // The same expired certificate is accepted only under the named insecure policy.
    using insecure = smtp::policies<smtp::tls::implicit, smtp::tls::insecure_no_verify>;
    auto c = smtp::connect<insecure>(server("EXPIRED_IMPLICIT"));
    BOOST_TEST(c.encrypted());
    std::move(c).quit();
}

BOOST_AUTO_TEST_CASE(verify)
{
    auto g = std::move(smtp::connect<clear>(server("PLAIN"))).ehlo();
    const auto yes = g.verify("dhellmann");
    BOOST_TEST(yes.code().value() == 250u);
    BOOST_TEST(yes.message() == "2.1.5 Doug Hellmann <dhellmann@mail>");
    const auto no = g.verify("notthere");
    BOOST_TEST(no.code().value() == 550u);
    std::move(g).quit();
}

BOOST_AUTO_TEST_CASE(smtp_sink)
{
    auto g = std::move(smtp::connect<clear>(server("SINK"))).ehlo();
    BOOST_TEST(g.has_extn("PIPELINING"));
    BOOST_TEST(g.server_capabilities().has<smtp::ext::pipelining>());
    const auto r = g.sendmail("author@example.com", {"a@example.com", "b@example.com"}, message);
    BOOST_TEST(r.refused().empty());
    BOOST_TEST(r.final_reply.code().value() == 250u);
    std::move(g).quit();
}

BOOST_AUTO_TEST_CASE(plaintext_auth_only_when_the_policy_says_so)
{
    // Server "plainauth" offers AUTH without TLS; the opt-in policy may use it.
    auto a = std::move(std::move(smtp::connect<clear_auth>(server("PLAINAUTH"))).ehlo()).login("alice", "s3cret");
    a.sendmail("author@example.com", {"a@example.com"}, message);
    std::move(a).quit();
    BOOST_TEST(records("PLAINAUTH").size() == 1u);
}

BOOST_AUTO_TEST_CASE(sni_for_names_none_for_addresses)
{
    using P = smtp::policies<smtp::tls::implicit>;
    std::move(smtp::connect<P>(server("IMPLICIT"))).quit();
    auto by_address = server("IMPLICIT");
    by_address.host = "127.0.0.1"; // verified against the certificate's IP address entry
    std::move(smtp::connect<P>(by_address)).quit();
    std::ifstream f(fs::path(env("SMTP_TEST_IMPLICIT_RECORD")) / "sni.txt");
    std::vector<std::string> names;
    for (std::string line; std::getline(f, line);)
        names.push_back(line);
    BOOST_REQUIRE(names.size() >= 2u); // earlier cases connected too
    BOOST_TEST(names[names.size() - 2] == "localhost");
    BOOST_TEST(names.back() == "(none)");
}

BOOST_AUTO_TEST_CASE(tls_older_than_1_2_is_refused)
{
    // Servers that offer TLS 1.1 at most (RFC 8996): no handshake, on both paths.
    using P = smtp::policies<smtp::tls::implicit>;
    smtp::error_code ec;
    smtp::diagnostics diag;
    // The handshake fails: OpenSSL's error, or the server hanging up on a
    // ClientHello it cannot serve (asio reports "stream truncated").
    auto tls_failure = [](const smtp::error_code& e) {
        return e.category() == boost::asio::error::get_ssl_category() ||
               e == boost::asio::ssl::error::stream_truncated;
    };
    BOOST_TEST(!smtp::connect<P>(server("OLDTLS_IMPLICIT"), ec, diag).has_value());
    BOOST_TEST(tls_failure(ec), ec.message());
    auto g = std::move(smtp::connect(server("OLDTLS_STARTTLS"))).ehlo();
    auto t = std::move(g).starttls(ec, diag);
    BOOST_TEST(!t.has_value());
    BOOST_TEST(tls_failure(ec), ec.message());
    // The harness's self-test shows that such a server does complete a
    // handshake with a client that allows TLS 1.1: the refusal here is ours.
}

BOOST_AUTO_TEST_CASE(a_large_message_over_starttls_arrives_intact)
{
    // 3 MiB, every fifth line starting with a dot: many TLS records, the
    // data written in pieces; aiosmtpd must store exactly the message.
    std::string body;
    for (int i = 0; body.size() < (3u << 20); ++i) {
        if (i % 5 == 0)
            body += '.';
        body += "line " + std::to_string(i) + ' ' + std::string(60, 'x') + "\r\n";
    }
    const std::string big = "From: author@example.com\r\nSubject: big\r\n\r\n" + body;
    const std::size_t before = records("TLS").size();
    auto e = std::move(std::move(smtp::connect(server("TLS"))).ehlo()).starttls().ehlo();
    auto a = std::move(e).login("alice", "s3cret");
    const auto r = a.sendmail("author@example.com", {"a@example.com"}, big);
    BOOST_TEST(r.queued());
    std::move(a).quit();
    const auto rec = records("TLS");
    BOOST_REQUIRE(rec.size() == before + 1);
    const std::string got = recorded_data(rec.back());
    BOOST_TEST(got.size() == big.size());
    BOOST_TEST((got == big), "the stored message differs from the one sent");
}

BOOST_AUTO_TEST_CASE(builder_bcc_reaches_the_envelope_never_the_stored_headers)
{
    // message::bcc(): an envelope recipient only. What aiosmtpd stored has
    // the hidden address among its RCPTs and nowhere in the message.
    smtp::message m(5);
    m.from({"Author", "author@example.com"})
        .to({"Recipient", "a@example.com"})
        .bcc({"Hidden", "hidden@example.com"})
        .subject("bcc from the builder")
        .text("Hello.\n");
    const std::size_t before = records("PLAIN").size();
    auto g = std::move(smtp::connect<clear>(server("PLAIN"))).ehlo();
    const auto r = g.send_message(m);
    BOOST_TEST(r.queued());
    BOOST_TEST(r.recipients.size() == 2u);
    std::move(g).quit();
    const auto rec = records("PLAIN");
    BOOST_REQUIRE(rec.size() == before + 1);
    BOOST_TEST(contains(rec.back(), "\"a@example.com\""));
    BOOST_TEST(contains(rec.back(), "\"hidden@example.com\"")); // among the RCPTs (the data is base64 there)
    const std::string stored = recorded_data(rec.back());
    BOOST_TEST(stored == m.to_string());
    BOOST_TEST(!contains(stored, "hidden"));
    BOOST_TEST(!contains(stored, "Bcc"));
    BOOST_TEST(contains(stored, "To: Recipient <a@example.com>"));
}

// Separate mode, the way a user's file sees it: SMTP_SEPARATE_COMPILATION
// (from smtp::compiled), the light headers, no Asio and no OpenSSL header
// (the ctest separate_mode_has_no_io_headers lists this file's includes).
// Two sessions against main.cpp's loopback server, over the compiled
// connection types: log::none, then log::transcript. And a DKIM signature
// (smtp/dkim.hpp: its OpenSSL part is compiled in src.hpp too).
#include <smtp/client.hpp>
#include <smtp/dkim.hpp>

#include <sstream>
#include <stdexcept>
#include <string>

#ifndef SMTP_SEPARATE_COMPILATION
#error "tests/separate: built with smtp::compiled, which defines SMTP_SEPARATE_COMPILATION"
#endif

namespace {
// Plain text on loopback, AUTH with it: the server is the test's own.
using clear = smtp::policies<smtp::tls::none, smtp::auth::allow_plaintext>;
using clear_logged = smtp::policies<smtp::tls::none, smtp::auth::allow_plaintext, smtp::log::transcript>;

void expect(bool ok, const char* what)
{
    if (!ok)
        throw std::runtime_error(what);
}
} // namespace

/// Returns the transcript of the second session.
std::string send_two_messages(unsigned short port)
{
    smtp::connect_options options;
    options.host = "127.0.0.1";
    options.port = port;
    options.local_name = "client.example";
    {
        auto s = std::move(smtp::connect<clear>(options)).ehlo();
        expect(s.has_extn("AUTH"), "the server's AUTH extension");
        auto a = std::move(s).login("alice", "secret");
        // RFC 8463 Appendix A's test key.
        smtp::dkim::sign_options o;
        o.domain = "example.org";
        o.selector = "test";
        const smtp::dkim::signer signer(smtp::crypto::dkim_key::from_pem("-----BEGIN PRIVATE KEY-----\n"
                                                                         "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
                                                                         "-----END PRIVATE KEY-----\n"),
                                        o);
        const std::string field = signer.sign("From: alice@example.org\r\nSubject: one\r\n\r\nHello.\r\n");
        expect(field.rfind("DKIM-Signature: v=1; a=ed25519-sha256;", 0) == 0, "a DKIM signature");
        const auto r = a.sendmail("alice@example.org", {"bob@example.org"}, "Subject: one\r\n\r\nHello.\r\n");
        expect(r.refused().empty() && !r.error, "the first message accepted");
        expect(std::move(a).quit().clean(), "QUIT answered 221");
    }
    std::ostringstream log;
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto s = smtp::connect<clear_logged>(options, ec, diag, smtp::log::transcript(log));
    expect(!ec && s.has_value(), "the second connect");
    auto g = std::move(*s).ehlo(ec, diag).value();
    g.sendmail("alice@example.org", {"bob@example.org"}, "Subject: two\r\n\r\n.dot\r\n", ec, diag);
    expect(!ec, "the second message accepted");
    std::move(g).quit();
    return log.str();
}

/// A connect that fails: the compiled driver's error and diagnostics.
std::string refused_connect(unsigned short port)
{
    smtp::connect_options options;
    options.host = "127.0.0.1";
    options.port = port;
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto s = smtp::connect<smtp::policies<smtp::tls::implicit>>(options, ec, diag);
    expect(!s && ec, "a connect to a closed port fails");
    return diag.describe(ec);
}

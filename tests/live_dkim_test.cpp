// DKIM signatures checked by verifiers that are not ours: every signed
// message (RSA and Ed25519, each canonicalisation pair, message kinds with dot
// lines, long lines, 8-bit octets, folded headers, CRLF and bare LF, empty
// bodies) goes to dkimpy (tests/dkim/verify_dkimpy.py) and to OpenDKIM's
// opendkim-testmsg (tests/dkim/verify_opendkim.py), each once for the whole
// lot: as signed standalone (put in front of the message as the wire has
// it), and as a real server (aiosmtpd) stored it after the library signed it
// on the way (send_all with a signer, and the pool with pool_options::sign).
// Copies tampered with after the server (a body line, an added To header,
// which over-signing forbids) and one signed by a key nobody publishes must
// FAIL with both verifiers, so that a verifier that passes everything would
// fail this test.
#include <smtp/dkim.hpp>

#include <smtp/client.hpp>
#include <smtp/message_file.hpp>
#include <smtp/pool.hpp>

#define BOOST_TEST_MODULE live_dkim
#include <boost/test/unit_test.hpp>

#include "live_servers.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
namespace dkim = smtp::dkim;
using clear = smtp::policies<smtp::tls::none>;

namespace {

std::string data_file(const std::string& name)
{
    return live::slurp(fs::path(SMTP_TEST_DATA) / "dkim" / name);
}

/// The message as the server receives it: every line end CRLF, the last line ended.
std::string as_on_the_wire(const std::string& m)
{
    std::string out;
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '\r') {
            out += "\r\n";
            if (i + 1 < m.size() && m[i + 1] == '\n')
                ++i;
        } else if (m[i] == '\n') {
            out += "\r\n";
        } else {
            out += m[i];
        }
    }
    if (!out.empty() && out.substr(out.size() - 2) != "\r\n")
        out += "\r\n";
    return out;
}

struct kind {
    std::string name;
    std::string message;
};

std::vector<kind> kinds()
{
    const std::string h = "From: Alice <alice@example.com>\r\n"
                          "To: Bob <bob@example.net>\r\n"
                          "Subject: DKIM test\r\n"
                          "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n"
                          "Message-ID: <dkim-test@example.com>\r\n";
    std::vector<kind> k;
    k.push_back({"crlf", h + "\r\nHello,\r\n\r\nTwo  spaces,\ta tab, trailing space \r\n\r\n\r\n"});
    std::string lf;
    for (char c : k.back().message)
        if (c != '\r')
            lf += c;
    k.push_back({"barelf", lf});
    k.push_back({"dots", h + "\r\n.\r\n..two dots\r\n.leading dot\r\nend.\r\n.\r\n"});
    k.push_back({"longline", h + "\r\n" + std::string(998, 'x') + "\r\n" + std::string(997, 'y') + " \r\nshort\r\n"});
    // Every kind has From and Date: RFC 5322 3.6 requires both, and OpenDKIM
    // refuses a message without them (dkim_chunk(): Syntax error), even to sign it.
    const std::string date = "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n";
    k.push_back({"eightbit", "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: 8-bit\r\n" + date +
                             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f"
                             "e, \xc3\xa7"
                             "a va ?\r\n"});
    k.push_back({"folded", "From: Alice\r\n <alice@example.com>\r\nTo: bob@example.net,\r\n\tcarol@example.net\r\n" + date +
                           "Subject:   a subject\r\n   folded   over\t\r\n\tthree lines  \r\n"
                           "X-Empty:\r\nX-Spaces:  spaced  \r\n\r\nbody\r\n"});
    k.push_back({"emptybody", h + "\r\n"});
    k.push_back({"nobody", h}); // no blank line at all
    k.push_back({"noeol", h + "\r\nlast line without its end"});
    return k;
}

struct setup {
    std::string tag; ///< the file name's prefix
    dkim::canonicalization header, body;
};

const std::vector<setup> canonicalizations{
    {"rr", dkim::canonicalization::relaxed, dkim::canonicalization::relaxed},
    {"ss", dkim::canonicalization::simple, dkim::canonicalization::simple},
    {"rs", dkim::canonicalization::relaxed, dkim::canonicalization::simple},
    {"sr", dkim::canonicalization::simple, dkim::canonicalization::relaxed},
};

dkim::signer make_signer(const std::string& key_file, const std::string& selector, const setup& c)
{
    dkim::sign_options o;
    o.domain = "example.com";
    o.selector = selector;
    o.header_canonicalization = c.header;
    o.body_canonicalization = c.body;
    return dkim::signer(smtp::crypto::dkim_key::from_pem(data_file(key_file)), o);
}

void write(const fs::path& p, const std::string& s)
{
    std::ofstream f(p, std::ios::binary);
    f << s;
    BOOST_REQUIRE(f.good());
}

/// Runs a verifier over `dir`: file name -> its line ("pass" or "fail ...").
std::map<std::string, std::string> verify(const std::string& script, const fs::path& dir)
{
    const std::string cmd = "/usr/bin/python3 " + std::string(SMTP_TEST_SOURCE) + "/dkim/" + script + " " +
                            dir.string() + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), &pclose);
    BOOST_REQUIRE(p);
    std::string out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p.get())) > 0;)
        out.append(buf, n);
    std::map<std::string, std::string> r;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        const auto sp = line.find(' ');
        if (sp != std::string::npos && line.substr(0, sp).ends_with(".eml"))
            r[line.substr(0, sp)] = line.substr(sp + 1);
        else
            BOOST_TEST_MESSAGE(script << ": " << line);
    }
    return r;
}

/// The message data the server stored (tests/servers/smtp_server.py: as received, un-dot-stuffed).
std::string stored(const std::string& json) { return live::recorded_data(json); }

/// A message with no blank line (no body at all) under c=simple/...: dkimpy
/// verifies the signature, OpenDKIM 2.11 does not (its own simple header
/// canonicalisation of a header block that ends the message differs from
/// RFC 6376 3.4.1's "no changes"); docs/dkim.md says so. Its verdict is not
/// checked for these, in either direction.
bool opendkim_differs(const std::string& name)
{
    return name.find("-ss-nobody") != std::string::npos || name.find("-sr-nobody") != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(independent_verifiers_accept_every_signed_message_and_refuse_tampered_ones)
{
    const fs::path dir = fs::temp_directory_path() / ("smtp-dkim-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    struct cleanup {
        fs::path d;
        ~cleanup()
        {
            if (!std::getenv("SMTP_DKIM_KEEP")) // set it to look at the messages and the verifiers' output
                fs::remove_all(d);
        }
    } guard{dir};

    const auto rsa_key = smtp::crypto::dkim_key::from_pem(data_file("rsa2048.pem"));
    const auto ed_key = smtp::crypto::dkim_key::from_pem(data_file("ed25519-rfc8463.pem"));
    write(dir / "dns.txt", "rsa._domainkey.example.com " + rsa_key.dns_record() + "\ned._domainkey.example.com " +
                               ed_key.dns_record() + "\n");

    const auto ks = kinds();
    std::vector<std::string> expect_pass, expect_fail;

    // Standalone: the field in front of the message, as the wire has it.
    for (const auto& [key, sel] : {std::pair{"rsa2048.pem", "rsa"}, std::pair{"ed25519-rfc8463.pem", "ed"}})
        for (const auto& c : canonicalizations) {
            const auto s = make_signer(key, sel, c);
            for (const auto& k : ks) {
                const std::string name = "direct-" + std::string(sel) + "-" + c.tag + "-" + k.name + ".eml";
                write(dir / name, as_on_the_wire(dkim::signed_message(s, k.message)));
                expect_pass.push_back(name);
            }
        }

    // Through aiosmtpd: send_all signs each message (one session).
    auto g = std::move(smtp::connect<clear>(live::server("SIGNED"))).ehlo();
    std::vector<std::string> sent_names;
    for (const auto& [key, sel] : {std::pair{"rsa2048.pem", "rsa"}, std::pair{"ed25519-rfc8463.pem", "ed"}})
        for (const auto& c : canonicalizations) {
            const auto s = make_signer(key, sel, c);
            std::vector<smtp::outgoing_message> ms;
            for (const auto& k : ks) {
                ms.push_back({"alice@example.com", {smtp::recipient{"bob@example.net"}}, k.message, {}});
                sent_names.push_back(std::string(sel) + "-" + c.tag + "-" + k.name);
            }
            for (const auto& r : g.send_all(ms, s))
                BOOST_TEST(r.outcome == smtp::transaction_outcome::queued, r.error.message());
        }
    // A file, signed in two passes and sent as a source.
    {
        const auto s = make_signer("ed25519-rfc8463.pem", "ed", canonicalizations[0]);
        write(dir / "source.txt", ks[1].message); // bare LF lines
        smtp::error_code ec;
        auto src = s.sign_source(smtp::file_message((dir / "source.txt").string()), ec);
        BOOST_REQUIRE(!ec);
        const auto r = g.sendmail("alice@example.com", {"bob@example.net"}, src);
        BOOST_TEST(r.outcome == smtp::transaction_outcome::queued);
        sent_names.push_back("ed-rr-file");
        fs::remove(dir / "source.txt");
    }
    // A key nobody publishes (selector "unpublished"): must not verify.
    {
        dkim::sign_options o;
        o.domain = "example.com";
        o.selector = "unpublished";
        const dkim::signer s(ed_key, o);
        std::vector<smtp::outgoing_message> ms{{"alice@example.com", {smtp::recipient{"bob@example.net"}}, ks[0].message, {}}};
        BOOST_TEST(g.send_all(ms, s).front().outcome == smtp::transaction_outcome::queued);
        sent_names.push_back("unpublished");
    }
    // A signer that fails: that message is not sent, the next one is.
    {
        std::vector<smtp::outgoing_message> ms{
            {"alice@example.com", {smtp::recipient{"bob@example.net"}}, "no From header\r\n\r\nbody\r\n", {}},
            {"alice@example.com", {smtp::recipient{"bob@example.net"}}, ks[2].message, {}}};
        const auto s = make_signer("rsa2048.pem", "rsa", canonicalizations[1]);
        const auto rs = g.send_all(ms, s);
        BOOST_TEST(rs[0].outcome == smtp::transaction_outcome::not_sent);
        BOOST_TEST(rs[0].error == smtp::errc::dkim_signing_failed);
        BOOST_TEST(rs[1].outcome == smtp::transaction_outcome::queued);
        sent_names.push_back("rsa-ss-after-refused");
    }
    std::move(g).quit();

    // Through the pool: pool_options::sign.
    {
        boost::asio::io_context io;
        smtp::pool_options po;
        po.max_sessions = 1; // one session: the server stores them in the order sent
        po.sign = make_signer("rsa2048.pem", "rsa", canonicalizations[0]);
        smtp::pool<clear> pool(io.get_executor(), live::server("SIGNED"), po);
        int accepted = 0;
        for (const auto& k : {ks[0], ks[5]}) {
            pool.async_send({"alice@example.com", {smtp::recipient{"bob@example.net"}}, k.message, {}},
                            [&accepted](smtp::error_code ec, smtp::transaction_result r) {
                                BOOST_TEST(!ec);
                                accepted += r.outcome == smtp::transaction_outcome::queued ? 1 : 0;
                            });
            sent_names.push_back("pool-rsa-rr-" + k.name);
        }
        // What the pool's signer refuses completes at once, not sent.
        pool.async_send({"alice@example.com", {smtp::recipient{"bob@example.net"}}, "To: x@example.net\r\n\r\nx\r\n", {}},
                        [](smtp::error_code ec, smtp::transaction_result r) {
                            BOOST_TEST(ec == smtp::errc::dkim_signing_failed);
                            BOOST_TEST(r.outcome == smtp::transaction_outcome::not_sent);
                        });
        pool.async_close([](smtp::error_code, smtp::pool_stats) {});
        io.run();
        BOOST_TEST(accepted == 2);
    }

    const auto recs = live::records("SIGNED");
    BOOST_REQUIRE_EQUAL(recs.size(), sent_names.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const std::string data = stored(recs[i]);
        BOOST_TEST_CONTEXT(sent_names[i]) { BOOST_TEST(data.rfind("DKIM-Signature: v=1; ", 0) == 0); }
        const std::string name = "server-" + sent_names[i] + ".eml";
        write(dir / name, data);
        (sent_names[i] == "unpublished" ? expect_fail : expect_pass).push_back(name);
        if (i % 7 == 0 || sent_names[i] == "ed-rr-file") { // tampered copies, both ways, a fair sample
            std::string body = data;
            body.insert(body.size(), "P.S. added on the way\r\n");
            write(dir / ("tampered-body-" + sent_names[i] + ".eml"), body);
            expect_fail.push_back("tampered-body-" + sent_names[i] + ".eml");
            std::string header = data;
            const auto blank = header.find("\r\n\r\n");
            header.insert(blank == std::string::npos ? header.size() : blank + 2, "To: mallory@example.org\r\n");
            write(dir / ("tampered-to-" + sent_names[i] + ".eml"), header);
            expect_fail.push_back("tampered-to-" + sent_names[i] + ".eml");
        }
    }

    for (const char* script : {"verify_dkimpy.py", "verify_opendkim.py"}) {
        BOOST_TEST_CONTEXT(script)
        {
            const auto results = verify(script, dir);
            BOOST_TEST(results.size() == expect_pass.size() + expect_fail.size());
            for (const auto& n : expect_pass) {
                if (std::string(script) == "verify_opendkim.py" && opendkim_differs(n))
                    continue;
                BOOST_TEST((results.count(n) == 1 && results.at(n) == "pass"),
                           n << ": " << (results.count(n) ? results.at(n) : "no result"));
            }
            for (const auto& n : expect_fail)
                BOOST_TEST((results.count(n) == 1 && results.at(n).rfind("fail", 0) == 0), n << " verified, and must not");
        }
    }
}

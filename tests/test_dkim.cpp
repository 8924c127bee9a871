// DKIM signing (smtp/dkim.hpp, smtp/protocol/dkim.hpp): the canonicalisations
// against RFC 6376's own example, the RFC 8463 Appendix A signature byte for
// byte (Ed25519 is deterministic), header choice and over-signing, l=, line
// ends as the wire has them, bad keys and options. That other verifiers
// accept what is signed here is tests/live_dkim_test.cpp's part.
#include <smtp/dkim.hpp>

#include <smtp/crypto/openssl.hpp>

#define BOOST_TEST_MODULE dkim
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

namespace dkim = smtp::dkim;
using smtp::errc;

namespace {

std::string data_file(const std::string& name)
{
    std::ifstream f(std::string(SMTP_TEST_DATA) + "/dkim/" + name, std::ios::binary);
    BOOST_REQUIRE(f);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string b64(const std::array<unsigned char, 32>& d)
{
    return smtp::base64::encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

/// The canonical body, as the body canonicaliser writes it.
std::string canonical_body(dkim::canonicalization c, std::string_view body)
{
    std::string out;
    auto sink = [&out](std::string_view s) { out += s; };
    dkim::body_canonicalizer<decltype(sink)> b(c, sink);
    std::size_t at = 0;
    while (at < body.size()) {
        const auto eol = body.find("\r\n", at);
        const auto end = eol == std::string_view::npos ? body.size() : eol;
        if (end > at)
            b.text(body.data() + at, end - at);
        if (eol == std::string_view::npos)
            break;
        b.line_end();
        at = eol + 2;
    }
    b.finish();
    return out;
}

dkim::sign_options options(dkim::canonicalization h = dkim::canonicalization::relaxed,
                           dkim::canonicalization b = dkim::canonicalization::relaxed)
{
    dkim::sign_options o;
    o.domain = "example.com";
    o.selector = "sel";
    o.header_canonicalization = h;
    o.body_canonicalization = b;
    o.time = 1700000000;
    return o;
}

const std::string rfc6376_message = "From: Joe SixPack <joe@football.example.com>\r\n"
                                    "To: Suzie Q <suzie@shopping.example.net>\r\n"
                                    "Subject: Is dinner ready?\r\n"
                                    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
                                    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
                                    "\r\n"
                                    "Hi.\r\n"
                                    "\r\n"
                                    "We lost the game.  Are you hungry yet?\r\n"
                                    "\r\n"
                                    "Joe.\r\n";

/// The tag's value in a DKIM-Signature field, folding removed.
std::string tag(std::string header, const std::string& name)
{
    std::string flat;
    for (char c : header)
        if (c != '\r' && c != '\n' && c != '\t' && c != ' ')
            flat += c;
    const auto at = flat.find(";" + name + "=");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no " << name << "= in " << header);
    const auto start = at + name.size() + 2;
    return flat.substr(start, flat.find(';', start) - start);
}

} // namespace

// RFC 6376 3.4.5: the example of both canonicalisations.
BOOST_AUTO_TEST_CASE(rfc6376_example_canonicalisations)
{
    const std::string h1 = "A: X\r\n", h2 = "B : Y\t\r\n\tZ  \r\n";
    std::string relaxed, simple;
    dkim::canonicalize_header(dkim::canonicalization::relaxed, h1, relaxed);
    dkim::canonicalize_header(dkim::canonicalization::relaxed, h2, relaxed);
    BOOST_TEST(relaxed == "a:X\r\nb:Y Z\r\n");
    dkim::canonicalize_header(dkim::canonicalization::simple, h1, simple);
    dkim::canonicalize_header(dkim::canonicalization::simple, h2, simple);
    BOOST_TEST(simple == h1 + h2);

    const std::string body = " C \r\nD \t E\r\n\r\n\r\n";
    BOOST_TEST(canonical_body(dkim::canonicalization::relaxed, body) == " C\r\nD E\r\n");
    BOOST_TEST(canonical_body(dkim::canonicalization::simple, body) == " C \r\nD \t E\r\n");
}

BOOST_AUTO_TEST_CASE(relaxed_header_rules)
{
    std::string out;
    // Name to lower case, WSP around the colon gone, folds undone, WSP runs one space, none at the end.
    dkim::canonicalize_header(dkim::canonicalization::relaxed, "SuBjEcT \t:  a \t b\r\n \r\n\t c \t \r\n", out);
    BOOST_TEST(out == "subject:a b c\r\n");
    out.clear();
    dkim::canonicalize_header(dkim::canonicalization::relaxed, "X-Empty:\r\n", out);
    BOOST_TEST(out == "x-empty:\r\n");
    out.clear(); // the signature field being signed: no CRLF after it, none added
    dkim::canonicalize_header(dkim::canonicalization::relaxed, "DKIM-Signature: v=1;\r\n\tb=", out);
    BOOST_TEST(out == "dkim-signature:v=1; b=");
}

BOOST_AUTO_TEST_CASE(relaxed_and_simple_body_rules)
{
    using dkim::canonicalization;
    // An open last line gets its CRLF; trailing empty (and, relaxed, blank) lines go.
    BOOST_TEST(canonical_body(canonicalization::simple, "a") == "a\r\n");
    BOOST_TEST(canonical_body(canonicalization::relaxed, "a \t\r\n \r\n\t\r\n") == "a\r\n");
    BOOST_TEST(canonical_body(canonicalization::simple, "a \r\n \r\n") == "a \r\n \r\n");
    // Empty lines inside the body stay.
    BOOST_TEST(canonical_body(canonicalization::relaxed, "a\r\n\r\n\r\nb\r\n") == "a\r\n\r\n\r\nb\r\n");
    // The empty body: CRLF for simple, nothing for relaxed (RFC 6376 3.4.3, 3.4.4).
    BOOST_TEST(canonical_body(canonicalization::simple, "") == "\r\n");
    BOOST_TEST(canonical_body(canonicalization::simple, "\r\n\r\n") == "\r\n");
    BOOST_TEST(canonical_body(canonicalization::relaxed, "").empty());
    BOOST_TEST(canonical_body(canonicalization::relaxed, " \r\n").empty());
}

// The bh= of an empty body: SHA-256 of CRLF (simple) and of nothing (relaxed).
BOOST_AUTO_TEST_CASE(empty_body_hashes)
{
    const dkim::signer s(smtp::crypto::dkim_key::from_pem(data_file("ed25519-rfc8463.pem")), options());
    for (const std::string m : {"From: a@example.com\r\n", "From: a@example.com\r\n\r\n", "From: a@example.com\n\n\n"}) {
        BOOST_TEST(tag(s.sign(m), "bh") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        auto o = options(dkim::canonicalization::relaxed, dkim::canonicalization::simple);
        const dkim::signer simple(s.key(), o);
        BOOST_TEST(tag(simple.sign(m), "bh") == "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    }
}

// RFC 8463 Appendix A: its Ed25519 key (A.2) and message; A.3's signature
// field, up to b=, as the field being signed. Ed25519 is deterministic: the
// signature must be A.3's, octet for octet.
BOOST_AUTO_TEST_CASE(rfc8463_appendix_a_ed25519_signature)
{
    const auto key = smtp::crypto::dkim_key::from_pem(data_file("ed25519-rfc8463.pem"));
    BOOST_TEST((key.algorithm() == dkim::algorithm::ed25519_sha256));
    BOOST_TEST(key.public_key_base64() == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="); // A.2's DNS record
    BOOST_TEST(key.dns_record() == "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");

    // The body hash, through the whole message digest.
    dkim::sign_options o = options();
    o.domain = "football.example.com";
    o.selector = "brisbane";
    dkim::message_digest<smtp::crypto::sha256_stream> d(o, key.algorithm());
    d.update(rfc6376_message);
    BOOST_REQUIRE(!d.finish(1528637909));
    BOOST_TEST(tag(d.unsigned_field(), "bh") == "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");

    // The header data with A.3's own field (its h= list, its folding).
    smtp::error_code ec;
    const auto header_end = rfc6376_message.find("\r\n\r\n") + 2;
    const auto fields = dkim::parse_header_block(std::string_view(rfc6376_message).substr(0, header_end), ec);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(fields.size() == 5u);
    const std::string field = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
                              " d=football.example.com; i=@football.example.com;\r\n"
                              " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
                              " subject : date : message-id : from : subject : date;\r\n"
                              " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
                              " b=";
    const std::vector<std::string> h{"from", "to", "subject", "date", "message-id", "from", "subject", "date"};
    const std::string data = dkim::header_data(fields, h, dkim::canonicalization::relaxed, field);
    const auto digest = smtp::crypto::openssl::sha256(data);
    BOOST_TEST(smtp::base64::encode(key.sign_digest(digest)) ==
               "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
    // The streaming SHA-256 agrees with the one-shot one.
    smtp::crypto::sha256_stream s;
    for (char c : data)
        s.update(std::string_view(&c, 1));
    BOOST_TEST(b64(s.finish()) == b64(digest));
}

// The signature field written here: its tags, the default h= with From, To
// and Subject over-signed, a line length under 78.
BOOST_AUTO_TEST_CASE(signature_field_and_over_signing)
{
    const dkim::signer s(smtp::crypto::dkim_key::from_pem(data_file("rsa2048.pem")), options());
    const std::string h = s.sign(rfc6376_message);
    BOOST_TEST(h.rfind("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;", 0) == 0);
    BOOST_TEST(tag(h, "t") == "1700000000");
    BOOST_TEST(tag(h, "h") == "From:From:Subject:Subject:Date:Message-ID:To:To");
    BOOST_TEST(h.find("l=") == std::string::npos);
    BOOST_TEST(h.find("x=") == std::string::npos);
    BOOST_TEST(h.substr(h.size() - 2) == "\r\n");
    std::size_t line = 0;
    for (std::size_t at = 0, eol; (eol = h.find("\r\n", at)) != std::string::npos; at = eol + 2) {
        line = std::max(line, eol - at);
        if (eol + 2 < h.size())
            BOOST_TEST(h[eol + 2] == '\t'); // every fold is CRLF and a tab
    }
    BOOST_TEST(line <= 78u);

    // Two To headers: both signed and one more; an absent over-signed one is signed once (as absent).
    auto o = options();
    o.headers = {"from", "to", "x-mailer"};
    o.oversign = {"To", "Subject"};
    const dkim::signer s2(s.key(), o);
    const std::string h2 = s2.sign("From: a@example.com\r\nTo: b@example.com\r\nTo: c@example.com\r\n\r\nbody\r\n");
    BOOST_TEST(tag(h2, "h") == "From:to:to:to:x-mailer:Subject"); // From first, always

    // From is always signed, and a message without one cannot be.
    smtp::error_code ec;
    BOOST_TEST(s.sign("To: b@example.com\r\n\r\nbody\r\n", ec).empty());
    BOOST_TEST(ec == errc::dkim_invalid_message);
    BOOST_TEST(s.sign(" folded: first\r\nFrom: a@example.com\r\n\r\n", ec).empty());
    BOOST_TEST(ec == errc::dkim_invalid_message);
    BOOST_TEST(s.sign("From: a@example.com\r\nno colon here\r\n\r\n", ec).empty());
    BOOST_TEST(ec == errc::dkim_invalid_message);
    BOOST_CHECK_THROW(s.sign("no header at all"), std::system_error);
}

BOOST_AUTO_TEST_CASE(body_length_and_expiry)
{
    auto o = options(dkim::canonicalization::simple, dkim::canonicalization::simple);
    o.body_length = true;
    o.expire_after = 3600;
    const dkim::signer s(smtp::crypto::dkim_key::from_pem(data_file("ed25519-rfc8463.pem")), o);
    const std::string h = s.sign(rfc6376_message);
    // The simple body: "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n" (the last empty line dropped).
    BOOST_TEST(tag(h, "l") == "55");
    BOOST_TEST(tag(h, "x") == "1700003600");
    BOOST_TEST(tag(h, "bh") == "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ="); // dkimpy's simple example
}

// Bare LF, bare CR, CRLF and any chunking sign alike: the signature covers
// the CRLF lines the DATA encoder sends.
BOOST_AUTO_TEST_CASE(line_ends_and_chunking_as_the_wire_has_them)
{
    const dkim::signer s(smtp::crypto::dkim_key::from_pem(data_file("ed25519-rfc8463.pem")), options());
    std::string lf, cr;
    for (char c : rfc6376_message)
        if (c != '\r')
            lf += c;
    for (char c : rfc6376_message)
        if (c != '\n')
            cr += c;
    const std::string expected = s.sign(rfc6376_message);
    BOOST_TEST(s.sign(lf) == expected);
    BOOST_TEST(s.sign(cr) == expected);
    std::string no_last_crlf = rfc6376_message.substr(0, rfc6376_message.size() - 2);
    BOOST_TEST(s.sign(no_last_crlf) == expected); // the encoder ends the last line

    // One octet at a time, through the sans-I/O digest.
    for (const std::string* m : std::initializer_list<const std::string*>{&rfc6376_message, &lf}) {
        dkim::message_digest<smtp::crypto::sha256_stream> d(options(), dkim::algorithm::ed25519_sha256);
        for (char c : *m)
            d.update(std::string_view(&c, 1));
        BOOST_REQUIRE(!d.finish(0));
        BOOST_TEST(d.signature_header(s.key().sign_digest(d.header_digest())) == expected);
    }
    // A body change changes bh=, a header change only b=.
    std::string body_changed = rfc6376_message;
    body_changed.replace(body_changed.find("Joe."), 4, "Jim.");
    BOOST_TEST(tag(s.sign(body_changed), "bh") != tag(expected, "bh"));
    std::string subject_changed = rfc6376_message;
    subject_changed.replace(subject_changed.find("dinner"), 6, "lunch!");
    BOOST_TEST(tag(s.sign(subject_changed), "bh") == tag(expected, "bh"));
    BOOST_TEST(tag(s.sign(subject_changed), "b") != tag(expected, "b"));
}

BOOST_AUTO_TEST_CASE(message_source_two_passes)
{
    const dkim::signer s(smtp::crypto::dkim_key::from_pem(data_file("rsa2048.pem")), options());
    std::string big = rfc6376_message;
    for (int i = 0; i < 20000; ++i)
        big += "line " + std::to_string(i) + " of a message larger than one read\r\n";
    std::size_t at = 0;
    int rewinds = 0;
    smtp::message_source src;
    src.read = [&](char* buf, std::size_t n) {
        const std::size_t k = std::min<std::size_t>({n, big.size() - at, 1000});
        big.copy(buf, k, at);
        at += k;
        return k;
    };
    src.rewind = [&] {
        at = 0;
        ++rewinds;
        return true;
    };
    smtp::error_code ec;
    auto signed_src = s.sign_source(src, ec);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(rewinds == 1);
    std::string out;
    char buf[777];
    for (std::size_t n; (n = signed_src.read(buf, sizeof buf)) != 0;)
        out.append(buf, n);
    BOOST_TEST(out == dkim::signed_message(s, big));
    BOOST_TEST(signed_src.rewind());
    BOOST_TEST(rewinds == 2);
    BOOST_TEST(signed_src.read(buf, 16) == 16u);
    BOOST_TEST(std::string(buf, 16) == "DKIM-Signature: ");

    smtp::message_source once;
    once.read = src.read;
    s.sign(once, ec);
    BOOST_TEST(ec == errc::empty_argument); // cannot be read twice
}

BOOST_AUTO_TEST_CASE(bad_keys_are_clear_errors)
{
    using smtp::crypto::dkim_key;
    auto message_of = [](auto f) {
        try {
            f();
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    BOOST_TEST(message_of([] { dkim_key::from_pem("not a key"); }).find("not an unencrypted private key in PEM") !=
               std::string::npos);
    BOOST_TEST(message_of([] { dkim_key::from_pem(data_file("rsa512.pem")); }).find("512 bits; at least 1024") !=
               std::string::npos);
    BOOST_TEST(message_of([] { dkim_key::from_pem(data_file("p256.pem")); }).find("a EC key") != std::string::npos);
    BOOST_TEST(message_of([] { dkim_key::from_pem_file("/nonexistent/key.pem"); }).find("cannot open") !=
               std::string::npos);
    const auto rsa = dkim_key::from_pem(data_file("rsa2048.pem"));
    BOOST_TEST((rsa.algorithm() == dkim::algorithm::rsa_sha256));
    BOOST_TEST(rsa.bits() == 2048);
    BOOST_TEST(rsa.dns_record().rfind("v=DKIM1; k=rsa; p=MIIBIjAN", 0) == 0);
}

BOOST_AUTO_TEST_CASE(bad_options_are_clear_errors)
{
    const auto key = smtp::crypto::dkim_key::from_pem(data_file("ed25519-rfc8463.pem"));
    auto refused = [&key](void (*change)(dkim::sign_options&), const char* words) {
        auto o = options();
        change(o);
        try {
            dkim::signer s(key, o);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what()).find(words) != std::string::npos;
        }
        return false;
    };
    BOOST_TEST(refused([](dkim::sign_options& o) { o.domain.clear(); }, "domain (d=) is empty"));
    BOOST_TEST(refused([](dkim::sign_options& o) { o.selector = "a;b"; }, "selector (s=)"));
    BOOST_TEST(refused([](dkim::sign_options& o) { o.domain = "exa mple.com"; }, "domain (d=)"));
    BOOST_TEST(refused([](dkim::sign_options& o) { o.identity = "@other.org"; }, "not the domain (d=)"));
    BOOST_TEST(refused([](dkim::sign_options& o) { o.headers = {"From", "Bad Name"}; }, "'Bad Name' is not a header"));
    BOOST_TEST(refused([](dkim::sign_options& o) { o.timestamp = false, o.expire_after = 10; }, "needs t="));
    auto ok = options();
    ok.identity = "news@mail.example.com"; // a subdomain of d=
    BOOST_CHECK_NO_THROW(dkim::signer(key, ok));
}

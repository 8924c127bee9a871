// Tests for the SASL mechanisms (RFC 4954 AUTH; RFC 4616 PLAIN; the LOGIN
// draft; RFC 2195 CRAM-MD5; XOAUTH2; RFC 7628 OAUTHBEARER; RFC 5802 and
// RFC 7677 SCRAM) and the OpenSSL crypto provider: each RFC's example
// exchange byte for byte, on the wire (base64) where the RFC shows it, every
// error a mechanism reports, and a SCRAM server written here that checks the
// client's proof the way a server does.
#define BOOST_TEST_MODULE sasl
#include <smtp/protocol/sasl.hpp>

#include <smtp/crypto/openssl.hpp>

#include "sasl_anonymous.hpp" // examples/: a mechanism of one's own

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace std::literals;
namespace sasl = smtp::sasl;
namespace base64 = smtp::base64;
using smtp::errc;
using openssl = smtp::crypto::openssl;

namespace smtp {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e)
{
    if (e == errc{})
        return os << "errc{} (no error)";
    return os << "errc " << static_cast<int>(e) << " (" << make_error_code(e).message() << ")";
}
} // namespace smtp

// The ANONYMOUS mechanism of examples/sasl_anonymous.hpp (docs/protocol-core.md
// shows it as the example of a mechanism of one's own) is tested below.

namespace {

errc code_of(const smtp::error_code& ec)
{
    if (!ec)
        return errc{};
    BOOST_TEST_REQUIRE((ec.category() == smtp::smtp_category()), "error from another category: " << ec.message());
    return static_cast<errc>(ec.value());
}

/// Bytes for failure messages: controls and 8-bit bytes as \xNN.
std::string show(std::string_view s)
{
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7F) {
            constexpr char hex[] = "0123456789ABCDEF";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else
            out += c;
    }
    return out;
}

template <std::size_t N>
std::string hex(const std::array<unsigned char, N>& a)
{
    std::string out;
    sasl::detail::append_hex(a, out);
    return out;
}

/// Calls initial_response() on output that already holds something; checks
/// that the prefix is kept, returns the error and what was appended.
template <class M>
errc initial(M& m, std::string& appended, bool* has_initial = nullptr)
{
    const std::string prefix = "kept\0"s;
    std::string out = prefix;
    smtp::error_code ec = errc::need_more; // stale: the mechanism must clear it
    const bool r = m.initial_response(out, ec);
    if (has_initial)
        *has_initial = r;
    BOOST_TEST_REQUIRE(out.size() >= prefix.size());
    BOOST_TEST(out.substr(0, prefix.size()) == prefix);
    appended = out.substr(prefix.size());
    if (ec)
        BOOST_TEST(appended.empty(), "output after an error: " << show(appended));
    return code_of(ec);
}

/// Calls challenge() the same way.
template <class M>
errc step(M& m, std::string_view challenge, std::string& appended)
{
    const std::string prefix = "kept\0"s;
    std::string out = prefix;
    smtp::error_code ec = errc::need_more;
    m.challenge(challenge, out, ec);
    BOOST_TEST_REQUIRE(out.size() >= prefix.size());
    BOOST_TEST(out.substr(0, prefix.size()) == prefix);
    appended = out.substr(prefix.size());
    if (ec && code_of(ec) != errc{})
        BOOST_TEST(appended.empty(), "output after an error: " << show(appended));
    return code_of(ec);
}

/// A challenge that must succeed; returns the response.
template <class M>
std::string respond(M& m, std::string_view challenge)
{
    std::string r;
    const errc e = step(m, challenge, r);
    BOOST_TEST(e == errc{}, "challenge \"" << show(challenge) << "\"");
    return r;
}

/// An initial response that must succeed and exist.
template <class M>
std::string first(M& m)
{
    std::string r;
    bool has = false;
    const errc e = initial(m, r, &has);
    BOOST_TEST(e == errc{});
    BOOST_TEST(has);
    return r;
}

/// The wire, as the driver does it: AUTH <name> [base64 initial response or
/// "="], then for each 334 <base64> a base64 response line.
struct wire {
    std::string auth_line;
    std::vector<std::string> responses;
};

template <sasl::mechanism M>
wire run_on_wire(M& m, std::initializer_list<std::string_view> challenges_b64)
{
    wire w;
    std::string ir;
    smtp::error_code ec;
    const bool has = m.initial_response(ir, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    w.auth_line = "AUTH " + std::string(M::name);
    if (has)
        w.auth_line += " " + (ir.empty() ? "="s : base64::encode(ir));
    for (std::string_view c : challenges_b64) {
        std::string decoded;
        base64::decode(c, decoded, ec);
        BOOST_TEST_REQUIRE(!ec, "challenge is not base64: " << c);
        std::string resp;
        m.challenge(decoded, resp, ec);
        BOOST_TEST_REQUIRE(!ec, ec.message() << " on challenge " << show(decoded));
        w.responses.push_back(base64::encode(resp));
    }
    return w;
}

/// A provider with only what crypto_provider asks for (no SHA-1), built on
/// OpenSSL. It counts calls to Hi() so that tests can see when none happened.
struct minimal_crypto {
    static inline int hi_calls = 0;
    static std::array<unsigned char, 16> hmac_md5(std::string_view k, std::string_view d)
    {
        return openssl::hmac_md5(k, d);
    }
    static std::array<unsigned char, 32> sha256(std::string_view d) { return openssl::sha256(d); }
    static std::array<unsigned char, 32> hmac_sha256(std::string_view k, std::string_view d)
    {
        return openssl::hmac_sha256(k, d);
    }
    static std::array<unsigned char, 32> pbkdf2_hmac_sha256(std::string_view p, std::string_view s, std::uint32_t i)
    {
        ++hi_calls;
        return openssl::pbkdf2_hmac_sha256(p, s, i);
    }
    static void random_bytes(std::span<unsigned char> out) { openssl::random_bytes(out); }
};

/// A provider whose "random" bytes are all 0xFB.
struct fixed_random_crypto : minimal_crypto {
    static void random_bytes(std::span<unsigned char> out)
    {
        for (auto& b : out)
            b = 0xFB;
    }
};

/// A SCRAM server, written from RFC 5802 5 and 3 the server's way round: it
/// recovers ClientKey from the proof and checks H(ClientKey) == StoredKey.
template <class Hash>
struct scram_server {
    std::string username_escaped; // as it must appear after "n="
    std::string gs2_header;       // as it must appear first
    std::string password;
    std::string salt = "server salt";
    std::uint32_t iterations = 4096;
    std::string server_nonce = "3rfcNHYJY1ZVvWVs7j";
    std::string extensions{}; // appended to server-first, e.g. ",x=y"

    std::string client_first_bare{};
    std::string server_first{};
    std::string nonce{};

    static std::string str(std::span<const unsigned char> a)
    {
        return {reinterpret_cast<const char*>(a.data()), a.size()};
    }

    /// Returns server-first for this client-first.
    std::string first(std::string_view client_first)
    {
        BOOST_TEST_REQUIRE(client_first.substr(0, gs2_header.size()) == gs2_header);
        client_first_bare = client_first.substr(gs2_header.size());
        const std::string expect = "n=" + username_escaped + ",r=";
        BOOST_TEST_REQUIRE(client_first_bare.substr(0, expect.size()) == expect);
        nonce = client_first_bare.substr(expect.size()) + server_nonce;
        server_first = "r=" + nonce + ",s=" + base64::encode(salt) + ",i=" + std::to_string(iterations) + extensions;
        return server_first;
    }

    /// Checks client-final (into *proof_ok when given, else as a test);
    /// returns server-final (v=...).
    std::string final(std::string_view client_final, bool* proof_ok = nullptr)
    {
        const auto at = client_final.rfind(",p=");
        BOOST_TEST_REQUIRE(at != std::string_view::npos);
        const std::string without_proof(client_final.substr(0, at));
        BOOST_TEST(without_proof == "c=" + base64::encode(gs2_header) + ",r=" + nonce);
        std::string proof;
        smtp::error_code ec;
        base64::decode(client_final.substr(at + 3), proof, ec);
        BOOST_TEST_REQUIRE(!ec);
        BOOST_TEST_REQUIRE(proof.size() == Hash::size);

        const auto salted = Hash::template hi<openssl>(password, salt, iterations);
        const auto stored_key = Hash::template hash<openssl>(str(Hash::template hmac<openssl>(str(salted), "Client Key")));
        const std::string auth_message = client_first_bare + "," + server_first + "," + without_proof;
        const auto client_signature = Hash::template hmac<openssl>(str(stored_key), auth_message);
        std::string client_key(Hash::size, '\0');
        for (std::size_t i = 0; i < Hash::size; ++i)
            client_key[i] = static_cast<char>(proof[i] ^ static_cast<char>(client_signature[i]));
        const bool ok = str(Hash::template hash<openssl>(client_key)) == str(stored_key);
        if (proof_ok)
            *proof_ok = ok;
        else
            BOOST_TEST(ok, "client proof does not verify");
        const auto server_key = Hash::template hmac<openssl>(str(salted), "Server Key");
        return "v=" + base64::encode(str(Hash::template hmac<openssl>(str(server_key), auth_message)));
    }
};

// Near misses of the mechanism concept.
struct no_name {
    explicit no_name(const sasl::credentials&) {}
    bool initial_response(std::string&, smtp::error_code&) { return false; }
    void challenge(std::string_view, std::string&, smtp::error_code&) {}
    bool complete() const { return false; }
};
struct not_from_credentials {
    static constexpr std::string_view name = "X";
    bool initial_response(std::string&, smtp::error_code&) { return false; }
    void challenge(std::string_view, std::string&, smtp::error_code&) {}
    bool complete() const { return false; }
};
struct complete_not_const {
    static constexpr std::string_view name = "X";
    explicit complete_not_const(const sasl::credentials&) {}
    bool initial_response(std::string&, smtp::error_code&) { return false; }
    void challenge(std::string_view, std::string&, smtp::error_code&) {}
    bool complete() { return false; }
};

template <class C, class H>
concept scram_instantiable = requires { typename sasl::scram<C, H>; };
template <class C>
concept cram_md5_instantiable = requires { typename sasl::cram_md5<C>; };

/// RFC 7677 3.
constexpr std::string_view rfc7677_nonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view rfc7677_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view rfc7677_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view rfc7677_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

const sasl::credentials rfc_user{"user", "pencil"};

sasl::scram_sha256_openssl rfc7677_client(std::uint32_t max_iterations = sasl::scram_default_max_iterations)
{
    return sasl::scram_sha256_openssl(rfc_user, {rfc7677_nonce, max_iterations});
}

/// A SCRAM-SHA-256 client that has sent client-first with the RFC 7677 nonce.
sasl::scram_sha256_openssl rfc7677_after_first(std::uint32_t max_iterations = sasl::scram_default_max_iterations)
{
    auto m = rfc7677_client(max_iterations);
    BOOST_TEST_REQUIRE(first(m) == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    return m;
}

/// Server-first with the RFC 7677 nonce and the given salt and count.
std::string server_first_with(std::string_view salt_b64, std::string_view count)
{
    return "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s="s + std::string(salt_b64) + ",i=" +
           std::string(count);
}

} // namespace

// --- Concepts -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mechanisms_satisfy_the_concept)
{
    static_assert(sasl::mechanism<sasl::plain>);
    static_assert(sasl::mechanism<sasl::login>);
    static_assert(sasl::mechanism<sasl::xoauth2>);
    static_assert(sasl::mechanism<sasl::oauthbearer>);
    static_assert(sasl::mechanism<sasl::cram_md5_openssl>);
    static_assert(sasl::mechanism<sasl::scram_sha1_openssl>);
    static_assert(sasl::mechanism<sasl::scram_sha256_openssl>);
    static_assert(sasl::mechanism<sasl::cram_md5<minimal_crypto>>);
    static_assert(sasl::mechanism<sasl::scram_sha256<minimal_crypto>>);
    // Not mechanisms.
    static_assert(!sasl::mechanism<int>);
    static_assert(!sasl::mechanism<sasl::credentials>);
    static_assert(!sasl::mechanism<no_name>);
    static_assert(!sasl::mechanism<not_from_credentials>);
    static_assert(!sasl::mechanism<complete_not_const>);

    // Crypto providers.
    static_assert(sasl::crypto_provider<openssl>);
    static_assert(sasl::crypto_provider<minimal_crypto>);
    static_assert(!sasl::crypto_provider<int>);
    static_assert(sasl::scram_hash<sasl::sha256, minimal_crypto>);
    static_assert(!sasl::scram_hash<sasl::sha1, minimal_crypto>, "minimal_crypto has no SHA-1");
    static_assert(!scram_instantiable<minimal_crypto, sasl::sha1>);
    static_assert(scram_instantiable<openssl, sasl::sha1>);
    static_assert(scram_instantiable<minimal_crypto, sasl::sha256>);
    static_assert(!cram_md5_instantiable<int>);
    static_assert(cram_md5_instantiable<minimal_crypto>);

    // Names, as they appear in AUTH and in the EHLO list.
    BOOST_TEST(sasl::plain::name == "PLAIN");
    BOOST_TEST(sasl::login::name == "LOGIN");
    BOOST_TEST(sasl::cram_md5_openssl::name == "CRAM-MD5");
    BOOST_TEST(sasl::xoauth2::name == "XOAUTH2");
    BOOST_TEST(sasl::oauthbearer::name == "OAUTHBEARER");
    BOOST_TEST(sasl::scram_sha1_openssl::name == "SCRAM-SHA-1");
    BOOST_TEST(sasl::scram_sha256_openssl::name == "SCRAM-SHA-256");
}

BOOST_AUTO_TEST_CASE(error_codes)
{
    const std::set<std::string> known_messages = [] {
        std::set<std::string> s;
        for (int v = 1; v < static_cast<int>(errc::sasl_unexpected_challenge); ++v)
            s.insert(make_error_code(static_cast<errc>(v)).message());
        return s;
    }();
    std::set<std::string> seen;
    for (errc e : {errc::sasl_unexpected_challenge, errc::sasl_malformed_challenge, errc::sasl_server_signature_mismatch,
                   errc::sasl_server_error, errc::sasl_invalid_credentials}) {
        const smtp::error_code ec = e;
        BOOST_TEST((ec.category() == smtp::smtp_category()));
        BOOST_TEST(ec.message() != "unknown smtp error");
        BOOST_TEST(!known_messages.contains(ec.message()), ec.message());
        BOOST_TEST(seen.insert(ec.message()).second, "duplicate message " << ec.message());
    }
    // Appended after every earlier value, in this order.
    BOOST_TEST(static_cast<int>(errc::sasl_malformed_challenge) == static_cast<int>(errc::sasl_unexpected_challenge) + 1);
    BOOST_TEST(static_cast<int>(errc::sasl_invalid_credentials) == static_cast<int>(errc::sasl_unexpected_challenge) + 4);
    BOOST_TEST(static_cast<int>(errc::sasl_unexpected_challenge) > static_cast<int>(errc::unexpected_reply));
}

// --- The OpenSSL provider -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(openssl_digests_and_hmacs)
{
    // FIPS 180-2 "abc".
    BOOST_TEST(hex(openssl::sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(hex(openssl::sha1("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    BOOST_TEST(hex(openssl::sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // RFC 2104 / RFC 2202 / RFC 4231 test case 1: key 0x0b..., "Hi There".
    BOOST_TEST(hex(openssl::hmac_md5(std::string(16, '\x0b'), "Hi There")) == "9294727a3638bb1c13f48ef8158bfc9d");
    BOOST_TEST(hex(openssl::hmac_sha1(std::string(20, '\x0b'), "Hi There")) ==
               "b617318655057264e28bc0b6fb378c8ef146be00");
    BOOST_TEST(hex(openssl::hmac_sha256(std::string(20, '\x0b'), "Hi There")) ==
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // RFC 2202 / RFC 4231 test case 2: key "Jefe".
    BOOST_TEST(hex(openssl::hmac_md5("Jefe", "what do ya want for nothing?")) == "750c783e6ab0b503eaa86e310a5db738");
    // Empty key and data: zero bytes, not "no key".
    BOOST_TEST(hex(openssl::hmac_sha256("", "")) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    BOOST_TEST(hex(openssl::hmac_md5("", "")) == "74e6f7298a9c2d168935f58c001bad88");
    // Bytes, not C strings.
    BOOST_TEST(hex(openssl::sha256("a\0b"sv)) != hex(openssl::sha256("a")));
}

BOOST_AUTO_TEST_CASE(openssl_pbkdf2)
{
    // RFC 6070 (PBKDF2-HMAC-SHA1).
    BOOST_TEST(hex(openssl::pbkdf2_hmac_sha1("password", "salt", 1)) == "0c60c80f961f0e71f3a9b524af6012062fe037a6");
    BOOST_TEST(hex(openssl::pbkdf2_hmac_sha1("password", "salt", 4096)) == "4b007901b765489abead49d926f721d065a429c1");
    // RFC 7914 11 (PBKDF2-HMAC-SHA256, first 32 of its 64 bytes).
    BOOST_TEST(hex(openssl::pbkdf2_hmac_sha256("passwd", "salt", 1)) ==
               "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    BOOST_TEST(hex(openssl::pbkdf2_hmac_sha256("password", "salt", 4096)) ==
               "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    // An empty password is zero bytes.
    BOOST_TEST(hex(openssl::pbkdf2_hmac_sha256("", "salt", 2)) ==
               "62384466264daadc4144018c6bd864648272b34da8980d31521ffcce92ae003b");
    // Out of OpenSSL's range: refused, not wrapped.
    BOOST_CHECK_THROW(openssl::pbkdf2_hmac_sha256("p", "s", 0), std::runtime_error);
    BOOST_CHECK_THROW(openssl::pbkdf2_hmac_sha256("p", "s", std::numeric_limits<std::uint32_t>::max()),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(openssl_random_bytes)
{
    std::array<unsigned char, 32> a{}, b{};
    openssl::random_bytes(a);
    openssl::random_bytes(b);
    BOOST_TEST(hex(a) != hex(b));
    BOOST_TEST(hex(a) != std::string(64, '0'));
    openssl::random_bytes(std::span<unsigned char>()); // nothing to do, no error
}

// --- PLAIN ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(plain_rfc4616_examples)
{
    // RFC 4616 4: "\0tim\0tanstaaftanstaaf" and "Ursel\0Kurt\0xipj3plmq".
    sasl::plain tim({"tim", "tanstaaftanstaaf"});
    BOOST_TEST(!tim.complete());
    BOOST_TEST(first(tim) == "\0tim\0tanstaaftanstaaf"sv);
    BOOST_TEST(tim.complete());

    sasl::plain kurt({"Kurt", "xipj3plmq", "Ursel"});
    BOOST_TEST(first(kurt) == "Ursel\0Kurt\0xipj3plmq"sv);

    sasl::plain wire_tim({"tim", "tanstaaftanstaaf"});
    const wire w = run_on_wire(wire_tim, {});
    BOOST_TEST(w.auth_line == "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    sasl::plain wire_kurt({"Kurt", "xipj3plmq", "Ursel"});
    BOOST_TEST(run_on_wire(wire_kurt, {}).auth_line == "AUTH PLAIN VXJzZWwAS3VydAB4aXBqM3BsbXE=");
}

BOOST_AUTO_TEST_CASE(plain_carries_utf8_and_line_breaks)
{
    // Base64 carries any byte but NUL: CR, LF and UTF-8 go through as they are.
    sasl::plain m({"us\xC3\xA9r", "pa\r\nss"});
    BOOST_TEST(first(m) == "\0us\xC3\xA9r\0pa\r\nss"sv);
    sasl::plain empty_password({"user", ""});
    BOOST_TEST(first(empty_password) == "\0user\0"sv);
}

BOOST_AUTO_TEST_CASE(plain_rejects_nul_and_empty_username)
{
    for (const sasl::credentials& c : {sasl::credentials{"us\0er"sv, "pass"}, sasl::credentials{"user", "pa\0ss"sv},
                                       sasl::credentials{"user", "pass", "ad\0min"sv},
                                       sasl::credentials{"\0"sv, "pass"}, sasl::credentials{"", "pass"},
                                       sasl::credentials{"", "pass", "admin"}}) {
        BOOST_TEST_CONTEXT("username \"" << show(c.username) << "\" secret \"" << show(c.secret) << "\" authzid \""
                                          << show(c.authzid) << "\"")
        {
            sasl::plain m(c);
            std::string out;
            bool has = true;
            BOOST_TEST(initial(m, out, &has) == errc::sasl_invalid_credentials);
            BOOST_TEST(!has);
            BOOST_TEST(!m.complete());
        }
    }
}

BOOST_AUTO_TEST_CASE(plain_challenges)
{
    // Any challenge after the initial response is one too many.
    for (std::string_view c : {""sv, "more?"sv, "\0"sv}) {
        sasl::plain m({"tim", "tanstaaftanstaaf"});
        first(m);
        std::string out;
        BOOST_TEST(step(m, c, out) == errc::sasl_unexpected_challenge);
        BOOST_TEST(!m.complete());
        BOOST_TEST(step(m, "", out) == errc::sasl_unexpected_challenge);
    }
    // An empty challenge before it asks for it (AUTH PLAIN sent without one).
    sasl::plain m({"tim", "tanstaaftanstaaf"});
    BOOST_TEST(respond(m, "") == "\0tim\0tanstaaftanstaaf"sv);
    BOOST_TEST(m.complete());
    // A non-empty one before it is not PLAIN.
    sasl::plain n({"tim", "tanstaaftanstaaf"});
    std::string out;
    BOOST_TEST(step(n, "Username:", out) == errc::sasl_unexpected_challenge);
    // And an empty one with bad credentials reports them.
    sasl::plain bad({"", "x"});
    BOOST_TEST(step(bad, "", out) == errc::sasl_invalid_credentials);
}

// --- LOGIN ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(login_exchange)
{
    sasl::login m({"tim", "tanstaaftanstaaf"});
    std::string out;
    bool has = true;
    BOOST_TEST(initial(m, out, &has) == errc{});
    BOOST_TEST(!has);
    BOOST_TEST(out.empty());
    BOOST_TEST(!m.complete());
    BOOST_TEST(respond(m, "Username:") == "tim");
    BOOST_TEST(!m.complete());
    BOOST_TEST(respond(m, "Password:") == "tanstaaftanstaaf");
    BOOST_TEST(m.complete());
    // A third prompt.
    BOOST_TEST(step(m, "Password:", out) == errc::sasl_unexpected_challenge);
    BOOST_TEST(!m.complete());
    BOOST_TEST(step(m, "Username:", out) == errc::sasl_unexpected_challenge);
}

BOOST_AUTO_TEST_CASE(login_on_the_wire_ignores_prompt_text)
{
    sasl::login m({"tim", "tanstaaftanstaaf"});
    // "Username:", "Password:" as servers send them (RFC 4954 4 style).
    const wire w = run_on_wire(m, {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"});
    BOOST_TEST(w.auth_line == "AUTH LOGIN");
    BOOST_TEST_REQUIRE(w.responses.size() == 2u);
    BOOST_TEST(w.responses[0] == "dGlt");
    BOOST_TEST(w.responses[1] == "dGFuc3RhYWZ0YW5zdGFhZg==");
    // Other prompts (some servers send "User Name\0", lower case, or nothing).
    sasl::login n({"tim", "secret"});
    BOOST_TEST(respond(n, "") == "tim");
    BOOST_TEST(respond(n, "Username:") == "secret"); // the second prompt gets the password, whatever it says
    BOOST_TEST(n.complete());
}

BOOST_AUTO_TEST_CASE(login_rejects_bad_credentials)
{
    for (const sasl::credentials& c :
         {sasl::credentials{"", "pass"}, sasl::credentials{"us\rer", "pass"}, sasl::credentials{"us\ner", "pass"},
          sasl::credentials{"us\0er"sv, "pass"}, sasl::credentials{"user", "pa\r\nss"},
          sasl::credentials{"user", "pa\0ss"sv}}) {
        BOOST_TEST_CONTEXT("username \"" << show(c.username) << "\" secret \"" << show(c.secret) << "\"")
        {
            sasl::login m(c);
            std::string out;
            BOOST_TEST(initial(m, out) == errc::sasl_invalid_credentials);
            // A driver that goes on anyway gets nothing to send.
            BOOST_TEST(step(m, "Username:", out) == errc::sasl_unexpected_challenge);
            // Without initial_response(), the first challenge checks them.
            sasl::login n(c);
            BOOST_TEST(step(n, "Username:", out) == errc::sasl_invalid_credentials);
            BOOST_TEST(!n.complete());
        }
    }
}

// --- CRAM-MD5 ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cram_md5_rfc2195_example)
{
    sasl::cram_md5_openssl m({"tim", "tanstaaftanstaaf"});
    const wire w = run_on_wire(m, {"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"});
    BOOST_TEST(w.auth_line == "AUTH CRAM-MD5");
    BOOST_TEST_REQUIRE(w.responses.size() == 1u);
    BOOST_TEST(w.responses[0] == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    BOOST_TEST(m.complete());

    sasl::cram_md5_openssl raw({"tim", "tanstaaftanstaaf"});
    BOOST_TEST(!raw.complete());
    BOOST_TEST(respond(raw, "<1896.697170952@postoffice.reston.mci.net>") == "tim b913a602c7eda7a495b4e6e7334d3890");
}

BOOST_AUTO_TEST_CASE(cram_md5_errors)
{
    {
        sasl::cram_md5_openssl m({"tim", "tanstaaftanstaaf"});
        respond(m, "<1896.697170952@postoffice.reston.mci.net>");
        std::string out;
        BOOST_TEST(step(m, "<1896.697170952@postoffice.reston.mci.net>", out) == errc::sasl_unexpected_challenge);
        BOOST_TEST(!m.complete());
    }
    {
        sasl::cram_md5_openssl m({"tim", "tanstaaftanstaaf"});
        std::string out;
        BOOST_TEST(step(m, "", out) == errc::sasl_malformed_challenge);
        BOOST_TEST(!m.complete());
    }
    for (const sasl::credentials& c :
         {sasl::credentials{"", "x"}, sasl::credentials{"t\rim", "x"}, sasl::credentials{"t\nim", "x"},
          sasl::credentials{"t\0im"sv, "x"}}) {
        sasl::cram_md5_openssl m(c);
        std::string out;
        BOOST_TEST(initial(m, out) == errc::sasl_invalid_credentials, show(c.username));
        sasl::cram_md5_openssl n(c);
        BOOST_TEST(step(n, "<1.2@host>", out) == errc::sasl_invalid_credentials, show(c.username));
    }
    // The secret is only a key: any bytes do.
    sasl::cram_md5_openssl m({"tim", "\0\r\n"sv});
    BOOST_TEST(respond(m, "<1.2@host>").substr(0, 4) == "tim ");
}

// --- XOAUTH2 ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(xoauth2_google_example)
{
    // Google's XOAUTH2 protocol document, "Initial Client Response".
    sasl::xoauth2 m({"someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"});
    BOOST_TEST(!m.complete());
    const wire w = run_on_wire(m, {});
    BOOST_TEST(w.auth_line == "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNS"
                              "bGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
    BOOST_TEST(m.complete());
    BOOST_TEST(!m.server_error());

    sasl::xoauth2 raw({"someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"});
    BOOST_TEST(first(raw) == "user=someuser@example.com\x01" "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
}

BOOST_AUTO_TEST_CASE(xoauth2_error_challenge)
{
    // The server's error, in base64 JSON; the client answers with an empty
    // line and the server ends with 535.
    const std::string json = R"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})";
    sasl::xoauth2 m({"someuser@example.com", "expired"});
    first(m);
    std::string out;
    BOOST_TEST(step(m, json, out) == errc{});
    BOOST_TEST(out.empty());
    BOOST_TEST(!m.complete());
    BOOST_TEST(code_of(m.server_error()) == errc::sasl_server_error);
    BOOST_TEST(m.server_error_detail() == json);
    // On the wire: an empty response line (base64 of nothing).
    sasl::xoauth2 w({"someuser@example.com", "expired"});
    const wire t = run_on_wire(w, {base64::encode(json)});
    BOOST_TEST_REQUIRE(t.responses.size() == 1u);
    BOOST_TEST(t.responses[0] == "");
    // A second challenge.
    BOOST_TEST(step(m, json, out) == errc::sasl_unexpected_challenge);
    BOOST_TEST(!m.complete());
    BOOST_TEST(code_of(m.server_error()) == errc::sasl_server_error);
}

BOOST_AUTO_TEST_CASE(xoauth2_rejects_bad_credentials)
{
    for (const sasl::credentials& c :
         {sasl::credentials{"", "token"}, sasl::credentials{"user", ""}, sasl::credentials{"us\x01" "er", "token"},
          sasl::credentials{"user", "tok\x01" "en"}, sasl::credentials{"user", "tok\r\nen"},
          sasl::credentials{"us\0er"sv, "token"}, sasl::credentials{"user", "token", "other@example.com"}}) {
        BOOST_TEST_CONTEXT("username \"" << show(c.username) << "\" secret \"" << show(c.secret) << "\" authzid \""
                                          << show(c.authzid) << "\"")
        {
            sasl::xoauth2 m(c);
            std::string out;
            BOOST_TEST(initial(m, out) == errc::sasl_invalid_credentials);
            BOOST_TEST(!m.complete());
            BOOST_TEST(step(m, "", out) == errc::sasl_unexpected_challenge);
        }
    }
}

BOOST_AUTO_TEST_CASE(xoauth2_empty_challenge_asks_for_initial_response)
{
    sasl::xoauth2 m({"u@example.com", "tok"});
    BOOST_TEST(respond(m, "") == "user=u@example.com\x01" "auth=Bearer tok\x01\x01");
    BOOST_TEST(m.complete());
    sasl::xoauth2 n({"u@example.com", "tok"});
    std::string out;
    BOOST_TEST(step(n, "{}", out) == errc::sasl_unexpected_challenge);
    BOOST_TEST(!n.server_error());
}

// --- OAUTHBEARER ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(oauthbearer_rfc7628_example)
{
    // RFC 7628 4.1, the SMTP exchange.
    sasl::oauthbearer m({"user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="},
                        {"server.example.com", 587});
    BOOST_TEST(!m.complete());
    const wire w = run_on_wire(m, {});
    BOOST_TEST(w.auth_line ==
               "AUTH OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVy"
               "IHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
    BOOST_TEST(m.complete());

    sasl::oauthbearer raw({"user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="},
                          {"server.example.com", 587});
    BOOST_TEST(first(raw) == "n,a=user@example.com,\x01host=server.example.com\x01port=587\x01"
                             "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01");
}

BOOST_AUTO_TEST_CASE(oauthbearer_rfc7628_failure_example)
{
    // RFC 7628 4.3 (SMTP, failed exchange): the error challenge is answered
    // with ^A ("AQ=="), and the server then sends its 5yz.
    sasl::oauthbearer m({"user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="},
                        {"server.example.com", 587});
    const wire w = run_on_wire(m, {"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3Vy"
                                   "YXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0="});
    BOOST_TEST_REQUIRE(w.responses.size() == 1u);
    BOOST_TEST(w.responses[0] == "AQ==");
    BOOST_TEST(!m.complete());
    BOOST_TEST(code_of(m.server_error()) == errc::sasl_server_error);
    BOOST_TEST(m.server_error_detail() ==
               R"({"status":"invalid_token","scope":"example_scope",)"
               R"("openid-configuration":"https://example.com/.well-known/openid-configuration"})");
    std::string out;
    BOOST_TEST(step(m, "{}", out) == errc::sasl_unexpected_challenge);
    BOOST_TEST(!m.complete());
}

BOOST_AUTO_TEST_CASE(oauthbearer_optional_fields_and_escaping)
{
    // No host, no port: neither key appears.
    sasl::oauthbearer plain_case({"user@example.com", "tok"});
    BOOST_TEST(first(plain_case) == "n,a=user@example.com,\x01" "auth=Bearer tok\x01\x01");
    // Host only; port only.
    sasl::oauthbearer host_only({"u", "tok"}, {.host = "mx.example.net"});
    BOOST_TEST(first(host_only) == "n,a=u,\x01host=mx.example.net\x01" "auth=Bearer tok\x01\x01");
    sasl::oauthbearer port_only({"u", "tok"}, {.port = 465});
    BOOST_TEST(first(port_only) == "n,a=u,\x01port=465\x01" "auth=Bearer tok\x01\x01");
    // ',' and '=' in the identity are escaped (RFC 5801 4).
    sasl::oauthbearer escaped({"a,b=c,=", "tok"});
    BOOST_TEST(first(escaped) == "n,a=a=2Cb=3Dc=2C=3D,\x01" "auth=Bearer tok\x01\x01");
    // The authzid, when given, is the GS2 identity.
    sasl::oauthbearer authz({"me@example.com", "tok", "shared@example.com"});
    BOOST_TEST(first(authz) == "n,a=shared@example.com,\x01" "auth=Bearer tok\x01\x01");
    // No identity at all: no "a=".
    sasl::oauthbearer anonymous_id({"", "tok"});
    BOOST_TEST(first(anonymous_id) == "n,,\x01" "auth=Bearer tok\x01\x01");
    // UTF-8 identities are fine.
    sasl::oauthbearer utf8({"j\xC3\xBCrgen@example.com", "tok"});
    BOOST_TEST(first(utf8) == "n,a=j\xC3\xBCrgen@example.com,\x01" "auth=Bearer tok\x01\x01");
    // An empty challenge asks for the initial response.
    sasl::oauthbearer late({"u", "tok"});
    BOOST_TEST(respond(late, "") == "n,a=u,\x01" "auth=Bearer tok\x01\x01");
    BOOST_TEST(late.complete());
}

BOOST_AUTO_TEST_CASE(oauthbearer_rejects_bad_credentials)
{
    for (const sasl::credentials& c :
         {sasl::credentials{"u", ""}, sasl::credentials{"u", "tok\x01"}, sasl::credentials{"u", "to\r\nk"},
          sasl::credentials{"u\x01", "tok"}, sasl::credentials{"u\xFF", "tok"}, sasl::credentials{"u", "tok", "a\nb"}}) {
        BOOST_TEST_CONTEXT("username \"" << show(c.username) << "\" secret \"" << show(c.secret) << "\" authzid \""
                                          << show(c.authzid) << "\"")
        {
            sasl::oauthbearer m(c);
            std::string out;
            BOOST_TEST(initial(m, out) == errc::sasl_invalid_credentials);
            BOOST_TEST(!m.complete());
        }
    }
    sasl::oauthbearer bad_host({"u", "tok"}, {.host = "mx\x01.example"});
    std::string out;
    BOOST_TEST(initial(bad_host, out) == errc::sasl_invalid_credentials);
}

// --- SCRAM: the RFC examples ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(scram_sha256_rfc7677_example)
{
    auto m = rfc7677_client();
    BOOST_TEST(m.client_nonce() == rfc7677_nonce);
    BOOST_TEST(!m.complete());
    BOOST_TEST(first(m) == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    BOOST_TEST(!m.complete());
    BOOST_TEST(respond(m, rfc7677_server_first) == rfc7677_client_final);
    BOOST_TEST(!m.complete(), "complete before the server's signature");
    BOOST_TEST(respond(m, rfc7677_server_final) == "");
    BOOST_TEST(m.complete());
}

BOOST_AUTO_TEST_CASE(scram_sha256_rfc7677_on_the_wire)
{
    auto m = rfc7677_client();
    const wire w = run_on_wire(m, {base64::encode(rfc7677_server_first), base64::encode(rfc7677_server_final)});
    BOOST_TEST(w.auth_line == "AUTH SCRAM-SHA-256 " + base64::encode("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    BOOST_TEST_REQUIRE(w.responses.size() == 2u);
    BOOST_TEST(w.responses[0] == base64::encode(rfc7677_client_final));
    BOOST_TEST(w.responses[1] == ""); // the empty line after server-final (RFC 4954: no data with 235)
    BOOST_TEST(m.complete());
}

BOOST_AUTO_TEST_CASE(scram_sha1_rfc5802_example)
{
    sasl::scram_sha1_openssl m(rfc_user, {.client_nonce = "fyko+d2lbbFgONRv9qkxdawL"});
    BOOST_TEST(first(m) == "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    BOOST_TEST(respond(m, "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096") ==
               "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
    BOOST_TEST(!m.complete());
    BOOST_TEST(respond(m, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=") == "");
    BOOST_TEST(m.complete());
}

BOOST_AUTO_TEST_CASE(scram_with_another_provider)
{
    // The same RFC 7677 exchange through a provider that only has what
    // crypto_provider requires.
    sasl::scram_sha256<minimal_crypto> m(rfc_user, {.client_nonce = rfc7677_nonce});
    first(m);
    BOOST_TEST(respond(m, rfc7677_server_first) == rfc7677_client_final);
    respond(m, rfc7677_server_final);
    BOOST_TEST(m.complete());
}

// --- SCRAM: the server's final message --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(scram_wrong_server_signature)
{
    // The right signature with one bit flipped, and others.
    std::string good;
    smtp::error_code ec;
    base64::decode(rfc7677_server_final.substr(2), good, ec);
    BOOST_TEST_REQUIRE(!ec);
    std::string flipped = good;
    flipped[31] = static_cast<char>(flipped[31] ^ 1);
    std::string first_byte = good;
    first_byte[0] = static_cast<char>(first_byte[0] ^ 0x80);
    for (const std::string& sig : {flipped, first_byte, std::string(32, '\0'), good.substr(0, 31), good + "x",
                                   std::string()}) {
        BOOST_TEST_CONTEXT("signature " << base64::encode(sig))
        {
            auto m = rfc7677_after_first();
            respond(m, rfc7677_server_first);
            std::string out;
            BOOST_TEST(step(m, "v=" + base64::encode(sig), out) == errc::sasl_server_signature_mismatch);
            BOOST_TEST(!m.complete());
            // A later, correct one does not repair it.
            BOOST_TEST(step(m, rfc7677_server_final, out) == errc::sasl_unexpected_challenge);
            BOOST_TEST(!m.complete());
        }
    }
    // The RFC 5802 (SHA-1) signature is not the SHA-256 one.
    auto m = rfc7677_after_first();
    respond(m, rfc7677_server_first);
    std::string out;
    BOOST_TEST(step(m, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", out) == errc::sasl_server_signature_mismatch);
}

BOOST_AUTO_TEST_CASE(scram_server_final_malformed)
{
    for (std::string_view final_message :
         {""sv, "v"sv, "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="sv,
          "V=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="sv, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4"sv,
          "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=\r\n"sv, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,"sv,
          "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,1=x"sv, " v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="sv,
          "v=!!!!"sv}) {
        BOOST_TEST_CONTEXT("server-final \"" << show(final_message) << "\"")
        {
            auto m = rfc7677_after_first();
            respond(m, rfc7677_server_first);
            std::string out;
            BOOST_TEST(step(m, final_message, out) == errc::sasl_malformed_challenge);
            BOOST_TEST(!m.complete());
        }
    }
    // Extensions after the verifier are allowed and ignored.
    auto m = rfc7677_after_first();
    respond(m, rfc7677_server_first);
    BOOST_TEST(respond(m, std::string(rfc7677_server_final) + ",x=whatever,y=") == "");
    BOOST_TEST(m.complete());
}

BOOST_AUTO_TEST_CASE(scram_server_error)
{
    for (std::string_view reason : {"invalid-proof"sv, "other-error"sv, ""sv}) {
        auto m = rfc7677_after_first();
        respond(m, rfc7677_server_first);
        std::string out;
        BOOST_TEST(step(m, "e=" + std::string(reason), out) == errc::sasl_server_error);
        BOOST_TEST(m.server_error_detail() == reason);
        BOOST_TEST(!m.complete());
        BOOST_TEST(step(m, rfc7677_server_final, out) == errc::sasl_unexpected_challenge);
    }
    // "e=" where server-first is due is not a valid server-first.
    auto m = rfc7677_after_first();
    std::string out;
    BOOST_TEST(step(m, "e=unknown-user", out) == errc::sasl_malformed_challenge);
}

BOOST_AUTO_TEST_CASE(scram_extra_challenge_after_server_final)
{
    auto m = rfc7677_after_first();
    respond(m, rfc7677_server_first);
    respond(m, rfc7677_server_final);
    BOOST_TEST_REQUIRE(m.complete());
    for (std::string_view extra : {""sv, rfc7677_server_final, rfc7677_server_first}) {
        std::string out;
        BOOST_TEST(step(m, extra, out) == errc::sasl_unexpected_challenge, show(extra));
        BOOST_TEST(!m.complete());
    }
}

// --- SCRAM: the server's first message ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(scram_nonce_must_extend_ours)
{
    for (std::string_view server_first :
         {"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,          // ours, not longer
          "r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,           // shorter
          "r=XOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,   // first byte differs
          "r=rOprNGfwEbeRWgbNEkqX%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,   // last byte differs
          "r=%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv, // the server's part only
          "r=,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,
          "r=rOprNGfwEbeRWgbNEkqO\x7F,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv, // not printable
          "r=rOprNGfwEbeRWgbNEkqO \x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,
          "r=rOprNGfwEbeRWgbNEkqO\xC3\xA9,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv}) {
        BOOST_TEST_CONTEXT("server-first \"" << show(server_first) << "\"")
        {
            auto m = rfc7677_after_first();
            std::string out;
            BOOST_TEST(step(m, server_first, out) == errc::sasl_malformed_challenge);
            BOOST_TEST(!m.complete());
            BOOST_TEST(step(m, rfc7677_server_final, out) == errc::sasl_unexpected_challenge);
        }
    }
}

BOOST_AUTO_TEST_CASE(scram_server_first_missing_or_misplaced_attributes)
{
    for (std::string_view server_first :
         {""sv, "r=rOprNGfwEbeRWgbNEkqO%hvYDpW"sv, "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,"sv,
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ=="sv,
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,"sv,
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,i=4096"sv,                                  // no salt
          "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,                                       // no nonce
          "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqO%hvYDpW,i=4096"sv,         // out of order
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ=="sv,
          "m=mandatory,r=rOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv, // unknown mandatory ext
          "R=rOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"sv,         // empty extension
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,junk"sv,
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW, s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv,
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096\r\n"sv,
          "r=rOprNGfwEbeRWgbNEkqO%hvYDpW,,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"sv}) {
        BOOST_TEST_CONTEXT("server-first \"" << show(server_first) << "\"")
        {
            minimal_crypto::hi_calls = 0;
            sasl::scram_sha256<minimal_crypto> m(rfc_user, {.client_nonce = rfc7677_nonce});
            first(m);
            std::string out;
            BOOST_TEST(step(m, server_first, out) == errc::sasl_malformed_challenge);
            BOOST_TEST(!m.complete());
            BOOST_TEST(minimal_crypto::hi_calls == 0, "Hi() ran on a malformed server-first");
        }
    }
}

BOOST_AUTO_TEST_CASE(scram_iteration_count)
{
    for (std::string_view count : {"0"sv, ""sv, "-1"sv, "+4096"sv, "04096"sv, "4096x"sv, "0x1000"sv, "4 096"sv,
                                   "100001"sv, "4294967295"sv, "4294967296"sv, "99999999999999999999999999"sv}) {
        BOOST_TEST_CONTEXT("i=" << count)
        {
            minimal_crypto::hi_calls = 0;
            sasl::scram_sha256<minimal_crypto> m(rfc_user, {.client_nonce = rfc7677_nonce});
            first(m);
            std::string out;
            BOOST_TEST(step(m, server_first_with("W22ZaJ0SNY7soEsUEjb6gQ==", count), out) ==
                       errc::sasl_malformed_challenge);
            BOOST_TEST(minimal_crypto::hi_calls == 0);
        }
    }
    // The bound: 100000 is accepted, the RFC's 4096 is refused below 4096.
    {
        auto m = rfc7677_after_first();
        std::string out;
        BOOST_TEST(step(m, server_first_with("W22ZaJ0SNY7soEsUEjb6gQ==", "100000"), out) == errc{});
    }
    {
        auto m = rfc7677_after_first(4095);
        std::string out;
        BOOST_TEST(step(m, rfc7677_server_first, out) == errc::sasl_malformed_challenge);
    }
    {
        auto m = rfc7677_after_first(4096);
        BOOST_TEST(respond(m, rfc7677_server_first) == rfc7677_client_final);
    }
    // Raised by the caller, the bound lets a larger count through.
    {
        auto m = rfc7677_after_first(100001);
        std::string out;
        BOOST_TEST(step(m, server_first_with("W22ZaJ0SNY7soEsUEjb6gQ==", "100001"), out) == errc{});
    }
}

BOOST_AUTO_TEST_CASE(scram_salt_must_be_base64)
{
    for (std::string_view salt : {""sv, "W22ZaJ0SNY7soEsUEjb6gQ="sv, "W22ZaJ0SNY7soEsUEjb6gQ"sv, "!!!!"sv,
                                  "W22ZaJ0SNY7soEsUEjb6gQ==="sv, "W22Z aJ0S"sv, "W22Z-_0S"sv, "Zh=="sv}) {
        BOOST_TEST_CONTEXT("s=" << salt)
        {
            auto m = rfc7677_after_first();
            std::string out;
            BOOST_TEST(step(m, server_first_with(salt, "4096"), out) == errc::sasl_malformed_challenge);
            BOOST_TEST(!m.complete());
        }
    }
}

BOOST_AUTO_TEST_CASE(scram_server_first_extensions_are_signed)
{
    // Extensions after i= are allowed; they are part of AuthMessage, so the
    // server's check of the proof sees them.
    scram_server<sasl::sha256> server{"user", "n,,", "pencil"};
    server.extensions = ",x=ext,y=";
    sasl::scram_sha256_openssl m(rfc_user);
    const std::string client_first = first(m);
    const std::string client_final = respond(m, server.first(client_first));
    BOOST_TEST(respond(m, server.final(client_final)) == "");
    BOOST_TEST(m.complete());
}

// --- SCRAM: identities, nonces, credentials ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(scram_usernames_are_escaped)
{
    struct case_ {
        sasl::credentials creds;
        std::string username_escaped;
        std::string gs2;
    };
    for (const case_& c : {case_{{"user,name", "pencil"}, "user=2Cname", "n,,"},
                           case_{{"a=b", "pencil"}, "a=3Db", "n,,"},
                           case_{{"=,=,", "pencil"}, "=3D=2C=3D=2C", "n,,"},
                           case_{{"j\xC3\xBCrgen", "p\xC3\xA4ss"}, "j\xC3\xBCrgen", "n,,"},
                           case_{{"user", "pencil", "admin"}, "user", "n,a=admin,"},
                           case_{{"user", "pencil", "ad,m=in"}, "user", "n,a=ad=2Cm=3Din,"}}) {
        BOOST_TEST_CONTEXT("username \"" << show(c.creds.username) << "\" authzid \"" << show(c.creds.authzid) << "\"")
        {
            scram_server<sasl::sha256> server{c.username_escaped, c.gs2, std::string(c.creds.secret)};
            sasl::scram_sha256_openssl m(c.creds, {.client_nonce = "abc"});
            const std::string client_first = first(m);
            BOOST_TEST(client_first == c.gs2 + "n=" + c.username_escaped + ",r=abc");
            const std::string client_final = respond(m, server.first(client_first));
            BOOST_TEST(client_final.substr(0, 2 + base64::encoded_size(c.gs2.size())) == "c=" + base64::encode(c.gs2));
            BOOST_TEST(respond(m, server.final(client_final)) == "");
            BOOST_TEST(m.complete());
        }
    }
}

BOOST_AUTO_TEST_CASE(scram_sha1_against_the_test_server)
{
    scram_server<sasl::sha1> server{"alice", "n,,", "correct horse"};
    server.salt = std::string("\0\x01\x02salt\xFF", 8);
    server.iterations = 1000;
    sasl::scram_sha1_openssl m({"alice", "correct horse"});
    const std::string client_final = respond(m, server.first(first(m)));
    BOOST_TEST(respond(m, server.final(client_final)) == "");
    BOOST_TEST(m.complete());
    // A wrong password: the server's check of the proof fails, and the
    // server's signature (made with its key) fails ours.
    scram_server<sasl::sha1> other{"alice", "n,,", "correct horse"};
    sasl::scram_sha1_openssl wrong({"alice", "incorrect horse"});
    const std::string cf = respond(wrong, other.first(first(wrong)));
    bool proof_ok = true;
    const std::string server_final = other.final(cf, &proof_ok);
    BOOST_TEST(!proof_ok);
    std::string out;
    BOOST_TEST(step(wrong, server_final, out) == errc::sasl_server_signature_mismatch);
    BOOST_TEST(!wrong.complete());
}

BOOST_AUTO_TEST_CASE(scram_random_nonce)
{
    std::set<std::string> seen;
    for (int i = 0; i < 16; ++i) {
        sasl::scram_sha256_openssl m(rfc_user);
        const std::string nonce(m.client_nonce());
        BOOST_TEST(nonce.size() == 24u);
        BOOST_TEST(nonce.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
                   std::string::npos);
        BOOST_TEST(seen.insert(nonce).second, "nonce repeated: " << nonce);
        BOOST_TEST(first(m) == "n,,n=user,r=" + nonce);
    }
    // The nonce comes from Crypto::random_bytes: 18 bytes of 0xFB are "+/v7" six times.
    sasl::scram_sha256<fixed_random_crypto> fixed(rfc_user);
    BOOST_TEST(fixed.client_nonce() == "+/v7+/v7+/v7+/v7+/v7+/v7");
    // An empty client_nonce option means random too.
    sasl::scram_sha256<fixed_random_crypto> empty_option(rfc_user, {.client_nonce = ""});
    BOOST_TEST(empty_option.client_nonce() == "+/v7+/v7+/v7+/v7+/v7+/v7");
}

BOOST_AUTO_TEST_CASE(scram_injected_nonce_must_be_printable)
{
    for (std::string_view nonce : {"a,b"sv, "a b"sv, "nonce\x01"sv, "\x7F"sv, "caf\xC3\xA9"sv, "a\0b"sv}) {
        BOOST_CHECK_THROW(sasl::scram_sha256_openssl(rfc_user, {.client_nonce = nonce}), std::invalid_argument);
    }
    // Every printable byte but ',' is allowed.
    std::string all;
    for (char c = 0x21; c <= 0x7E; ++c)
        if (c != ',')
            all.push_back(c);
    sasl::scram_sha256_openssl m(rfc_user, {.client_nonce = all});
    BOOST_TEST(m.client_nonce() == all);
}

BOOST_AUTO_TEST_CASE(scram_rejects_bad_credentials)
{
    for (const sasl::credentials& c :
         {sasl::credentials{"", "pencil"}, sasl::credentials{"us\0er"sv, "pencil"}, sasl::credentials{"us\rer", "pencil"},
          sasl::credentials{"user\n", "pencil"}, sasl::credentials{"us\x01" "er", "pencil"},
          sasl::credentials{"us\x7F" "er", "pencil"}, sasl::credentials{"us\xFF" "er", "pencil"},
          sasl::credentials{"us\xC3", "pencil"}, sasl::credentials{"user", "pencil", "ad\r\nmin"},
          sasl::credentials{"user", "pencil", "ad\xC0\xAFmin"}}) {
        BOOST_TEST_CONTEXT("username \"" << show(c.username) << "\" authzid \"" << show(c.authzid) << "\"")
        {
            sasl::scram_sha256_openssl m(c, {.client_nonce = rfc7677_nonce});
            std::string out;
            bool has = true;
            BOOST_TEST(initial(m, out, &has) == errc::sasl_invalid_credentials);
            BOOST_TEST(!has);
            BOOST_TEST(step(m, rfc7677_server_first, out) == errc::sasl_unexpected_challenge);
            BOOST_TEST(!m.complete());
        }
    }
    // The password is only hashed: any bytes do (not SASLprep'ed).
    scram_server<sasl::sha256> server{"user", "n,,", "p\0\r\n\xFF"s};
    sasl::scram_sha256_openssl m({"user", "p\0\r\n\xFF"sv});
    const std::string client_final = respond(m, server.first(first(m)));
    respond(m, server.final(client_final));
    BOOST_TEST(m.complete());
}

BOOST_AUTO_TEST_CASE(scram_challenge_order)
{
    // An empty challenge before client-first asks for it.
    {
        auto m = rfc7677_client();
        BOOST_TEST(respond(m, "") == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        BOOST_TEST(respond(m, rfc7677_server_first) == rfc7677_client_final);
        respond(m, rfc7677_server_final);
        BOOST_TEST(m.complete());
    }
    // A server-first before client-first was sent.
    {
        auto m = rfc7677_client();
        std::string out;
        BOOST_TEST(step(m, rfc7677_server_first, out) == errc::sasl_unexpected_challenge);
    }
    // server-final where server-first is due.
    {
        auto m = rfc7677_after_first();
        std::string out;
        BOOST_TEST(step(m, rfc7677_server_final, out) == errc::sasl_malformed_challenge);
    }
    // server-first twice.
    {
        auto m = rfc7677_after_first();
        respond(m, rfc7677_server_first);
        std::string out;
        BOOST_TEST(step(m, rfc7677_server_first, out) == errc::sasl_malformed_challenge);
        BOOST_TEST(!m.complete());
    }
}

// --- A mechanism of one's own -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(documented_example_mechanism)
{
    anonymous m({"sirhc", ""});
    const wire w = run_on_wire(m, {});
    BOOST_TEST(w.auth_line == "AUTH ANONYMOUS " + base64::encode("sirhc"));
    BOOST_TEST(m.complete());
    std::string out;
    BOOST_TEST(step(m, "", out) == errc::sasl_unexpected_challenge);
    BOOST_TEST(!m.complete());
    anonymous bad({"a\r\nb", ""});
    BOOST_TEST(initial(bad, out) == errc::sasl_invalid_credentials);
    // An empty initial response goes as "=".
    anonymous empty({"", ""});
    BOOST_TEST(run_on_wire(empty, {}).auth_line == "AUTH ANONYMOUS =");
}

// libFuzzer target: the SASL mechanisms (include/smtp/protocol/sasl.hpp) fed
// arbitrary credentials and server challenges, on the OpenSSL crypto
// provider (include/smtp/crypto/openssl.hpp), as tests/test_sasl.cpp does.
//
// Input:
//   [0] bits 0-6 % 7: the mechanism (PLAIN, LOGIN, CRAM-MD5, XOAUTH2,
//       OAUTHBEARER, SCRAM-SHA-1, SCRAM-SHA-256); bit 7 (SCRAM): an honest
//       server, see below
//   [1] bit 0: send the initial response (else the server asks for it, or
//       not); bit 1: the challenges are base64 text, decoded first as the
//       driver does; bit 2: the SCRAM client nonce comes from the input;
//       bit 3: OAUTHBEARER gets a port; bits 4-7: SCRAM's max_iterations
//       (1 + 16 * n: small, so that Hi() stays cheap)
//   counted (one byte of length, then the bytes): username, password or
//       token, authzid, OAUTHBEARER host; two bytes of port; the client
//       nonce when bit 2 says so
//   honest SCRAM server: counted server nonce, salt, a byte of iteration
//       count, and two suffixes: server-first is "r=" client nonce + server
//       nonce ",s=" base64(salt) ",i=" count + suffix 1; server-final is
//       "v=" + the right signature (when server-first was accepted) + suffix 2
//   then up to 8 counted challenges, each a 334's text
//
// Properties: no crash, no exception, no undefined behaviour; every step
// gives exactly what a model of the mechanism written from sasl.hpp's
// documentation expects: the credentials refused (errc::sasl_invalid_
// credentials) by the documented rules and nothing appended, the responses'
// bytes (PLAIN, LOGIN, CRAM-MD5's HMAC, the OAuth formats, SCRAM's client-
// first, client-final and proof by RFC 5802, recomputed here), each error an
// smtp::errc of the SASL family with the output untouched, a failed
// mechanism failed for good, complete() exactly when the model says (SCRAM:
// only after the server's right signature), and the challenges a mechanism
// takes without error bounded (PLAIN 1, LOGIN 2, CRAM-MD5 1, OAuth 2,
// SCRAM 3). Base64: a challenge that decodes is canonical (it re-encodes to
// itself); one that does not is errc::invalid_base64 with nothing appended;
// every challenge survives encode then decode.
#include <smtp/crypto/openssl.hpp>
#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/sasl.hpp>

#include "fuzz_common.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sasl = smtp::sasl;
using smtp::errc;
using smtp::error_code;
using openssl = smtp::crypto::openssl;

namespace {

bool has_any(std::string_view s, std::string_view bytes) { return s.find_first_of(bytes) != std::string_view::npos; }
bool has_nul(std::string_view s) { return has_any(s, std::string_view("\0", 1)); }
bool has_nul_cr_lf(std::string_view s) { return has_any(s, std::string_view("\0\r\n", 3)); }
bool has_control(std::string_view s)
{
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F)
            return true;
    }
    return false;
}
/// UTF-8 without controls (RFC 5802 saslname).
bool saslname(std::string_view s) { return !has_control(s) && smtp::detail::is_valid_utf8(s); }
/// RFC 5802 printable: 0x21-0x7E but ','.
bool printable(std::string_view s)
{
    for (char c : s)
        if (c < 0x21 || c > 0x7E || c == ',')
            return false;
    return true;
}
std::string escape(std::string_view s)
{
    std::string out;
    for (char c : s)
        out += c == ',' ? "=2C" : c == '=' ? "=3D" : std::string(1, c);
    return out;
}
std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> parts;
    for (;;) {
        const std::size_t at = s.find(sep);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos)
            return parts;
        s.remove_prefix(at + 1);
    }
}
template <std::size_t N>
std::string_view chars(const std::array<unsigned char, N>& a)
{
    return {reinterpret_cast<const char*>(a.data()), N};
}
std::string hex(std::string_view bytes)
{
    static constexpr char d[] = "0123456789abcdef";
    std::string out;
    for (char ch : bytes) {
        const auto b = static_cast<unsigned char>(ch);
        out += d[b >> 4];
        out += d[b & 15];
    }
    return out;
}
bool is_sasl_error(const error_code& ec)
{
    if (ec.category() != smtp::smtp_category())
        return false;
    switch (static_cast<errc>(ec.value())) {
    case errc::sasl_unexpected_challenge:
    case errc::sasl_malformed_challenge:
    case errc::sasl_server_signature_mismatch:
    case errc::sasl_server_error:
    case errc::sasl_invalid_credentials: return true;
    default: return false;
    }
}

/// What one step should do: its error, what it appends, what it returns.
struct step {
    error_code ec;
    std::string out;
    bool ret = false;
};
step refuse(errc e) { return {e, {}, false}; }

// --- The models ----------------------------------------------------------------

struct plain_model {
    sasl::credentials c;
    enum { start, sent, failed } s = start;
    static constexpr std::size_t bound = 1;

    step initial()
    {
        if (c.username.empty() || has_nul(c.username) || has_nul(c.secret) || has_nul(c.authzid)) {
            s = failed;
            return refuse(errc::sasl_invalid_credentials);
        }
        s = sent;
        std::string out(c.authzid);
        out += '\0';
        out += c.username;
        out += '\0';
        out += c.secret;
        return {{}, out, true};
    }
    step challenge(std::string_view text)
    {
        if (s == start && text.empty())
            return initial();
        s = failed;
        return refuse(errc::sasl_unexpected_challenge);
    }
    bool complete() const { return s == sent; }
};

struct login_model {
    sasl::credentials c;
    enum { start, sent_username, sent_password, failed } s = start;
    static constexpr std::size_t bound = 2;

    bool ok() const { return !c.username.empty() && !has_nul_cr_lf(c.username) && !has_nul_cr_lf(c.secret); }
    step initial()
    {
        if (!ok()) {
            s = failed;
            return refuse(errc::sasl_invalid_credentials);
        }
        return {};
    }
    step challenge(std::string_view)
    {
        switch (s) {
        case start:
            if (!ok())
                break;
            s = sent_username;
            return {{}, std::string(c.username), false};
        case sent_username: s = sent_password; return {{}, std::string(c.secret), false};
        default: s = failed; return refuse(errc::sasl_unexpected_challenge);
        }
        s = failed;
        return refuse(errc::sasl_invalid_credentials);
    }
    bool complete() const { return s == sent_password; }
};

struct cram_md5_model {
    sasl::credentials c;
    enum { start, sent, failed } s = start;
    static constexpr std::size_t bound = 1;

    bool ok() const { return !c.username.empty() && !has_nul_cr_lf(c.username); }
    step initial()
    {
        if (!ok()) {
            s = failed;
            return refuse(errc::sasl_invalid_credentials);
        }
        return {};
    }
    step challenge(std::string_view text)
    {
        const errc e = s != start ? errc::sasl_unexpected_challenge
                       : !ok()    ? errc::sasl_invalid_credentials
                       : text.empty() ? errc::sasl_malformed_challenge
                                      : errc{};
        if (e != errc{}) {
            s = failed;
            return refuse(e);
        }
        s = sent;
        return {{}, std::string(c.username) + " " + hex(chars(openssl::hmac_md5(c.secret, text))), false};
    }
    bool complete() const { return s == sent; }
};

/// XOAUTH2 and OAUTHBEARER: an initial response, then at most the server's
/// error challenge, answered with a dummy.
struct oauth_model {
    std::function<std::optional<std::string>()> response; // nullopt: the credentials are refused
    std::string error_response;
    enum { start, sent, answered_error, failed } s = start;
    bool server_error = false;
    std::string detail;
    static constexpr std::size_t bound = 2;

    step initial()
    {
        const auto r = response();
        if (!r) {
            s = failed;
            return refuse(errc::sasl_invalid_credentials);
        }
        s = sent;
        return {{}, *r, true};
    }
    step challenge(std::string_view text)
    {
        switch (s) {
        case start:
            if (text.empty())
                return initial();
            break;
        case sent:
            detail.assign(text);
            server_error = true;
            s = answered_error;
            return {{}, error_response, false};
        default: break;
        }
        s = failed;
        return refuse(errc::sasl_unexpected_challenge);
    }
    bool complete() const { return s == sent; }
};

/// SCRAM (RFC 5802) as the RFC and sasl.hpp describe it.
template <class Hash>
struct scram_model {
    sasl::credentials c;
    std::string nonce;
    std::uint32_t max_iterations = 0;
    enum { start, sent_client_first, sent_client_final, verified, failed } s = start;
    std::string gs2, client_first_bare, error_detail;
    std::optional<std::array<unsigned char, Hash::size>> server_signature;
    static constexpr std::size_t bound = 3;

    step initial()
    {
        if (c.username.empty() || !saslname(c.username) || !saslname(c.authzid)) {
            s = failed;
            return refuse(errc::sasl_invalid_credentials);
        }
        gs2 = "n,";
        if (!c.authzid.empty())
            gs2 += "a=" + escape(c.authzid);
        gs2 += ",";
        client_first_bare = "n=" + escape(c.username) + ",r=" + nonce;
        s = sent_client_first;
        return {{}, gs2 + client_first_bare, true};
    }

    /// posit-number = %x31-39 *DIGIT, at most max_iterations.
    std::optional<std::uint32_t> iterations(std::string_view v) const
    {
        if (v.empty() || v[0] < '1' || v[0] > '9' || v.size() > 10)
            return std::nullopt;
        std::uint64_t n = 0;
        for (char d : v) {
            if (d < '0' || d > '9')
                return std::nullopt;
            n = n * 10 + std::uint64_t(d - '0');
        }
        if (n > max_iterations)
            return std::nullopt;
        return static_cast<std::uint32_t>(n);
    }
    /// attr-val = ALPHA "=" value: the shape only.
    static bool extensions(const std::vector<std::string_view>& parts, std::size_t from)
    {
        for (std::size_t i = from; i < parts.size(); ++i) {
            const auto p = parts[i];
            if (p.size() < 2 || !smtp::detail::is_alpha(p[0]) || p[1] != '=')
                return false;
        }
        return true;
    }

    step server_first(std::string_view text)
    {
        // r=nonce,s=salt,i=count[,extensions]
        const auto parts = split(text, ',');
        if (parts.size() < 3 || parts[0].substr(0, 2) != "r=" || parts[1].substr(0, 2) != "s=" ||
            parts[2].substr(0, 2) != "i=" || !extensions(parts, 3))
            return refuse(errc::sasl_malformed_challenge);
        const std::string_view server_nonce = parts[0].substr(2);
        if (server_nonce.size() <= nonce.size() || server_nonce.substr(0, nonce.size()) != nonce ||
            !printable(server_nonce))
            return refuse(errc::sasl_malformed_challenge);
        std::string salt;
        error_code bec;
        smtp::base64::decode(parts[1].substr(2), salt, bec);
        const auto count = iterations(parts[2].substr(2));
        if (bec || salt.empty() || !count)
            return refuse(errc::sasl_malformed_challenge);

        // RFC 5802 3.
        const std::string without_proof = "c=" + smtp::base64::encode(gs2) + ",r=" + std::string(server_nonce);
        const std::string auth_message = client_first_bare + "," + std::string(text) + "," + without_proof;
        const auto salted = Hash::template hi<openssl>(c.secret, salt, *count);
        const auto client_key = Hash::template hmac<openssl>(chars(salted), "Client Key");
        const auto stored_key = Hash::template hash<openssl>(chars(client_key));
        const auto client_signature = Hash::template hmac<openssl>(chars(stored_key), auth_message);
        std::array<unsigned char, Hash::size> proof{};
        for (std::size_t i = 0; i < proof.size(); ++i)
            proof[i] = static_cast<unsigned char>(client_key[i] ^ client_signature[i]);
        const auto server_key = Hash::template hmac<openssl>(chars(salted), "Server Key");
        server_signature = Hash::template hmac<openssl>(chars(server_key), auth_message);
        s = sent_client_final;
        return {{}, without_proof + ",p=" + smtp::base64::encode(chars(proof)), false};
    }

    step server_final(std::string_view text)
    {
        const auto parts = split(text, ',');
        if (parts[0].substr(0, 2) == "e=") {
            error_detail.assign(parts[0].substr(2));
            return refuse(errc::sasl_server_error);
        }
        if (parts[0].substr(0, 2) != "v=" || !extensions(parts, 1))
            return refuse(errc::sasl_malformed_challenge);
        std::string signature;
        error_code bec;
        smtp::base64::decode(parts[0].substr(2), signature, bec);
        if (bec)
            return refuse(errc::sasl_malformed_challenge);
        if (signature != chars(*server_signature))
            return refuse(errc::sasl_server_signature_mismatch);
        s = verified;
        return {};
    }

    step challenge(std::string_view text)
    {
        step r;
        switch (s) {
        case start:
            if (text.empty())
                return initial();
            r = refuse(errc::sasl_unexpected_challenge);
            break;
        case sent_client_first: r = server_first(text); break;
        case sent_client_final: r = server_final(text); break;
        default: r = refuse(errc::sasl_unexpected_challenge); break;
        }
        if (r.ec)
            s = failed;
        return r;
    }
    bool complete() const { return s == verified; }
};

// --- The driver -----------------------------------------------------------------------

struct script {
    bool send_initial = false;
    bool base64 = false;
    /// The challenges; for an honest SCRAM server, the i-th one may be made
    /// from the model's state (nullopt: take the next from the input).
    std::vector<std::string> challenges;
    std::function<std::optional<std::string>(std::size_t)> make;
};

template <class M, class Model, class Extra>
void drive(M& m, Model& model, const script& sc, const std::string& ctx, Extra&& extra)
{
    std::size_t accepted = 0;
    bool failed = false;
    const auto check = [&](const char* what, const error_code& ec, const std::string& out, bool ret, const step& e) {
        const std::string c = ctx + " " + what + ": got " + (ec ? ec.message() : "ok") + " " +
                              fuzz::quoted(out.substr(1)) + ", expected " + (e.ec ? e.ec.message() : "ok") + " " +
                              fuzz::quoted(e.out);
        FUZZ_CHECK(ec == e.ec, c);
        FUZZ_CHECK(out == "#" + e.out, c); // nothing appended on an error
        FUZZ_CHECK(ret == e.ret, c);
        if (ec)
            FUZZ_CHECK(is_sasl_error(ec), c);
        FUZZ_CHECK(m.complete() == model.complete(), c);
        extra(c);
    };
    if (sc.send_initial) {
        std::string out = "#";
        error_code ec;
        const bool ret = m.initial_response(out, ec);
        check("initial response", ec, out, ret, model.initial());
        failed = static_cast<bool>(ec);
    }
    std::size_t next_input = 0;
    for (std::size_t i = 0;; ++i) {
        std::optional<std::string> text = sc.make ? sc.make(i) : std::nullopt;
        if (!text) {
            if (next_input == sc.challenges.size())
                break;
            text = sc.challenges[next_input++];
        }
        if (sc.base64) {
            // The driver decodes the 334's text first; a canonical encoding only.
            std::string decoded = "#";
            error_code bec;
            smtp::base64::decode(*text, decoded, bec);
            if (bec) {
                FUZZ_CHECK(bec == errc::invalid_base64 && decoded == "#", ctx + " base64 " + fuzz::quoted(*text));
                continue;
            }
            FUZZ_CHECK(smtp::base64::encode(std::string_view(decoded).substr(1)) == *text,
                       ctx + " base64 not canonical " + fuzz::quoted(*text));
            text = decoded.substr(1);
        }
        {
            std::string round;
            error_code bec;
            smtp::base64::decode(smtp::base64::encode(*text), round, bec);
            FUZZ_CHECK(!bec && round == *text, ctx + " base64 round trip " + fuzz::quoted(*text));
        }
        std::string out = "#";
        error_code ec;
        m.challenge(*text, out, ec);
        step e = model.challenge(*text);
        e.ret = false; // challenge() returns nothing, even when it sends the initial response
        check(("challenge " + fuzz::quoted(*text)).c_str(), ec, out, false, e);
        if (ec) {
            failed = true;
        } else {
            FUZZ_CHECK(!failed, ctx + " a challenge taken after an error");
            ++accepted;
            FUZZ_CHECK(accepted <= Model::bound, ctx + " more challenges than the mechanism has steps");
        }
    }
}

void no_extra(const std::string&) {}

template <class Hash>
void run_scram(const sasl::credentials& creds, std::string_view nonce, std::uint32_t max_iterations, script sc,
               fuzz::reader& rd, bool honest, const std::string& ctx)
{
    sasl::scram_options o;
    o.client_nonce = nonce;
    o.max_iterations = max_iterations;
    std::optional<sasl::scram<openssl, Hash>> m;
    try {
        m.emplace(creds, o);
    } catch (const std::invalid_argument&) {
        FUZZ_CHECK(!printable(nonce), ctx + " nonce " + fuzz::quoted(nonce) + " refused");
        return;
    }
    FUZZ_CHECK(printable(nonce), ctx + " nonce " + fuzz::quoted(nonce) + " taken");
    FUZZ_CHECK(m->client_nonce() == nonce, ctx);
    scram_model<Hash> model;
    model.c = creds;
    model.nonce = nonce;
    model.max_iterations = max_iterations;
    if (honest) {
        const std::string server_nonce(rd.counted());
        const std::string salt(rd.counted());
        const std::uint32_t count = 1 + rd.u8() % max_iterations;
        const std::string suffix1(rd.counted()), suffix2(rd.counted());
        // Before the challenges from the input: the server asks for the
        // initial response when it was not sent, then server-first, then
        // server-final with the signature the model computed.
        std::vector<std::function<std::string()>> made;
        if (!sc.send_initial)
            made.push_back([] { return std::string(); });
        made.push_back([=] {
            return "r=" + std::string(nonce) + server_nonce + ",s=" + smtp::base64::encode(salt) +
                   ",i=" + std::to_string(count) + suffix1;
        });
        made.push_back([&model, suffix2] {
            if (!model.server_signature)
                return suffix2;
            return "v=" + smtp::base64::encode(chars(*model.server_signature)) + suffix2;
        });
        const bool encode = sc.base64; // the made ones are raw: encoded for the driver's decoding
        sc.make = [made, encode](std::size_t i) -> std::optional<std::string> {
            if (i >= made.size())
                return std::nullopt;
            return encode ? smtp::base64::encode(made[i]()) : made[i]();
        };
    }
    while (!rd.empty() && sc.challenges.size() < 8)
        sc.challenges.emplace_back(rd.counted());
    drive(*m, model, sc, ctx, [&](const std::string& c) {
        FUZZ_CHECK(m->server_error_detail() == model.error_detail, c);
    });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::reader rd(data, size);
    const std::uint8_t b0 = rd.u8(), b1 = rd.u8();
    const unsigned which = (b0 & 0x7F) % 7;
    const bool honest = (b0 & 0x80) != 0;
    script sc;
    sc.send_initial = (b1 & 1) != 0;
    sc.base64 = (b1 & 2) != 0;
    const bool own_nonce = (b1 & 4) != 0;
    const bool with_port = (b1 & 8) != 0;
    const std::uint32_t max_iterations = 1 + 16u * (b1 >> 4);

    const std::string username(rd.counted()), secret(rd.counted()), authzid(rd.counted()), host(rd.counted());
    const std::uint16_t port = rd.u16();
    std::string nonce = "fyko+d2lbbFgONRv9qkxdawL"; // RFC 5802's example
    if (own_nonce) {
        const std::string_view n = rd.counted();
        if (!n.empty()) // an empty one is 18 random bytes: not reproducible
            nonce.assign(n);
    }
    const sasl::credentials creds{username, secret, authzid};
    // The challenges (an honest SCRAM server's own ones come off the input first).
    auto fill = [&] {
        while (!rd.empty() && sc.challenges.size() < 8)
            sc.challenges.emplace_back(rd.counted());
    };
    const std::string ctx = "mechanism " + std::to_string(which) + " user " + fuzz::quoted(username) + " secret " +
                            fuzz::quoted(secret) + " authzid " + fuzz::quoted(authzid);

    switch (which) {
    case 0: {
        fill();
        sasl::plain m(creds);
        plain_model model{creds};
        drive(m, model, sc, ctx, no_extra);
        break;
    }
    case 1: {
        fill();
        sasl::login m(creds);
        login_model model{creds};
        drive(m, model, sc, ctx, no_extra);
        break;
    }
    case 2: {
        fill();
        sasl::cram_md5<openssl> m(creds);
        cram_md5_model model{creds};
        drive(m, model, sc, ctx, no_extra);
        break;
    }
    case 3: {
        fill();
        sasl::xoauth2 m(creds);
        oauth_model model;
        model.error_response = "";
        model.response = [&]() -> std::optional<std::string> {
            if (username.empty() || secret.empty() || has_control(username) || has_control(secret) ||
                !authzid.empty())
                return std::nullopt;
            return "user=" + username + "\x01" "auth=Bearer " + secret + "\x01\x01";
        };
        drive(m, model, sc, ctx, [&](const std::string& c) {
            FUZZ_CHECK(m.server_error() == (model.server_error ? error_code(errc::sasl_server_error) : error_code()), c);
            FUZZ_CHECK(m.server_error_detail() == model.detail, c);
        });
        break;
    }
    case 4: {
        fill();
        sasl::oauthbearer_options o;
        o.host = host;
        if (with_port)
            o.port = port;
        sasl::oauthbearer m(creds, o);
        oauth_model model;
        model.error_response = "\x01";
        model.response = [&]() -> std::optional<std::string> {
            const std::string& identity = authzid.empty() ? username : authzid;
            if (secret.empty() || has_control(secret) || has_control(host) || !saslname(identity))
                return std::nullopt;
            std::string r = "n,";
            if (!identity.empty())
                r += "a=" + escape(identity);
            r += ",\x01";
            if (!host.empty())
                r += "host=" + host + "\x01";
            if (with_port)
                r += "port=" + std::to_string(port) + "\x01";
            return r + "auth=Bearer " + secret + "\x01\x01";
        };
        drive(m, model, sc, ctx, [&](const std::string& c) {
            FUZZ_CHECK(m.server_error() == (model.server_error ? error_code(errc::sasl_server_error) : error_code()), c);
            FUZZ_CHECK(m.server_error_detail() == model.detail, c);
        });
        break;
    }
    case 5:
    case 6: {
        // The honest server's values come first in the input, then the challenges.
        if (which == 5)
            run_scram<sasl::sha1>(creds, nonce, max_iterations, sc, rd, honest, ctx);
        else
            run_scram<sasl::sha256>(creds, nonce, max_iterations, sc, rd, honest, ctx);
        break;
    }
    }
    return 0;
}

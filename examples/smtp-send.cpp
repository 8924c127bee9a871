// smtp-send: send the RFC 5322 message on stdin through an SMTP submission
// server (or an LMTP server, with --lmtp).
//
//   smtp-send --host HOST [--port N] [--tls starttls|implicit|none] [--cafile PEM]
//             [--cert PEM [--key PEM] [--key-passphrase-env VAR]] [--pin-sha256 PIN]...
//             [--user NAME --password-env VAR|--oauth-token-env VAR [--auth MECH,...]]
//             [--from ADDR] [--to ADDR]...
//             [--lmtp] [--dsn-notify NEVER|LIST] [--dsn-ret FULL|HDRS] [--envid ID]
//             [--requiretls] [--no-pipelining] [--no-chunking] [--timeout SECONDS]
//             [--unix PATH | --proxy socks5://[USER@]HOST[:PORT] | --proxy http://[USER@]HOST[:PORT]]
//             [--dkim-key PEM --dkim-domain DOMAIN --dkim-selector SELECTOR [--dkim-headers LIST]]
//             [--debug] < message
//   smtp-send --mx [--from ADDR] [--to ADDR]... [--cafile PEM] [--timeout SECONDS]
//             [--mx-require-tls] [--dns-stub ZONE=ADDR@PORT]... [--trust-anchor FILE]
//             [--mx-port N] [--mta-sts-address ADDR] [--mta-sts-port N] [--mta-sts-cafile PEM] < message
//
//   --mx        deliver straight to each recipient domain's MX hosts
//               (smtp::deliver, smtp/deliver.hpp): no --host. Each host is
//               protected by DANE (secure TLSA records) or MTA-STS (the
//               domain's policy) when the domain publishes them; otherwise
//               STARTTLS is used when offered, unverified (--mx-require-tls:
//               required). One line per recipient on stdout: the outcome,
//               the MX host and address that took it, what protected it
//               (dane_authenticated with the TLSA record, mta_sts_enforced,
//               ..., none), the reply; for one not delivered, each host
//               tried and why it failed. Built only with smtp::dns.
//               For test beds (not needed on the Internet): --dns-stub asks
//               ZONE of the DNS server at ADDR@PORT (repeatable; no other
//               upstream), --trust-anchor the DNSSEC anchor (DS or DNSKEY
//               records) instead of the root's, --mx-port connects to the MX
//               hosts on N instead of 25, --mta-sts-address/--mta-sts-port
//               fetch MTA-STS policies from there (the name checked stays
//               mta-sts.DOMAIN), --mta-sts-cafile trusts that CA for them
//               (--cafile: for the MX hosts under MTA-STS)
//
//   --tls       starttls (default, port 587): STARTTLS is required, nothing
//               goes out in clear; implicit (port 465): TLS from the first
//               byte; none (port 25): no TLS at all, and then no --user
//   --cafile    trust the CAs in this PEM file instead of the system's
//   --cert      a client certificate (PEM) for a server that asks for one;
//               --key its private key (default: in the --cert file), whose
//               passphrase, if it has one, comes from the environment
//               variable named by --key-passphrase-env (never the command line)
//   --pin-sha256  the server's public key must be this one (repeatable: any
//               of them): the SHA-256 of its SubjectPublicKeyInfo, as 64 hex
//               digits or base64 (optionally "sha256//" first, as curl takes
//               it). Checked in the handshake, in addition to the certificate
//               check; a mismatch ends the connection before any command
//   --user      log in as NAME, with the password from the environment
//               variable VAR (never on the command line: ps shows those)
//   --oauth-token-env  instead of a password, an OAuth 2 access token from
//               the environment variable VAR, for OAUTHBEARER (RFC 7628) or
//               XOAUTH2
//   --auth      the SASL mechanisms to log in with, best first: the first
//               that the server offers is used. With a password:
//               SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN (default
//               SCRAM-SHA-256,PLAIN,LOGIN; CRAM-MD5, a legacy mechanism,
//               only when asked for); with a token: OAUTHBEARER, XOAUTH2
//               (default in that order). Any case
//   --from      the envelope sender; default: the address in From (Sender
//               when From has several)
//   --to        an envelope recipient (repeatable); default: the addresses in
//               the To, Cc and Bcc fields
//   --lmtp      speak LMTP (RFC 2033): LHLO instead of EHLO, and the server
//               answers the message once per recipient; a recipient refused
//               then is listed like one refused at RCPT ("after the data").
//               The port defaults to 24; --tls still defaults to starttls
//   --dsn-notify  ask for delivery status notifications (RFC 3461) for every
//               recipient: NEVER, or a comma list of SUCCESS, FAILURE and
//               DELAY (any case)
//   --dsn-ret   what a failure notification returns: FULL (the message) or
//               HDRS (its header)
//   --envid     the envelope identifier that notifications quote (RFC 3461
//               ENVID: printable ASCII, at most 100 characters)
//               The three DSN options need a server that offers DSN: without
//               it nothing is sent
//   --requiretls  REQUIRETLS (RFC 8689): every hop must deliver over verified
//               TLS; needs an encrypted session and a server that offers it
//   --no-pipelining  one command, one reply, even when the server offers
//               PIPELINING (RFC 2920); by default MAIL, RCPT and DATA go out
//               together
//   --no-chunking  DATA, even when the server offers CHUNKING (BDAT, RFC 3030)
//   --timeout   the time limit of every phase (connecting, the greeting, each
//               command, the data), in seconds (a decimal number); by
//               default RFC 5321 4.5.3.2's, 1 to 10 minutes by phase
//   --unix      connect to the Unix socket PATH (an LMTP server's, say)
//               instead of a host's port; --host, when given, is then only
//               the name a certificate must carry (default localhost)
//   --proxy     reach HOST through a SOCKS5 proxy (RFC 1928; HOST is
//               resolved by the proxy; port 1080 by default) or an HTTP
//               proxy's CONNECT (port 8080 by default). With USER@, the
//               password comes from the environment variable
//               SMTP_PROXY_PASSWORD (never on the command line). TLS runs
//               through the proxy, checked against HOST, not the proxy
//   --dkim-key  DKIM-sign the message (RFC 6376) with this private key
//               (PEM, not encrypted; RSA of 1024 bits or more: rsa-sha256,
//               Ed25519: ed25519-sha256), as DOMAIN (d=) and SELECTOR (s=),
//               which --dkim-domain and --dkim-selector name (all three or
//               none). --dkim-headers: the header names to sign, comma
//               separated (default: smtp::dkim::default_headers(); From is
//               always signed, From, To and Subject once more than present)
//   --debug     smtplib's transcript on stderr (AUTH secrets masked)
//
// The Bcc field is removed from the message before it is sent; the rest goes
// as it is. The addresses (UTF-8 ones too: the library declares SMTPUTF8
// when the server offers it) and the message (smtp::check_message: no line
// over 998 octets) are checked before connecting. Exit status: 0 every
// recipient accepted (under LMTP: delivered); 1 some refused (each on
// stderr with the server's reply); 2 not sent: a
// usage error, a failure before the server took the message, every
// recipient refused (under LMTP, possibly after the data), or the connection
// lost before the final reply (then it may have been delivered), with one
// line on stderr saying why, starting "smtp-send: ". With --mx: 0 every
// recipient delivered; 1 some delivered, some not (refused, deferred, or
// unknown: the connection lost after the data); 2 none delivered, or a
// usage error.
#include <smtp/client.hpp>
#ifdef SMTP_SEND_MX
#include <smtp/deliver.hpp>
#endif
#include <smtp/dkim.hpp>
#include <smtp/transport/any_stream.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

/// Every error that means "nothing was sent": its text becomes the one line.
struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Text from the command line or a message, safe to print on one line.
std::string printable(std::string_view s)
{
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (u < 0x20 || u == 0x7f) {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else
            out += c;
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b)
{
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
    });
}

// --- The message's header -------------------------------------------------------------------

struct field {
    std::string name;
    std::string value;     ///< unfolded: continuation lines joined, line ends removed
    std::size_t begin = 0; ///< where the field's first line starts in the message
    std::size_t end = 0;   ///< past the line end of its last continuation line
    std::size_t line = 0;  ///< the number of its first line in the message, from 1
    std::size_t lines = 0; ///< how many lines it has
};

/// The header fields, up to the empty line (or the end of the input).
std::vector<field> parse_header(std::string_view msg)
{
    std::vector<field> fields;
    std::size_t pos = 0;
    for (std::size_t number = 1; pos < msg.size(); ++number) {
        const std::size_t lf = msg.find('\n', pos);
        const std::size_t next = lf == std::string_view::npos ? msg.size() : lf + 1;
        std::string_view line = msg.substr(pos, next - pos);
        if (!line.empty() && line.back() == '\n')
            line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty())
            break; // the body follows
        if (line.front() == ' ' || line.front() == '\t') {
            // RFC 5322 2.2.3: unfolding removes the line break, not the whitespace.
            if (fields.empty())
                throw failure("message header line 1 starts with whitespace (a continuation of nothing)");
            fields.back().value += line;
            fields.back().end = next;
            ++fields.back().lines;
        } else {
            const std::size_t colon = line.find(':');
            std::string_view name = line.substr(0, colon);
            while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
                name.remove_suffix(1); // "Subject :" (RFC 5322 4.5.1, obsolete but seen)
            const bool ok = colon != std::string_view::npos && !name.empty() &&
                            std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f; });
            if (!ok)
                throw failure("message header line " + std::to_string(number) +
                              " is not a field (\"Name: value\"): " + printable(line.substr(0, 60)));
            fields.push_back({std::string(name), std::string(line.substr(colon + 1)), pos, next, number, 1});
        }
        pos = next;
    }
    return fields;
}

/// The addresses in an address-list field (RFC 5322 3.4): "Name <a@b>",
/// "a@b", "\"Last, First\" <a@b>", "a@b (comment)", groups "Team: a@b, c@d;",
/// separated by commas. Display names, comments and group names are dropped.
std::vector<std::string> parse_addresses(std::string_view value)
{
    std::vector<std::string> out;
    std::vector<std::string> words; // outside <...>: the phrase, or a bare address
    std::string word, angle;
    bool in_angle = false, has_angle = false;
    auto end_word = [&] {
        if (!word.empty())
            words.push_back(std::move(word));
        word.clear();
    };
    auto flush = [&] {
        end_word();
        if (has_angle) {
            std::string_view a = angle;
            if (!a.empty() && a.front() == '@') // obsolete source route: <@relay:a@b>
                a.remove_prefix(std::min(a.size(), a.find(':') + 1));
            if (!a.empty())
                out.emplace_back(a);
        } else if (words.size() == 1) {
            out.push_back(words.front());
        } else if (words.size() > 1) {
            std::string phrase;
            for (const auto& w : words)
                phrase += (phrase.empty() ? "" : " ") + w;
            throw failure("no address in \"" + printable(phrase) + "\" (a name needs an address in <...>)");
        }
        words.clear();
        angle.clear();
        has_angle = false;
    };
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        std::string& target = in_angle ? angle : word;
        if (c == '"') { // quoted string, escapes kept: it may be a quoted local part
            target += c;
            for (++i;; ++i) {
                if (i >= value.size())
                    throw failure("unterminated quoted string in \"" + printable(value) + "\"");
                target += value[i];
                if (value[i] == '\\' && i + 1 < value.size())
                    target += value[++i];
                else if (value[i] == '"')
                    break;
            }
        } else if (c == '(') { // comment, possibly nested: dropped, separates words
            if (!in_angle)
                end_word();
            for (int depth = 1; depth > 0;) {
                if (++i >= value.size())
                    throw failure("unterminated comment in \"" + printable(value) + "\"");
                if (value[i] == '\\')
                    ++i;
                else if (value[i] == '(')
                    ++depth;
                else if (value[i] == ')')
                    --depth;
            }
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!in_angle)
                end_word();
        } else if (in_angle) {
            if (c == '>')
                in_angle = false;
            else
                angle += c;
        } else if (c == '<') {
            end_word();
            if (has_angle)
                throw failure("two <addresses> in one element of \"" + printable(value) + "\"");
            in_angle = has_angle = true;
        } else if (c == ',' || c == ';') {
            flush();
        } else if (c == ':') { // group: what came before is its name
            end_word();
            words.clear();
        } else {
            word += c;
        }
    }
    if (in_angle)
        throw failure("unterminated <address> in \"" + printable(value) + "\"");
    flush();
    return out;
}

// --- AUTH -------------------------------------------------------------------------------------

/// "A, B, C".
template <class Range>
std::string joined(const Range& names, std::string_view separator = ", ")
{
    std::string out;
    for (const auto& n : names)
        out.append(out.empty() ? "" : separator).append(n);
    return out;
}

/// What a mechanism authenticates with.
enum class secret_kind { password, token };

/// The SASL mechanisms smtp-send knows, each with the library's type.
using any_mechanism = std::variant<smtp::sasl::scram_sha256_openssl, smtp::sasl::scram_sha1_openssl,
                                   smtp::sasl::cram_md5_openssl, smtp::sasl::plain, smtp::sasl::login,
                                   smtp::sasl::oauthbearer, smtp::sasl::xoauth2>;

secret_kind secret_of(std::string_view mechanism)
{
    return mechanism == smtp::sasl::oauthbearer::name || mechanism == smtp::sasl::xoauth2::name
               ? secret_kind::token
               : secret_kind::password;
}

/// The known name equal to `text` in any case; empty when none is.
template <std::size_t I = 0>
std::string_view known_mechanism(std::string_view text)
{
    if constexpr (I == std::variant_size_v<any_mechanism>) {
        return {};
    } else {
        using M = std::variant_alternative_t<I, any_mechanism>;
        return iequals(text, M::name) ? std::string_view(M::name) : known_mechanism<I + 1>(text);
    }
}

/// "SCRAM-SHA-256, SCRAM-SHA-1, ...": every name smtp-send knows.
std::string mechanism_names()
{
    return []<std::size_t... I>(std::index_sequence<I...>) {
        const std::string_view names[] = {std::variant_alternative_t<I, any_mechanism>::name...};
        return joined(names);
    }(std::make_index_sequence<std::variant_size_v<any_mechanism>>{});
}

/// The list when --auth is not given: the library's default (SCRAM-SHA-256,
/// PLAIN, LOGIN), or the OAuth 2 ones, the standard one first.
const std::vector<std::string_view>& default_mechanisms(secret_kind kind)
{
    static const std::vector<std::string_view> password{"SCRAM-SHA-256", "PLAIN", "LOGIN"};
    static const std::vector<std::string_view> token{"OAUTHBEARER", "XOAUTH2"};
    return kind == secret_kind::token ? token : password;
}

/// The mechanism smtp-send logs in with: the first of the user's list that
/// the server offers, chosen after EHLO. The library picks a session's
/// mechanism by its type's name among the policy's (auth::mechanisms<...>),
/// in the policy's order, fixed when the program is compiled; an order
/// chosen at run time goes through this one type, whose name is set, once,
/// before login(). The exchange itself is the library's mechanism's.
class chosen_mechanism {
public:
    static inline std::string_view name; ///< set before login(): one of any_mechanism's names

    explicit chosen_mechanism(const smtp::sasl::credentials& c) : m_(make(c)) {}

    bool initial_response(std::string& out, smtp::error_code& ec)
    {
        return std::visit([&](auto& m) { return m.initial_response(out, ec); }, m_);
    }
    void challenge(std::string_view text, std::string& out, smtp::error_code& ec)
    {
        std::visit([&](auto& m) { m.challenge(text, out, ec); }, m_);
    }
    bool complete() const
    {
        return std::visit([](const auto& m) { return m.complete(); }, m_);
    }

private:
    template <std::size_t I = 0>
    static any_mechanism make(const smtp::sasl::credentials& c)
    {
        if constexpr (I == std::variant_size_v<any_mechanism>) {
            throw std::logic_error("smtp-send: no AUTH mechanism chosen");
        } else {
            using M = std::variant_alternative_t<I, any_mechanism>;
            if (name == M::name)
                return any_mechanism(std::in_place_index<I>, c);
            return make<I + 1>(c);
        }
    }
    any_mechanism m_;
};
static_assert(smtp::sasl::mechanism<chosen_mechanism>);

// --- The command line -------------------------------------------------------------------------

struct config {
    std::string host;
    std::optional<std::uint16_t> port;
    std::string tls = "starttls";
    std::string cafile;
    std::string cert;
    std::string key;
    std::string key_passphrase_env;
    std::string key_passphrase; ///< read from key_passphrase_env by main()
    std::vector<std::string> pins;
    std::string user;
    std::string password_env;
    std::string oauth_token_env;
    std::vector<std::string_view> auth; ///< --auth, as known names; empty: the default list
    std::string from;
    std::vector<std::string> to;
    bool debug = false;
    bool lmtp = false;
    smtp::dsn::notify notify = smtp::dsn::notify::unset; ///< for every recipient
    smtp::dsn::ret ret = smtp::dsn::ret::unset;
    std::string envid;
    bool requiretls = false;
    bool pipelining = true;
    bool chunking = true;
    std::optional<std::chrono::milliseconds> timeout; ///< every phase's; unset: RFC 5321's
    std::string timeout_text;                         ///< as given, for messages
    std::string unix_path;                                                  ///< --unix
    enum class proxy_kind { none, socks5, http } proxy = proxy_kind::none; ///< --proxy
    std::string proxy_user, proxy_host;
    std::uint16_t proxy_port = 0;
    std::string dkim_key, dkim_domain, dkim_selector; ///< --dkim-*: all three or none
    std::vector<std::string> dkim_headers;             ///< --dkim-headers; empty: the default list
    bool mx = false;                                   ///< --mx: direct delivery
    bool mx_require_tls = false;                       ///< --mx-require-tls
    std::vector<std::pair<std::string, std::string>> dns_stubs; ///< --dns-stub ZONE=ADDR@PORT
    std::string trust_anchor;                          ///< --trust-anchor
    std::optional<std::uint16_t> mx_port, mta_sts_port; ///< --mx-port, --mta-sts-port
    std::string mta_sts_address, mta_sts_cafile;       ///< --mta-sts-address, --mta-sts-cafile
};

constexpr std::string_view usage =
    "usage: smtp-send --host HOST [--port N] [--tls starttls|implicit|none] [--cafile PEM]\n"
    "                 [--cert PEM [--key PEM] [--key-passphrase-env VAR]] [--pin-sha256 PIN]...\n"
    "                 [--user NAME --password-env VAR|--oauth-token-env VAR [--auth MECH,...]]\n"
    "                 [--from ADDR] [--to ADDR]...\n"
    "                 [--lmtp] [--dsn-notify NEVER|LIST] [--dsn-ret FULL|HDRS] [--envid ID]\n"
    "                 [--requiretls] [--no-pipelining] [--no-chunking] [--timeout SECONDS]\n"
    "                 [--unix PATH | --proxy socks5://[USER@]HOST[:PORT] | --proxy http://...]\n"
    "                 [--dkim-key PEM --dkim-domain DOMAIN --dkim-selector SELECTOR [--dkim-headers LIST]]\n"
    "                 [--debug] < message\n"
    "       smtp-send --mx [--from ADDR] [--to ADDR]... [--cafile PEM] [--timeout SECONDS]\n"
    "                 [--mx-require-tls] [test-bed options] < message\n"
    "\n"
    "Sends the RFC 5322 message on stdin (without its Bcc field), checked before\n"
    "connecting (lines of at most 998 octets). Options take their value as the\n"
    "next argument or after '=' (--tls=none).\n"
    "\n"
    "  --host HOST         the server\n"
    "  --port N            default 587 (starttls), 465 (implicit), 25 (none); 24 with --lmtp\n"
    "  --tls MODE          starttls (default: required, nothing in clear), implicit, or none\n"
    "  --cafile PEM        trust these CAs instead of the system's\n"
    "  --cert PEM          a client certificate, for a server that asks for one\n"
    "  --key PEM           its private key (default: in the --cert file)\n"
    "  --key-passphrase-env VAR  the key's passphrase, from the environment variable VAR\n"
    "  --pin-sha256 PIN    the server's public key must be this (repeatable: any of them):\n"
    "                      SHA-256 of its SubjectPublicKeyInfo, hex or base64 (sha256//...)\n"
    "  --user NAME         log in (not with --tls none), the password from the\n"
    "  --password-env VAR    environment variable VAR\n"
    "  --oauth-token-env VAR or an OAuth 2 token from VAR (OAUTHBEARER, XOAUTH2)\n"
    "  --auth MECH,...     SASL mechanisms, best first: SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5,\n"
    "                      PLAIN, LOGIN (a password; default SCRAM-SHA-256,PLAIN,LOGIN),\n"
    "                      OAUTHBEARER, XOAUTH2 (a token; default both, in that order)\n"
    "  --from ADDR         the envelope sender (default: From, or Sender)\n"
    "  --to ADDR           a recipient, repeatable (default: To, Cc and Bcc)\n"
    "  --lmtp              speak LMTP (RFC 2033): LHLO, one reply per recipient after the data\n"
    "  --dsn-notify LIST   DSN (RFC 3461) for every recipient: NEVER, or a comma list of\n"
    "                      SUCCESS, FAILURE, DELAY (any case)\n"
    "  --dsn-ret FULL|HDRS a failure DSN returns the whole message or its header\n"
    "  --envid ID          the envelope identifier DSNs quote (printable ASCII, <= 100)\n"
    "                      (the DSN options need a server that offers DSN)\n"
    "  --requiretls        REQUIRETLS (RFC 8689): verified TLS on every hop\n"
    "  --no-pipelining     one command, one reply, even when PIPELINING is offered\n"
    "  --no-chunking       DATA, never BDAT, even when CHUNKING is offered\n"
    "  --timeout SECONDS   every phase's time limit (default RFC 5321's, 1 to 10 minutes)\n"
    "  --unix PATH         connect to this Unix socket (--host: only the certificate's name)\n"
    "  --proxy URL         through a proxy: socks5://[USER@]HOST[:PORT] (default port 1080)\n"
    "                      or http://[USER@]HOST[:PORT] (CONNECT; default 8080); the\n"
    "                      password from the environment variable SMTP_PROXY_PASSWORD\n"
    "  --dkim-key PEM      DKIM-sign with this key (RSA: rsa-sha256, Ed25519: ed25519-sha256)\n"
    "  --dkim-domain D     ...as domain D (d=), with --dkim-key and --dkim-selector\n"
    "  --dkim-selector S   ...whose key is published at S._domainkey.D (s=)\n"
    "  --dkim-headers LIST the headers to sign, comma separated (default: the usual ones)\n"
    "  --debug             the transcript on stderr (AUTH secrets masked)\n"
    "\n"
    "  --mx                deliver to each recipient domain's MX hosts (no --host), with DANE\n"
    "                      or MTA-STS when the domain publishes them, else STARTTLS when\n"
    "                      offered; one line per recipient: outcome, MX, protection\n"
    "  --mx-require-tls    ...and STARTTLS required even for domains without either\n"
    "  For test beds only (the Internet needs none of them):\n"
    "  --dns-stub Z=A@P    ask the DNS server at A port P for zone Z (repeatable), nothing else\n"
    "  --trust-anchor FILE the DNSSEC trust anchor (DS/DNSKEY records) instead of the root's\n"
    "  --mx-port N         the MX hosts' port instead of 25\n"
    "  --mta-sts-address A fetch MTA-STS policies from address A (name checked: mta-sts.DOMAIN)\n"
    "  --mta-sts-port N    ...on port N instead of 443\n"
    "  --mta-sts-cafile PEM  trust these CAs for the policy hosts\n"
    "\n"
    "Exit status: 0 every recipient accepted; 1 some refused (listed on stderr);\n"
    "2 nothing sent, or a usage error (one \"smtp-send: \" line says why).\n"
    "With --mx: 0 all delivered; 1 some delivered, some not; 2 none delivered.\n";

std::uint16_t parse_port(std::string_view text)
{
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
        throw failure("--port: a number from 1 to 65,535, not \"" + printable(text) + "\"");
    return static_cast<std::uint16_t>(value);
}

/// --timeout: seconds, a decimal number from 0.001 to 86400.
std::chrono::milliseconds parse_timeout(std::string_view text)
{
    double seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds,
                                           std::chars_format::fixed);
    if (ec != std::errc{} || end != text.data() + text.size() || !(seconds >= 0.001 && seconds <= 86400))
        throw failure("--timeout: seconds from 0.001 to 86,400, not \"" + printable(text) + "\"");
    return std::chrono::milliseconds(std::llround(seconds * 1000));
}

/// --auth: a comma list of mechanism names smtp-send knows (any case).
std::vector<std::string_view> parse_auth(std::string_view text)
{
    std::vector<std::string_view> out;
    std::string_view rest = text;
    for (;;) {
        const std::size_t comma = rest.find(',');
        const std::string_view word = rest.substr(0, comma);
        const std::string_view known = known_mechanism(word);
        if (known.empty())
            throw failure("--auth: a comma list of " + mechanism_names() + ", not \"" + printable(text) + "\"");
        if (std::find(out.begin(), out.end(), known) == out.end())
            out.push_back(known);
        if (comma == std::string_view::npos)
            return out;
        rest.remove_prefix(comma + 1);
    }
}

/// --dsn-notify: NEVER, or a comma list of SUCCESS, FAILURE and DELAY.
smtp::dsn::notify parse_notify(std::string_view text)
{
    using smtp::dsn::notify;
    notify set = notify::unset;
    std::string_view rest = text;
    for (;;) {
        const std::size_t comma = rest.find(',');
        const std::string_view word = rest.substr(0, comma);
        notify one = notify::unset;
        if (iequals(word, "NEVER"))
            one = notify::never;
        else if (iequals(word, "SUCCESS"))
            one = notify::success;
        else if (iequals(word, "FAILURE"))
            one = notify::failure;
        else if (iequals(word, "DELAY"))
            one = notify::delay;
        else
            throw failure("--dsn-notify: NEVER, or a comma list of SUCCESS, FAILURE and DELAY, not \"" +
                          printable(text) + "\"");
        set = set | one;
        if (comma == std::string_view::npos)
            break;
        rest.remove_prefix(comma + 1);
    }
    if (smtp::dsn::has(set, notify::never) && set != notify::never)
        throw failure("--dsn-notify: NEVER goes alone, not with SUCCESS, FAILURE or DELAY: \"" + printable(text) +
                      "\"");
    return set;
}

/// --envid: RFC 3461 4.4, printable ASCII (sent as xtext), 1 to 100 characters.
std::string parse_envid(std::string_view text)
{
    if (text.empty())
        throw failure("--envid is empty");
    if (text.size() > 100)
        throw failure("--envid is " + std::to_string(text.size()) + " characters; the limit is 100 (RFC 3461 4.4)");
    const auto bad = std::find_if(text.begin(), text.end(), [](char c) { return c < ' ' || c > '~'; });
    if (bad != text.end())
        throw failure("--envid: character " + std::to_string(bad - text.begin() + 1) +
                      " is not printable ASCII: \"" + printable(text) + "\"");
    return std::string(text);
}

/// --proxy socks5://[USER@]HOST[:PORT] or http://[USER@]HOST[:PORT] (an
/// IPv6 address in brackets); never a password.
void parse_proxy(std::string_view text, config& c)
{
    const auto bad = [&](const std::string& why) {
        return failure("--proxy: " + why + ", not \"" + printable(text) + "\"");
    };
    std::string_view rest = text;
    if (rest.starts_with("socks5://")) {
        c.proxy = config::proxy_kind::socks5;
        c.proxy_port = 1080;
    } else if (rest.starts_with("http://")) {
        c.proxy = config::proxy_kind::http;
        c.proxy_port = 8080;
    } else {
        throw bad("socks5://[USER@]HOST[:PORT] or http://[USER@]HOST[:PORT]");
    }
    rest.remove_prefix(rest.find("://") + 3);
    if (rest.ends_with('/'))
        rest.remove_suffix(1);
    if (rest.find_first_of("/?#") != std::string_view::npos)
        throw bad("a proxy's address has no path");
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const std::string_view user = rest.substr(0, at);
        if (user.find(':') != std::string_view::npos)
            throw failure("--proxy: no password in the URL (ps shows the command line): put it in the "
                          "environment variable SMTP_PROXY_PASSWORD");
        if (user.empty())
            throw bad("an empty user name before '@'");
        c.proxy_user = user;
        rest.remove_prefix(at + 1);
    }
    std::string_view port;
    bool has_port = false;
    if (rest.starts_with('[')) { // [IPv6]
        const auto close = rest.find(']');
        if (close == std::string_view::npos)
            throw bad("an IPv6 address ends with ']'");
        c.proxy_host = rest.substr(1, close - 1);
        rest.remove_prefix(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            throw bad("only :PORT may follow ']'");
        has_port = !rest.empty();
        port = has_port ? rest.substr(1) : rest;
    } else {
        const auto colon = rest.rfind(':');
        c.proxy_host = rest.substr(0, colon);
        has_port = colon != std::string_view::npos;
        if (has_port)
            port = rest.substr(colon + 1);
    }
    if (c.proxy_host.empty())
        throw bad("no proxy host");
    if (std::any_of(c.proxy_host.begin(), c.proxy_host.end(),
                    [](char ch) { return static_cast<unsigned char>(ch) <= ' ' || ch == 0x7F; }))
        throw bad("a host name has no spaces or control characters");
    if (has_port) {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
            throw bad("the proxy's port is a number from 1 to 65,535");
        c.proxy_port = static_cast<std::uint16_t>(value);
    }
}

config parse_command_line(int argc, char** argv)
{
    config c;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << usage;
            std::exit(0);
        }
        // --name value, or --name=value
        std::string_view name = arg, value;
        const bool inline_value = arg.starts_with("--") && arg.find('=') != std::string_view::npos;
        if (inline_value) {
            name = arg.substr(0, arg.find('='));
            value = arg.substr(arg.find('=') + 1);
        }
        // The flags, which take no value.
        const std::pair<std::string_view, bool config::*> flags[] = {
            {"--debug", &config::debug}, {"--lmtp", &config::lmtp}, {"--requiretls", &config::requiretls},
            {"--mx", &config::mx}, {"--mx-require-tls", &config::mx_require_tls}};
        const std::pair<std::string_view, bool config::*> negated[] = {{"--no-pipelining", &config::pipelining},
                                                                      {"--no-chunking", &config::chunking}};
        auto is = [name](const auto& f) { return f.first == name; };
        if (const auto f = std::find_if(std::begin(flags), std::end(flags), is); f != std::end(flags)) {
            if (inline_value)
                throw failure(std::string(name) + " takes no value");
            c.*(f->second) = true;
            continue;
        }
        if (const auto f = std::find_if(std::begin(negated), std::end(negated), is); f != std::end(negated)) {
            if (inline_value)
                throw failure(std::string(name) + " takes no value");
            c.*(f->second) = false;
            continue;
        }
        const std::string_view known[] = {"--host",       "--port",    "--tls",   "--cafile",
                                          "--cert",       "--key",     "--key-passphrase-env", "--pin-sha256",
                                          "--user",       "--password-env",      "--oauth-token-env",
                                          "--auth",       "--from",    "--to",    "--dsn-notify",
                                          "--dsn-ret",    "--envid",   "--timeout", "--proxy",  "--unix",
                                          "--dkim-key",   "--dkim-domain", "--dkim-selector", "--dkim-headers",
                                          "--dns-stub",   "--trust-anchor", "--mx-port", "--mta-sts-address",
                                          "--mta-sts-port", "--mta-sts-cafile"};
        if (std::find(std::begin(known), std::end(known), name) == std::end(known))
            throw failure("unknown argument " + printable(arg) + " (see --help)");
        if (!inline_value) {
            if (i + 1 >= argc)
                throw failure(std::string(name) + " needs a value");
            value = argv[++i];
        }
        if (name == "--host")
            c.host = value;
        else if (name == "--port")
            c.port = parse_port(value);
        else if (name == "--tls") {
            if (value != "starttls" && value != "implicit" && value != "none")
                throw failure("--tls: starttls, implicit or none, not " + printable(value));
            c.tls = value;
        } else if (name == "--cafile")
            c.cafile = value;
        else if (name == "--cert")
            c.cert = value;
        else if (name == "--key")
            c.key = value;
        else if (name == "--key-passphrase-env")
            c.key_passphrase_env = value;
        else if (name == "--pin-sha256")
            c.pins.emplace_back(value);
        else if (name == "--user")
            c.user = value;
        else if (name == "--password-env")
            c.password_env = value;
        else if (name == "--oauth-token-env")
            c.oauth_token_env = value;
        else if (name == "--auth")
            c.auth = parse_auth(value);
        else if (name == "--from")
            c.from = value;
        else if (name == "--dsn-notify")
            c.notify = parse_notify(value);
        else if (name == "--dsn-ret") {
            if (iequals(value, "FULL"))
                c.ret = smtp::dsn::ret::full;
            else if (iequals(value, "HDRS"))
                c.ret = smtp::dsn::ret::headers;
            else
                throw failure("--dsn-ret: FULL or HDRS, not \"" + printable(value) + "\"");
        } else if (name == "--envid")
            c.envid = parse_envid(value);
        else if (name == "--timeout") {
            c.timeout = parse_timeout(value);
            c.timeout_text = value;
        } else if (name == "--unix") {
            if (value.empty())
                throw failure("--unix needs the socket's path");
            c.unix_path = value;
        } else if (name == "--proxy")
            parse_proxy(value, c);
        else if (name == "--dns-stub") {
            const auto eq = value.find('=');
            if (eq == std::string_view::npos || eq == 0 || eq + 1 == value.size())
                throw failure("--dns-stub: ZONE=ADDRESS@PORT, not \"" + printable(value) + "\"");
            c.dns_stubs.emplace_back(value.substr(0, eq), value.substr(eq + 1));
        } else if (name == "--trust-anchor")
            c.trust_anchor = value;
        else if (name == "--mx-port")
            c.mx_port = parse_port(value);
        else if (name == "--mta-sts-address")
            c.mta_sts_address = value;
        else if (name == "--mta-sts-port")
            c.mta_sts_port = parse_port(value);
        else if (name == "--mta-sts-cafile")
            c.mta_sts_cafile = value;
        else if (name == "--dkim-key")
            c.dkim_key = value;
        else if (name == "--dkim-domain")
            c.dkim_domain = value;
        else if (name == "--dkim-selector")
            c.dkim_selector = value;
        else if (name == "--dkim-headers") {
            for (std::size_t at = 0; at <= value.size();) {
                const std::size_t comma = std::min(value.find(',', at), value.size());
                const std::string_view h = value.substr(at, comma - at);
                if (h.empty())
                    throw failure("--dkim-headers: a comma list of header names, not \"" + printable(value) + "\"");
                c.dkim_headers.emplace_back(h);
                at = comma + 1;
            }
        } else
            c.to.emplace_back(value);
    }
    const int dkim_given = int(!c.dkim_key.empty()) + int(!c.dkim_domain.empty()) + int(!c.dkim_selector.empty());
    if (dkim_given != 0 && dkim_given != 3)
        throw failure("DKIM signing needs --dkim-key, --dkim-domain and --dkim-selector together");
    if (!c.dkim_headers.empty() && dkim_given == 0)
        throw failure("--dkim-headers goes with --dkim-key, --dkim-domain and --dkim-selector");
    if (!c.unix_path.empty() && c.proxy != config::proxy_kind::none)
        throw failure("--unix or --proxy, not both");
    if (!c.unix_path.empty() && c.port)
        throw failure("--port goes with a host, not with --unix");
    const bool bed = !c.dns_stubs.empty() || !c.trust_anchor.empty() || c.mx_port || c.mta_sts_port ||
                     !c.mta_sts_address.empty() || !c.mta_sts_cafile.empty() || c.mx_require_tls;
    if (bed && !c.mx)
        throw failure("--dns-stub, --trust-anchor, --mx-port, --mta-sts-* and --mx-require-tls go with --mx");
    if (c.mx) {
        // Direct delivery picks the hosts, the ports and the TLS itself.
        const std::pair<bool, const char*> conflicts[] = {
            {!c.host.empty(), "--host"}, {c.port.has_value(), "--port (--mx-port for a test bed)"},
            {!c.unix_path.empty(), "--unix"}, {c.proxy != config::proxy_kind::none, "--proxy"},
            {c.tls != "starttls", "--tls"}, {!c.user.empty(), "--user"},
            {!c.password_env.empty() || !c.oauth_token_env.empty(), "a password or token"},
            {c.lmtp, "--lmtp"}, {!c.cert.empty(), "--cert"}, {!c.pins.empty(), "--pin-sha256"},
            {c.notify != smtp::dsn::notify::unset || c.ret != smtp::dsn::ret::unset || !c.envid.empty(),
             "the DSN options"},
            {c.requiretls, "--requiretls"}, {!c.pipelining || !c.chunking, "--no-pipelining/--no-chunking"}};
        for (const auto& [given, what] : conflicts)
            if (given)
                throw failure(std::string("--mx delivers to the recipients' MX hosts: not with ") + what);
#ifndef SMTP_SEND_MX
        throw failure("--mx: this smtp-send was built without smtp::dns (libunbound)");
#endif
        return c;
    }
    if (!c.unix_path.empty() && c.host.empty())
        c.host = "localhost"; // only the name a certificate must carry
    if (c.host.empty())
        throw failure("--host is required (see --help)");
    if (!c.password_env.empty() && !c.oauth_token_env.empty())
        throw failure("--password-env or --oauth-token-env, not both");
    const bool has_secret = !c.password_env.empty() || !c.oauth_token_env.empty();
    if (c.user.empty() != !has_secret)
        throw failure(c.user.empty() ? (c.password_env.empty() ? "--oauth-token-env" : "--password-env") +
                                           std::string(" goes with --user")
                                     : "--user needs --password-env (or --oauth-token-env)");
    if (!c.auth.empty() && c.user.empty())
        throw failure("--auth goes with --user");
    const secret_kind kind = c.oauth_token_env.empty() ? secret_kind::password : secret_kind::token;
    for (const auto m : c.auth)
        if (secret_of(m) != kind)
            throw failure("--auth " + std::string(m) +
                          (kind == secret_kind::token ? " takes a password (--password-env), not a token"
                                                      : " takes an OAuth 2 token (--oauth-token-env), not a password"));
    if (!c.user.empty() && c.tls == "none")
        throw failure("--user with --tls none would send the credentials in clear; use starttls or implicit");
    if (!c.key.empty() && c.cert.empty())
        throw failure("--key goes with --cert");
    if (!c.key_passphrase_env.empty() && c.cert.empty())
        throw failure("--key-passphrase-env goes with --cert");
    if (c.tls == "none" && (!c.cert.empty() || !c.pins.empty()))
        throw failure(std::string(c.cert.empty() ? "--pin-sha256" : "--cert") +
                      " with --tls none: there is no TLS to use it in");
    if (c.requiretls && c.tls == "none")
        throw failure("--requiretls needs an encrypted session (--tls starttls or implicit), not --tls none");
    return c;
}

// --- Sending --------------------------------------------------------------------------------

/// Our own logger: smtplib's transcript on stderr with --debug, nothing
/// without. (The library masks AUTH secrets before any logger sees them.)
class debug_log {
public:
    using policy_category = smtp::log_category;
    static constexpr bool enabled = true;

    debug_log() = default;
    explicit debug_log(bool on) : on_(on) {}
    void on_send(std::string_view bytes, smtp::log::sent what) const
    {
        if (on_)
            smtp::log::transcript(std::cerr).on_send(bytes, what);
    }
    void on_reply(const smtp::reply_view& r, bool data_phase) const
    {
        if (on_)
            smtp::log::transcript(std::cerr).on_reply(r, data_phase);
    }

private:
    bool on_ = false;
};

struct envelope {
    std::string from;
    std::vector<std::string> to;
    std::string data; ///< the message without its Bcc fields
    /// The Bcc fields' lines, removed from data: (the number of the first in
    /// the message as given, how many), in order.
    std::vector<std::pair<std::size_t, std::size_t>> removed_lines;
    std::uint64_t size = 0; ///< data's RFC 1870 size: CRLF line ends, what SIZE declares

    /// The number in the message as given of line `n` of data.
    std::size_t input_line(std::size_t n) const
    {
        for (const auto& [first, count] : removed_lines)
            if (first <= n)
                n += count;
        return n;
    }
};

/// 52428912 as "52,428,912".
std::string grouped(std::uint64_t n)
{
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

/// How the engine may use the wire, from the command line.
smtp::transaction_settings transaction_settings(const config& cfg)
{
    smtp::transaction_settings s;
    s.pipelining = cfg.pipelining;
    s.chunking = cfg.chunking;
    return s;
}

/// What the engine would refuse in the message whatever the server offers
/// (a line over 998 octets): found before connecting, so that it costs no
/// connection, STARTTLS or AUTH. Returns the message's RFC 1870 size.
std::uint64_t check_before_connecting(const config& cfg, const envelope& env)
{
    const smtp::message_check c = smtp::check_message(env.data, {}, transaction_settings(cfg));
    if (c.error == smtp::errc::data_line_too_long)
        throw failure("message line " + std::to_string(env.input_line(c.line)) + " is " + grouped(c.line_length) +
                      " octets; the limit is " + grouped(c.max_line) + " (RFC 5321 4.5.3.1.6)");
    if (!c.ok())
        throw failure(c.describe());
    return c.facts.size;
}

/// "550 5.1.1 <bad@example.com>: Recipient address rejected".
std::string reply_text(const smtp::reply& r)
{
    return std::to_string(r.code().value()) + ' ' + printable(r.message());
}

bool has_8bit(std::string_view s)
{
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

/// The one line for an error that refused the message before any of it was
/// sent, when the library's own words need the option that asked for it or
/// the address at fault.
std::string explain(const smtp::error_code& ec, const envelope& env, std::optional<std::uint64_t> size_limit)
{
    if (ec == smtp::errc::message_too_large && size_limit)
        return "message is " + grouped(env.size) + " octets; the server's SIZE limit is " + grouped(*size_limit);
    if (ec == smtp::errc::eightbitmime_not_offered)
        return "message has 8-bit octets, and the server does not offer 8BITMIME (RFC 6152)";
    if (ec == smtp::errc::smtputf8_not_offered) {
        if (has_8bit(env.from))
            return "sender " + printable(env.from) + " is not ASCII, and the server does not offer SMTPUTF8 (RFC 6531)";
        for (const auto& to : env.to)
            if (has_8bit(to))
                return "recipient " + printable(to) +
                       " is not ASCII, and the server does not offer SMTPUTF8 (RFC 6531)";
        return "the message header is not ASCII, and the server does not offer SMTPUTF8 (RFC 6532)";
    }
    if (ec == smtp::errc::dsn_not_offered)
        return "the server does not offer DSN (RFC 3461), which --dsn-notify, --dsn-ret and --envid need";
    if (ec == smtp::errc::requiretls_not_offered)
        return "the server does not offer REQUIRETLS (RFC 8689), which --requiretls needs";
    return {};
}

/// The first mechanism of --auth (or of the default list) that the server offers.
std::string_view choose_mechanism(const config& cfg, const smtp::capabilities& caps)
{
    const auto& offered = caps.get<smtp::ext::auth>();
    if (!offered || offered->empty())
        throw failure("the server does not offer AUTH (RFC 4954), which --user needs");
    const secret_kind kind = cfg.oauth_token_env.empty() ? secret_kind::password : secret_kind::token;
    const auto& wanted = cfg.auth.empty() ? default_mechanisms(kind) : cfg.auth;
    for (const auto m : wanted)
        if (offered->contains(m))
            return m;
    throw failure((cfg.auth.empty() ? "the server offers none of " + joined(wanted) + " (the default; see --auth)"
                                    : "--auth " + joined(wanted, ",") + ": the server offers none of these") +
                  "; it offers " + printable(joined(*offered)));
}

/// Connect, EHLO (LHLO), TLS as the policy says, AUTH, the mail, QUIT.
/// Returns the exit status; throws for "nothing sent".
template <class Tls, class Dialect>
int send(const config& cfg, const std::string& secret, const std::string& proxy_password, const envelope& env)
{
    // One session type whichever way the bytes go: directly, over a Unix
    // socket, or through a proxy (the stream is chosen when connecting).
    using P = smtp::policies<Tls, Dialect, debug_log, smtp::auth::mechanisms<chosen_mechanism>,
                             smtp::transport::any_stream>;
    constexpr bool lmtp = Dialect::per_recipient_replies;
    smtp::connect_options options;
    options.host = cfg.host;
    options.port = cfg.port.value_or(lmtp ? 24 : Tls::implicit_tls ? 465 : Tls::offers_starttls ? 587 : 25);
    options.tls.ca_file = cfg.cafile;
    options.tls.cert_file = cfg.cert;
    options.tls.key_file = cfg.key;
    options.tls.key_passphrase = cfg.key_passphrase;
    options.tls.pin_sha256 = cfg.pins;
    options.transactions = transaction_settings(cfg);
    if (cfg.timeout) {
        auto& t = options.timeouts;
        t.connect = t.greeting = t.command = t.mail = t.rcpt = t.data_init = t.data_block = t.data_term = *cfg.timeout;
    }

    std::vector<smtp::recipient> recipients;
    for (const auto& to : env.to)
        recipients.push_back({to, cfg.notify});
    smtp::send_options send_options;
    send_options.ret = cfg.ret;
    send_options.envid = cfg.envid;
    send_options.requiretls = cfg.requiretls;

    // What is being done, for the one line if it fails.
    std::string doing = cfg.unix_path.empty()
                            ? "connecting to " + cfg.host + " port " + std::to_string(options.port)
                            : "connecting to the Unix socket " + printable(cfg.unix_path);
    if (cfg.proxy != config::proxy_kind::none) {
        const bool v6 = cfg.proxy_host.find(':') != std::string::npos;
        doing += std::string(" through the ") + (cfg.proxy == config::proxy_kind::socks5 ? "SOCKS5" : "HTTP") +
                 " proxy " + (v6 ? "[" + cfg.proxy_host + "]" : cfg.proxy_host) + ":" + std::to_string(cfg.proxy_port);
    }
    try {
        auto deliver = [&](auto session) {
            doing = "sending";
            const std::optional<std::uint64_t> size_limit = session.server_capabilities().size_limit();
            smtp::error_code ec;
            smtp::diagnostics diag;
            const smtp::transaction_result result =
                session.sendmail(env.from, std::span<const smtp::recipient>(recipients), env.data, send_options,
                                 ec, diag);
            smtp::error_code quit_ec; // the message is accepted or not by now
            smtp::diagnostics quit_diag;
            std::move(session).quit(quit_ec, quit_diag);
            // Each recipient that did not get it, in order: refused at RCPT,
            // or (LMTP) by its own reply after the data.
            std::vector<std::string> refusals;
            for (const auto& r : result.recipients)
                if (!r.accepted()) {
                    const smtp::reply& reply = r.decisive();
                    refusals.push_back(printable(r.address) + (&reply == &r.rcpt_reply ? "" : " after the data") +
                                       ": " + reply_text(reply));
                }
            if (ec == smtp::errc::all_recipients_refused) {
                std::string line = "every recipient was refused:";
                for (const auto& r : refusals)
                    line += " " + r + ";";
                line.pop_back();
                throw failure(line);
            }
            if (ec == smtp::errc::outcome_unknown || result.outcome == smtp::transaction_outcome::unknown)
                throw failure("the connection ended after the message, before the server's answer: "
                              "it may or may not have been delivered");
            if (const std::string why = explain(ec, env, size_limit); !why.empty())
                throw failure(why);
            if (ec == smtp::errc::permanent_failure || ec == smtp::errc::transient_failure) {
                // The command the server refused, and its reply.
                const auto refused = [](const smtp::reply& r) { return r.code().is_failure(); };
                if (refused(result.mail_reply))
                    throw failure("the server refused MAIL FROM:<" + printable(env.from) +
                                  ">: " + reply_text(result.mail_reply));
                if (refused(result.data_reply))
                    throw failure("the server refused DATA: " + reply_text(result.data_reply));
                if (refused(result.final_reply)) // the end of data, or a BDAT chunk
                    throw failure("the server refused the message: " + reply_text(result.final_reply));
            }
            if (ec)
                throw smtp::error_with_diagnostics(ec, diag);
            for (const auto& r : refusals)
                std::cerr << "smtp-send: refused " << r << '\n';
            return refusals.empty() ? 0 : 1;
        };
        auto log_in = [&](auto session) {
            // login() exists only where the policies allow it: encrypted here
            // (auth::require_tls, the default). --user with --tls none was refused.
            if constexpr (requires { std::move(session).login("", ""); }) {
                if (!cfg.user.empty()) {
                    chosen_mechanism::name = choose_mechanism(cfg, session.server_capabilities());
                    doing = "logging in as " + printable(cfg.user) + " with " + std::string(chosen_mechanism::name);
                    return deliver(std::move(session).login(cfg.user, secret));
                }
            }
            return deliver(std::move(session));
        };

        const std::string hello = lmtp ? "LHLO" : "EHLO";
        auto open = [&] {
            if (!cfg.unix_path.empty())
                return smtp::connect<P>(options, debug_log(cfg.debug), std::in_place_type<smtp::transport::unix_socket>,
                                        cfg.unix_path);
            if (cfg.proxy == config::proxy_kind::socks5)
                return smtp::connect<P>(options, debug_log(cfg.debug),
                                        smtp::transport::socks5_options{cfg.proxy_host, cfg.proxy_port,
                                                                        cfg.proxy_user, proxy_password});
            if (cfg.proxy == config::proxy_kind::http)
                return smtp::connect<P>(options, debug_log(cfg.debug),
                                        smtp::transport::http_proxy_options{cfg.proxy_host, cfg.proxy_port,
                                                                            cfg.proxy_user, proxy_password});
            return smtp::connect<P>(options, debug_log(cfg.debug));
        };
        auto session = open();
        doing = hello;
        auto greeted = std::move(session).ehlo(); // LHLO under LMTP
        if constexpr (Tls::offers_starttls) {
            // tls::starttls: until this succeeds, MAIL and AUTH do not compile.
            doing = "STARTTLS";
            auto encrypted = std::move(greeted).starttls();
            doing = hello + " after STARTTLS";
            return log_in(std::move(encrypted).ehlo());
        } else {
            return log_in(std::move(greeted));
        }
    } catch (const failure&) {
        throw;
    } catch (const smtp::system_error& e) {
        if (e.code() == smtp::errc::starttls_not_offered)
            throw failure("the server does not offer STARTTLS, and --tls starttls (the default) sends nothing in clear");
        const auto* with_diag = dynamic_cast<const smtp::error_with_diagnostics*>(&e);
        if (with_diag && with_diag->get_diagnostics().server_reply() &&
            (e.code() == smtp::errc::permanent_failure || e.code() == smtp::errc::transient_failure ||
             e.code() == smtp::errc::auth_refused))
            throw failure(doing + ": the server replied " + reply_text(*with_diag->get_diagnostics().server_reply()));
        // A failed connect's words already name what was tried ("connect to
        // the Unix socket PATH: ...", "connect to HOST port N: ADDRESS: ..."):
        // said once; through a proxy, the line names the proxy first.
        const std::string what = printable(e.what());
        std::string line = cfg.proxy == config::proxy_kind::none && what.rfind("connect to ", 0) == 0
                               ? what
                               : doing + ": " + what;
        if (e.code() == smtp::errc::timeout || e.code() == smtp::errc::no_greeting)
            line += cfg.timeout ? " (--timeout " + printable(cfg.timeout_text) + " s)"
                                : " (RFC 5321's limit for that phase, 1 to 10 minutes; --timeout sets one for all)";
        throw failure(line);
    } catch (const std::exception& e) {
        throw failure(doing + ": " + printable(e.what()));
    }
}

/// What is wrong with an address the library refused, with the numbers.
std::string address_problem(std::string_view address, const smtp::error_code& ec)
{
    const std::size_t at = address.rfind('@');
    if (ec == smtp::errc::local_part_too_long)
        return "the local part is " + grouped(at) + " octets; the limit is 64 (RFC 5321 4.5.3.1.1)";
    if (ec == smtp::errc::domain_too_long)
        return "the domain is " + grouped(address.size() - at - 1) + " octets; the limit is 255 (RFC 5321 4.5.3.1.2)";
    if (ec == smtp::errc::path_too_long)
        return "the address is " + grouped(address.size()) + " octets; the limit is 254 (RFC 5321 4.5.3.1.3)";
    return ec.message();
}

envelope make_envelope(const config& cfg, std::string message)
{
    envelope env;
    const auto fields = parse_header(message);
    auto addresses_in = [&](std::string_view name) {
        std::vector<std::string> out;
        for (const auto& f : fields)
            if (iequals(f.name, name))
                for (auto& a : parse_addresses(f.value))
                    out.push_back(std::move(a));
        return out;
    };

    env.from = cfg.from;
    if (env.from.empty()) {
        auto from = addresses_in("From");
        if (from.empty())
            throw failure("no --from, and no address in From");
        if (from.size() > 1) { // RFC 5322 3.6.2: several authors, and Sender says who sent it
            const std::string authors = "no --from, and From has " + std::to_string(from.size()) + " addresses";
            from = addresses_in("Sender");
            if (from.empty())
                throw failure(authors + " and no Sender field names the one who sent it (RFC 5322 3.6.2)");
            if (from.size() > 1)
                throw failure(authors + " and Sender " + std::to_string(from.size()) + "; Sender names one");
        }
        env.from = from.front();
    }
    if (!cfg.to.empty())
        env.to = cfg.to;
    else
        for (const char* name : {"To", "Cc", "Bcc"})
            for (auto& a : addresses_in(name))
                if (std::find(env.to.begin(), env.to.end(), a) == env.to.end())
                    env.to.push_back(std::move(a));
    if (env.to.empty())
        throw failure("no recipient: no --to, and no address in To, Cc or Bcc");

    // Every envelope address checked before connecting: a bad one (CR/LF,
    // <, >, invalid UTF-8, ...) fails here, with nothing sent. A UTF-8
    // address is checked as under SMTPUTF8 (RFC 6531); whether the server
    // offers it is the engine's to check, after EHLO.
    std::string probe;
    smtp::error_code ec;
    smtp::diagnostics diag;
    smtp::serialize(smtp::cmd::mail_from{env.from, {}, has_8bit(env.from)}, probe, ec, diag);
    if (ec)
        throw failure("sender " + printable(env.from) + ": " + address_problem(env.from, ec));
    for (const auto& to : env.to) {
        smtp::serialize(smtp::cmd::rcpt_to{to, {}, has_8bit(to)}, probe, ec, diag);
        if (ec)
            throw failure("recipient " + printable(to) + ": " + address_problem(to, ec));
    }

    // The message without its Bcc fields (their continuation lines included).
    std::size_t kept = 0;
    for (const auto& f : fields)
        if (iequals(f.name, "Bcc")) {
            env.data.append(message, kept, f.begin - kept);
            kept = f.end;
            env.removed_lines.emplace_back(f.line, f.lines);
        }
    env.data.append(message, kept);
    return env;
}

#ifdef SMTP_SEND_MX
/// --mx: smtp::deliver, one line per recipient on stdout.
int deliver_mx(const config& cfg, const envelope& env)
{
    smtp::dns::resolver_options ro;
    if (!cfg.dns_stubs.empty()) {
        ro.resolv_conf = ""; // the stubs only
        for (const auto& [zone, server] : cfg.dns_stubs) {
            ro.stubs.push_back({zone, {server}});
            ro.nodefault_zones.push_back(zone); // test., say: unbound answers those itself otherwise
        }
    }
    if (!cfg.trust_anchor.empty()) {
        ro.trust_anchor_files = {cfg.trust_anchor};
        ro.root_anchor_file = "";
    }
    boost::asio::io_context io;
    smtp::error_code ec;
    std::string why;
    smtp::dns::resolver resolver(io.get_executor(), ro, ec, why);
    if (ec)
        throw failure("the DNS resolver: " + ec.message() + (why.empty() ? "" : ": " + why));
    //! [deliver]
    smtp::deliver_options o;
    o.port = cfg.mx_port.value_or(25);
    o.tls.ca_file = cfg.cafile;
    if (cfg.mx_require_tls)
        o.baseline = smtp::delivery::baseline::require_tls;
    if (cfg.timeout) {
        o.timeouts.connect = o.timeouts.greeting = o.timeouts.command = o.timeouts.mail = o.timeouts.rcpt =
            o.timeouts.data_init = o.timeouts.data_block = o.timeouts.data_term = *cfg.timeout;
        o.mta_sts.timeout = *cfg.timeout;
    }
    o.mta_sts.address = cfg.mta_sts_address;
    if (cfg.mta_sts_port)
        o.mta_sts.port = *cfg.mta_sts_port;
    o.mta_sts.tls.ca_file = cfg.mta_sts_cafile;
    smtp::diagnostics diag;
    const auto report = smtp::deliver(resolver, env.from, env.to, env.data, o, ec, diag);
    if (ec)
        throw failure(diag.describe(ec));
    //! [deliver]
    for (const auto& r : report.recipients) {
        std::string line = printable(r.address) + ": " + std::string(to_string(r.outcome));
        if (!r.mx_host.empty())
            line += " mx=" + r.mx_host + " [" + r.mx_address + "]";
        if (r.outcome == smtp::delivery::outcome::delivered || !r.mx_host.empty()) {
            line += " protection=" + std::string(to_string(r.protection));
            if (r.dane_match) {
                const auto& t = r.dane_match->record;
                line += " tlsa=" + std::to_string(t.usage) + "." + std::to_string(t.selector) + "." +
                        std::to_string(t.matching_type) + "@depth" + std::to_string(r.dane_match->depth);
            }
            if (r.mta_sts_mode != smtp::mta_sts::mode::none)
                line += std::string(" mta-sts=") + (r.mta_sts_mode == smtp::mta_sts::mode::enforce ? "enforce" : "testing");
            if (r.mta_sts_report)
                line += " mta-sts-failure=\"" + printable(r.mta_sts_report.message()) + "\"";
        }
        if (r.server_reply)
            line += " reply=\"" + printable(reply_text(*r.server_reply)) + "\"";
        if (r.outcome != smtp::delivery::outcome::delivered) {
            line += " error=\"" + printable(r.error.message()) + "\"";
            const auto at = r.address.rfind('@');
            for (const auto& d : report.domains)
                if (at != std::string::npos && iequals(d.domain, std::string_view(r.address).substr(at + 1)))
                    for (const auto& a : d.attempts)
                        if (a.error)
                            line += " tried=" + a.host + (a.address.empty() ? "" : "[" + a.address + "]") + ":\"" +
                                    printable(a.detail) + "\"";
        }
        std::cout << line << '\n';
    }
    const std::size_t delivered = report.count(smtp::delivery::outcome::delivered);
    return delivered == report.recipients.size() ? 0 : delivered > 0 ? 1 : 2;
}
#endif

} // namespace

int main(int argc, char** argv)
{
    try {
        config cfg = parse_command_line(argc, argv);
        // The password or the token: from the environment, never from argv
        // (ps shows those).
        std::string secret;
        for (const auto& [option, var] : {std::pair<const char*, const std::string&>{"--password-env", cfg.password_env},
                                          {"--oauth-token-env", cfg.oauth_token_env}})
            if (!var.empty()) {
                const char* p = std::getenv(var.c_str());
                if (!p)
                    throw failure(std::string(option) + " " + printable(var) + ": no such environment variable");
                secret = p;
            }
        // The proxy's password: from the environment too.
        std::string proxy_password;
        if (!cfg.proxy_user.empty()) {
            const char* p = std::getenv("SMTP_PROXY_PASSWORD");
            if (!p)
                throw failure("--proxy names the user " + printable(cfg.proxy_user) +
                              ": the password goes in the environment variable SMTP_PROXY_PASSWORD, which is not set");
            proxy_password = p;
        }
        if (!cfg.key_passphrase_env.empty()) {
            const char* p = std::getenv(cfg.key_passphrase_env.c_str());
            if (!p)
                throw failure("--key-passphrase-env " + printable(cfg.key_passphrase_env) +
                              ": no such environment variable");
            cfg.key_passphrase = p;
        }
        std::string message{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
        if (message.empty())
            throw failure("no message on stdin");
        envelope env = make_envelope(cfg, std::move(message));
        if (!cfg.dkim_key.empty()) { // signs what is sent: after Bcc is gone, before the check
            smtp::dkim::sign_options o;
            o.domain = cfg.dkim_domain;
            o.selector = cfg.dkim_selector;
            o.headers = cfg.dkim_headers;
            const smtp::dkim::signer signer(smtp::crypto::dkim_key::from_pem_file(cfg.dkim_key), o);
            smtp::error_code ec;
            std::string field = signer.sign(env.data, ec);
            if (ec)
                throw failure("--dkim-key: cannot sign this message: " + ec.message());
            env.data.insert(0, field);
        }
        env.size = check_before_connecting(cfg, env);
#ifdef SMTP_SEND_MX
        if (cfg.mx)
            return deliver_mx(cfg, env);
#endif
        auto with_tls = [&]<class Dialect>(Dialect) {
            if (cfg.tls == "implicit")
                return send<smtp::tls::implicit, Dialect>(cfg, secret, proxy_password, env);
            if (cfg.tls == "none")
                return send<smtp::tls::none, Dialect>(cfg, secret, proxy_password, env);
            return send<smtp::tls::starttls, Dialect>(cfg, secret, proxy_password, env);
        };
        return cfg.lmtp ? with_tls(smtp::dialect::lmtp{}) : with_tls(smtp::dialect::smtp{});
    } catch (const std::exception& e) {
        std::cerr << "smtp-send: " << printable(e.what()) << '\n';
        return 2;
    }
}

// Tests for the command serialisers (RFC 5321 4.1, 4.3.2, 4.5.3.1; RFC 3030,
// 3207, 4954, 6531): the exact bytes of every command, the reply codes each
// accepts, and the argument checks that run before a byte is written.
#define BOOST_TEST_MODULE commands
#include <smtp/protocol/commands.hpp>

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

using namespace std::literals;
namespace cmd = smtp::cmd;
using smtp::errc;
using smtp::esmtp_param;
using smtp::reply_code;
using smtp::reply_outcome;

// How Boost.Test prints the library's enums in failure messages.
namespace smtp {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e)
{
    if (e == errc{})
        return os << "errc{} (no error)";
    return os << "errc " << static_cast<int>(e) << " (" << make_error_code(e).message() << ")";
}
inline std::ostream& boost_test_print_type(std::ostream& os, reply_outcome o)
{
    switch (o) {
    case reply_outcome::success: return os << "success";
    case reply_outcome::intermediate: return os << "intermediate";
    case reply_outcome::transient_failure: return os << "transient_failure";
    case reply_outcome::permanent_failure: return os << "permanent_failure";
    case reply_outcome::unexpected: return os << "unexpected";
    }
    return os << "reply_outcome " << static_cast<int>(o);
}
} // namespace smtp

namespace {

/// The smtp::errc an error_code holds; errc{} for success. Fails the test if
/// the code is from another category.
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
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7F) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

/// What `out` holds before each serialize() call: a command already queued,
/// with a NUL and an 8-bit byte, so a truncation or a partial write shows.
const std::string prefill = "NOOP queued\r\n\0\xFF"s;

/// Serialises `c` after `prefill` and returns the bytes it appended. Checks that
/// the error_code and diagnostics are cleared, the prefix is intact, and the
/// throwing form and to_string() write the same bytes.
template <smtp::command C>
std::string written(const C& c)
{
    std::string out = prefill;
    smtp::error_code ec = errc::need_more; // stale values serialize() must clear
    smtp::diagnostics diag;
    diag.set_field("stale field");
    smtp::serialize(c, out, ec, diag);
    BOOST_TEST(code_of(ec) == errc{});
    BOOST_TEST(diag.field().empty());
    BOOST_TEST_REQUIRE(out.size() >= prefill.size());
    BOOST_TEST(out.substr(0, prefill.size()) == prefill);
    std::string line = out.substr(prefill.size());

    std::string thrown_form = prefill;
    BOOST_CHECK_NO_THROW(smtp::serialize(c, thrown_form));
    BOOST_TEST(thrown_form == out);
    BOOST_TEST(smtp::to_string(c) == line);
    return line;
}

/// Checks that `c` is refused with `want`, diagnostics naming `field`, and that
/// nothing at all is written: by the error_code form, the throwing form and
/// to_string().
template <smtp::command C>
void check_rejected(const C& c, errc want, std::string_view field, std::string_view what)
{
    BOOST_TEST_CONTEXT(C::name << " with " << show(what))
    {
        std::string out = prefill;
        smtp::error_code ec;
        smtp::diagnostics diag;
        smtp::serialize(c, out, ec, diag);
        BOOST_TEST(code_of(ec) == want);
        BOOST_TEST(diag.field() == field);
        BOOST_TEST(out == prefill, "output changed to " << show(out));

        std::string out2 = prefill;
        bool threw = false;
        try {
            smtp::serialize(c, out2);
        } catch (const smtp::error_with_diagnostics& e) {
            threw = true;
            BOOST_TEST(code_of(e.code()) == want);
            BOOST_TEST(e.get_diagnostics().field() == field);
            BOOST_TEST(std::string_view(e.what()).find(field) != std::string_view::npos,
                       "what() does not name the field: " << e.what());
        }
        BOOST_TEST(threw, "the throwing form did not throw error_with_diagnostics");
        BOOST_TEST(out2 == prefill, "output changed to " << show(out2));
        BOOST_CHECK_THROW(smtp::to_string(c), smtp::error_with_diagnostics);
    }
}

/// Control bytes that must never reach the wire inside an argument.
const std::vector<std::string> control_bytes = {
    "\r"s, "\n"s, "\r\n"s, "\0"s, "\x01"s, "\x1B"s, "\x7F"s, "\t"s, "\x1F"s,
};

/// `s` with `ins` inserted at the start, in the middle and at the end.
std::vector<std::string> with_inserted(std::string_view s, std::string_view ins)
{
    std::vector<std::string> out;
    for (std::size_t at : {std::size_t(0), s.size() / 2, s.size()}) {
        std::string t(s);
        t.insert(at, ins);
        out.push_back(std::move(t));
    }
    return out;
}

/// A domain of exactly `n` octets (n >= 1), labels of at most 63 octets.
std::string domain_of_length(std::size_t n)
{
    std::string d;
    while (d.size() < n) {
        if (!d.empty())
            d += '.';
        const std::size_t room = n - d.size();
        // Leave no room for an empty last label.
        std::size_t label = room > 63 ? 63 : room;
        if (room > 63 && room - 63 == 1)
            label = 62;
        d.append(label, static_cast<char>('a' + d.size() % 26));
    }
    return d;
}

} // namespace

// ---------------------------------------------------------------------------
// The command concept and the exact bytes of every command.
// ---------------------------------------------------------------------------

static_assert(smtp::command<cmd::ehlo> && smtp::command<cmd::helo> && smtp::command<cmd::lhlo>);
static_assert(smtp::command<cmd::mail_from> && smtp::command<cmd::rcpt_to>);
static_assert(smtp::command<cmd::data> && smtp::command<cmd::rset> && smtp::command<cmd::quit>);
static_assert(smtp::command<cmd::noop> && smtp::command<cmd::vrfy> && smtp::command<cmd::expn>);
static_assert(smtp::command<cmd::help> && smtp::command<cmd::starttls> && smtp::command<cmd::bdat>);
static_assert(smtp::command<cmd::auth> && smtp::command<cmd::auth_response> && smtp::command<cmd::auth_cancel>);
static_assert(smtp::command<cmd::raw>);
// end_of_data is a reply to expect, not a line to send.
static_assert(smtp::reply_expectation<cmd::end_of_data> && !smtp::command<cmd::end_of_data>);
static_assert(!smtp::command<int> && !smtp::reply_expectation<std::string>);

// Secrets: a transcript masks AUTH lines, nothing else.
static_assert(smtp::carries_secret<cmd::auth> && smtp::carries_secret<cmd::auth_response>);
static_assert(!smtp::carries_secret<cmd::mail_from> && !smtp::carries_secret<cmd::rcpt_to> &&
              !smtp::carries_secret<cmd::ehlo> && !smtp::carries_secret<cmd::raw> &&
              !smtp::carries_secret<cmd::auth_cancel>);

BOOST_AUTO_TEST_SUITE(bytes)

BOOST_AUTO_TEST_CASE(greetings)
{
    BOOST_TEST(written(cmd::ehlo{{"client.example"}}) == "EHLO client.example\r\n");
    BOOST_TEST(written(cmd::helo{{"client.example"}}) == "HELO client.example\r\n");
    BOOST_TEST(written(cmd::lhlo{{"client.example"}}) == "LHLO client.example\r\n");
    BOOST_TEST(written(cmd::ehlo{{"[192.0.2.1]"}}) == "EHLO [192.0.2.1]\r\n");
    BOOST_TEST(written(cmd::ehlo{{"[IPv6:2001:db8::1]"}}) == "EHLO [IPv6:2001:db8::1]\r\n");
    BOOST_TEST(written(cmd::helo{{"localhost"}}) == "HELO localhost\r\n");
    BOOST_TEST(written(cmd::ehlo{{"mail-01.under_score.example"}}) == "EHLO mail-01.under_score.example\r\n");
}

BOOST_AUTO_TEST_CASE(mail_from)
{
    BOOST_TEST(written(cmd::mail_from{"alice@example.com"}) == "MAIL FROM:<alice@example.com>\r\n");
    // The null reverse-path (RFC 5321 4.5.5).
    BOOST_TEST(written(cmd::mail_from{""}) == "MAIL FROM:<>\r\n");

    const std::array params{
        esmtp_param{"SIZE", "1000"},
        esmtp_param{"BODY", "8BITMIME"},
        esmtp_param{"RET", "HDRS"},
        esmtp_param{"ENVID", "QQ314159"},
        esmtp_param{"REQUIRETLS"},
    };
    BOOST_TEST(written(cmd::mail_from{"alice@example.com", params}) ==
               "MAIL FROM:<alice@example.com> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ314159 REQUIRETLS\r\n");
    BOOST_TEST(written(cmd::mail_from{"", params}) ==
               "MAIL FROM:<> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ314159 REQUIRETLS\r\n");

    // SMTPUTF8 (RFC 6531 3.4): the flag allows UTF-8 and adds the parameter last.
    BOOST_TEST(written(cmd::mail_from{"pelé@example.com", {}, true}) == "MAIL FROM:<pelé@example.com> SMTPUTF8\r\n");
    BOOST_TEST(written(cmd::mail_from{"用户@例子.广告", {}, true}) == "MAIL FROM:<用户@例子.广告> SMTPUTF8\r\n");
    const std::array size_only{esmtp_param{"SIZE", "42"}};
    BOOST_TEST(written(cmd::mail_from{"alice@example.com", size_only, true}) ==
               "MAIL FROM:<alice@example.com> SIZE=42 SMTPUTF8\r\n");
    BOOST_TEST(written(cmd::mail_from{"", {}, true}) == "MAIL FROM:<> SMTPUTF8\r\n");

    // Quoted local parts and address literals go out as given.
    BOOST_TEST(written(cmd::mail_from{"\"john doe\"@example.com"}) == "MAIL FROM:<\"john doe\"@example.com>\r\n");
    BOOST_TEST(written(cmd::mail_from{"\"a\\\"b\"@example.com"}) == "MAIL FROM:<\"a\\\"b\"@example.com>\r\n");
    BOOST_TEST(written(cmd::mail_from{"\"a@b\"@example.com"}) == "MAIL FROM:<\"a@b\"@example.com>\r\n");
    BOOST_TEST(written(cmd::mail_from{"user@[192.0.2.1]"}) == "MAIL FROM:<user@[192.0.2.1]>\r\n");
    BOOST_TEST(written(cmd::mail_from{"user+tag!#$%&'*/=?^_`{|}~-x@example.com"}) ==
               "MAIL FROM:<user+tag!#$%&'*/=?^_`{|}~-x@example.com>\r\n");
}

BOOST_AUTO_TEST_CASE(rcpt_to)
{
    BOOST_TEST(written(cmd::rcpt_to{"bob@example.org"}) == "RCPT TO:<bob@example.org>\r\n");
    const std::array params{
        esmtp_param{"NOTIFY", "SUCCESS,FAILURE"},
        esmtp_param{"ORCPT", "rfc822;bob@example.org"},
    };
    BOOST_TEST(written(cmd::rcpt_to{"bob@example.org", params}) ==
               "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org\r\n");
    const std::array flag_param{esmtp_param{"X-FLAG"}};
    BOOST_TEST(written(cmd::rcpt_to{"bob@example.org", flag_param}) == "RCPT TO:<bob@example.org> X-FLAG\r\n");
    // Bare Postmaster, any case (RFC 5321 4.1.1.3).
    BOOST_TEST(written(cmd::rcpt_to{"postmaster"}) == "RCPT TO:<postmaster>\r\n");
    BOOST_TEST(written(cmd::rcpt_to{"Postmaster"}) == "RCPT TO:<Postmaster>\r\n");
    BOOST_TEST(written(cmd::rcpt_to{"POSTMASTER"}) == "RCPT TO:<POSTMASTER>\r\n");
    BOOST_TEST(written(cmd::rcpt_to{"PostMaster"}) == "RCPT TO:<PostMaster>\r\n");
    BOOST_TEST(written(cmd::rcpt_to{"postmaster@example.org"}) == "RCPT TO:<postmaster@example.org>\r\n");
    // With SMTPUTF8 declared on MAIL: UTF-8 allowed, no parameter on RCPT.
    BOOST_TEST(written(cmd::rcpt_to{"用户@例子.广告", {}, true}) == "RCPT TO:<用户@例子.广告>\r\n");
    BOOST_TEST(written(cmd::rcpt_to{"pelé@example.com", {}, true}) == "RCPT TO:<pelé@example.com>\r\n");
}

BOOST_AUTO_TEST_CASE(bare_commands)
{
    BOOST_TEST(written(cmd::data{}) == "DATA\r\n");
    BOOST_TEST(written(cmd::rset{}) == "RSET\r\n");
    BOOST_TEST(written(cmd::quit{}) == "QUIT\r\n");
    BOOST_TEST(written(cmd::starttls{}) == "STARTTLS\r\n");
    BOOST_TEST(written(cmd::auth_cancel{}) == "*\r\n");
}

BOOST_AUTO_TEST_CASE(text_commands)
{
    BOOST_TEST(written(cmd::noop{}) == "NOOP\r\n");
    BOOST_TEST(written(cmd::noop{{"ping 42"}}) == "NOOP ping 42\r\n");
    BOOST_TEST(written(cmd::help{}) == "HELP\r\n");
    BOOST_TEST(written(cmd::help{{"MAIL"}}) == "HELP MAIL\r\n");
    BOOST_TEST(written(cmd::vrfy{{"alice"}}) == "VRFY alice\r\n");
    BOOST_TEST(written(cmd::vrfy{{"Alice Smith <alice@example.com>"}}) == "VRFY Alice Smith <alice@example.com>\r\n");
    BOOST_TEST(written(cmd::expn{{"staff"}}) == "EXPN staff\r\n");
    // RFC 6531 3.7.4: VRFY/EXPN string [SP "SMTPUTF8"].
    BOOST_TEST(written(cmd::vrfy{{"pelé", true}}) == "VRFY pelé SMTPUTF8\r\n");
    BOOST_TEST(written(cmd::expn{{"用户", true}}) == "EXPN 用户 SMTPUTF8\r\n");
    BOOST_TEST(written(cmd::vrfy{{"alice", true}}) == "VRFY alice SMTPUTF8\r\n");
    // HELP and NOOP take no SMTPUTF8: the flag adds nothing.
    BOOST_TEST(written(cmd::noop{{"x", true}}) == "NOOP x\r\n");
    BOOST_TEST(written(cmd::help{{"", true}}) == "HELP\r\n");
}

BOOST_AUTO_TEST_CASE(bdat)
{
    BOOST_TEST(written(cmd::bdat{1000}) == "BDAT 1000\r\n");
    BOOST_TEST(written(cmd::bdat{1000, false}) == "BDAT 1000\r\n");
    BOOST_TEST(written(cmd::bdat{1000, true}) == "BDAT 1000 LAST\r\n");
    BOOST_TEST(written(cmd::bdat{0, true}) == "BDAT 0 LAST\r\n");
    BOOST_TEST(written(cmd::bdat{0}) == "BDAT 0\r\n");
    BOOST_TEST(written(cmd::bdat{std::numeric_limits<std::uint64_t>::max(), true}) ==
               "BDAT 18446744073709551615 LAST\r\n");
}

BOOST_AUTO_TEST_CASE(auth)
{
    BOOST_TEST(written(cmd::auth{"LOGIN"}) == "AUTH LOGIN\r\n");
    BOOST_TEST(written(cmd::auth{"CRAM-MD5", std::nullopt}) == "AUTH CRAM-MD5\r\n");
    // RFC 4616 PLAIN: authzid NUL authcid NUL passwd, in base64.
    BOOST_TEST(written(cmd::auth{"PLAIN", "\0user\0pass"sv}) == "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
    // RFC 4954 4: an empty initial response is sent as "=".
    BOOST_TEST(written(cmd::auth{"EXTERNAL", ""sv}) == "AUTH EXTERNAL =\r\n");
    // Credentials with CR LF travel base64-encoded: one line, one CRLF.
    BOOST_TEST(written(cmd::auth{"PLAIN", "\0alice@example.com\0s3cr\r\nt"sv}) ==
               "AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3INCnQ=\r\n");
    BOOST_TEST(written(cmd::auth{"SCRAM-SHA-256", "n,,n=user,r=abc"sv}) ==
               "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9YWJj\r\n");
    BOOST_TEST(written(cmd::auth{"X_MECH-2"}) == "AUTH X_MECH-2\r\n");

    BOOST_TEST(written(cmd::auth_response{"user"}) == "dXNlcg==\r\n");
    BOOST_TEST(written(cmd::auth_response{"\r\n.\r\n"}) == "DQouDQo=\r\n");
    // An empty response is an empty line (base64 of nothing).
    BOOST_TEST(written(cmd::auth_response{""}) == "\r\n");
}

BOOST_AUTO_TEST_CASE(raw)
{
    BOOST_TEST(written(cmd::raw{"XCLIENT", "NAME=mx.example ADDR=192.0.2.7"}) ==
               "XCLIENT NAME=mx.example ADDR=192.0.2.7\r\n");
    BOOST_TEST(written(cmd::raw{"X-FOO"}) == "X-FOO\r\n");
    BOOST_TEST(written(cmd::raw{"NOOP", ""}) == "NOOP\r\n");
    BOOST_TEST(written(cmd::raw{"ETRN", "@example.com"}) == "ETRN @example.com\r\n");
}

BOOST_AUTO_TEST_CASE(serialize_appends)
{
    // Several commands into one buffer, as a pipelined group goes out.
    std::string out;
    smtp::error_code ec;
    smtp::diagnostics diag;
    smtp::serialize(cmd::mail_from{"a@example.com"}, out, ec, diag);
    BOOST_TEST(!ec);
    smtp::serialize(cmd::rcpt_to{"b@example.com"}, out, ec, diag);
    BOOST_TEST(!ec);
    smtp::serialize(cmd::data{}, out, ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(out == "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");

    // A refused command in the middle leaves what came before.
    smtp::serialize(cmd::rcpt_to{"c@example.com\r\nDATA"}, out, ec, diag);
    BOOST_TEST(code_of(ec) == errc::control_character);
    BOOST_TEST(out == "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
    // The next good one clears ec and the diagnostics.
    smtp::serialize(cmd::quit{}, out, ec, diag);
    BOOST_TEST(!ec);
    BOOST_TEST(diag.field().empty());
    BOOST_TEST(out.ends_with("DATA\r\nQUIT\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Reply codes: RFC 5321 4.3.2, RFC 3207 4, RFC 4954 4/6, RFC 3030 2.
// ---------------------------------------------------------------------------

namespace {

bool in(std::initializer_list<unsigned> set, unsigned v)
{
    for (unsigned x : set)
        if (x == v)
            return true;
    return false;
}

/// Every code 200..599: the command's success codes are success, its
/// intermediate codes intermediate, other 2yz/3yz unexpected, 4yz transient,
/// 5yz permanent.
template <class C>
void check_codes(std::initializer_list<unsigned> success, std::initializer_list<unsigned> intermediate)
{
    for (unsigned v = 200; v < 600; ++v) {
        reply_outcome want;
        if (in(success, v))
            want = reply_outcome::success;
        else if (in(intermediate, v))
            want = reply_outcome::intermediate;
        else if (v / 100 == 4)
            want = reply_outcome::transient_failure;
        else if (v / 100 == 5)
            want = reply_outcome::permanent_failure;
        else
            want = reply_outcome::unexpected;
        BOOST_TEST(smtp::classify<C>(reply_code(v)) == want, C::name << " answered " << v);
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(reply_codes)

BOOST_AUTO_TEST_CASE(every_code_for_every_command)
{
    check_codes<cmd::ehlo>({250}, {});
    check_codes<cmd::helo>({250}, {});
    check_codes<cmd::lhlo>({250}, {});
    check_codes<cmd::mail_from>({250}, {});
    check_codes<cmd::rcpt_to>({250, 251}, {});
    check_codes<cmd::data>({}, {354});
    check_codes<cmd::end_of_data>({250}, {});
    check_codes<cmd::rset>({250}, {});
    check_codes<cmd::noop>({250}, {});
    check_codes<cmd::quit>({221}, {});
    check_codes<cmd::vrfy>({250, 251, 252}, {});
    check_codes<cmd::expn>({250, 252}, {});
    check_codes<cmd::help>({211, 214}, {});
    check_codes<cmd::starttls>({220}, {});
    check_codes<cmd::bdat>({250}, {});
    check_codes<cmd::auth>({235}, {334});
    check_codes<cmd::auth_response>({235}, {334});
    // RFC 4954 4: the server answers "*" with 501; that is the cancel working.
    check_codes<cmd::auth_cancel>({501}, {});
    check_codes<cmd::raw>({200, 211, 214, 220, 221, 235, 250, 251, 252}, {334, 354});
}

BOOST_AUTO_TEST_CASE(named_cases)
{
    using smtp::classify;
    BOOST_TEST(classify<cmd::mail_from>(reply_code(250)) == reply_outcome::success);
    BOOST_TEST(classify<cmd::rcpt_to>(reply_code(251)) == reply_outcome::success);
    BOOST_TEST(classify<cmd::data>(reply_code(354)) == reply_outcome::intermediate);
    BOOST_TEST(classify<cmd::auth>(reply_code(334)) == reply_outcome::intermediate);
    BOOST_TEST(classify<cmd::auth>(reply_code(235)) == reply_outcome::success);
    BOOST_TEST(classify<cmd::starttls>(reply_code(220)) == reply_outcome::success);
    BOOST_TEST(classify<cmd::quit>(reply_code(221)) == reply_outcome::success);
    BOOST_TEST(classify<cmd::vrfy>(reply_code(252)) == reply_outcome::success);
    // Failures.
    BOOST_TEST(classify<cmd::mail_from>(reply_code(421)) == reply_outcome::transient_failure);
    BOOST_TEST(classify<cmd::rcpt_to>(reply_code(450)) == reply_outcome::transient_failure);
    BOOST_TEST(classify<cmd::starttls>(reply_code(454)) == reply_outcome::transient_failure);
    BOOST_TEST(classify<cmd::rcpt_to>(reply_code(550)) == reply_outcome::permanent_failure);
    BOOST_TEST(classify<cmd::auth>(reply_code(535)) == reply_outcome::permanent_failure);
    BOOST_TEST(classify<cmd::ehlo>(reply_code(502)) == reply_outcome::permanent_failure);
    // Codes the command does not allow: protocol violations.
    BOOST_TEST(classify<cmd::mail_from>(reply_code(220)) == reply_outcome::unexpected);
    BOOST_TEST(classify<cmd::rcpt_to>(reply_code(354)) == reply_outcome::unexpected);
    BOOST_TEST(classify<cmd::data>(reply_code(250)) == reply_outcome::unexpected);
    BOOST_TEST(classify<cmd::starttls>(reply_code(250)) == reply_outcome::unexpected);
    BOOST_TEST(classify<cmd::quit>(reply_code(250)) == reply_outcome::unexpected);
    BOOST_TEST(classify<cmd::auth>(reply_code(250)) == reply_outcome::unexpected);
    BOOST_TEST(classify<cmd::ehlo>(reply_code(334)) == reply_outcome::unexpected);
    BOOST_TEST(classify<cmd::mail_from>(reply_code(251)) == reply_outcome::unexpected);
    // Usable at compile time.
    static_assert(smtp::classify<cmd::rcpt_to>(reply_code(251)) == reply_outcome::success);
    static_assert(smtp::classify<cmd::data>(reply_code(354)) == reply_outcome::intermediate);
}

BOOST_AUTO_TEST_CASE(outcome_error)
{
    BOOST_TEST(smtp::outcome_error(reply_outcome::success) == errc{});
    BOOST_TEST(smtp::outcome_error(reply_outcome::intermediate) == errc{});
    BOOST_TEST(smtp::outcome_error(reply_outcome::transient_failure) == errc::transient_failure);
    BOOST_TEST(smtp::outcome_error(reply_outcome::permanent_failure) == errc::permanent_failure);
    BOOST_TEST(smtp::outcome_error(reply_outcome::unexpected) == errc::unexpected_reply);
    // As error codes: success and intermediate are no error at all.
    const smtp::error_code ok = smtp::make_error_code(smtp::outcome_error(reply_outcome::success));
    BOOST_TEST(!ok);
    const smtp::error_code go_on = smtp::make_error_code(smtp::outcome_error(reply_outcome::intermediate));
    BOOST_TEST(!go_on);
    const smtp::error_code bad = smtp::make_error_code(
        smtp::outcome_error(smtp::classify<cmd::rcpt_to>(reply_code(550))));
    BOOST_TEST(code_of(bad) == errc::permanent_failure);
    const smtp::error_code odd = smtp::make_error_code(
        smtp::outcome_error(smtp::classify<cmd::mail_from>(reply_code(220))));
    BOOST_TEST(code_of(odd) == errc::unexpected_reply);
}

BOOST_AUTO_TEST_CASE(code_set)
{
    // Bits straddle the 64-bit words: 263 is the last of the first word.
    constexpr smtp::code_set s{200, 263, 264, 327, 328, 599};
    for (unsigned v : {200u, 263u, 264u, 327u, 328u, 599u})
        BOOST_TEST(s.contains(reply_code(v)), v);
    for (unsigned v : {201u, 262u, 265u, 326u, 329u, 598u, 199u, 600u, 0u})
        BOOST_TEST(!s.contains(reply_code(v)), v);
    BOOST_TEST(!s.empty());
    // Out-of-range codes are ignored, not wrapped into range.
    constexpr smtp::code_set outside{0, 199, 600, 999, 1200};
    BOOST_TEST(outside.empty());
    BOOST_TEST(smtp::code_set{}.empty());
    static_assert(smtp::code_set{250, 251}.contains(reply_code(251)));
    static_assert(!smtp::code_set{250, 251}.contains(reply_code(252)));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Validation: nothing is written when an argument is wrong.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(control_bytes_rejected)

BOOST_AUTO_TEST_CASE(greeting_domains)
{
    for (const auto& bad : control_bytes)
        for (const auto& d : with_inserted("client.example", bad)) {
            check_rejected(cmd::ehlo{{d}}, errc::control_character, "EHLO domain", d);
            check_rejected(cmd::helo{{d}}, errc::control_character, "HELO domain", d);
            check_rejected(cmd::lhlo{{d}}, errc::control_character, "LHLO domain", d);
        }
}

BOOST_AUTO_TEST_CASE(addresses)
{
    for (const auto& bad : control_bytes)
        for (const auto& a : with_inserted("alice@example.com", bad)) {
            check_rejected(cmd::mail_from{a}, errc::control_character, "MAIL FROM address", a);
            check_rejected(cmd::mail_from{a, {}, true}, errc::control_character, "MAIL FROM address", a);
            check_rejected(cmd::rcpt_to{a}, errc::control_character, "RCPT TO address", a);
            check_rejected(cmd::rcpt_to{a, {}, true}, errc::control_character, "RCPT TO address", a);
        }
    // Inside a quoted local part too.
    check_rejected(cmd::mail_from{"\"a\r\nb\"@example.com"}, errc::control_character, "MAIL FROM address", "quoted");
    check_rejected(cmd::rcpt_to{"\"a\\\0b\"@example.com"sv}, errc::control_character, "RCPT TO address",
                   "quoted pair NUL");
}

// check_mailbox answers the usual address from a fast path
// (detail::mailbox_is_plain). Whatever that path accepts, the full checks
// accept too, under every flag; and the usual addresses do take it. Random
// strings over an alphabet with every class of octet that matters.
BOOST_AUTO_TEST_CASE(mailbox_fast_path_agrees_with_the_full_checks)
{
    using smtp::detail::check_mailbox_fully;
    using smtp::detail::mailbox_is_plain;
    static constexpr char alphabet[] = {'a', 'Z', '0', '9', '.', '.', '@', '@', '-', '_', '+', '!', '"', '\\', '[',
                                        ']', '<', '>', ' ', '\r', '\n', '\0', '\x7f', '\xc3', '\xa9', ':', ','};
    std::uint64_t x = 88172645463325252ull; // xorshift64: the same strings every run
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    std::size_t plain = 0;
    for (int n = 0; n < 200000; ++n) {
        std::string a;
        const std::size_t len = next() % (n % 50 == 0 ? 300 : 24);
        // Every other string is near an address: one '@' in it, the rest
        // mostly from the first six octets (letters, digits, dots), with now
        // and then any octet of the alphabet.
        const bool near = n % 2 == 0;
        for (std::size_t i = 0; i < len; ++i)
            a.push_back(alphabet[near && next() % 32 != 0 ? next() % 6 : next() % sizeof alphabet]);
        if (near)
            a.insert(a.begin() + static_cast<std::ptrdiff_t>(len ? next() % len : 0), '@');
        if (!mailbox_is_plain(a))
            continue;
        ++plain;
        for (int flags = 0; flags < 8; ++flags)
            if (check_mailbox_fully(a, flags & 1, flags & 2, flags & 4) != errc{})
                BOOST_FAIL("the fast path accepted what the full checks refuse: " << a);
    }
    BOOST_TEST(plain > 10000u, "only " << plain << " random addresses took the fast path");
    for (std::string_view a : std::initializer_list<std::string_view>{"alice@example.com", "a.b+tag@sub-domain.example_x.org", "x@y", "very.long.name@mail.example"})
        BOOST_TEST(mailbox_is_plain(a), a);
    for (std::string_view a : std::initializer_list<std::string_view>{"", "Postmaster", "\"a b\"@example.com", "a@[192.0.2.1]", "j\xc3\xb6rg@example.com",
                               "a@b..c", "a@.b", "a@b.", "@b", "a@", "a@b@c", std::string_view("a\0@b", 4)})
        BOOST_TEST(!mailbox_is_plain(a), a);
    const std::string local65(65, 'a'), label64(64, 'b');
    BOOST_TEST(!mailbox_is_plain(local65 + "@example.com"));
    BOOST_TEST(!mailbox_is_plain("a@" + label64 + ".com"));
    BOOST_TEST(mailbox_is_plain(local65.substr(1) + "@" + label64.substr(1) + ".com"));
    // The last label too, and a second '@' wherever it is.
    BOOST_TEST(!mailbox_is_plain("a@example." + label64));
    BOOST_TEST(mailbox_is_plain("a@example." + label64.substr(1)));
    BOOST_TEST(!mailbox_is_plain("a@b.c@d.e"));
    BOOST_TEST(!mailbox_is_plain("a.b@@c.d"));
}

BOOST_AUTO_TEST_CASE(esmtp_parameters)
{
    for (const auto& bad : control_bytes) {
        for (const auto& k : with_inserted("SIZE", bad)) {
            const std::array p{esmtp_param{k, "1000"}};
            check_rejected(cmd::mail_from{"a@example.com", p}, errc::control_character, "ESMTP parameter keyword", k);
            check_rejected(cmd::rcpt_to{"a@example.com", p}, errc::control_character, "ESMTP parameter keyword", k);
            const std::array flag{esmtp_param{k}};
            check_rejected(cmd::mail_from{"a@example.com", flag}, errc::control_character, "ESMTP parameter keyword",
                           k);
        }
        for (const auto& v : with_inserted("SUCCESS,FAILURE", bad)) {
            const std::array p{esmtp_param{"NOTIFY", v}};
            check_rejected(cmd::rcpt_to{"a@example.com", p}, errc::control_character, "ESMTP parameter value", v);
            check_rejected(cmd::rcpt_to{"a@example.com", p, true}, errc::control_character, "ESMTP parameter value",
                           v);
            check_rejected(cmd::mail_from{"a@example.com", p}, errc::control_character, "ESMTP parameter value", v);
        }
    }
}

BOOST_AUTO_TEST_CASE(text_arguments)
{
    for (const auto& bad : control_bytes)
        for (const auto& t : with_inserted("some text", bad)) {
            check_rejected(cmd::vrfy{{t}}, errc::control_character, "VRFY argument", t);
            check_rejected(cmd::vrfy{{t, true}}, errc::control_character, "VRFY argument", t);
            check_rejected(cmd::expn{{t}}, errc::control_character, "EXPN argument", t);
            check_rejected(cmd::help{{t}}, errc::control_character, "HELP argument", t);
            check_rejected(cmd::noop{{t}}, errc::control_character, "NOOP argument", t);
        }
    // An argument that is nothing but the control byte.
    for (const auto& bad : control_bytes) {
        check_rejected(cmd::noop{{bad}}, errc::control_character, "NOOP argument", bad);
        check_rejected(cmd::vrfy{{bad}}, errc::control_character, "VRFY argument", bad);
    }
}

BOOST_AUTO_TEST_CASE(raw_verb_and_argument)
{
    for (const auto& bad : control_bytes) {
        for (const auto& v : with_inserted("XCMD", bad))
            check_rejected(cmd::raw{v, "arg"}, errc::control_character, "command verb", v);
        for (const auto& a : with_inserted("some argument", bad))
            check_rejected(cmd::raw{"XCMD", a}, errc::control_character, "command argument", a);
    }
}

BOOST_AUTO_TEST_CASE(auth_mechanism)
{
    // A control byte in the mechanism is a control byte, as for every other
    // argument (ESMTP keywords and raw verbs report it as such too).
    for (const auto& bad : control_bytes)
        for (const auto& m : with_inserted("PLAIN", bad)) {
            check_rejected(cmd::auth{m}, errc::control_character, "AUTH mechanism", m);
            check_rejected(cmd::auth{m, "\0u\0p"sv}, errc::control_character, "AUTH mechanism", m);
        }
}

BOOST_AUTO_TEST_CASE(smtp_injection)
{
    // Attempts to smuggle a second command onto the wire.
    check_rejected(cmd::mail_from{"a@b.com>\r\nRCPT TO:<c@d.com"}, errc::angle_bracket_in_address,
                   "MAIL FROM address", "bracket first");
    check_rejected(cmd::mail_from{"a@b.com\r\nRCPT TO:<c@d.com>"}, errc::control_character, "MAIL FROM address",
                   "CRLF first");
    check_rejected(cmd::mail_from{"a@b.com\nRCPT TO:<c@d.com>"}, errc::control_character, "MAIL FROM address",
                   "bare LF");
    check_rejected(cmd::mail_from{"a@b.com\rRCPT TO:<c@d.com>"}, errc::control_character, "MAIL FROM address",
                   "bare CR");
    check_rejected(cmd::mail_from{"a@b.com> SIZE=1\r\nRSET"}, errc::angle_bracket_in_address, "MAIL FROM address",
                   "param smuggling");
    check_rejected(cmd::rcpt_to{"c@d.com>\r\nDATA\r\n.\r\nQUIT"}, errc::angle_bracket_in_address, "RCPT TO address",
                   "bracket first");
    check_rejected(cmd::rcpt_to{"c@d.com\r\nDATA"}, errc::control_character, "RCPT TO address", "CRLF");
    check_rejected(cmd::rcpt_to{"postmaster\r\nRCPT TO:<x@y.com>"}, errc::control_character, "RCPT TO address",
                   "postmaster CRLF");
    check_rejected(cmd::ehlo{{"x\r\nMAIL FROM:<a@b.com>"}}, errc::control_character, "EHLO domain", "EHLO CRLF");
    check_rejected(cmd::helo{{"x\nQUIT"}}, errc::control_character, "HELO domain", "HELO LF");
    const std::array size_inj{esmtp_param{"SIZE", "1\r\nRCPT TO:<x@y.com>"}};
    check_rejected(cmd::mail_from{"a@b.com", size_inj}, errc::control_character, "ESMTP parameter value",
                   "value CRLF");
    const std::array kw_inj{esmtp_param{"SIZE=1\r\nRSET"}};
    check_rejected(cmd::mail_from{"a@b.com", kw_inj}, errc::control_character, "ESMTP parameter keyword",
                   "keyword CRLF");
    check_rejected(cmd::vrfy{{"a\r\nDATA"}}, errc::control_character, "VRFY argument", "VRFY CRLF");
    check_rejected(cmd::expn{{"list\r\nQUIT"}}, errc::control_character, "EXPN argument", "EXPN CRLF");
    check_rejected(cmd::noop{{"\nQUIT"}}, errc::control_character, "NOOP argument", "NOOP LF");
    check_rejected(cmd::help{{"x\r\nRSET"}}, errc::control_character, "HELP argument", "HELP CRLF");
    check_rejected(cmd::raw{"NOOP", "\r\nDATA"}, errc::control_character, "command argument", "raw argument");
    check_rejected(cmd::raw{"NOOP\r\nDATA"}, errc::control_character, "command verb", "raw verb");
    check_rejected(cmd::auth{"PLAIN\r\nMAIL"}, errc::control_character, "AUTH mechanism", "AUTH mechanism CRLF");

    // Secrets are base64: CR LF in credentials cannot end the line early.
    for (std::string_view secret : {"\r\nQUIT\r\n"sv, "\0user\0pa\nss"sv, "\r"sv, "\n.\n"sv}) {
        for (const std::string& line : {written(cmd::auth{"PLAIN", secret}), written(cmd::auth_response{secret})}) {
            BOOST_TEST(line.find_first_of("\r\n") == line.size() - 2, show(line));
            BOOST_TEST(line.ends_with("\r\n"));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lengths)

// RFC 5321 4.5.3.1.1: local-part 64 octets.
BOOST_AUTO_TEST_CASE(local_part)
{
    const std::string ok = std::string(64, 'l') + "@example.com";
    const std::string too_long = std::string(65, 'l') + "@example.com";
    BOOST_TEST(written(cmd::mail_from{ok}) == "MAIL FROM:<" + ok + ">\r\n");
    BOOST_TEST(written(cmd::rcpt_to{ok}) == "RCPT TO:<" + ok + ">\r\n");
    check_rejected(cmd::mail_from{too_long}, errc::local_part_too_long, "MAIL FROM address", "65-octet local part");
    check_rejected(cmd::rcpt_to{too_long}, errc::local_part_too_long, "RCPT TO address", "65-octet local part");
    // A quoted local part counts its quotes. Appended, not "\"" + ...: g++ 12
    // -O3 warns falsely (-Wrestrict, GCC bug 105651) on that with Boost 1.81.
    std::string quoted_ok = "\"", quoted_long = "\"";
    quoted_ok.append(62, 'q').append("\"@example.com");
    quoted_long.append(63, 'q').append("\"@example.com");
    BOOST_TEST(written(cmd::rcpt_to{quoted_ok}) == "RCPT TO:<" + quoted_ok + ">\r\n");
    check_rejected(cmd::rcpt_to{quoted_long}, errc::local_part_too_long, "RCPT TO address", "65-octet quoted");
}

// RFC 5321 4.5.3.1.2: domain 255 octets.
BOOST_AUTO_TEST_CASE(domain)
{
    const std::string d255 = domain_of_length(255), d256 = domain_of_length(256);
    BOOST_TEST_REQUIRE(d255.size() == 255u);
    BOOST_TEST_REQUIRE(d256.size() == 256u);
    BOOST_TEST(written(cmd::ehlo{{d255}}) == "EHLO " + d255 + "\r\n");
    BOOST_TEST(written(cmd::helo{{d255}}) == "HELO " + d255 + "\r\n");
    check_rejected(cmd::ehlo{{d256}}, errc::domain_too_long, "EHLO domain", "256-octet domain");
    check_rejected(cmd::helo{{d256}}, errc::domain_too_long, "HELO domain", "256-octet domain");
    check_rejected(cmd::lhlo{{std::string(300, 'a')}}, errc::domain_too_long, "LHLO domain", "300 octets");
    // Labels: 63 octets fine, 64 not.
    const std::string l63 = std::string(63, 'x') + ".example";
    const std::string l64 = std::string(64, 'x') + ".example";
    BOOST_TEST(written(cmd::ehlo{{l63}}) == "EHLO " + l63 + "\r\n");
    check_rejected(cmd::ehlo{{l64}}, errc::invalid_domain, "EHLO domain", "64-octet label");
    check_rejected(cmd::rcpt_to{"a@" + l64}, errc::invalid_domain, "RCPT TO address", "64-octet label");
    check_rejected(cmd::ehlo{{"example." + std::string(64, 'x')}}, errc::invalid_domain, "EHLO domain",
                   "64-octet last label");
}

// RFC 5321 4.5.3.1.3: path 256 octets with the angle brackets.
BOOST_AUTO_TEST_CASE(path)
{
    const std::string a254 = std::string(64, 'p') + "@" + domain_of_length(189); // 254 + "<>" = 256
    const std::string a255 = std::string(64, 'p') + "@" + domain_of_length(190); // 257
    BOOST_TEST_REQUIRE(a254.size() == 254u);
    BOOST_TEST_REQUIRE(a255.size() == 255u);
    BOOST_TEST(written(cmd::mail_from{a254}) == "MAIL FROM:<" + a254 + ">\r\n");
    BOOST_TEST(written(cmd::rcpt_to{a254}) == "RCPT TO:<" + a254 + ">\r\n");
    check_rejected(cmd::mail_from{a255}, errc::path_too_long, "MAIL FROM address", "257-octet path");
    check_rejected(cmd::rcpt_to{a255}, errc::path_too_long, "RCPT TO address", "257-octet path");
    const std::string a300 = "a@" + domain_of_length(298);
    check_rejected(cmd::rcpt_to{a300}, errc::path_too_long, "RCPT TO address", "302-octet path");
}

// RFC 5321 4.5.3.1.4: 512 octets with CRLF.
BOOST_AUTO_TEST_CASE(command_line)
{
    // NOOP: "NOOP " + argument + CRLF.
    const std::string n505(505, 'n'), n506(506, 'n');
    BOOST_TEST(written(cmd::noop{{n505}}).size() == 512u);
    check_rejected(cmd::noop{{n506}}, errc::command_line_too_long, "command line", "513-octet NOOP");
    BOOST_TEST(written(cmd::help{{n505}}).size() == 512u);
    check_rejected(cmd::help{{n506}}, errc::command_line_too_long, "command line", "513-octet HELP");
    BOOST_TEST(written(cmd::vrfy{{n505}}).size() == 512u);
    check_rejected(cmd::vrfy{{n506}}, errc::command_line_too_long, "command line", "513-octet VRFY");
    // VRFY with SMTPUTF8: the " SMTPUTF8" counts.
    const std::string v496(496, 'v'), v497(497, 'v');
    BOOST_TEST(written(cmd::vrfy{{v496, true}}).size() == 512u);
    check_rejected(cmd::vrfy{{v497, true}}, errc::command_line_too_long, "command line", "513-octet VRFY SMTPUTF8");
    // raw: verb SP argument CRLF.
    const std::string r505(505, 'r'), r506(506, 'r');
    BOOST_TEST(written(cmd::raw{"XCMD", r505}).size() == 512u);
    check_rejected(cmd::raw{"XCMD", r506}, errc::command_line_too_long, "command line", "513-octet raw");
    BOOST_TEST(written(cmd::raw{std::string(510, 'X')}).size() == 512u);
    check_rejected(cmd::raw{std::string(511, 'X')}, errc::command_line_too_long, "command line", "513-octet verb");
}

BOOST_AUTO_TEST_CASE(mail_and_rcpt_lines)
{
    // An unregistered parameter adds nothing to the 512 octets.
    constexpr std::string_view mail_head = "MAIL FROM:<a@example.com> X-P=";
    const std::string v_ok(512 - 2 - mail_head.size(), 'v'), v_long(v_ok.size() + 1, 'v');
    const std::array p_ok{esmtp_param{"X-P", v_ok}}, p_long{esmtp_param{"X-P", v_long}};
    BOOST_TEST(written(cmd::mail_from{"a@example.com", p_ok}).size() == 512u);
    check_rejected(cmd::mail_from{"a@example.com", p_long}, errc::command_line_too_long, "command line",
                   "513-octet MAIL");

    constexpr std::string_view rcpt_head = "RCPT TO:<a@example.com> X-P=";
    const std::string r_ok(512 - 2 - rcpt_head.size(), 'v'), r_long(r_ok.size() + 1, 'v');
    const std::array q_ok{esmtp_param{"X-P", r_ok}}, q_long{esmtp_param{"X-P", r_long}};
    BOOST_TEST(written(cmd::rcpt_to{"a@example.com", q_ok}).size() == 512u);
    check_rejected(cmd::rcpt_to{"a@example.com", q_long}, errc::command_line_too_long, "command line",
                   "513-octet RCPT");

    // SIZE (RFC 1870 5) adds 26 octets to MAIL's limit: 538.
    constexpr std::string_view size_head = "MAIL FROM:<a@example.com> SIZE=1 X-P=";
    const std::string s_ok(538 - 2 - size_head.size(), 's'), s_long(s_ok.size() + 1, 's');
    const std::array sz_ok{esmtp_param{"SIZE", "1"}, esmtp_param{"X-P", s_ok}};
    const std::array sz_long{esmtp_param{"SIZE", "1"}, esmtp_param{"X-P", s_long}};
    BOOST_TEST(written(cmd::mail_from{"a@example.com", sz_ok}).size() == 538u);
    check_rejected(cmd::mail_from{"a@example.com", sz_long}, errc::command_line_too_long, "command line",
                   "539-octet MAIL with SIZE");

    // SMTPUTF8 (RFC 6531 3.4) adds 10: 522.
    constexpr std::string_view utf8_head = "MAIL FROM:<a@example.com> X-P=";
    constexpr std::string_view utf8_tail = " SMTPUTF8\r\n";
    const std::string u_ok(522 - utf8_head.size() - utf8_tail.size(), 'u'), u_long(u_ok.size() + 1, 'u');
    const std::array ut_ok{esmtp_param{"X-P", u_ok}}, ut_long{esmtp_param{"X-P", u_long}};
    BOOST_TEST(written(cmd::mail_from{"a@example.com", ut_ok, true}).size() == 522u);
    check_rejected(cmd::mail_from{"a@example.com", ut_long, true}, errc::command_line_too_long, "command line",
                   "523-octet MAIL with SMTPUTF8");

    // NOTIFY and ORCPT (RFC 3461 4) together add 500 to RCPT's: 1012.
    constexpr std::string_view dsn_head = "RCPT TO:<a@example.com> NOTIFY=NEVER ORCPT=rfc822;";
    const std::string o_ok(1012 - 2 - dsn_head.size(), 'o'), o_long(o_ok.size() + 1, 'o');
    const std::string orcpt_ok = "rfc822;" + o_ok, orcpt_long = "rfc822;" + o_long;
    const std::array d_ok{esmtp_param{"NOTIFY", "NEVER"}, esmtp_param{"ORCPT", orcpt_ok}};
    const std::array d_long{esmtp_param{"NOTIFY", "NEVER"}, esmtp_param{"ORCPT", orcpt_long}};
    BOOST_TEST(written(cmd::rcpt_to{"a@example.com", d_ok}).size() == 1012u);
    check_rejected(cmd::rcpt_to{"a@example.com", d_long}, errc::command_line_too_long, "command line",
                   "1013-octet RCPT with NOTIFY and ORCPT");
}

// RFC 4954 4: an AUTH line with its initial response may be 12288 octets.
BOOST_AUTO_TEST_CASE(auth_line)
{
    // "AUTH TEST " + base64(9207 octets) = 12276 + CRLF = 12288.
    const std::string secret(9207, 's');
    const std::string line = written(cmd::auth{"TEST", std::string_view(secret)});
    BOOST_TEST(line.size() == 12288u);
    BOOST_TEST(line.starts_with("AUTH TEST c3Nz"));
    // One more mechanism octet: 12289.
    check_rejected(cmd::auth{"TESTS", std::string_view(secret)}, errc::command_line_too_long, "command line",
                   "12289-octet AUTH");
    // Far beyond 512 is fine for AUTH.
    BOOST_TEST(written(cmd::auth{"PLAIN", std::string_view(std::string(1000, 'x'))}).size() > 512u);

    // A response line: base64 + CRLF. 9213 octets -> 12284 + 2 = 12286 fits;
    // 9214 -> 12288 + 2 = 12290 does not.
    BOOST_TEST(written(cmd::auth_response{std::string(9213, 'r')}).size() == 12286u);
    const std::string r9214(9214, 'r');
    check_rejected(cmd::auth_response{r9214}, errc::command_line_too_long, "command line", "12290-octet response");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(address_syntax)

BOOST_AUTO_TEST_CASE(angle_brackets)
{
    for (std::string_view a : {"<alice@example.com>"sv, "<alice@example.com"sv, "alice@example.com>"sv,
                               "al<ice@example.com"sv, "alice@exa>mple.com"sv, "<>"sv, ">"sv}) {
        check_rejected(cmd::mail_from{a}, errc::angle_bracket_in_address, "MAIL FROM address", a);
        check_rejected(cmd::rcpt_to{a}, errc::angle_bracket_in_address, "RCPT TO address", a);
    }
    // Whichever comes first decides.
    check_rejected(cmd::rcpt_to{"a\r\n<b@example.com"}, errc::control_character, "RCPT TO address", "CR first");
    check_rejected(cmd::rcpt_to{"a<\r\nb@example.com"}, errc::angle_bracket_in_address, "RCPT TO address",
                   "< first");
}

BOOST_AUTO_TEST_CASE(null_path_and_postmaster)
{
    BOOST_TEST(written(cmd::mail_from{""}) == "MAIL FROM:<>\r\n");
    check_rejected(cmd::rcpt_to{""}, errc::empty_argument, "RCPT TO address", "empty");
    check_rejected(cmd::rcpt_to{"", {}, true}, errc::empty_argument, "RCPT TO address", "empty");
    // Bare postmaster is for RCPT only.
    check_rejected(cmd::mail_from{"postmaster"}, errc::address_syntax, "MAIL FROM address", "postmaster");
    check_rejected(cmd::rcpt_to{"postmasters"}, errc::address_syntax, "RCPT TO address", "postmasters");
    check_rejected(cmd::rcpt_to{"postmaste"}, errc::address_syntax, "RCPT TO address", "postmaste");
}

BOOST_AUTO_TEST_CASE(shape)
{
    for (std::string_view a : {"alice"sv, "@example.com"sv, "alice@"sv, "alice@@example.com"sv,
                               "al ice@example.com"sv, "al(ice)@example.com"sv, "al,ice@example.com"sv,
                               "al\"ice@example.com"sv, "al\\ice@example.com"sv, "a@b@example.com"sv,
                               "[a]@example.com"sv, "al:ice@example.com"sv}) {
        check_rejected(cmd::mail_from{a}, errc::address_syntax, "MAIL FROM address", a);
        check_rejected(cmd::rcpt_to{a}, errc::address_syntax, "RCPT TO address", a);
    }
    for (std::string_view a : {"alice@exa mple.com"sv, "alice@a..b"sv, "alice@example.com."sv,
                               "alice@.example.com"sv, "alice@exa_mple!.com"sv, "alice@[]"sv,
                               "alice@[192.0.2.1"sv, "alice@192.0.2.1]"sv, "alice@[1.2.3.4 ]"sv,
                               "alice@[a[b]"sv}) {
        check_rejected(cmd::mail_from{a}, errc::invalid_domain, "MAIL FROM address", a);
        check_rejected(cmd::rcpt_to{a}, errc::invalid_domain, "RCPT TO address", a);
    }
    // Address literals.
    BOOST_TEST(written(cmd::rcpt_to{"bob@[IPv6:2001:db8::1]"}) == "RCPT TO:<bob@[IPv6:2001:db8::1]>\r\n");
}

BOOST_AUTO_TEST_CASE(quoted_local_parts)
{
    BOOST_TEST(written(cmd::rcpt_to{"\"john doe\"@example.com"}) == "RCPT TO:<\"john doe\"@example.com>\r\n");
    BOOST_TEST(written(cmd::rcpt_to{"\"\"@example.com"}) == "RCPT TO:<\"\"@example.com>\r\n");
    BOOST_TEST(written(cmd::rcpt_to{"\"a\\\\b\"@example.com"}) == "RCPT TO:<\"a\\\\b\"@example.com>\r\n");
    for (std::string_view a : {"\"john@example.com"sv, "\"@example.com"sv, "\"john doe@example.com"sv,
                               "\"john\"doe\"@example.com"sv, "\"abc\\\"@example.com"sv, "john doe\"@example.com"sv}) {
        check_rejected(cmd::mail_from{a}, errc::address_syntax, "MAIL FROM address", a);
        check_rejected(cmd::rcpt_to{a}, errc::address_syntax, "RCPT TO address", a);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(utf8)

BOOST_AUTO_TEST_CASE(non_ascii_without_smtputf8)
{
    for (std::string_view a : {"pelé@example.com"sv, "用户@例子.广告"sv, "alice@exämple.com"sv, "\xFF@example.com"sv}) {
        check_rejected(cmd::mail_from{a}, errc::non_ascii_without_smtputf8, "MAIL FROM address", a);
        check_rejected(cmd::rcpt_to{a}, errc::non_ascii_without_smtputf8, "RCPT TO address", a);
    }
    check_rejected(cmd::ehlo{{"例子.广告"}}, errc::non_ascii_without_smtputf8, "EHLO domain", "U-label");
    check_rejected(cmd::vrfy{{"pelé"}}, errc::non_ascii_without_smtputf8, "VRFY argument", "pelé");
    check_rejected(cmd::expn{{"pelé"}}, errc::non_ascii_without_smtputf8, "EXPN argument", "pelé");
    // HELP and NOOP never carry UTF-8, even with the flag.
    check_rejected(cmd::noop{{"pelé", true}}, errc::non_ascii_without_smtputf8, "NOOP argument", "pelé");
    check_rejected(cmd::help{{"pelé", true}}, errc::non_ascii_without_smtputf8, "HELP argument", "pelé");
    check_rejected(cmd::raw{"XCMD", "pelé"}, errc::non_ascii_without_smtputf8, "command argument", "pelé");
    const std::array p{esmtp_param{"X-NAME", "pelé"}};
    check_rejected(cmd::mail_from{"a@example.com", p}, errc::non_ascii_without_smtputf8, "ESMTP parameter value",
                   "pelé");
    check_rejected(cmd::rcpt_to{"a@example.com", p}, errc::non_ascii_without_smtputf8, "ESMTP parameter value",
                   "pelé");
}

BOOST_AUTO_TEST_CASE(valid_utf8_with_smtputf8)
{
    for (std::string_view a : {"pelé@example.com"sv, "用户@例子.广告"sv, "δοκιμή@παράδειγμα.δοκιμή"sv,
                               "\xF0\x9F\x98\x80@example.com"sv, "\xF4\x8F\xBF\xBF@example.com"sv,
                               "\xEF\xBF\xBD@example.com"sv, "\"pelé doe\"@example.com"sv}) {
        BOOST_TEST(written(cmd::mail_from{a, {}, true}) == "MAIL FROM:<" + std::string(a) + "> SMTPUTF8\r\n");
        BOOST_TEST(written(cmd::rcpt_to{a, {}, true}) == "RCPT TO:<" + std::string(a) + ">\r\n");
    }
    const std::array p{esmtp_param{"X-NAME", "pelé"}};
    BOOST_TEST(written(cmd::mail_from{"a@example.com", p, true}) == "MAIL FROM:<a@example.com> X-NAME=pelé SMTPUTF8\r\n");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_with_smtputf8)
{
    const std::vector<std::string> bad = {
        "\xC0\x80"s,         // overlong NUL
        "\xC1\xBF"s,         // overlong
        "\xE0\x80\xAF"s,     // overlong '/'
        "\xF0\x80\x80\xAF"s, // overlong, four octets
        "\xED\xA0\x80"s,     // surrogate U+D800
        "\xED\xBF\xBF"s,     // surrogate U+DFFF
        "\xF4\x90\x80\x80"s, // past U+10FFFF
        "\xF5\x80\x80\x80"s, // F5 lead
        "\xF8\x88\x80\x80\x80"s, "\xFE"s, "\xFF"s,
        "\x80"s,             // lone continuation
        "\xBF"s,
        "\xC3"s,             // truncated
        "\xE4\xB8"s,         // truncated three-octet
        "\xF0\x9F\x98"s,     // truncated four-octet
        "\xC3\x28"s,         // bad continuation
        "\xE4\x28\xB8"s,
    };
    for (const auto& b : bad) {
        // In the local part, in the domain, and as the very last octets.
        for (const std::string& a : {"a" + b + "b@example.com", "ab@exa" + b + "mple.com", "ab@example.com" + b}) {
            check_rejected(cmd::mail_from{a, {}, true}, errc::invalid_utf8, "MAIL FROM address", a);
            check_rejected(cmd::rcpt_to{a, {}, true}, errc::invalid_utf8, "RCPT TO address", a);
        }
        const std::string t = "who" + b;
        check_rejected(cmd::vrfy{{t, true}}, errc::invalid_utf8, "VRFY argument", t);
        check_rejected(cmd::expn{{t, true}}, errc::invalid_utf8, "EXPN argument", t);
        const std::array p{esmtp_param{"X-NAME", t}};
        check_rejected(cmd::mail_from{"a@example.com", p, true}, errc::invalid_utf8, "ESMTP parameter value", t);
    }
    // A sequence cut by the end of the view, with the rest of it in the bytes
    // that follow in memory: the check must stop at the view's end.
    const std::string buffer = "ab@example.com\xC3\xA9 \xE4\xB8\xAD"s;
    const std::string_view cut2 = std::string_view(buffer).substr(0, 15);      // ends in C3 (A9 follows)
    const std::string_view cut3 = std::string_view(buffer).substr(0, 19);      // ends in E4 B8 (AD follows)
    const std::string_view whole3 = std::string_view(buffer).substr(0, 20);
    check_rejected(cmd::mail_from{cut2, {}, true}, errc::invalid_utf8, "MAIL FROM address", cut2);
    check_rejected(cmd::rcpt_to{cut2, {}, true}, errc::invalid_utf8, "RCPT TO address", cut2);
    check_rejected(cmd::vrfy{{cut3.substr(3), true}}, errc::invalid_utf8, "VRFY argument", cut3);
    BOOST_TEST(written(cmd::vrfy{{whole3.substr(3), true}}) == "VRFY example.com\xC3\xA9 \xE4\xB8\xAD SMTPUTF8\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(esmtp_parameter_syntax)

BOOST_AUTO_TEST_CASE(keywords)
{
    for (std::string_view k : {""sv, "-SIZE"sv, "SI ZE"sv, "SIZE="sv, "SIZE=10"sv, "SI_ZE"sv, "SÍZE"sv, "SIZE:"sv,
                               "X.Y"sv}) {
        const std::array p{esmtp_param{k, "1"}};
        check_rejected(cmd::mail_from{"a@example.com", p}, errc::invalid_parameter_keyword, "ESMTP parameter keyword",
                       k);
        check_rejected(cmd::rcpt_to{"a@example.com", p}, errc::invalid_parameter_keyword, "ESMTP parameter keyword",
                       k);
    }
    const std::array good{esmtp_param{"X-FOO-2", "1"}, esmtp_param{"8BITMIME"}, esmtp_param{"a"}};
    BOOST_TEST(written(cmd::mail_from{"a@example.com", good}) == "MAIL FROM:<a@example.com> X-FOO-2=1 8BITMIME a\r\n");
}

BOOST_AUTO_TEST_CASE(values)
{
    for (std::string_view v : {""sv, "a=b"sv, "a b"sv, " "sv, "="sv}) {
        const std::array p{esmtp_param{"X-P", v}};
        check_rejected(cmd::mail_from{"a@example.com", p}, errc::invalid_parameter_value, "ESMTP parameter value", v);
        check_rejected(cmd::rcpt_to{"a@example.com", p}, errc::invalid_parameter_value, "ESMTP parameter value", v);
    }
    // Every other printable ASCII octet is allowed (%d33-60 / %d62-126).
    std::string all;
    for (char c = 33; c < 127; ++c)
        if (c != '=')
            all += c;
    const std::array p{esmtp_param{"X-P", all}};
    BOOST_TEST(written(cmd::rcpt_to{"a@example.com", p}) == "RCPT TO:<a@example.com> X-P=" + all + "\r\n");
}

BOOST_AUTO_TEST_CASE(duplicates)
{
    const std::array twice{esmtp_param{"SIZE", "1"}, esmtp_param{"size", "2"}};
    check_rejected(cmd::mail_from{"a@example.com", twice}, errc::duplicate_parameter, "ESMTP parameter keyword",
                   "SIZE twice");
    const std::array twice_flag{esmtp_param{"NOTIFY", "NEVER"}, esmtp_param{"X-A"}, esmtp_param{"NoTiFy", "NEVER"}};
    check_rejected(cmd::rcpt_to{"a@example.com", twice_flag}, errc::duplicate_parameter, "ESMTP parameter keyword",
                   "NOTIFY twice");
    // The smtputf8 flag is the SMTPUTF8 parameter: giving both is a duplicate.
    for (std::string_view k : {"SMTPUTF8"sv, "smtputf8"sv, "SmtpUtf8"sv}) {
        const std::array p{esmtp_param{k}};
        check_rejected(cmd::mail_from{"a@example.com", p, true}, errc::duplicate_parameter, "ESMTP parameter keyword",
                       k);
        // Without the flag, the explicit parameter alone is fine (ASCII address).
        BOOST_TEST(written(cmd::mail_from{"a@example.com", p}) == "MAIL FROM:<a@example.com> " + std::string(k) + "\r\n");
    }
    // Distinct keywords sharing a prefix are not duplicates.
    const std::array prefix{esmtp_param{"X-A"}, esmtp_param{"X-AB"}};
    BOOST_TEST(written(cmd::rcpt_to{"a@example.com", prefix}) == "RCPT TO:<a@example.com> X-A X-AB\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(other_arguments)

BOOST_AUTO_TEST_CASE(greeting_domain_syntax)
{
    check_rejected(cmd::ehlo{{""}}, errc::empty_argument, "EHLO domain", "empty");
    check_rejected(cmd::helo{{""}}, errc::empty_argument, "HELO domain", "empty");
    check_rejected(cmd::lhlo{{""}}, errc::empty_argument, "LHLO domain", "empty");
    for (std::string_view d : {"a..b"sv, "example.com."sv, ".example.com"sv, "."sv, "exa mple.com"sv, " "sv,
                               "a@b"sv, "[]"sv, "[192.0.2.1"sv, "192.0.2.1]"sv, "[1.2.3.4] "sv, "[a]b]"sv,
                               "[a\\b]"sv, "host,name"sv}) {
        check_rejected(cmd::ehlo{{d}}, errc::invalid_domain, "EHLO domain", d);
        check_rejected(cmd::lhlo{{d}}, errc::invalid_domain, "LHLO domain", d);
    }
    BOOST_TEST(written(cmd::ehlo{{"a"}}) == "EHLO a\r\n");
    BOOST_TEST(written(cmd::ehlo{{"[IPv6:::1]"}}) == "EHLO [IPv6:::1]\r\n");
}

BOOST_AUTO_TEST_CASE(required_text)
{
    check_rejected(cmd::vrfy{{""}}, errc::empty_argument, "VRFY argument", "empty");
    check_rejected(cmd::vrfy{{"", true}}, errc::empty_argument, "VRFY argument", "empty");
    check_rejected(cmd::expn{{""}}, errc::empty_argument, "EXPN argument", "empty");
}

BOOST_AUTO_TEST_CASE(mechanism_names)
{
    // RFC 4422 3.1: 1 to 20 of upper-case letters, digits, '-' and '_'.
    for (std::string_view m : {""sv, "plain"sv, "Plain"sv, "PLAIN LOGIN"sv, "PLAIN="sv, "SCRAM.SHA"sv,
                               "ABCDEFGHIJKLMNOPQRSTU"sv, "PLAİN"sv}) {
        check_rejected(cmd::auth{m}, errc::invalid_mechanism_name, "AUTH mechanism", m);
        check_rejected(cmd::auth{m, "x"sv}, errc::invalid_mechanism_name, "AUTH mechanism", m);
    }
    BOOST_TEST(written(cmd::auth{"ABCDEFGHIJKLMNOPQRST"}) == "AUTH ABCDEFGHIJKLMNOPQRST\r\n");
    BOOST_TEST(written(cmd::auth{"SCRAM-SHA-1-PLUS"}) == "AUTH SCRAM-SHA-1-PLUS\r\n");
}

BOOST_AUTO_TEST_CASE(raw_verbs)
{
    check_rejected(cmd::raw{""}, errc::empty_argument, "command verb", "empty");
    check_rejected(cmd::raw{"", "arg"}, errc::empty_argument, "command verb", "empty with argument");
    for (std::string_view v : {"MAIL FROM:"sv, "X FOO"sv, "-X"sv, "X_Y"sv, "X:"sv, " NOOP"sv}) {
        check_rejected(cmd::raw{v}, errc::invalid_command_verb, "command verb", v);
    }
    check_rejected(cmd::raw{"VRFÝ"}, errc::non_ascii_without_smtputf8, "command verb", "8-bit verb");
}

BOOST_AUTO_TEST_CASE(throwing_form_message)
{
    const cmd::mail_from bad{"a@b.com\r\nRCPT TO:<c@d.com>"};
    try {
        (void)smtp::to_string(bad);
        BOOST_FAIL("to_string did not throw");
    } catch (const smtp::error_with_diagnostics& e) {
        BOOST_TEST(code_of(e.code()) == errc::control_character);
        BOOST_TEST(e.get_diagnostics().field() == "MAIL FROM address");
        BOOST_TEST(!e.get_diagnostics().server_reply().has_value());
        const std::string what = e.what();
        BOOST_TEST(what.starts_with("MAIL FROM address "), what);
        BOOST_TEST(what.find(smtp::make_error_code(errc::control_character).message()) != std::string::npos, what);
        // diagnostics.hpp: "what() is diagnostics::describe()".
        BOOST_TEST(what == e.get_diagnostics().describe(e.code()));
    }
    // It is an smtp::system_error too.
    BOOST_CHECK_THROW(smtp::to_string(cmd::ehlo{{""}}), smtp::system_error);
}

BOOST_AUTO_TEST_SUITE_END()

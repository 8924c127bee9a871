// The protocol algorithms (smtp/protocol/algorithms/), driven with no Asio at
// all: a transcript loop of this file's own plays the server (expect this
// write, feed this read, a connect, a handshake, a close), checks each action
// the algorithm asks for, and can inject an I/O failure at any step. Every
// operation is covered, with each class of reply, and every transcript is run
// again with a failure at each of its steps (as Boost.MySQL's
// check_network_errors does): the algorithm must stop there with the error,
// ask for nothing but a close, and never report success.
//
// This file includes the algorithms and Boost.Test only; the
// test_algorithms_has_no_io_headers ctest checks that no Asio, OpenSSL or
// socket header reaches it.
#include <smtp/protocol/algorithms.hpp>

#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/protocol/session_rules.hpp>

#define BOOST_TEST_MODULE algorithms
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sansio = smtp::sansio;
using smtp::errc;
using smtp::error_code;
using sansio::next_action;

namespace {

// --- The transcript ---------------------------------------------------------------

struct io_step {
    next_action action;
    std::string bytes{}; ///< write: what the client must write; read: what the server sends
    std::string handshake_bytes{}; ///< tls_handshake that fails: what the peer sent instead
};

io_step connect() { return {next_action::connect}; }
io_step handshake() { return {next_action::tls_handshake}; }
io_step write(std::string b) { return {next_action::write, std::move(b)}; }
io_step read(std::string b) { return {next_action::read, std::move(b)}; }
io_step close() { return {next_action::close}; }

const char* name(next_action a)
{
    switch (a) {
    case next_action::connect: return "connect";
    case next_action::write: return "write";
    case next_action::read: return "read";
    case next_action::tls_handshake: return "tls_handshake";
    case next_action::close: return "close";
    case next_action::done: return "done";
    }
    return "?";
}

const error_code injected = boost::system::errc::make_error_code(boost::system::errc::connection_reset);

struct outcome {
    std::size_t steps = 0;      ///< steps of the script used
    bool finished = false;      ///< the algorithm said done
    bool script_ok = true;      ///< every action was the one the script expected
    std::vector<std::string> written{}; ///< every write, in order
};

using state = sansio::session_state<>;

std::unique_ptr<state> make_state(bool lmtp = false)
{
    smtp::connect_options o;
    o.local_name = "client.example";
    auto st = std::make_unique<state>(std::move(o));
    st->lmtp = lmtp;
    return st;
}

/// Runs `algo` over the script. `fail_at`: the step whose I/O fails with
/// `injected` (none: every I/O succeeds). After a failure, only a close may
/// follow.
template <class Algo>
outcome play(Algo& algo, state& st, const std::vector<io_step>& script,
             std::size_t fail_at = static_cast<std::size_t>(-1))
{
    outcome out;
    next_action a = algo.resume(st, {});
    bool failed = false;
    for (int guard = 0; a != next_action::done && guard < 1000; ++guard) {
        error_code io_ec;
        if (failed) { // after the failure: a close, or nothing
            if (a != next_action::close) {
                BOOST_ERROR("after the injected failure at step " << fail_at << " the algorithm asked for " << name(a));
                out.script_ok = false;
                return out;
            }
            st.closed = true;
            a = algo.resume(st, {});
            continue;
        }
        if (out.steps >= script.size()) {
            BOOST_ERROR("the algorithm asked for " << name(a) << " after the script ended");
            out.script_ok = false;
            return out;
        }
        const io_step& s = script[out.steps];
        if (a != s.action) {
            BOOST_ERROR("step " << out.steps << ": the algorithm asked for " << name(a) << ", the script has "
                                << name(s.action));
            out.script_ok = false;
            return out;
        }
        const bool fail = out.steps == fail_at && a != next_action::close;
        if (fail) {
            io_ec = injected;
            failed = true;
        }
        switch (a) {
        case next_action::write:
            out.written.push_back(st.wbuf);
            if (!fail && st.wbuf != s.bytes) {
                BOOST_ERROR("step " << out.steps << ": the algorithm wrote [" << st.wbuf << "], the script has ["
                                    << s.bytes << "]");
                out.script_ok = false;
            }
            if (!fail)
                st.wbuf.clear();
            break;
        case next_action::read: {
            const auto area = st.read_area();
            BOOST_REQUIRE(s.bytes.size() <= area.size());
            std::copy(s.bytes.begin(), s.bytes.end(), area.begin());
            st.commit_read(fail ? 0 : s.bytes.size());
            break;
        }
        case next_action::tls_handshake:
            if (fail)
                st.handshake_bytes = s.handshake_bytes;
            else
                st.encrypted = true;
            break;
        case next_action::close: st.closed = true; break;
        case next_action::connect:
        case next_action::done: break;
        }
        ++out.steps;
        a = algo.resume(st, io_ec);
    }
    out.finished = a == next_action::done;
    return out;
}

/// Plays the whole script (which must be used up) and returns the state.
template <class Make>
std::unique_ptr<state> run_ok(Make make, const std::vector<io_step>& script, bool lmtp = false,
                              void (*prepare)(state&) = nullptr)
{
    auto st = make_state(lmtp);
    if (prepare)
        prepare(*st);
    auto algo = make();
    const outcome o = play(algo, *st, script);
    BOOST_TEST(o.script_ok);
    BOOST_TEST(o.finished);
    BOOST_TEST(o.steps == script.size(), "the script has steps the algorithm did not take");
    return st;
}

/// The same script with a failure injected at each of its I/O steps in
/// turn: the algorithm stops there with that error (or outcome_unknown,
/// after the end of data went out), asking for nothing but a close.
template <class Make>
void check_network_errors(Make make, const std::vector<io_step>& script, bool lmtp = false,
                          void (*prepare)(state&) = nullptr)
{
    std::size_t checked = 0;
    for (std::size_t k = 0; k < script.size(); ++k) {
        if (script[k].action == next_action::close)
            continue;
        BOOST_TEST_CONTEXT("failure at step " << k << " (" << name(script[k].action) << ")")
        {
            auto st = make_state(lmtp);
            if (prepare)
                prepare(*st);
            auto algo = make();
            const outcome o = play(algo, *st, script, k);
            BOOST_TEST(o.script_ok);
            BOOST_TEST(o.finished);
            BOOST_TEST(o.steps == k + 1, "the algorithm went on after the failure");
            BOOST_TEST((st->ec == injected || st->ec == errc::outcome_unknown), "ec: " << st->ec.message());
            ++checked;
        }
    }
    BOOST_TEST(checked > 0u);
}

const std::string ehlo_reply = "250-server.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"
                               "250-8BITMIME\r\n250 SIZE 1000000\r\n";
const std::string ehlo_reply_tls = "250-server.example\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n";

void greeted_with_ehlo(state& st)
{
    error_code ec;
    smtp::reply_parser p;
    smtp::reply_view r;
    p.put(ehlo_reply, r, ec);
    st.caps = smtp::capabilities::from_ehlo(r, ec);
    st.esmtp = true;
}
void greeted_without_pipelining(state& st)
{
    error_code ec;
    smtp::reply_parser p;
    smtp::reply_view r;
    const std::string_view caps = "250-server.example\r\n250 8BITMIME\r\n";
    p.put(caps, r, ec);
    st.caps = smtp::capabilities::from_ehlo(r, ec);
    st.esmtp = true;
}

} // namespace

// --- Greeting ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(greeting_220)
{
    const std::vector<io_step> script{connect(), read("220 server.example ESMTP\r\n")};
    auto st = run_ok([] { return sansio::greeting(false); }, script);
    BOOST_TEST(!st->ec);
    BOOST_TEST(st->current.code().value() == 220);
    check_network_errors([] { return sansio::greeting(false); }, script);
}

BOOST_AUTO_TEST_CASE(greeting_multi_line_in_pieces)
{
    const std::vector<io_step> script{connect(), read("220-server.example\r\n220-wel"), read("come\r\n220 ESMTP\r\n")};
    auto st = run_ok([] { return sansio::greeting(false); }, script);
    BOOST_TEST(!st->ec);
    BOOST_TEST(st->current.line_count() == 3u);
    check_network_errors([] { return sansio::greeting(false); }, script);
}

BOOST_AUTO_TEST_CASE(greeting_implicit_tls)
{
    const std::vector<io_step> script{connect(), handshake(), read("220 server.example ESMTP\r\n")};
    auto st = run_ok([] { return sansio::greeting(true); }, script);
    BOOST_TEST(!st->ec);
    BOOST_TEST(st->encrypted);
    check_network_errors([] { return sansio::greeting(true); }, script);
}

BOOST_AUTO_TEST_CASE(greeting_implicit_tls_meets_a_plain_greeting)
{
    auto st = make_state();
    sansio::greeting g(true);
    io_step hs = handshake();
    hs.handshake_bytes = "220 server.example ESMTP\r\n";
    const outcome o = play(g, *st, {connect(), hs}, 1);
    BOOST_TEST(o.finished);
    BOOST_TEST(st->ec == errc::greeting_in_clear);
    BOOST_TEST(st->diag.detail_text().find("220 server.example") != std::string::npos);
    // and an SSH server
    auto st2 = make_state();
    sansio::greeting g2(true);
    hs.handshake_bytes = "SSH-2.0-OpenSSH_9.2\r\n";
    play(g2, *st2, {connect(), hs}, 1);
    BOOST_TEST(st2->ec == errc::not_smtp);
}

BOOST_AUTO_TEST_CASE(greeting_refused_4yz_5yz_421)
{
    for (auto [bytes, want] : {std::pair<std::string, errc>{"554 no service\r\n", errc::permanent_failure},
                               {"421 busy, try later\r\n", errc::transient_failure},
                               {"450 later\r\n", errc::transient_failure}}) {
        auto st = run_ok([] { return sansio::greeting(false); }, {connect(), read(bytes)});
        BOOST_TEST(st->ec == want, bytes);
        BOOST_TEST(st->diag.server_reply().has_value());
    }
    // 421 marks the server as going away.
    auto st = run_ok([] { return sansio::greeting(false); }, {connect(), read("421 bye\r\n")});
    BOOST_TEST(st->server_closing);
}

BOOST_AUTO_TEST_CASE(greeting_wrong_success_codes)
{
    for (std::string bytes : {"250 hello\r\n", "354 what\r\n"}) {
        auto st = run_ok([] { return sansio::greeting(false); }, {connect(), read(bytes)});
        BOOST_TEST(st->ec == errc::unexpected_reply, bytes);
    }
}

BOOST_AUTO_TEST_CASE(greeting_malformed_tls_and_not_smtp)
{
    auto st = run_ok([] { return sansio::greeting(false); }, {connect(), read("22x hello\r\n")});
    BOOST_TEST(st->ec == errc::not_smtp);
    st = run_ok([] { return sansio::greeting(false); }, {connect(), read("220-a\r\n250 b\r\n")});
    BOOST_TEST(st->ec == errc::reply_code_mismatch);
    // A TLS record where the greeting should be: an implicit-TLS port.
    st = run_ok([] { return sansio::greeting(false); }, {connect(), read(std::string("\x16\x03\x03\x00\x10", 5))});
    BOOST_TEST(st->ec == errc::no_greeting);
    BOOST_TEST(st->diag.detail_text().find("TLS") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(greeting_connection_closed_is_no_greeting)
{
    auto st = make_state();
    sansio::greeting g(false);
    BOOST_TEST(name(g.resume(*st, {})) == std::string("connect"));
    BOOST_TEST(name(g.resume(*st, {})) == std::string("read"));
    st->read_area();
    st->commit_read(0);
    BOOST_TEST(name(g.resume(*st, errc::connection_closed)) == std::string("done"));
    BOOST_TEST(st->ec == errc::no_greeting);
}

// --- EHLO -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ehlo_fills_capabilities)
{
    const std::vector<io_step> script{write("EHLO client.example\r\n"), read(ehlo_reply)};
    auto st = run_ok([] { return sansio::ehlo{}; }, script);
    BOOST_TEST(!st->ec);
    BOOST_TEST(st->esmtp);
    BOOST_TEST(st->caps.has<smtp::ext::starttls>());
    BOOST_TEST(st->caps.has<smtp::ext::pipelining>());
    check_network_errors([] { return sansio::ehlo{}; }, script);
}

BOOST_AUTO_TEST_CASE(ehlo_refused_5yz_falls_back_to_helo)
{
    const std::vector<io_step> script{write("EHLO client.example\r\n"), read("502 what\r\n"),
                                      write("HELO client.example\r\n"), read("250 ok\r\n")};
    auto st = run_ok([] { return sansio::ehlo{}; }, script);
    BOOST_TEST(!st->ec);
    BOOST_TEST(!st->esmtp);
    BOOST_TEST(!st->caps.has<smtp::ext::pipelining>());
    check_network_errors([] { return sansio::ehlo{}; }, script);
    // HELO refused too: its error.
    st = run_ok([] { return sansio::ehlo{}; }, {write("EHLO client.example\r\n"), read("502 what\r\n"),
                                                write("HELO client.example\r\n"), read("550 go away\r\n")});
    BOOST_TEST(st->ec == errc::permanent_failure);
}

BOOST_AUTO_TEST_CASE(ehlo_4yz_and_421_do_not_fall_back)
{
    auto st = run_ok([] { return sansio::ehlo{}; }, {write("EHLO client.example\r\n"), read("451 later\r\n")});
    BOOST_TEST(st->ec == errc::transient_failure);
    st = run_ok([] { return sansio::ehlo{}; }, {write("EHLO client.example\r\n"), read("421 closing\r\n")});
    BOOST_TEST(st->ec == errc::transient_failure);
    BOOST_TEST(st->server_closing);
    st = run_ok([] { return sansio::ehlo{}; }, {write("EHLO client.example\r\n"), read("354 odd\r\n")});
    BOOST_TEST(st->ec == errc::unexpected_reply);
    st = run_ok([] { return sansio::ehlo{}; }, {write("EHLO client.example\r\n"), read("250-a\r\n25 b\r\n")});
    BOOST_TEST(st->ec == errc::reply_code_invalid);
}

BOOST_AUTO_TEST_CASE(lhlo_for_lmtp_without_fallback)
{
    const std::vector<io_step> script{write("LHLO client.example\r\n"), read("250-lmtp.example\r\n250 PIPELINING\r\n")};
    auto st = run_ok([] { return sansio::ehlo{}; }, script, true);
    BOOST_TEST(!st->ec);
    BOOST_TEST(st->caps.has<smtp::ext::pipelining>());
    check_network_errors([] { return sansio::ehlo{}; }, script, true);
    st = run_ok([] { return sansio::ehlo{}; }, {write("LHLO client.example\r\n"), read("500 no\r\n")}, true);
    BOOST_TEST(st->ec == errc::permanent_failure);
}

// --- STARTTLS ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(starttls_then_handshake_and_capabilities_forgotten)
{
    const std::vector<io_step> script{write("STARTTLS\r\n"), read("220 go ahead\r\n"), handshake()};
    auto st = run_ok([] { return sansio::starttls{}; }, script, false, greeted_with_ehlo);
    BOOST_TEST(!st->ec);
    BOOST_TEST(!st->caps.has<smtp::ext::starttls>());
    BOOST_TEST(!st->esmtp);
    check_network_errors([] { return sansio::starttls{}; }, script, false, greeted_with_ehlo);
}

BOOST_AUTO_TEST_CASE(starttls_discards_plaintext_injected_after_220)
{
    // The 220 and an injected reply in one read: the injected bytes must not
    // survive into the encrypted session (RFC 3207 4.2; CVE-2021-22947).
    auto st = run_ok([] { return sansio::starttls{}; },
                     {write("STARTTLS\r\n"), read("220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n"), handshake()},
                     false, greeted_with_ehlo);
    BOOST_TEST(!st->ec);
    BOOST_TEST(!st->has_unread());
    BOOST_TEST(st->rlen == 0u);
}

BOOST_AUTO_TEST_CASE(starttls_not_offered_writes_nothing)
{
    auto st = run_ok([] { return sansio::starttls{}; }, {}, false, greeted_without_pipelining);
    BOOST_TEST(st->ec == errc::starttls_not_offered);
    BOOST_TEST(st->wbuf.empty());
}

BOOST_AUTO_TEST_CASE(starttls_refused)
{
    auto st = run_ok([] { return sansio::starttls{}; }, {write("STARTTLS\r\n"), read("454 TLS not available\r\n")},
                     false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::transient_failure);
    st = run_ok([] { return sansio::starttls{}; }, {write("STARTTLS\r\n"), read("501 syntax\r\n")}, false,
                greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::permanent_failure);
}

// --- AUTH -----------------------------------------------------------------------------

namespace {
smtp::sasl::credentials creds{"user", "secret"};
auto plain_or_login() { return sansio::auth_any<smtp::sasl::plain, smtp::sasl::login>(creds); }
auto login_only() { return sansio::auth_any<smtp::sasl::login>(creds); }
std::string b64(std::string_view s)
{
    std::string out;
    smtp::base64::encode(s, out);
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(auth_plain_235)
{
    const std::vector<io_step> script{write("AUTH PLAIN " + b64(std::string("\0user\0secret", 12)) + "\r\n"),
                                      read("235 2.7.0 ok\r\n")};
    auto st = run_ok(plain_or_login, script, false, greeted_with_ehlo);
    BOOST_TEST(!st->ec);
    BOOST_TEST((st->wkind == smtp::log::sent::masked_command));
    BOOST_TEST(st->masked == "AUTH PLAIN ********\r\n");
    check_network_errors(plain_or_login, script, false, greeted_with_ehlo);
}

BOOST_AUTO_TEST_CASE(auth_login_challenges)
{
    const std::vector<io_step> script{write("AUTH LOGIN\r\n"), read("334 " + b64("Username:") + "\r\n"),
                                      write(b64("user") + "\r\n"), read("334 " + b64("Password:") + "\r\n"),
                                      write(b64("secret") + "\r\n"), read("235 ok\r\n")};
    auto st = run_ok(login_only, script, false, greeted_with_ehlo);
    BOOST_TEST(!st->ec);
    check_network_errors(login_only, script, false, greeted_with_ehlo);
}

BOOST_AUTO_TEST_CASE(auth_refusals)
{
    const std::string line = "AUTH PLAIN " + b64(std::string("\0user\0secret", 12)) + "\r\n";
    auto st = run_ok(plain_or_login, {write(line), read("535 5.7.8 bad credentials\r\n")}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::auth_refused);
    BOOST_TEST(st->diag.server_reply()->code().value() == 535);
    st = run_ok(plain_or_login, {write(line), read("454 4.7.0 later\r\n")}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::auth_refused);
    st = run_ok(plain_or_login, {write(line), read("421 closing\r\n")}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::transient_failure);
    st = run_ok(plain_or_login, {write(line), read("250 what\r\n")}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::unexpected_reply);
    st = run_ok(plain_or_login, {write(line), read("23 x\r\n")}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::reply_code_invalid);
}

BOOST_AUTO_TEST_CASE(auth_235_before_the_mechanism_is_done)
{
    auto st = run_ok(login_only, {write("AUTH LOGIN\r\n"), read("235 ok\r\n")}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::auth_incomplete);
}

BOOST_AUTO_TEST_CASE(auth_bad_challenge_is_cancelled)
{
    const std::vector<io_step> script{write("AUTH LOGIN\r\n"), read("334 !!notbase64\r\n"), write("*\r\n"),
                                      read("501 cancelled\r\n")};
    auto st = run_ok(login_only, script, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::invalid_base64);
    check_network_errors(login_only, script, false, greeted_with_ehlo);
}

BOOST_AUTO_TEST_CASE(auth_endless_challenges_are_bounded)
{
    std::vector<io_step> script{write("AUTH LOGIN\r\n"), read("334 " + b64("Username:") + "\r\n"),
                                write(b64("user") + "\r\n"), read("334 " + b64("Password:") + "\r\n"),
                                write(b64("secret") + "\r\n")};
    auto prepare = [](state& st) {
        greeted_with_ehlo(st);
        st.options.max_auth_challenges = 2;
    };
    script.push_back(read("334 " + b64("more?") + "\r\n"));
    script.push_back(write("*\r\n"));
    script.push_back(read("501 ok\r\n"));
    auto st = run_ok(login_only, script, false, +prepare);
    BOOST_TEST(st->ec == errc::too_many_challenges);
}

BOOST_AUTO_TEST_CASE(auth_no_common_mechanism_and_bad_credentials_write_nothing)
{
    auto st = run_ok([] { return sansio::auth_any<smtp::sasl::xoauth2>(creds); }, {}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::no_common_mechanism);
    static smtp::sasl::credentials bad{"us\r\ner", "x"};
    st = run_ok([] { return sansio::auth_any<smtp::sasl::login>(bad); }, {}, false, greeted_with_ehlo);
    BOOST_TEST(st->ec == errc::sasl_invalid_credentials);
    BOOST_TEST(st->wbuf.empty());
}

// --- One command ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(single_commands)
{
    using namespace smtp;
    auto noop = run_ok([] { return sansio::command<cmd::noop>{}; }, {write("NOOP\r\n"), read("250 ok\r\n")});
    BOOST_TEST(!noop->ec);
    auto rset = run_ok([] { return sansio::command<cmd::rset>{}; }, {write("RSET\r\n"), read("250 ok\r\n")});
    BOOST_TEST(!rset->ec);
    auto vrfy = run_ok([] { return sansio::command<cmd::vrfy>(cmd::vrfy{"alice"}); },
                       {write("VRFY alice\r\n"), read("252 cannot verify\r\n")});
    BOOST_TEST(!vrfy->ec);
    BOOST_TEST(vrfy->current.code().value() == 252);
    auto expn = run_ok([] { return sansio::command<cmd::expn>(cmd::expn{"staff"}); },
                       {write("EXPN staff\r\n"), read("550 access denied\r\n")});
    BOOST_TEST(expn->ec == errc::permanent_failure);
    auto help = run_ok([] { return sansio::command<cmd::help>{}; },
                       {write("HELP\r\n"), read("214-Commands:\r\n214-EHLO MAIL\r\n214 End\r\n")});
    BOOST_TEST(!help->ec);
    BOOST_TEST(help->current.line_count() == 3u);
    auto raw = run_ok([] { return sansio::command<cmd::raw>(cmd::raw{"XCLIENT", "NAME=x"}); },
                      {write("XCLIENT NAME=x\r\n"), read("220 ok\r\n")});
    BOOST_TEST(!raw->ec);
    check_network_errors([] { return sansio::command<cmd::noop>{}; }, {write("NOOP\r\n"), read("250 ok\r\n")});
    check_network_errors([] { return sansio::command<cmd::vrfy>(cmd::vrfy{"alice"}); },
                         {write("VRFY alice\r\n"), read("250 alice\r\n")});
}

BOOST_AUTO_TEST_CASE(command_reply_classes)
{
    using namespace smtp;
    auto make = [] { return sansio::command<cmd::noop>{}; };
    BOOST_TEST(run_ok(make, {write("NOOP\r\n"), read("451 later\r\n")})->ec == errc::transient_failure);
    BOOST_TEST(run_ok(make, {write("NOOP\r\n"), read("500 no\r\n")})->ec == errc::permanent_failure);
    BOOST_TEST(run_ok(make, {write("NOOP\r\n"), read("354 go\r\n")})->ec == errc::unexpected_reply);
    auto closing = run_ok(make, {write("NOOP\r\n"), read("421 bye\r\n")});
    BOOST_TEST(closing->ec == errc::transient_failure);
    BOOST_TEST(closing->server_closing);
    BOOST_TEST(run_ok(make, {write("NOOP\r\n"), read("250 a\rb\r\n")})->ec == errc::reply_bare_cr);
    auto mail = run_ok([] { return sansio::command<cmd::mail_from>(cmd::mail_from{"a@example.com", {}}, sansio::phase::mail); },
                       {write("MAIL FROM:<a@example.com>\r\n"), read("250 ok\r\n")});
    BOOST_TEST(!mail->ec);
    BOOST_TEST((mail->current_phase == sansio::phase::mail));
    BOOST_TEST(mail->awaited == "MAIL");
}

BOOST_AUTO_TEST_CASE(command_refused_arguments_write_nothing)
{
    using namespace smtp;
    auto st = run_ok([] { return sansio::command<cmd::vrfy>(cmd::vrfy{"a\r\nRSET"}); }, {});
    BOOST_TEST(st->ec == errc::control_character);
    BOOST_TEST(st->wbuf.empty());
    st = run_ok([] { return sansio::command<cmd::rcpt_to>(cmd::rcpt_to{"no-at-sign", {}}, sansio::phase::rcpt); }, {});
    BOOST_TEST(st->ec);
    BOOST_TEST(st->wbuf.empty());
}

// --- The message (DATA, BDAT) ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(message_data)
{
    auto make = [] {
        std::string payload;
        error_code ec;
        sansio::encode_message(".dot\nline\n", payload, ec);
        return sansio::message(std::move(payload), sansio::message::framing::data);
    };
    const std::vector<io_step> script{write("DATA\r\n"), read("354 go\r\n"), write("..dot\r\nline\r\n.\r\n"),
                                      read("250 queued\r\n")};
    auto st = run_ok(make, script);
    BOOST_TEST(!st->ec);
    check_network_errors(make, script);
    // The last failure (no reply after the final dot) is outcome_unknown.
    auto st2 = make_state();
    auto m = make();
    play(m, *st2, script, 3);
    BOOST_TEST(st2->ec == errc::outcome_unknown);
}

BOOST_AUTO_TEST_CASE(message_data_reply_classes)
{
    auto make = [] { return sansio::message("x\r\n.\r\n", sansio::message::framing::data); };
    BOOST_TEST(run_ok(make, {write("DATA\r\n"), read("554 no\r\n")})->ec == errc::permanent_failure);
    BOOST_TEST(run_ok(make, {write("DATA\r\n"), read("250 what\r\n")})->ec == errc::unexpected_reply);
    BOOST_TEST(run_ok(make, {write("DATA\r\n"), read("354 go\r\n"), write("x\r\n.\r\n"), read("452 full\r\n")})->ec ==
               errc::transient_failure);
    BOOST_TEST(run_ok(make, {write("DATA\r\n"), read("354 go\r\n"), write("x\r\n.\r\n"), read("5x0 ?\r\n")})->ec ==
               errc::outcome_unknown);
}

BOOST_AUTO_TEST_CASE(message_bdat)
{
    auto make = [] { return sansio::message("bytes\n", sansio::message::framing::bdat); };
    const std::vector<io_step> script{write("BDAT 6 LAST\r\nbytes\n"), read("250 ok\r\n")};
    auto st = run_ok(make, script);
    BOOST_TEST(!st->ec);
    check_network_errors(make, script);
    BOOST_TEST(run_ok(make, {write("BDAT 6 LAST\r\nbytes\n"), read("552 too big\r\n")})->ec ==
               errc::permanent_failure);
}

BOOST_AUTO_TEST_CASE(lmtp_step_by_step_reads_a_reply_per_accepted_recipient)
{
    // RFC 2033 4.2: after the end of data, one reply for each RCPT that was
    // accepted, in order. All are read (in one read or several), the first
    // refusal is the error, and the next command reads its own reply.
    using namespace smtp;
    for (const bool one_read : {true, false}) {
        BOOST_TEST_CONTEXT("replies in " << (one_read ? "one read" : "two reads"))
        {
            auto st = make_state(true);
            auto mail = sansio::command<cmd::mail_from>(cmd::mail_from{"a@x.org", {}}, sansio::phase::mail);
            BOOST_TEST(play(mail, *st, {write("MAIL FROM:<a@x.org>\r\n"), read("250 ok\r\n")}).finished);
            for (const char* r : {"250 ok\r\n", "550 no such user\r\n", "250 ok\r\n"}) {
                auto rcpt = sansio::command<cmd::rcpt_to>(cmd::rcpt_to{"b@x.org", {}}, sansio::phase::rcpt);
                play(rcpt, *st, {write("RCPT TO:<b@x.org>\r\n"), read(r)});
                st->ec = {};
            }
            BOOST_TEST(st->rcpts_accepted == 2u);
            auto m = sansio::message("x\r\n.\r\n", sansio::message::framing::data);
            std::vector<io_step> script{write("DATA\r\n"), read("354 go\r\n"), write("x\r\n.\r\n")};
            if (one_read) {
                script.push_back(read("250 2.0.0 b delivered\r\n452 4.2.2 b over quota\r\n"));
            } else {
                script.push_back(read("250 2.0.0 b delivered\r\n"));
                script.push_back(read("452 4.2.2 b over quota\r\n"));
            }
            const outcome o = play(m, *st, script);
            BOOST_TEST(o.finished);
            BOOST_TEST(o.steps == script.size());
            BOOST_TEST(st->ec == errc::transient_failure);
            BOOST_REQUIRE(st->diag.server_reply().has_value());
            BOOST_TEST(st->diag.server_reply()->code().value() == 452u);
            BOOST_TEST(!st->has_unread());
            BOOST_TEST(st->rcpts_accepted == 0u);
            st->ec = {};
            auto noop = sansio::command<cmd::noop>{};
            BOOST_TEST(play(noop, *st, {write("NOOP\r\n"), read("250 noop\r\n")}).finished);
            BOOST_TEST(!st->ec);
            BOOST_TEST(st->current.code().value() == 250u);
        }
    }
    // The second reply lost: the outcome is unknown (one recipient's fate is).
    auto st = make_state(true);
    st->rcpts_accepted = 2;
    auto m = sansio::message("x\r\n.\r\n", sansio::message::framing::data);
    play(m, *st, {write("DATA\r\n"), read("354 go\r\n"), write("x\r\n.\r\n"), read("250 ok\r\n"), read("")}, 4);
    BOOST_TEST(st->ec == errc::outcome_unknown);
    // Under SMTP one reply ends it, whatever the count.
    auto smtp_st = make_state(false);
    smtp_st->rcpts_accepted = 3;
    auto n = sansio::message("x\r\n.\r\n", sansio::message::framing::data);
    const outcome o = play(n, *smtp_st, {write("DATA\r\n"), read("354 go\r\n"), write("x\r\n.\r\n"), read("250 ok\r\n")});
    BOOST_TEST(o.finished);
    BOOST_TEST(!smtp_st->ec);
}

// --- QUIT ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(quit_then_close)
{
    const std::vector<io_step> script{write("QUIT\r\n"), read("221 bye\r\n"), close()};
    auto st = run_ok([] { return sansio::quit{}; }, script);
    BOOST_TEST(!st->ec);
    BOOST_TEST(st->closed);
    check_network_errors([] { return sansio::quit{}; }, script);
    // Closed whatever the server says.
    st = run_ok([] { return sansio::quit{}; }, {write("QUIT\r\n"), read("500 what\r\n"), close()});
    BOOST_TEST(st->ec == errc::permanent_failure);
    BOOST_TEST(st->closed);
}

// --- Transactions -------------------------------------------------------------------------------

namespace {
const std::vector<smtp::recipient> two_rcpts{{"b@example.com"}, {"c@example.com"}};
const std::string body = "Subject: hi\r\n\r\nHello\r\n";

} // namespace

BOOST_AUTO_TEST_CASE(transactions_lockstep_and_pipelined)
{
    // Without PIPELINING: one command, one reply.
    {
        auto st = make_state();
        greeted_without_pipelining(*st);
        std::vector<smtp::transaction> ts;
        ts.emplace_back("a@example.com", two_rcpts, body, smtp::send_options{}, st->caps, smtp::session_facts{});
        sansio::transactions algo{std::span<smtp::transaction>(ts)};
        const std::vector<io_step> script{
            write("MAIL FROM:<a@example.com>\r\n"), read("250 ok\r\n"),   write("RCPT TO:<b@example.com>\r\n"),
            read("250 ok\r\n"),                     write("RCPT TO:<c@example.com>\r\n"), read("550 no such user\r\n"),
            write("DATA\r\n"),                      read("354 go\r\n"),   write(body + ".\r\n"),
            read("250 queued\r\n")};
        const outcome o = play(algo, *st, script);
        BOOST_TEST(o.finished);
        BOOST_TEST(o.steps == script.size());
        BOOST_TEST(!st->ec);
        const auto r = std::move(ts[0]).result();
        BOOST_TEST((r.outcome == smtp::transaction_outcome::queued));
        BOOST_TEST(r.recipients.size() == 2u);
        BOOST_TEST(r.recipients[1].accepted() == false);
    }
    // With PIPELINING: two messages, the second's commands with the first's data.
    {
        auto st = make_state();
        greeted_with_ehlo(*st);
        std::vector<smtp::transaction> ts;
        const std::vector<smtp::recipient> one{{"b@example.com"}};
        for (int i = 0; i < 2; ++i)
            ts.emplace_back("a@example.com", one, body, smtp::send_options{}, st->caps, smtp::session_facts{});
        sansio::transactions algo{std::span<smtp::transaction>(ts)};
        const outcome o = play(algo, *st,
                               {write("MAIL FROM:<a@example.com> SIZE=22\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
                                read("250 ok\r\n250 ok\r\n354 go\r\n"),
                                write(body + ".\r\nMAIL FROM:<a@example.com> SIZE=22\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
                                read("250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n"), write(body + ".\r\n"),
                                read("250 queued too\r\n")});
        BOOST_TEST(o.finished);
        BOOST_TEST(o.script_ok);
        BOOST_TEST(!st->ec);
        for (auto& t : ts)
            BOOST_TEST((std::move(t).result().outcome == smtp::transaction_outcome::queued));
    }
}

BOOST_AUTO_TEST_CASE(transactions_network_errors_at_every_step)
{
    const std::vector<io_step> script{
        write("MAIL FROM:<a@example.com>\r\n"), read("250 ok\r\n"),   write("RCPT TO:<b@example.com>\r\n"),
        read("250 ok\r\n"),                     write("RCPT TO:<c@example.com>\r\n"), read("250 ok\r\n"),
        write("DATA\r\n"),                      read("354 go\r\n"),   write(body + ".\r\n"),
        read("250 queued\r\n")};
    for (std::size_t k = 0; k < script.size(); ++k) {
        BOOST_TEST_CONTEXT("failure at step " << k)
        {
            auto st = make_state();
            greeted_without_pipelining(*st);
            std::vector<smtp::transaction> ts;
            ts.emplace_back("a@example.com", two_rcpts, body, smtp::send_options{}, st->caps, smtp::session_facts{});
            sansio::transactions algo{std::span<smtp::transaction>(ts)};
            const outcome o = play(algo, *st, script, k);
            BOOST_TEST(o.finished);
            BOOST_TEST(o.steps == k + 1);
            BOOST_TEST(st->ec);
            const auto r = std::move(ts[0]).result();
            // Before the final dot went out: not sent. After: unknown.
            if (k >= 9)
                BOOST_TEST((r.outcome == smtp::transaction_outcome::unknown));
            else
                BOOST_TEST((r.outcome == smtp::transaction_outcome::not_sent));
        }
    }
}

BOOST_AUTO_TEST_CASE(transactions_reply_classes)
{
    auto one = [](std::vector<io_step> script) {
        auto st = make_state();
        greeted_without_pipelining(*st);
        std::vector<smtp::transaction> ts;
        const std::vector<smtp::recipient> rcpt{{"b@example.com"}};
        ts.emplace_back("a@example.com", rcpt, body, smtp::send_options{}, st->caps, smtp::session_facts{});
        sansio::transactions algo{std::span<smtp::transaction>(ts)};
        const outcome o = play(algo, *st, script);
        BOOST_TEST(o.finished);
        BOOST_TEST(o.steps == script.size());
        return st->ec;
    };
    // 5yz to MAIL: refused, nothing more to send.
    BOOST_TEST(one({write("MAIL FROM:<a@example.com>\r\n"), read("550 no\r\n")}) == errc::permanent_failure);
    // Every recipient refused.
    BOOST_TEST(one({write("MAIL FROM:<a@example.com>\r\n"), read("250 ok\r\n"), write("RCPT TO:<b@example.com>\r\n"),
                    read("450 later\r\n"), write("RSET\r\n"), read("250 ok\r\n")}) == errc::all_recipients_refused);
    // 421: the server goes away.
    BOOST_TEST(one({write("MAIL FROM:<a@example.com>\r\n"), read("421 closing\r\n")}) == errc::transient_failure);
    // A malformed reply breaks the stream.
    BOOST_TEST(one({write("MAIL FROM:<a@example.com>\r\n"), read("2500 ok\r\n")}) == errc::reply_separator_invalid);
    // Bytes nobody asked for before a write: unsolicited.
    BOOST_TEST(one({write("MAIL FROM:<a@example.com>\r\n"), read("250 ok\r\n250 extra\r\n")}) ==
               errc::unsolicited_reply);
}

// --- A window of BDAT transactions ------------------------------------------------------------

namespace {

/// CHUNKING and PIPELINING, no SIZE (so the commands stay short).
void greeted_with_chunking(state& st)
{
    error_code ec;
    smtp::reply_parser p;
    smtp::reply_view r;
    p.put("250-server.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n", r, ec);
    st.caps = smtp::capabilities::from_ehlo(r, ec);
    st.esmtp = true;
}

std::string window_rcpt(std::size_t i) { return "r" + std::to_string(i) + "@example.com"; }
/// Message i whole: MAIL, its RCPT, and its data in one BDAT LAST (body is 22 octets).
std::string window_tx(std::size_t i)
{
    return "MAIL FROM:<a@example.com>\r\nRCPT TO:<" + window_rcpt(i) + ">\r\nBDAT 22 LAST\r\n" + body;
}
std::string window_ok(std::size_t i) { return "250 mail ok\r\n250 rcpt ok\r\n250 queued " + std::to_string(i) + "\r\n"; }
template <class F>
std::string each(std::size_t from, std::size_t to, F f)
{
    std::string out;
    for (std::size_t i = from; i < to; ++i)
        out += f(i);
    return out;
}

/// n messages, one recipient each, over a session with CHUNKING and PIPELINING.
struct window_run {
    std::unique_ptr<state> st = make_state();
    std::vector<std::vector<smtp::recipient>> to;
    std::vector<smtp::transaction> ts;

    window_run(std::size_t n, std::size_t window, std::size_t chunk_size = 1024 * 1024)
    {
        greeted_with_chunking(*st);
        st->options.transactions.window = window;
        st->options.transactions.chunk_size = chunk_size;
        to.resize(n);
        ts.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            to[i].push_back({window_rcpt(i)});
            ts.emplace_back("a@example.com", to[i], body, smtp::send_options{}, st->caps, smtp::session_facts{},
                            st->options.transactions);
        }
    }
    outcome play(const std::vector<io_step>& script, std::size_t fail_at = static_cast<std::size_t>(-1))
    {
        sansio::transactions algo{std::span<smtp::transaction>(ts)};
        return ::play(algo, *st, script, fail_at);
    }
    smtp::transaction_outcome outcome_of(std::size_t i) const { return ts[i].result().outcome; }
};

std::size_t reads(const std::vector<io_step>& script)
{
    return static_cast<std::size_t>(
        std::count_if(script.begin(), script.end(), [](const io_step& s) { return s.action == next_action::read; }));
}

} // namespace

BOOST_AUTO_TEST_CASE(transactions_window_one_write_one_read)
{
    // Eight messages, a window of eight: every transaction whole in one
    // write, every reply in one read, each matched to its command. One
    // round trip for the eight, where DATA takes one each.
    {
        window_run w(8, 8);
        const std::vector<io_step> script{write(each(0, 8, window_tx)), read(each(0, 8, window_ok))};
        const outcome o = w.play(script);
        BOOST_TEST(o.script_ok);
        BOOST_TEST(o.finished);
        BOOST_TEST(reads(script) == 1u); // the read waits the algorithm asked for
        BOOST_TEST(!w.st->ec);
        for (std::size_t i = 0; i < 8; ++i) {
            BOOST_TEST((w.outcome_of(i) == smtp::transaction_outcome::queued));
            BOOST_TEST(w.ts[i].result().final_reply.raw() == "250 queued " + std::to_string(i) + "\r\n");
        }
    }
    // Ten messages, a window of eight: the first eight, then, once their
    // replies are in, the last two. Replies arriving one message at a time
    // slide the window: each read's replies are taken before the refill.
    {
        window_run w(10, 8);
        const outcome o = w.play({write(each(0, 8, window_tx)), read(each(0, 8, window_ok)), write(each(8, 10, window_tx)),
                                  read(each(8, 10, window_ok))});
        BOOST_TEST(o.script_ok);
        BOOST_TEST(o.finished);
        for (std::size_t i = 0; i < 10; ++i)
            BOOST_TEST((w.outcome_of(i) == smtp::transaction_outcome::queued));
    }
    {
        window_run w(10, 8);
        const outcome o =
            w.play({write(each(0, 8, window_tx)), read(window_ok(0)), write(window_tx(8)), read(window_ok(1) + window_ok(2)),
                    write(window_tx(9)), read(each(3, 10, window_ok))});
        BOOST_TEST(o.script_ok);
        BOOST_TEST(o.finished);
        for (std::size_t i = 0; i < 10; ++i)
            BOOST_TEST((w.outcome_of(i) == smtp::transaction_outcome::queued));
    }
    // A window of one: a message at a time, a round trip each.
    {
        window_run w(3, 1);
        const outcome o = w.play({write(window_tx(0)), read(window_ok(0)), write(window_tx(1)), read(window_ok(1)),
                                  write(window_tx(2)), read(window_ok(2))});
        BOOST_TEST(o.script_ok);
        BOOST_TEST(o.finished);
        for (std::size_t i = 0; i < 3; ++i)
            BOOST_TEST((w.outcome_of(i) == smtp::transaction_outcome::queued));
    }
    // Messages larger than a chunk: the window counts transactions, each
    // with all its chunks, and every chunk's reply is matched.
    {
        window_run w(2, 8, 10);
        auto chunked = [](std::size_t i) {
            return "MAIL FROM:<a@example.com>\r\nRCPT TO:<" + window_rcpt(i) + ">\r\nBDAT 10\r\n" + body.substr(0, 10) +
                   "BDAT 10\r\n" + body.substr(10, 10) + "BDAT 2 LAST\r\n" + body.substr(20);
        };
        auto replies = [](std::size_t i) {
            return "250 mail ok\r\n250 rcpt ok\r\n250 chunk\r\n250 chunk\r\n250 queued " + std::to_string(i) + "\r\n";
        };
        const outcome o = w.play({write(each(0, 2, chunked)), read(each(0, 2, replies))});
        BOOST_TEST(o.script_ok);
        BOOST_TEST(o.finished);
        for (std::size_t i = 0; i < 2; ++i)
            BOOST_TEST(w.ts[i].result().final_reply.raw() == "250 queued " + std::to_string(i) + "\r\n");
    }
}

BOOST_AUTO_TEST_CASE(transactions_window_refusals_mid_window)
{
    // One message of eight refused, at each place in the window, by each
    // of its replies: only it is refused, the others are queued, and no
    // RSET goes out behind the next message's commands (it would reset
    // that transaction: the server ended the refused one at BDAT LAST).
    // The last message has nothing behind it: an RSET leaves the session
    // clean, as it does for a single message (unless its MAIL was refused).
    struct refusal {
        std::string replies;
        smtp::error_code ec;
    };
    const refusal cases[] = {
        {"250 ok\r\n250 ok\r\n554 5.6.0 chunk refused\r\n", errc::permanent_failure},
        {"250 ok\r\n250 ok\r\n452 4.3.1 full\r\n", errc::transient_failure},
        {"550 5.7.1 sender refused\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL first\r\n", errc::permanent_failure},
        {"451 4.7.1 later\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL first\r\n", errc::transient_failure},
        {"250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n", errc::all_recipients_refused},
        {"250 ok\r\n450 4.2.1 later\r\n554 5.5.1 no valid recipients\r\n", errc::all_recipients_refused},
    };
    for (const auto& c : cases)
        for (std::size_t k = 0; k < 8; ++k) {
            BOOST_TEST_CONTEXT("message " << k << " answered " << c.replies)
            {
                window_run w(8, 8);
                std::vector<io_step> script{write(each(0, 8, window_tx)),
                                            read(each(0, k, window_ok) + c.replies + each(k + 1, 8, window_ok))};
                if (k == 7 && c.replies.starts_with("250")) // after a refused MAIL no transaction is open
                    script.insert(script.end(), {write("RSET\r\n"), read("250 ok\r\n")});
                const outcome o = w.play(script);
                BOOST_TEST(o.script_ok);
                BOOST_TEST(o.finished);
                BOOST_TEST(o.steps == script.size());
                for (std::size_t i = 0; i < 8; ++i) {
                    if (i == k) {
                        BOOST_TEST((w.outcome_of(i) == smtp::transaction_outcome::refused));
                        BOOST_TEST(w.ts[i].error() == c.ec);
                    } else {
                        BOOST_TEST((w.outcome_of(i) == smtp::transaction_outcome::queued), "message " << i);
                        BOOST_TEST(w.ts[i].result().final_reply.raw() == "250 queued " + std::to_string(i) + "\r\n");
                    }
                }
            }
        }
}

BOOST_AUTO_TEST_CASE(transactions_window_421_mid_window)
{
    // A 421 to any command of message k: the ones before it are queued (their
    // replies came first); k and every one behind it are not sent: the
    // server answered in order and closed before reaching them, though
    // their commands and data were written.
    const std::string r421 = "421 4.3.2 shutting down\r\n";
    const std::string before[] = {"", "250 ok\r\n", "250 ok\r\n250 ok\r\n"};
    for (std::size_t k = 0; k < 8; ++k)
        for (const auto& b : before) {
            BOOST_TEST_CONTEXT("421 to message " << k << " after [" << b << "]")
            {
                window_run w(8, 8);
                const std::vector<io_step> script{write(each(0, 8, window_tx)), read(each(0, k, window_ok) + b + r421)};
                const outcome o = w.play(script);
                BOOST_TEST(o.script_ok);
                BOOST_TEST(o.finished);
                BOOST_TEST(o.steps == script.size());
                BOOST_TEST(w.st->broken);
                for (std::size_t i = 0; i < 8; ++i)
                    BOOST_TEST((w.outcome_of(i) == (i < k ? smtp::transaction_outcome::queued
                                                          : smtp::transaction_outcome::not_sent)),
                               "message " << i << ": " << w.outcome_of(i));
                BOOST_TEST(w.ts[k].result().mail_reply.code().value() == (b.empty() ? 421 : 250));
            }
        }
}

BOOST_AUTO_TEST_CASE(transactions_window_drop_at_every_point)
{
    // The window written, then every reply in a read of its own; the
    // connection fails at each step in turn. The write failing: the last
    // end of data in it cannot have arrived (not sent), the ones before it
    // may have (unknown). A read failing while message i's replies are
    // awaited: those before i are queued, i and the rest unknown (their
    // data went out, their verdict did not come back).
    std::vector<io_step> script{write(each(0, 8, window_tx))};
    for (std::size_t i = 0; i < 8; ++i)
        for (const char* r : {"250 mail ok\r\n", "250 rcpt ok\r\n", "250 queued\r\n"})
            script.push_back(read(r));
    BOOST_TEST(window_run(8, 8).play(script).script_ok);
    for (std::size_t j = 0; j < script.size(); ++j) {
        BOOST_TEST_CONTEXT("failure at step " << j)
        {
            window_run w(8, 8);
            const outcome o = w.play(script, j);
            BOOST_TEST(o.finished);
            BOOST_TEST(o.steps == j + 1);
            for (std::size_t i = 0; i < 8; ++i) {
                smtp::transaction_outcome want;
                if (j == 0)
                    want = i == 7 ? smtp::transaction_outcome::not_sent : smtp::transaction_outcome::unknown;
                else
                    want = i < (j - 1) / 3 ? smtp::transaction_outcome::queued : smtp::transaction_outcome::unknown;
                BOOST_TEST((w.outcome_of(i) == want), "message " << i << ": " << w.outcome_of(i));
                if (want == smtp::transaction_outcome::unknown)
                    BOOST_TEST(w.ts[i].error() == errc::outcome_unknown);
            }
        }
    }
}

// --- The pool's open sequence --------------------------------------------------------------

namespace {
using open_algo = sansio::open<sansio::auth_any<smtp::sasl::plain>>;
sansio::open_settings starttls_policy()
{
    sansio::open_settings s;
    s.starttls_required = true;
    s.policy = {true, false, false, true};
    return s;
}
} // namespace

BOOST_AUTO_TEST_CASE(open_starttls_then_auth)
{
    auto make = [] { return open_algo(starttls_policy(), creds); };
    const std::vector<io_step> script{
        connect(),
        read("220 server.example ESMTP\r\n"),
        write("EHLO client.example\r\n"),
        read(ehlo_reply),
        write("STARTTLS\r\n"),
        read("220 go\r\n"),
        handshake(),
        write("EHLO client.example\r\n"),
        read(ehlo_reply_tls),
        write("AUTH PLAIN " + b64(std::string("\0user\0secret", 12)) + "\r\n"),
        read("235 ok\r\n")};
    auto st = run_ok(make, script);
    BOOST_TEST(!st->ec);
    BOOST_TEST(st->encrypted);
    check_network_errors(make, script);
}

BOOST_AUTO_TEST_CASE(open_refuses_auth_in_clear_by_the_rules)
{
    // tls::none without auth::allow_plaintext: greeted in clear, and the
    // rules say no AUTH: auth_in_clear (not starttls_not_offered), before
    // any credential is written.
    sansio::open_settings none;
    none.policy = {false, true, false, true};
    auto st = run_ok([&] { return open_algo(none, creds); },
                     {connect(), read("220 hi\r\n"), write("EHLO client.example\r\n"), read(ehlo_reply)});
    BOOST_TEST(st->ec == errc::auth_in_clear);
    // With auth::allow_plaintext it goes ahead.
    none.policy.plaintext_auth_allowed = true;
    st = run_ok([&] { return open_algo(none, creds); },
                {connect(), read("220 hi\r\n"), write("EHLO client.example\r\n"), read(ehlo_reply),
                 write("AUTH PLAIN " + b64(std::string("\0user\0secret", 12)) + "\r\n"), read("235 ok\r\n")});
    BOOST_TEST(!st->ec);
    // Without credentials there is nothing to refuse.
    none.policy.plaintext_auth_allowed = false;
    st = run_ok([&] { return open_algo(none, std::nullopt); },
                {connect(), read("220 hi\r\n"), write("EHLO client.example\r\n"), read(ehlo_reply)});
    BOOST_TEST(!st->ec);
}

BOOST_AUTO_TEST_CASE(open_starttls_required_but_not_offered)
{
    auto st = run_ok([] { return open_algo(starttls_policy(), creds); },
                     {connect(), read("220 hi\r\n"), write("EHLO client.example\r\n"),
                      read("250-server.example\r\n250 AUTH PLAIN\r\n")});
    BOOST_TEST(st->ec == errc::starttls_not_offered);
}

// --- The rules' table ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(session_rules_table)
{
    using namespace smtp::session_rules;
    session_facts greeted_clear{};
    greeted_clear.greeted = true;
    const policy_facts starttls_p{true, false, false, true}, none_p{false, true, false, true},
        none_plain_p{false, true, true, true};
    static_assert(!allows(operation::sendmail, session_facts{true, true}, policy_facts{true, false, false, true}));
    BOOST_TEST(!allows(operation::login, greeted_clear, starttls_p));
    BOOST_TEST((*first_broken(operation::login, greeted_clear, starttls_p) == rule::encrypted_or_clear_text_allowed));
    BOOST_TEST((*first_broken(operation::login, greeted_clear, none_p) == rule::encrypted_or_plaintext_auth_allowed));
    BOOST_TEST((error_for(rule::encrypted_or_plaintext_auth_allowed) == errc::auth_in_clear));
    BOOST_TEST(allows(operation::login, greeted_clear, none_plain_p));
    BOOST_TEST(allows(operation::sendmail, greeted_clear, none_p));
    session_facts after_tls = greeted_clear;
    after_tls.tls_started = true;
    after_tls.encrypted = true;
    for (auto op : {operation::login, operation::sendmail, operation::mail_from, operation::verify, operation::noop,
                    operation::rset, operation::docmd})
        BOOST_TEST(!allows(op, after_tls, starttls_p));
    BOOST_TEST(allows(operation::ehlo, after_tls, starttls_p));
    BOOST_TEST(allows(operation::quit, after_tls, starttls_p));
}

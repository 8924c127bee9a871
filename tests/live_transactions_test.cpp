// The transaction engine and the pool against real servers started by
// tests/servers/with_servers.py (see tests/CMakeLists.txt): a private Postfix
// MTA that delivers into maildirs (PIPELINING, CHUNKING, SIZE, 8BITMIME,
// SMTPUTF8, DSN: what it stored is read back; a window of BDAT
// transactions), Postfix's smtp-sink for a
// pipelined stream of messages and the pool, and aiosmtpd's LMTP server.
#define BOOST_TEST_MODULE live_transactions
#include "live_servers.hpp"

#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#include <smtp/protocol/base64.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using smtp::errc;

namespace {

using live::contains;
using live::env;
using live::recorded_data;
using live::slurp;

smtp::connect_options server(const std::string& name) { return live::server(name, "127.0.0.1"); }

/// The messages delivered to `local`@example.test, waiting up to 10 s for `n`.
std::vector<std::string> maildir(const std::string& local, std::size_t n)
{
    const fs::path dir = fs::path(env("SMTP_TEST_MTA_MAILDIR")) / local / "new";
    std::vector<std::string> out;
    for (int i = 0; i < 200; ++i) {
        out.clear();
        std::error_code ec;
        if (fs::is_directory(dir, ec))
            for (const auto& e : fs::directory_iterator(dir))
                out.push_back(slurp(e.path()));
        if (out.size() >= n)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return out;
}


/// What the client sent, as the logger saw it, joined between replies: each
/// entry went out with no round trip inside it (the scripted-transport tests
/// check the exact writes).
struct wire_log {
    std::vector<std::string> sent;
    bool after_reply = true;
    smtp::log::callback logger()
    {
        return smtp::log::callback([this](const smtp::log::event& e) {
            if (e.kind == smtp::log::event::reply) {
                after_reply = true;
                return;
            }
            if (after_reply)
                sent.emplace_back();
            sent.back().append(e.bytes);
            after_reply = false;
        });
    }
    bool any(const std::string& what) const
    {
        for (const auto& s : sent)
            if (contains(s, what))
                return true;
        return false;
    }
};

using clear_logged = smtp::policies<smtp::tls::none, smtp::log::callback>;
using clear = smtp::policies<smtp::tls::none>;

} // namespace

BOOST_AUTO_TEST_CASE(postfix_pipelining_chunking_utf8_8bit_and_dsn)
{
    wire_log w;
    auto g = std::move(smtp::connect<clear_logged>(server("MTA"), w.logger())).ehlo();
    const auto& caps = g.server_capabilities();
    BOOST_TEST(caps.has<smtp::ext::pipelining>());
    BOOST_TEST(caps.has<smtp::ext::chunking>());
    BOOST_TEST(caps.has<smtp::ext::dsn>());
    BOOST_TEST(caps.has<smtp::ext::smtputf8>());
    BOOST_TEST(caps.has<smtp::ext::eightbitmime>());
    BOOST_TEST(*caps.size_limit() == 10485760u);

    const std::string body = "From: sender@example.test\r\nTo: bob@example.test\r\n"
                             "Subject: caf\xC3\xA9 live\r\n\r\nGr\xC3\xBC\xC3\x9F" "e.\r\n.a line with a dot\r\n";
    std::vector<smtp::recipient> to{
        {"bob@example.test", smtp::dsn::notify::success | smtp::dsn::notify::failure, "Bob+x@example.test"},
        {"j\xC3\xB6rg@example.test"},
        {"someone@elsewhere.example"}};
    smtp::send_options o;
    o.ret = smtp::dsn::ret::headers;
    o.envid = "live env 1";
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r = g.sendmail("sender@example.test", to, body, o, ec, diag);
    BOOST_TEST(!ec, diag.describe(ec));
    BOOST_TEST(r.queued());
    BOOST_TEST(r.recipients[0].accepted());
    BOOST_TEST(r.recipients[1].accepted());
    BOOST_TEST(r.recipients[2].permanent()); // relay access denied
    BOOST_TEST(r.recipients[2].rcpt_reply.code() == 554);
    std::move(g).quit();

    // On the wire: one write with MAIL, every RCPT and the BDAT chunk.
    BOOST_TEST(w.any("MAIL FROM:<sender@example.test> SIZE="));
    bool grouped = false;
    for (const auto& s : w.sent)
        grouped = grouped || (contains(s, "MAIL FROM:") && contains(s, "RCPT TO:<someone@elsewhere.example>") &&
                              contains(s, "BDAT "));
    BOOST_TEST(grouped);
    BOOST_TEST(w.any(" BODY=8BITMIME"));
    BOOST_TEST(w.any(" SMTPUTF8"));
    BOOST_TEST(w.any("RET=HDRS ENVID=live+20env+201"));
    BOOST_TEST(w.any("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bx@example.test"));

    // What Postfix stored: the message as sent (BDAT: no dot-stuffing to undo).
    const auto bob = maildir("bob", 1);
    BOOST_REQUIRE(bob.size() == 1u);
    BOOST_TEST(contains(bob[0], "Subject: caf\xC3\xA9 live\n"));
    BOOST_TEST(contains(bob[0], "\n.a line with a dot\n"));
    const auto jorg = maildir("j\xC3\xB6rg", 1);
    BOOST_REQUIRE(jorg.size() == 1u);
    BOOST_TEST(contains(jorg[0], "Gr\xC3\xBC\xC3\x9F" "e."));
    // NOTIFY=SUCCESS: Postfix reports the delivery to the sender, with the
    // envelope id and the original recipient.
    const auto dsn = maildir("sender", 1);
    BOOST_REQUIRE(dsn.size() == 1u);
    BOOST_TEST(contains(dsn[0], "Original-Envelope-Id: live env 1"));
    BOOST_TEST(contains(dsn[0], "Original-Recipient: rfc822;Bob+x@example.test"));
    BOOST_TEST(contains(dsn[0], "Action: delivered"));
}

BOOST_AUTO_TEST_CASE(postfix_lockstep_data_and_the_size_precheck)
{
    auto o = server("MTA");
    o.transactions.pipelining = false;
    o.transactions.chunking = false;
    wire_log w;
    auto g = std::move(smtp::connect<clear_logged>(o, w.logger())).ehlo();
    const std::string body = "Subject: lockstep\r\n\r\n.\r\n..two dots\r\nend\r\n";
    const auto r = g.sendmail("sender2@example.test", {"carol@example.test"}, body);
    BOOST_TEST(r.queued());
    BOOST_TEST(r.data_reply.code() == 354);
    BOOST_TEST(w.any("DATA\r\n"));
    BOOST_TEST(!w.any("BDAT"));
    for (const auto& s : w.sent) // lockstep: never two commands in one write
        BOOST_TEST(!(contains(s, "MAIL FROM") && contains(s, "RCPT TO")));
    const auto carol = maildir("carol", 1);
    BOOST_REQUIRE(carol.size() == 1u);
    BOOST_TEST(contains(carol[0], "\n\n.\n..two dots\nend\n")); // dot-stuffing undone by the server

    // Over the server's SIZE: refused before a byte of it is sent.
    std::string big;
    big.reserve(10485760 + 100);
    while (big.size() <= 10485760)
        big += std::string(76, 'x') + "\r\n";
    const std::size_t writes = w.sent.size();
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r2 = g.sendmail("sender2@example.test", {"carol@example.test"}, big, ec, diag);
    BOOST_TEST(ec == errc::message_too_large);
    BOOST_TEST(r2.outcome == smtp::transaction_outcome::not_sent);
    BOOST_TEST(w.sent.size() == writes);
    BOOST_TEST(!g.broken());
    std::move(g).quit();
}

BOOST_AUTO_TEST_CASE(smtp_sink_stream_one_round_trip_per_message)
{
    wire_log w;
    auto g = std::move(smtp::connect<clear_logged>(server("SINK"), w.logger())).ehlo();
    std::vector<smtp::outgoing_message> batch;
    for (int i = 0; i < 50; ++i)
        batch.push_back({"a@example.com", {{"b@example.com"}, {"c@example.com"}},
                         "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n", {}});
    const auto rs = g.send_all(batch);
    BOOST_REQUIRE(rs.size() == 50u);
    for (const auto& r : rs)
        BOOST_TEST(r.queued());
    // The end of each message's data and the next message's commands in one write.
    std::size_t joined = 0;
    for (const auto& s : w.sent)
        joined += contains(s, "\r\n.\r\nMAIL FROM:<a@example.com>");
    BOOST_TEST(joined == 49u);
    BOOST_TEST(w.sent.size() <= 52u);
    BOOST_TEST(std::move(g).quit().clean());
}

BOOST_AUTO_TEST_CASE(postfix_bdat_window_of_eight)
{
    // 50 messages to Postfix's smtpd (CHUNKING and PIPELINING) with a window
    // of eight: eight whole transactions in the first write, never more in
    // one, and each message delivered once. Message 3 (in the first write,
    // so the next one always follows it) goes only to a recipient Postfix
    // refuses (relay access denied): it alone is refused, and the MAIL
    // pipelined behind its BDAT LAST is accepted without an RSET between
    // (Postfix ended that transaction at BDAT LAST).
    wire_log w;
    auto o = server("MTA");
    o.transactions.window = 8;
    auto g = std::move(smtp::connect<clear_logged>(o, w.logger())).ehlo();
    BOOST_TEST(g.server_capabilities().has<smtp::ext::chunking>());
    const std::size_t n = 50;
    std::vector<smtp::outgoing_message> batch;
    const std::size_t refused = 3;
    for (std::size_t i = 0; i < n; ++i)
        batch.push_back({"win@example.test",
                         {{i == refused ? "someone@elsewhere.example" : "winnie@example.test"}},
                         "Subject: window " + std::to_string(i) + "\r\n\r\nbody " + std::to_string(i) + "\r\n", {}});
    const auto rs = g.send_all(batch);
    BOOST_REQUIRE(rs.size() == n);
    for (std::size_t i = 0; i < n; ++i)
        if (i != refused)
            BOOST_TEST(rs[i].queued(), i << ": " << rs[i].error.message());
    BOOST_TEST((rs[refused].outcome == smtp::transaction_outcome::refused));
    BOOST_TEST(rs[refused].error == errc::all_recipients_refused);
    BOOST_TEST(!w.any("RSET"));
    BOOST_TEST(std::move(g).quit().clean());

    auto lasts = [](const std::string& s) {
        std::size_t k = 0;
        for (auto at = s.find(" LAST\r\n"); at != std::string::npos; at = s.find(" LAST\r\n", at + 1))
            ++k;
        return k;
    };
    std::size_t first = 0, most = 0, total = 0;
    for (const auto& s : w.sent) {
        const std::size_t k = lasts(s);
        if (first == 0)
            first = k;
        most = std::max(most, k);
        total += k;
    }
    BOOST_TEST(first == 8u);
    BOOST_TEST(most == 8u);
    BOOST_TEST(total == n);

    const auto got = maildir("winnie", n - 1);
    BOOST_TEST(got.size() == n - 1);
    std::set<std::string> subjects;
    for (const auto& m : got) {
        const auto at = m.find("Subject: window ");
        BOOST_REQUIRE(at != std::string::npos);
        subjects.insert(m.substr(at, m.find('\n', at) - at));
    }
    BOOST_TEST(subjects.size() == n - 1); // each once
    BOOST_TEST(!subjects.count("Subject: window " + std::to_string(refused) + "\r"));
}

BOOST_AUTO_TEST_CASE(lmtp_per_recipient_replies)
{
    using lmtp = smtp::policies<smtp::tls::none, smtp::dialect::lmtp>;
    auto g = std::move(smtp::connect<lmtp>(server("LMTP"))).ehlo();
    const auto r = g.sendmail("a@example.com", {"ok@example.com", "full@example.com"}, "Subject: lmtp\r\n\r\nhi\r\n");
    BOOST_TEST(r.queued());
    BOOST_REQUIRE(r.recipients.size() == 2u);
    BOOST_TEST(r.recipients[0].accepted());
    BOOST_REQUIRE(r.recipients[1].delivery.has_value());
    BOOST_TEST(r.recipients[1].rcpt_reply.code() == 250); // accepted at RCPT...
    BOOST_TEST(r.recipients[1].delivery->code() == 550);  // ...refused after the data
    BOOST_TEST(r.refused().size() == 1u);
    std::move(g).quit();
}

/// What a message becomes on the wire, un-stuffed: every CR, LF and CRLF a
/// CRLF, and a final CRLF when the last line is open.
std::string normalised(const std::string& in)
{
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\r') {
            out += "\r\n";
            if (i + 1 < in.size() && in[i + 1] == '\n')
                ++i;
        } else if (in[i] == '\n') {
            out += "\r\n";
        } else {
            out += in[i];
        }
    }
    if (!out.empty() && out.back() != '\n')
        out += "\r\n";
    return out;
}


BOOST_AUTO_TEST_CASE(smuggling_attempts_reach_a_real_server_as_one_message_each)
{
    // SMTP smuggling: a message whose data holds an end of data a lax
    // server would accept ("\n.\n", "\r.\r", ...) followed by a second
    // transaction. Each must arrive as one message, its bytes intact.
    const std::vector<std::string> attempts{
        "a\n.\nMAIL FROM:<evil@x.org>\nRCPT TO:<victim@x.org>\nDATA\nsmuggled\n.\n",
        "a\r.\rMAIL FROM:<evil@x.org>\rRCPT TO:<victim@x.org>\rDATA\rsmuggled\r.\r",
        "a\r\n.\nMAIL FROM:<evil@x.org>\r\n",
        "a\n.\r\nMAIL FROM:<evil@x.org>\r\n",
        "a\r\n.\rMAIL FROM:<evil@x.org>\r\n",
        std::string("a\r\n\0.\r\nMAIL FROM:<evil@x.org>\r\n", 31),
        "a\r\n..\r\n.\r\n\r\n",
        ".\r\n",
        "\n.\n",
    };
    auto g = std::move(smtp::connect<clear>(server("REC"))).ehlo();
    for (const auto& a : attempts)
        BOOST_TEST(g.sendmail("a@example.com", {"b@example.com"}, a).queued());
    std::move(g).quit();
    const fs::path dir = env("SMTP_TEST_REC_RECORD");
    std::vector<std::string> got;
    for (std::size_t n = 1;; ++n) {
        const fs::path f = dir / (std::to_string(n) + ".json");
        if (!fs::exists(f))
            break;
        got.push_back(recorded_data(slurp(f)));
    }
    BOOST_REQUIRE(got.size() == attempts.size()); // no message more
    for (std::size_t i = 0; i < got.size(); ++i)
        BOOST_TEST(got[i] == normalised(attempts[i]), "attempt " << i);
}

BOOST_AUTO_TEST_CASE(pool_against_smtp_sink)
{
    boost::asio::io_context io;
    smtp::pool_options po;
    po.max_sessions = 4;
    po.max_messages_per_session = 60;
    smtp::pool<clear> pool(io.get_executor(), server("SINK"), po);
    std::vector<smtp::transaction_result> results(200);
    std::size_t done = 0;
    for (std::size_t i = 0; i < results.size(); ++i)
        pool.async_send({"a@example.com", {{"b@example.com"}}, "Subject: pool\r\n\r\nm" + std::to_string(i), {}},
                        [&, i](smtp::error_code, smtp::transaction_result r) {
                            results[i] = std::move(r);
                            ++done;
                        });
    bool closed = false;
    pool.async_close([&](smtp::error_code, smtp::pool_stats) { closed = true; });
    io.run();
    BOOST_TEST(closed);
    BOOST_TEST(done == results.size());
    for (const auto& r : results)
        BOOST_TEST(r.queued());
    BOOST_TEST(pool.stats().most_sessions_open <= 4u);
    BOOST_TEST(pool.stats().sessions_opened >= 4u); // 200 messages, at most 60 a session
    BOOST_TEST(pool.open_sessions() == 0u);
}

BOOST_AUTO_TEST_CASE(pool_delivers_each_message_once)
{
    boost::asio::io_context io;
    smtp::pool_options po;
    po.max_sessions = 3;
    po.max_messages_per_session = 7;
    smtp::pool<clear> pool(io.get_executor(), server("MTA"), po);
    const int n = 30;
    int queued = 0;
    for (int i = 0; i < n; ++i)
        pool.async_send({"pool@example.test", {{"dave@example.test"}},
                         "Subject: pool " + std::to_string(i) + "\r\n\r\nbody\r\n", {}},
                        [&](smtp::error_code, smtp::transaction_result r) { queued += r.queued(); });
    pool.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    BOOST_TEST(queued == n);
    const auto got = maildir("dave", n);
    BOOST_TEST(got.size() == static_cast<std::size_t>(n));
    std::set<std::string> subjects;
    for (const auto& m : got) {
        const auto at = m.find("Subject: pool ");
        BOOST_REQUIRE(at != std::string::npos);
        subjects.insert(m.substr(at, m.find('\n', at) - at));
    }
    BOOST_TEST(subjects.size() == static_cast<std::size_t>(n)); // each once
}

// --- OAuth tokens that expire, against aiosmtpd ------------------------------

namespace {

/// Hands out the tokens it was given, in order, and notes the refused ones.
struct token_list {
    std::vector<std::string> tokens;
    std::size_t next = 0;
    std::vector<std::string> refused_tokens{};

    smtp::auth::credentials get(smtp::error_code& ec)
    {
        ec = {};
        if (next == tokens.size()) {
            ec = errc::sasl_invalid_credentials;
            return {};
        }
        return {"alice", tokens[next++], ""};
    }
    void refused(const smtp::auth::credentials& c, const smtp::reply&) { refused_tokens.emplace_back(c.secret.view()); }
};

/// How many AUTH commands server `name` has seen (its events.txt).
std::size_t auth_commands(const std::string& name)
{
    std::ifstream f(fs::path(env("SMTP_TEST_" + name + "_RECORD")) / "events.txt");
    std::size_t n = 0;
    for (std::string line; std::getline(f, line);)
        n += line.rfind("AUTH ", 0) == 0;
    return n;
}

using oauth = smtp::policies<smtp::auth::mechanisms<smtp::sasl::xoauth2>>; // STARTTLS required, verified

} // namespace

BOOST_AUTO_TEST_CASE(oauth_tokens_that_expire_against_aiosmtpd)
{
    // Server "oauth": STARTTLS, XOAUTH2 for alice, each of t1..t4 accepted
    // once (then it has expired), no other token ever.
    const auto opts = live::server("OAUTH");
    token_list tokens{{"t1", "t1", "t2", "spent", "t1"}};
    {
        // t1: accepted. One AUTH.
        auto a = std::move(smtp::connect<oauth>(opts)).ehlo().starttls().ehlo().login(tokens);
        a.sendmail("author@example.com", {"a@example.com"}, "Subject: oauth 1\r\n\r\nHello.\r\n");
        std::move(a).quit();
    }
    BOOST_TEST(auth_commands("OAUTH") == 1u);
    {
        // t1 again: expired, refused after the error challenge; the provider
        // hears it, and t2 goes on the same connection.
        auto a = std::move(smtp::connect<oauth>(opts)).ehlo().starttls().ehlo().login(tokens);
        a.sendmail("author@example.com", {"a@example.com"}, "Subject: oauth 2\r\n\r\nHello.\r\n");
        std::move(a).quit();
    }
    BOOST_TEST(auth_commands("OAUTH") == 3u);
    BOOST_TEST(tokens.refused_tokens == std::vector<std::string>{"t1"});
    {
        // "spent" and t1 again: both refused; the second refusal is the
        // error, with the server's 535, and no third AUTH goes out.
        auto e = std::move(smtp::connect<oauth>(opts)).ehlo().starttls().ehlo();
        smtp::error_code ec;
        smtp::diagnostics diag;
        auto r = std::move(e).login(tokens, ec, diag);
        BOOST_TEST(ec == errc::auth_refused);
        BOOST_REQUIRE(diag.server_reply().has_value());
        BOOST_TEST(diag.server_reply()->code().value() == 535u);
        std::move(r).recover().quit();
    }
    BOOST_TEST(auth_commands("OAUTH") == 5u);
    BOOST_TEST((tokens.refused_tokens == std::vector<std::string>{"t1", "spent", "t1"}));

    // A pool, one message per session: each session asks for a token of its
    // own (t3, then t4), none refused.
    auto fresh = std::make_shared<token_list>(token_list{{"t3", "t4"}});
    boost::asio::io_context io;
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_messages_per_session = 1;
    po.credentials = smtp::auth::any_credential_provider(fresh);
    smtp::pool<oauth> pool(io.get_executor(), opts, po);
    int queued = 0;
    for (int i = 0; i < 2; ++i)
        pool.async_send({"author@example.com", {{"a@example.com"}}, "Subject: oauth pool\r\n\r\nm\r\n", {}},
                        [&](smtp::error_code, smtp::transaction_result r) { queued += r.queued(); });
    pool.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    BOOST_TEST(queued == 2);
    BOOST_TEST(fresh->next == 2u);
    BOOST_TEST(fresh->refused_tokens.empty());
    BOOST_TEST(auth_commands("OAUTH") == 7u);
    BOOST_TEST(live::records("OAUTH").size() == 4u);
}

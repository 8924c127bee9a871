// Credentials that change (smtp/credentials.hpp) over scripted servers that
// accept each OAuth token once: a provider asked at every AUTH; a refused
// token reported and replaced once, on the same connection, never a third
// AUTH; a refused password not retried; the asynchronous form; a pool whose
// sessions each get a fresh token and that QUITs after a refused AUTH. And
// smtp::secret: the bytes it lets go are zeros (smtp/secret.hpp).
#define BOOST_TEST_MODULE credentials
#include <smtp/credentials.hpp>
#include <smtp/pool.hpp>
#include <smtp/secret.hpp>
#include <smtp/transport/scripted.hpp>

#include "scripted_server.hpp"
#include "token_provider.hpp" // examples/: the provider docs/policies.md shows

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

using smtp::errc;
using namespace scripted_server;
namespace asio = boost::asio;

namespace {

using oauth_first = smtp::auth::mechanisms<smtp::sasl::xoauth2, smtp::sasl::oauthbearer, smtp::sasl::plain>;
using clear = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext, oauth_first>;

std::string xoauth2_line(const std::string& token)
{
    return "AUTH XOAUTH2 " + smtp::base64::encode("user=alice\x01" "auth=Bearer " + token + "\x01\x01") + "\r\n";
}
std::string oauthbearer_line(const std::string& token)
{
    return "AUTH OAUTHBEARER " + smtp::base64::encode("n,a=alice,\x01" "auth=Bearer " + token + "\x01\x01") + "\r\n";
}
const std::string error_challenge =
    "334 " + smtp::base64::encode(R"({"status":"invalid_token","schemes":"bearer"})") + "\r\n";

/// Issues token-1, token-2, ... and remembers what it was told.
struct counting_tokens {
    int gets = 0;
    std::vector<std::string> refused_tokens;
    std::vector<unsigned> refused_codes;
    smtp::error_code fail_with{};

    smtp::auth::credentials get(smtp::error_code& ec)
    {
        ec = fail_with;
        ++gets;
        return {"alice", "token-" + std::to_string(gets), ""};
    }
    void refused(const smtp::auth::credentials& c, const smtp::reply& r)
    {
        refused_tokens.emplace_back(c.secret.view());
        refused_codes.push_back(r.code().value());
    }
};
static_assert(smtp::auth::sync_credential_provider<counting_tokens>);
static_assert(!smtp::auth::async_credential_provider<counting_tokens>);

/// The same, answering later, from the io_context (a refresh over HTTP would).
struct later_tokens {
    asio::io_context* io;
    counting_tokens inner{};
    void async_get(smtp::auth::credentials_handler h)
    {
        asio::post(*io, [this, h = std::move(h)]() mutable {
            smtp::error_code ec;
            auto c = inner.get(ec);
            h(ec, std::move(c));
        });
    }
    void refused(const smtp::auth::credentials& c, const smtp::reply& r) { inner.refused(c, r); }
};
static_assert(smtp::auth::async_credential_provider<later_tokens>);
static_assert(!smtp::auth::sync_credential_provider<later_tokens>);
static_assert(!smtp::auth::credential_provider<std::string>);

/// Not a provider: it can give credentials but cannot hear of a refusal.
struct deaf_tokens {
    smtp::auth::credentials get(smtp::error_code&) { return {}; }
};
static_assert(!smtp::auth::credential_provider<deaf_tokens>);

// What login() takes: the synchronous form for the synchronous login, and
// nothing that is not a provider; and never before EHLO.
template <class Session, class Provider>
constexpr bool logs_in_with = requires(Session s, Provider& p) { std::move(s).login(p); };
template <class Session, class Provider>
constexpr bool logs_in_with_ec = requires(Session s, Provider& p, smtp::error_code& ec, smtp::diagnostics& d) {
    std::move(s).login(p, ec, d);
};
using greeted_session = smtp::session<clear, smtp::state::greeted<false, false>>;
static_assert(logs_in_with<greeted_session, counting_tokens>);
static_assert(logs_in_with_ec<greeted_session, counting_tokens>);
static_assert(!logs_in_with<greeted_session, later_tokens>);
static_assert(!logs_in_with_ec<greeted_session, later_tokens>);
static_assert(!logs_in_with<greeted_session, deaf_tokens>);
static_assert(!logs_in_with<smtp::session<clear, smtp::state::connected<false>>, counting_tokens>);
static_assert(!logs_in_with<smtp::session<clear, smtp::state::greeted<false, true>>, counting_tokens>);

script_ptr oauth_server()
{
    return greeted("250-mx.example\r\n250 AUTH XOAUTH2 OAUTHBEARER PLAIN\r\n");
}

} // namespace

// --- smtp::secret -------------------------------------------------------------

namespace {
/// Looks at each block when it is freed: does it still hold a non-zero byte?
struct freed_blocks {
    static inline std::size_t freed = 0, dirty = 0;
};
template <class T>
struct observing_allocator {
    using value_type = T;
    observing_allocator() = default;
    template <class U>
    observing_allocator(const observing_allocator<U>&) noexcept
    {}
    T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept
    {
        ++freed_blocks::freed;
        const auto* b = reinterpret_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n * sizeof(T); ++i)
            if (b[i] != 0) {
                ++freed_blocks::dirty;
                break;
            }
        std::allocator<T>().deallocate(p, n);
    }
    friend bool operator==(const observing_allocator&, const observing_allocator&) { return true; }
};
using observed_secret = smtp::basic_secret<observing_allocator<char>>;
} // namespace

BOOST_AUTO_TEST_CASE(secret_heap_bytes_are_zeros_when_freed)
{
    freed_blocks::freed = freed_blocks::dirty = 0;
    {
        observed_secret s = "a token long enough to live on the heap, not in the string";
        s = "another one, longer still, so that the first buffer is freed when it grows";
        observed_secret t = s;                        // a copy: its own block
        observed_secret u = std::move(t);             // moved: one block, one owner
        BOOST_TEST(u.view() == "another one, longer still, so that the first buffer is freed when it grows");
        s = std::string("assigned from a std::string that is longer than before, which frees again");
    }
    BOOST_TEST(freed_blocks::freed >= 3u);
    BOOST_TEST(freed_blocks::dirty == 0u);
}

BOOST_AUTO_TEST_CASE(secret_inline_bytes_are_zeros_when_destroyed)
{
    // A short secret lives inside the object (the small-string buffer): its
    // destructor wipes it there. Looked at in storage this test owns.
    alignas(smtp::secret) unsigned char storage[sizeof(smtp::secret)];
    auto* s = new (storage) smtp::secret("pw-1234");
    BOOST_TEST(s->view() == "pw-1234");
    std::destroy_at(s);
    const std::string bytes(reinterpret_cast<const char*>(storage), sizeof storage);
    BOOST_TEST(bytes.find("pw-1") == std::string::npos);
    BOOST_TEST(bytes.find("1234") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(secret_from_a_std_string_wipes_the_string)
{
    std::string source = "pw-from-the-caller";
    smtp::secret s(std::move(source));
    BOOST_TEST(s.view() == "pw-from-the-caller");
    BOOST_TEST(source.empty());
    BOOST_TEST(std::strlen(source.c_str()) == 0u);
}

// --- A session's login(provider) ----------------------------------------------

BOOST_AUTO_TEST_CASE(provider_asked_once_per_login)
{
    auto s = oauth_server();
    s->expect(xoauth2_line("token-1")).respond("235 2.7.0 ok\r\n").expect("QUIT\r\n").respond("221 bye\r\n");
    counting_tokens tokens;
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    auto a = std::move(g).login(tokens);
    std::move(a).quit();
    BOOST_TEST(tokens.gets == 1);
    BOOST_TEST(tokens.refused_tokens.empty());
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(refused_token_reported_and_replaced_once)
{
    // token-1 has expired: error challenge, dummy answer, 535. The provider
    // hears it, gives token-2, and AUTH goes again on the same connection.
    auto s = oauth_server();
    s->expect(xoauth2_line("token-1")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 expired\r\n");
    s->expect(xoauth2_line("token-2")).respond("235 2.7.0 ok\r\n").expect("QUIT\r\n").respond("221 bye\r\n");
    counting_tokens tokens;
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    auto a = std::move(g).login(tokens);
    std::move(a).quit();
    BOOST_TEST(tokens.gets == 2);
    BOOST_TEST(tokens.refused_tokens == std::vector<std::string>{"token-1"});
    BOOST_TEST(tokens.refused_codes == std::vector<unsigned>{535u});
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(two_refusals_are_the_error_and_no_third_auth)
{
    // OAUTHBEARER (the server offers no XOAUTH2 here), each token refused; the
    // second time without an error challenge. Then the script wants QUIT: a
    // third AUTH would not match it.
    auto s = greeted("250-mx.example\r\n250 AUTH OAUTHBEARER\r\n");
    s->expect(oauthbearer_line("token-1")).respond(error_challenge).expect("AQ==\r\n").respond("535 5.7.8 no\r\n");
    s->expect(oauthbearer_line("token-2")).respond("535 5.7.8 still no\r\n");
    s->expect("QUIT\r\n").respond("221 bye\r\n");
    counting_tokens tokens;
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).login(tokens, ec, diag);
    BOOST_TEST(ec == errc::auth_refused);
    BOOST_REQUIRE(diag.server_reply().has_value());
    BOOST_TEST(diag.server_reply()->message() == "5.7.8 still no");
    BOOST_TEST(tokens.gets == 2);
    BOOST_TEST((tokens.refused_tokens == std::vector<std::string>{"token-1", "token-2"}));
    std::move(r).recover().quit();
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(a_refused_password_is_reported_not_retried)
{
    auto s = greeted("250-mx.example\r\n250 AUTH PLAIN\r\n");
    s->expect("AUTH PLAIN " + smtp::base64::encode(std::string("\0alice\0token-1", 14)) + "\r\n")
        .respond("535 5.7.8 bad password\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    counting_tokens tokens;
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).login(tokens, ec, diag);
    BOOST_TEST(ec == errc::auth_refused);
    BOOST_TEST(tokens.gets == 1);
    BOOST_TEST(tokens.refused_tokens == std::vector<std::string>{"token-1"});
    std::move(r).recover().quit();
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(a_try_later_is_not_a_refused_token)
{
    // 454 4.7.0: the server cannot check now. No retry, nothing refused.
    auto s = oauth_server();
    s->expect(xoauth2_line("token-1")).respond("454 4.7.0 try later\r\n").expect("QUIT\r\n").respond("221 bye\r\n");
    counting_tokens tokens;
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).login(tokens, ec, diag);
    BOOST_TEST(ec == errc::auth_refused);
    BOOST_TEST(tokens.gets == 1);
    BOOST_TEST(tokens.refused_tokens.empty());
    std::move(r).recover().quit();
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(a_provider_error_sends_no_auth)
{
    auto s = oauth_server();
    s->expect("QUIT\r\n").respond("221 bye\r\n");
    counting_tokens tokens;
    tokens.fail_with = errc::sasl_invalid_credentials;
    auto g = std::move(smtp::connect<clear>(opts(), s)).ehlo();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(g).login(tokens, ec, diag);
    BOOST_TEST(ec == errc::sasl_invalid_credentials);
    BOOST_TEST(tokens.gets == 1);
    std::move(r).recover().quit();
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(async_provider_refused_then_replaced)
{
    auto s = oauth_server();
    s->expect(xoauth2_line("token-1")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 expired\r\n");
    s->expect(xoauth2_line("token-2")).respond("235 2.7.0 ok\r\n").expect("QUIT\r\n").respond("221 bye\r\n");
    asio::io_context io;
    later_tokens tokens{&io};
    smtp::error_code login_ec = errc::timeout, quit_ec = errc::timeout;
    smtp::async_connect<clear>(
        io.get_executor(), opts(),
        [&](smtp::error_code ec, auto c) {
            BOOST_REQUIRE(!ec);
            std::move(*c).async_ehlo([&](smtp::error_code, auto g) {
                BOOST_REQUIRE(g.has_value());
                std::move(g).value().async_login(tokens, [&](smtp::error_code e, auto a) {
                    login_ec = e;
                    BOOST_REQUIRE(a.has_value());
                    std::move(a).value().async_quit([&](smtp::error_code q, auto) { quit_ec = q; });
                });
            });
        },
        s);
    io.run();
    BOOST_TEST(!login_ec);
    BOOST_TEST(!quit_ec);
    BOOST_TEST(tokens.inner.gets == 2);
    BOOST_TEST(tokens.inner.refused_tokens == std::vector<std::string>{"token-1"});
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(async_login_with_a_sync_provider_gives_up_after_two)
{
    auto s = oauth_server();
    s->expect(xoauth2_line("token-1")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 no\r\n");
    s->expect(xoauth2_line("token-2")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 no again\r\n");
    s->expect("QUIT\r\n").respond("221 bye\r\n");
    asio::io_context io;
    counting_tokens tokens;
    smtp::error_code login_ec;
    std::string described;
    smtp::async_connect<clear>(
        io.get_executor(), opts(),
        [&](smtp::error_code ec, auto c) {
            BOOST_REQUIRE(!ec);
            std::move(*c).async_ehlo([&](smtp::error_code, auto g) {
                BOOST_REQUIRE(g.has_value());
                std::move(g).value().async_login(tokens, [&](smtp::error_code e, auto r) {
                    login_ec = e;
                    described = r.diag().describe(r.error());
                    std::move(r).recover().async_quit([](smtp::error_code, auto) {});
                });
            });
        },
        s);
    io.run();
    BOOST_TEST(login_ec == errc::auth_refused);
    BOOST_TEST(described.find("535 5.7.8 no again") != std::string::npos, described);
    BOOST_TEST(tokens.gets == 2);
    BOOST_TEST(s->done(), s->log());
}

// --- The pool -----------------------------------------------------------------

namespace {
using pool_p = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext, oauth_first>;

std::string group(const std::string& to) { return "MAIL FROM:<a@x.org>\r\nRCPT TO:<" + to + ">\r\nDATA\r\n"; }

struct pool_fixture {
    asio::io_context io;
    std::vector<script_ptr> scripts;
    std::size_t next = 0;
    std::vector<smtp::transaction_result> results;

    smtp::pool<pool_p> make(smtp::pool_options po)
    {
        return smtp::pool<pool_p>(io.get_executor(), opts(), std::move(po), [this](asio::any_io_executor ex) {
            BOOST_REQUIRE_MESSAGE(next < scripts.size(), "the pool opened more sessions than scripted");
            return smtp::transport::scripted(ex, scripts[next++]);
        });
    }
    void send(smtp::pool<pool_p>& p, const std::string& to)
    {
        const std::size_t i = results.size();
        results.emplace_back();
        p.async_send({"a@x.org", {{to}}, "m-" + to, {}},
                     [this, i](smtp::error_code, smtp::transaction_result r) { results[i] = std::move(r); });
    }
};
} // namespace

BOOST_FIXTURE_TEST_CASE(each_pooled_session_gets_a_fresh_token, pool_fixture)
{
    // One message per session, one session at a time: session 1 takes
    // token-1; session 2's token-2 has expired, so it takes token-3; session 3 token-4.
    auto pipelined = [](script_ptr s, const std::string& to) {
        s->expect(group(to)).respond("250 ok\r\n250 ok\r\n354 go\r\n").expect("m-" + to + "\r\n.\r\n").respond(
            "250 queued\r\n");
        s->expect("QUIT\r\n").respond("221 bye\r\n");
    };
    const std::string ehlo = "250-mx.example\r\n250-PIPELINING\r\n250 AUTH XOAUTH2\r\n";
    auto s1 = greeted(ehlo);
    s1->expect(xoauth2_line("token-1")).respond("235 ok\r\n");
    pipelined(s1, "r0@x.org");
    auto s2 = greeted(ehlo);
    s2->expect(xoauth2_line("token-2")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 expired\r\n");
    s2->expect(xoauth2_line("token-3")).respond("235 ok\r\n");
    pipelined(s2, "r1@x.org");
    auto s3 = greeted(ehlo);
    s3->expect(xoauth2_line("token-4")).respond("235 ok\r\n");
    pipelined(s3, "r2@x.org");
    scripts = {s1, s2, s3};

    auto tokens = std::make_shared<counting_tokens>();
    smtp::pool_options po;
    po.max_sessions = 1;
    po.max_messages_per_session = 1;
    po.max_batch = 1;
    po.credentials = smtp::auth::any_credential_provider(tokens);
    auto p = make(po);
    for (int i = 0; i < 3; ++i)
        send(p, "r" + std::to_string(i) + "@x.org");
    p.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    for (const auto& r : results)
        BOOST_TEST(r.queued());
    BOOST_TEST(tokens->gets == 4);
    BOOST_TEST(tokens->refused_tokens == std::vector<std::string>{"token-2"});
    for (const auto& s : scripts)
        BOOST_TEST(s->done(), s->log());
    BOOST_TEST(p.stats().sessions_opened == 3u);
}

BOOST_FIXTURE_TEST_CASE(pool_quits_after_a_refused_auth, pool_fixture)
{
    // Static credentials refused: the message fails with the refusal, and
    // the session says QUIT before it goes (the script wants it).
    auto s = greeted("250-mx.example\r\n250 AUTH PLAIN\r\n");
    s->expect("AUTH PLAIN " + smtp::base64::encode(std::string("\0user\0secret", 12)) + "\r\n")
        .respond("535 5.7.8 no\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    scripts = {s};
    smtp::pool_options po;
    po.max_sessions = 1;
    po.login = std::make_pair(std::string("user"), std::string("secret"));
    auto p = make(po);
    send(p, "r0@x.org");
    io.run();
    BOOST_TEST(results.at(0).error == errc::auth_refused);
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(p.stats().sessions_failed == 1u);
}

BOOST_FIXTURE_TEST_CASE(pool_provider_refused_twice_quits, pool_fixture)
{
    auto s = oauth_server();
    s->expect(xoauth2_line("token-1")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 no\r\n");
    s->expect(xoauth2_line("token-2")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 no\r\n");
    s->expect("QUIT\r\n").respond("221 bye\r\n");
    scripts = {s};
    asio::io_context& io_ref = io;
    auto tokens = std::make_shared<later_tokens>(later_tokens{&io_ref});
    smtp::pool_options po;
    po.max_sessions = 1;
    po.credentials = smtp::auth::any_credential_provider(tokens);
    auto p = make(po);
    send(p, "r0@x.org");
    io.run();
    BOOST_TEST(results.at(0).error == errc::auth_refused);
    BOOST_TEST(tokens->inner.gets == 2);
    BOOST_TEST(s->done(), s->log());
}

BOOST_FIXTURE_TEST_CASE(the_examples_cached_token_over_a_pool, pool_fixture)
{
    // examples/token_provider.hpp: session 1 refreshes (token-1, valid an
    // hour); session 2 reuses it, the server has revoked it, so the provider
    // drops it and refreshes (token-2) for the retry on the same connection.
    const std::string ehlo = "250-mx.example\r\n250 AUTH XOAUTH2\r\n";
    auto one = [](script_ptr s, const std::string& to) {
        s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 ok\r\n").expect("RCPT TO:<" + to + ">\r\n");
        s->respond("250 ok\r\n").expect("DATA\r\n").respond("354 go\r\n").expect("m-" + to + "\r\n.\r\n");
        s->respond("250 queued\r\n").expect("QUIT\r\n").respond("221 bye\r\n");
    };
    auto s1 = greeted(ehlo);
    s1->expect(xoauth2_line("token-1")).respond("235 ok\r\n");
    one(s1, "r0@x.org");
    auto s2 = greeted(ehlo);
    s2->expect(xoauth2_line("token-1")).respond(error_challenge).expect("\r\n").respond("535 5.7.8 revoked\r\n");
    s2->expect(xoauth2_line("token-2")).respond("235 ok\r\n");
    one(s2, "r1@x.org");
    scripts = {s1, s2};

    int refreshes = 0;
    auto tokens = std::make_shared<cached_token>("alice", [&](smtp::error_code&) {
        return cached_token::token{"token-" + std::to_string(++refreshes), std::chrono::hours(1)};
    });
    smtp::pool_options po = with_tokens(tokens);
    po.max_sessions = 1;
    po.max_messages_per_session = 1;
    auto p = make(po);
    send(p, "r0@x.org");
    send(p, "r1@x.org");
    p.async_close([](smtp::error_code, smtp::pool_stats) {});
    io.run();
    BOOST_TEST(results.at(0).queued());
    BOOST_TEST(results.at(1).queued());
    BOOST_TEST(refreshes == 2);
    for (const auto& s : scripts)
        BOOST_TEST(s->done(), s->log());
}

// The proxy handshakes without I/O (transport/detail/proxy_handshake.hpp):
// the bytes each sends, every reply a proxy can give (good, refusing,
// malformed, hostile), and that credentials stay out of every message.
#include <smtp/transport/detail/proxy_handshake.hpp>

#define BOOST_TEST_MODULE proxy_handshake
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using smtp::errc;
using smtp::error_code;
using smtp::transport::http_proxy_options;
using smtp::transport::socks5_options;
using smtp::detail::http_connect_handshake;
using smtp::detail::proxy_step;
using smtp::detail::socks5_handshake;

namespace {

std::string bytes(std::initializer_list<int> v)
{
    std::string s;
    for (int b : v)
        s += static_cast<char>(b);
    return s;
}

/// Plays a handshake against a proxy's replies, one reply per read: what the
/// client wrote, all of it, and how it ended.
template <class H>
struct run_result {
    std::string written;
    error_code ec;
    bool done = false;
    std::string leftover;
    std::string detail;
};

template <class H>
run_result<H> play(H& h, const std::string& host, std::uint16_t port, std::initializer_list<std::string> replies)
{
    run_result<H> r;
    h.start(host, port, r.ec);
    if (r.ec) {
        r.detail = h.detail();
        return r;
    }
    std::string in;
    auto next = replies.begin();
    for (int guard = 0; guard < 100; ++guard) {
        std::size_t used = 0;
        const proxy_step s = h.resume(in, used, r.ec);
        in.erase(0, used);
        switch (s.kind) {
        case proxy_step::write: r.written += s.bytes; break;
        case proxy_step::read:
            if (next == replies.end()) {
                r.detail = "(waiting for more)";
                return r;
            }
            in += *next++;
            break;
        case proxy_step::done:
            r.done = true;
            r.leftover = in;
            return r;
        case proxy_step::fail: r.detail = h.detail(); return r;
        }
    }
    BOOST_FAIL("the handshake does not end");
    return r;
}

socks5_options socks(std::string user = {}, std::string pass = {})
{
    return {"127.0.0.1", 1080, std::move(user), std::move(pass)};
}

const std::string ok_v4 = bytes({5, 0, 0, 1, 10, 0, 0, 1, 0x04, 0x38});

} // namespace

BOOST_AUTO_TEST_CASE(socks5_sends_the_name_for_the_proxy_to_resolve)
{
    socks5_handshake h(socks());
    const auto r = play(h, "mx.example", 25, {bytes({5, 0}), ok_v4 + "220 mx.example ESMTP\r\n"});
    BOOST_TEST(r.ec.message() == error_code{}.message());
    BOOST_TEST(r.done);
    BOOST_TEST(r.written == bytes({5, 1, 0}) + bytes({5, 1, 0, 3, 10}) + "mx.example" + bytes({0, 25}));
    BOOST_TEST(r.leftover == "220 mx.example ESMTP\r\n"); // the greeting in the same segment is the tunnel's
}

BOOST_AUTO_TEST_CASE(socks5_sends_address_literals_as_addresses)
{
    socks5_handshake h4(socks());
    auto r = play(h4, "192.0.2.7", 587, {bytes({5, 0}), ok_v4});
    BOOST_TEST(r.done);
    BOOST_TEST(r.written == bytes({5, 1, 0}) + bytes({5, 1, 0, 1, 192, 0, 2, 7, 2, 0x4B}));

    socks5_handshake h6(socks());
    r = play(h6, "2001:db8::1", 25, {bytes({5, 0}), bytes({5, 0, 0, 4}) + std::string(16, '\0') + bytes({0, 25})});
    BOOST_TEST(r.done);
    BOOST_TEST(r.written == bytes({5, 1, 0}) + bytes({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8}) + std::string(11, '\0') +
                                bytes({1, 0, 25}));
}

BOOST_AUTO_TEST_CASE(socks5_reply_in_pieces_and_with_a_bound_name)
{
    socks5_handshake h(socks());
    const auto r = play(h, "mx.example", 25,
                        {bytes({5}), bytes({0}), bytes({5, 0}), bytes({0, 3, 4}), "prox", bytes({0, 80}) + "220"});
    BOOST_TEST(r.done);
    BOOST_TEST(r.leftover == "220");
}

BOOST_AUTO_TEST_CASE(socks5_username_and_password)
{
    socks5_handshake h(socks("alice", "s3cret"));
    const auto r = play(h, "mx.example", 25, {bytes({5, 2}), bytes({1, 0}), ok_v4});
    BOOST_TEST(r.done);
    BOOST_TEST(r.written == bytes({5, 2, 0, 2}) + bytes({1, 5}) + "alice" + bytes({6}) + "s3cret" +
                                bytes({5, 1, 0, 3, 10}) + "mx.example" + bytes({0, 25}));
}

BOOST_AUTO_TEST_CASE(socks5_refusals_name_the_proxy_and_its_reply)
{
    socks5_handshake h(socks());
    auto r = play(h, "mx.example", 25, {bytes({5, 0}), bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0})});
    BOOST_TEST(r.ec == errc::proxy_refused);
    BOOST_TEST(r.detail ==
               "SOCKS5 proxy 127.0.0.1:1080 refused CONNECT to mx.example:25: connection refused by destination host (5)");

    const std::pair<int, std::string_view> codes[] = {{1, "general SOCKS server failure (1)"},
                                                      {2, "connection not allowed by ruleset (2)"},
                                                      {3, "network unreachable (3)"},
                                                      {4, "host unreachable (4)"},
                                                      {6, "TTL expired (6)"},
                                                      {7, "command not supported (7)"},
                                                      {8, "address type not supported (8)"},
                                                      {0x42, "unassigned reply code (66)"}};
    for (const auto& [code, text] : codes) {
        socks5_handshake g(socks());
        r = play(g, "mx.example", 25, {bytes({5, 0}), bytes({5, code, 0, 1})});
        BOOST_TEST(r.ec == errc::proxy_refused);
        BOOST_TEST(r.detail.ends_with(text), r.detail);
    }
}

BOOST_AUTO_TEST_CASE(socks5_credentials_asked_for_or_refused)
{
    socks5_handshake none(socks());
    auto r = play(none, "mx.example", 25, {bytes({5, 0xFF})});
    BOOST_TEST(r.ec == errc::proxy_auth_required);
    BOOST_TEST(r.detail == "SOCKS5 proxy 127.0.0.1:1080 asks for credentials (it refused no authentication)");

    socks5_handshake wrong(socks("alice", "wrong-password"));
    r = play(wrong, "mx.example", 25, {bytes({5, 2}), bytes({1, 1})});
    BOOST_TEST(r.ec == errc::proxy_auth_refused);
    BOOST_TEST(r.detail == "SOCKS5 proxy 127.0.0.1:1080 refused the username and password (status 1)");
    BOOST_TEST(r.detail.find("wrong-password") == std::string::npos);
    BOOST_TEST(r.detail.find("alice") == std::string::npos);

    socks5_handshake both(socks("alice", "pw"));
    r = play(both, "mx.example", 25, {bytes({5, 0xFF})});
    BOOST_TEST(r.ec == errc::proxy_auth_refused);
}

BOOST_AUTO_TEST_CASE(socks5_malformed_replies)
{
    struct bad {
        std::initializer_list<std::string> replies;
        std::string_view says;
    };
    for (const auto& [replies, says] : {
             bad{{bytes({4, 0})}, "answered the greeting with version 4, not 5: not a SOCKS5 proxy"},
             bad{{"HTTP/1.1 400 Bad Request\r\n"}, "with version 72, not 5"},
             bad{{bytes({5, 2})}, "chose authentication method 2, which was not offered"},
             bad{{bytes({5, 0}), bytes({4, 0, 0, 1})}, "answered CONNECT with version 4, not 5"},
             bad{{bytes({5, 0}), bytes({5, 0, 0, 9})}, "answered CONNECT with address type 9"},
             bad{{bytes({5, 0}), bytes({5, 0, 0, 3, 0})}, "answered CONNECT with an empty bound name"},
         }) {
        socks5_handshake h(socks());
        const auto r = play(h, "mx.example", 25, replies);
        BOOST_TEST(r.ec == errc::proxy_bad_reply);
        BOOST_TEST(r.detail.find(says) != std::string::npos, r.detail);
        BOOST_TEST(r.detail.starts_with("SOCKS5 proxy 127.0.0.1:1080 "));
    }
    socks5_handshake auth(socks("alice", "pw"));
    const auto r = play(auth, "mx.example", 25, {bytes({5, 2}), bytes({5, 0})});
    BOOST_TEST(r.ec == errc::proxy_bad_reply);
    BOOST_TEST(r.detail.ends_with("answered the username and password with version 5, not 1"));
}

BOOST_AUTO_TEST_CASE(socks5_never_trusts_a_length)
{
    // A bound name of 255 octets is waited for in full and no further; the
    // driver's read bound (max_reply) is the longest legal reply.
    socks5_handshake h(socks());
    std::string reply = bytes({5, 0, 0, 3, 255}) + std::string(200, 'a');
    auto r = play(h, "mx.example", 25, {bytes({5, 0}), reply});
    BOOST_TEST(!r.done);
    BOOST_TEST(!r.ec);
    BOOST_TEST(socks5_handshake::max_reply() == 262u);
    socks5_handshake g(socks());
    r = play(g, "mx.example", 25, {bytes({5, 0}), reply, std::string(55, 'a') + bytes({0, 25}) + "extra"});
    BOOST_TEST(r.done);
    BOOST_TEST(r.leftover == "extra");
}

BOOST_AUTO_TEST_CASE(socks5_refuses_before_any_byte_what_it_cannot_send)
{
    for (const auto& [host, user, pass] : {std::tuple<std::string, std::string, std::string>{std::string(256, 'a'), "", ""},
                                           {"", "", ""},
                                           {"mx.example\r\nEVIL", "", ""},
                                           {"mx example", "", ""},
                                           {"mx.example", std::string(256, 'u'), "pw"},
                                           {"mx.example", "alice", ""},
                                           {"mx.example", "", "pw"},
                                           {"mx.example", "alice", std::string(256, 'p')}}) {
        socks5_handshake h(socks(user, pass));
        error_code ec;
        h.start(host, 25, ec);
        BOOST_TEST(ec == errc::proxy_invalid_request);
        BOOST_TEST(h.detail().starts_with("cannot ask the SOCKS5 proxy 127.0.0.1:1080 for "), h.detail());
        if (!pass.empty())
            BOOST_TEST(h.detail().find(pass) == std::string::npos);
    }
}

// ---------------------------------------------------------------------------
// HTTP CONNECT

namespace {
http_proxy_options web(std::string user = {}, std::string pass = {}, std::size_t max = 8192)
{
    return {"proxy.example", 3128, std::move(user), std::move(pass), max};
}
} // namespace

BOOST_AUTO_TEST_CASE(http_connect_request_and_tunnel)
{
    http_connect_handshake h(web());
    const auto r = play(h, "mx.example", 25,
                        {"HTTP/1.1 200 Connection established\r\nProxy-agent: x\r\n\r\n220 mx.example ESMTP\r\n"});
    BOOST_TEST(r.done);
    BOOST_TEST(r.written == "CONNECT mx.example:25 HTTP/1.1\r\nHost: mx.example:25\r\n\r\n");
    BOOST_TEST(r.leftover == "220 mx.example ESMTP\r\n");

    http_connect_handshake v6(web());
    const auto r6 = play(v6, "2001:db8::1", 587, {"HTTP/1.0 200 OK\r\n", "\r\n"});
    BOOST_TEST(r6.done);
    BOOST_TEST(r6.written == "CONNECT [2001:db8::1]:587 HTTP/1.1\r\nHost: [2001:db8::1]:587\r\n\r\n");
    BOOST_TEST(r6.leftover.empty());
}

BOOST_AUTO_TEST_CASE(http_connect_basic_credentials)
{
    http_connect_handshake h(web("alice", "s3cret"));
    const auto r = play(h, "mx.example", 25, {"HTTP/1.1 200 OK\r\n\r\n"});
    BOOST_TEST(r.done);
    BOOST_TEST(r.written == "CONNECT mx.example:25 HTTP/1.1\r\nHost: mx.example:25\r\n"
                            "Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(http_connect_refusals_name_the_proxy_and_its_status_line)
{
    http_connect_handshake h(web());
    auto r = play(h, "mx.example", 25, {"HTTP/1.0 403 Access violation\r\nServer: tinyproxy\r\n\r\n<html>"});
    BOOST_TEST(r.ec == errc::proxy_refused);
    BOOST_TEST(r.detail == "HTTP proxy proxy.example:3128 refused CONNECT to mx.example:25: HTTP/1.0 403 Access violation");

    http_connect_handshake none(web());
    r = play(none, "mx.example", 25, {"HTTP/1.1 407 Proxy Authentication Required\r\n"});
    BOOST_TEST(r.ec == errc::proxy_auth_required);
    BOOST_TEST(r.detail == "HTTP proxy proxy.example:3128 asks for credentials: HTTP/1.1 407 Proxy Authentication Required");

    http_connect_handshake wrong(web("alice", "wrong-password"));
    r = play(wrong, "mx.example", 25, {"HTTP/1.1 407 Proxy Authentication Required\r\n"});
    BOOST_TEST(r.ec == errc::proxy_auth_refused);
    BOOST_TEST(r.detail.find("refused the credentials: HTTP/1.1 407") != std::string::npos);
    BOOST_TEST(r.detail.find("wrong-password") == std::string::npos);
    BOOST_TEST(r.detail.find("YWxpY2U6") == std::string::npos);

    http_connect_handshake tiny(web("alice", "wrong-password")); // tinyproxy's answer to wrong credentials
    r = play(tiny, "mx.example", 25, {"HTTP/1.0 401 Unauthorized\r\n"});
    BOOST_TEST(r.ec == errc::proxy_auth_refused);
    BOOST_TEST(r.detail == "HTTP proxy proxy.example:3128 refused the credentials: HTTP/1.0 401 Unauthorized");

    http_connect_handshake gw(web());
    r = play(gw, "mx.example", 25, {"HTTP/1.1 502 Bad Gateway\r\n\r\n"});
    BOOST_TEST(r.ec == errc::proxy_refused);
    BOOST_TEST(r.detail.ends_with("HTTP/1.1 502 Bad Gateway"));
}

BOOST_AUTO_TEST_CASE(http_connect_malformed_and_hostile_replies)
{
    for (const std::string& reply : {std::string("SSH-2.0-OpenSSH_9.2\r\n"), std::string("220 mx.example ESMTP\r\n"),
                                    std::string("HTTP/1.1 2000 OK\r\n\r\n"), std::string("HTTP/2 200\r\n\r\n"),
                                    std::string("HTTP/1.1 20x OK\r\n\r\n"), std::string("HTTP/1.1 200OK\r\n\r\n"),
                                    std::string("HTTP/1.1 200 OK\n\n"), std::string("\x16\x03\x01\x00", 4)}) {
        http_connect_handshake h(web());
        const auto r = play(h, "mx.example", 25, {reply});
        BOOST_TEST_CONTEXT(reply)
        {
            BOOST_TEST(r.ec == errc::proxy_bad_reply);
            BOOST_TEST(r.detail.starts_with("HTTP proxy proxy.example:3128 answered CONNECT with something that is not an "
                                            "HTTP status line: '"),
                       r.detail);
        }
    }
    // Control bytes are quoted, never passed through.
    http_connect_handshake q(web());
    const auto r = play(q, "mx.example", 25, {std::string("\x1b[31mHI\r\n")});
    BOOST_TEST(r.detail.find("\\x1B[31mHI") != std::string::npos, r.detail);
}

BOOST_AUTO_TEST_CASE(http_connect_reply_bounded)
{
    // A status line without its end, and headers without their blank line.
    http_connect_handshake a(web({}, {}, 64));
    auto r = play(a, "mx.example", 25, {"HTTP/1.1 200 " + std::string(100, 'x')});
    BOOST_TEST(r.ec == errc::proxy_reply_too_long);
    BOOST_TEST(r.detail == "HTTP proxy proxy.example:3128 sent 113 octets without ending its reply's status line (the limit is 64)");

    http_connect_handshake b(web({}, {}, 64));
    r = play(b, "mx.example", 25, {"HTTP/1.1 200 OK\r\n", "X-Pad: " + std::string(30, 'x') + "\r\n", "X-Pad: " + std::string(30, 'y')});
    BOOST_TEST(r.ec == errc::proxy_reply_too_long);
    BOOST_TEST(r.detail.find("without ending its reply's headers") != std::string::npos, r.detail);

    http_connect_handshake c(web({}, {}, 64));
    r = play(c, "mx.example", 25, {"HTTP/1.1 200 OK\r\nX: " + std::string(60, 'z') + "\r\n\r\n"});
    BOOST_TEST(r.ec == errc::proxy_reply_too_long);

    http_connect_handshake d(web());
    r = play(d, "mx.example", 25, {"HTTP/1.1 200 OK\r\n"}); // and then nothing: still waiting
    BOOST_TEST(!r.done);
    BOOST_TEST(!r.ec);
}

BOOST_AUTO_TEST_CASE(http_connect_refuses_before_any_byte_what_it_cannot_send)
{
    for (const auto& [host, user, pass] :
         {std::tuple<std::string, std::string, std::string>{"mx.example\r\nX-Evil: 1", "", ""},
          {"mx.example HTTP/1.1", "", ""},
          {"", "", ""},
          {"user@mx.example", "", ""},
          {"mx.example", "al:ice", "pw"},
          {"mx.example", "alice", "p\r\nw"},
          {"mx.example", "", "pw"}}) {
        http_connect_handshake h(web(user, pass));
        error_code ec;
        h.start(host, 25, ec);
        BOOST_TEST(ec == errc::proxy_invalid_request, host << " " << user);
        BOOST_TEST(h.detail().starts_with("cannot ask the HTTP proxy proxy.example:3128 for "), h.detail());
        BOOST_TEST(h.detail().find("pw") == std::string::npos);
    }
}

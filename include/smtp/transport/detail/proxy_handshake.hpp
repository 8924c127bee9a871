/// \file smtp/transport/detail/proxy_handshake.hpp
///
/// The two proxy handshakes without I/O: what to send, how to read what the
/// proxy answers, when the tunnel is up. transport::socks5 and
/// transport::http_connect run them over their inner stream
/// (detail/tunnel.hpp); tests/test_proxy_handshake.cpp feeds them bytes.
///
/// Each is a small state machine: `start(host, port, ec)` checks what would
/// be sent (an error here is before any byte) and `resume(in, used, ec)`,
/// given every byte received and not yet used, answers with the next step:
/// write `bytes`, read more, done (what is left in `in` after `used` belongs
/// to the tunnel), or fail (ec, and detail() in words). Lengths the proxy
/// sends are never trusted: each read is bounded (max_reply()).
#ifndef SMTP_TRANSPORT_DETAIL_PROXY_HANDSHAKE_HPP
#define SMTP_TRANSPORT_DETAIL_PROXY_HANDSHAKE_HPP

#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN
namespace transport {

/// Where the SOCKS5 proxy is (RFC 1928), and the credentials it asks for
/// (RFC 1929), if any. The mail server's host name is sent to the proxy,
/// which resolves it.
struct socks5_options {
    std::string host{};        ///< the proxy's host name or address
    std::uint16_t port = 1080; ///< the proxy's port
    std::string username{};    ///< empty: no credentials offered (1 to 255 octets otherwise)
    std::string password{};    ///< with username: 1 to 255 octets
};

/// Where the HTTP proxy is, and its Basic credentials (Proxy-Authorization),
/// if any.
struct http_proxy_options {
    std::string host{};        ///< the proxy's host name or address
    std::uint16_t port = 8080; ///< the proxy's port
    std::string username{};    ///< empty: no credentials sent; no ':' (RFC 7617)
    std::string password{};
    /// The most octets of status line and headers read before the tunnel:
    /// a reply without its blank line within this is an error.
    std::size_t max_reply = 8192;
};

} // namespace transport

namespace detail {

/// What a handshake asks for next.
struct proxy_step {
    enum kind_t { write, read, done, fail };
    kind_t kind;
    std::string_view bytes{}; ///< write: these, all of them
};

/// 4 (IPv4) or 6 (IPv6) with the address in `out`, or 0 for a name.
inline int ip_literal(const std::string& host, unsigned char (&out)[16]) noexcept
{
    if (inet_pton(AF_INET, host.c_str(), out) == 1)
        return 4;
    if (inet_pton(AF_INET6, host.c_str(), out) == 1)
        return 6;
    return 0;
}

/// Bytes that cannot be part of a host name or a credential on the wire.
inline bool has_control(std::string_view s) noexcept
{
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7F;
    });
}

/// "host:port", the IPv6 form bracketed.
inline std::string authority(const std::string& host, std::uint16_t port)
{
    unsigned char a[16];
    std::string s = ip_literal(host, a) == 6 ? "[" + host + "]" : host;
    return s + ":" + std::to_string(port);
}

/// A proxy's words, quoted for an error message: control bytes as \xNN,
/// at most 120 octets.
inline std::string quote_reply(std::string_view s)
{
    std::string out;
    constexpr char hex[] = "0123456789ABCDEF";
    for (char c : s.substr(0, 120)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7F) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    if (s.size() > 120)
        out += "...";
    return out;
}

/// Overwrites a buffer that held credentials before it is reused.
inline void wipe(std::string& s) noexcept
{
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i)
        p[i] = 0;
    s.clear();
}

/// RFC 1928's reply field in words.
inline std::string socks5_reply_text(unsigned code)
{
    const char* text = nullptr;
    switch (code) {
    case 1: text = "general SOCKS server failure"; break;
    case 2: text = "connection not allowed by ruleset"; break;
    case 3: text = "network unreachable"; break;
    case 4: text = "host unreachable"; break;
    case 5: text = "connection refused by destination host"; break;
    case 6: text = "TTL expired"; break;
    case 7: text = "command not supported"; break;
    case 8: text = "address type not supported"; break;
    default: text = "unassigned reply code"; break;
    }
    return std::string(text) + " (" + std::to_string(code) + ")";
}

/// SOCKS5 (RFC 1928) with username/password (RFC 1929): the greeting with
/// the methods offered, the credentials if the proxy picks them, CONNECT to
/// the destination (a name as ATYP 3, for the proxy to resolve; an IPv4 or
/// IPv6 literal as ATYP 1 or 4), and its reply.
class socks5_handshake {
public:
    using options_type = transport::socks5_options;
    static constexpr std::string_view kind_name = "SOCKS5";

    explicit socks5_handshake(transport::socks5_options o) : opt_(std::move(o)) {}
    socks5_handshake(socks5_handshake&&) noexcept = default;
    socks5_handshake& operator=(socks5_handshake&&) noexcept = default;
    ~socks5_handshake() { wipe(out_); }

    const transport::socks5_options& proxy() const noexcept { return opt_; }
    /// The longest reply: VER REP RSV ATYP, a 255-octet name and its length, the port.
    static constexpr std::size_t max_reply() noexcept { return 4 + 1 + 255 + 2; }
    /// Why it failed, in words (the proxy, the destination, the proxy's reply).
    const std::string& detail() const noexcept { return detail_; }

    /// Checks the destination and the credentials, and makes the greeting.
    void start(const std::string& host, std::uint16_t port, error_code& ec)
    {
        ec = {};
        detail_.clear();
        wipe(out_);
        dest_ = authority(host, port);
        host_ = host;
        port_ = port;
        unsigned char a[16];
        if (ip_literal(host, a) == 0 && (host.empty() || host.size() > 255 || has_control(host) ||
                                         host.find(' ') != std::string::npos))
            return invalid(ec, "the mail server's name must be 1 to 255 octets with no spaces or control bytes");
        const bool creds = !opt_.username.empty() || !opt_.password.empty();
        if (creds && (opt_.username.empty() || opt_.username.size() > 255 || opt_.password.empty() ||
                      opt_.password.size() > 255))
            return invalid(ec, "the username and the password must each be 1 to 255 octets (RFC 1929)");
        out_ = creds ? std::string("\x05\x02\x00\x02", 4) : std::string("\x05\x01\x00", 3);
        state_ = send_greeting;
    }

    proxy_step resume(std::string_view in, std::size_t& used, error_code& ec)
    {
        used = 0;
        ec = {};
        const auto at = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
        switch (state_) {
        case send_greeting: state_ = method; return {proxy_step::write, out_};
        case method: {
            if (in.size() < 2)
                return {proxy_step::read};
            used = 2;
            if (at(0) != 5)
                return bad(ec, "answered the greeting with version " + std::to_string(at(0)) +
                                   ", not 5: not a SOCKS5 proxy");
            const bool creds = !opt_.username.empty();
            if (at(1) == 0)
                return send_connect();
            if (at(1) == 2 && creds) {
                out_.assign(1, '\x01');
                out_ += static_cast<char>(opt_.username.size());
                out_ += opt_.username;
                out_ += static_cast<char>(opt_.password.size());
                out_ += opt_.password;
                state_ = auth;
                return {proxy_step::write, out_};
            }
            if (at(1) == 0xFF) {
                ec = creds ? errc::proxy_auth_refused : errc::proxy_auth_required;
                detail_ = prefix() + (creds ? " accepts neither no authentication nor a username and password"
                                            : " asks for credentials (it refused no authentication)");
                return {proxy_step::fail};
            }
            return bad(ec, "chose authentication method " + std::to_string(at(1)) + ", which was not offered");
        }
        case auth:
            wipe(out_); // the credentials are on their way: not kept any longer
            if (in.size() < 2)
                return {proxy_step::read};
            used = 2;
            if (at(0) != 1)
                return bad(ec, "answered the username and password with version " + std::to_string(at(0)) +
                                   ", not 1");
            if (at(1) != 0) {
                ec = errc::proxy_auth_refused;
                detail_ = prefix() + " refused the username and password (status " + std::to_string(at(1)) + ")";
                return {proxy_step::fail};
            }
            return send_connect();
        case connect_reply: {
            if (in.size() < 4)
                return {proxy_step::read};
            if (at(0) != 5)
                return bad(ec, "answered CONNECT with version " + std::to_string(at(0)) + ", not 5");
            if (at(1) != 0) {
                used = 4;
                ec = errc::proxy_refused;
                detail_ = prefix() + " refused CONNECT to " + dest_ + ": " + socks5_reply_text(at(1));
                return {proxy_step::fail};
            }
            std::size_t need = 0;
            switch (at(3)) {
            case 1: need = 4 + 4 + 2; break;
            case 4: need = 4 + 16 + 2; break;
            case 3:
                if (in.size() < 5)
                    return {proxy_step::read};
                if (at(4) == 0)
                    return bad(ec, "answered CONNECT with an empty bound name");
                need = 4 + 1 + at(4) + 2;
                break;
            default: return bad(ec, "answered CONNECT with address type " + std::to_string(at(3)));
            }
            if (in.size() < need)
                return {proxy_step::read};
            used = need;
            state_ = up;
            return {proxy_step::done};
        }
        case up: return {proxy_step::done};
        case idle: break;
        }
        ec = errc::proxy_invalid_request;
        return {proxy_step::fail};
    }

private:
    enum state_t { idle, send_greeting, method, auth, connect_reply, up };

    std::string prefix() const { return std::string(kind_name) + " proxy " + authority(opt_.host, opt_.port); }

    void invalid(error_code& ec, const char* why)
    {
        ec = errc::proxy_invalid_request;
        detail_ = "cannot ask the " + prefix() + " for " + dest_ + ": " + why;
        state_ = idle;
    }

    proxy_step bad(error_code& ec, std::string why)
    {
        ec = errc::proxy_bad_reply;
        detail_ = prefix() + " " + why;
        return {proxy_step::fail};
    }

    proxy_step send_connect()
    {
        out_.assign("\x05\x01\x00", 3);
        unsigned char a[16];
        switch (ip_literal(host_, a)) {
        case 4:
            out_ += '\x01';
            out_.append(reinterpret_cast<const char*>(a), 4);
            break;
        case 6:
            out_ += '\x04';
            out_.append(reinterpret_cast<const char*>(a), 16);
            break;
        default:
            out_ += '\x03';
            out_ += static_cast<char>(host_.size());
            out_ += host_;
        }
        out_ += static_cast<char>(port_ >> 8);
        out_ += static_cast<char>(port_ & 0xFF);
        state_ = connect_reply;
        return {proxy_step::write, out_};
    }

    transport::socks5_options opt_;
    state_t state_ = idle;
    std::string host_{}, dest_{}, out_{}, detail_{};
    std::uint16_t port_ = 0;
};

/// HTTP CONNECT (RFC 9110 9.3.6): `CONNECT host:port HTTP/1.1` with a Host
/// header and, with credentials, `Proxy-Authorization: Basic ...`; the
/// status line and headers up to the blank line, within max_reply octets;
/// a 2xx status is the tunnel, 407 (or 401) a question of credentials,
/// anything else the proxy's refusal.
class http_connect_handshake {
public:
    using options_type = transport::http_proxy_options;
    static constexpr std::string_view kind_name = "HTTP";

    explicit http_connect_handshake(transport::http_proxy_options o) : opt_(std::move(o)) {}
    http_connect_handshake(http_connect_handshake&&) noexcept = default;
    http_connect_handshake& operator=(http_connect_handshake&&) noexcept = default;
    ~http_connect_handshake() { wipe(out_); }

    const transport::http_proxy_options& proxy() const noexcept { return opt_; }
    std::size_t max_reply() const noexcept { return opt_.max_reply; }
    const std::string& detail() const noexcept { return detail_; }

    void start(const std::string& host, std::uint16_t port, error_code& ec)
    {
        ec = {};
        detail_.clear();
        wipe(out_);
        dest_ = authority(host, port);
        if (host.empty() || host.size() > 255 || has_control(host) ||
            host.find_first_of(" /@[]") != std::string::npos) {
            ec = errc::proxy_invalid_request;
            detail_ = "cannot ask the " + prefix() + " for " + dest_ +
                      ": the mail server's name must be 1 to 255 octets with no spaces, control bytes, '/', '@' or brackets";
            return;
        }
        if (has_control(opt_.username) || has_control(opt_.password) ||
            opt_.username.find(':') != std::string::npos || (opt_.username.empty() && !opt_.password.empty())) {
            ec = errc::proxy_invalid_request;
            detail_ = "cannot ask the " + prefix() +
                      " for a tunnel: the username must be given with the password, without ':' or control bytes";
            return;
        }
        out_ = "CONNECT " + dest_ + " HTTP/1.1\r\nHost: " + dest_ + "\r\n";
        if (!opt_.username.empty()) {
            std::string pair = opt_.username + ":" + opt_.password;
            out_ += "Proxy-Authorization: Basic ";
            base64::encode(pair, out_);
            out_ += "\r\n";
            wipe(pair);
        }
        out_ += "\r\n";
        state_ = send_request;
    }

    proxy_step resume(std::string_view in, std::size_t& used, error_code& ec)
    {
        used = 0;
        ec = {};
        switch (state_) {
        case send_request: state_ = status; return {proxy_step::write, out_};
        case status: {
            wipe(out_); // the request (and its credentials) went out
            const std::size_t eol = in.find("\r\n");
            if (eol == std::string_view::npos) {
                if (in.size() >= opt_.max_reply)
                    return too_long(ec, in);
                if (in.find('\n') != std::string_view::npos || // a bare LF: not HTTP's CRLF
                    (!in.empty() && !std::string_view("HTTP/1.").starts_with(in.substr(0, 7))))
                    return not_http(ec, in);
                return {proxy_step::read};
            }
            const std::string_view line = in.substr(0, eol);
            // HTTP/1.x SP 3DIGIT [SP reason]
            if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[7] < '0' || line[7] > '9' ||
                line[8] != ' ' || !digits(line.substr(9, 3)) || (line.size() > 12 && line[12] != ' '))
                return not_http(ec, in);
            const char klass = line[9];
            if (klass != '2') {
                used = in.size();
                const bool creds = !opt_.username.empty();
                // 407 is HTTP's answer; tinyproxy answers wrong credentials with 401.
                if (line.substr(9, 3) == "407" || line.substr(9, 3) == "401") {
                    ec = creds ? errc::proxy_auth_refused : errc::proxy_auth_required;
                    detail_ = prefix() + (creds ? " refused the credentials: " : " asks for credentials: ") +
                              quote_reply(line);
                } else {
                    ec = errc::proxy_refused;
                    detail_ = prefix() + " refused CONNECT to " + dest_ + ": " + quote_reply(line);
                }
                return {proxy_step::fail};
            }
            const std::size_t end = in.find("\r\n\r\n");
            if (end == std::string_view::npos) {
                if (in.size() >= opt_.max_reply)
                    return too_long(ec, in);
                return {proxy_step::read};
            }
            if (end + 4 > opt_.max_reply)
                return too_long(ec, in);
            used = end + 4;
            state_ = up;
            return {proxy_step::done};
        }
        case up: return {proxy_step::done};
        case idle: break;
        }
        ec = errc::proxy_invalid_request;
        return {proxy_step::fail};
    }

private:
    enum state_t { idle, send_request, status, up };

    static bool digits(std::string_view s)
    {
        return s.size() == 3 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    }

    std::string prefix() const { return std::string(kind_name) + " proxy " + authority(opt_.host, opt_.port); }

    proxy_step not_http(error_code& ec, std::string_view in)
    {
        ec = errc::proxy_bad_reply;
        detail_ = prefix() + " answered CONNECT with something that is not an HTTP status line: '" +
                  quote_reply(in.substr(0, in.find("\r\n"))) + "'";
        return {proxy_step::fail};
    }

    proxy_step too_long(error_code& ec, std::string_view in)
    {
        ec = errc::proxy_reply_too_long;
        detail_ = prefix() + " sent " + std::to_string(in.size()) + " octets without ending its reply's " +
                  (in.find("\r\n") == std::string_view::npos ? "status line" : "headers") + " (the limit is " +
                  std::to_string(opt_.max_reply) + ")";
        return {proxy_step::fail};
    }

    transport::http_proxy_options opt_;
    state_t state_ = idle;
    std::string dest_{}, out_{}, detail_{};
};

} // namespace detail
SMTP_NAMESPACE_END

#endif

/// \file smtp/transport/socks5.hpp
///
/// A stream to the mail server through a SOCKS5 proxy (RFC 1928), with a
/// username and password when the proxy asks for them (RFC 1929). The mail
/// server's name goes to the proxy, which resolves it (an IPv4 or IPv6
/// literal goes as an address). The session's TLS, when there is TLS, runs
/// through the tunnel, and the certificate is checked against the mail
/// server's name, never the proxy's:
///
/// ```
///   smtp::transport::socks5_options proxy{.host = "127.0.0.1", .port = 1080};
///   auto s = smtp::connect<smtp::policies<smtp::transport::socks5<>>>(options, proxy);
/// ```
///
/// A refusal is an error naming the proxy and its reply, in
/// connect_failure_detail() and so in the session's diagnostics
/// ("SOCKS5 proxy 127.0.0.1:1080 refused CONNECT to mx.example:25:
/// connection refused by destination host (5)"); the credentials are in no
/// message and no log.
#ifndef SMTP_TRANSPORT_SOCKS5_HPP
#define SMTP_TRANSPORT_SOCKS5_HPP

#include <smtp/transport/concepts.hpp>
#include <smtp/transport/detail/proxy_handshake.hpp>
#include <smtp/transport/detail/tunnel.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN
namespace transport {

/// A stream_transport through a SOCKS5 proxy, itself reached over `Inner`
/// (tcp by default; any stream_transport). Constructed from the executor,
/// the socks5_options, then the inner stream's own arguments.
template <class Inner = tcp>
class socks5 : public smtp::detail::tunnel<Inner, smtp::detail::socks5_handshake> {
public:
    using smtp::detail::tunnel<Inner, smtp::detail::socks5_handshake>::tunnel;
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

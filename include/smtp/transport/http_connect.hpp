/// \file smtp/transport/http_connect.hpp
///
/// A stream to the mail server through an HTTP proxy's CONNECT method
/// (RFC 9110 9.3.6), with Basic credentials (Proxy-Authorization) when
/// given. The request is `CONNECT host:port HTTP/1.1` with its Host header;
/// the proxy's status line and headers are read within
/// http_proxy_options::max_reply octets; a 2xx status opens the tunnel, and
/// whatever the proxy sent after its blank line is the mail server's. The
/// session's TLS runs through the tunnel, checked against the mail server's
/// name:
///
/// ```
///   smtp::transport::http_proxy_options proxy{.host = "proxy.example", .port = 3128};
///   auto s = smtp::connect<smtp::policies<smtp::transport::http_connect<>>>(options, proxy);
/// ```
///
/// Any other status is an error naming the proxy and its status line
/// (errc::proxy_auth_required or errc::proxy_auth_refused for 407, or
/// tinyproxy's 401,
/// errc::proxy_refused otherwise), in connect_failure_detail(); the
/// credentials are in no message and no log.
#ifndef SMTP_TRANSPORT_HTTP_CONNECT_HPP
#define SMTP_TRANSPORT_HTTP_CONNECT_HPP

#include <smtp/transport/concepts.hpp>
#include <smtp/transport/detail/proxy_handshake.hpp>
#include <smtp/transport/detail/tunnel.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN
namespace transport {

/// A stream_transport through an HTTP proxy (CONNECT), itself reached over
/// `Inner` (tcp by default; any stream_transport). Constructed from the
/// executor, the http_proxy_options, then the inner stream's own arguments.
template <class Inner = tcp>
class http_connect : public smtp::detail::tunnel<Inner, smtp::detail::http_connect_handshake> {
public:
    using smtp::detail::tunnel<Inner, smtp::detail::http_connect_handshake>::tunnel;
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

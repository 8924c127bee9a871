/// \file smtp/transport/concepts.hpp
///
/// What a transport is, in a light header (Asio's buffer and executor types,
/// no socket, no TLS, no OpenSSL): a user's transport, the scripted one and
/// the proxies include this, not tcp.hpp.
///
/// Two kinds:
///
/// ```
///   smtp::transport::stream_transport   bytes in order over a connection: connect,
///                                        read_some, write_some, cancel, close.
///                                        tcp, unix_socket, and the proxies are streams;
///                                        the session puts its TLS layer over one.
///   smtp::transport::session_transport  what the session's driver talks to: a stream
///                                        that also does its own TLS handshake and
///                                        says whether it is encrypted (the TLS layer
///                                        over a stream; the scripted transport; a
///                                        wrapper around another session transport).
/// ```
///
/// Either kind is a transport policy (smtp::transport_policy, policies.hpp),
/// its policy_category transport_category.
#ifndef SMTP_TRANSPORT_CONCEPTS_HPP
#define SMTP_TRANSPORT_CONCEPTS_HPP

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/fwd.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>

#include <concepts>
#include <cstddef>
#include <string>

SMTP_NAMESPACE_BEGIN

/// The policy_category of transports.
namespace detail {
/// What a transport's asynchronous operations are handed: a function object
/// with an associated executor, completing with void(error_code) or
/// void(error_code, std::size_t).
struct transport_handler_archetype {
    using executor_type = boost::asio::any_io_executor;
    executor_type get_executor() const noexcept;
    void operator()(error_code, std::size_t = 0);
};
} // namespace detail

namespace transport {

/// One address a connect tried, and how that went (for diagnostics: "connect
/// to mail.example.org port 587: 127.0.0.1: Connection refused; ...").
/// What a stream's optional connect_attempts() lists.
struct connect_attempt {
    std::string address; ///< as text: "127.0.0.1", "::1", a socket's path
    error_code error;    ///< why it failed (operation_aborted: cut off by the connect timeout)
};

/// A byte stream to the mail server (or to whatever carries bytes to it):
///  - `executor_type`, `get_executor()`;
///  - `async_connect(const connect_options& o, h)`: reach o.host port o.port,
///    completing with void(error_code); a proxy reaches its proxy first;
///  - `async_read_some(mutable_buffer, h)`, `async_write_some(const_buffer, h)`:
///    as Asio's AsyncReadStream / AsyncWriteStream, void(error_code, std::size_t);
///  - `cancel()`: every pending operation completes with operation_aborted
///    (a deadline passed); `close()`: the connection goes, no error;
///  - moved into the session.
/// Optional, for errors that say what happened: `connect_attempts()` (see
/// transport::tcp), `connect_failure_detail()` (a string: a proxy's refusal)
/// and `connect_target()` (a string: what it connects to, when that is not
/// o.host and o.port, as "the Unix socket /run/lmtp").
template <class T>
concept stream_transport =
    std::move_constructible<T> &&
    requires(T& t, const connect_options& o, boost::asio::mutable_buffer in, boost::asio::const_buffer out,
             detail::transport_handler_archetype h) {
        typename T::executor_type;
        t.get_executor();
        t.async_connect(o, std::move(h));
        t.async_read_some(in, std::move(h));
        t.async_write_some(out, std::move(h));
        t.cancel();
        t.close();
    };

/// What the session's driver uses: a connection that can start TLS itself.
///  - `async_connect(o, h)`, `async_read_some(buffer, h)`, `cancel()`, `close()`
///    as a stream_transport;
///  - `async_write(const_buffer, h)`: writes all of it, void(error_code, std::size_t);
///  - `async_handshake(const connect_options& o, bool verify, h)`: TLS as a
///    client, checking the certificate against o.host when verify is true,
///    void(error_code);
///  - `encrypted() const`: whether TLS is on.
/// Optional: `connect_attempts()`, `connect_failure_detail()`,
/// `connect_target()`, and `handshake_bytes()` (what the server sent
/// instead of TLS).
template <class T>
concept session_transport =
    std::move_constructible<T> &&
    requires(T& t, const T& ct, const connect_options& o, boost::asio::mutable_buffer in,
             boost::asio::const_buffer out, detail::transport_handler_archetype h) {
        typename T::executor_type;
        t.get_executor();
        t.async_connect(o, std::move(h));
        t.async_handshake(o, bool{}, std::move(h));
        t.async_read_some(in, std::move(h));
        t.async_write(out, std::move(h));
        t.cancel();
        t.close();
        { ct.encrypted() } -> std::convertible_to<bool>;
    };

} // namespace transport

/// A transport (the transport policy), with transport_category as its
/// policy_category, of either kind:
///  - a stream transport (transport::tcp, transport::unix_socket, a proxy, a
///    stream of one's own): the session runs over transport::tls_layer of it,
///    which does TLS over the stream;
///  - a session transport (transport::scripted, a wrapper around another
///    session transport, as examples/custom_policies.cpp's): used as it is.
/// connect() constructs the session transport from the executor followed by
/// connect's own extra arguments (tls_layer<Stream> passes them on to
/// Stream's constructor); the pool from the executor alone, or through its
/// transport_factory.
template <class T>
concept transport_policy = std::same_as<typename T::policy_category, transport_category> &&
                           (transport::session_transport<T> || transport::stream_transport<T>);

namespace detail {
/// See smtp/transport/fwd.hpp: itself when T is a session transport,
/// tls_layer over it when it is a stream; itself otherwise (and then the
/// transport_policy check names what is missing).
template <class T, bool Session = transport::session_transport<T>, bool Stream = transport::stream_transport<T>>
struct session_transport_pick {
    using type = T;
};
template <class T>
struct session_transport_pick<T, false, true> {
    using type = transport::tls_layer<T>;
};
template <class T>
struct session_transport_for : session_transport_pick<T> {};
template <class T>
struct transport_policy_check {
    static constexpr bool value = transport_policy<T>;
};
} // namespace detail
SMTP_NAMESPACE_END

#endif

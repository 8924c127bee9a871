/// \file smtp/transport/fwd.hpp
///
/// The names of the default transport (transport::tcp under
/// transport::tls_layer), declared without Asio: policies.hpp names them in
/// every build, and in separate mode (SMTP_SEPARATE_COMPILATION, see
/// docs/separate-compilation.md) no more is seen of them outside
/// <smtp/src.hpp> and <smtp/full.hpp>. The full definitions are
/// smtp/transport/tcp.hpp and smtp/transport/tls_layer.hpp; what a transport
/// must provide, smtp/transport/concepts.hpp.
#ifndef SMTP_TRANSPORT_FWD_HPP
#define SMTP_TRANSPORT_FWD_HPP

#include <smtp/version.hpp>

SMTP_NAMESPACE_BEGIN

/// The policy_category of a transport.
struct transport_category {};

namespace transport {
class tcp;
template <class Stream>
class tls_layer;
} // namespace transport

namespace detail {
/// The session transport a transport policy gives: itself when it is one,
/// tls_layer over it when it is a stream (smtp/transport/concepts.hpp
/// decides from the concepts). Known here for transport::tcp, so that
/// naming the default transport needs no definition.
template <class T>
struct session_transport_for;
template <>
struct session_transport_for<transport::tcp> {
    using type = transport::tls_layer<transport::tcp>;
};
/// Whether T satisfies smtp::transport_policy (smtp/transport/concepts.hpp);
/// transport::tcp does, without its definition.
template <class T>
struct transport_policy_check;
template <>
struct transport_policy_check<transport::tcp> {
    static constexpr bool value = true;
};
} // namespace detail

SMTP_NAMESPACE_END

#endif

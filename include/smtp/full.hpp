/// \file smtp/full.hpp
///
/// Separate mode (SMTP_SEPARATE_COMPILATION): the full definitions, for what
/// <smtp/src.hpp> does not compile: the asynchronous operations
/// (async_connect, the sessions' async_ members, the pool), a transport or a
/// logger other than the default transport with log::none or
/// log::transcript, connect() with the transport's own arguments. Include
/// it in the files that use them; the rest keep the light headers. In
/// header-only mode (the default) <smtp/client.hpp> already has all of this.
/// docs/separate-compilation.md says what each mode covers.
#ifndef SMTP_FULL_HPP
#define SMTP_FULL_HPP

#include <smtp/client.hpp>
#include <smtp/detail/client_ops.hpp>
#include <smtp/detail/connection_ops.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/transport/tls_layer.hpp>

#endif

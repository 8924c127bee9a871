/// \file smtp/src.hpp
///
/// Separate mode: include this in exactly one .cpp file of the program,
/// compiled with SMTP_SEPARATE_COMPILATION defined like every other file
/// (CMake's smtp::compiled target is that file, built by the library). It
/// compiles, once, what the other files then only declare: the driver, the
/// transport's Asio operations (TCP, the TLS layer over it), the connection,
/// the OpenSSL crypto of the SASL mechanisms and the protocol algorithms
/// the default policies run (greeting, EHLO, STARTTLS, AUTH with the default
/// mechanisms, the transaction engine's runs, RSET, NOOP, QUIT), for the sessions over the
/// default transport with log::none or log::transcript (any TLS,
/// verification, auth, dialect and extensions policies).
/// docs/separate-compilation.md says what else needs <smtp/full.hpp>.
#ifndef SMTP_SRC_HPP
#define SMTP_SRC_HPP

#ifndef SMTP_SEPARATE_COMPILATION
#error "smtp/src.hpp is for separate mode: define SMTP_SEPARATE_COMPILATION in every file of the program (CMake: link smtp::compiled)"
#endif

#include <smtp/crypto/impl/openssl.ipp> // non-template definitions: in this file only
#include <smtp/crypto/impl/dkim.ipp>    // the same for DKIM's SHA-256 and keys (smtp/dkim.hpp)
#include <smtp/full.hpp>

SMTP_NAMESPACE_BEGIN
namespace detail {
SMTP_DETAIL_CONNECTION_OPS(, transport::tls_layer<transport::tcp>, log::none)
SMTP_DETAIL_CONNECTION_OPS(, transport::tls_layer<transport::tcp>, log::transcript)
SMTP_DETAIL_KNOWN_ALGORITHMS(, transport::tls_layer<transport::tcp>, log::none)
SMTP_DETAIL_KNOWN_ALGORITHMS(, transport::tls_layer<transport::tcp>, log::transcript)
} // namespace detail
SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/dane.hpp
///
/// DANE for SMTP (RFC 7672, over RFC 6698's TLSA records): the TLSA record
/// as the resolver returns it and the TLS layer consumes it. No I/O here.
#ifndef SMTP_PROTOCOL_DANE_HPP
#define SMTP_PROTOCOL_DANE_HPP

#include <smtp/version.hpp>

#include <cstdint>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace dane {

/// One TLSA record (RFC 6698 2.1): what the resolver returns for
/// _25._tcp.<mx host> and what tls_options' DANE settings take.
struct tlsa_record {
    std::uint8_t usage = 0;         ///< 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
    std::uint8_t selector = 0;      ///< 0 whole certificate, 1 SubjectPublicKeyInfo
    std::uint8_t matching_type = 0; ///< 0 exact, 1 SHA2-256, 2 SHA2-512
    std::vector<std::uint8_t> data; ///< the certificate association data

    friend bool operator==(const tlsa_record&, const tlsa_record&) = default;
};

} // namespace dane

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/dane.hpp
///
/// DANE for SMTP (RFC 7672, over RFC 6698's TLSA records): the TLSA record
/// as the resolver returns it and the TLS layer consumes it, which records
/// SMTP may use, what a host's TLSA lookup means for its connection, and the
/// names a DANE-TA certificate is checked against. No I/O here: the TLS
/// layer (smtp/transport/tls_layer.hpp) applies tls_settings with OpenSSL.
///
/// ```
///   TLSA lookup at _25._tcp.<host>        the connection (RFC 7672 2.2)
///   secure, a usable record               TLS mandatory, authenticated by the records
///   secure, every record unusable         TLS mandatory, not authenticated
///   insecure, or no TLSA RRset            no DANE: the usual TLS policy
///   failed (bogus, SERVFAIL)              do not use this host now
/// ```
#ifndef SMTP_PROTOCOL_DANE_HPP
#define SMTP_PROTOCOL_DANE_HPP

#include <smtp/version.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace dane {

/// One TLSA record (RFC 6698 2.1): what the resolver returns for
/// _25._tcp under the MX host name, and what tls_options::dane takes.
struct tlsa_record {
    std::uint8_t usage = 0;         ///< 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
    std::uint8_t selector = 0;      ///< 0 whole certificate, 1 SubjectPublicKeyInfo
    std::uint8_t matching_type = 0; ///< 0 exact, 1 SHA2-256, 2 SHA2-512
    std::vector<std::uint8_t> data; ///< the certificate association data

    friend bool operator==(const tlsa_record&, const tlsa_record&) = default;
};

/// The certificate usages (RFC 6698 2.1.1, RFC 7218's acronyms).
namespace usage {
inline constexpr std::uint8_t pkix_ta = 0; ///< PKIX-TA: unusable for SMTP
inline constexpr std::uint8_t pkix_ee = 1; ///< PKIX-EE: unusable for SMTP
inline constexpr std::uint8_t dane_ta = 2; ///< DANE-TA: a trust anchor in the server's chain
inline constexpr std::uint8_t dane_ee = 3; ///< DANE-EE: the server's own certificate or key
} // namespace usage

/// Whether SMTP may use a TLSA record, and if not, why (RFC 7672 3.1).
enum class usability : std::uint8_t {
    usable,                ///< DANE-TA(2) or DANE-EE(3) with a known selector and matching type
    pkix_usage,            ///< PKIX-TA(0) or PKIX-EE(1): SMTP has no CA set to agree on (3.1.3)
    unknown_usage,         ///< a usage above 3
    unknown_selector,      ///< a selector above 1
    unknown_matching_type, ///< a matching type above 2
    bad_length,            ///< SHA2-256 data that is not 32 bytes, SHA2-512 not 64, Full(0) empty
};

/// Whether SMTP may use `r` (RFC 7672 2.2 and 3.1: "usable" records are
/// DANE-TA(2) and DANE-EE(3) with a selector and matching type the client
/// supports, and data of the digest's length; anything else is
/// "unusable" and ignored, as if it were not in the RRset).
constexpr usability check(const tlsa_record& r) noexcept
{
    if (r.usage == usage::pkix_ta || r.usage == usage::pkix_ee)
        return usability::pkix_usage;
    if (r.usage > usage::dane_ee)
        return usability::unknown_usage;
    if (r.selector > 1)
        return usability::unknown_selector;
    switch (r.matching_type) {
    case 0: return r.data.empty() ? usability::bad_length : usability::usable;
    case 1: return r.data.size() == 32 ? usability::usable : usability::bad_length;
    case 2: return r.data.size() == 64 ? usability::usable : usability::bad_length;
    default: return usability::unknown_matching_type;
    }
}
/// check(r) == usability::usable.
constexpr bool usable(const tlsa_record& r) noexcept { return check(r) == usability::usable; }

/// What check() found, in words.
constexpr std::string_view describe(usability u) noexcept
{
    switch (u) {
    case usability::usable: return "usable";
    case usability::pkix_usage: return "PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP (RFC 7672 3.1.3)";
    case usability::unknown_usage: return "unknown certificate usage";
    case usability::unknown_selector: return "unknown selector";
    case usability::unknown_matching_type: return "unknown matching type";
    case usability::bad_length: return "association data of the wrong length for its matching type";
    }
    return "unknown";
}

/// What DANE asks of one connection (tls_options::dane).
enum class mode : std::uint8_t {
    off,          ///< no DANE: the session's verify policy applies (the default)
    encrypt_only, ///< TLS mandatory but not authenticated: a secure TLSA RRset with no usable record (RFC 7672 2.2)
    authenticate, ///< TLS mandatory, and the server's certificate must match a usable record (RFC 7672 2.2, 3)
};

/// tls_options::dane: what the TLS layer does for DANE. Under authenticate
/// the usable records replace the chain to the trust store and the host
/// name check: a DANE-EE(3) match needs no name and no date (RFC 7672
/// 3.1.1); a DANE-TA(2) match needs the chain to it, in date, and a
/// certificate that names one of `names` (3.1.2, 3.2.2). Either mode makes
/// TLS mandatory: a session whose TLS policy allows clear text refuses to
/// connect, and under tls::starttls a server that does not offer STARTTLS
/// ends the session before MAIL (errc::starttls_not_offered).
struct tls_settings {
    dane::mode mode = mode::off;
    /// The TLSA RRset as the resolver returned it; unusable records are
    /// ignored (RFC 7672 2.2). Records with mode::off are an error (they
    /// would silently not be used).
    std::vector<tlsa_record> records{};
    /// The reference identifiers for DANE-TA(2) name checks, the TLSA base
    /// domain first (it is also the SNI name, RFC 7672 8.1): what
    /// reference_names() gives. Empty: connect_options::host, when it is a
    /// name.
    std::vector<std::string> names{};

    friend bool operator==(const tls_settings&, const tls_settings&) = default;
};

/// What is wrong with a tls_settings (settings_problem()).
enum class problem : std::uint8_t {
    none,
    records_without_mode, ///< records given with mode::off: they would not be used
    no_usable_record,     ///< mode::authenticate and no usable record
    bad_name,             ///< a name is not a host name (letters, digits, '-', '.'; at most 253 octets)
};

/// Whether `name` is a host name DANE may check (LDH labels of 1 to 63
/// octets, 253 in all, an optional final dot; no wildcard: the reference
/// identifiers come from DNS, RFC 7672 3.2.3).
constexpr bool valid_name(std::string_view name) noexcept
{
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    if (name.empty() || name.size() > 253)
        return false;
    std::size_t label = 0;
    char prev = '.';
    for (char c : name) {
        if (c == '.') {
            if (label == 0 || prev == '-')
                return false;
            label = 0;
        } else {
            const bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
            if (!ldh || (c == '-' && label == 0) || ++label > 63)
                return false;
        }
        prev = c;
    }
    return prev != '-';
}

/// The first problem of `s`, or problem::none.
inline problem settings_problem(const tls_settings& s) noexcept
{
    if (s.mode == mode::off)
        return s.records.empty() ? problem::none : problem::records_without_mode;
    for (const auto& n : s.names)
        if (!valid_name(n))
            return problem::bad_name;
    if (s.mode == mode::authenticate) {
        for (const auto& r : s.records)
            if (usable(r))
                return problem::none;
        return problem::no_usable_record;
    }
    return problem::none;
}

/// The DNSSEC outcome of the TLSA lookup at _25._tcp under the host name (RFC 7672 2.2).
enum class lookup : std::uint8_t {
    secure,   ///< a validated TLSA RRset
    insecure, ///< an RRset from an unsigned zone (or a resolver that does not validate): not used
    absent,   ///< no TLSA RRset (NXDOMAIN or NODATA)
    failed,   ///< bogus or indeterminate (a validation failure, SERVFAIL, a timeout)
};

/// The decision for one host.
struct host_decision {
    /// False: the lookup failed, and RFC 7672 2.2 says not to use this host
    /// now (try the next MX, or defer): a failed lookup may be an attacker
    /// hiding the records, so falling back to less than DANE would undo it.
    bool use_host = true;
    tls_settings tls{}; ///< what to put in tls_options::dane for it
};

/// What a TLSA lookup means for the connection to its host (RFC 7672 2.2):
/// a secure RRset with a usable record: mode::authenticate with the
/// records; a secure RRset whose records are all unusable: mode::encrypt_only
/// (TLS is still mandatory, "unauthenticated TLS" is all the client can
/// do); insecure or absent: mode::off (no DANE; the caller's own TLS
/// policy); failed: use_host false. `names`: reference_names().
inline host_decision decide(lookup status, std::vector<tlsa_record> records, std::vector<std::string> names)
{
    host_decision d;
    switch (status) {
    case lookup::failed: d.use_host = false; return d;
    case lookup::insecure:
    case lookup::absent: return d;
    case lookup::secure: break;
    }
    bool any = false;
    for (const auto& r : records)
        any = any || usable(r);
    d.tls.mode = any ? mode::authenticate : mode::encrypt_only;
    if (any)
        d.tls.records = std::move(records);
    d.tls.names = std::move(names);
    return d;
}

/// The reference identifiers for DANE-TA(2) name checks (RFC 7672 3.2.2),
/// lower-cased, without a final dot, each once: the TLSA base domain (the
/// MX host name, or its CNAME-expanded name when the TLSA records were
/// found there) first; when the MX RRset was secure, also the original
/// next-hop domain (the recipient's domain) and its CNAME-expanded name.
/// An insecure MX RRset adds nothing: its names could be an attacker's.
/// Without MX records (the implicit MX), the base domain is the next-hop
/// domain itself.
inline std::vector<std::string> reference_names(std::string_view tlsa_base, bool mx_secure,
                                                std::string_view next_hop = {},
                                                std::string_view next_hop_expanded = {})
{
    std::vector<std::string> out;
    const auto add = [&](std::string_view n) {
        if (!n.empty() && n.back() == '.')
            n.remove_suffix(1);
        if (n.empty())
            return;
        std::string s(n);
        for (char& c : s)
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c - 'A' + 'a');
        for (const auto& have : out)
            if (have == s)
                return;
        out.push_back(std::move(s));
    };
    add(tlsa_base);
    if (mx_secure) {
        add(next_hop);
        add(next_hop_expanded);
    }
    return out;
}

/// Which record authenticated a connection (the TLS layer's dane_match()).
struct match {
    tlsa_record record{}; ///< the TLSA record that matched
    int depth = 0;        ///< where in the server's chain: 0 its own certificate (DANE-EE), above it a trust anchor
};

} // namespace dane

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/dns.hpp
///
/// What a DNS lookup answers, without the lookup: the records the delivery
/// code needs (MX, TLSA, TXT, addresses), the answer with its DNSSEC status,
/// the errors of the `smtp::dns` category, and the parsers from RDATA wire
/// format (RFC 1035 3.3) to those records. No I/O here: the resolver that
/// asks is include/smtp/dns/resolver.hpp (libunbound).
#ifndef SMTP_PROTOCOL_DNS_HPP
#define SMTP_PROTOCOL_DNS_HPP

#include <smtp/protocol/dane.hpp>
#include <smtp/protocol/detail/validate.hpp>
#include <smtp/version.hpp>

#include <boost/system/error_code.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace dns {

/// Why a lookup has no records. Values are stable; 0 is never used.
enum class errc {
    nxdomain = 1,     ///< the name does not exist (RCODE 3)
    no_data,          ///< the name exists but has no record of the type asked for (NODATA)
    server_failure,   ///< the upstream failed (SERVFAIL or another RCODE) and validation is not the cause
    bogus,            ///< DNSSEC validation failed: the answer cannot be trusted (why: answer::why_bogus)
    timeout,          ///< no answer within resolver_options::timeout
    resolver_error,   ///< libunbound refused the query or its configuration (its text: answer::why_bogus)
    malformed_record, ///< a record's RDATA does not parse as its type
    invalid_name,     ///< the name asked for is not a domain name (checked before any query)
    no_trust_anchor,  ///< the options give no trust anchor: no answer could ever be secure
    cancelled,        ///< the resolver was destroyed or the operation cancelled
};

} // namespace dns

SMTP_NAMESPACE_END

/// \cond
template <>
struct boost::system::is_error_code_enum<smtp::dns::errc> : std::true_type {};
/// \endcond

SMTP_NAMESPACE_BEGIN

namespace dns {

namespace detail {
class error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "smtp.dns"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::nxdomain: return "the domain name does not exist (NXDOMAIN)";
        case errc::no_data: return "the name has no record of this type (NODATA)";
        case errc::server_failure: return "the DNS server failed to answer (SERVFAIL)";
        case errc::bogus: return "DNSSEC validation failed: the answer is bogus";
        case errc::timeout: return "no DNS answer within the timeout";
        case errc::resolver_error: return "the resolver refused the query or its configuration";
        case errc::malformed_record: return "a DNS record does not parse as its type";
        case errc::invalid_name: return "is not a domain name";
        case errc::no_trust_anchor: return "no DNSSEC trust anchor is configured: no answer could be secure";
        case errc::cancelled: return "the DNS lookup was cancelled";
        }
        return "unknown smtp.dns error";
    }
};
} // namespace detail

/// The category of every smtp::dns::errc.
inline const boost::system::error_category& dns_category() noexcept
{
    static const detail::error_category cat;
    return cat;
}

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), dns_category()}; }

/// The DNSSEC status of an answer (RFC 4035 4.3): secure (a chain of
/// signatures from a trust anchor), insecure (provably unsigned, or outside
/// every anchor) or bogus (signed, and the signatures do not validate).
enum class security { insecure, secure, bogus };

/// One MX record (RFC 1035 3.3.9). `exchange` is in presentation form without
/// the final dot; the root (a null MX, RFC 7505) is ".".
struct mx_record {
    std::uint16_t preference = 0;
    std::string exchange;

    friend bool operator==(const mx_record&, const mx_record&) = default;
};

/// The answer to one lookup. `error` is empty when `records` holds the
/// RRset; otherwise it says why not (errc::no_data, errc::nxdomain, ...). The
/// DNSSEC status is there in both cases: a secure no_data is a proof that
/// the records do not exist (DANE needs that, RFC 7672 2.2).
template <class Record>
struct answer {
    std::string name;                    ///< the name asked for
    std::vector<Record> records;         ///< the RRset, in the order received
    security dnssec = security::insecure;
    std::string why_bogus;               ///< libunbound's reason, when bogus (or its error text)
    std::string canonical_name;          ///< the name after CNAMEs, when one was followed
    std::uint32_t ttl = 0;               ///< the RRset's TTL
    int rcode = 0;                       ///< the DNS RCODE
    boost::system::error_code error;

    bool secure() const noexcept { return dnssec == security::secure; }
};

// --- RDATA parsers (wire format to records) ---------------------------------------
//
// Each returns false, leaving `out` unchanged, when the bytes are not a
// record of its type. Names in RDATA are never compressed here (libunbound
// hands them over expanded; RFC 3597 forbids compression in new types).

/// A domain name in wire form that fills `in` exactly, to presentation
/// form: no final dot, the root as "."; as RFC 1035 5.1 escapes them, a
/// backslash before a dot or backslash inside a label, a backslash and three
/// decimal digits for a byte outside 0x21..0x7E.
inline bool parse_name(std::span<const std::uint8_t> in, std::size_t& pos, std::string& out)
{
    std::string text;
    std::size_t p = pos, total = 0;
    for (;;) {
        if (p >= in.size())
            return false;
        const std::size_t len = in[p++];
        if (len == 0)
            break;
        if (len > 63 || p + len > in.size())
            return false; // compression pointers (0xC0) and label types end here too
        total += len + 1;
        if (total > 254)
            return false;
        if (!text.empty())
            text += '.';
        for (std::size_t i = 0; i < len; ++i) {
            const auto c = static_cast<unsigned char>(in[p + i]);
            if (c == '.' || c == '\\') {
                text += '\\';
                text += static_cast<char>(c);
            } else if (c < 0x21 || c > 0x7E) {
                text += '\\';
                text += static_cast<char>('0' + c / 100);
                text += static_cast<char>('0' + c / 10 % 10);
                text += static_cast<char>('0' + c % 10);
            } else {
                text += static_cast<char>(c);
            }
        }
        p += len;
    }
    out = text.empty() ? std::string(".") : std::move(text);
    pos = p;
    return true;
}

/// MX: preference, exchange (RFC 1035 3.3.9).
inline bool parse_mx(std::span<const std::uint8_t> in, mx_record& out)
{
    if (in.size() < 3)
        return false;
    mx_record r;
    r.preference = static_cast<std::uint16_t>(in[0] << 8 | in[1]);
    std::size_t pos = 2;
    if (!parse_name(in, pos, r.exchange) || pos != in.size())
        return false;
    out = std::move(r);
    return true;
}

/// TLSA: usage, selector, matching type, association data (RFC 6698 2.1).
inline bool parse_tlsa(std::span<const std::uint8_t> in, dane::tlsa_record& out)
{
    if (in.size() < 4)
        return false;
    out.usage = in[0];
    out.selector = in[1];
    out.matching_type = in[2];
    out.data.assign(in.begin() + 3, in.end());
    return true;
}

/// TXT: its character-strings concatenated, as MTA-STS (RFC 8461 3.1) and
/// SPF read them.
inline bool parse_txt(std::span<const std::uint8_t> in, std::string& out)
{
    std::string text;
    std::size_t p = 0;
    if (in.empty())
        return false;
    while (p < in.size()) {
        const std::size_t len = in[p++];
        if (p + len > in.size())
            return false;
        text.append(reinterpret_cast<const char*>(in.data() + p), len);
        p += len;
    }
    out = std::move(text);
    return true;
}

/// A (4 bytes) and AAAA (16 bytes): the address bytes in network order.
template <std::size_t N>
inline bool parse_address(std::span<const std::uint8_t> in, std::array<std::uint8_t, N>& out)
{
    if (in.size() != N)
        return false;
    for (std::size_t i = 0; i < N; ++i)
        out[i] = in[i];
    return true;
}

/// Is `name` a domain name a lookup may ask for: 1..253 octets (one more
/// with a final dot), labels of 1..63 octets, no control bytes, spaces or
/// DEL. Checked before any query.
inline bool valid_query_name(std::string_view name) noexcept
{
    if (name.empty() || name == ".")
        return false;
    if (name.back() == '.')
        name.remove_suffix(1);
    if (name.size() > 253)
        return false;
    std::size_t label = 0;
    for (char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7F)
            return false;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (++label > 63) {
            return false;
        }
    }
    return label != 0;
}

} // namespace dns

SMTP_NAMESPACE_END

#endif

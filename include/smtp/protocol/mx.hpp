/// \file smtp/protocol/mx.hpp
///
/// Which hosts to try for a domain, from its MX answer (RFC 5321 5.1), and
/// which recipients share a domain. No I/O: the answer comes from
/// smtp::dns::resolver (or anywhere), the random source is the caller's.
///
/// - MX records: by preference, lowest first; among equal preferences in a
///   random order (the URBG you pass), so that senders spread their load.
/// - No MX records (NODATA): the implicit MX, the domain itself (its A/AAAA).
/// - A null MX (RFC 7505: one MX, preference 0, exchange "."): the domain
///   accepts no mail, mx::errc::null_mx, a permanent refusal.
/// - An exchange that is an IP address ("192.0.2.1", "[192.0.2.1]", "::1"):
///   not a host name (RFC 5321 5.1 names domain names only; RFC 7505 3.3's
///   "." likewise among others): left out, and listed in plan::ignored.
///   If nothing is left, mx::errc::no_usable_exchange (RFC 5321 5.1: "MUST be
///   reported as an error").
/// - An exchange that is an alias (CNAME; RFC 2181 10.3 says it must not be):
///   kept; the address lookup follows the alias, as most MTAs do, and
///   dns::answer::canonical_name tells DANE the name it reached.
/// - The same exchange twice: kept once, at its lowest preference.
#ifndef SMTP_PROTOCOL_MX_HPP
#define SMTP_PROTOCOL_MX_HPP

#include <smtp/protocol/dns.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace mx {

/// Why a domain has no host to try. Values are stable; 0 is never used.
enum class errc {
    null_mx = 1,        ///< the domain publishes a null MX (RFC 7505): it accepts no mail (permanent)
    no_usable_exchange, ///< MX records, but none names a host (all IP addresses or ".")
    no_domain,          ///< a recipient address has no domain part
};

} // namespace mx

SMTP_NAMESPACE_END

/// \cond
template <>
struct boost::system::is_error_code_enum<smtp::mx::errc> : std::true_type {};
/// \endcond

SMTP_NAMESPACE_BEGIN

namespace mx {

namespace detail {
class error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "smtp.mx"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::null_mx: return "the domain accepts no mail: it publishes a null MX (RFC 7505)";
        case errc::no_usable_exchange: return "none of the domain's MX records names a usable host";
        case errc::no_domain: return "the address has no domain part";
        }
        return "unknown smtp.mx error";
    }
};
} // namespace detail

/// The category of every smtp::mx::errc.
inline const boost::system::error_category& mx_category() noexcept
{
    static const detail::error_category cat;
    return cat;
}

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), mx_category()}; }

/// One host to try.
struct host {
    std::string name;             ///< the MX exchange (or the domain itself, if implicit)
    std::uint16_t preference = 0; ///< its MX preference (0 if implicit)
    bool implicit = false;        ///< no MX records: the domain's own address records

    friend bool operator==(const host&, const host&) = default;
};

/// The hosts to try for one domain, in order.
struct plan {
    std::string domain;
    std::vector<host> hosts;
    /// The MX answer (or its proof of non-existence, for the implicit MX)
    /// was DNSSEC-secure: DANE may use the MX host names (RFC 7672 2.2.1).
    bool secure = false;
    std::vector<std::string> ignored; ///< exchanges left out (IP addresses, "." among others)
};

namespace detail {

/// An exchange written as an address: an address literal, a dotted quad,
/// or anything with ':' (no host name has one).
inline bool looks_like_address(std::string_view s) noexcept
{
    if (s.empty())
        return false;
    if (s.front() == '[' || s.find(':') != std::string_view::npos)
        return true;
    int dots = 0, digits = 0;
    for (char c : s) {
        if (c == '.') {
            if (digits == 0)
                return false;
            ++dots;
            digits = 0;
        } else if (c >= '0' && c <= '9') {
            if (++digits > 3)
                return false;
        } else {
            return false;
        }
    }
    return dots == 3 && digits > 0;
}

} // namespace detail

/// The hosts to try for `domain` given its MX RRset (`records`; empty means
/// NODATA: the implicit MX) and whether that answer was secure. `rng` (a
/// UniformRandomBitGenerator: std::mt19937 seeded from std::random_device,
/// or a fixed one in tests) orders equal preferences. On error `out` is
/// unchanged.
template <class URBG>
boost::system::error_code select(std::string_view domain, std::span<const dns::mx_record> records, bool secure,
                                 URBG&& rng, plan& out)
{
    plan p;
    p.domain = std::string(domain);
    p.secure = secure;
    if (records.empty()) {
        p.hosts.push_back(host{std::string(domain), 0, true});
        out = std::move(p);
        return {};
    }
    if (records.size() == 1 && records[0].exchange == "." && records[0].preference == 0)
        return errc::null_mx;
    std::vector<host> hosts;
    for (const auto& r : records) {
        if (r.exchange == "." || r.exchange.empty() || detail::looks_like_address(r.exchange)) {
            p.ignored.push_back(r.exchange);
            continue;
        }
        auto same = std::find_if(hosts.begin(), hosts.end(),
                                 [&](const host& h) { return smtp::detail::iequals(h.name, r.exchange); });
        if (same != hosts.end()) {
            same->preference = std::min(same->preference, r.preference);
            continue;
        }
        hosts.push_back(host{r.exchange, r.preference, false});
    }
    if (hosts.empty())
        return errc::no_usable_exchange;
    std::stable_sort(hosts.begin(), hosts.end(),
                     [](const host& a, const host& b) { return a.preference < b.preference; });
    for (auto first = hosts.begin(); first != hosts.end();) {
        auto last = std::find_if(first, hosts.end(), [&](const host& h) { return h.preference != first->preference; });
        std::shuffle(first, last, rng);
        first = last;
    }
    p.hosts = std::move(hosts);
    out = std::move(p);
    return {};
}

/// The same from a resolver's answer: records -> select(); errc::no_data
/// -> the implicit MX; any other error (NXDOMAIN, SERVFAIL, bogus, timeout)
/// is returned as it is, `out` unchanged.
template <class URBG>
boost::system::error_code select(std::string_view domain, const dns::answer<dns::mx_record>& mx, URBG&& rng,
                                 plan& out)
{
    if (mx.error && mx.error != dns::errc::no_data)
        return mx.error;
    std::span<const dns::mx_record> records;
    if (!mx.error)
        records = mx.records;
    return select(domain, records, mx.secure(), rng, out);
}

/// Recipients that share a domain.
struct domain_group {
    std::string domain;                ///< as the first of them spells it
    std::vector<std::size_t> recipients; ///< indices into the list given, in its order
};

/// Groups `addresses` (`local-part@domain`) by domain, compared ASCII
/// case-insensitively (RFC 5321 2.4: domains are case-insensitive; local
/// parts are not, and are not compared). Groups come in the order of their
/// first address. The domain is what follows the last `@`. An address
/// without one (or with nothing after it) is errc::no_domain, `bad` its
/// index, `out` unchanged.
template <class String>
boost::system::error_code group_by_domain(std::span<const String> addresses, std::vector<domain_group>& out,
                                          std::size_t& bad)
{
    std::vector<domain_group> groups;
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        const std::string_view a(addresses[i]);
        const auto at = a.rfind('@');
        if (at == std::string_view::npos || at + 1 == a.size()) {
            bad = i;
            return errc::no_domain;
        }
        const auto domain = a.substr(at + 1);
        auto g = std::find_if(groups.begin(), groups.end(),
                              [&](const domain_group& x) { return smtp::detail::iequals(x.domain, domain); });
        if (g == groups.end()) {
            groups.push_back(domain_group{std::string(domain), {}});
            g = groups.end() - 1;
        }
        g->recipients.push_back(i);
    }
    out = std::move(groups);
    return {};
}

} // namespace mx

SMTP_NAMESPACE_END

#endif

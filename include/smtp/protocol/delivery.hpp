/// \file smtp/protocol/delivery.hpp
///
/// The rules of direct delivery to a domain's MX hosts, without I/O: what
/// DANE and MTA-STS together ask of the connection to one host, what
/// protection a recipient delivered there gets, and what each failure means
/// (try the next host, or final). smtp/deliver.hpp runs them over the
/// resolver and the session.
///
/// ```
///   per MX host                     the connection                         label
///   secure TLSA, a usable record    STARTTLS required, DANE records        dane_authenticated
///   secure TLSA, none usable        STARTTLS required, no check            dane_encrypted
///   TLSA lookup failed              not used (RFC 7672 2.2)                -
///   MTA-STS enforce, host matches   STARTTLS required, PKIX for the name   mta_sts_enforced
///   MTA-STS enforce, no match       not used (RFC 8461 4.1)                -
///   MTA-STS testing                 PKIX checked, a failure reported       mta_sts_testing (or less)
///   neither                         the baseline (opportunistic STARTTLS)  tls_unverified or none
/// ```
/// DANE comes first: a secure TLSA RRset decides, and the host's MTA-STS
/// policy is not applied (RFC 8461 2).
///
/// Failures: before MAIL's reply is a 5yz (connect, greeting, EHLO,
/// STARTTLS, the TLS handshake, a 4yz to MAIL) the next host is tried; a
/// recipient's 5yz, a 5yz to MAIL or to the data are final; a connection lost
/// after the end of the data leaves the outcome unknown, and that
/// recipient is never sent again (delivery never duplicates).
#ifndef SMTP_PROTOCOL_DELIVERY_HPP
#define SMTP_PROTOCOL_DELIVERY_HPP

#include <smtp/protocol/dane.hpp>
#include <smtp/protocol/dns.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/mta_sts.hpp>
#include <smtp/protocol/mx.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/protocol/transaction_result.hpp>
#include <smtp/version.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace delivery {

/// What protected a recipient's delivery, weakest first.
enum class protection : std::uint8_t {
    none,               ///< in clear
    tls_unverified,     ///< TLS, the certificate not checked (opportunistic, RFC 7435)
    mta_sts_testing,    ///< TLS, the certificate valid for the MX name, under a policy in testing mode
    mta_sts_enforced,   ///< TLS, the certificate valid for the MX name, under a policy in enforce mode
    dane_encrypted,     ///< TLS required by a secure TLSA RRset of unusable records: not authenticated
    dane_authenticated, ///< TLS, the certificate matched a secure TLSA record (RFC 7672)
};

/// The label in words, as smtp-send prints it.
constexpr std::string_view to_string(protection p) noexcept
{
    switch (p) {
    case protection::none: return "none";
    case protection::tls_unverified: return "tls_unverified";
    case protection::mta_sts_testing: return "mta_sts_testing";
    case protection::mta_sts_enforced: return "mta_sts_enforced";
    case protection::dane_encrypted: return "dane_encrypted";
    case protection::dane_authenticated: return "dane_authenticated";
    }
    return "unknown";
}

/// What a host that has neither DANE nor an MTA-STS policy gets.
enum class baseline : std::uint8_t {
    /// STARTTLS when the host offers it, the certificate not checked; in
    /// clear when it does not, or when the handshake fails (then once more
    /// without STARTTLS). What MTAs do between each other (RFC 3207 4,
    /// RFC 7435). Reported as tls_unverified or none: not protected.
    opportunistic_tls,
    /// STARTTLS required, the certificate not checked: a host without it is
    /// skipped. Protects against a passive listener only.
    require_tls,
};

/// Whether the connection may go on in clear.
enum class tls_requirement : std::uint8_t {
    opportunistic, ///< STARTTLS when offered
    required,      ///< STARTTLS or nothing
};

/// Which check the server's certificate gets.
enum class certificate_check : std::uint8_t {
    none, ///< none (opportunistic, or DANE's encrypt-only)
    dane, ///< the TLSA records (tls_options::dane, mode authenticate)
    pkix, ///< the chain to the trust store and the MX host name (RFC 8461 4.2)
};

/// What the connection to one MX host must do.
struct host_rules {
    /// False: do not connect (a failed TLSA lookup, or an MX host that an
    /// enforced MTA-STS policy does not list); `skip` says why.
    bool use_host = true;
    error_code skip{};
    tls_requirement tls = tls_requirement::opportunistic;
    certificate_check check = certificate_check::none;
    /// MTA-STS testing: the PKIX check is made and its failure reported, and
    /// delivery goes on without it (RFC 8461 5).
    bool report_only = false;
    /// For tls_options::dane (mode off unless DANE decided).
    dane::tls_settings dane{};
    /// The MTA-STS policy's mode for this host (none: no policy, or DANE decided).
    mta_sts::mode sts_mode = mta_sts::mode::none;
    /// A failure the policy reports without stopping (testing: the host matches no pattern).
    error_code sts_report{};
};

/// The connection rules for one host (RFC 7672 2.2, RFC 8461 2, 4, 5).
/// `tlsa` is dane::decide()'s answer for the host and `tlsa_error` the TLSA
/// lookup's error when it failed (bogus, SERVFAIL: tlsa.use_host false);
/// `sts` is mta_sts::decide()'s for the same host.
inline host_rules rules_for(const dane::host_decision& tlsa, error_code tlsa_error,
                            const mta_sts::host_decision& sts, baseline b)
{
    host_rules r;
    if (!tlsa.use_host) {
        r.use_host = false;
        r.skip = tlsa_error ? tlsa_error : make_error_code(dns::errc::server_failure);
        return r;
    }
    if (tlsa.tls.mode != dane::mode::off) {
        // RFC 8461 2: DANE decides for a host with a secure TLSA RRset.
        r.tls = tls_requirement::required;
        r.dane = tlsa.tls;
        r.check = tlsa.tls.mode == dane::mode::authenticate ? certificate_check::dane : certificate_check::none;
        return r;
    }
    r.sts_mode = sts.mode;
    if (!sts.allowed) {
        r.use_host = false;
        r.skip = sts.failure ? sts.failure : make_error_code(mta_sts::errc::mx_not_in_policy);
        return r;
    }
    if (sts.mode == mta_sts::mode::enforce) {
        r.tls = tls_requirement::required;
        r.check = certificate_check::pkix;
        return r;
    }
    if (sts.mode == mta_sts::mode::testing) {
        r.check = certificate_check::pkix;
        r.report_only = true;
        r.sts_report = sts.failure;
        return r;
    }
    r.tls = b == baseline::require_tls ? tls_requirement::required : tls_requirement::opportunistic;
    return r;
}

/// The protection a delivery over a connection made under `r` got:
/// `encrypted`, TLS was on; `verified`, the certificate passed the check the
/// rules asked for (DANE's records, or PKIX for the MX name).
constexpr protection achieved(const host_rules& r, bool encrypted, bool verified) noexcept
{
    if (!encrypted)
        return protection::none;
    if (r.dane.mode == dane::mode::authenticate)
        return verified ? protection::dane_authenticated : protection::tls_unverified;
    if (r.dane.mode == dane::mode::encrypt_only)
        return protection::dane_encrypted;
    if (r.check == certificate_check::pkix && verified)
        return r.report_only ? protection::mta_sts_testing : protection::mta_sts_enforced;
    return protection::tls_unverified;
}

/// What became of a recipient.
enum class outcome : std::uint8_t {
    pending,   ///< not settled yet: the next host may take it
    delivered, ///< a host accepted the message for it
    refused,   ///< permanently (5yz, a null MX, a domain that does not exist): do not retry
    deferred,  ///< not now (4yz everywhere, no host reachable, a DNS or TLS failure): retry later
    unknown,   ///< the data went out and its reply was lost: it may have been delivered; never resent here
};

constexpr std::string_view to_string(outcome o) noexcept
{
    switch (o) {
    case outcome::pending: return "pending";
    case outcome::delivered: return "delivered";
    case outcome::refused: return "refused";
    case outcome::deferred: return "deferred";
    case outcome::unknown: return "unknown";
    }
    return "?";
}

/// A domain with no host to try: refused for good (a null MX, RFC 7505; MX
/// records of no usable host, RFC 5321 5.1; NXDOMAIN), deferred for anything
/// else (SERVFAIL, bogus, a timeout: the answer may come right later).
inline outcome no_host(error_code why) noexcept
{
    if (why == mx::errc::null_mx || why == mx::errc::no_usable_exchange || why == dns::errc::nxdomain)
        return outcome::refused;
    return outcome::deferred;
}

/// One recipient's verdict from a transaction, and the reply that gave it.
struct verdict {
    outcome what = outcome::pending;
    reply server_reply{};
};

/// What a transaction at one host means for each of its recipients (in the
/// order of r.recipients). pending: try the next host (a 4yz or no reply to
/// MAIL, to RCPT or to the data, a connection lost before the end of the
/// data). Final: delivered; refused (a 5yz to MAIL, to the recipient, or to
/// the data); unknown (the connection lost after the end of the data,
/// before its reply: the message may be queued, RFC 5321 4.1.1.4 and 6.1).
inline std::vector<verdict> settle(const transaction_result& r)
{
    std::vector<verdict> out;
    out.reserve(r.recipients.size());
    const reply& message_reply = r.data_reply.code().is_failure() ? r.data_reply : r.final_reply;
    for (const auto& rr : r.recipients) {
        verdict v;
        if (r.mail_reply.code().is_permanent()) {
            v = {outcome::refused, r.mail_reply};
        } else if (!r.mail_reply.code().is_positive()) {
            v = {outcome::pending, r.mail_reply};
        } else if (rr.rcpt_reply.code().is_permanent()) {
            v = {outcome::refused, rr.rcpt_reply};
        } else if (!rr.rcpt_reply.code().is_positive()) {
            v = {outcome::pending, rr.rcpt_reply};
        } else {
            switch (r.outcome) {
            case transaction_outcome::queued: v = {outcome::delivered, r.final_reply}; break;
            case transaction_outcome::unknown: v = {outcome::unknown, rr.rcpt_reply}; break;
            case transaction_outcome::refused:
            case transaction_outcome::not_sent:
                v = {message_reply.code().is_permanent() ? outcome::refused : outcome::pending, message_reply};
                break;
            }
        }
        out.push_back(std::move(v));
    }
    return out;
}

} // namespace delivery

SMTP_NAMESPACE_END

#endif

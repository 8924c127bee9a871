/// \file smtp/deliver.hpp
///
/// Direct delivery: a message to its recipients' MX hosts, each domain's
/// hosts tried in turn, each host protected by DANE or MTA-STS when its
/// domain publishes them. Needs smtp::dns (libunbound), like the resolver.
///
/// ```
///   smtp::dns::resolver dns(io.get_executor(), resolver_options);
///   smtp::deliver_options o;                       // port 25, opportunistic STARTTLS as the baseline
///   const std::vector<std::string> to{"you@example.com", "them@example.net"};
///   smtp::delivery_report r = smtp::deliver(dns, "me@example.org", to, message, o);
///   for (const auto& x : r.recipients)             // outcome, the MX that took it, what protected it
///       std::cout << x.address << ' ' << to_string(x.outcome) << ' ' << x.mx_host << ' '
///                 << to_string(x.protection) << '\n';
/// ```
///
/// Per domain (recipients grouped by domain, mx::group_by_domain): the MX
/// lookup and mx::select (the implicit MX, the null MX), the MTA-STS policy
/// (the `_mta-sts` TXT record, mta_sts::discover over the cache), then for
/// each host in order: its addresses (AAAA, A), its TLSA records when the
/// address answers were DNSSEC-secure, delivery::rules_for() the
/// connection, and one SMTP transaction per address until the domain's
/// recipients are settled (delivery::settle()). The rules and the reasons
/// are in smtp/protocol/delivery.hpp and docs/delivery.md.
///
/// Synchronous only; one call at a time per resolver.
#ifndef SMTP_DELIVER_HPP
#define SMTP_DELIVER_HPP

#include <smtp/client.hpp>
#include <smtp/dns/resolver.hpp>
#include <smtp/message.hpp>
#include <smtp/mta_sts.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/delivery.hpp>
#include <smtp/protocol/mx.hpp>
#include <smtp/session.hpp>
#include <smtp/version.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// How deliver() connects.
struct deliver_options {
    /// The name given in EHLO; empty: as connect_options::local_name.
    std::string local_name{};
    /// The port of every MX host (25). Tests point it at a test bed; the
    /// names looked up do not change (TLSA records stay at _25._tcp).
    std::uint16_t port = 25;
    /// The per-phase time limits of each SMTP connection.
    smtp::timeouts timeouts{};
    /// TLS settings of the SMTP connections: ca_file is the trust store the
    /// MTA-STS (PKIX) check uses (empty: the system's); DANE replaces it.
    tls_options tls{};
    /// What hosts with neither DANE nor an MTA-STS policy get (RFC 7435's
    /// opportunistic STARTTLS by default); reported as not protected.
    delivery::baseline baseline = delivery::baseline::opportunistic_tls;
    /// How MTA-STS policies are fetched (tests: the address, port and CA
    /// file of the policy server).
    mta_sts::fetch_options mta_sts{};
    /// The MTA-STS policy cache, the caller's so that policies outlive the
    /// call (RFC 8461 5.1); nullptr: one for this call only.
    mta_sts::policy_cache* policy_cache = nullptr;
    /// Also try the hosts' IPv6 addresses (AAAA), before the IPv4 ones.
    bool ipv6 = true;
    /// Seeds the order of MX hosts of equal preference; 0: random.
    unsigned seed = 0;
};

/// One connection attempt (or a host skipped without one).
struct host_attempt {
    std::string host;          ///< the MX host name
    std::string address;       ///< the address tried; empty when the host was skipped
    error_code error{};        ///< why it did not settle the recipients; clear when it did
    std::string detail{};      ///< the same in words (diagnostics::describe())
    std::optional<reply> server_reply{}; ///< the server's refusal, when there was one
};

/// What became of one recipient.
struct recipient_report {
    std::string address;
    delivery::outcome outcome = delivery::outcome::deferred;
    /// The reply that decided (the reply to the end of data when delivered;
    /// the refusal); empty when no server gave one (a DNS or TLS failure).
    std::optional<reply> server_reply{};
    /// Why not delivered: errc::permanent_failure / transient_failure with
    /// the reply, the last host's error when deferred, errc::outcome_unknown.
    error_code error{};
    std::string mx_host{};     ///< the MX host that took it (or refused it)
    std::string mx_address{};  ///< its address
    delivery::protection protection = delivery::protection::none;
    std::optional<dane::match> dane_match{}; ///< the TLSA record that authenticated the host
    mta_sts::mode mta_sts_mode = mta_sts::mode::none; ///< of the policy applied to the host (none: none applied)
    /// MTA-STS testing: the failure the policy reports (the delivery went on).
    error_code mta_sts_report{};
};

/// One domain's part.
struct domain_report {
    std::string domain;
    bool mx_secure = false;             ///< the MX answer was DNSSEC-secure
    error_code error{};                 ///< why it had no host to try (null MX, the lookup), if so
    std::optional<mta_sts::policy> mta_sts_policy{}; ///< the policy in force, if any
    error_code mta_sts_fetch_error{};   ///< why the policy fetch failed, if it did
    std::vector<host_attempt> attempts{}; ///< every host tried or skipped, in order
};

/// What deliver() did.
struct delivery_report {
    std::vector<recipient_report> recipients{}; ///< in the order given
    std::vector<domain_report> domains{};       ///< in the order of their first recipient

    std::size_t count(delivery::outcome o) const noexcept
    {
        return static_cast<std::size_t>(std::count_if(recipients.begin(), recipients.end(),
                                                      [o](const recipient_report& r) { return r.outcome == o; }));
    }
    bool all_delivered() const noexcept { return count(delivery::outcome::delivered) == recipients.size(); }
};

namespace detail {

/// One SMTP connection to one address of an MX host.
struct mx_try {
    bool transacted = false; ///< a transaction ran: `result` holds it
    transaction_result result{};
    error_code ec{};
    diagnostics diag{};
    bool encrypted = false;
    bool verified = false; ///< the certificate passed the check P asked for
    bool tls_failed = false; ///< STARTTLS was sent and failed (refused, the handshake, the certificate)
    std::optional<dane::match> matched{};
};

template <class S>
void deliver_send(S& s, std::string_view from, const std::vector<std::string>& to, std::string_view message,
                  mx_try& out)
{
    out.encrypted = s.encrypted();
    out.transacted = true;
    out.result = s.sendmail(from, to, message, out.ec, out.diag);
    error_code qec;
    diagnostics qdiag;
    std::move(s).quit(qec, qdiag);
}

/// Connect, EHLO, STARTTLS (required, or when offered if `try_tls`), EHLO,
/// one transaction, QUIT.
template <class P>
mx_try deliver_over(const connect_options& o, const transport::tcp::resolve_function& resolve, bool try_tls,
                    std::string_view from, const std::vector<std::string>& to, std::string_view message)
{
    mx_try out;
    auto c = smtp::connect<P>(o, out.ec, out.diag, resolve);
    if (!c)
        return out;
    auto g = std::move(*c).ehlo(out.ec, out.diag);
    if (!g) {
        auto s = std::move(g).recover();
        detail::end_after_error(s);
        return out;
    }
    auto s = std::move(g).value();
    if constexpr (P::tls::clear_text_allowed) {
        if (!try_tls || !s.has_extn("STARTTLS")) {
            deliver_send(s, from, to, message, out);
            return out;
        }
    }
    auto t = std::move(s).starttls(out.ec, out.diag);
    if (!t) {
        out.tls_failed = out.ec != errc::starttls_not_offered;
        auto back = std::move(t).recover();
        detail::end_after_error(back);
        return out;
    }
    auto started = std::move(t).value();
    out.matched = started.transport().dane_match();
    out.verified = P::verify::verify || out.matched.has_value();
    auto e = std::move(started).ehlo(out.ec, out.diag);
    if (!e) {
        auto back = std::move(e).recover();
        detail::end_after_error(back);
        return out;
    }
    auto ready = std::move(e).value();
    deliver_send(ready, from, to, message, out);
    return out;
}

inline dane::lookup tlsa_status(const dns::answer<dane::tlsa_record>& a) noexcept
{
    if (!a.error)
        return a.secure() ? dane::lookup::secure : dane::lookup::insecure;
    if (a.error == dns::errc::no_data || a.error == dns::errc::nxdomain)
        return a.dnssec == dns::security::bogus ? dane::lookup::failed : dane::lookup::absent;
    return dane::lookup::failed;
}

inline bool absent(const error_code& e) noexcept { return e == dns::errc::no_data || e == dns::errc::nxdomain; }

class deliverer {
public:
    deliverer(dns::resolver& dns, std::string_view from, std::string_view message, const deliver_options& o,
              delivery_report& report)
        : dns_(dns), from_(from), message_(message), o_(o), report_(report),
          rng_(o.seed ? o.seed : std::random_device{}())
    {
        if (!o.policy_cache)
            own_cache_.emplace();
        cache_ = o.policy_cache ? o.policy_cache : &*own_cache_;
    }

    void domain(const mx::domain_group& g)
    {
        domain_report dr;
        dr.domain = g.domain;
        group_ = &g;
        const auto mx_answer = dns_.mx(g.domain);
        mx::plan plan;
        if (const auto ec = mx::select(g.domain, mx_answer, rng_, plan)) {
            dr.error = ec;
            finish_all(delivery::no_host(ec), ec, {});
            report_.domains.push_back(std::move(dr));
            return;
        }
        dr.mx_secure = plan.secure;
        // MTA-STS (RFC 8461 3): the TXT record, the cache, a fetch when needed.
        const auto txt = dns_.txt("_mta-sts." + g.domain);
        const error_code txt_error = txt.error && !absent(txt.error) ? txt.error : error_code{};
        const mta_sts::discovery found = mta_sts::discover(*cache_, g.domain, txt.records, txt_error, o_.mta_sts);
        dr.mta_sts_policy = found.policy;
        dr.mta_sts_fetch_error = found.fetch_error;
        error_code last;
        for (const auto& h : plan.hosts) {
            if (!any_pending())
                break;
            host(plan, h, found.in_force(), dr, last);
        }
        finish_all(delivery::outcome::deferred, last, {});
        report_.domains.push_back(std::move(dr));
    }

private:
    bool any_pending() const
    {
        return std::any_of(group_->recipients.begin(), group_->recipients.end(),
                           [&](std::size_t i) { return report_.recipients[i].outcome == delivery::outcome::pending; });
    }
    /// Every recipient still pending gets `o` and `why`.
    void finish_all(delivery::outcome o, error_code why, const std::string& host)
    {
        for (std::size_t i : group_->recipients) {
            auto& r = report_.recipients[i];
            if (r.outcome != delivery::outcome::pending)
                continue;
            r.outcome = o;
            if (!r.error || o != delivery::outcome::deferred)
                r.error = why ? why : make_error_code(dns::errc::server_failure);
            if (!host.empty())
                r.mx_host = host;
        }
    }

    void host(const mx::plan& plan, const mx::host& h, const mta_sts::policy* policy, domain_report& dr,
              error_code& last)
    {
        const auto skip = [&](error_code ec, std::string words) {
            dr.attempts.push_back(host_attempt{h.name, {}, ec, std::move(words), std::nullopt});
            last = ec;
        };
        // Its addresses: AAAA then A; a bogus or failed answer makes the
        // host unusable now (its TLSA could not be trusted either).
        std::vector<boost::asio::ip::address> addresses;
        bool addresses_secure = true;
        std::string canonical;
        // One answer's addresses into the lists; false: it failed (skipped).
        const auto take = [&](const auto& answer, const char* type) {
            if (answer.error && !absent(answer.error)) {
                skip(answer.error, std::string(type) + " lookup of " + h.name + ": " + answer.error.message() + " " +
                                       answer.why_bogus);
                return false;
            }
            addresses_secure = addresses_secure && answer.secure();
            for (const auto& x : answer.records)
                addresses.emplace_back(x);
            if (!answer.canonical_name.empty())
                canonical = answer.canonical_name;
            return true;
        };
        if (o_.ipv6 && !take(dns_.aaaa(h.name), "AAAA"))
            return;
        const auto a = dns_.a(h.name);
        if (!take(a, "A"))
            return;
        if (addresses.empty()) {
            const error_code none = a.error ? a.error : make_error_code(dns::errc::no_data);
            skip(none, "no address for " + h.name);
            // No MX and no address either: the domain cannot receive mail
            // (RFC 5321 5.1); an MX host without an address is only skipped.
            if (h.implicit)
                finish_all(delivery::outcome::refused, none, {});
            return;
        }
        // DANE (RFC 7672 2.2): TLSA only for secure addresses; at the
        // CNAME-expanded name first (2.2.2). Also under an insecure MX
        // answer (2.2.1 allows it): a domain that is not signed, hosted on
        // MX hosts that are, gets their DANE, with the MX host as the only
        // reference name (dane::reference_names).
        dane::host_decision tlsa;
        error_code tlsa_error;
        std::string base = h.name;
        if (addresses_secure) {
            auto answer = dns_.tlsa(canonical.empty() ? h.name : canonical, 25);
            if (!canonical.empty() && absent(answer.error) && answer.dnssec != dns::security::bogus)
                answer = dns_.tlsa(h.name, 25);
            else if (!canonical.empty())
                base = canonical;
            const auto status = tlsa_status(answer);
            if (status == dane::lookup::failed)
                tlsa_error = answer.error ? answer.error : make_error_code(dns::errc::bogus);
            tlsa = dane::decide(status, answer.records, dane::reference_names(base, plan.secure, plan.domain));
        }
        const delivery::host_rules rules =
            delivery::rules_for(tlsa, tlsa_error, mta_sts::decide(policy, h.name), o_.baseline);
        if (!rules.use_host)
            return skip(rules.skip, rules.skip.message());
        for (const auto& addr : addresses) {
            if (!any_pending())
                return;
            attempt(h, addr, rules, dr, last);
        }
    }

    std::vector<std::string> pending() const
    {
        std::vector<std::string> out;
        for (std::size_t i : group_->recipients)
            if (report_.recipients[i].outcome == delivery::outcome::pending)
                out.push_back(report_.recipients[i].address);
        return out;
    }

    void attempt(const mx::host& h, const boost::asio::ip::address& addr, const delivery::host_rules& rules,
                 domain_report& dr, error_code& last)
    {
        connect_options co;
        co.host = h.name; // SNI and the PKIX name check: the MX host name
        co.port = o_.port;
        co.local_name = o_.local_name;
        co.timeouts = o_.timeouts;
        co.tls = o_.tls;
        co.tls.dane = rules.dane;
        const transport::tcp::resolve_function resolve = transport::tcp::resolve_to(addr);
        const std::vector<std::string> to = pending();
        using verify_tls = policies<tls::starttls, tls::verify_peer>;
        using any_tls = policies<tls::starttls, tls::insecure_no_verify>;
        using maybe_verified = policies<tls::opportunistic, tls::verify_peer>;
        using maybe_tls = policies<tls::opportunistic, tls::insecure_no_verify>;
        mx_try t;
        error_code sts_report = rules.sts_report;
        if (rules.tls == delivery::tls_requirement::required) {
            t = rules.dane.mode != dane::mode::off || rules.check == delivery::certificate_check::pkix
                    ? deliver_over<verify_tls>(co, resolve, true, from_, to, message_)
                    : deliver_over<any_tls>(co, resolve, true, from_, to, message_);
        } else if (rules.check == delivery::certificate_check::pkix) {
            // MTA-STS testing: checked, a failure reported, then without the check.
            t = deliver_over<maybe_verified>(co, resolve, true, from_, to, message_);
            if (!t.transacted && t.tls_failed) {
                record(dr, h, addr, t);
                sts_report = t.ec;
                t = deliver_over<maybe_tls>(co, resolve, true, from_, to, message_);
                if (!t.transacted && t.tls_failed) {
                    record(dr, h, addr, t);
                    t = deliver_over<maybe_tls>(co, resolve, false, from_, to, message_);
                }
            } else if (t.transacted && !t.encrypted && !sts_report) {
                sts_report = mta_sts::errc::starttls_not_offered;
            }
        } else {
            t = deliver_over<maybe_tls>(co, resolve, true, from_, to, message_);
            if (!t.transacted && t.tls_failed) {
                // RFC 7435: a failed handshake falls back to clear text.
                record(dr, h, addr, t);
                t = deliver_over<maybe_tls>(co, resolve, false, from_, to, message_);
            }
        }
        record(dr, h, addr, t);
        if (!t.transacted) {
            last = t.ec;
            return;
        }
        const auto verdicts = delivery::settle(t.result);
        const auto label = delivery::achieved(rules, t.encrypted, t.verified);
        for (std::size_t k = 0; k < verdicts.size() && k < t.result.recipients.size(); ++k) {
            auto& r = find(t.result.recipients[k].address);
            const auto& v = verdicts[k];
            r.mx_host = h.name;
            r.mx_address = addr.to_string();
            r.protection = label;
            r.dane_match = t.matched;
            r.mta_sts_mode = rules.sts_mode;
            r.mta_sts_report = sts_report;
            if (v.server_reply.code().value() != 0)
                r.server_reply = v.server_reply;
            r.outcome = v.what;
            switch (v.what) {
            case delivery::outcome::delivered: r.error = {}; break;
            case delivery::outcome::refused: r.error = errc::permanent_failure; break;
            case delivery::outcome::unknown: r.error = errc::outcome_unknown; break;
            default:
                r.error = v.server_reply.code().is_transient() ? error_code(errc::transient_failure)
                                                               : (t.ec ? t.ec : error_code(errc::transient_failure));
                last = r.error;
                break;
            }
        }
    }

    void record(domain_report& dr, const mx::host& h, const boost::asio::ip::address& addr, const mx_try& t)
    {
        host_attempt a{h.name, addr.to_string(), t.ec, t.ec ? t.diag.describe(t.ec) : std::string{},
                       t.diag.server_reply()};
        dr.attempts.push_back(std::move(a));
    }

    recipient_report& find(const std::string& address)
    {
        for (std::size_t i : group_->recipients)
            if (report_.recipients[i].address == address && report_.recipients[i].outcome == delivery::outcome::pending)
                return report_.recipients[i];
        for (std::size_t i : group_->recipients)
            if (report_.recipients[i].address == address)
                return report_.recipients[i];
        return report_.recipients[group_->recipients.front()];
    }

    dns::resolver& dns_;
    std::string_view from_;
    std::string_view message_;
    const deliver_options& o_;
    delivery_report& report_;
    std::mt19937 rng_;
    std::optional<mta_sts::policy_cache> own_cache_{};
    mta_sts::policy_cache* cache_ = nullptr;
    const mx::domain_group* group_ = nullptr;
};

} // namespace detail

/// Delivers `message` from `from` to each of `to` at its domain's MX hosts.
/// Errors (`ec`, and `diag` naming the field) are the input's, found before
/// any lookup: an address that is not a mailbox, a recipient without a
/// domain or with an address literal, no recipients. Everything after that
/// is in the report, per recipient and per domain.
inline delivery_report deliver(dns::resolver& resolver, std::string_view from, std::span<const std::string> to,
                               std::string_view message, const deliver_options& options, error_code& ec,
                               diagnostics& diag)
{
    ec = {};
    diag.clear();
    delivery_report report;
    if (to.empty()) {
        ec = errc::empty_argument;
        diag.set_field("recipient list");
        return report;
    }
    if (const auto c = cmd::mail_from{from, {}, true}.check()) {
        ec = c.error;
        diag.set_field(c.field);
        return report;
    }
    for (const auto& r : to) {
        if (const auto c = cmd::rcpt_to{r, {}, true}.check()) {
            ec = c.error;
            diag.set_field(c.field);
            diag.set_detail_text(r);
            return report;
        }
    }
    std::vector<mx::domain_group> groups;
    std::size_t bad = 0;
    if (const auto g = mx::group_by_domain(to, groups, bad)) {
        ec = g;
        diag.set_field("RCPT TO address");
        diag.set_detail_text(to[bad]);
        return report;
    }
    for (const auto& g : groups) {
        if (!g.domain.empty() && g.domain.front() == '[') {
            ec = errc::invalid_domain;
            diag.set_field("RCPT TO address");
            diag.set_detail_text("an address literal (" + g.domain + "): direct delivery needs a domain");
            return report;
        }
    }
    for (const auto& r : to) {
        recipient_report rr;
        rr.address = r;
        rr.outcome = delivery::outcome::pending;
        report.recipients.push_back(std::move(rr));
    }
    detail::deliverer d(resolver, from, message, options, report);
    for (const auto& g : groups)
        d.domain(g);
    return report;
}

/// The throwing form: throws error_with_diagnostics for an input error.
inline delivery_report deliver(dns::resolver& resolver, std::string_view from, std::span<const std::string> to,
                               std::string_view message, const deliver_options& options = {})
{
    error_code ec;
    diagnostics diag;
    auto r = deliver(resolver, from, to, message, options, ec, diag);
    detail::throw_on_error(ec, diag);
    return r;
}

/// An smtp::message, written out once and sent to every domain.
inline delivery_report deliver(dns::resolver& resolver, std::string_view from, std::span<const std::string> to,
                               const message& m, const deliver_options& options, error_code& ec, diagnostics& diag)
{
    const std::string bytes = m.to_string();
    return deliver(resolver, from, to, bytes, options, ec, diag);
}
inline delivery_report deliver(dns::resolver& resolver, std::string_view from, std::span<const std::string> to,
                               const message& m, const deliver_options& options = {})
{
    const std::string bytes = m.to_string();
    return deliver(resolver, from, to, bytes, options);
}

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/session_rules.hpp
///
/// The session's rules, once: what each operation needs of the session (greeted,
/// not authenticated, a transaction open, ...) and of its policies (clear text
/// allowed, AUTH in clear allowed, ...). The typestate's named concepts
/// (session.hpp: ehlo_done, not_authenticated,
/// encrypted_or_clear_text_allowed, ...) each read one rule from here at compile
/// time; the pool reads the same table at run time to decide whether it may
/// AUTH and send on a session it opened, and which error says why not.
#ifndef SMTP_PROTOCOL_SESSION_RULES_HPP
#define SMTP_PROTOCOL_SESSION_RULES_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>

SMTP_NAMESPACE_BEGIN
namespace session_rules {

/// What a session is at a point: from its state type (the typestate) or
/// from what happened at run time (the pool).
struct session_facts {
    bool open = true;          ///< QUIT not sent
    bool greeted = false;      ///< EHLO or HELO accepted
    bool tls_started = false;  ///< STARTTLS done and EHLO not yet sent again
    bool encrypted = false;
    bool authenticated = false;
    bool in_mail = false;      ///< MAIL accepted
    bool has_rcpt = false;     ///< and at least one RCPT
};

/// What the session's policies allow (smtp::policies: tls, plaintext_auth, auth).
struct policy_facts {
    bool offers_starttls = false;        ///< tls::starttls, tls::opportunistic
    bool clear_text_allowed = false;     ///< tls::none, tls::opportunistic
    bool plaintext_auth_allowed = false; ///< auth::allow_plaintext
    bool has_mechanisms = false;         ///< an auth policy with at least one mechanism
};

/// Each rule is named as the concept that checks it (session.hpp).
enum class rule : unsigned {
    session_open,
    greeted_again_after_starttls,
    ehlo_done,
    not_authenticated,
    not_encrypted,
    policy_offers_starttls,
    policy_has_mechanisms,
    encrypted_or_clear_text_allowed,
    encrypted_or_plaintext_auth_allowed,
    mail_transaction_open,
    recipient_accepted,
    no_transaction_open,
};

/// Whether `r` holds for a session that is `s` under policies `p`.
constexpr bool holds(rule r, const session_facts& s, const policy_facts& p = {}) noexcept
{
    switch (r) {
    case rule::session_open: return s.open;
    case rule::greeted_again_after_starttls: return !s.tls_started;
    case rule::ehlo_done: return !s.tls_started && s.greeted;
    case rule::not_authenticated: return !s.authenticated;
    case rule::not_encrypted: return !s.encrypted;
    case rule::policy_offers_starttls: return p.offers_starttls;
    case rule::policy_has_mechanisms: return p.has_mechanisms;
    case rule::encrypted_or_clear_text_allowed: return s.encrypted || p.clear_text_allowed;
    case rule::encrypted_or_plaintext_auth_allowed: return s.encrypted || p.plaintext_auth_allowed;
    case rule::mail_transaction_open: return s.in_mail;
    case rule::recipient_accepted: return s.has_rcpt;
    case rule::no_transaction_open: return !s.in_mail;
    }
    return false;
}

/// The operations of a session (session.hpp's members; sendmail stands for
/// every whole-message member: sendmail, send_message, send_all).
enum class operation : unsigned {
    ehlo, starttls, login, sendmail, mail_from, rcpt_to, data, bdat, rset, verify, expn, help, noop, docmd, quit,
};
inline constexpr std::size_t operation_count = 15;

/// A set of rules, in the order they are checked.
struct rule_list {
    std::array<rule, 8> rules{};
    std::size_t size = 0;
    constexpr rule_list(std::initializer_list<rule> l) noexcept
    {
        for (rule r : l)
            rules[size++] = r;
    }
    constexpr const rule* begin() const noexcept { return rules.data(); }
    constexpr const rule* end() const noexcept { return rules.data() + size; }
    constexpr bool contains(rule r) const noexcept
    {
        for (rule x : *this)
            if (x == r)
                return true;
        return false;
    }
};

/// The table: what each operation needs, indexed by `operation`.
inline constexpr std::array<rule_list, operation_count> needs{{
    /* ehlo      */ {rule::session_open, rule::no_transaction_open},
    /* starttls  */ {rule::ehlo_done, rule::not_encrypted, rule::not_authenticated, rule::no_transaction_open,
                     rule::policy_offers_starttls},
    /* login     */ {rule::ehlo_done, rule::not_authenticated, rule::no_transaction_open, rule::policy_has_mechanisms,
                     rule::encrypted_or_clear_text_allowed, rule::encrypted_or_plaintext_auth_allowed},
    /* sendmail  */ {rule::ehlo_done, rule::no_transaction_open, rule::encrypted_or_clear_text_allowed},
    /* mail_from */ {rule::ehlo_done, rule::no_transaction_open, rule::encrypted_or_clear_text_allowed},
    /* rcpt_to   */ {rule::mail_transaction_open},
    /* data      */ {rule::recipient_accepted},
    /* bdat      */ {rule::recipient_accepted},
    /* rset      */ {rule::ehlo_done},
    /* verify    */ {rule::greeted_again_after_starttls, rule::session_open, rule::encrypted_or_clear_text_allowed},
    /* expn      */ {rule::greeted_again_after_starttls, rule::session_open, rule::encrypted_or_clear_text_allowed},
    /* help      */ {rule::greeted_again_after_starttls, rule::session_open},
    /* noop      */ {rule::greeted_again_after_starttls, rule::session_open},
    /* docmd     */ {rule::ehlo_done, rule::no_transaction_open, rule::encrypted_or_clear_text_allowed},
    /* quit      */ {rule::session_open},
}};

constexpr const rule_list& needs_of(operation op) noexcept { return needs[static_cast<std::size_t>(op)]; }

/// The first rule `op` needs that does not hold, in the table's order; none
/// when the operation is allowed.
constexpr std::optional<rule> first_broken(operation op, const session_facts& s, const policy_facts& p) noexcept
{
    for (rule r : needs_of(op))
        if (!holds(r, s, p))
            return r;
    return std::nullopt;
}

constexpr bool allows(operation op, const session_facts& s, const policy_facts& p) noexcept
{
    return !first_broken(op, s, p);
}

/// The error a run-time check reports for a broken rule (where the typestate
/// refuses to compile, the pool decides at run time).
constexpr errc error_for(rule r) noexcept
{
    switch (r) {
    case rule::encrypted_or_plaintext_auth_allowed: return errc::auth_in_clear;
    case rule::encrypted_or_clear_text_allowed: return errc::starttls_not_offered;
    case rule::policy_has_mechanisms: return errc::no_common_mechanism;
    case rule::session_open:
    case rule::greeted_again_after_starttls:
    case rule::ehlo_done:
    case rule::not_authenticated:
    case rule::not_encrypted:
    case rule::policy_offers_starttls:
    case rule::mail_transaction_open:
    case rule::recipient_accepted:
    case rule::no_transaction_open: break;
    }
    return errc::session_broken;
}

} // namespace session_rules
SMTP_NAMESPACE_END

#endif

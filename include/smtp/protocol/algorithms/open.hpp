/// \file smtp/protocol/algorithms/open.hpp
///
/// The pool's open sequence, as its policies say: connect and read the
/// greeting (TLS first for implicit TLS), EHLO, STARTTLS and EHLO again when
/// the TLS policy offers it (always under tls::starttls; under
/// tls::opportunistic when the server offers it), then AUTH when there are
/// credentials. Whether it may AUTH, and whether the session may then send,
/// is the session rules' answer (smtp/protocol/session_rules.hpp), the same
/// table the typestate's concepts read: a session the rules would not let a
/// user send on ends here with the rule's error, before any credential or
/// message byte goes out.
#ifndef SMTP_PROTOCOL_ALGORITHMS_OPEN_HPP
#define SMTP_PROTOCOL_ALGORITHMS_OPEN_HPP

#include <smtp/protocol/algorithms/ehlo.hpp>
#include <smtp/protocol/algorithms/greeting.hpp>
#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/algorithms/starttls.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/protocol/session_rules.hpp>
#include <smtp/version.hpp>

#include <optional>

SMTP_NAMESPACE_BEGIN
namespace sansio {

/// What the open sequence does, from the session's policies.
struct open_settings {
    bool implicit_tls = false;     ///< tls::implicit
    bool starttls_required = false; ///< tls::starttls: STARTTLS even when not offered (then starttls_not_offered)
    session_rules::policy_facts policy{};
    /// The caller runs AUTH itself once this is done (credentials from a
    /// provider, smtp/credentials.hpp): the rules are checked as for AUTH,
    /// and the sequence ends before it.
    bool auth_after = false;
};

/// `Auth`: the AUTH algorithm to run (auth_any<M...> over the policy's
/// mechanisms), constructible from sasl::credentials.
template <class Auth>
class open {
public:
    open(open_settings s, std::optional<sasl::credentials> creds) : settings_(s), creds_(creds), connect_(s.implicit_tls)
    {}

    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        switch (step_) {
        case step::connect:
            if (!sub_done(connect_, st, io_ec, next))
                return next;
            if (st.ec)
                return finish();
            step_ = step::first_ehlo;
            io_ec = {};
            [[fallthrough]];
        case step::first_ehlo:
            if (!sub_done(first_, st, io_ec, next))
                return next;
            if (st.ec)
                return finish();
            if (!(settings_.policy.offers_starttls &&
                  (settings_.starttls_required || st.caps.template has<ext::starttls>())))
                return after_greeting(st);
            step_ = step::starttls;
            io_ec = {};
            [[fallthrough]];
        case step::starttls:
            if (!sub_done(tls_, st, io_ec, next))
                return next;
            if (st.ec)
                return finish();
            step_ = step::second_ehlo;
            io_ec = {};
            [[fallthrough]];
        case step::second_ehlo:
            if (!sub_done(again_, st, io_ec, next))
                return next;
            if (st.ec)
                return finish();
            return after_greeting(st);
        case step::auth:
            if (!sub_done(*auth_, st, io_ec, next))
                return next;
            return finish();
        case step::done: break;
        }
        return next_action::done;
    }

private:
    enum class step { connect, first_ehlo, starttls, second_ehlo, auth, done };

    next_action finish() noexcept
    {
        step_ = step::done;
        return next_action::done;
    }

    /// The session is greeted (and encrypted when it could be): what the
    /// rules let it do next.
    template <class State>
    next_action after_greeting(State& st)
    {
        session_rules::session_facts facts;
        facts.greeted = true;
        facts.encrypted = st.encrypted;
        using session_rules::operation;
        if (creds_ || settings_.auth_after) {
            if (auto broken = session_rules::first_broken(operation::login, facts, settings_.policy)) {
                st.fail(session_rules::error_for(*broken));
                return finish();
            }
            facts.authenticated = true;
        }
        if (auto broken = session_rules::first_broken(operation::sendmail, facts, settings_.policy)) {
            st.fail(session_rules::error_for(*broken));
            return finish();
        }
        if (!creds_)
            return finish();
        auth_.emplace(*creds_);
        step_ = step::auth;
        return resume(st, {});
    }

    open_settings settings_;
    std::optional<sasl::credentials> creds_;
    step step_ = step::connect;
    greeting connect_;
    ehlo first_{}, again_{};
    starttls tls_{};
    std::optional<Auth> auth_{};
};

} // namespace sansio
SMTP_NAMESPACE_END

#endif

// smtp/session.hpp
//
// The typestate session: each state of an SMTP session is a type, and each
// command exists only in the states where the protocol allows it. A
// transition is an &&-qualified member that consumes the session and returns
// the next state's session; commands that leave the state as it is (NOOP,
// VRFY, sendmail, ...) are ordinary members.
//
//   auto s = smtp::connect<smtp::policies<smtp::tls::starttls>>(options);   // connected
//   auto g = std::move(s).ehlo();                                            // greeted, in clear
//   auto t = std::move(g).starttls().ehlo();                                 // greeted, encrypted
//   auto a = std::move(t).login(user, password);                             // authenticated
//   a.sendmail("from@example.org", {"to@example.org"}, message);
//   std::move(a).quit();
//
// What does not compile, and the concept that says why:
//   AUTH before EHLO                      ehlo_done
//   AUTH twice                            not_authenticated
//   STARTTLS twice                        not_encrypted
//   STARTTLS after AUTH                   not_authenticated
//   STARTTLS with tls::none               policy_offers_starttls
//   STARTTLS with tls::implicit           not_encrypted (it already is)
//   anything but EHLO/QUIT after STARTTLS greeted_again_after_starttls
//   MAIL before EHLO/HELO                 ehlo_done
//   MAIL in clear under tls::starttls     encrypted_or_clear_text_allowed
//   RCPT before MAIL                      mail_transaction_open
//   DATA/BDAT before an accepted RCPT     recipient_accepted
//   anything after QUIT                   (a closed session has no commands)
//   AUTH in clear under tls::starttls     encrypted_or_clear_text_allowed
//     (or tls::implicit), opt-in or not
//   AUTH in clear without the opt-in      encrypted_or_plaintext_auth_allowed
//   AUTH with auth::none                  policy_has_mechanisms
//   a transition on an lvalue (s.ehlo())  a static_assert: write std::move(s).ehlo()
//
// Under tls::starttls, until STARTTLS has succeeded, only EHLO, STARTTLS,
// RSET, NOOP, HELP and QUIT compile (tests/test_session_safety.cpp checks this list
// against the code, and against tls.hpp and docs/policies.md).
//
// Asynchronous forms complete with void(error_code, result): the next
// step for a transition, the transaction_result for async_sendmail, the
// closed session for async_quit (docs/tutorial.md has the table).
//
// A moved-from session (a transition consumed it) is safe: its error_code
// forms say errc::moved_from_session, its throwing and asynchronous forms
// throw that at the call (an asynchronous form has no executor to complete
// on), its observers say there is nothing (broken() is true, valid() false).
//
// Errors. Every command has a throwing form and an (error_code&,
// diagnostics&) form. A transition's error form returns a step: either the
// next session, or this one back in the state it was in, with the error and
// the server's reply. A refused command never yields a session in a state it
// is not in. After an I/O error the session is broken: it keeps its type, but
// every further command fails with errc::session_broken. The throwing form
// of a transition (and step::value() on a failed step) leaves the caller no
// session: before the exception leaves, it sends QUIT when the session still
// works (a refused AUTH, say; synchronous sessions only) and closes the
// connection.
/// \file smtp/session.hpp
/// The typestate session: each state of an SMTP session is a type, and each
/// command exists only in the states where the protocol allows it. The header's
/// opening comment (in the source) lists the transitions and what does not compile.
#ifndef SMTP_SESSION_HPP
#define SMTP_SESSION_HPP

#include <smtp/detail/config.hpp>
#include <smtp/credentials.hpp>
#include <smtp/detail/connection_fwd.hpp>
#include <smtp/detail/provided_auth.hpp>
#include <smtp/message.hpp>
#include <smtp/policies.hpp>
#include <smtp/protocol.hpp>
#include <smtp/protocol/algorithms.hpp>
#include <smtp/protocol/session_rules.hpp>
#include <smtp/version.hpp>

// Header-only: the connection, the driver and the transports, all of them.
// Separate mode (SMTP_SEPARATE_COMPILATION): their declarations only, and
// <smtp/src.hpp> compiles them once (docs/separate-compilation.md).
#ifndef SMTP_SEPARATE_COMPILATION
#include <smtp/detail/connection_ops.hpp>
#endif

#include <chrono>
#include <concepts>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// The states. E: the connection is encrypted. A: AUTH succeeded.
namespace state {
template <bool E>
struct connected {};         ///< greeting read, not greeted yet
struct tls_started {};       ///< STARTTLS done: EHLO again (or QUIT) is all there is
template <bool E, bool A>
struct greeted {};           ///< EHLO or HELO accepted
template <bool E, bool A>
struct mail {};              ///< MAIL accepted
template <bool E, bool A>
struct rcpt {};              ///< MAIL and at least one RCPT accepted
struct closed {};            ///< QUIT sent: nothing more
} // namespace state

namespace detail {
template <class S>
struct state_traits {
    static constexpr bool greeted = false, encrypted = false, authenticated = false, tls_started = false,
                          in_mail = false, has_rcpt = false, open = true;
};
template <bool E>
struct state_traits<state::connected<E>> : state_traits<void> {
    static constexpr bool encrypted = E;
};
template <>
struct state_traits<state::tls_started> : state_traits<void> {
    static constexpr bool encrypted = true, tls_started = true;
};
template <bool E, bool A>
struct state_traits<state::greeted<E, A>> : state_traits<void> {
    static constexpr bool greeted = true, encrypted = E, authenticated = A;
};
template <bool E, bool A>
struct state_traits<state::mail<E, A>> : state_traits<void> {
    static constexpr bool greeted = true, encrypted = E, authenticated = A, in_mail = true;
};
template <bool E, bool A>
struct state_traits<state::rcpt<E, A>> : state_traits<void> {
    static constexpr bool greeted = true, encrypted = E, authenticated = A, in_mail = true, has_rcpt = true;
};
template <>
struct state_traits<state::closed> : state_traits<void> {
    static constexpr bool open = false;
};

template <class P>
using connection_for = connection<typename P::transport, typename P::log>;

/// The AUTH algorithm over an auth policy's mechanisms, tried in its order.
template <class A>
struct auth_algorithm_for;
template <class... M>
struct auth_algorithm_for<auth::mechanisms<M...>> {
    using type = sansio::auth_any<M...>;
};

/// What a state type says about the session, for the rules' table.
template <class S>
constexpr session_rules::session_facts facts_of() noexcept
{
    using t = state_traits<S>;
    return {t::open, t::greeted, t::tls_started, t::encrypted, t::authenticated, t::in_mail, t::has_rcpt};
}
/// What a policy set allows, for the rules' table.
template <class P>
constexpr session_rules::policy_facts policy_facts_of() noexcept
{
    return {P::tls::offers_starttls, P::tls::clear_text_allowed, P::plaintext_auth::allowed, (P::auth::count > 0)};
}
/// Whether rule `r` of smtp/protocol/session_rules.hpp holds in state S
/// under policies P (void: a rule about the other one only).
template <session_rules::rule r, class S, class P = void>
constexpr bool rule_holds() noexcept
{
    session_rules::session_facts s{};
    session_rules::policy_facts p{};
    if constexpr (!std::is_void_v<S>)
        s = facts_of<S>();
    if constexpr (!std::is_void_v<P>)
        p = policy_facts_of<P>();
    return session_rules::holds(r, s, p);
}

inline std::vector<recipient> to_recipients(const std::vector<std::string>& to)
{
    std::vector<recipient> out;
    out.reserve(to.size());
    for (const auto& a : to)
        out.push_back({a});
    return out;
}

/// What a moved-from session reports.
inline const capabilities& no_capabilities() noexcept
{
    static const capabilities none{};
    return none;
}
inline const connect_options& no_connect_options() noexcept
{
    static const connect_options none{};
    return none;
}
/// The result of a transaction that never started.
inline transaction_result not_sent(std::span<const recipient> to, error_code ec)
{
    transaction_result r;
    for (const auto& t : to)
        r.recipients.push_back({t.address});
    r.error = ec;
    return r;
}

/// A builder's message as a source: its own reader, which holds what it
/// needs (the message itself may go).
inline message_source source_of(const message& m)
{
    const message_reader r = m.reader();
    return message_source{r.read_function(), r.rewind_function()};
}

/// What async_sendmail takes as the message.
template <class M>
concept sendable_message = std::convertible_to<M, std::string_view> ||
                           std::same_as<std::remove_cvref_t<M>, message> ||
                           std::same_as<M, message_source&>;

/// What an asynchronous sendmail keeps until its completion.
struct async_send_state {
    std::vector<recipient> to;
    send_options options{};
    std::string owned{};         ///< a std::string rvalue, moved in
    std::string_view view{};     ///< the message, when it is bytes
    std::optional<message_source> own_source{}; ///< an smtp::message's reader
    message_source* source = nullptr;           ///< the source to read, when there is one
    std::optional<transaction> t{};

    template <class M>
    void keep(M&& m)
    {
        using T = std::remove_cvref_t<M>;
        if constexpr (std::is_same_v<T, std::string> && !std::is_lvalue_reference_v<M>) {
            owned = std::move(m); // a temporary: moved in
            view = owned;
        } else if constexpr (std::is_same_v<T, message>) {
            own_source = source_of(m);
            source = &*own_source;
        } else if constexpr (std::is_same_v<M, message_source&>) {
            source = &m; // viewed: the caller keeps it
        } else if constexpr (std::is_same_v<T, std::string_view>) {
            view = m; // viewed, as asked: the caller keeps the bytes
        } else {
            owned.assign(std::string_view(m)); // a named string, a literal, another string type: copied
            view = owned;
        }
    }
};

/// The commands docmd() does not send: each has its own member.
inline bool changes_state(std::string_view verb) noexcept
{
    for (std::string_view v : {"MAIL", "RCPT", "DATA", "BDAT", "STARTTLS", "AUTH", "QUIT", "RSET", "EHLO", "HELO",
                               "LHLO"})
        if (iequals(verb, v))
            return true;
    return false;
}

template <class...>
inline constexpr bool always_false = false;
} // namespace detail

// --- The named rules ----------------------------------------------------------
// Each reads its rule from the one table, smtp/protocol/session_rules.hpp,
// which the pool reads at run time too.

template <class S>
concept session_open = detail::rule_holds<session_rules::rule::session_open, S>();
template <class S>
concept greeted_again_after_starttls = detail::rule_holds<session_rules::rule::greeted_again_after_starttls, S>();
template <class S>
concept ehlo_done = greeted_again_after_starttls<S> && detail::rule_holds<session_rules::rule::ehlo_done, S>();
template <class S>
concept not_authenticated = detail::rule_holds<session_rules::rule::not_authenticated, S>();
template <class S>
concept not_encrypted = detail::rule_holds<session_rules::rule::not_encrypted, S>();
template <class P>
concept policy_offers_starttls = detail::rule_holds<session_rules::rule::policy_offers_starttls, void, P>();
template <class P>
concept policy_has_mechanisms = detail::rule_holds<session_rules::rule::policy_has_mechanisms, void, P>();
/// AUTH in clear needs auth::allow_plaintext (and, checked beside it by
/// login(), a TLS policy that allows clear text at all).
template <class P, class S>
concept encrypted_or_plaintext_auth_allowed =
    detail::rule_holds<session_rules::rule::encrypted_or_plaintext_auth_allowed, S, P>();
template <class P, class S>
concept encrypted_or_clear_text_allowed = detail::rule_holds<session_rules::rule::encrypted_or_clear_text_allowed, S, P>();
template <class S>
concept mail_transaction_open = detail::rule_holds<session_rules::rule::mail_transaction_open, S>();
template <class S>
concept recipient_accepted = detail::rule_holds<session_rules::rule::recipient_accepted, S>();
template <class S>
concept no_transaction_open = detail::rule_holds<session_rules::rule::no_transaction_open, S>();

template <class P, class S>
class session;

namespace detail {
/// QUIT if the session still works, then close: for a session the caller is not getting back.
template <class Session>
void end_after_error(Session& s) noexcept;
} // namespace detail

/// The outcome of a transition in its error_code form: the next session, or
/// this one back with the error.
template <class Next, class Same>
class step {
public:
    step(Next n) : v_(std::in_place_index<0>, std::move(n)) {}
    step(Same s, error_code ec, diagnostics d) : v_(std::in_place_index<1>, std::move(s)), ec_(ec), diag_(std::move(d)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }
    const error_code& error() const noexcept { return ec_; }
    const diagnostics& diag() const noexcept { return diag_; }

    /// The next session; throws error_with_diagnostics when there is none,
    /// after ending the session politely (QUIT, when it still works, then
    /// close): use recover() to keep it instead.
    Next value() &&
    {
        if (!has_value()) {
            detail::end_after_error(std::get<1>(v_));
            throw error_with_diagnostics(ec_, diag_);
        }
        return std::get<0>(std::move(v_));
    }
    /// The session as it was, when the command failed.
    Same recover() &&
    {
        if (has_value())
            throw std::logic_error("smtp::step::recover: the command succeeded");
        return std::get<1>(std::move(v_));
    }

private:
    std::variant<Next, Same> v_;
    error_code ec_{};
    diagnostics diag_{};
};

/// A reply or an error, for commands that keep the state (VRFY, NOOP, ...).
struct command_result {
    error_code ec{};
    reply server_reply{};
};

namespace detail {
struct session_access;
}

template <class P, class S>
class session {
    using conn_type = detail::connection_for<P>;
    using traits = detail::state_traits<S>;
    static constexpr bool E = traits::encrypted;
    static constexpr bool A = traits::authenticated;

    template <class S2>
    using next = session<P, S2>;

#ifdef SMTP_SEPARATE_COMPILATION
    static_assert(detail::compiled_connection<conn_type> || detail::has_full_definitions<conn_type>,
                  "smtp: separate mode (SMTP_SEPARATE_COMPILATION): <smtp/src.hpp> compiles the sessions over the "
                  "default transport with log::none or log::transcript; for this transport or logger, "
                  "#include <smtp/full.hpp> in this file (docs/separate-compilation.md)");
#endif

public:
    using policies_type = P;
    using state_type = S;
    using logger_type = typename P::log;

    session(session&&) noexcept = default;
    session& operator=(session&&) noexcept = default;
    ~session() = default;

    // Every member below is a template over the state (S_ = S) so that both
    // compilers name the broken rule wherever the call is written, inside a
    // function template returning void too (g++ 12 leaves the rule out there
    // when the constraint is the class's, not the member's). The unnamed pack
    // in front takes any explicit template argument, so that S_ and P_ are
    // always the session's own: s.template login<some_state>() cannot step
    // around a rule.

    // --- What the server said ---------------------------------------------------
    // A moved-from session (a transition consumed it) has no connection: these
    // say nothing is there, and every command fails with errc::moved_from_session.

    /// The capability record from the last EHLO (empty after HELO, and after
    /// STARTTLS). With an extensions policy, smtp::extensions<my_ext>, it is
    /// a capabilities_with<my_ext> made on each call, so that get<my_ext>()
    /// gives the parsed offer; without one, the session's own record.
    decltype(auto) server_capabilities() const
        noexcept(std::is_same_v<capabilities_for_t<typename P::extensions>, capabilities>)
    {
        const capabilities& caps = c_ ? detail::state_of(*c_).caps : detail::no_capabilities();
        if constexpr (std::is_same_v<capabilities_for_t<typename P::extensions>, capabilities>)
            return caps;
        else
            return capabilities_for_t<typename P::extensions>::from(caps);
    }
    /// smtplib's has_extn.
    bool has_extn(std::string_view keyword) const noexcept { return c_ && detail::state_of(*c_).caps.has_extn(keyword); }
    /// True when EHLO (not HELO) was accepted.
    bool does_esmtp() const noexcept { return c_ && detail::state_of(*c_).esmtp; }
    bool encrypted() const noexcept { return c_ && detail::transport_encrypted(*c_); }
    /// True after an I/O error (every command then fails with
    /// errc::session_broken) and for a moved-from session.
    bool broken() const noexcept { return !c_ || detail::state_of(*c_).broken; }
    /// False for a moved-from session.
    bool valid() const noexcept { return c_ != nullptr; }
    const connect_options& options() const noexcept { return c_ ? detail::state_of(*c_).options : detail::no_connect_options(); }
    /// The transport. Throws error_with_diagnostics (moved_from_session) on a moved-from session.
    typename P::transport& transport() { return detail::transport_of(conn()); }
    /// The logger (P::log): the session owns the one given to connect() (or
    /// a default-constructed one) and moves it along with each transition, so
    /// read a custom logger's state back through here. Throws
    /// error_with_diagnostics (moved_from_session) on a moved-from session.
    logger_type& logger() { return detail::state_of(conn()).log; }
    const logger_type& logger() const { return detail::state_of(conn()).log; }

    // --- Greeting ---------------------------------------------------------------

    /// EHLO (HELO when the server refuses EHLO with 5yz).
    template <class..., class S_ = S>
    auto ehlo() &&
        requires(session_open<S_> && no_transaction_open<S_>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).ehlo(ec, diag).value();
    }
    template <class..., class S_ = S>
    auto ehlo(error_code& ec, diagnostics& diag) &&
        requires(session_open<S_> && no_transaction_open<S_>)
    {
        return transition<next<state::greeted<E, A>>>(sansio::ehlo{}, ec, diag);
    }
    /// Completion: void(error_code, step<greeted session, this session>).
    template <class..., class Token, class S_ = S>
    auto async_ehlo(Token&& token) &&
        requires(session_open<S_> && no_transaction_open<S_>)
    {
        return async_transition<next<state::greeted<E, A>>>(sansio::ehlo{}, std::forward<Token>(token));
    }

    // --- STARTTLS ---------------------------------------------------------------------

    /// STARTTLS (RFC 3207). When the server does not offer it:
    /// errc::starttls_not_offered, and nothing was sent.
    template <class..., class S_ = S, class P_ = P>
    auto starttls() &&
        requires(ehlo_done<S_> && not_encrypted<S_> && not_authenticated<S_> && no_transaction_open<S_> &&
                 policy_offers_starttls<P_>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).starttls(ec, diag).value();
    }
    template <class..., class S_ = S, class P_ = P>
    auto starttls(error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S_> && not_encrypted<S_> && not_authenticated<S_> && no_transaction_open<S_> &&
                 policy_offers_starttls<P_>)
    {
        return transition<next<state::tls_started>>(sansio::starttls{}, ec, diag);
    }
    /// Completion: void(error_code, step<session after STARTTLS, this session>).
    template <class..., class Token, class S_ = S, class P_ = P>
    auto async_starttls(Token&& token) &&
        requires(ehlo_done<S_> && not_encrypted<S_> && not_authenticated<S_> && no_transaction_open<S_> &&
                 policy_offers_starttls<P_>)
    {
        return async_transition<next<state::tls_started>>(sansio::starttls{},
                                                          std::forward<Token>(token));
    }

    // --- AUTH -------------------------------------------------------------------

    /// AUTH with the first of the policy's mechanisms that the server offers.
    /// In clear only under a TLS policy that allows clear text and with
    /// auth::allow_plaintext; under tls::starttls, only after STARTTLS.
    /// A refusal is errc::auth_refused with the server's reply (421, the server
    /// going away, is transient_failure); the throwing form sends QUIT before
    /// it throws, the error_code form's recover() gives the greeted session back.
    template <class..., class S_ = S, class P_ = P>
    auto login(std::string_view user, std::string_view secret) &&
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).login(user, secret, ec, diag).value();
    }
    template <class..., class S_ = S, class P_ = P>
    auto login(std::string_view user, std::string_view secret, error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_>)
    {
        return transition<next<state::greeted<E, true>>>(make_auth_op({user, secret}), ec, diag);
    }
    /// Completion: void(error_code, step<authenticated session, this session>).
    /// `user` and `secret` are copied before this returns.
    template <class..., class Token, class S_ = S, class P_ = P>
    auto async_login(std::string_view user, std::string_view secret, Token&& token) &&
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_>)
    {
        return async_transition<next<state::greeted<E, true>>>(make_auth_op({user, secret}),
                                                               std::forward<Token>(token));
    }

    /// AUTH with credentials from a provider (smtp/credentials.hpp), asked
    /// now: a refused bearer token (XOAUTH2, OAUTHBEARER) is reported to its
    /// refused() and AUTH is tried once more, on this connection, with the
    /// next one it gives; a refused password is reported and not retried.
    /// The synchronous form takes a sync_credential_provider; its error
    /// (get() setting `ec`) is the login's, before any AUTH is sent.
    template <class..., class Provider, class S_ = S, class P_ = P>
    auto login(Provider& provider) &&
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_> &&
                 auth::sync_credential_provider<Provider>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).login(provider, ec, diag).value();
    }
    template <class..., class Provider, class S_ = S, class P_ = P>
    auto login(Provider& provider, error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_> &&
                 auth::sync_credential_provider<Provider>)
    {
        return transition_by<next<state::greeted<E, true>>>(
            [&provider](conn_type& c) { return detail::auth_with<auth_op>(c, provider); }, ec, diag);
    }
    /// Completion: void(error_code, step<authenticated session, this session>).
    /// Either form of provider (the asynchronous one when it has both); it
    /// must outlive the operation.
    template <class..., class Provider, class Token, class S_ = S, class P_ = P>
    auto async_login(Provider& provider, Token&& token) &&
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_> &&
                 auth::credential_provider<Provider>)
    {
        return async_transition_by<next<state::greeted<E, true>>>(
            [&provider](conn_type& c, auto handler, auto then) {
                detail::async_auth_with<auth_op>(c, provider, std::move(handler), std::move(then));
            },
            std::forward<Token>(token));
    }

    // --- Mail ---------------------------------------------------------------------

    /// smtplib's sendmail: MAIL, RCPT for each address, DATA (or BDAT), the
    /// message, through the transaction engine (smtp/protocol/transaction.hpp):
    /// pipelined when the server offers PIPELINING, SIZE declared and checked,
    /// 8BITMIME/SMTPUTF8 declared when the message needs them. The result says
    /// what happened to each recipient and to the message. Errors: every
    /// recipient refused is errc::all_recipients_refused (no data sent); a
    /// refusal of the message is transient_failure/permanent_failure with
    /// the reply; a connection lost after the final dot is outcome_unknown.
    /// The envelope is separate from the headers, so BCC is a recipient here
    /// and not in the message. The message: bytes (a string or string_view),
    /// an smtp::message from the builder, or a message_source.
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, std::string_view message)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        auto r = sendmail(from, to, message, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, std::string_view message,
                                error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        const std::vector<recipient> rcpts = detail::to_recipients(to);
        return sendmail(from, rcpts, message, send_options{}, ec, diag);
    }
    /// With DSN requests per recipient and per-message options (RET, ENVID,
    /// REQUIRETLS, BINARYMIME, a progress callback).
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, std::string_view message,
                                const send_options& options = {})
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        auto r = sendmail(from, to, message, options, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, std::string_view message,
                                const send_options& options, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        if (!usable(ec, diag))
            return detail::not_sent(to, ec);
        transaction t = plan(from, to, message, options);
        return run_transaction(t, ec, diag);
    }
    /// A message read from `source` as it is sent (smtp/message_file.hpp
    /// makes one from a file): memory does not grow with its size. See
    /// message_source for what changes when the source cannot be rewound.
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, message_source& source,
                                const send_options& options = {})
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        auto r = sendmail(from, to, source, options, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, message_source& source,
                                const send_options& options, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        if (!usable(ec, diag))
            return detail::not_sent(to, ec);
        transaction t = plan(from, to, source, options);
        return run_transaction(t, ec, diag);
    }
    /// smtplib's sendmail with a message_source.
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, message_source& source)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        const std::vector<recipient> rcpts = detail::to_recipients(to);
        return sendmail(from, rcpts, source);
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, message_source& source,
                                error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        const std::vector<recipient> rcpts = detail::to_recipients(to);
        return sendmail(from, rcpts, source, send_options{}, ec, diag);
    }
    /// A message from the builder (smtp/message.hpp), written as it is sent
    /// (attachments are read then, not before). The envelope is the one
    /// given; send_message takes it from the message.
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, const message& m)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        message_source source = detail::source_of(m);
        return sendmail(from, to, source);
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, const message& m,
                                error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        message_source source = detail::source_of(m);
        return sendmail(from, to, source, ec, diag);
    }

    /// A builder's message with DSN requests and per-message options.
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, const message& m,
                                const send_options& options = {})
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        message_source source = detail::source_of(m);
        return sendmail(from, to, source, options);
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, const message& m,
                                const send_options& options, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        message_source source = detail::source_of(m);
        return sendmail(from, to, source, options, ec, diag);
    }
    /// A temporary source (such as file_message(path) written in the call):
    /// the synchronous forms are done with it before they return.
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, message_source&& source,
                                const send_options& options = {})
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return sendmail(from, to, source, options);
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, message_source&& source,
                                const send_options& options, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return sendmail(from, to, source, options, ec, diag);
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, message_source&& source)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return sendmail(from, to, source);
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, message_source&& source,
                                error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return sendmail(from, to, source, ec, diag);
    }

    /// Asynchronous sendmail. Completion: void(error_code, transaction_result).
    /// The message: a std::string rvalue is moved into the operation, any
    /// other string (a named std::string, a literal, another string type) is
    /// copied, and an smtp::message is read through its own reader, so none
    /// of them needs to outlive the call. Only a std::string_view (to send
    /// large bytes without a copy) and a message_source (an lvalue; a
    /// temporary one does not compile) are viewed: they must stay valid
    /// until the completion. `from` and `to` are copied before this returns.
    /// On a moved-from session it throws at the call (there is no executor
    /// to complete on), as every asynchronous form does.
    template <class..., class M, class Token, class S_ = S, class P_ = P>
    auto async_sendmail(std::string_view from, const std::vector<std::string>& to, M&& message, Token&& token)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_> &&
                 detail::sendable_message<M>)
    {
        static_assert(detail::has_full_definitions<conn_type>, SMTP_DETAIL_ASYNC_NEEDS_FULL);
        auto h = std::make_shared<detail::async_send_state>();
        h->to = detail::to_recipients(to);
        conn_type& c = conn();
        h->keep(std::forward<M>(message));
        if (h->source)
            h->t.emplace(plan(from, h->to, *h->source, h->options));
        else
            h->t.emplace(plan(from, h->to, h->view, h->options));
        return detail::initiate<void(error_code, transaction_result), Token>(
            [&c](auto handler, std::shared_ptr<detail::async_send_state> h) {
                if (h->t->error()) { // refused before a byte: nothing was sent
                    const error_code ec = h->t->error();
                    c.st.diag = h->t->diag();
                    return detail::post_to_handler(c, std::move(handler), [ec, h](auto handler) mutable {
                        std::move(handler)(ec, std::move(*h->t).result());
                    });
                }
                transaction& t = *h->t;
                detail::async_run_for(c, sansio::transactions(std::span<transaction>(&t, 1)), std::move(handler),
                                      [h](auto&& handler, error_code ec) mutable {
                                          transaction_result result = std::move(*h->t).result();
                                          if (ec && !result.error)
                                              result.error = ec;
                                          std::move(handler)(ec, std::move(result));
                                      });
            },
            token, std::move(h));
    }

    /// Several messages over this session, in order. With PIPELINING the
    /// end of one message's data travels with the next one's commands, so
    /// each message costs about one round trip. One result per message,
    /// each with its own error; nothing throws for a refusal or a lost
    /// connection: after one, the messages not yet sent say not_sent.
    /// With `sign` (a dkim::signer, say: smtp/dkim.hpp), each message goes
    /// with the fields it returns in front; one it cannot sign (it throws)
    /// is not sent, errc::dkim_signing_failed.
    template <class..., class S_ = S, class P_ = P>
    std::vector<transaction_result> send_all(std::span<const outgoing_message> messages,
                                             const message_signer& sign = {})
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        // Planned a window at a time, so that memory does not grow with the
        // number of messages; a window boundary costs one round trip.
        constexpr std::size_t window = 64;
        std::vector<transaction_result> out;
        out.reserve(messages.size());
        if (!c_) {
            for (const auto& m : messages)
                out.push_back(detail::not_sent(m.to, errc::moved_from_session));
            return out;
        }
        std::vector<transaction> ts;
        ts.reserve(std::min(window, messages.size()));
        std::vector<std::string> signed_text; // this window's signed messages (reserved: views stay valid)
        std::vector<std::optional<transaction_result>> unsigned_out; // messages the signer refused
        error_code ec;
        for (std::size_t at = 0; at < messages.size(); at += window) {
            ts.clear();
            signed_text.clear();
            signed_text.reserve(window);
            unsigned_out.assign(std::min(window, messages.size() - at), std::nullopt);
            std::size_t i = 0;
            for (const auto& m : messages.subspan(at, std::min(window, messages.size() - at))) {
                std::string_view text = m.message;
                if (sign) {
                    try {
                        signed_text.push_back(sign(m.message) + m.message);
                        text = signed_text.back();
                    } catch (const std::exception&) {
                        unsigned_out[i++] = detail::not_sent(m.to, errc::dkim_signing_failed);
                        continue;
                    }
                }
                ++i;
                plan_into(ts, m.from, m.to, text, m.options);
            }
            if (!ec && !ts.empty()) // after a broken session, the rest are not sent
                ec = detail::run(*c_, sansio::transactions(std::span<transaction>(ts)));
            auto t = ts.begin();
            for (auto& refused : unsigned_out) {
                if (refused) {
                    out.push_back(std::move(*refused));
                    continue;
                }
                out.push_back(std::move(*t++).result());
                if (ec && !out.back().error && out.back().outcome == transaction_outcome::not_sent)
                    out.back().error = ec;
            }
        }
        return out;
    }

    /// smtplib's send_message: the envelope from the message's headers
    /// (Sender or From; To, Cc and Bcc), sent without its Bcc header.
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(std::string_view message)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        auto r = send_message(message, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(std::string_view message, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        const envelope env = envelope_from_headers(message);
        if (env.from.empty())
            return no_sender(ec, diag);
        return sendmail(env.from, env.recipients, env.message, ec, diag);
    }
    /// The same over a message_source: only the header block is read ahead
    /// (protocol/envelope.hpp's envelope_from_source); the rest is read as it
    /// is sent.
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(message_source& source)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        auto r = send_message(source, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(message_source& source, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        if (!usable(ec, diag))
            return detail::not_sent({}, ec);
        source_envelope env = envelope_from_source(source, ec);
        if (ec) {
            diag.clear();
            diag.set_field("message source");
            return detail::not_sent({}, ec);
        }
        if (env.from.empty())
            return no_sender(ec, diag);
        return sendmail(env.from, env.recipients, env.message, ec, diag);
    }
    /// A temporary source, for the synchronous forms (see sendmail).
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(message_source&& source)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return send_message(source);
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(message_source&& source, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return send_message(source, ec, diag);
    }
    /// A message from the builder: the envelope is its From, and its To, Cc
    /// and Bcc (message::bcc() addresses are never in its headers).
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(const message& m)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        auto r = send_message(m, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    template <class..., class S_ = S, class P_ = P>
    transaction_result send_message(const message& m, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        const std::string from = m.envelope_from();
        if (from.empty())
            return no_sender(ec, diag);
        return sendmail(from, m.envelope_recipients(), m, ec, diag);
    }

    /// MAIL FROM: opens a transaction.
    template <class..., class S_ = S, class P_ = P>
    auto mail_from(std::string_view from, std::span<const esmtp_param> params = {}) &&
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).mail_from(from, params, ec, diag).value();
    }
    template <class..., class S_ = S, class P_ = P>
    auto mail_from(std::string_view from, std::span<const esmtp_param> params, error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        sansio::command<cmd::mail_from> op(cmd::mail_from{from, params}, sansio::phase::mail);
        return transition<next<state::mail<E, A>>>(op, ec, diag);
    }

    /// RCPT TO. In a transaction with no accepted recipient yet, a refusal
    /// leaves the session where it was; once one is accepted, the state stays.
    template <class..., class S_ = S>
    auto rcpt_to(std::string_view to, std::span<const esmtp_param> params = {}) &&
        requires mail_transaction_open<S_>
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).rcpt_to(to, params, ec, diag).value();
    }
    template <class..., class S_ = S>
    auto rcpt_to(std::string_view to, std::span<const esmtp_param> params, error_code& ec, diagnostics& diag) &&
        requires mail_transaction_open<S_>
    {
        sansio::command<cmd::rcpt_to> op(cmd::rcpt_to{to, params}, sansio::phase::rcpt);
        return transition<next<state::rcpt<E, A>>>(op, ec, diag);
    }

    /// DATA and the message, after at least one accepted recipient. Back to
    /// greeted either way (after a refusal the transaction is over).
    template <class..., class S_ = S>
    auto data(std::string_view message) &&
        requires recipient_accepted<S_>
    {
        error_code ec;
        diagnostics diag;
        auto g = std::move(*this).data(message, ec, diag);
        if (ec) {
            detail::end_after_error(g);
            throw error_with_diagnostics(ec, diag);
        }
        return g;
    }
    template <class..., class S_ = S>
    auto data(std::string_view message, error_code& ec, diagnostics& diag) &&
        requires recipient_accepted<S_>
    {
        if (!usable(ec, diag))
            return next<state::greeted<E, A>>(std::move(c_));
        std::string payload;
        sansio::encode_message(message, payload, ec);
        if (ec) {
            // It cannot be sent as it is (a line over 998 octets): nothing of
            // it went out; RSET ends the transaction, so greeted is the truth.
            const error_code why = ec;
            detail::run(*c_, sansio::command<cmd::rset>{});
            ec = why;
            diag.clear();
            diag.set_field("message");
            return next<state::greeted<E, A>>(std::move(c_));
        }
        return send_payload(sansio::message(std::move(payload), sansio::message::framing::data), ec, diag);
    }

    /// BDAT with the whole message as its one LAST chunk (RFC 3030), for
    /// servers that offer CHUNKING: without it, errc::chunking_not_offered
    /// and no BDAT is written (RSET ends the transaction). Back to greeted
    /// either way.
    template <class..., class S_ = S>
    auto bdat(std::string_view message) &&
        requires recipient_accepted<S_>
    {
        error_code ec;
        diagnostics diag;
        auto g = std::move(*this).bdat(message, ec, diag);
        if (ec) {
            detail::end_after_error(g);
            throw error_with_diagnostics(ec, diag);
        }
        return g;
    }
    template <class..., class S_ = S>
    auto bdat(std::string_view message, error_code& ec, diagnostics& diag) &&
        requires recipient_accepted<S_>
    {
        if (!usable(ec, diag))
            return next<state::greeted<E, A>>(std::move(c_));
        if (!detail::state_of(*c_).caps.template has<ext::chunking>()) {
            // Without CHUNKING the server would read the chunk as commands:
            // no BDAT goes out (as the engine); RSET ends the transaction,
            // so greeted is the truth.
            detail::run(*c_, sansio::command<cmd::rset>{});
            ec = errc::chunking_not_offered;
            diag.clear();
            diag.set_field("BDAT");
            return next<state::greeted<E, A>>(std::move(c_));
        }
        return send_payload(sansio::message(std::string(message), sansio::message::framing::bdat), ec, diag);
    }

    /// RSET: ends a transaction.
    template <class..., class S_ = S>
    auto rset() &&
        requires(ehlo_done<S_>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).rset(ec, diag).value();
    }
    template <class..., class S_ = S>
    auto rset(error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S_>)
    {
        return transition<next<state::greeted<E, A>>>(sansio::command<cmd::rset>{}, ec, diag);
    }

    // --- Commands that keep the state --------------------------------------------------
    // The throwing forms return the reply whatever its code (smtplib's
    // verify returns (code, msg)) and throw for everything else; the
    // error_code forms say a 4yz/5yz reply with transient_failure or
    // permanent_failure and still give the reply.

    /// VRFY.
    template <class..., class S_ = S, class P_ = P>
    reply verify(std::string_view who)
        requires(greeted_again_after_starttls<S_> && session_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return keep_state<cmd::vrfy>(cmd::vrfy{who}, true);
    }
    template <class..., class S_ = S, class P_ = P>
    command_result verify(std::string_view who, error_code& ec, diagnostics& diag)
        requires(greeted_again_after_starttls<S_> && session_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return keep_state<cmd::vrfy>(cmd::vrfy{who}, ec, diag);
    }
    /// EXPN.
    template <class..., class S_ = S, class P_ = P>
    reply expn(std::string_view list)
        requires(greeted_again_after_starttls<S_> && session_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return keep_state<cmd::expn>(cmd::expn{list}, true);
    }
    template <class..., class S_ = S, class P_ = P>
    command_result expn(std::string_view list, error_code& ec, diagnostics& diag)
        requires(greeted_again_after_starttls<S_> && session_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        return keep_state<cmd::expn>(cmd::expn{list}, ec, diag);
    }
    /// HELP [topic].
    template <class..., class S_ = S>
    reply help(std::string_view topic = {})
        requires(greeted_again_after_starttls<S_> && session_open<S_>)
    {
        return keep_state<cmd::help>(cmd::help{topic}, true);
    }
    template <class..., class S_ = S>
    command_result help(std::string_view topic, error_code& ec, diagnostics& diag)
        requires(greeted_again_after_starttls<S_> && session_open<S_>)
    {
        return keep_state<cmd::help>(cmd::help{topic}, ec, diag);
    }
    /// NOOP.
    template <class..., class S_ = S>
    reply noop()
        requires(greeted_again_after_starttls<S_> && session_open<S_>)
    {
        return keep_state<cmd::noop>(cmd::noop{}, false);
    }
    template <class..., class S_ = S>
    command_result noop(error_code& ec, diagnostics& diag)
        requires(greeted_again_after_starttls<S_> && session_open<S_>)
    {
        return keep_state<cmd::noop>(cmd::noop{}, ec, diag);
    }
    /// Any other command, validated like the rest (no line breaks, no
    /// control bytes). Its reply whatever the code. Not for the commands
    /// that change state: those have their own members (the throwing form
    /// throws std::invalid_argument, the error_code form says
    /// errc::invalid_command_verb, and nothing is sent).
    template <class..., class S_ = S, class P_ = P>
    reply docmd(std::string_view verb, std::string_view argument = {})
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        if (detail::changes_state(verb))
            throw std::invalid_argument("smtp: docmd cannot send a state-changing command; use its member");
        return keep_state<cmd::raw>(cmd::raw{verb, argument}, true);
    }
    template <class..., class S_ = S, class P_ = P>
    command_result docmd(std::string_view verb, std::string_view argument, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        if (detail::changes_state(verb)) {
            ec = errc::invalid_command_verb;
            diag.clear();
            diag.set_field("docmd verb (a state-changing command has its own member)");
            return {ec, {}};
        }
        return keep_state<cmd::raw>(cmd::raw{verb, argument}, ec, diag);
    }

    // --- QUIT ---------------------------------------------------------------------------------

    /// QUIT, then close. The closed session has no commands.
    template <class..., class S_ = S>
    session<P, state::closed> quit() &&
        requires session_open<S_>
    {
        error_code ec;
        diagnostics diag;
        auto c = std::move(*this).quit(ec, diag);
        detail::throw_on_error(ec, diag);
        return c;
    }
    template <class..., class S_ = S>
    session<P, state::closed> quit(error_code& ec, diagnostics& diag) &&
        requires session_open<S_>
    {
        if (!usable(ec, diag))
            return session<P, state::closed>(std::move(c_));
        ec = detail::run(*c_, sansio::quit{});
        diag = detail::state_of(*c_).diag;
        return session<P, state::closed>(std::move(c_));
    }
    /// Completion: void(error_code, closed session).
    template <class..., class Token, class S_ = S>
    auto async_quit(Token&& token) &&
        requires session_open<S_>
    {
        static_assert(detail::has_full_definitions<conn_type>, SMTP_DETAIL_ASYNC_NEEDS_FULL);
        using closed = session<P, state::closed>;
        conn_type& c = conn();
        return detail::initiate<void(error_code, closed), Token>(
            [&c](auto handler, detail::connection_ptr<conn_type> owned) {
                detail::async_run_for(c, sansio::quit{}, std::move(handler),
                                      [owned = std::move(owned)](auto&& h, error_code ec) mutable {
                                          std::move(h)(ec, closed(std::move(owned)));
                                      });
            },
            token, std::move(c_));
    }

    // --- A transition written on an lvalue ------------------------------------------------
    // A transition consumes the session and returns the next one; on an
    // lvalue (s.ehlo() rather than std::move(s).ehlo()) it would leave `s`
    // behind, moved from. These say so instead of the compiler's "discards
    // qualifiers".
    // With the transition's own rules: a call that breaks one is told which
    // (by these too), and an rvalue call meets no "discards qualifiers" note.
    template <class... Args, class S_ = S, class P_ = P>
    auto ehlo(Args&&...) &
        requires(session_open<S_> && no_transaction_open<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: ehlo() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).ehlo(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto starttls(Args&&...) &
        requires(ehlo_done<S_> && not_encrypted<S_> && not_authenticated<S_> && no_transaction_open<S_> &&
                 policy_offers_starttls<P_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: starttls() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).starttls(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto login(Args&&...) &
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: login() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).login(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto mail_from(Args&&...) &
        requires(ehlo_done<S_> && no_transaction_open<S_> && encrypted_or_clear_text_allowed<P_, S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: mail_from() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).mail_from(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto rcpt_to(Args&&...) &
        requires(mail_transaction_open<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: rcpt_to() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).rcpt_to(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto data(Args&&...) &
        requires(recipient_accepted<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: data() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).data(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto bdat(Args&&...) &
        requires(recipient_accepted<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: bdat() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).bdat(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto rset(Args&&...) &
        requires(ehlo_done<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: rset() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).rset(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto quit(Args&&...) &
        requires(session_open<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: quit() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).quit(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto async_ehlo(Args&&...) &
        requires(session_open<S_> && no_transaction_open<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: async_ehlo() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).async_ehlo(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto async_starttls(Args&&...) &
        requires(ehlo_done<S_> && not_encrypted<S_> && not_authenticated<S_> && no_transaction_open<S_> &&
                 policy_offers_starttls<P_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: async_starttls() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).async_starttls(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto async_login(Args&&...) &
        requires(ehlo_done<S_> && not_authenticated<S_> && no_transaction_open<S_> && policy_has_mechanisms<P_> &&
                 encrypted_or_clear_text_allowed<P_, S_> && encrypted_or_plaintext_auth_allowed<P_, S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: async_login() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).async_login(...)`.");
    }
    template <class... Args, class S_ = S, class P_ = P>
    auto async_quit(Args&&...) &
        requires(session_open<S_>)
    {
        static_assert(detail::always_false<Args...>, "smtp: async_quit() is a transition: it consumes the session and returns "
                                                     "the next one. Write `auto next = std::move(s).async_quit(...)`.");
    }

private:
    template <class, class>
    friend class session;
    friend struct detail::session_access;

    explicit session(detail::connection_ptr<conn_type> c) noexcept : c_(std::move(c)) {}

    /// The connection; a moved-from session has none.
    conn_type& conn() const
    {
        if (!c_)
            throw error_with_diagnostics(errc::moved_from_session, diagnostics{});
        return *c_;
    }
    /// False, with errc::moved_from_session, for a moved-from session.
    bool usable(error_code& ec, diagnostics& diag) const noexcept
    {
        if (c_)
            return true;
        ec = errc::moved_from_session;
        diag.clear();
        return false;
    }

    transaction_result no_sender(error_code& ec, diagnostics& diag) const
    {
        ec = errc::empty_argument;
        diag.clear();
        diag.set_field("From header");
        transaction_result r;
        r.error = ec;
        return r;
    }

    /// Runs a transition's operation: the next session on success, this
    /// one back (in its state) with the error otherwise.
    template <class Next, class Op>
    step<Next, session> transition(Op op, error_code& ec, diagnostics& diag)
    {
        return transition_by<Next>([&op](conn_type& c) { return detail::run(c, std::move(op)); }, ec, diag);
    }
    /// The same, with `run(connection)` doing the work and returning its
    /// error (AUTH with a provider: several runs).
    template <class Next, class Run>
    step<Next, session> transition_by(Run run, error_code& ec, diagnostics& diag)
    {
        if (!usable(ec, diag))
            return step<Next, session>(std::move(*this), ec, diag);
        ec = run(*c_);
        diag = detail::state_of(*c_).diag;
        if (ec)
            return step<Next, session>(std::move(*this), ec, diag);
        return step<Next, session>(Next(std::move(c_)));
    }

    template <class Next, class Op, class Token>
    auto async_transition(Op op, Token&& token)
    {
        return async_transition_by<Next>(
            [op = std::move(op)](conn_type& c, auto handler, auto then) mutable {
                detail::async_run_for(c, std::move(op), std::move(handler), std::move(then));
            },
            std::forward<Token>(token));
    }
    /// The same, with `start(connection, handler, then)` doing the work and
    /// calling `then(handler, ec)` when done, as detail::async_run_for does
    /// (AUTH with a provider: several runs).
    template <class Next, class Start, class Token>
    auto async_transition_by(Start start, Token&& token)
    {
        static_assert(detail::has_full_definitions<conn_type>, SMTP_DETAIL_ASYNC_NEEDS_FULL);
        using result_type = step<Next, session>;
        conn_type& c = conn();
        return detail::initiate<void(error_code, result_type), Token>(
            [&c](auto handler, Start start, session self) {
                std::move(start)(c, std::move(handler), [self = std::move(self)](auto&& h, error_code ec) mutable {
                    if (ec) {
                        diagnostics d = detail::state_of(*self.c_).diag;
                        std::move(h)(ec, result_type(std::move(self), ec, std::move(d)));
                    } else {
                        std::move(h)(ec, result_type(Next(std::move(self.c_))));
                    }
                });
            },
            token, std::move(start), std::move(*this));
    }

    transaction_result run_transaction(transaction& t, error_code& ec, diagnostics& diag)
    {
        if (t.error()) { // refused before a byte: nothing was sent
            ec = t.error();
            diag = t.diag();
            return std::move(t).result();
        }
        ec = detail::run(*c_, sansio::transactions(std::span<transaction>(&t, 1)));
        diag = detail::state_of(*c_).diag;
        transaction_result r = std::move(t).result();
        if (ec && !r.error)
            r.error = ec;
        return r;
    }

    /// A transaction on this session: the message as bytes (viewed) or a
    /// source, with what the server offers and what the session is.
    template <class Message>
        requires(std::same_as<Message, std::string_view> || std::same_as<Message, message_source>)
    transaction plan(std::string_view from, std::span<const recipient> to, Message& message,
                     const send_options& options) const
    {
        return transaction(from, to, message, options, detail::state_of(*c_).caps,
                           session_facts{detail::transport_encrypted(*c_), detail::state_of(*c_).lmtp}, detail::state_of(*c_).options.transactions,
                           typename P::extensions{});
    }
    transaction plan(std::string_view from, std::span<const recipient> to, std::string_view message,
                     const send_options& options) const
    {
        return plan<std::string_view>(from, to, message, options);
    }
    /// The same, planned in place at the end of `ts` (a transaction is
    /// large: moving one in costs as much as a small message's reply handling).
    void plan_into(std::vector<transaction>& ts, std::string_view from, std::span<const recipient> to,
                   std::string_view message, const send_options& options) const
    {
        ts.emplace_back(from, to, message, options, detail::state_of(*c_).caps,
                        session_facts{detail::transport_encrypted(*c_), detail::state_of(*c_).lmtp},
                        detail::state_of(*c_).options.transactions, typename P::extensions{});
    }

    using auth_op = typename detail::auth_algorithm_for<typename P::auth>::type;
    static auto make_auth_op(sasl::credentials creds) { return auth_op(creds); }

    template <class C>
    reply keep_state(const C& command, bool any_code)
    {
        error_code ec;
        diagnostics diag;
        auto r = keep_state<C>(command, ec, diag);
        if (ec && !(any_code && (ec == errc::permanent_failure || ec == errc::transient_failure)))
            throw error_with_diagnostics(ec, diag);
        return std::move(r.server_reply);
    }
    template <class C>
    command_result keep_state(const C& command, error_code& ec, diagnostics& diag)
    {
        if (!usable(ec, diag))
            return {ec, {}};
        ec = detail::run(*c_, sansio::command<C>(command));
        diag = detail::state_of(*c_).diag;
        command_result r{ec, {}};
        if (!ec || ec == errc::permanent_failure || ec == errc::transient_failure || ec == errc::unexpected_reply)
            if (detail::state_of(*c_).current.code().value() != 0)
                r.server_reply = reply(detail::state_of(*c_).current);
        return r;
    }

    /// The message (DATA or one BDAT LAST), then back to greeted either way:
    /// after the reply to the end of data the transaction is over.
    auto send_payload(sansio::message op, error_code& ec, diagnostics& diag)
    {
        ec = detail::run(*c_, std::move(op));
        diag = detail::state_of(*c_).diag;
        return next<state::greeted<E, A>>(std::move(c_));
    }

    /// See detail::end_after_error.
    void end_after_error() noexcept
    {
        if (!c_ || detail::state_of(*c_).closed)
            return;
        try {
            if (!detail::state_of(*c_).broken && detail::runs_own_context(*c_)) { // an asynchronous session cannot wait here
                // A goodbye, not a command the caller waits for: a server
                // that stalls now holds the exception up 5 s at most.
                auto& limit = detail::state_of(*c_).options.timeouts.command;
                limit = std::min<std::chrono::milliseconds>(limit, std::chrono::seconds(5));
                detail::run(*c_, sansio::quit{});
            }
            if (!detail::state_of(*c_).closed)
                detail::close_transport(*c_);
        } catch (...) { // the exception on its way says what matters
        }
        detail::state_of(*c_).closed = true;
        detail::state_of(*c_).broken = true;
    }

    detail::connection_ptr<conn_type> c_;
};

/// The closed session: QUIT was sent. It has no commands.
template <class P>
class session<P, state::closed> {
public:
    session(session&&) noexcept = default;
    session& operator=(session&&) noexcept = default;
    /// True when the server answered QUIT with 221 (and the connection is closed).
    bool clean() const noexcept { return c_ && !detail::state_of(*c_).ec; }

private:
    template <class, class>
    friend class session;
    using conn_type = detail::connection_for<P>;
    explicit session(detail::connection_ptr<conn_type> c) noexcept : c_(std::move(c)) {}
    detail::connection_ptr<conn_type> c_;
};

namespace detail {
struct session_access {
    template <class P, class S, class Conn>
    static session<P, S> make(connection_ptr<Conn> c)
    {
        return session<P, S>(std::move(c));
    }
    template <class P, class S>
    static void end_after_error(session<P, S>& s) noexcept
    {
        s.end_after_error();
    }
};

template <class Session>
void end_after_error(Session& s) noexcept
{
    session_access::end_after_error(s);
}
} // namespace detail

SMTP_NAMESPACE_END

#endif

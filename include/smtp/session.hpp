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
//   AUTH in clear                         encrypted_or_plaintext_auth_allowed
//   AUTH with auth::none                  policy_has_mechanisms
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

#include <smtp/detail/auth_op.hpp>
#include <smtp/detail/connection.hpp>
#include <smtp/policies.hpp>
#include <smtp/version.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

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

inline std::vector<recipient> to_recipients(const std::vector<std::string>& to)
{
    std::vector<recipient> out;
    out.reserve(to.size());
    for (const auto& a : to)
        out.push_back({a});
    return out;
}
} // namespace detail

// --- The named rules ----------------------------------------------------------

template <class S>
concept session_open = detail::state_traits<S>::open;
template <class S>
concept greeted_again_after_starttls = !detail::state_traits<S>::tls_started;
template <class S>
concept ehlo_done = greeted_again_after_starttls<S> && detail::state_traits<S>::greeted;
template <class S>
concept not_authenticated = !detail::state_traits<S>::authenticated;
template <class S>
concept not_encrypted = !detail::state_traits<S>::encrypted;
template <class P>
concept policy_offers_starttls = P::tls::offers_starttls;
template <class P>
concept policy_has_mechanisms = (P::auth::count > 0);
template <class P, class S>
concept encrypted_or_plaintext_auth_allowed = detail::state_traits<S>::encrypted || P::plaintext_auth::allowed;
template <class P, class S>
concept encrypted_or_clear_text_allowed = detail::state_traits<S>::encrypted || P::tls::clear_text_allowed;
template <class S>
concept mail_transaction_open = detail::state_traits<S>::in_mail;
template <class S>
concept recipient_accepted = detail::state_traits<S>::has_rcpt;
template <class S>
concept no_transaction_open = !detail::state_traits<S>::in_mail;

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

public:
    using policies_type = P;
    using state_type = S;

    session(session&&) noexcept = default;
    session& operator=(session&&) noexcept = default;
    ~session() = default;

    // --- What the server said -------------------------------------------------

    /// The capability record from the last EHLO (empty after HELO, and after STARTTLS).
    const capabilities& server_capabilities() const noexcept { return c_->caps; }
    /// smtplib's has_extn.
    bool has_extn(std::string_view keyword) const noexcept { return c_->caps.has_extn(keyword); }
    /// True when EHLO (not HELO) was accepted.
    bool does_esmtp() const noexcept { return c_->esmtp; }
    bool encrypted() const noexcept { return c_->transport.encrypted(); }
    /// True after an I/O error: every command then fails with errc::session_broken.
    bool broken() const noexcept { return c_->broken; }
    const connect_options& options() const noexcept { return c_->options; }
    typename P::transport& transport() noexcept { return c_->transport; }

    // --- Greeting ---------------------------------------------------------------

    /// EHLO (HELO when the server refuses EHLO with 5yz).
    auto ehlo() &&
        requires(session_open<S> && !traits::in_mail)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).ehlo(ec, diag).value();
    }
    auto ehlo(error_code& ec, diagnostics& diag) &&
        requires(session_open<S> && !traits::in_mail)
    {
        using N = next<state::greeted<E, A>>;
        return finish<N>(detail::run(*c_, detail::ehlo_op<conn_type>{}), ec, diag);
    }
    template <class Token>
    auto async_ehlo(Token&& token) &&
        requires(session_open<S> && !traits::in_mail)
    {
        return async_transition<next<state::greeted<E, A>>>(detail::ehlo_op<conn_type>{}, std::forward<Token>(token));
    }

    // --- STARTTLS ---------------------------------------------------------------------

    /// STARTTLS (RFC 3207). When the server does not offer it:
    /// errc::starttls_not_offered, and nothing was sent.
    auto starttls() &&
        requires(ehlo_done<S> && not_encrypted<S> && not_authenticated<S> && no_transaction_open<S> &&
                 policy_offers_starttls<P>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).starttls(ec, diag).value();
    }
    auto starttls(error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S> && not_encrypted<S> && not_authenticated<S> && no_transaction_open<S> &&
                 policy_offers_starttls<P>)
    {
        return finish<next<state::tls_started>>(detail::run(*c_, detail::starttls_op<conn_type>{}), ec, diag);
    }
    template <class Token>
    auto async_starttls(Token&& token) &&
        requires(ehlo_done<S> && not_encrypted<S> && not_authenticated<S> && no_transaction_open<S> &&
                 policy_offers_starttls<P>)
    {
        return async_transition<next<state::tls_started>>(detail::starttls_op<conn_type>{},
                                                          std::forward<Token>(token));
    }

    // --- AUTH -------------------------------------------------------------------

    /// AUTH with the first of the policy's mechanisms that the server offers.
    /// A refusal is errc::auth_refused with the server's reply (421, the server
    /// going away, is transient_failure); the throwing form sends QUIT before
    /// it throws, the error_code form's recover() gives the greeted session back.
    auto login(std::string_view user, std::string_view secret) &&
        requires(ehlo_done<S> && not_authenticated<S> && no_transaction_open<S> && policy_has_mechanisms<P> &&
                 encrypted_or_plaintext_auth_allowed<P, S>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).login(user, secret, ec, diag).value();
    }
    auto login(std::string_view user, std::string_view secret, error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S> && not_authenticated<S> && no_transaction_open<S> && policy_has_mechanisms<P> &&
                 encrypted_or_plaintext_auth_allowed<P, S>)
    {
        return finish<next<state::greeted<E, true>>>(detail::run(*c_, make_auth_op({user, secret})), ec, diag);
    }
    template <class Token>
    auto async_login(std::string_view user, std::string_view secret, Token&& token) &&
        requires(ehlo_done<S> && not_authenticated<S> && no_transaction_open<S> && policy_has_mechanisms<P> &&
                 encrypted_or_plaintext_auth_allowed<P, S>)
    {
        return async_transition<next<state::greeted<E, true>>>(make_auth_op({user, secret}),
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
    /// and not in the message.
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, std::string_view message)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        error_code ec;
        diagnostics diag;
        auto r = sendmail(from, to, message, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    transaction_result sendmail(std::string_view from, const std::vector<std::string>& to, std::string_view message,
                                error_code& ec, diagnostics& diag)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        const std::vector<recipient> rcpts = detail::to_recipients(to);
        return sendmail(from, rcpts, message, send_options{}, ec, diag);
    }
    /// With DSN requests per recipient and per-message options (RET, ENVID,
    /// REQUIRETLS, BINARYMIME, a progress callback).
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, std::string_view message,
                                const send_options& options = {})
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        error_code ec;
        diagnostics diag;
        auto r = sendmail(from, to, message, options, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, std::string_view message,
                                const send_options& options, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        transaction t = plan(from, to, message, options);
        return run_transaction(t, ec, diag);
    }
    /// A message read from `source` as it is sent (smtp/message_file.hpp
    /// makes one from a file): memory does not grow with its size. See
    /// message_source for what changes when the source cannot be rewound.
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, message_source& source,
                                const send_options& options = {})
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        error_code ec;
        diagnostics diag;
        auto r = sendmail(from, to, source, options, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    transaction_result sendmail(std::string_view from, std::span<const recipient> to, message_source& source,
                                const send_options& options, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        transaction t(from, to, source, options, server_offers::from(c_->caps),
                      session_facts{c_->transport.encrypted(), c_->lmtp}, c_->options.transactions);
        return run_transaction(t, ec, diag);
    }

    /// Asynchronous sendmail: `result` is filled before the completion,
    /// void(error_code), is called. `from`, `to` and `message` must stay
    /// valid until then.
    template <class Token>
    auto async_sendmail(std::string_view from, const std::vector<std::string>& to, std::string_view message,
                        transaction_result& result, Token&& token)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        struct holder {
            std::vector<recipient> to;
            send_options options{};
            std::optional<transaction> t{};
        };
        auto h = std::make_shared<holder>();
        h->to = detail::to_recipients(to);
        h->t.emplace(plan(from, h->to, message, h->options));
        conn_type& c = *c_;
        return boost::asio::async_initiate<Token, void(error_code)>(
            [&c, &result](auto handler, std::shared_ptr<holder> h) {
                if (h->t->error()) {
                    const error_code ec = h->t->error();
                    c.diag = h->t->diag();
                    result = std::move(*h->t).result();
                    auto ex = boost::asio::get_associated_executor(handler, c.transport.get_executor());
                    return boost::asio::post(ex, [handler = std::move(handler), ec]() mutable { handler(ec); });
                }
                transaction& t = *h->t;
                detail::async_run(c, detail::transactions_op<conn_type>{{}, std::span<transaction>(&t, 1)},
                                  [handler = std::move(handler), h, &result](error_code ec) mutable {
                                      result = std::move(*h->t).result();
                                      if (ec && !result.error)
                                          result.error = ec;
                                      std::move(handler)(ec);
                                  });
            },
            token, std::move(h));
    }

    /// Several messages over this session, in order. With PIPELINING the
    /// end of one message's data travels with the next one's commands, so
    /// each message costs about one round trip. One result per message,
    /// each with its own error; nothing throws for a refusal or a lost
    /// connection: after one, the messages not yet sent say not_sent.
    std::vector<transaction_result> send_all(std::span<const outgoing_message> messages)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        // Planned a window at a time, so that memory does not grow with the
        // number of messages; a window boundary costs one round trip.
        constexpr std::size_t window = 64;
        std::vector<transaction_result> out;
        out.reserve(messages.size());
        std::vector<transaction> ts;
        ts.reserve(std::min(window, messages.size()));
        error_code ec;
        for (std::size_t at = 0; at < messages.size(); at += window) {
            ts.clear();
            for (const auto& m : messages.subspan(at, std::min(window, messages.size() - at)))
                ts.push_back(plan(m.from, m.to, m.message, m.options));
            if (!ec) // after a broken session, the rest are not sent
                ec = detail::run(*c_, detail::transactions_op<conn_type>{{}, std::span<transaction>(ts)});
            for (auto& t : ts) {
                out.push_back(std::move(t).result());
                if (ec && !out.back().error && out.back().outcome == transaction_outcome::not_sent)
                    out.back().error = ec;
            }
        }
        return out;
    }

    /// smtplib's send_message: the envelope from the message's headers
    /// (Sender or From; To, Cc and Bcc), sent without its Bcc header.
    transaction_result send_message(std::string_view message)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        error_code ec;
        diagnostics diag;
        auto r = send_message(message, ec, diag);
        detail::throw_on_error(ec, diag);
        return r;
    }
    transaction_result send_message(std::string_view message, error_code& ec, diagnostics& diag)
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        const envelope env = envelope_from_headers(message);
        if (env.from.empty()) {
            ec = errc::empty_argument;
            diag.clear();
            diag.set_field("From header");
            return {};
        }
        return sendmail(env.from, env.recipients, env.message, ec, diag);
    }

    /// MAIL FROM: opens a transaction.
    auto mail_from(std::string_view from, std::span<const esmtp_param> params = {}) &&
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).mail_from(from, params, ec, diag).value();
    }
    auto mail_from(std::string_view from, std::span<const esmtp_param> params, error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        detail::command_op<conn_type, cmd::mail_from> op{{}, cmd::mail_from{from, params}, detail::phase::mail};
        return finish<next<state::mail<E, A>>>(detail::run(*c_, op), ec, diag);
    }

    /// RCPT TO. In a transaction with no accepted recipient yet, a refusal
    /// leaves the session where it was; once one is accepted, the state stays.
    auto rcpt_to(std::string_view to, std::span<const esmtp_param> params = {}) &&
        requires mail_transaction_open<S>
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).rcpt_to(to, params, ec, diag).value();
    }
    auto rcpt_to(std::string_view to, std::span<const esmtp_param> params, error_code& ec, diagnostics& diag) &&
        requires mail_transaction_open<S>
    {
        detail::command_op<conn_type, cmd::rcpt_to> op{{}, cmd::rcpt_to{to, params}, detail::phase::rcpt};
        return finish<next<state::rcpt<E, A>>>(detail::run(*c_, op), ec, diag);
    }

    /// DATA and the message, after at least one accepted recipient. Back to
    /// greeted either way (after a refusal the transaction is over).
    auto data(std::string_view message) &&
        requires recipient_accepted<S>
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
    auto data(std::string_view message, error_code& ec, diagnostics& diag) &&
        requires recipient_accepted<S>
    {
        detail::message_op<conn_type> op{};
        detail::encode_message(message, op.payload, ec);
        if (ec) {
            // It cannot be sent as it is (a line over 998 octets): nothing of
            // it went out; RSET ends the transaction, so greeted is the truth.
            const error_code why = ec;
            detail::run(*c_, detail::command_op<conn_type, cmd::rset>{});
            ec = why;
            diag.clear();
            diag.set_field("message");
            return next<state::greeted<E, A>>(std::move(c_));
        }
        return send_payload(std::move(op), ec, diag);
    }

    /// BDAT with the whole message as its one LAST chunk (RFC 3030), for
    /// servers that offer CHUNKING. Back to greeted either way.
    auto bdat(std::string_view message) &&
        requires recipient_accepted<S>
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
    auto bdat(std::string_view message, error_code& ec, diagnostics& diag) &&
        requires recipient_accepted<S>
    {
        detail::message_op<conn_type> op{};
        op.payload.assign(message);
        op.bdat = true;
        return send_payload(std::move(op), ec, diag);
    }

    /// RSET: ends a transaction.
    auto rset() &&
        requires(ehlo_done<S>)
    {
        error_code ec;
        diagnostics diag;
        return std::move(*this).rset(ec, diag).value();
    }
    auto rset(error_code& ec, diagnostics& diag) &&
        requires(ehlo_done<S>)
    {
        return finish<next<state::greeted<E, A>>>(detail::run(*c_, detail::command_op<conn_type, cmd::rset>{}), ec,
                                                 diag);
    }

    // --- Commands that keep the state --------------------------------------------------

    /// VRFY: the reply, whatever its code (smtplib's verify returns (code, msg)).
    reply verify(std::string_view who)
        requires(greeted_again_after_starttls<S> && session_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        return keep_state<cmd::vrfy>(cmd::vrfy{who}, true);
    }
    command_result verify(std::string_view who, error_code& ec, diagnostics& diag)
        requires(greeted_again_after_starttls<S> && session_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        return keep_state<cmd::vrfy>(cmd::vrfy{who}, ec, diag);
    }
    /// EXPN.
    reply expn(std::string_view list)
        requires(greeted_again_after_starttls<S> && session_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        return keep_state<cmd::expn>(cmd::expn{list}, true);
    }
    /// HELP [topic].
    reply help(std::string_view topic = {})
        requires(greeted_again_after_starttls<S> && session_open<S>)
    {
        return keep_state<cmd::help>(cmd::help{topic}, true);
    }
    /// NOOP.
    reply noop()
        requires(greeted_again_after_starttls<S> && session_open<S>)
    {
        return keep_state<cmd::noop>(cmd::noop{}, false);
    }
    command_result noop(error_code& ec, diagnostics& diag)
        requires(greeted_again_after_starttls<S> && session_open<S>)
    {
        return keep_state<cmd::noop>(cmd::noop{}, ec, diag);
    }
    /// Any other command, validated like the rest (no line breaks, no
    /// control bytes). Its reply whatever the code. Not for the commands
    /// that change state: those have their own members.
    reply docmd(std::string_view verb, std::string_view argument = {})
        requires(ehlo_done<S> && no_transaction_open<S> && encrypted_or_clear_text_allowed<P, S>)
    {
        for (std::string_view v : {"MAIL", "RCPT", "DATA", "BDAT", "STARTTLS", "AUTH", "QUIT", "RSET", "EHLO", "HELO",
                                   "LHLO"})
            if (detail::iequals(verb, v))
                throw std::invalid_argument("smtp: docmd cannot send a state-changing command; use its member");
        return keep_state<cmd::raw>(cmd::raw{verb, argument}, true);
    }

    // --- QUIT ---------------------------------------------------------------------------------

    /// QUIT, then close. The closed session has no commands.
    session<P, state::closed> quit() &&
        requires session_open<S>
    {
        error_code ec;
        diagnostics diag;
        auto c = std::move(*this).quit(ec, diag);
        detail::throw_on_error(ec, diag);
        return c;
    }
    session<P, state::closed> quit(error_code& ec, diagnostics& diag) &&
        requires session_open<S>
    {
        ec = detail::run(*c_, detail::quit_op<conn_type>{});
        diag = c_->diag;
        return session<P, state::closed>(std::move(c_));
    }
    template <class Token>
    auto async_quit(Token&& token) &&
        requires session_open<S>
    {
        return detail::async_run(*c_, detail::quit_op<conn_type>{}, std::forward<Token>(token));
    }

private:
    template <class, class>
    friend class session;
    friend struct detail::session_access;

    explicit session(std::unique_ptr<conn_type> c) noexcept : c_(std::move(c)) {}

    /// The step a transition returns: the next session on success, this one
    /// back (in its state) with the error otherwise.
    template <class Next>
    step<Next, session> finish(error_code result, error_code& ec, diagnostics& diag)
    {
        ec = result;
        diag = c_->diag;
        if (result)
            return step<Next, session>(std::move(*this), result, diag);
        return step<Next, session>(Next(std::move(c_)));
    }

    template <class Next, class Op, class Token>
    auto async_transition(Op op, Token&& token)
    {
        using result_type = step<Next, session>;
        conn_type& c = *c_;
        return boost::asio::async_initiate<Token, void(result_type)>(
            [&c](auto handler, Op op, session self) {
                detail::async_run(c, std::move(op),
                                  [h = std::move(handler), self = std::move(self)](error_code ec) mutable {
                                      if (ec) {
                                          diagnostics d = self.c_->diag;
                                          std::move(h)(result_type(std::move(self), ec, std::move(d)));
                                      } else {
                                          std::move(h)(result_type(Next(std::move(self.c_))));
                                      }
                                  });
            },
            token, std::move(op), std::move(*this));
    }

    transaction_result run_transaction(transaction& t, error_code& ec, diagnostics& diag)
    {
        if (t.error()) { // refused before a byte: nothing was sent
            ec = t.error();
            diag = t.diag();
            return std::move(t).result();
        }
        ec = detail::run(*c_, detail::transactions_op<conn_type>{{}, std::span<transaction>(&t, 1)});
        diag = c_->diag;
        transaction_result r = std::move(t).result();
        if (ec && !r.error)
            r.error = ec;
        return r;
    }

    transaction plan(std::string_view from, std::span<const recipient> to, std::string_view message,
                     const send_options& options) const
    {
        return transaction(from, to, message, options, server_offers::from(c_->caps),
                           session_facts{c_->transport.encrypted(), c_->lmtp}, c_->options.transactions);
    }

    auto make_auth_op(sasl::credentials creds)
    {
        return make_auth_op_impl(creds, static_cast<typename P::auth*>(nullptr));
    }
    template <class... M>
    detail::auth_any_op<conn_type, M...> make_auth_op_impl(sasl::credentials creds, auth::mechanisms<M...>*)
    {
        return detail::auth_any_op<conn_type, M...>{creds};
    }

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
        ec = detail::run(*c_, detail::command_op<conn_type, C>{{}, command});
        diag = c_->diag;
        command_result r{ec, {}};
        if (!ec || ec == errc::permanent_failure || ec == errc::transient_failure || ec == errc::unexpected_reply)
            if (c_->current.code().value() != 0)
                r.server_reply = reply(c_->current);
        return r;
    }

    /// The message (DATA or one BDAT LAST), then back to greeted either way:
    /// after the reply to the end of data the transaction is over.
    auto send_payload(detail::message_op<conn_type> op, error_code& ec, diagnostics& diag)
    {
        ec = detail::run(*c_, std::move(op));
        diag = c_->diag;
        return next<state::greeted<E, A>>(std::move(c_));
    }

    /// See detail::end_after_error.
    void end_after_error() noexcept
    {
        if (!c_ || c_->closed)
            return;
        try {
            if (!c_->broken && c_->owned_context) // an asynchronous session cannot wait here
                detail::run(*c_, detail::quit_op<conn_type>{});
            if (!c_->closed)
                c_->transport.close();
        } catch (...) { // the exception on its way says what matters
        }
        c_->closed = true;
        c_->broken = true;
    }

    std::unique_ptr<conn_type> c_;
};

/// The closed session: QUIT was sent. It has no commands.
template <class P>
class session<P, state::closed> {
public:
    session(session&&) noexcept = default;
    session& operator=(session&&) noexcept = default;
    /// True when the server answered QUIT with 221 (and the connection is closed).
    bool clean() const noexcept { return c_ && !c_->ec; }

private:
    template <class, class>
    friend class session;
    using conn_type = detail::connection_for<P>;
    explicit session(std::unique_ptr<conn_type> c) noexcept : c_(std::move(c)) {}
    std::unique_ptr<conn_type> c_;
};

namespace detail {
struct session_access {
    template <class P, class S, class Conn>
    static session<P, S> make(std::unique_ptr<Conn> c)
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

/// \file smtp/protocol/algorithms/auth.hpp
///
/// AUTH (RFC 4954) driven by a SASL mechanism (smtp/protocol/sasl.hpp): the
/// AUTH line with the initial response, each 334 challenge decoded, answered
/// by the mechanism and bounded (connect_options::max_auth_challenges), 235
/// accepted only when the mechanism is satisfied, an exchange given up with
/// "*" when the mechanism cannot go on. And auth_any: the first mechanism of
/// a list (the auth policy's order) that the server offers.
#ifndef SMTP_PROTOCOL_ALGORITHMS_AUTH_HPP
#define SMTP_PROTOCOL_ALGORITHMS_AUTH_HPP

#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/secret.hpp>
#include <smtp/version.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

SMTP_NAMESPACE_BEGIN
namespace sansio {

template <sasl::mechanism M>
class auth {
public:
    explicit auth(const sasl::credentials& creds) : mech_(creds) {}
    auth(auth&&) = default;
    auth& operator=(auth&&) = default;
    ~auth()
    {
        // What went out held the credentials (PLAIN's and XOAUTH2's in clear
        // before base64): no copy of them lingers in freed memory.
        detail::wipe_string(raw_);
        detail::wipe_string(decoded_);
    }

    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        next_action next;
        for (;;) {
            switch (step_) {
            case step::start:
                if (mech_.initial_response(raw_, st.ec))
                    initial_ = std::string_view(raw_);
                if (st.ec) // bad credentials: nothing is sent
                    return finish();
                if (!st.queue_command(cmd::auth{M::name, initial_}))
                    return finish();
                return write(st, challenges_ == 0 ? cmd::auth::name : cmd::auth_response::name, step::written);
            case step::written:
                detail::wipe_string(st.wbuf); // the AUTH line, in base64: gone from the write buffer too
                if (io_ec) {
                    st.fail(io_ec);
                    return finish();
                }
                read_ = {};
                step_ = step::reply;
                io_ec = {};
                [[fallthrough]];
            case step::reply:
                if (!sub_done(read_, st, io_ec, next))
                    return next;
                if (st.ec)
                    return finish();
                if (st.current.code() == 235) {
                    if (!mech_.complete())
                        st.fail_with_reply(errc::auth_incomplete);
                    return finish();
                }
                if (st.current.code() != 334) {
                    // Refused: errc::auth_refused, with the reply (its code says
                    // whether to try again later), but for 421, the server going
                    // away; or an unexpected code. When the mechanism failed on
                    // a challenge (SCRAM's server error: sasl_server_error), its
                    // error is the one reported, the reply kept; an OAuth error
                    // challenge leaves auth_refused (see oauth_base::server_error()).
                    const bool refused = st.current.code().is_failure() && st.current.code() != 421;
                    st.fail_with_reply(refused ? errc::auth_refused
                                               : outcome_error(classify<cmd::auth>(st.current.code())));
                    if (mech_ec_)
                        st.ec = mech_ec_;
                    return finish();
                }
                // A challenge: bounded, base64, then the mechanism's answer.
                decoded_.clear();
                raw_.clear();
                if (++challenges_ > st.options.max_auth_challenges)
                    mech_ec_ = errc::too_many_challenges;
                else {
                    base64::decode(st.current.front(), decoded_, mech_ec_);
                    if (!mech_ec_)
                        mech_.challenge(decoded_, raw_, mech_ec_);
                }
                if (mech_ec_ && raw_.empty() && mech_ec_ != errc::sasl_server_error) {
                    // Give up the exchange ("*", RFC 4954 4) and report why.
                    st.queue_command(cmd::auth_cancel{});
                    return write(st, cmd::auth_cancel::name, step::cancel_written);
                }
                st.queue_command(cmd::auth_response{raw_});
                return write(st, cmd::auth_response::name, step::written);
            case step::cancel_written:
                if (io_ec) {
                    st.fail(io_ec);
                    return finish();
                }
                read_ = {};
                step_ = step::cancel_reply;
                io_ec = {};
                [[fallthrough]];
            case step::cancel_reply:
                if (!sub_done(read_, st, io_ec, next))
                    return next;
                if (!st.ec) {
                    st.diag.set_reply(reply(st.current));
                    st.ec = mech_ec_;
                }
                return finish();
            case step::done: return next_action::done;
            }
        }
    }

private:
    enum class step { start, written, reply, cancel_written, cancel_reply, done };

    template <class State>
    next_action write(State& st, std::string_view awaited, step then)
    {
        st.start_phase(phase::command, awaited);
        step_ = then;
        return next_action::write;
    }
    next_action finish() noexcept
    {
        step_ = step::done;
        return next_action::done;
    }

    M mech_;
    step step_ = step::start;
    unsigned challenges_ = 0;
    std::string raw_{};
    std::string decoded_{};
    std::optional<std::string_view> initial_{};
    error_code mech_ec_{};
    read_reply read_{};
};

/// Picks the first of M... that the server offers (errc::no_common_mechanism
/// when none is, before any byte), then runs it. It owns a copy of the
/// credentials (an asynchronous login outlives the caller's strings; LOGIN
/// and CRAM-MD5 read them only when a challenge comes); the mechanism views
/// that copy, made once the algorithm is in place (at its first resume).
template <sasl::mechanism... M>
class auth_any {
public:
    explicit auth_any(const sasl::credentials& creds)
        : username_(creds.username), secret_(creds.secret), authzid_(creds.authzid)
    {}
    auth_any(auth_any&&) = default;
    auth_any& operator=(auth_any&&) = default;
    ~auth_any() = default; // secret_ is wiped by its own destructor

    /// Whether the mechanism it picks from what the server offers (`caps`,
    /// the EHLO record) takes a bearer token (sasl::takes_bearer_token).
    template <class Caps>
    static bool picks_bearer_token(const Caps& caps)
    {
        const auto& offered = caps.template get<ext::auth>();
        bool found = false, token = false;
        auto pick = [&]<class Mech>(std::type_identity<Mech>) {
            if (!found && offered && offered->contains(Mech::name)) {
                found = true;
                token = sasl::takes_bearer_token<Mech>;
            }
        };
        (pick(std::type_identity<M>{}), ...);
        return token;
    }

    template <class State>
    next_action resume(State& st, error_code io_ec)
    {
        if (chosen_.index() == 0) {
            const auto& offered = st.caps.template get<ext::auth>();
            bool found = false;
            auto pick = [&]<class Mech>(std::type_identity<Mech>) {
                if (!found && offered && offered->contains(Mech::name)) {
                    chosen_.template emplace<auth<Mech>>(sasl::credentials{username_, secret_.view(), authzid_});
                    found = true;
                }
            };
            (pick(std::type_identity<M>{}), ...);
            if (!found) {
                st.fail(errc::no_common_mechanism);
                return next_action::done;
            }
        }
        return std::visit(
            [&](auto& a) -> next_action {
                if constexpr (std::is_same_v<std::decay_t<decltype(a)>, std::monostate>)
                    return next_action::done;
                else
                    return a.resume(st, io_ec);
            },
            chosen_);
    }

private:
    std::string username_;
    secret secret_;
    std::string authzid_;
    std::variant<std::monostate, auth<M>...> chosen_{};
};

/// Whether the AUTH that just ended (with `ec`, on the state `st`) refused
/// the credentials: the server's 5yz (auth_refused, whether an OAuth error
/// challenge came before it or not; sasl_server_error when SCRAM's
/// server-final said e=), on a connection that still works. A 4yz (454:
/// try later) is not a refusal of the credentials.
template <class State>
bool credentials_refused(const State& st, error_code ec)
{
    if (st.broken || !(ec == errc::sasl_server_error || ec == errc::auth_refused))
        return false;
    const auto& r = st.diag.server_reply();
    return r && r->code().is_permanent();
}

/// credentials_refused, and the mechanism `Auth` (auth_any<M...>) picked
/// takes a bearer token: a new token may be tried once (smtp/credentials.hpp).
template <class Auth, class State>
bool token_refused(const State& st, error_code ec)
{
    return credentials_refused(st, ec) && Auth::picks_bearer_token(st.caps);
}

} // namespace sansio
SMTP_NAMESPACE_END

#endif

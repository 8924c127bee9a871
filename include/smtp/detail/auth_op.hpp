// smtp/detail/auth_op.hpp
//
// AUTH (RFC 4954) driven by a SASL mechanism, and the choice of mechanism
// from the server's list in the policy's order.
#ifndef SMTP_DETAIL_AUTH_OP_HPP
#define SMTP_DETAIL_AUTH_OP_HPP

#include <smtp/detail/connection.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/version.hpp>

#include <variant>

SMTP_NAMESPACE_BEGIN
namespace detail {

template <class Conn, sasl::mechanism M>
struct auth_op : boost::asio::coroutine {
    M mech;
    unsigned challenges = 0;
    std::string raw{};
    std::string decoded{};
    std::optional<std::string_view> initial{};
    error_code mech_ec{};

    explicit auth_op(const sasl::credentials& creds) : mech(creds) {}

    io resume(Conn& c, error_code io_ec)
    {
        BOOST_ASIO_CORO_REENTER(*this)
        {
            if (mech.initial_response(raw, c.ec))
                initial = std::string_view(raw);
            if (c.ec) // bad credentials: nothing is sent
                return io::done;
            if (!c.queue_command(cmd::auth{M::name, initial}))
                return io::done;
            for (;;) {
                c.start_phase(phase::command, challenges == 0 ? cmd::auth::name : cmd::auth_response::name);
                BOOST_ASIO_CORO_YIELD return io::write;
                if (io_ec)
                    return c.fail(io_ec), io::done;
                SMTP_DETAIL_READ_REPLY(c, io_ec);
                if (c.ec)
                    return io::done;
                if (c.current.code() == 235) {
                    if (!mech.complete())
                        c.fail_with_reply(errc::auth_incomplete);
                    return io::done;
                }
                if (c.current.code() != 334) {
                    // Refused: errc::auth_refused, with the reply (its code says
                    // whether to try again later), but for 421, the server going
                    // away; or an unexpected code. After an error challenge the
                    // mechanism knows better why (sasl_server_error); the reply is kept.
                    const bool refused = c.current.code().is_failure() && c.current.code() != 421;
                    c.fail_with_reply(refused ? errc::auth_refused
                                              : outcome_error(classify<cmd::auth>(c.current.code())));
                    if (mech_ec)
                        c.ec = mech_ec;
                    return io::done;
                }
                // A challenge: bounded, base64, then the mechanism's answer.
                decoded.clear();
                raw.clear();
                if (++challenges > c.options.max_auth_challenges)
                    mech_ec = errc::too_many_challenges;
                else {
                    base64::decode(c.current.front(), decoded, mech_ec);
                    if (!mech_ec)
                        mech.challenge(decoded, raw, mech_ec);
                }
                if (mech_ec && raw.empty() && mech_ec != errc::sasl_server_error) {
                    // Give up the exchange ("*", RFC 4954 4) and report why.
                    c.queue_command(cmd::auth_cancel{});
                    c.start_phase(phase::command, cmd::auth_cancel::name);
                    BOOST_ASIO_CORO_YIELD return io::write;
                    if (io_ec)
                        return c.fail(io_ec), io::done;
                    SMTP_DETAIL_READ_REPLY(c, io_ec);
                    if (!c.ec) {
                        c.diag.set_reply(reply(c.current));
                        c.ec = mech_ec;
                    }
                    return io::done;
                }
                c.queue_command(cmd::auth_response{raw});
            }
        }
        return io::done;
    }
};

/// Picks the first of M... that the server offers, then runs it.
template <class Conn, sasl::mechanism... M>
struct auth_any_op {
    sasl::credentials creds;
    std::variant<std::monostate, auth_op<Conn, M>...> chosen{};

    io resume(Conn& c, error_code io_ec)
    {
        if (chosen.index() == 0) {
            const auto& offered = c.caps.template get<ext::auth>();
            bool found = false;
            auto pick = [&]<class Mech>(std::type_identity<Mech>) {
                if (!found && offered && offered->contains(Mech::name)) {
                    chosen.template emplace<auth_op<Conn, Mech>>(creds);
                    found = true;
                }
            };
            (pick(std::type_identity<M>{}), ...);
            if (!found) {
                c.fail(errc::no_common_mechanism);
                return io::done;
            }
        }
        return std::visit(
            [&](auto& op) -> io {
                if constexpr (std::is_same_v<std::decay_t<decltype(op)>, std::monostate>)
                    return io::done;
                else
                    return op.resume(c, io_ec);
            },
            chosen);
    }
};

} // namespace detail
SMTP_NAMESPACE_END

#endif

// smtp/detail/provided_auth.hpp
//
// AUTH with credentials from a provider (smtp/credentials.hpp), on a
// connection that is greeted: ask the provider, run the AUTH algorithm with
// what it gave, and when the server refused a bearer token, tell the
// provider, ask again and run AUTH once more on the same connection (RFC
// 4954: a failed AUTH may be followed by another). Never a third AUTH.
// Used by the session's login(provider) (both forms) and by the pool.
// No Asio header: the asynchronous form reaches the driver through the
// declarations of smtp/detail/connection_fwd.hpp.
#ifndef SMTP_DETAIL_PROVIDED_AUTH_HPP
#define SMTP_DETAIL_PROVIDED_AUTH_HPP

#include <smtp/credentials.hpp>
#include <smtp/detail/connection_fwd.hpp>
#include <smtp/protocol/algorithms/auth.hpp>
#include <smtp/version.hpp>

#include <utility>

SMTP_NAMESPACE_BEGIN
namespace detail {

/// The synchronous form: `p` a sync_credential_provider. Returns the AUTH's
/// error (the provider's own when it could not give credentials: then no
/// AUTH went out); the connection's state holds the diagnostics.
template <class Auth, class Conn, class Provider>
error_code auth_with(Conn& c, Provider& p)
{
    error_code ec;
    for (int attempt = 0; attempt < 2; ++attempt) {
        error_code pec;
        auth::credentials cr = p.get(pec);
        if (pec) {
            state_of(c).ec = pec;
            state_of(c).diag.clear();
            state_of(c).diag.set_detail_text("the credential provider gave no credentials");
            return pec;
        }
        ec = run(c, Auth(cr.view()));
        if (!ec || !sansio::credentials_refused(state_of(c), ec))
            return ec;
        p.refused(cr, *state_of(c).diag.server_reply());
        if (!sansio::token_refused<Auth>(state_of(c), ec))
            return ec; // a refused password: asking again would not help
    }
    return ec;
}

template <class Auth, class Conn, class Provider, class Handler, class Then>
void async_auth_with(Conn& c, Provider& p, Handler h, Then then, bool second = false);

/// What an AUTH run of async_auth_with does when it ends: a refused token
/// the first time, the provider told and asked again; else `then`.
template <class Auth, class Conn, class Provider, class Then>
struct after_provided_auth {
    Conn* c;
    Provider* p;
    Then then;
    auth::credentials cr;
    bool second;

    template <class H>
    void operator()(H&& h, error_code ec)
    {
        auto& st = state_of(*c);
        if (ec && sansio::credentials_refused(st, ec)) {
            p->refused(cr, *st.diag.server_reply());
            if (!second && sansio::token_refused<Auth>(st, ec))
                return async_auth_with<Auth>(*c, *p, std::forward<H>(h), std::move(then), true);
        }
        std::move(then)(std::forward<H>(h), ec);
    }
};

/// The asynchronous form: `p` either form of provider (the asynchronous one
/// when it has both); when done, `then(std::move(h), ec)` as async_run_for
/// does. Each AUTH run takes `h`'s executor, allocator and cancellation slot;
/// the provider's answer is taken on `h`'s executor (else the transport's).
template <class Auth, class Conn, class Provider, class Handler, class Then>
void async_auth_with(Conn& c, Provider& p, Handler h, Then then, bool second)
{
    auth::get_credentials(p, [c = &c, p = &p, h = std::move(h), then = std::move(then),
                              second](error_code ec, auth::credentials cr) mutable {
        post_to_handler(*c, std::move(h),
                        [c, p, then = std::move(then), second, ec, cr = std::move(cr)](auto handler) mutable {
                            if (ec) { // no credentials: no AUTH
                                state_of(*c).ec = ec;
                                state_of(*c).diag.clear();
                                state_of(*c).diag.set_detail_text("the credential provider gave no credentials");
                                return std::move(then)(std::move(handler), ec);
                            }
                            Auth algo(cr.view()); // copies them
                            async_run_for(*c, std::move(algo), std::move(handler),
                                          after_provided_auth<Auth, Conn, Provider, Then>{c, p, std::move(then),
                                                                                          std::move(cr), second});
                        });
    });
}

} // namespace detail
SMTP_NAMESPACE_END

#endif

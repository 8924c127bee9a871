/// \file smtp/credentials.hpp
///
/// Credentials that change: a provider the session asks at every AUTH, so
/// that a long-lived program (a pool above all) gets a fresh OAuth 2 token
/// for each new connection, and is told when the server refused one.
///
/// ```
///   struct my_tokens {                                   // the synchronous form
///       smtp::auth::credentials get(smtp::error_code& ec);
///       void refused(const smtp::auth::credentials& c, const smtp::reply& r);
///   };
///   struct my_refresher {                                // the asynchronous form
///       void async_get(smtp::auth::credentials_handler h);   // h(ec, credentials), once
///       void refused(const smtp::auth::credentials& c, const smtp::reply& r);
///   };
///   auto a = std::move(s).login(tokens);                 // sync form only
///   std::move(s).async_login(refresher, handler);        // either form
///   pool_opts.credentials = smtp::auth::any_credential_provider(my_refresher{...});
/// ```
///
/// When a bearer-token mechanism (XOAUTH2, OAUTHBEARER: sasl::takes_bearer_token)
/// is refused with a 5yz, after the server's error challenge or without one,
/// the provider's refused() is called with the credentials and the reply, it
/// is asked again, and AUTH is tried once more on the same connection (RFC
/// 4954 lets a client try again after a failed AUTH). A second refusal is
/// the error, with the server's reply; there is never a third AUTH. Other
/// mechanisms are not retried (a password the server refused does not get
/// better by asking again): refused() is called, and the refusal is the error.
/// A 4yz (454: try later) is not a refused token, and is not retried either.
///
/// Static credentials (login(user, password), pool_options::login) stay as
/// they were: nothing is called, nothing is type-erased.
#ifndef SMTP_CREDENTIALS_HPP
#define SMTP_CREDENTIALS_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/secret.hpp>
#include <smtp/version.hpp>

#include <concepts>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

SMTP_NAMESPACE_BEGIN
namespace auth {

/// What a provider hands over: owned strings, the secret (password or
/// OAuth 2 access token) wiped when dropped.
struct credentials {
    std::string username{};   ///< the authentication identity
    smtp::secret secret{};    ///< the password, or the bearer token (XOAUTH2, OAUTHBEARER)
    std::string authzid{};    ///< the authorization identity; empty: the same as username

    /// A view for a SASL mechanism, valid while this object is unchanged.
    sasl::credentials view() const noexcept { return {username, secret.view(), authzid}; }
};

/// The completion handler an asynchronous provider's async_get is given:
/// call it once, with an error (the AUTH then fails with it, before any
/// byte of AUTH is sent) or with the credentials. It may be called from
/// inside async_get or later, from any thread: the session goes on on its
/// own executor. A cancellation of the login reaches its AUTH commands, not
/// the provider's own work (cancel that yourself).
class credentials_handler {
public:
    credentials_handler() = default;
    template <class F>
        requires(!std::same_as<std::decay_t<F>, credentials_handler> && std::invocable<F&, error_code, credentials>)
    explicit credentials_handler(F f) : p_(std::make_unique<impl<F>>(std::move(f)))
    {}
    credentials_handler(credentials_handler&&) noexcept = default;
    credentials_handler& operator=(credentials_handler&&) noexcept = default;

    /// Calls it (once: afterwards it is empty).
    void operator()(error_code ec, credentials c)
    {
        if (p_)
            std::exchange(p_, nullptr)->call(ec, std::move(c));
    }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    struct base {
        virtual ~base() = default;
        virtual void call(error_code, credentials) = 0;
    };
    template <class F>
    struct impl final : base {
        F f;
        explicit impl(F x) : f(std::move(x)) {}
        void call(error_code ec, credentials c) override { f(ec, std::move(c)); }
    };
    std::unique_ptr<base> p_;
};

/// The synchronous form: `get(ec)` returns the credentials to use now (or
/// sets `ec`: the AUTH fails with it, nothing sent), and `refused(c, r)`
/// hears that the server refused `c` with the reply `r` (drop a cached token).
template <class P>
concept sync_credential_provider = requires(P& p, error_code& ec, const credentials& c, const reply& r) {
    { p.get(ec) } -> std::same_as<credentials>;
    p.refused(c, r);
};

/// The asynchronous form, for a token refreshed over the network:
/// `async_get(h)` calls `h(ec, credentials)` once, now or later
/// (credentials_handler), and `refused(c, r)` as for the synchronous form.
template <class P>
concept async_credential_provider = requires(P& p, credentials_handler h, const credentials& c, const reply& r) {
    p.async_get(std::move(h));
    p.refused(c, r);
};

/// Either form. A type with both is used synchronously by the synchronous
/// login(), asynchronously everywhere else.
template <class P>
concept credential_provider = sync_credential_provider<P> || async_credential_provider<P>;

/// Asks `p` for credentials, and calls `h(ec, credentials)`: through its
/// asynchronous form when it has one, else its synchronous one.
template <credential_provider P, class H>
void get_credentials(P& p, H&& h)
{
    if constexpr (async_credential_provider<P>) {
        p.async_get(credentials_handler(std::forward<H>(h)));
    } else {
        error_code ec;
        credentials c = p.get(ec);
        std::forward<H>(h)(ec, std::move(c));
    }
}

/// Any provider, shared and type-erased: what pool_options::credentials
/// holds (the pool's options are not a template). Empty by default; copies
/// share the one provider. It is itself an asynchronous provider.
class any_credential_provider {
public:
    any_credential_provider() = default;
    /// Owns `p` (moved in).
    template <credential_provider P>
        requires(!std::same_as<std::decay_t<P>, any_credential_provider>)
    explicit any_credential_provider(P p) : p_(std::make_shared<impl<P>>(std::make_shared<P>(std::move(p))))
    {}
    /// Shares `p`: the caller can look at it too (count the calls, say).
    template <credential_provider P>
    explicit any_credential_provider(std::shared_ptr<P> p) : p_(std::make_shared<impl<P>>(std::move(p)))
    {}

    void async_get(credentials_handler h) { p_->async_get(std::move(h)); }
    void refused(const credentials& c, const reply& r) { p_->refused(c, r); }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    struct base {
        virtual ~base() = default;
        virtual void async_get(credentials_handler h) = 0;
        virtual void refused(const credentials& c, const reply& r) = 0;
    };
    template <class P>
    struct impl final : base {
        std::shared_ptr<P> p;
        explicit impl(std::shared_ptr<P> x) : p(std::move(x)) {}
        void async_get(credentials_handler h) override { get_credentials(*p, std::move(h)); }
        void refused(const credentials& c, const reply& r) override { p->refused(c, r); }
    };
    std::shared_ptr<base> p_;
};

static_assert(async_credential_provider<any_credential_provider>);

} // namespace auth
SMTP_NAMESPACE_END

#endif

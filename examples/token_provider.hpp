// A credential provider of one's own: an OAuth 2 access token kept until it
// is about to expire or the server refuses it, then refreshed by a function
// the program gives (an HTTP request to its token endpoint: the library has no
// HTTP client). tests/test_credentials.cpp runs it over sessions and a pool;
// docs/policies.md shows it.
#ifndef SMTP_EXAMPLES_TOKEN_PROVIDER_HPP
#define SMTP_EXAMPLES_TOKEN_PROVIDER_HPP

#include <smtp/credentials.hpp>
#include <smtp/pool.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

//! [provider]
/// Asked at every AUTH (smtp::auth::sync_credential_provider): the cached
/// token while it has more than a minute left, else a fresh one from `refresh`.
class cached_token {
public:
    struct token {
        std::string access_token;
        std::chrono::seconds expires_in; ///< as the token endpoint says
    };
    using refresh_function = std::function<token(smtp::error_code&)>;

    cached_token(std::string user, refresh_function refresh) : user_(std::move(user)), refresh_(std::move(refresh)) {}

    smtp::auth::credentials get(smtp::error_code& ec)
    {
        ec = {};
        const auto now = std::chrono::steady_clock::now();
        if (token_.empty() || now + std::chrono::minutes(1) >= expires_) {
            token t = refresh_(ec);
            if (ec)
                return {}; // the AUTH fails with ec; nothing is sent
            token_ = std::move(t.access_token); // a std::string&& into a secret: copied, then wiped
            expires_ = now + t.expires_in;
        }
        return {user_, token_, ""};
    }

    /// The server refused it (revoked, expired early): the next get() refreshes.
    void refused(const smtp::auth::credentials&, const smtp::reply&) { token_.clear(); }

private:
    std::string user_;
    refresh_function refresh_;
    smtp::secret token_;
    std::chrono::steady_clock::time_point expires_{};
};
static_assert(smtp::auth::sync_credential_provider<cached_token>);
//! [provider]

//! [pool]
/// A pool's options under which every new session asks `tokens` at its AUTH
/// (shared: the program can still look at it).
inline smtp::pool_options with_tokens(std::shared_ptr<cached_token> tokens)
{
    smtp::pool_options po;
    po.credentials = smtp::auth::any_credential_provider(std::move(tokens));
    return po;
}
//! [pool]

#endif

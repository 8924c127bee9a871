/// \file smtp/mta_sts.hpp
///
/// The MTA-STS policy fetch (RFC 8461 3.3) and discovery over the cache:
/// ```
///   mta_sts::policy p = mta_sts::fetch_policy("example.com", options, ec);       // blocking
///   mta_sts::async_fetch_policy(ex, "example.com", options, token);               // void(error_code, policy)
///   mta_sts::discovery d = mta_sts::discover(cache, "example.com", txt, {}, options); // cache + TXT + fetch
///   auto hosts = mta_sts::decide(d.in_force(), mx_hosts);                         // per MX host
/// ```
/// The fetch is GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt over the
/// library's own TLS layer (transport::tls_layer over transport::tcp), so the
/// certificate is checked as an SMTP connection's is: the chain against the
/// system store or fetch_options::tls.ca_file, the name mta-sts.DOMAIN
/// against subjectAltName, SNI that name. The response is read by
/// mta_sts::response_reader (smtp/protocol/mta_sts.hpp): 200 only, no
/// redirect followed, text/plain, at most max_body bytes, all within
/// fetch_options::timeout.
#ifndef SMTP_MTA_STS_HPP
#define SMTP_MTA_STS_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/cancellation.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/diagnostics.hpp>
#include <smtp/protocol/mta_sts.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/transport/tls_layer.hpp>
#include <smtp/version.hpp>

#include <boost/asio/async_result.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#endif
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace mta_sts {

/// How the policy is fetched.
struct fetch_options {
    /// TLS settings of the fetch: ca_file (empty: the system's trust store),
    /// a client certificate, pins, ... as for an SMTP connection. The
    /// certificate is always verified for mta-sts.DOMAIN.
    tls_options tls{};
    /// The HTTPS port of the policy host.
    std::uint16_t port = 443;
    /// Connect to this IP address instead of resolving mta-sts.DOMAIN
    /// (tests; a policy host known by address). SNI and the certificate check
    /// still use the name mta-sts.DOMAIN. Empty: resolve the name.
    std::string address{};
    /// A resolver of one's own for mta-sts.DOMAIN (used when address is
    /// empty); empty: the system's (getaddrinfo).
    transport::tcp::resolve_function resolve{};
    /// The whole fetch, from the name lookup to the last byte of the body.
    std::chrono::milliseconds timeout = std::chrono::minutes(1);
    /// The longest body accepted (errc::http_body_too_large beyond).
    std::size_t max_body = 64 * 1024;
};

namespace detail {

/// One fetch: the connection, its timer and the response, shared by the
/// handlers of its steps; completes once.
template <class Handler>
struct fetch_op : std::enable_shared_from_this<fetch_op<Handler>> {
    using executor_type = boost::asio::any_io_executor;
    using layer_type = transport::tls_layer<transport::tcp>;
    using work_executor = boost::asio::associated_executor_t<Handler, executor_type>;

    Handler handler;
    boost::asio::executor_work_guard<work_executor> work;
    connect_options options; // outlives the connect and the handshake, which keep a reference
    layer_type layer;
    boost::asio::steady_timer timer;
    response_reader reader;
    std::string request;
    std::array<char, 4096> buf{};
    bool timed_out = false, cancelled = false, done = false;
    diagnostics* diag;
    std::chrono::milliseconds timeout{};
    std::size_t max_body;

    fetch_op(Handler h, executor_type ex, connect_options o, transport::tcp::resolve_function resolve,
             std::size_t max, diagnostics* d)
        : handler(std::move(h)), work(boost::asio::get_associated_executor(handler, ex)), options(std::move(o)),
          layer(transport::tcp(ex, std::move(resolve))), timer(ex), reader(max), diag(d), max_body(max)
    {}

    /// What happened, in words, for diagnostics::detail_text().
    std::string describe(error_code ec) const
    {
        std::string url = "https://" + options.host;
        if (options.port != 443)
            url += ":" + std::to_string(options.port);
        url += "/.well-known/mta-sts.txt";
        const std::string status = "HTTP " + std::to_string(reader.status());
        if (ec == errc::http_redirect)
            return url + ": " + status + " to " + (reader.location().empty() ? "(no Location)" : reader.location()) +
                   ", not followed";
        if (ec == errc::http_status)
            return url + ": " + status;
        if (ec == errc::http_content_type)
            return url + ": Content-Type " +
                   (reader.content_type().empty() ? "missing" : "'" + reader.content_type() + "'");
        if (ec == errc::http_body_too_large)
            return url + ": the body is longer than " + std::to_string(max_body) + " bytes";
        if (ec == errc::fetch_timeout)
            return url + ": no complete answer within " + std::to_string(timeout.count()) + " ms";
        if (ec.category() == error_category() && ec.value() >= static_cast<int>(errc::policy_syntax) &&
            ec.value() <= static_cast<int>(errc::policy_mx_invalid))
            return "the policy at " + url + ": " + ec.message();
        if (ec.category() == x509_category())
            return url + ": the certificate of " + options.host + ": " + ec.message();
        return url + ": " + ec.message();
    }

    void start(std::chrono::milliseconds t)
    {
        timeout = t;
        request = policy_request(options.host, options.port);
        timer.expires_after(timeout);
        timer.async_wait([self = this->shared_from_this()](error_code ec) {
            if (ec || self->done)
                return;
            self->timed_out = true;
            self->layer.cancel();
            self->layer.close();
        });
#if SMTP_HAS_CANCELLATION
        // Any type of cancellation ends the fetch (nothing of it is left
        // half-done): on the fetch's strand, as the timer does.
        if (auto slot = boost::asio::get_associated_cancellation_slot(handler); slot.is_connected())
            slot.assign([w = this->weak_from_this(), ex = timer.get_executor()](boost::asio::cancellation_type) {
                boost::asio::dispatch(ex, [w] {
                    auto self = w.lock();
                    if (!self || self->done)
                        return;
                    self->cancelled = true;
                    self->layer.cancel();
                    self->layer.close();
                });
            });
#endif
        layer.async_connect(options, [self = this->shared_from_this()](error_code ec) { self->connected(ec); });
    }

    void connected(error_code ec)
    {
        if (ec)
            return finish(ec);
        layer.async_handshake(options, true, [self = this->shared_from_this()](error_code e) { self->handshaken(e); });
    }

    void handshaken(error_code ec)
    {
        if (ec)
            return finish(ec);
        layer.async_write(boost::asio::buffer(request),
                          [self = this->shared_from_this()](error_code e, std::size_t) { self->written(e); });
    }

    void written(error_code ec)
    {
        if (ec)
            return finish(ec);
        read();
    }

    void read()
    {
        layer.async_read_some(boost::asio::buffer(buf),
                              [self = this->shared_from_this()](error_code e, std::size_t n) { self->got(e, n); });
    }

    void got(error_code ec, std::size_t n)
    {
        if (timed_out || cancelled)
            return finish(ec);
        response_reader::state s = reader.put(std::string_view(buf.data(), n));
        if (s == response_reader::state::need_more && ec) {
            // The end of a body delimited by the close is the server's TLS
            // close_notify (eof); a connection cut without one may be a
            // policy cut short by someone in the middle, and fails.
            if (ec != boost::asio::error::eof)
                return finish(ec);
            s = reader.finish();
        }
        if (s == response_reader::state::need_more)
            return read();
        if (s == response_reader::state::failed)
            return finish(reader.error());
        error_code pec;
        std::optional<policy> p = parse_policy(reader.body(), pec);
        finish(pec, p ? std::move(*p) : policy{});
    }

    void finish(error_code ec, policy p = {})
    {
        if (done)
            return;
        done = true;
        if (timed_out)
            ec = make_error_code(errc::fetch_timeout);
        else if (cancelled)
            ec = boost::asio::error::operation_aborted;
        timer.cancel();
        layer.close();
#if SMTP_HAS_CANCELLATION
        if (auto slot = boost::asio::get_associated_cancellation_slot(handler); slot.is_connected())
            slot.clear();
#endif
        if (diag) {
            diag->clear();
            if (ec)
                diag->set_detail_text(describe(ec));
        }
        auto ex = work.get_executor();
        work.reset();
        boost::asio::dispatch(ex, [h = std::move(handler), ec, p = std::move(p)]() mutable { std::move(h)(ec, std::move(p)); });
    }
};

/// The connect options of a fetch, or errc::domain_invalid / a bad address.
inline connect_options fetch_connect_options(std::string_view domain, const fetch_options& o,
                                             transport::tcp::resolve_function& resolve, error_code& ec)
{
    connect_options c;
    c.host = policy_host(domain);
    if (c.host.empty()) {
        ec = make_error_code(errc::domain_invalid);
        return c;
    }
    c.port = o.port;
    c.tls = o.tls;
    c.timeouts.connect = o.timeout;
    resolve = o.resolve;
    if (!o.address.empty()) {
        const auto addr = boost::asio::ip::make_address(o.address, ec);
        if (ec)
            return c;
        resolve = transport::tcp::resolve_to(addr);
    }
    return c;
}

template <class CompletionToken>
auto initiate_fetch(boost::asio::any_io_executor ex, std::string_view domain, const fetch_options& o, diagnostics* d,
                    CompletionToken&& token)
{
    return boost::asio::async_initiate<CompletionToken, void(error_code, policy)>(
        [ex, d](auto handler, std::string dom, fetch_options opts) {
            error_code ec;
            transport::tcp::resolve_function resolve;
            connect_options c = fetch_connect_options(dom, opts, resolve, ec);
            if (d)
                d->clear();
            if (ec) {
                if (d)
                    d->set_detail_text("MTA-STS policy domain '" + dom + "': " + ec.message());
                auto hex = boost::asio::get_associated_executor(handler, ex);
                boost::asio::post(hex, [h = std::move(handler), ec]() mutable { std::move(h)(ec, policy{}); });
                return;
            }
            using op = fetch_op<decltype(handler)>;
            // A strand of its own: the timer's handler and the connection's
            // never run at once, even on an io_context run by several threads.
            auto self = std::make_shared<op>(std::move(handler), boost::asio::make_strand(ex), std::move(c),
                                             std::move(resolve), opts.max_body, d);
            self->start(opts.timeout);
        },
        token, std::string(domain), o);
}

} // namespace detail

/// Fetches and parses the policy of `domain` (RFC 8461 3.3). Completion:
/// void(error_code, mta_sts::policy); the error is an mta_sts::errc (the
/// HTTP checks, the policy's syntax, errc::domain_invalid before any I/O,
/// errc::fetch_timeout), an x509_category() code for a certificate that
/// fails (wrong name, unknown issuer, expired), or the network's.
/// diag, which must outlive the operation, gets what happened in words
/// (diagnostics::detail_text(): the URL and the status, the Location of a
/// redirect, the media type, the certificate's failure, ...).
/// With SMTP_HAS_CANCELLATION, the cancellation slot bound to the handler
/// ends the fetch (any type) with asio::error::operation_aborted.
template <class CompletionToken>
auto async_fetch_policy(boost::asio::any_io_executor ex, std::string_view domain, const fetch_options& o,
                        diagnostics& diag, CompletionToken&& token)
{
    return detail::initiate_fetch(std::move(ex), domain, o, &diag, std::forward<CompletionToken>(token));
}

/// The same without diagnostics.
template <class CompletionToken>
auto async_fetch_policy(boost::asio::any_io_executor ex, std::string_view domain, const fetch_options& o,
                        CompletionToken&& token)
{
    return detail::initiate_fetch(std::move(ex), domain, o, nullptr, std::forward<CompletionToken>(token));
}

/// The blocking fetch, on an io_context of its own; diag gets what happened
/// in words.
inline policy fetch_policy(std::string_view domain, const fetch_options& o, error_code& ec, diagnostics& diag)
{
    boost::asio::io_context ctx;
    policy out;
    ec = {};
    async_fetch_policy(ctx.get_executor(), domain, o, diag, [&](error_code e, policy p) {
        ec = e;
        out = std::move(p);
    });
    ctx.run();
    return out;
}

inline policy fetch_policy(std::string_view domain, const fetch_options& o, error_code& ec)
{
    diagnostics diag;
    return fetch_policy(domain, o, ec, diag);
}

/// The blocking fetch; throws smtp::system_error, whose message says what
/// happened (the URL, the status, the certificate's failure).
inline policy fetch_policy(std::string_view domain, const fetch_options& o = {})
{
    error_code ec;
    diagnostics diag;
    policy p = fetch_policy(domain, o, ec, diag);
    if (ec)
        throw system_error(ec, "MTA-STS policy fetch for " + std::string(domain) + ": " + diag.detail_text());
    return p;
}

/// What discovery found for a domain.
struct discovery {
    enum class source {
        none,       ///< no policy: no usable TXT record, or the fetch failed with nothing cached
        cache,      ///< the cached policy (same id, or the TXT lookup failed)
        fetched,    ///< fetched now (and cached)
        cache_kept, ///< the fetch failed; the unexpired cached policy stays in force
    };
    source from = source::none;
    std::optional<mta_sts::policy> policy{}; ///< the policy in force, if any
    error_code txt_error{};                  ///< why the TXT records gave no id, if they did not
    error_code fetch_error{};                ///< why the fetch failed, if it did
    std::string fetch_detail{};              ///< the fetch's failure in words (diagnostics::detail_text())

    /// The policy in force, for decide(): nullptr when none.
    const mta_sts::policy* in_force() const noexcept { return policy ? &*policy : nullptr; }
};

namespace detail {
inline discovery from_cache(const policy_cache& cache, std::string_view domain, discovery::source s, error_code txt_ec)
{
    discovery d;
    d.txt_error = txt_ec;
    if (const cached_policy* c = cache.find(domain)) {
        d.from = s;
        d.policy = c->policy;
    }
    return d;
}
} // namespace detail

/// Discovery for `domain` (RFC 8461 3.3, 5.1): the TXT strings found at
/// `_mta-sts.DOMAIN` (lookup_error: the lookup failed), the cache, and a
/// fetch when the cache has no unexpired policy under the record's id.
/// Completion: void(discovery). The cache must outlive the operation. The
/// cancellation slot bound to the handler reaches the fetch
/// (SMTP_HAS_CANCELLATION): a cancelled one is fetch_error operation_aborted.
template <class CompletionToken>
auto async_discover(boost::asio::any_io_executor ex, policy_cache& cache, std::string_view domain,
                    std::span<const std::string> txt_records, error_code lookup_error, const fetch_options& o,
                    CompletionToken&& token)
{
    const discovery_step step = cache.begin(domain, txt_records, lookup_error);
    return boost::asio::async_initiate<CompletionToken, void(discovery)>(
        [ex, &cache, step](auto handler, std::string dom, fetch_options opts) {
            auto hex = boost::asio::get_associated_executor(handler, ex);
            if (step.next != discovery_step::action::fetch) {
                discovery d = detail::from_cache(cache, dom, discovery::source::cache, step.txt_error);
                boost::asio::post(hex, [h = std::move(handler), d = std::move(d)]() mutable { std::move(h)(std::move(d)); });
                return;
            }
            auto diag = std::make_shared<diagnostics>(); // the handler keeps it until the fetch completes
            diagnostics& diag_ref = *diag;
#if SMTP_HAS_CANCELLATION
            // The caller's cancellation slot reaches the fetch (fetch_error: operation_aborted).
            auto slot = boost::asio::get_associated_cancellation_slot(handler);
            auto bind_slot = [slot](auto&& f) { return boost::asio::bind_cancellation_slot(slot, std::move(f)); };
#else
            auto bind_slot = [](auto&& f) { return std::move(f); };
#endif
            async_fetch_policy(ex, dom, opts, diag_ref,
                               bind_slot(boost::asio::bind_executor(hex, [h = std::move(handler), &cache, dom, id = step.id, diag](
                                                                   error_code ec, policy p) mutable {
                                   discovery d;
                                   if (ec) {
                                       d = detail::from_cache(cache, dom, discovery::source::cache_kept, {});
                                       d.fetch_error = ec;
                                       d.fetch_detail = diag->detail_text();
                                   } else {
                                       d.from = discovery::source::fetched;
                                       d.policy = cache.fetched(dom, std::move(id), std::move(p)).policy;
                                   }
                                   std::move(h)(std::move(d));
                               })));
        },
        token, std::string(domain), o);
}

/// The blocking discovery, on an io_context of its own.
inline discovery discover(policy_cache& cache, std::string_view domain, std::span<const std::string> txt_records,
                          error_code lookup_error, const fetch_options& o = {})
{
    boost::asio::io_context ctx;
    discovery out;
    async_discover(ctx.get_executor(), cache, domain, txt_records, lookup_error, o,
                   [&](discovery d) { out = std::move(d); });
    ctx.run();
    return out;
}

} // namespace mta_sts

SMTP_NAMESPACE_END

#endif

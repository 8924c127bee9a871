/// \file smtp/pool.hpp
///
/// An asynchronous pool of sessions to one server: messages are queued and
/// sent concurrently over at most max_sessions sessions, each opened the way
/// the policies say (TLS, then AUTH when credentials are given) and reused for
/// at most max_messages_per_session messages.
///
/// ```
///   smtp::pool<smtp::policies<smtp::tls::implicit>> pool(io.get_executor(), options, pool_opts);
///   pool.async_send(std::move(message), [](smtp::error_code ec, smtp::transaction_result r) { ... });
///   io.run();
/// ```
///
/// Every message ends in exactly one transaction_result. What goes again
/// is decided by smtp::decide_retry (smtp/protocol/retry_policy.hpp,
/// pool_options::retry): a message whose session died before the server got
/// all of it (outcome not_sent), or that a 4yz refused, goes again after a
/// backoff, at most retry.max_attempts transactions in all and not after
/// retry.deadline; when only some recipients got a 4yz, only they go again;
/// one whose data went out and whose reply was lost (outcome unknown) is
/// never sent again. The result sums up every attempt (attempts, and each
/// recipient's last verdict).
///
/// Throttling: a reply that says slow down (421, 454, 4yz with 4.7.x and
/// the like: smtp::is_throttle_signal) cuts the number of sessions (AIMD:
/// halved, then one more after as many messages queued as sessions
/// allowed) and pauses new connections and transactions
/// (pool_options::throttle). pool_options::max_rate bounds the messages
/// per second (a token bucket). A session that sat idle longer than idle_check is checked with NOOP before
/// a transaction starts on it; one the server closed is replaced by a new
/// connection before the transaction, never in the middle of one. When a
/// session is free and several messages wait, it takes a few at once, so
/// with PIPELINING their commands and data share round trips. When a
/// connection cannot be set up while no session is working, the messages
/// waiting end with its error (outcome not_sent) instead of waiting on.
///
/// A message waiting for a session can be cancelled (Boost 1.77 or later,
/// SMTP_HAS_CANCELLATION): async_send honours the cancellation slot of its
/// completion handler while the message waits in the queue; it then
/// completes with asio::error::operation_aborted (outcome not_sent) and no
/// session ever sees it. Once a session has taken the message, it is sent
/// and completes with its own outcome: cancelling it would cut the session
/// and the other messages sharing its round trips.
///
/// The pool is not thread-safe: call it from its executor's thread (or give
/// it a strand).
#ifndef SMTP_POOL_HPP
#define SMTP_POOL_HPP

#include <smtp/cancellation.hpp>
#include <smtp/credentials.hpp>
#include <smtp/full.hpp> // client.hpp, and in separate mode the definitions an asynchronous pool needs
#include <smtp/protocol/retry_policy.hpp>
#include <smtp/tls_session_cache.hpp>
#include <smtp/version.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

SMTP_NAMESPACE_BEGIN

struct pool_options {
    std::size_t max_sessions = 4;
    std::size_t max_messages_per_session = 1000; ///< then QUIT, and a new session for what follows
    std::size_t max_batch = 16;                  ///< messages one session takes at once
    std::chrono::milliseconds idle_check = std::chrono::seconds(30); ///< NOOP before reusing a session idle this long
    /// Which messages go again, how often and when (smtp/protocol/retry_policy.hpp).
    retry_options retry{};
    /// Slowing down when the server says so (smtp::is_throttle_signal).
    throttle_options throttle{};
    double max_rate = 0;   ///< messages (transactions) per second, a token bucket; 0: no bound
    double rate_burst = 1; ///< tokens the bucket holds: messages that may start at once after a quiet time
    /// AUTH with these after the greeting (and STARTTLS); none: no AUTH.
    /// The password is an smtp::secret: wiped when the options go.
    std::optional<std::pair<std::string, secret>> login{};
    /// Instead of `login`: asked for credentials at every AUTH, so each new
    /// session gets a fresh OAuth 2 token; a refused token is reported to it
    /// and AUTH is tried once more with its next one (smtp/credentials.hpp).
    auth::any_credential_provider credentials{};
    /// Signs each message as it is queued (a dkim::signer, smtp/dkim.hpp): the
    /// fields it returns go in front of it. One it cannot sign (it throws)
    /// completes not_sent with errc::dkim_signing_failed.
    message_signer sign{};
};

/// What the pool saw, for tests and monitoring.
struct pool_stats {
    std::size_t sessions_opened = 0;
    std::size_t sessions_failed = 0;  ///< connections that could not be set up
    std::size_t sessions_dropped = 0; ///< sessions that died or failed their NOOP check
    std::size_t most_sessions_open = 0;
    std::size_t retried = 0;          ///< retries: transactions that sent a message (or some recipients) again
    std::size_t gave_up = 0;          ///< messages ended without being queued after more than one attempt
    std::size_t throttle_signals = 0; ///< replies that said slow down
    std::size_t throttled = 0;        ///< times the session limit was cut (one per pause)
    std::size_t rate_waits = 0;       ///< times a free session waited for the rate's next token
};

namespace detail {

/// A move-only completion handler, type-erased.
template <class... Args>
class any_handler {
public:
    any_handler() = default;
    template <class H>
    explicit any_handler(H h) : p_(std::make_unique<impl<H>>(std::move(h)))
    {}
    void operator()(Args... a) { std::exchange(p_, nullptr)->call(std::move(a)...); }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    struct base {
        virtual ~base() = default;
        virtual void call(Args...) = 0;
    };
    template <class H>
    struct impl final : base {
        H h;
        explicit impl(H x) : h(std::move(x)) {}
        void call(Args... a) override { std::move(h)(std::move(a)...); }
    };
    std::unique_ptr<base> p_;
};

} // namespace detail

template <class P = policies<>>
class pool {
    using conn_type = detail::connection_for<P>;
    static_assert(std::is_default_constructible_v<typename P::log>,
                  "smtp::pool: each session the pool opens default-constructs the log policy, and this one has no "
                  "default constructor");

public:
    using executor_type = boost::asio::any_io_executor;
    /// Makes each session's transport policy (P::named_transport: a stream
    /// such as transport::unix_socket, over which the session does TLS; or a
    /// session transport). Needed when it cannot be made from the executor alone.
    using transport_factory = std::function<typename P::named_transport(executor_type)>;

    pool(executor_type ex, connect_options options, pool_options po = {}, transport_factory make = {})
        : st_(std::make_shared<state>(ex, std::move(options), std::move(po), std::move(make)))
    {}
    pool(pool&&) noexcept = default;
    pool& operator=(pool&&) noexcept = default;
    /// Like any Asio I/O object's, the pool's destructor ends what it took:
    /// every message still waiting (for a session, or for its retry's time)
    /// completes with asio::error::operation_aborted (outcome not_sent, or
    /// its earlier attempts' result), and each session is closed without
    /// QUIT, so a transaction in flight completes with what its replies
    /// said (unknown when its data went and no reply came). Each handler
    /// runs once, from its executor. Call async_close first for a clean end.
    ~pool()
    {
        if (st_)
            shut_down(st_);
    }

    /// Queues a message (the pool owns it). Completion: void(error_code,
    /// transaction_result), once, with the message's outcome; the error
    /// code is the result's `error` (why it was not queued, clear when it was).
    /// A cancellation (of any type) through the handler's slot while the
    /// message waits for a session takes it out of the queue: it completes
    /// with asio::error::operation_aborted, never sent.
    template <class Token>
    auto async_send(outgoing_message m, Token&& token)
    {
        return detail::initiate<void(error_code, transaction_result), Token>(
            [](auto handler, std::shared_ptr<state> st, outgoing_message m) {
                error_code refused = st->shut ? error_code(errc::session_broken) : error_code();
                if (!refused && st->po.sign) {
                    try {
                        m.message.insert(0, st->po.sign(m.message));
                    } catch (const std::exception&) {
                        refused = errc::dkim_signing_failed;
                    }
                }
                if (refused) {
                    transaction_result r;
                    r.error = refused;
                    auto ex = boost::asio::get_associated_executor(handler, st->ex);
                    return boost::asio::post(ex, [h = std::move(handler), r = std::move(r)]() mutable {
                        const error_code ec = r.error;
                        std::move(h)(ec, std::move(r));
                    });
                }
                auto ex = boost::asio::get_associated_executor(handler, st->ex);
                const std::uint64_t id = ++st->last_id;
#if SMTP_HAS_CANCELLATION
                // While it waits, the message can be taken back: nothing of
                // it has gone anywhere, so every type of cancellation is met.
                auto slot = boost::asio::get_associated_cancellation_slot(handler);
                if (slot.is_connected())
                    slot.assign([w = std::weak_ptr<state>(st), id](boost::asio::cancellation_type type) {
                        if (type == boost::asio::cancellation_type::none)
                            return;
                        if (auto s = w.lock())
                            cancel_waiting(s, id);
                    });
#endif
                st->queue.push_back(job{std::move(m),
                                        detail::any_handler<transaction_result>(
                                            [h = std::move(handler), ex](transaction_result r) mutable {
#if SMTP_HAS_CANCELLATION
                                                // Done: the signal has nothing left to reach.
                                                auto slot = boost::asio::get_associated_cancellation_slot(h);
                                                if (slot.is_connected())
                                                    slot.clear();
#endif
                                                boost::asio::post(ex, [h = std::move(h), r = std::move(r)]() mutable {
                                                    const error_code ec = r.error;
                                                    std::move(h)(ec, std::move(r));
                                                });
                                            }),
                                        0, id});
                pump(st);
            },
            token, st_, std::move(m));
    }

    /// Stops taking messages, lets the queued ones finish, then QUITs every
    /// session. Completion: void(error_code, pool_stats): no error, and what
    /// the pool saw.
    template <class Token>
    auto async_close(Token&& token)
    {
        return detail::initiate<void(error_code, pool_stats), Token>(
            [](auto handler, std::shared_ptr<state> st) {
                auto ex = boost::asio::get_associated_executor(handler, st->ex);
                st->closing = true;
                st->on_closed = detail::any_handler<>([h = std::move(handler), ex, st = st.get()]() mutable {
                    boost::asio::post(ex, [h = std::move(h), stats = st->stats]() mutable {
                        std::move(h)(error_code{}, stats);
                    });
                });
                pump(st);
            },
            token, st_);
    }

    std::size_t open_sessions() const noexcept { return st_->slots.size(); }
    /// Messages waiting: for a session, or for their retry's time.
    std::size_t queued() const noexcept { return st_->queue.size() + st_->delayed.size(); }
    /// Sessions the throttling allows now (pool_options::max_sessions when the server never said slow down).
    std::size_t session_limit() const noexcept { return st_->ctl.limit(); }
    const pool_stats& stats() const noexcept { return st_->stats; }
    /// The TLS sessions its connections keep and resume (the pool's own
    /// unless connect_options::tls.session_cache named one; empty when
    /// resumption is off or the pool has no TLS).
    const std::shared_ptr<tls_session_cache>& tls_sessions() const noexcept { return st_->options.tls.session_cache; }

private:
    using clock = std::chrono::steady_clock;
    struct job {
        outgoing_message m;
        detail::any_handler<transaction_result> done;
        unsigned attempts;
        std::uint64_t id; ///< which async_send it came from (a cancellation names it)
        std::optional<transaction_result> so_far{}; ///< the attempts so far, merged
        std::vector<std::size_t> which{};           ///< m.to[i] is so_far->recipients[which[i]]
        clock::time_point first{};                  ///< when its first attempt began
    };
    struct slot {
        std::unique_ptr<conn_type> c;
        bool busy = true; // opening counts as busy
        bool ready = false;
        bool quitting = false;
        std::size_t sent = 0;
        std::chrono::steady_clock::time_point last_used{};
    };
    struct state {
        state(executor_type e, connect_options o, pool_options p, transport_factory f)
            : ex(e), options(std::move(o)), po(std::move(p)), make(std::move(f))
        {
            // DANE makes TLS mandatory: tls::opportunistic then requires
            // STARTTLS (open()); tls::none cannot.
            if (options.tls.dane.mode != dane::mode::off && !P::tls::offers_starttls && !P::tls::implicit_tls)
                throw std::invalid_argument("smtp::pool: DANE (tls_options::dane) makes TLS mandatory, and the "
                                            "TLS policy is tls::none");
            if (po.max_sessions == 0)
                po.max_sessions = 1;
            if (po.max_batch == 0)
                po.max_batch = 1;
            // The pool's reconnects resume the TLS sessions its connections got:
            // its own cache unless the options name one.
            if ((P::tls::offers_starttls || P::tls::implicit_tls) && options.tls.resume_sessions &&
                !options.tls.session_cache)
                options.tls.session_cache = std::make_shared<tls_session_cache>();
        }
        executor_type ex;
        connect_options options;
        pool_options po;
        transport_factory make;
        std::deque<job> queue;
        std::multimap<clock::time_point, job> delayed; ///< retries waiting for their time
        std::list<slot> slots;
        throttle_control ctl{po.max_sessions, po.throttle};
        token_bucket bucket{po.max_rate, po.rate_burst};
        boost::asio::steady_timer timer{ex};
        clock::time_point timer_at = clock::time_point::max();
        std::minstd_rand rng{std::random_device{}()};
        pool_stats stats;
        bool closing = false, shut = false;
        std::uint64_t last_id = 0;
        std::size_t failed_opens = 0; ///< connections that failed since one last opened
        detail::any_handler<> on_closed;
    };
    using slot_it = typename std::list<slot>::iterator;

    static std::unique_ptr<conn_type> new_connection(state& st)
    {
        constexpr bool verify = P::verify::verify;
        using transport = typename P::transport;
        using named = typename P::named_transport;
        auto t = [&]() -> transport {
            if constexpr (std::is_constructible_v<transport, executor_type>) {
                if (!st.make)
                    return transport(st.ex);
            }
            if (!st.make)
                throw std::invalid_argument("smtp::pool: this transport needs a transport_factory");
            if constexpr (std::is_same_v<transport, named>)
                return st.make(st.ex);
            else
                return transport(st.make(st.ex)); // the stream the factory made, under the session's TLS layer
        }();
        auto c = std::make_unique<conn_type>(std::move(t), st.options, typename P::log{}, nullptr, verify);
        c->st.lmtp = P::dialect::per_recipient_replies;
        return c;
    }

    /// A cancellation of the message `id`: when it still waits (for a
    /// session, or for its retry's time), it leaves the pool now (no
    /// session can take it any more) and completes from the executor, not
    /// from inside the signal's emit: with operation_aborted, or with what
    /// its earlier attempts gave when some recipient has it. When a session
    /// has it, or it is done, nothing happens.
    static void cancel_waiting(const std::shared_ptr<state>& st, std::uint64_t id)
    {
        if (st->shut)
            return;
        std::optional<job> found;
        const auto it = std::find_if(st->queue.begin(), st->queue.end(), [id](const job& j) { return j.id == id; });
        if (it != st->queue.end()) {
            found.emplace(std::move(*it));
            st->queue.erase(it);
        } else {
            const auto d = std::find_if(st->delayed.begin(), st->delayed.end(),
                                        [id](const auto& e) { return e.second.id == id; });
            if (d == st->delayed.end())
                return;
            found.emplace(std::move(d->second));
            st->delayed.erase(d);
        }
        boost::asio::post(st->ex, [st, j = std::move(*found)]() mutable {
            abort(std::move(j));
            pump(st); // a closing pool may be idle now
        });
    }

    /// Ends a message that waits (and will never be sent again): its
    /// attempts' result, marked operation_aborted unless some recipient has
    /// it, or not_sent with operation_aborted when it had none.
    static void abort(job j)
    {
        transaction_result r;
        if (j.so_far) {
            r = std::move(*j.so_far);
            if (!r.queued())
                r.error = boost::asio::error::operation_aborted;
        } else {
            r = detail::not_sent(j.m.to, boost::asio::error::operation_aborted);
        }
        j.done(std::move(r));
    }

    /// The destructor's work: nothing more starts; what waits is aborted;
    /// the sessions' transports are cancelled and closed, so that their
    /// operations in flight complete (send() then settles its messages
    /// with no retry, settle() seeing `shut`).
    static void shut_down(const std::shared_ptr<state>& st)
    {
        st->shut = true;
        st->timer.cancel();
        // abort() posts each handler to its executor: nothing runs in here.
        for (auto& j : st->queue)
            abort(std::move(j));
        st->queue.clear();
        for (auto& d : st->delayed)
            abort(std::move(d.second));
        st->delayed.clear();
        for (auto& s : st->slots) {
            s.c->transport.cancel();
            s.c->transport.close();
        }
    }

    /// A throttle signal: fewer sessions, and a pause.
    static void throttle(state& st)
    {
        ++st.stats.throttle_signals;
        if (st.ctl.on_throttle(clock::now()))
            ++st.stats.throttled;
    }

    /// Hands waiting messages to free sessions, opens sessions while under
    /// the limit (max_sessions, cut by throttling), lets the retries whose
    /// time came join the queue, closes the free sessions above the limit,
    /// waits for the pause, the rate's next token or the next retry with
    /// one timer, and ends the pool when it is closing and idle.
    static void pump(const std::shared_ptr<state>& st)
    {
        if (st->shut)
            return;
        const auto now = clock::now();
        while (!st->delayed.empty() && st->delayed.begin()->first <= now) {
            st->queue.push_back(std::move(st->delayed.begin()->second));
            st->delayed.erase(st->delayed.begin());
        }
        auto wake = st->delayed.empty() ? clock::time_point::max() : st->delayed.begin()->first;
        const std::size_t limit = st->ctl.limit();
        // Throttled: the free sessions above the limit go.
        auto quitting = static_cast<std::size_t>(
            std::count_if(st->slots.begin(), st->slots.end(), [](const slot& s) { return s.quitting; }));
        while (st->slots.size() - quitting > limit) {
            auto it = std::find_if(st->slots.begin(), st->slots.end(), [](const slot& s) { return !s.busy; });
            if (it == st->slots.end())
                break;
            quit(st, it);
            ++quitting;
        }
        if (now < st->ctl.paused_until()) {
            wake = std::min(wake, st->ctl.paused_until());
        } else {
            while (!st->queue.empty()) {
                auto it = std::find_if(st->slots.begin(), st->slots.end(), [](const slot& s) { return !s.busy; });
                if (it != st->slots.end()) {
                    if (!st->bucket.try_take(now)) {
                        ++st->stats.rate_waits;
                        wake = std::min(wake, st->bucket.next_token(now));
                        break;
                    }
                    start(st, it, now);
                    continue;
                }
                const std::size_t opening = static_cast<std::size_t>(
                    std::count_if(st->slots.begin(), st->slots.end(), [](const slot& s) { return !s.ready; }));
                // After a connection failed, one at a time until one opens:
                // a server that refuses every connection is not asked
                // max_sessions times over.
                if (st->slots.size() >= limit || opening >= st->queue.size() || (st->failed_opens > 0 && opening > 0))
                    break;
                open(st);
            }
        }
        if (st->closing && st->queue.empty() && st->delayed.empty() &&
            std::none_of(st->slots.begin(), st->slots.end(), [](const slot& s) { return s.busy; }))
            return close_all(st);
        if (wake == clock::time_point::max() && st->timer_at != clock::time_point::max()) {
            st->timer_at = clock::time_point::max(); // nothing to wait for any more
            st->timer.cancel();
        }
        if (wake != clock::time_point::max() && wake < st->timer_at) {
            st->timer_at = wake;
            st->timer.expires_at(wake);
            st->timer.async_wait([st](error_code ec) {
                if (ec || st->shut)
                    return;
                st->timer_at = clock::time_point::max();
                pump(st);
            });
        }
    }

    /// A message's attempt ended with `r`: it is merged into what the
    /// earlier attempts gave; then either the message completes, or it
    /// waits for its retry (in `again` when it may go at once).
    static void settle(const std::shared_ptr<state>& st, job j, transaction_result r, std::vector<job>& again)
    {
        const auto now = clock::now();
        if (has_throttle_signal(r))
            throttle(*st);
        else if (r.outcome == transaction_outcome::queued)
            st->ctl.on_success();
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - j.first);
        retry_decision d = decide_retry(r, j.attempts, elapsed, st->po.retry,
                                        std::uniform_real_distribution<double>(0.0, 1.0)(st->rng));
        if (st->shut)
            d.action = retry_action::done;
        if (!j.so_far) {
            j.so_far.emplace(std::move(r));
            j.which.resize(j.m.to.size());
            for (std::size_t i = 0; i < j.which.size(); ++i)
                j.which[i] = i;
        } else {
            merge_attempt(*j.so_far, std::move(r), j.which);
        }
        if (d.action == retry_action::done) {
            if (j.attempts > 1 && !j.so_far->queued())
                ++st->stats.gave_up;
            transaction_result out = std::move(*j.so_far);
            return j.done(std::move(out));
        }
        if (d.action == retry_action::retry_recipients) {
            std::vector<recipient> to;
            std::vector<std::size_t> which;
            for (std::size_t i : d.recipients) {
                to.push_back(std::move(j.m.to[i]));
                which.push_back(j.which[i]);
            }
            j.m.to = std::move(to);
            j.which = std::move(which);
        }
        ++st->stats.retried;
        if (d.delay.count() == 0)
            again.push_back(std::move(j));
        else
            st->delayed.emplace(now + d.delay, std::move(j));
    }

    /// Retries that may go at once go first, in their order.
    static void requeue(state& st, std::vector<job>& again)
    {
        for (auto j = again.rbegin(); j != again.rend(); ++j)
            st.queue.push_front(std::move(*j));
        again.clear();
    }

    static void open(const std::shared_ptr<state>& st)
    {
        st->slots.push_back(slot{new_connection(*st)});
        st->stats.most_sessions_open = std::max(st->stats.most_sessions_open, st->slots.size());
        const slot_it it = std::prev(st->slots.end());
        // The policies' facts; whether it may AUTH and send is the session
        // rules' answer (smtp/protocol/session_rules.hpp), as for a session.
        sansio::open_settings settings;
        settings.implicit_tls = P::tls::implicit_tls;
        settings.starttls_required =
            (!P::tls::clear_text_allowed || st->options.tls.dane.mode != dane::mode::off) && !P::tls::implicit_tls;
        settings.policy = detail::policy_facts_of<P>();
        using auth_op = typename detail::auth_algorithm_for<typename P::auth>::type;
        std::optional<sasl::credentials> creds;
        settings.auth_after = static_cast<bool>(st->po.credentials); // a provider's AUTH follows the open
        if (st->po.login && !settings.auth_after)
            creds = sasl::credentials{st->po.login->first, st->po.login->second.view()};
        sansio::open<auth_op> op(settings, creds);
        conn_type& c = *it->c;
        auto opened = [st, it](error_code ec) {
            if (st->shut)
                return;
            if (ec) {
                ++st->stats.sessions_failed;
                ++st->failed_opens;
                const std::optional<reply> said = it->c->st.diag.server_reply(); // a copy: the slot may go
                const bool slow_down = said && is_throttle_signal(*said);
                // A session that still works (a refused AUTH, say) says QUIT
                // before it goes, as a client should.
                const bool polite = !it->c->st.broken && !it->c->st.closed;
                if (polite)
                    it->quitting = true; // quit() below
                else
                    st->slots.erase(it);
                if (slow_down)
                    throttle(*st);
                // Nothing is open or opening (but QUITting): the messages waiting had
                // their attempt, and the retry policy says whether they
                // wait for another (a 421 "too busy") or end with its
                // error (a 554) rather than wait for connections that may
                // never come.
                if (std::all_of(st->slots.begin(), st->slots.end(), [](const slot& s) { return s.quitting; })) {
                    auto waiting = std::move(st->queue);
                    st->queue.clear();
                    std::vector<job> again;
                    for (auto& j : waiting) {
                        if (j.attempts++ == 0)
                            j.first = clock::now();
                        transaction_result r = detail::not_sent(j.m.to, ec);
                        if (said)
                            r.mail_reply = *said; // the reply that refused the session: its class decides
                        settle(st, std::move(j), std::move(r), again);
                    }
                    requeue(*st, again);
                }
                if (polite)
                    return quit(st, it);
                return pump(st);
            }
            ++st->stats.sessions_opened;
            st->failed_opens = 0;
            it->ready = true;
            it->busy = false;
            it->last_used = std::chrono::steady_clock::now();
            pump(st);
        };
        detail::async_run(c, std::move(op), [st, it, opened = std::move(opened)](error_code ec) mutable {
            if (!ec && !st->shut && st->po.credentials) // greeted: AUTH with what the provider gives now
                return detail::async_auth_with<auth_op>(*it->c, st->po.credentials, std::move(opened),
                                                        detail::call_handler{});
            opened(ec);
        });
    }

    struct run_state {
        std::vector<job> jobs;
        std::vector<transaction> ts;
    };

    /// Gives the free session `it` its share of what waits (its first
    /// message's token is taken: one more for each other).
    static void start(const std::shared_ptr<state>& st, slot_it it, clock::time_point now)
    {
        // Its share of what waits: spread over the sessions that are or
        // could be free, so that one session does not take everything.
        const std::size_t busy_others = st->slots.size() - idle_count(*st);
        const std::size_t allowed = std::max<std::size_t>(1, st->ctl.limit());
        const std::size_t free_or_openable = std::max<std::size_t>(1, allowed > busy_others ? allowed - busy_others : 1);
        it->busy = true;
        const std::size_t quota = st->po.max_messages_per_session - it->sent;
        const std::size_t share = (st->queue.size() + free_or_openable - 1) / free_or_openable;
        const std::size_t n = std::min({st->queue.size(), quota, st->po.max_batch, std::max<std::size_t>(1, share)});
        auto rs = std::make_shared<run_state>();
        for (std::size_t i = 0; i < n; ++i) {
            if (i > 0 && !st->bucket.try_take(now))
                break;
            rs->jobs.push_back(std::move(st->queue.front()));
            st->queue.pop_front();
        }
        conn_type& c = *it->c;
        const bool stale = it->sent > 0 && clock::now() - it->last_used >= st->po.idle_check;
        if (!stale)
            return send(st, it, std::move(rs));
        // Idle too long: is the server still there?
        detail::async_run(c, sansio::command<cmd::noop>{}, [st, it, rs](error_code ec) mutable {
            if (st->shut) { // destroyed meanwhile: nothing of them was sent
                for (auto& j : rs->jobs)
                    abort(std::move(j));
                return;
            }
            if (ec) {
                ++st->stats.sessions_dropped;
                st->slots.erase(it);
                for (auto j = rs->jobs.rbegin(); j != rs->jobs.rend(); ++j)
                    st->queue.push_front(std::move(*j)); // nothing of them was sent
                return pump(st);
            }
            send(st, it, std::move(rs));
        });
    }

    static std::size_t idle_count(const state& st)
    {
        return static_cast<std::size_t>(
            std::count_if(st.slots.begin(), st.slots.end(), [](const slot& s) { return !s.busy; }));
    }

    static void send(const std::shared_ptr<state>& st, slot_it it, std::shared_ptr<run_state> rs)
    {
        conn_type& c = *it->c;
        rs->ts.reserve(rs->jobs.size());
        for (auto& j : rs->jobs) {
            if (j.attempts++ == 0)
                j.first = clock::now();
            rs->ts.emplace_back(j.m.from, j.m.to, j.m.message, j.m.options, c.st.caps,
                                session_facts{c.transport.encrypted(), c.st.lmtp}, c.st.options.transactions,
                                typename P::extensions{});
        }
        auto& ts = rs->ts;
        detail::async_run(c, sansio::transactions(std::span<transaction>(ts)),
                          [st, it, rs](error_code ec) {
                              const bool dead = it->c->st.broken;
                              it->sent += rs->jobs.size();
                              it->last_used = clock::now();
                              std::vector<job> again;
                              for (std::size_t i = 0; i < rs->jobs.size(); ++i) {
                                  transaction_result r = std::move(rs->ts[i]).result();
                                  if (ec && !r.error && r.outcome == transaction_outcome::not_sent)
                                      r.error = ec;
                                  settle(st, std::move(rs->jobs[i]), std::move(r), again);
                              }
                              if (st->shut) // destroyed: settle() retried none; the session goes with the pool
                                  return;
                              requeue(*st, again);
                              if (dead) {
                                  ++st->stats.sessions_dropped;
                                  st->slots.erase(it);
                              } else if (it->sent >= st->po.max_messages_per_session) {
                                  quit(st, it);
                              } else {
                                  it->busy = false;
                              }
                              pump(st);
                          });
    }

    static void quit(const std::shared_ptr<state>& st, slot_it it)
    {
        it->busy = true;
        it->ready = true;
        it->quitting = true;
        detail::async_run(*it->c, sansio::quit{}, [st, it](error_code) {
            if (st->shut)
                return;
            st->slots.erase(it);
            pump(st);
        });
    }

    static void close_all(const std::shared_ptr<state>& st)
    {
        st->timer.cancel();
        if (st->slots.empty()) {
            st->shut = true;
            if (st->on_closed)
                st->on_closed();
            return;
        }
        for (auto it = st->slots.begin(); it != st->slots.end(); ++it)
            if (!it->busy)
                quit(st, it);
    }

    std::shared_ptr<state> st_;
};

SMTP_NAMESPACE_END

#endif

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
/// Every message ends in exactly one transaction_result. A message whose
/// session died before the server got all of it (outcome not_sent) is sent
/// again on another session, at most `retries` times; one whose data went
/// out and whose reply was lost (outcome unknown) is never sent again. A
/// session that sat idle longer than idle_check is checked with NOOP before
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
#include <smtp/version.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
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
#include <memory>
#include <optional>
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
    unsigned retries = 1;                        ///< new attempts for a message not sent because its session died
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
    std::size_t retried = 0;          ///< messages sent again after their session died
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
    /// Sessions still open are closed without QUIT (call async_close first for a clean end).
    ~pool()
    {
        if (st_)
            st_->shut = true;
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
    std::size_t queued() const noexcept { return st_->queue.size(); }
    const pool_stats& stats() const noexcept { return st_->stats; }

private:
    struct job {
        outgoing_message m;
        detail::any_handler<transaction_result> done;
        unsigned attempts;
        std::uint64_t id; ///< which async_send it came from (a cancellation names it)
    };
    struct slot {
        std::unique_ptr<conn_type> c;
        bool busy = true; // opening counts as busy
        bool ready = false;
        std::size_t sent = 0;
        std::chrono::steady_clock::time_point last_used{};
    };
    struct state {
        state(executor_type e, connect_options o, pool_options p, transport_factory f)
            : ex(e), options(std::move(o)), po(std::move(p)), make(std::move(f))
        {
            if (po.max_sessions == 0)
                po.max_sessions = 1;
            if (po.max_batch == 0)
                po.max_batch = 1;
        }
        executor_type ex;
        connect_options options;
        pool_options po;
        transport_factory make;
        std::deque<job> queue;
        std::list<slot> slots;
        pool_stats stats;
        bool closing = false, shut = false;
        std::uint64_t last_id = 0;
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

    /// A cancellation of the message `id`: when it still waits, it leaves
    /// the queue now (no session can take it any more) and completes with
    /// operation_aborted from the executor, not from inside the signal's
    /// emit. When a session has it, or it is done, nothing happens.
    static void cancel_waiting(const std::shared_ptr<state>& st, std::uint64_t id)
    {
        const auto it = std::find_if(st->queue.begin(), st->queue.end(), [id](const job& j) { return j.id == id; });
        if (st->shut || it == st->queue.end())
            return;
        auto done = std::move(it->done);
        std::vector<recipient> to = std::move(it->m.to);
        st->queue.erase(it);
        boost::asio::post(st->ex, [st, done = std::move(done), to = std::move(to)]() mutable {
            transaction_result r = detail::not_sent(to, boost::asio::error::operation_aborted);
            done(std::move(r));
            pump(st); // a closing pool may be idle now
        });
    }

    /// Hands waiting messages to free sessions, opens sessions while under
    /// the bound, and ends the pool when it is closing and idle.
    static void pump(const std::shared_ptr<state>& st)
    {
        if (st->shut)
            return;
        while (!st->queue.empty()) {
            auto it = std::find_if(st->slots.begin(), st->slots.end(), [](const slot& s) { return !s.busy; });
            if (it != st->slots.end()) {
                start(st, it);
                continue;
            }
            const std::size_t opening = static_cast<std::size_t>(
                std::count_if(st->slots.begin(), st->slots.end(), [](const slot& s) { return !s.ready; }));
            if (st->slots.size() >= st->po.max_sessions || opening >= st->queue.size())
                break;
            open(st);
        }
        if (st->closing && st->queue.empty() &&
            std::none_of(st->slots.begin(), st->slots.end(), [](const slot& s) { return s.busy; }))
            close_all(st);
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
        settings.starttls_required = !P::tls::clear_text_allowed && !P::tls::implicit_tls;
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
                // A session that still works (a refused AUTH, say) says QUIT
                // before it goes, as a client should.
                const bool polite = !it->c->st.broken && !it->c->st.closed;
                if (!polite)
                    st->slots.erase(it);
                // No session is working and this one could not be opened:
                // the messages waiting fail with its error rather than wait
                // for connections that may never come.
                if (std::none_of(st->slots.begin(), st->slots.end(), [](const slot& s) { return s.ready; })) {
                    auto waiting = std::move(st->queue);
                    st->queue.clear();
                    for (auto& j : waiting) {
                        transaction_result r;
                        r.error = ec;
                        j.done(std::move(r));
                    }
                }
                if (polite)
                    return quit(st, it);
                return pump(st);
            }
            ++st->stats.sessions_opened;
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

    static void start(const std::shared_ptr<state>& st, slot_it it)
    {
        // Its share of what waits: spread over the sessions that are or
        // could be free, so that one session does not take everything.
        const std::size_t busy_others = st->slots.size() - idle_count(*st);
        const std::size_t free_or_openable = std::max<std::size_t>(1, st->po.max_sessions - busy_others);
        it->busy = true;
        const std::size_t quota = st->po.max_messages_per_session - it->sent;
        const std::size_t share = (st->queue.size() + free_or_openable - 1) / free_or_openable;
        const std::size_t n = std::min({st->queue.size(), quota, st->po.max_batch, std::max<std::size_t>(1, share)});
        auto rs = std::make_shared<run_state>();
        for (std::size_t i = 0; i < n; ++i) {
            rs->jobs.push_back(std::move(st->queue.front()));
            st->queue.pop_front();
        }
        conn_type& c = *it->c;
        const bool stale = it->sent > 0 && std::chrono::steady_clock::now() - it->last_used >= st->po.idle_check;
        if (!stale)
            return send(st, it, std::move(rs));
        // Idle too long: is the server still there?
        detail::async_run(c, sansio::command<cmd::noop>{}, [st, it, rs](error_code ec) mutable {
            if (st->shut)
                return;
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
        for (auto& j : rs->jobs)
            rs->ts.emplace_back(j.m.from, j.m.to, j.m.message, j.m.options, c.st.caps,
                                session_facts{c.transport.encrypted(), c.st.lmtp}, c.st.options.transactions,
                                typename P::extensions{});
        auto& ts = rs->ts;
        detail::async_run(c, sansio::transactions(std::span<transaction>(ts)),
                          [st, it, rs](error_code ec) {
                              if (st->shut)
                                  return;
                              const bool dead = it->c->st.broken;
                              it->sent += rs->jobs.size();
                              it->last_used = std::chrono::steady_clock::now();
                              std::vector<job> again;
                              for (std::size_t i = 0; i < rs->jobs.size(); ++i) {
                                  transaction_result r = std::move(rs->ts[i]).result();
                                  if (ec && !r.error && r.outcome == transaction_outcome::not_sent)
                                      r.error = ec;
                                  job& j = rs->jobs[i];
                                  if (dead && r.outcome == transaction_outcome::not_sent && r.error &&
                                      breaks_or_server_gone(r.error) && j.attempts < st->po.retries) {
                                      ++j.attempts;
                                      ++st->stats.retried;
                                      again.push_back(std::move(j));
                                      continue;
                                  }
                                  j.done(std::move(r));
                              }
                              for (auto j = again.rbegin(); j != again.rend(); ++j)
                                  st->queue.push_front(std::move(*j));
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

    /// A message not sent because the session went away (an I/O error, or
    /// the server's 421), not because of itself.
    static bool breaks_or_server_gone(const error_code& e)
    {
        return detail::breaks_session(e) || e == errc::transient_failure || e == errc::session_broken;
    }

    static void quit(const std::shared_ptr<state>& st, slot_it it)
    {
        it->busy = true;
        it->ready = true;
        detail::async_run(*it->c, sansio::quit{}, [st, it](error_code) {
            if (st->shut)
                return;
            st->slots.erase(it);
            pump(st);
        });
    }

    static void close_all(const std::shared_ptr<state>& st)
    {
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

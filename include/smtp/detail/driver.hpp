// smtp/detail/driver.hpp
//
// The driver: runs any protocol algorithm (smtp/protocol/algorithms/) over a
// connection's transport. It resumes the algorithm, does the I/O it asks
// for (connect, write, read, TLS handshake, close) with the connection's
// one deadline, and resumes it again with the outcome, until it is done.
// One loop (drive) serves both forms: asynchronous on the transport's
// executor, synchronous on the session's own io_context. The driver sees an
// algorithm only through run_base and gives every I/O the same handler type,
// so the Asio machinery (TLS stream operations, socket operations, timer) is
// compiled once per connection type, not once per algorithm and completion
// handler. A synchronous run on a socket in clear reads and writes it
// directly instead (smtp/detail/blocking_io.hpp), with the same deadline.
#ifndef SMTP_DETAIL_DRIVER_HPP
#define SMTP_DETAIL_DRIVER_HPP

#include <smtp/cancellation.hpp>
#include <smtp/detail/blocking_io.hpp>
#include <smtp/detail/connection.hpp>
#include <smtp/detail/deadline.hpp>
#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_state.hpp>
#endif

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

SMTP_NAMESPACE_BEGIN
namespace detail {

using sansio::next_action;

/// Errors after which the stream cannot be trusted: every I/O, TLS and
/// system error, a malformed reply (the parser cannot resynchronise), a
/// timeout, a closed connection, an unknown outcome. A refusal, an unexpected
/// code or a refused argument leave the session usable.
inline bool breaks_session(const error_code& ec) noexcept
{
    if (!ec)
        return false;
    if (ec.category() != smtp_category())
        return true;
    switch (static_cast<errc>(ec.value())) {
    case errc::timeout:
    case errc::connection_closed:
    case errc::outcome_unknown:
    case errc::script_mismatch:
    case errc::reply_code_invalid:
    case errc::reply_separator_invalid:
    case errc::reply_code_mismatch:
    case errc::reply_line_too_long:
    case errc::reply_too_long:
    case errc::reply_too_many_lines:
    case errc::reply_bare_cr:
    case errc::reply_bare_lf:
    case errc::reply_control_character:
    case errc::unsolicited_reply: return true;
    default: return false;
    }
}

/// One run of an algorithm on a connection, seen by the driver through this
/// interface only: what Asio instantiates (the transport's reads, writes,
/// handshake and connect, the TLS stream's operations, the deadline timer)
/// depends on the connection type alone, never on the algorithm or on the
/// caller's completion handler. The run derived from it holds the algorithm
/// and what to call when it is done.
template <class Conn>
struct run_base {
    Conn* c;
    /// Where intermediate completions run: the completion handler's
    /// associated executor (a strand, a coroutine's executor, ...), else the
    /// transport's.
    boost::asio::any_io_executor executor;
    next_action last = next_action::done;
    bool started = false; ///< an action was asked for: the next resume takes its outcome
    bool continuation = false;
    /// A synchronous run: nothing else runs on its io_context while it
    /// waits, so it may read and write the socket directly.
    bool blocking = false;
#if SMTP_HAS_CANCELLATION
    /// The caller's cancellation, terminal requests only: its slot is the one
    /// every I/O of the run gets, and it remembers a request that came while
    /// no I/O was pending. Unconnected for a caller with no slot.
    boost::asio::cancellation_state cancel_state{};
#endif

    /// A terminal cancellation was requested: no further I/O starts.
    bool cancel_requested() const noexcept
    {
#if SMTP_HAS_CANCELLATION
        return (cancel_state.cancelled() & boost::asio::cancellation_type::terminal) !=
               boost::asio::cancellation_type::none;
#else
        return false;
#endif
    }

    run_base(Conn& conn, boost::asio::any_io_executor ex) : c(&conn), executor(std::move(ex)) {}
    run_base(const run_base&) = delete;
    run_base& operator=(const run_base&) = delete;

    virtual next_action resume(error_code io_ec) = 0;
    /// The algorithm is done: c->st.ec holds the outcome. May destroy *this.
    virtual void complete(error_code ec) = 0;
    /// A pending I/O's handler went away uncalled (its io_context was
    /// destroyed): the run goes too, and with it the caller's handler.
    virtual void abandon() noexcept = 0;

protected:
    ~run_base() = default;
};

template <class Conn>
class io_handler;
template <class Conn>
void drive(io_handler<Conn> h, error_code io_ec, std::size_t n);

/// The one completion handler every I/O of a connection is given. It owns
/// the run while the I/O is pending, as a composed operation would.
template <class Conn>
class io_handler {
public:
    using executor_type = boost::asio::any_io_executor;

    explicit io_handler(run_base<Conn>* r) noexcept : r_(r) {}
    io_handler(io_handler&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    io_handler& operator=(io_handler&&) = delete;
    ~io_handler()
    {
        if (r_)
            r_->abandon();
    }

    executor_type get_executor() const noexcept { return r_->executor; }
#if SMTP_HAS_CANCELLATION
    /// The run caller's cancellation (terminal requests), passed on to every I/O.
    using cancellation_slot_type = boost::asio::cancellation_slot;
    cancellation_slot_type get_cancellation_slot() const noexcept { return r_->cancel_state.slot(); }
#endif
    run_base<Conn>* get() const noexcept { return r_; }
    run_base<Conn>* release() noexcept { return std::exchange(r_, nullptr); }

    void operator()(error_code ec, std::size_t n = 0) { drive(std::move(*this), ec, n); }

    friend bool asio_handler_is_continuation(io_handler* h) { return h->r_ && h->r_->continuation; }

private:
    run_base<Conn>* r_;
};

/// Takes the outcome of the action the algorithm asked for into the state:
/// bytes written or read, a timeout in words, a failed connect described, a
/// handshake's first bytes. Returns the error the algorithm is resumed with.
template <class Conn>
error_code take_outcome(Conn& c, next_action done, error_code io_ec, std::size_t n)
{
    namespace asio = boost::asio;
    auto& st = c.st;
    c.timer.io_pending = false;
    if (c.timer.timed_out && io_ec == asio::error::operation_aborted) {
        io_ec = errc::timeout;
        st.diag.set_detail_text(timeout_text(st.options.timeouts, st.current_phase, st.awaited));
    }
    c.timer.timed_out = false;
    st.handshake_bytes = {};
    switch (done) {
    case next_action::write:
        if (!io_ec)
            st.wbuf.clear();
        break;
    case next_action::read:
        st.commit_read(io_ec ? 0 : n);
        if (io_ec == asio::error::eof)
            io_ec = errc::connection_closed;
        break;
    case next_action::connect:
        if (io_ec)
            c.describe_connect_failure(io_ec);
        st.encrypted = c.transport.encrypted();
        break;
    case next_action::tls_handshake:
        if (io_ec)
            st.handshake_bytes = c.handshake_bytes();
        st.encrypted = c.transport.encrypted();
        break;
    case next_action::close:
    case next_action::done: break;
    }
    if (io_ec) // a failed or cancelled I/O: what the peer got is unknown
        st.broken = true;
    return io_ec;
}

/// The driver: takes an I/O's outcome, resumes the algorithm, starts the
/// I/O it asks for (handing `h`, and the run with it, to the transport) or
/// completes the run. Should anything throw, `h` still owns the run.
template <class Conn>
void drive(io_handler<Conn> h, error_code io_ec, std::size_t n)
{
    namespace asio = boost::asio;
    run_base<Conn>* const r = h.get();
    Conn* c = r->c;
    auto& st = c->st;
    for (;;) {
        if (r->started) {
            io_ec = take_outcome(*c, r->last, io_ec, n);
            r->continuation = true;
        } else if (st.broken) {
            st.ec = errc::session_broken;
            h.release();
            return r->complete(st.ec);
        } else {
            st.encrypted = c->transport.encrypted();
        }
        r->started = true;
        r->last = r->resume(io_ec);
        // A read or write of a synchronous run on a socket in clear: done
        // here, bounded by the deadline itself (no timer, no reactor).
        const int fd = r->blocking && (r->last == next_action::read || r->last == next_action::write)
                           ? blocking_descriptor(c->transport)
                           : -1;
        if (r->last != next_action::done && r->last != next_action::close) {
            if (st.new_deadline) {
                st.new_deadline = false;
                c->timer.deadline =
                    std::chrono::steady_clock::now() + phase_limit(st.options.timeouts, st.current_phase);
            }
            if (fd < 0) {
                c->timer.io_pending = true;
                if (!c->timer.armed || c->timer.deadline < c->timer.armed_at)
                    wait_for_deadline(*c);
            }
        }
        if (r->last == next_action::write && st.has_unread()) {
            // Bytes no command asked for, before a write: replies injected
            // to desynchronise the session.
            st.wbuf.clear();
            st.logged = false;
            st.ec = errc::unsolicited_reply;
            r->last = next_action::done;
        }
        if (r->last != next_action::done && r->last != next_action::close && r->cancel_requested()) {
            // Cancelled while no I/O held the slot (between two of them): the
            // I/O asked for fails as a cancelled one does, and never starts.
            io_ec = asio::error::operation_aborted;
            n = 0;
            continue;
        }
#if SMTP_HAS_BLOCKING_IO
        if (fd >= 0 && (r->last == next_action::read || r->last == next_action::write)) {
            blocking_result d;
            if (r->last == next_action::write) {
                st.log_write();
                d = blocking_write(fd, asio::buffer(st.wbuf), c->timer.deadline);
            } else {
                const auto area = st.read_area();
                d = blocking_read_some(fd, asio::buffer(area.data(), area.size()), c->timer.deadline);
            }
            c->timer.timed_out = d.timed_out; // take_outcome words it as the timer's would be
            io_ec = d.ec;
            n = d.n;
            continue; // resumed at once with the outcome
        }
#endif
        switch (r->last) {
        case next_action::connect: return c->transport.async_connect(st.options, std::move(h));
        case next_action::write:
            st.log_write();
            return c->transport.async_write(asio::buffer(st.wbuf), std::move(h));
        case next_action::read: {
            const auto area = st.read_area();
            return c->transport.async_read_some(asio::buffer(area.data(), area.size()), std::move(h));
        }
        case next_action::tls_handshake:
            return c->transport.async_handshake(st.options, c->verify_peer, std::move(h));
        case next_action::close:
            c->transport.close();
            st.closed = true;
            io_ec = {};
            n = 0;
            continue; // resumed at once, as after an I/O
        case next_action::done: break;
        }
        break;
    }
    if (breaks_session(st.ec) || st.server_closing)
        st.broken = true; // after a 421 the server closes: nothing more can be sent
    disarm(c->timer);
    h.release();
    r->complete(st.ec);
}

/// What an asynchronous run does with the caller's handler when it is done:
/// calls it with the error code (the default), or hands it to the façade's
/// own completion (which adds the operation's result).
struct call_handler {
    template <class Handler>
    void operator()(Handler&& h, error_code ec) const
    {
        std::move(h)(ec);
    }
};

/// A run for an asynchronous caller: owns the algorithm and the handler, in
/// memory from the handler's associated allocator. The handler's associated
/// executor and cancellation slot are the run's (every I/O gets them).
template <class Conn, class Algo, class Handler, class Then = call_handler>
struct async_run_state final : run_base<Conn> {
    using allocator_type = typename std::allocator_traits<
        boost::asio::associated_allocator_t<Handler>>::template rebind_alloc<async_run_state>;

    Algo algo;
    Handler handler;
    Then then;

    async_run_state(Conn& c, Algo a, Handler h, Then t)
        : run_base<Conn>(c, boost::asio::get_associated_executor(h, c.transport.get_executor())), algo(std::move(a)),
          handler(std::move(h)), then(std::move(t))
    {
#if SMTP_HAS_CANCELLATION
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected())
            this->cancel_state = boost::asio::cancellation_state(slot, boost::asio::enable_terminal_cancellation());
#endif
    }

    static async_run_state* make(Conn& c, Algo a, Handler h, Then t)
    {
        allocator_type alloc(boost::asio::get_associated_allocator(h));
        async_run_state* p = std::allocator_traits<allocator_type>::allocate(alloc, 1);
        try {
            std::allocator_traits<allocator_type>::construct(alloc, p, c, std::move(a), std::move(h), std::move(t));
        } catch (...) {
            std::allocator_traits<allocator_type>::deallocate(alloc, p, 1);
            throw;
        }
        return p;
    }

    next_action resume(error_code io_ec) override { return algo.resume(this->c->st, io_ec); }
    void complete(error_code ec) override
    {
#if SMTP_HAS_CANCELLATION
        // Nothing of this run is left for the caller's signal to reach.
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected())
            slot.clear();
#endif
        Handler h(std::move(handler));
        Then t(std::move(then));
        destroy(); // the memory goes back before the handler runs, as Asio's operations do
        std::move(t)(std::move(h), ec);
    }
    void abandon() noexcept override { destroy(); }

private:
    void destroy() noexcept
    {
        allocator_type alloc(boost::asio::get_associated_allocator(handler));
        std::allocator_traits<allocator_type>::destroy(alloc, this);
        std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
    }
};

/// Whether Asio calls the token itself as the completion handler (a
/// function object), rather than making one from it (use_awaitable,
/// use_future, as_tuple, ...). Where Asio does not say, no.
template <class Token, class Sig>
constexpr bool token_is_the_handler() noexcept
{
    using result = boost::asio::async_result<std::decay_t<Token>, Sig>;
    if constexpr (requires { typename result::completion_handler_type; })
        return std::is_same_v<typename result::completion_handler_type, std::decay_t<Token>>;
    else
        return false;
}

template <class Token, class Sig>
struct handler_fits;
template <class Token, class... Args>
struct handler_fits<Token, void(Args...)> {
    static constexpr bool value =
        !token_is_the_handler<Token, void(Args...)>() || std::is_invocable_v<std::decay_t<Token>&&, Args...>;
};

/// async_initiate for the library's public asynchronous operations: a
/// function object that cannot take the completion's arguments is told so
/// in one line, instead of a hundred from inside Asio. `Token` is the
/// caller's forwarding type, given explicitly (an lvalue handler stays an
/// lvalue: Asio copies it rather than moving from it).
template <class Sig, class Token, class Init, class... Args>
auto initiate(Init&& init, std::remove_reference_t<Token>& token, Args&&... args)
{
    if constexpr (!handler_fits<Token, Sig>::value) {
        static_assert(handler_fits<Token, Sig>::value,
                      "smtp: this completion handler cannot take what the operation completes with. Every "
                      "asynchronous operation of the library completes with (smtp::error_code, result): write the "
                      "handler as [](smtp::error_code ec, auto result) { ... } (docs/tutorial.md has the table)");
    } else {
        return boost::asio::async_initiate<Token, Sig>(std::forward<Init>(init), token, std::forward<Args>(args)...);
    }
}

/// Runs `algo` on `c` for an operation's completion `handler`: when the
/// run is done, calls `then(std::move(handler), ec)`. The run, and every I/O
/// it does, takes the handler's associated executor, allocator and
/// cancellation slot (a lambda that captured the handler would hide them).
template <class Conn, class Algo, class Handler, class Then>
void async_run_for(Conn& c, Algo algo, Handler handler, Then then)
{
    c.st.ec = {};
    c.st.diag.clear();
    using state = async_run_state<Conn, Algo, Handler, Then>;
    drive<Conn>(io_handler<Conn>(state::make(c, std::move(algo), std::move(handler), std::move(then))), {}, 0);
}

/// Runs `algo` on `c` asynchronously; completes with void(error_code).
template <class Conn, class Algo, class Token>
auto async_run(Conn& c, Algo algo, Token&& token)
{
    return boost::asio::async_initiate<Token, void(error_code)>(
        [&c](auto handler, Algo algo) { async_run_for(c, std::move(algo), std::move(handler), call_handler{}); },
        token, std::move(algo));
}

/// A run for a synchronous caller: on its stack, done when `finished`.
template <class Conn>
struct sync_run_base : run_base<Conn> {
    error_code result{};
    bool finished = false;

    explicit sync_run_base(Conn& c) : run_base<Conn>(c, c.transport.get_executor()) { this->blocking = true; }
    void complete(error_code ec) final
    {
        result = ec;
        finished = true;
    }
    void abandon() noexcept final {}
};

/// Runs a started synchronous run to its end on the session's io_context
/// (compiled once per connection type, whatever the algorithm).
template <class Conn>
error_code finish_sync(sync_run_base<Conn>& r)
{
    Conn& c = *r.c;
    c.st.ec = {};
    c.st.diag.clear();
    drive<Conn>(io_handler<Conn>(&r), {}, 0);
    auto& ctx = *c.owned_context;
    ctx.restart();
    while (!r.finished && ctx.run_one() != 0) {}
    if (!r.finished) { // no work left and no completion: never report a success not had
        c.st.broken = true;
        return errc::session_broken;
    }
    return r.result;
}

// The synchronous form, run(c, algo), is in smtp/detail/connection_fwd.hpp:
// the algorithm reaches finish_sync through one function pointer
// (smtp/detail/connection_ops.hpp's sync_run).

} // namespace detail
SMTP_NAMESPACE_END

#endif

// smtp/transport/detail/tls_stream.hpp
//
// TLS as a client over any next layer with async_read_some/async_write_some:
// an OpenSSL SSL* whose BIO is the stream's own, driven as Asio composed
// operations (handshake, read_some, write_some). It takes the place of
// boost::asio::ssl::stream for one reason: memory. ssl::stream holds four
// 17 KiB buffers for the stream's whole life (its input and output vectors
// and a BIO pair of 17 KiB each way); here the ciphertext is held only while
// it is in flight:
//   - in: what the last network read brought that OpenSSL has not taken yet
//     (taken and freed record by record as SSL_read_ex asks for it);
//   - out: what OpenSSL wrote that the next layer has not yet accepted.
// An open session that waits between commands holds neither, and OpenSSL's
// own record buffers are released too (SSL_MODE_RELEASE_BUFFERS, and the
// TLS layer's SSL_free_buffers after a read).
//
// What OpenSSL requires of the BIO (BIO_meth_new(3), BIO_should_retry(3)):
// a read with nothing to give returns 0 with the retry flag set, and
// SSL_get_error then says SSL_ERROR_WANT_READ; a write is always taken whole
// (so OpenSSL never asks to retry a write); BIO_flush must succeed
// (OpenSSL flushes after each handshake flight). One state machine serves
// every operation: call OpenSSL (ERR_clear_error first, SSL_get_error
// after), send what it wrote, read when it wants more, call again.
//
// Errors are Asio's ssl::stream's, so that callers see what they saw:
// OpenSSL's first queued error in asio::error::get_ssl_category(), the end
// of the stream without a close_notify as ssl::error::stream_truncated, a
// close_notify as asio::error::eof.
//
// One read and one write may run at once (full duplex), as with
// ssl::stream, and one of them sends at a time. A TLS 1.2/1.3 client
// writes without reading (SSL_OP_NO_RENEGOTIATION: a server's HelloRequest
// is declined), but a read may have to write (that refusal, an alert): if
// the write is sending at that moment, it sends these bytes too, after its
// own, and the read goes on; if the read is sending when a write has
// records to send, the write waits for it (parked_), so that records go
// out whole and in order, and a write completes only once its records are
// with the next layer.
#ifndef SMTP_TRANSPORT_DETAIL_TLS_STREAM_HPP
#define SMTP_TRANSPORT_DETAIL_TLS_STREAM_HPP

#include <utility> // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <smtp/cancellation.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_state.hpp>
#endif

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

SMTP_NAMESPACE_BEGIN
namespace detail {

/// The ciphertext between OpenSSL and the next layer, held only while in
/// flight. The stream's BIO reads from `in` and appends to `out`.
struct tls_wire {
    /// One network read's buffer: room for the largest TLS record (16 KiB
    /// of plaintext, 256 of expansion, 5 of header) with some to spare.
    static constexpr std::size_t input_size = 17 * 1024;

    std::unique_ptr<unsigned char[]> in{};
    std::size_t in_pos = 0, in_end = 0;
    std::vector<unsigned char> out{};     ///< written by OpenSSL, not yet being sent
    std::vector<unsigned char> sending{}; ///< being sent by the next layer
    std::size_t sent = 0;                 ///< of `sending`
    bool alloc_failed = false;

    std::size_t available() const noexcept { return in_end - in_pos; }
    void release_input() noexcept
    {
        in.reset();
        in_pos = in_end = 0;
    }
};

/// The BIO between OpenSSL and tls_wire (one method for the process).
inline int tls_bio_read(BIO* b, char* data, std::size_t n, std::size_t* done)
{
    auto* w = static_cast<tls_wire*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    *done = 0;
    if (w->available() == 0) { // nothing yet: OpenSSL says SSL_ERROR_WANT_READ
        BIO_set_retry_read(b);
        return 0;
    }
    const std::size_t k = std::min(n, w->available());
    std::memcpy(data, w->in.get() + w->in_pos, k);
    w->in_pos += k;
    if (w->available() == 0)
        w->release_input();
    *done = k;
    return 1;
}
inline int tls_bio_write(BIO* b, const char* data, std::size_t n, std::size_t* done)
{
    auto* w = static_cast<tls_wire*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    try {
        w->out.insert(w->out.end(), data, data + n);
    } catch (const std::bad_alloc&) { // an error to OpenSSL (no retry): the operation fails
        w->alloc_failed = true;
        *done = 0;
        return 0;
    }
    *done = n;
    return 1;
}
inline long tls_bio_ctrl(BIO* b, int cmd, long, void*)
{
    auto* w = static_cast<tls_wire*>(BIO_get_data(b));
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; // the stream sends `out` itself
    case BIO_CTRL_PENDING: return static_cast<long>(w->available());
    case BIO_CTRL_WPENDING: return static_cast<long>(w->out.size());
    default: return 0; // not supported: no kTLS, no datagrams, no chaining
    }
}
inline const BIO_METHOD* tls_bio_method()
{
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "smtp tls_wire");
        if (m && (BIO_meth_set_read_ex(m, tls_bio_read) != 1 || BIO_meth_set_write_ex(m, tls_bio_write) != 1 ||
                  BIO_meth_set_ctrl(m, tls_bio_ctrl) != 1)) {
            BIO_meth_free(m);
            m = nullptr;
        }
        return m;
    }();
    return method;
}

/// TLS as a client over `Next` (see the header's comment). Neither copied
/// nor moved: OpenSSL's BIO points into it.
template <class Next>
class tls_stream {
public:
    using executor_type = typename Next::executor_type;
    /// At most this much plaintext per write_some: four full records.
    static constexpr std::size_t max_write = 4 * 16384;

    tls_stream(Next&& next, SSL_CTX* ctx) : next_(std::move(next))
    {
        const BIO_METHOD* method = tls_bio_method();
        ssl_ = method ? SSL_new(ctx) : nullptr;
        BIO* bio = ssl_ ? BIO_new(method) : nullptr;
        if (!bio) {
            SSL_free(ssl_);
            const unsigned long e = ERR_get_error();
            throw boost::system::system_error(
                e ? error_code(static_cast<int>(e), boost::asio::error::get_ssl_category())
                  : error_code(boost::asio::error::no_memory),
                "smtp: TLS stream");
        }
        BIO_set_data(bio, &wire_);
        BIO_set_init(bio, 1);
        SSL_set_bio(ssl_, bio, bio); // one BIO both ways: SSL_set_bio takes its one reference
        SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
        SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);
        SSL_set_connect_state(ssl_);
    }
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;
    ~tls_stream() { SSL_free(ssl_); }

    executor_type get_executor() { return next_.get_executor(); }
    Next& next_layer() noexcept { return next_; }
    const Next& next_layer() const noexcept { return next_; }
    SSL* native_handle() noexcept { return ssl_; }

    /// Ciphertext held now (in and out): nothing while idle.
    std::size_t buffered_bytes() const noexcept
    {
        return (wire_.in ? tls_wire::input_size : 0) + wire_.out.capacity() + wire_.sending.capacity();
    }

    /// The client handshake. Handler: void(error_code).
    template <class Handler>
    void async_handshake(Handler&& h)
    {
        start<false>(op_kind::handshake, {}, {}, std::forward<Handler>(h));
    }
    /// Handler: void(error_code, std::size_t).
    template <class Buffers, class Handler>
    void async_read_some(const Buffers& b, Handler&& h)
    {
        start(op_kind::read, first_buffer_of<boost::asio::mutable_buffer>(b), {}, std::forward<Handler>(h));
    }
    /// At most max_write octets of plaintext; completes when their records
    /// are with the next layer. Handler: void(error_code, std::size_t).
    template <class Buffers, class Handler>
    void async_write_some(const Buffers& b, Handler&& h)
    {
        start(op_kind::write, {}, first_buffer_of<boost::asio::const_buffer>(b), std::forward<Handler>(h));
    }

    /// Puts a close_notify alert in the output and returns it, when nothing
    /// else is in flight and the stream is whole; empty otherwise. The
    /// caller sends it if it can (tls_layer::close does, best effort).
    std::vector<unsigned char> take_close_notify()
    {
        if (broken_ || sending_ || reading_ || !wire_.out.empty() || !SSL_is_init_finished(ssl_))
            return {};
        ERR_clear_error();
        if (SSL_shutdown(ssl_) < 0) {
            ERR_clear_error();
            return {};
        }
        return std::exchange(wire_.out, {});
    }

private:
    enum class op_kind { handshake, read, write };
    /// What an operation does after one call into OpenSSL.
    enum class next_step { read_input, send_then_retry, send_then_done, done };

    template <class Buffer, class Buffers>
    static Buffer first_buffer_of(const Buffers& b)
    {
        const auto end = boost::asio::buffer_sequence_end(b);
        for (auto it = boost::asio::buffer_sequence_begin(b); it != end; ++it)
            if (Buffer one(*it); one.size() != 0)
                return one;
        return Buffer{};
    }

    /// One call into OpenSSL for `kind`, and what it needs next. `ec` and
    /// `n` are the operation's result when it is done (after the output is
    /// sent, when there is output).
    next_step call(op_kind kind, boost::asio::mutable_buffer in, boost::asio::const_buffer out, error_code& ec,
                   std::size_t& n)
    {
        ERR_clear_error(); // SSL_get_error reads the thread's queue: only this call's errors in it
        wire_.alloc_failed = false;
        std::size_t bytes = 0;
        int r = 0;
        switch (kind) {
        case op_kind::handshake: r = SSL_do_handshake(ssl_); break;
        case op_kind::read: r = SSL_read_ex(ssl_, in.data(), in.size(), &bytes); break;
        case op_kind::write: r = SSL_write_ex(ssl_, out.data(), std::min(out.size(), max_write), &bytes); break;
        }
        const bool output = !wire_.out.empty();
        const int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
        ec = {};
        n = 0;
        switch (e) {
        case SSL_ERROR_NONE: n = bytes; break;
        case SSL_ERROR_WANT_READ: // a record not whole yet, or a handshake message not yet come
        case SSL_ERROR_WANT_WRITE: // not from this BIO, which takes every write
            return output ? next_step::send_then_retry : next_step::read_input;
        case SSL_ERROR_ZERO_RETURN: ec = boost::asio::error::eof; break; // the peer's close_notify
        default: { // SSL_ERROR_SSL, SSL_ERROR_SYSCALL: OpenSSL's first error, as Asio reports it
            const unsigned long err = ERR_get_error();
            if (wire_.alloc_failed)
                ec = boost::asio::error::no_memory;
            else if (err != 0)
                ec = error_code(static_cast<int>(err), boost::asio::error::get_ssl_category());
            else
                ec = boost::asio::ssl::error::unspecified_system_error;
            broken_ = true;
        }
        }
        // A fatal alert OpenSSL wrote for an error is sent too: the server
        // learns why (a bad certificate, say) instead of seeing a hang-up.
        return output ? next_step::send_then_done : next_step::done;
    }

    /// An error from the next layer as ssl::stream reports it: the end of
    /// the stream is stream_truncated unless the peer's close_notify came.
    error_code network_error(error_code ec)
    {
        broken_ = true;
        if (ec == boost::asio::error::eof && !(SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN))
            return boost::asio::ssl::error::stream_truncated;
        return ec;
    }

    /// An operation in progress: the caller's handler, with its executor,
    /// allocator and cancellation slot passed on to every step it takes on
    /// the next layer (so a cancellation reaches the step that waits).
    template <class Handler, bool Sized>
    struct op {
        tls_stream* self;
        op_kind kind;
        boost::asio::mutable_buffer in;
        boost::asio::const_buffer out;
        Handler h;
        error_code ec{};
        std::size_t n = 0;
        enum class stage { calling, reading, sending, parked } at = stage::calling;
        bool retry = false;       ///< after sending, call OpenSSL again
        /// A step on the next layer has completed: the handler may be
        /// called directly, and later steps are continuations. Not before
        /// (as with Asio's own operations): the first step's completion
        /// must not be queued behind whatever else is ready, or a
        /// cancellation emitted meanwhile would find the slot holding a
        /// step already done (test_cancellation's TLS handshake case).
        bool went_async = false;

        using executor_type = boost::asio::associated_executor_t<Handler, typename tls_stream::executor_type>;
        executor_type get_executor() const noexcept
        {
            return boost::asio::get_associated_executor(h, self->next_.get_executor());
        }
        using allocator_type = boost::asio::associated_allocator_t<Handler>;
        allocator_type get_allocator() const noexcept { return boost::asio::get_associated_allocator(h); }
#if SMTP_HAS_CANCELLATION
        /// The caller's cancellation (terminal requests), as Asio's own
        /// composed operations have it: each step on the next layer gets
        /// this state's slot, and a request that came between two steps is
        /// seen before the next one starts.
        boost::asio::cancellation_state cancel_state{};
        using cancellation_slot_type = boost::asio::cancellation_slot;
        cancellation_slot_type get_cancellation_slot() const noexcept { return cancel_state.slot(); }
        bool cancelled() const noexcept { return cancel_state.cancelled() != boost::asio::cancellation_type::none; }
#else
        bool cancelled() const noexcept { return false; }
#endif
        friend bool asio_handler_is_continuation(op* o)
        {
            return o->went_async || boost_asio_handler_cont_helpers::is_continuation(o->h);
        }

        /// The completion of a step on the next layer (or the start).
        void operator()(error_code e = {}, std::size_t bytes = 0)
        {
            tls_stream& s = *self;
            if (at != stage::calling)
                went_async = true; // a step on the next layer has completed
            switch (at) {
            case stage::calling: break;
            case stage::reading:
                s.reading_ = false;
                if (e) {
                    s.wire_.release_input();
                    return finish(s.network_error(e), 0);
                }
                s.wire_.in_end = bytes; // OpenSSL takes it at the next call
                if (cancelled()) // between two steps: the next one does not start
                    return finish(boost::asio::error::operation_aborted, 0);
                break;
            case stage::sending:
                if (e) {
                    s.end_sending(e);
                    // The operation's own error (after which an alert was being sent) comes first.
                    return finish(ec ? ec : s.network_error(e), ec ? n : 0);
                }
                s.wire_.sent += bytes;
                if (s.wire_.sent < s.wire_.sending.size() || !s.wire_.out.empty())
                    return send(); // the rest; or what was written meanwhile (the other operation's)
                s.end_sending({});
                if (!retry)
                    return finish(ec, n);
                if (cancelled())
                    return finish(boost::asio::error::operation_aborted, 0);
                break;
            case stage::parked: // the read that was sending is done: this write's records went with it
                if (e)
                    return finish(e, 0);
                if (!s.wire_.out.empty()) {
                    s.sending_ = true;
                    return send();
                }
                return finish(ec, n);
            }
            // Call OpenSSL until it needs the network, or the operation is done.
            for (;;) {
                const next_step step = s.call(kind, in, out, ec, n);
                switch (step) {
                case next_step::done: return finish(ec, n);
                case next_step::send_then_done:
                case next_step::send_then_retry: {
                    retry = step == next_step::send_then_retry;
                    if (!s.sending_) {
                        s.sending_ = true;
                        return send();
                    }
                    if (kind == op_kind::write) { // the read is sending: this write waits for it
                        s.parked_ = std::make_unique<parked<op>>(std::move(*this));
                        return;
                    }
                    // The write is sending: it sends this too (a read may complete before).
                    if (!retry)
                        return finish(ec, n);
                    return read_input();
                }
                case next_step::read_input:
                    if (s.reading_) { // a write that wants to read while a read does: not in TLS 1.2/1.3 without renegotiation
                        s.broken_ = true;
                        return finish(boost::asio::error::in_progress, 0);
                    }
                    return read_input();
                }
            }
        }

        void read_input()
        {
            tls_stream& s = *self;
            if (!s.wire_.in) {
                s.wire_.in.reset(new (std::nothrow) unsigned char[tls_wire::input_size]);
                if (!s.wire_.in)
                    return finish(boost::asio::error::no_memory, 0);
            }
            s.wire_.in_pos = s.wire_.in_end = 0;
            s.reading_ = true;
            at = stage::reading;
            s.next_.async_read_some(boost::asio::mutable_buffer(s.wire_.in.get(), tls_wire::input_size),
                                    std::move(*this));
        }

        void send()
        {
            tls_stream& s = *self;
            if (s.wire_.sent == s.wire_.sending.size()) { // take what OpenSSL wrote since
                s.wire_.sending = std::exchange(s.wire_.out, {});
                s.wire_.sent = 0;
            }
            at = stage::sending;
            s.next_.async_write_some(
                boost::asio::const_buffer(s.wire_.sending.data() + s.wire_.sent, s.wire_.sending.size() - s.wire_.sent),
                std::move(*this));
        }

        /// void(error_code, std::size_t), or void(error_code) for the handshake.
        static void call_handler(Handler&& handler, error_code e, std::size_t bytes)
        {
            if constexpr (Sized)
                std::move(handler)(e, bytes);
            else
                std::move(handler)(e);
        }

        void finish(error_code e, std::size_t bytes)
        {
            if (went_async)
                return call_handler(std::move(h), e, bytes);
            // Done without waiting (the plaintext was already here, or an
            // empty buffer): the handler runs later, never inside the call.
            auto ex = boost::asio::get_associated_executor(h, self->next_.get_executor());
            boost::asio::post(ex, [h = std::move(h), e, bytes]() mutable { call_handler(std::move(h), e, bytes); });
        }
    };

    /// A write waiting while a read sends (see the header's comment).
    struct parked_base {
        virtual ~parked_base() = default;
        virtual void resume(error_code e) = 0;
    };
    template <class Op>
    struct parked final : parked_base {
        Op o;
        explicit parked(Op&& op) : o(std::move(op)) {}
        void resume(error_code e) override
        {
            o.at = Op::stage::parked;
            o.went_async = true;
            auto ex = o.get_executor();
            boost::asio::post(ex, [o = std::move(o), e]() mutable { o(e, 0); });
        }
    };

    /// The end of a send: nothing held; a parked write goes on, with the
    /// send's error if it failed.
    void end_sending(error_code e)
    {
        sending_ = false;
        std::vector<unsigned char>().swap(wire_.sending); // freed: nothing held while idle (`= {}` would keep it)
        wire_.sent = 0;
        if (e)
            broken_ = true;
        if (auto p = std::move(parked_))
            p->resume(e ? network_error(e) : error_code{});
    }

    template <bool Sized = true, class Handler>
    void start(op_kind kind, boost::asio::mutable_buffer in, boost::asio::const_buffer out, Handler&& h)
    {
        op<std::decay_t<Handler>, Sized> o{this, kind, in, out, std::forward<Handler>(h)};
#if SMTP_HAS_CANCELLATION
        if (auto slot = boost::asio::get_associated_cancellation_slot(o.h); slot.is_connected())
            o.cancel_state = boost::asio::cancellation_state(slot);
#endif
        if ((kind == op_kind::read && in.size() == 0) || (kind == op_kind::write && out.size() == 0))
            return o.finish({}, 0); // nothing asked: nothing done, as with any stream
        o();
    }

    Next next_;
    SSL* ssl_ = nullptr;
    tls_wire wire_{};
    bool reading_ = false; ///< an operation waits on the next layer's read
    bool sending_ = false; ///< an operation sends wire_.sending
    bool broken_ = false;  ///< an error happened: no close_notify after it
    std::unique_ptr<parked_base> parked_{};
};

} // namespace detail
SMTP_NAMESPACE_END

#endif

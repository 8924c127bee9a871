/// \file smtp/transport/scripted.hpp
///
/// An in-memory transport for tests: a script of what the client must write
/// and what the server answers, checked byte for byte, with an error
/// injectable at any I/O step.
///
/// ```
///   auto script = std::make_shared<smtp::transport::script>();
///   script->respond("220 mx ready\r\n")
///          .expect("EHLO client.example\r\n").respond("250 mx\r\n")
///          .expect("QUIT\r\n").respond("221 bye\r\n");
///   script->fail_at(3, boost::asio::error::connection_reset); // optional
/// ```
///
/// Writes that differ from what the script expects fail with
/// errc::script_mismatch (and the test sees both in script->log()).
#ifndef SMTP_TRANSPORT_SCRIPTED_HPP
#define SMTP_TRANSPORT_SCRIPTED_HPP

#include <utility>

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

SMTP_NAMESPACE_BEGIN
namespace transport {

class script {
public:
    enum class kind { expect, respond, handshake, close, stall };
    struct step {
        kind k;
        std::string bytes;
    };

    script& expect(std::string bytes) { return add(kind::expect, std::move(bytes)); }
    script& respond(std::string bytes) { return add(kind::respond, std::move(bytes)); }
    script& handshake() { return add(kind::handshake, {}); }
    script& close() { return add(kind::close, {}); }
    /// The server goes silent: the next read never completes (until the
    /// client gives up: cancel(), as a timeout does).
    script& stall() { return add(kind::stall, {}); }
    /// Nobody answers: the connect never completes (until cancel(), as the
    /// connect timeout does).
    script& stall_connect()
    {
        connect_stalls_ = true;
        return *this;
    }

    /// The n-th I/O operation (connect is 1, then each read, write or
    /// handshake) fails with ec instead of happening.
    script& fail_at(unsigned n, error_code ec)
    {
        fail_at_ = n;
        fail_ec_ = ec;
        return *this;
    }

    /// Everything the client wrote, in order.
    const std::string& written() const noexcept { return written_; }
    /// Each write the client made, as it made it (how commands were grouped).
    const std::vector<std::string>& writes() const noexcept { return writes_; }
    /// True when every step was played.
    bool done() const noexcept { return steps_.empty() && pending_.empty(); }
    /// I/O operations started so far.
    unsigned operations() const noexcept { return ops_; }
    /// What went wrong, for a test's message.
    const std::string& log() const noexcept { return log_; }
    bool encrypted() const noexcept { return encrypted_; }
    bool closed_by_client() const noexcept { return client_closed_; }

private:
    friend class scripted;
    script& add(kind k, std::string b)
    {
        steps_.push_back({k, std::move(b)});
        return *this;
    }
    /// Moves server bytes from the script into pending_ while the script's next step is a response.
    void pump()
    {
        while (!steps_.empty() && steps_.front().k == kind::respond) {
            pending_ += steps_.front().bytes;
            steps_.pop_front();
        }
    }
    std::optional<error_code> injected()
    {
        if (++ops_ == fail_at_)
            return fail_ec_;
        return std::nullopt;
    }

    std::deque<step> steps_;
    std::string pending_;     // server bytes ready to be read
    std::string written_;     // all the client wrote
    std::vector<std::string> writes_; // each write, as made
    std::string expect_buf_;  // the client's bytes not yet matched against an expect step
    std::string log_;
    unsigned ops_ = 0, fail_at_ = 0;
    error_code fail_ec_{};
    bool encrypted_ = false, server_closed_ = false, client_closed_ = false, connect_stalls_ = false;
};

class scripted {
public:
    using policy_category = transport_category;
    using executor_type = boost::asio::any_io_executor;

    scripted(executor_type ex, std::shared_ptr<script> s) : ex_(std::move(ex)), s_(std::move(s)) {}

    executor_type get_executor() const { return ex_; }
    bool encrypted() const noexcept { return s_->encrypted_; }
    const std::shared_ptr<script>& get_script() const noexcept { return s_; }

    template <class Handler>
    void async_connect(const connect_options&, Handler&& handler)
    {
        error_code ec = s_->injected().value_or(error_code{});
        if (!ec && s_->connect_stalls_) {
            stalled_ = std::make_unique<pending<std::decay_t<Handler>>>(std::forward<Handler>(handler));
            return;
        }
        post_result(std::forward<Handler>(handler), ec);
    }

    template <class Handler>
    void async_read_some(boost::asio::mutable_buffer b, Handler&& handler)
    {
        if (auto ec = s_->injected())
            return post_result(std::forward<Handler>(handler), *ec, std::size_t(0));
        s_->pump();
        if (s_->pending_.empty() && !s_->steps_.empty() && s_->steps_.front().k == kind::stall) {
            s_->steps_.pop_front();
            stalled_ = std::make_unique<pending<std::decay_t<Handler>>>(std::forward<Handler>(handler));
            return;
        }
        if (s_->pending_.empty()) {
            if (!s_->steps_.empty() && s_->steps_.front().k == kind::close) {
                s_->steps_.pop_front();
                s_->server_closed_ = true;
            }
            if (s_->server_closed_ || s_->steps_.empty())
                return post_result(std::forward<Handler>(handler), error_code(boost::asio::error::eof),
                                   std::size_t(0));
            // The client reads while the script waits for it to write: a deadlock in a real server.
            s_->log_ += "client reads while the script expects a write or handshake\n";
            return post_result(std::forward<Handler>(handler), error_code(errc::script_mismatch), std::size_t(0));
        }
        const std::size_t n = std::min(b.size(), s_->pending_.size());
        std::memcpy(b.data(), s_->pending_.data(), n);
        s_->pending_.erase(0, n);
        post_result(std::forward<Handler>(handler), error_code{}, n);
    }

    template <class Handler>
    void async_write(boost::asio::const_buffer b, Handler&& handler)
    {
        if (auto ec = s_->injected())
            return post_result(std::forward<Handler>(handler), *ec, std::size_t(0));
        const std::string_view bytes(static_cast<const char*>(b.data()), b.size());
        s_->written_.append(bytes);
        s_->writes_.emplace_back(bytes);
        if (s_->server_closed_ || (s_->pending_.empty() && !s_->steps_.empty() && s_->steps_.front().k == kind::close)) {
            // Like a socket whose peer has closed: the write succeeds, the
            // bytes go nowhere, and the next read sees the end of stream.
            s_->server_closed_ = true;
            if (!s_->steps_.empty() && s_->steps_.front().k == kind::close)
                s_->steps_.pop_front();
            return post_result(std::forward<Handler>(handler), error_code{}, b.size());
        }
        s_->expect_buf_.append(bytes);
        // Match what was written against the expect steps, in order.
        while (!s_->expect_buf_.empty()) {
            if (s_->steps_.empty() || s_->steps_.front().k != kind::expect) {
                s_->log_ += "unexpected write: " + s_->expect_buf_ + "\n";
                return post_result(std::forward<Handler>(handler), error_code(errc::script_mismatch), b.size());
            }
            std::string& want = s_->steps_.front().bytes;
            const std::size_t n = std::min(want.size(), s_->expect_buf_.size());
            if (want.compare(0, n, s_->expect_buf_, 0, n) != 0) {
                s_->log_ += "expected: " + want + "\n     got: " + s_->expect_buf_ + "\n";
                return post_result(std::forward<Handler>(handler), error_code(errc::script_mismatch), b.size());
            }
            want.erase(0, n);
            s_->expect_buf_.erase(0, n);
            if (want.empty())
                s_->steps_.pop_front();
        }
        post_result(std::forward<Handler>(handler), error_code{}, b.size());
    }

    template <class Handler>
    void async_handshake(const connect_options&, bool, Handler&& handler)
    {
        if (auto ec = s_->injected())
            return post_result(std::forward<Handler>(handler), *ec);
        if (!s_->pending_.empty()) // what the server sent before the handshake stays unread here
            s_->log_ += "server bytes before the handshake were left unread\n";
        if (s_->steps_.empty() || s_->steps_.front().k != kind::handshake) {
            s_->log_ += "unexpected TLS handshake\n";
            return post_result(std::forward<Handler>(handler), error_code(errc::script_mismatch));
        }
        s_->steps_.pop_front();
        s_->encrypted_ = true;
        post_result(std::forward<Handler>(handler), error_code{});
    }

    /// Completes a stalled read (or connect) with operation_aborted.
    void cancel()
    {
        if (stalled_) {
            auto p = std::move(stalled_);
            boost::asio::post(ex_, [p = std::shared_ptr<pending_base>(std::move(p))] { p->abort(); });
        }
    }
    void close() { s_->client_closed_ = true; }

private:
    using kind = script::kind;

    template <class Handler, class... Args>
    void post_result(Handler&& h, Args... args)
    {
        boost::asio::post(ex_, [h = std::forward<Handler>(h), args...]() mutable { h(args...); });
    }

    struct pending_base {
        virtual ~pending_base() = default;
        virtual void abort() = 0;
    };
    template <class H>
    struct pending final : pending_base {
        H h;
        explicit pending(H&& x) : h(std::move(x)) {}
        void abort() override { std::move(h)(error_code(boost::asio::error::operation_aborted), std::size_t(0)); }
    };

    executor_type ex_;
    std::shared_ptr<script> s_;
    std::unique_ptr<pending_base> stalled_{};
};

} // namespace transport
SMTP_NAMESPACE_END

#endif

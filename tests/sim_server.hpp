// An SMTP server in memory, for the pool's retry, throttling and duplicate
// tests (and the throttling benchmark): unlike transport::scripted, it
// answers whatever comes (EHLO, MAIL, RCPT, DATA, BDAT, RSET, NOOP, QUIT,
// pipelined or not), keeps a store of what it took (each message's
// Message-ID and recipient, counted), counts its concurrent connections,
// refuses those above a capacity with 421, and drops a connection at the
// point a fault plan names: before a reply, after storing but before the
// reply, after writing the reply but losing it (a reset), mid-data, mid-BDAT.
//
//   auto srv = std::make_shared<sim::server>();
//   srv->plan = [](std::size_t n) { return sim::fault::none; };   // n: the server's n-th MAIL
//   smtp::pool<smtp::policies<sim::transport, smtp::tls::none>> pool(ex, opts, po,
//       [srv](auto ex) { return sim::transport(ex, srv); });
//
// A drop is a FIN (what was written stays readable, then end of stream) or
// a reset (what was written and not read is lost; a write that still had
// bytes to deliver fails with connection_reset, as a write racing a RST
// does; one that had delivered them all succeeds: the client cannot tell).
#ifndef SMTP_TESTS_SIM_SERVER_HPP
#define SMTP_TESTS_SIM_SERVER_HPP

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sim {

enum class fault {
    none,
    drop_at_mail,      ///< MAIL arrives; FIN before its reply (the previous message's reply went out)
    drop_at_rcpt,      ///< the first RCPT arrives; FIN before its reply
    drop_at_data,      ///< DATA arrives; FIN before 354
    drop_mid_data,     ///< reset after the first bytes of the data
    drop_before_store, ///< the end of data arrives; FIN before the message is stored
    drop_after_store,  ///< stored; FIN before the reply
    reply_lost,        ///< stored and 250 written, then a reset: the client never reads it
    reply_then_close,  ///< stored, 250 written, then FIN: the client reads it, then end of stream
    mid_bdat,          ///< BDAT: reset after a chunk that is not the last
    refuse_mail_421,   ///< 421 4.7.0 to MAIL, then FIN
    refuse_final_451,  ///< 451 4.7.1 to the end of data: not stored
    rcpt_450,          ///< 450 4.2.1 to the first RCPT
    count
};

struct server {
    bool pipelining = true;
    bool chunking = false;
    /// Concurrent connections it serves; one more is greeted with 421 4.7.0 and closed.
    std::size_t capacity = std::numeric_limits<std::size_t>::max();
    /// The fault for the n-th MAIL (0, 1, ...) the server sees.
    std::function<fault(std::size_t)> plan = [](std::size_t) { return fault::none; };

    std::map<std::string, int> store; ///< "Message-ID|recipient": times stored
    /// Connections the clients hold (a connection the server closed counts
    /// until the client closes it too), the most at once, in all, refused.
    std::size_t open = 0, most_open = 0, connections = 0, refused_connections = 0, mails = 0;
    std::vector<std::size_t> open_at_connect; ///< `open` as each connection came (itself included)

    int stored(const std::string& id, const std::string& rcpt) const
    {
        const auto it = store.find(id + "|" + rcpt);
        return it == store.end() ? 0 : it->second;
    }
};

/// One connection's server side.
class connection {
public:
    explicit connection(std::shared_ptr<server> s) : srv_(std::move(s)) {}
    ~connection() { end(); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void connect()
    {
        auto& s = *srv_;
        ++s.connections;
        ++s.open;
        counted_ = true;
        s.most_open = std::max(s.most_open, s.open);
        s.open_at_connect.push_back(s.open);
        if (s.open > s.capacity) {
            ++s.refused_connections;
            out_ += "421 4.7.0 too many connections, slow down\r\n";
            return drop(false);
        }
        out_ += "220 sim ESMTP\r\n";
    }

    /// The client's bytes; false when a reset cut them off before the last.
    bool receive(std::string_view in)
    {
        while (!in.empty() && !closed_) {
            const std::size_t used = step(in);
            in.remove_prefix(used);
            if (closed_ && reset_ && !in.empty())
                return false;
        }
        return true;
    }

    std::string out_;
    bool closed_ = false, reset_ = false;

    /// The client closed (or the transport went away).
    void end()
    {
        closed_ = true;
        if (counted_) {
            counted_ = false;
            --srv_->open;
        }
    }

private:
    enum class mode { command, data, bdat };

    /// The server closes its side; the connection counts as open until
    /// the client closes too (as a socket does).
    void drop(bool reset)
    {
        if (reset) {
            out_.clear();
            reset_ = true;
        }
        closed_ = true;
    }
    void reply(std::string_view r) { out_.append(r); }

    /// Consumes some of `in`; returns how much.
    std::size_t step(std::string_view in)
    {
        if (mode_ == mode::data) {
            data_.append(in);
            if (fault_ == fault::drop_mid_data) {
                // The first bytes arrived; the rest never does.
                const std::size_t got = std::min<std::size_t>(in.size(), 8);
                drop(true);
                return got;
            }
            const auto end = data_.find("\r\n.\r\n");
            if (end == std::string::npos)
                return in.size();
            const std::size_t used = in.size() - (data_.size() - (end + 5));
            data_.resize(end + 2);
            mode_ = mode::command;
            end_of_data();
            return used;
        }
        if (mode_ == mode::bdat) {
            const std::size_t n = std::min(in.size(), bdat_left_);
            data_.append(in.substr(0, n));
            bdat_left_ -= n;
            if (bdat_left_ == 0) {
                mode_ = mode::command;
                if (bdat_last_)
                    end_of_data();
                else if (fault_ == fault::mid_bdat)
                    drop(true);
                else
                    reply("250 2.0.0 chunk ok\r\n");
            }
            return n;
        }
        line_.append(in);
        const auto lf = line_.find("\r\n");
        if (lf == std::string::npos)
            return in.size();
        const std::size_t used = in.size() - (line_.size() - (lf + 2));
        const std::string cmd = line_.substr(0, lf);
        line_.clear();
        command(cmd);
        return used;
    }

    static bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

    void command(const std::string& c)
    {
        if (starts(c, "EHLO ")) {
            std::string r = "250-sim\r\n250-ENHANCEDSTATUSCODES\r\n";
            if (srv_->pipelining)
                r += "250-PIPELINING\r\n";
            if (srv_->chunking)
                r += "250-CHUNKING\r\n";
            r += "250 8BITMIME\r\n";
            return reply(r);
        }
        if (starts(c, "MAIL FROM:")) {
            fault_ = srv_->plan(srv_->mails++);
            rcpts_.clear();
            data_.clear();
            in_tx_ = true;
            if (fault_ == fault::drop_at_mail)
                return drop(false);
            if (fault_ == fault::refuse_mail_421) {
                reply("421 4.7.0 too busy, slow down\r\n");
                return drop(false);
            }
            return reply("250 2.1.0 ok\r\n");
        }
        if (starts(c, "RCPT TO:<")) {
            if (!in_tx_)
                return reply("503 5.5.1 MAIL first\r\n");
            const bool first = !rcpt_seen_;
            rcpt_seen_ = true;
            if (first && fault_ == fault::drop_at_rcpt)
                return drop(false);
            if (first && fault_ == fault::rcpt_450)
                return reply("450 4.2.1 try this one later\r\n");
            rcpts_.push_back(c.substr(9, c.find('>') - 9));
            return reply("250 2.1.5 ok\r\n");
        }
        if (c == "DATA") {
            if (fault_ == fault::drop_at_data)
                return drop(false);
            if (!in_tx_ || rcpts_.empty())
                return reply("554 5.5.1 no valid recipients\r\n");
            mode_ = mode::data;
            data_.clear();
            return reply("354 go ahead\r\n");
        }
        if (starts(c, "BDAT ")) {
            const std::string_view rest = std::string_view(c).substr(5);
            bdat_left_ = std::stoul(std::string(rest));
            bdat_last_ = rest.find(" LAST") != std::string_view::npos;
            mode_ = mode::bdat;
            return;
        }
        if (c == "RSET") {
            reset_tx();
            return reply("250 2.0.0 ok\r\n");
        }
        if (c == "NOOP")
            return reply("250 2.0.0 ok\r\n");
        if (c == "QUIT") {
            reply("221 2.0.0 bye\r\n");
            return drop(false);
        }
        reply("500 5.5.2 what\r\n");
    }

    void end_of_data()
    {
        if (!in_tx_ || rcpts_.empty()) { // BDAT after refused recipients
            reset_tx();
            return reply("554 5.5.1 no valid recipients\r\n");
        }
        const fault f = fault_;
        if (f == fault::drop_before_store)
            return drop(false);
        if (f == fault::refuse_final_451) {
            reset_tx();
            return reply("451 4.7.1 rate limited, try later\r\n");
        }
        const std::string id = message_id();
        for (const auto& r : rcpts_)
            ++srv_->store[id + "|" + r];
        reset_tx();
        if (f == fault::drop_after_store)
            return drop(false);
        reply("250 2.0.0 queued\r\n");
        if (f == fault::reply_lost)
            return drop(true);
        if (f == fault::reply_then_close)
            return drop(false);
    }

    std::string message_id() const
    {
        const auto at = data_.find("Message-ID: <");
        if (at == std::string::npos)
            return "?";
        const auto start = at + 13;
        return data_.substr(start, data_.find('>', start) - start);
    }

    void reset_tx()
    {
        in_tx_ = rcpt_seen_ = false;
        rcpts_.clear();
        fault_ = fault::none;
    }

    std::shared_ptr<server> srv_;
    mode mode_ = mode::command;
    fault fault_ = fault::none;
    bool in_tx_ = false, rcpt_seen_ = false, bdat_last_ = false, counted_ = false;
    std::size_t bdat_left_ = 0;
    std::vector<std::string> rcpts_;
    std::string line_, data_;
};

/// The client's side: a session transport over a connection.
class transport {
public:
    using policy_category = smtp::transport_category;
    using executor_type = boost::asio::any_io_executor;

    transport(executor_type ex, std::shared_ptr<server> s)
        : ex_(std::move(ex)), c_(std::make_unique<connection>(std::move(s)))
    {}

    executor_type get_executor() const { return ex_; }
    bool encrypted() const noexcept { return false; }

    template <class H>
    void async_connect(const smtp::connect_options&, H&& h)
    {
        c_->connect();
        post(std::forward<H>(h), smtp::error_code{});
    }
    template <class H>
    void async_handshake(const smtp::connect_options&, bool, H&& h)
    {
        post(std::forward<H>(h), smtp::error_code(smtp::errc::script_mismatch));
    }
    template <class H>
    void async_read_some(boost::asio::mutable_buffer b, H&& h)
    {
        if (c_->out_.empty()) {
            const smtp::error_code ec = c_->reset_ ? smtp::error_code(boost::asio::error::connection_reset)
                                      : c_->closed_ ? smtp::error_code(boost::asio::error::eof)
                                                    : smtp::error_code(smtp::errc::script_mismatch); // nothing asked
            return post(std::forward<H>(h), ec, std::size_t(0));
        }
        const std::size_t n = std::min(b.size(), c_->out_.size());
        std::memcpy(b.data(), c_->out_.data(), n);
        c_->out_.erase(0, n);
        post(std::forward<H>(h), smtp::error_code{}, n);
    }
    template <class H>
    void async_write(boost::asio::const_buffer b, H&& h)
    {
        if (c_->closed_) {
            // Like a socket whose peer closed: the first write succeeds and
            // its bytes go nowhere; the peer's RST fails the ones after it.
            if (c_->reset_ || std::exchange(wrote_after_close_, true))
                return post(std::forward<H>(h), smtp::error_code(boost::asio::error::connection_reset), std::size_t(0));
            return post(std::forward<H>(h), smtp::error_code{}, b.size());
        }
        const bool whole = c_->receive(std::string_view(static_cast<const char*>(b.data()), b.size()));
        if (!whole)
            return post(std::forward<H>(h), smtp::error_code(boost::asio::error::connection_reset), std::size_t(0));
        post(std::forward<H>(h), smtp::error_code{}, b.size());
    }
    void cancel() {}
    void close() { c_->end(); }

private:
    template <class H, class... A>
    void post(H&& h, A... a)
    {
        boost::asio::post(ex_, [h = std::forward<H>(h), a...]() mutable { std::move(h)(a...); });
    }
    executor_type ex_;
    std::unique_ptr<connection> c_;
    bool wrote_after_close_ = false;
};

static_assert(smtp::transport::session_transport<transport>);

} // namespace sim

#endif

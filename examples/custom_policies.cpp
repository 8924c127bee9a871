// Composing a session from policies of your own: a SASL mechanism, a
// logger, and a session transport that wraps another one. Runs against the
// scripted in-memory transport, so it needs no server; the same wrapper works
// over TCP as metered<smtp::transport::tls_layer<smtp::transport::tcp>> (a
// stream of your own under the library's TLS: examples/counting_stream.cpp).
#include "sasl_anonymous.hpp"

#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>
#include <smtp/transport/tcp.hpp>

#include <iostream>
#include <memory>
#include <string>

// 1. A SASL mechanism: any type with a name, an initial response, an answer
//    to each challenge, and a verdict. sasl_anonymous.hpp has one, the
//    ANONYMOUS mechanism (RFC 4505); test_sasl.cpp tests it.

// 2. A logger: two hooks, and its policy category. This one counts.
struct counting_logger {
    using policy_category = smtp::log_category;
    static constexpr bool enabled = true;
    std::shared_ptr<int> commands = std::make_shared<int>(0), replies = std::make_shared<int>(0);
    void on_send(std::string_view, smtp::log::sent) const { ++*commands; }
    void on_reply(const smtp::reply_view&, bool) const { ++*replies; }
};
static_assert(smtp::logger<counting_logger>);

// 3. A session transport: the async operations the session's driver calls,
//    TLS included. This one wraps another session transport and counts the
//    bytes that go out (before TLS, when there is TLS).
template <class Inner>
class metered {
public:
    using policy_category = smtp::transport_category;
    using executor_type = typename Inner::executor_type;

    template <class... A>
    explicit metered(executor_type ex, A&&... a) : inner_(std::move(ex), std::forward<A>(a)...)
    {}

    executor_type get_executor() { return inner_.get_executor(); }
    bool encrypted() const noexcept { return inner_.encrypted(); }
    std::size_t bytes_sent() const noexcept { return sent_; }

    template <class H>
    void async_connect(const smtp::connect_options& o, H&& h) { inner_.async_connect(o, std::forward<H>(h)); }
    template <class H>
    void async_read_some(boost::asio::mutable_buffer b, H&& h) { inner_.async_read_some(b, std::forward<H>(h)); }
    template <class H>
    void async_write(boost::asio::const_buffer b, H&& h)
    {
        sent_ += b.size();
        inner_.async_write(b, std::forward<H>(h));
    }
    template <class H>
    void async_handshake(const smtp::connect_options& o, bool verify, H&& h)
    {
        inner_.async_handshake(o, verify, std::forward<H>(h));
    }
    void cancel() { inner_.cancel(); }
    void close() { inner_.close(); }

private:
    Inner inner_;
    std::size_t sent_ = 0;
};
static_assert(smtp::transport_policy<metered<smtp::transport::scripted>>);
static_assert(smtp::transport::session_transport<metered<smtp::transport::tls_layer<smtp::transport::tcp>>>);

int main()
{
    // Named, in any order; the kinds not named keep their defaults.
    using my_policies = smtp::policies<counting_logger, smtp::auth::mechanisms<anonymous>,
                                       metered<smtp::transport::scripted>, smtp::tls::opportunistic,
                                       smtp::auth::allow_plaintext>;

    auto script = std::make_shared<smtp::transport::script>();
    script->respond("220 mx.example ESMTP\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250 AUTH ANONYMOUS PLAIN\r\n")
        .expect("AUTH ANONYMOUS Z3Vlc3Q=\r\n")
        .respond("235 2.7.0 welcome, guest\r\n")
        .expect("QUIT\r\n")
        .respond("221 2.0.0 bye\r\n");

    smtp::connect_options options;
    options.local_name = "client.example";
    counting_logger log;
    //! [connect]
    auto session = smtp::connect<my_policies>(options, log, script); // the logger, then the transport's script
    //! [connect]
    auto greeted = std::move(session).ehlo();
    auto authenticated = std::move(greeted).login("guest", "");
    const std::size_t sent = authenticated.transport().bytes_sent();
    std::move(authenticated).quit();

    std::cout << "commands logged: " << *log.commands << ", replies logged: " << *log.replies
              << ", bytes sent before QUIT: " << sent << ", script played: " << (script->done() ? "yes" : "no")
              << '\n';
    return script->done() ? 0 : 1;
}

// A stream transport of one's own: it wraps transport::tcp and counts the
// bytes that cross the wire. Named as the transport policy, it gets the
// session's TLS layer over it (transport::tls_layer), so STARTTLS and the
// certificate check work as over tcp, and what it counts after STARTTLS is
// TLS records, not SMTP. docs/policies.md shows it.
//
//   counting_stream HOST PORT CA_FILE      (a STARTTLS server)
#include <smtp/client.hpp>
#include <smtp/transport/tcp.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

//! [stream]
/// Counts what goes out and comes in, over TCP. A stream transport: connect,
/// read some, write some, cancel, close (smtp::transport::stream_transport).
class counting_tcp {
public:
    using policy_category = smtp::transport_category;
    using executor_type = smtp::transport::tcp::executor_type;

    explicit counting_tcp(executor_type ex) : tcp_(std::move(ex)) {}

    executor_type get_executor() { return tcp_.get_executor(); }
    std::size_t bytes_out() const noexcept { return out_; }
    std::size_t bytes_in() const noexcept { return in_; }

    template <class H>
    void async_connect(const smtp::connect_options& o, H&& h)
    {
        tcp_.async_connect(o, std::forward<H>(h));
    }
    template <class H>
    void async_read_some(boost::asio::mutable_buffer b, H&& h)
    {
        tcp_.async_read_some(b, [this, h = std::forward<H>(h)](smtp::error_code ec, std::size_t n) mutable {
            in_ += n;
            std::move(h)(ec, n);
        });
    }
    template <class H>
    void async_write_some(boost::asio::const_buffer b, H&& h)
    {
        tcp_.async_write_some(b, [this, h = std::forward<H>(h)](smtp::error_code ec, std::size_t n) mutable {
            out_ += n;
            std::move(h)(ec, n);
        });
    }
    void cancel() { tcp_.cancel(); }
    void close() { tcp_.close(); }

    /// Optional: each address the connect tried, for errors that name them.
    const auto& connect_attempts() const noexcept { return tcp_.connect_attempts(); }

private:
    smtp::transport::tcp tcp_;
    std::size_t out_ = 0, in_ = 0;
};
static_assert(smtp::transport::stream_transport<counting_tcp> && smtp::transport_policy<counting_tcp>);

// The session talks to the TLS layer over it.
using counted = smtp::policies<counting_tcp>; // tls::starttls, verified: the defaults
static_assert(std::is_same_v<counted::transport, smtp::transport::tls_layer<counting_tcp>>);
//! [stream]

int main(int argc, char** argv)
{
    const int port = argc > 2 ? std::atoi(argv[2]) : 0;
    if (argc != 4 || port < 1 || port > 65535) {
        std::cerr << "usage: counting_stream HOST PORT CA_FILE\n";
        return 2;
    }
    try {
        smtp::connect_options options;
        options.host = argv[1];
        options.port = static_cast<std::uint16_t>(port);
        options.tls.ca_file = argv[3];
        //! [use]
        auto greeted = smtp::connect<counted>(options).ehlo();
        const std::size_t in_clear = greeted.transport().next_layer().bytes_out(); // EHLO
        auto session = std::move(greeted).starttls().ehlo();
        session.sendmail("author@example.com", {"recipient@example.com"}, "Subject: counted\r\n\r\nHello.\r\n");
        const counting_tcp& wire = session.transport().next_layer();
        std::cout << "in clear: " << in_clear << " bytes out; in all: " << wire.bytes_out() << " out, "
                  << wire.bytes_in() << " in, TLS included\n";
        //! [use]
        const bool counted_tls = wire.bytes_out() > in_clear + 200; // a ClientHello alone is larger
        std::move(session).quit();
        return counted_tls ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "counting_stream: " << e.what() << '\n';
        return 1;
    }
}

// Compile-time benchmark (benchmarks/run_e2e.py): Boost.Asio and its OpenSSL
// layer alone, with a trivial use of each: the reference for the other two.
#include <utility> // first: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

int main()
{
    boost::asio::io_context io;
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(io, ctx);
    boost::system::error_code ec;
    stream.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), 25}, ec);
    io.run();
    return ec ? 1 : 0;
}

// A deadline of one's own on an asynchronous operation, with Asio's
// awaitable operators: `op || timer` lets the first to finish win and
// cancels the other (docs/tutorial.md, "Cancellation"). Here the connect
// (greeting included) gets MILLISECONDS; a server that accepts and never
// greets is given up on then, whatever connect_options::timeouts say.
// Needs per-operation cancellation (Boost 1.77 or later:
// SMTP_HAS_CANCELLATION) and co_await.
//
//   deadline HOST PORT MILLISECONDS
#include <smtp/client.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#if SMTP_HAS_CANCELLATION && defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

using P = smtp::policies<smtp::tls::none>; // a local test server: no TLS

//! [deadline]
boost::asio::awaitable<int> send(smtp::connect_options options, std::chrono::milliseconds limit)
{
    using namespace boost::asio::experimental::awaitable_operators;
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(executor, limit);
    // The first to complete wins; the other is cancelled. A cancelled
    // operation completes with operation_aborted and its session is broken.
    auto first = co_await (smtp::async_connect<P>(executor, options, boost::asio::use_awaitable) ||
                           timer.async_wait(boost::asio::use_awaitable));
    if (first.index() == 1) {
        std::cout << "no greeting within " << limit.count() << " ms: gave up\n";
        co_return 1;
    }
    auto session = (co_await std::move(*std::get<0>(first)).async_ehlo(boost::asio::use_awaitable)).value();
    const std::vector<std::string> to{"recipient@example.com"};
    smtp::transaction_result result = co_await session.async_sendmail(
        "author@example.com", to, std::string("Subject: in time\r\n\r\nHello.\r\n"), boost::asio::use_awaitable);
    std::cout << "queued: " << result.queued() << '\n';
    co_await std::move(session).async_quit(boost::asio::use_awaitable);
    co_return 0;
}
//! [deadline]

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::cerr << "usage: deadline HOST PORT MILLISECONDS\n";
        return 2;
    }
    smtp::connect_options options;
    options.host = argv[1];
    options.port = static_cast<std::uint16_t>(std::stoi(argv[2]));
    const std::chrono::milliseconds limit(std::stoi(argv[3]));
    boost::asio::io_context io;
    int status = 0;
    boost::asio::co_spawn(io, send(options, limit), [&](std::exception_ptr e, int s) {
        status = s;
        if (!e)
            return;
        status = 1;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "deadline: " << x.what() << '\n';
        }
    });
    io.run(); // returns once the winner is done: the cancelled connect left nothing behind
    return status;
}
#else
int main()
{
    std::cout << "deadline: needs per-operation cancellation (Boost 1.77 or later) and co_await\n";
    return 0;
}
#endif

// The asynchronous forms with C++20 coroutines: connect, EHLO, send a
// message and QUIT, each step a co_await on Asio's use_awaitable (docs/tutorial.md,
// "Asynchronous use"). Every transition has an async_ form that takes any
// Asio completion token; a callback, a future or use_awaitable.
//
//   coroutine [HOST [PORT]]      (localhost 1025: ./run demo's server)
#include <smtp/client.hpp>

#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

using P = smtp::policies<smtp::tls::none>; // a local test server: no TLS

//! [coroutine]
boost::asio::awaitable<void> send(smtp::connect_options options)
{
    auto executor = co_await boost::asio::this_coro::executor;
    auto c = co_await smtp::async_connect<P>(executor, options, boost::asio::use_awaitable);
    // Every operation completes with (error_code, result); use_awaitable
    // throws the error and gives the result: here the step to the next state.
    auto session = (co_await std::move(*c).async_ehlo(boost::asio::use_awaitable)).value();
    const std::vector<std::string> to{"recipient@example.com"};
    // A temporary message is kept by the operation until it completes.
    smtp::transaction_result result = co_await session.async_sendmail(
        "author@example.com", to, std::string("Subject: from a coroutine\r\n\r\nHello.\r\n"),
        boost::asio::use_awaitable);
    std::cout << "queued: " << result.queued() << ", " << result.final_reply.message() << '\n';
    co_await std::move(session).async_quit(boost::asio::use_awaitable);
}
//! [coroutine]

int main(int argc, char** argv)
{
    smtp::connect_options options;
    options.host = argc > 1 ? argv[1] : "localhost";
    options.port = static_cast<std::uint16_t>(argc > 2 ? std::stoi(argv[2]) : 1025);
    boost::asio::io_context io;
    int status = 0;
    // An error (a refusal, a lost connection) is thrown out of the co_await
    // as a boost::system::system_error with the error code; step::value()
    // throws smtp::error_with_diagnostics, which is one too and carries the
    // server's reply.
    boost::asio::co_spawn(io, send(options), [&](std::exception_ptr e) {
        if (!e)
            return;
        status = 1;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "coroutine: " << x.what() << '\n';
        }
    });
    io.run();
    return status;
}
#else
// Asio offers co_await (boost::asio::awaitable, use_awaitable) where it
// detects the compiler's support: g++ with any Boost this library takes;
// clang 14 and later with libstdc++ from Boost 1.81 (Boost 1.80 and older
// look for libc++'s <experimental/coroutine> when the compiler is clang).
// examples/CMakeLists.txt does not build this program without it.
#error "examples/coroutine.cpp: this compiler's Boost.Asio has no co_await (BOOST_ASIO_HAS_CO_AWAIT): with clang, use Boost 1.81 or later, or g++"
#endif

// send_many: many messages, two ways.
//
//   send_many [HOST [PORT]]          (default: localhost 1025, no TLS)
//
// First three messages over one session with send_all(): with PIPELINING the
// end of each message's data travels with the next one's commands. Then 20
// messages through an asynchronous pool of up to 4 sessions. Each message's
// transaction_result is printed: its outcome, and each recipient's reply.
#include <smtp/client.hpp>
#include <smtp/pool.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>
#include <vector>

using clear = smtp::policies<smtp::tls::none>; // a local test server: no TLS

void print(const smtp::transaction_result& r)
{
    std::cout << r.outcome;
    if (r.error)
        std::cout << " (" << r.error.message() << ")";
    for (const auto& rcpt : r.recipients)
        std::cout << ' ' << rcpt.address << '=' << rcpt.decisive().code();
    std::cout << '\n';
}

int main(int argc, char** argv)
{
    smtp::connect_options options;
    options.host = argc > 1 ? argv[1] : "localhost";
    options.port = static_cast<std::uint16_t>(argc > 2 ? std::stoi(argv[2]) : 1025);
    try {
        // 1. Several messages over one session.
        //! [send_all]
        std::vector<smtp::outgoing_message> batch;
        for (int i = 0; i < 3; ++i)
            batch.push_back({"author@example.com",
                             {{"a@example.com"}, {"b@example.com"}},
                             "Subject: batch " + std::to_string(i) + "\r\n\r\nHello.\r\n"});
        auto session = std::move(smtp::connect<clear>(options)).ehlo();
        for (const auto& result : session.send_all(batch))
            print(result);
        std::move(session).quit();
        //! [send_all]

        // 2. A pool: 20 messages over at most 4 sessions.
        //! [pool]
        boost::asio::io_context io;
        smtp::pool_options limits;
        limits.max_sessions = 4;
        smtp::pool<clear> pool(io.get_executor(), options, limits);
        int queued = 0;
        for (int i = 0; i < 20; ++i)
            pool.async_send({"author@example.com", {{"a@example.com"}},
                             "Subject: pooled " + std::to_string(i) + "\r\n\r\nHello.\r\n"},
                            [&](smtp::error_code, smtp::transaction_result r) { queued += r.queued(); });
        pool.async_close([](smtp::error_code, smtp::pool_stats) {});
        io.run();
        //! [pool]
        std::cout << "pool: " << queued << " of 20 queued over " << pool.stats().sessions_opened
                  << " sessions\n";
        return queued == 20 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "send_many: " << e.what() << '\n';
        return 2;
    }
}

// Separate mode with <smtp/full.hpp>: what src.hpp does not compile (here the
// scripted transport, synchronously and asynchronously) works from the full
// definitions, in the same program as the compiled part.
#include <smtp/full.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace {
/// The greeting, EHLO when `ehlo`, QUIT.
std::shared_ptr<smtp::transport::script> script(bool ehlo)
{
    auto sc = std::make_shared<smtp::transport::script>();
    sc->respond("220 mx.example ready\r\n");
    if (ehlo)
        sc->expect("EHLO client.example\r\n").respond("250 mx.example\r\n");
    sc->expect("QUIT\r\n").respond("221 bye\r\n");
    return sc;
}
using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
} // namespace

bool scripted_sync_and_async()
{
    smtp::connect_options options;
    options.local_name = "client.example";
    auto sc = script(true);
    std::move(smtp::connect<P>(options, sc)).ehlo().quit();
    if (!sc->done()) {
        std::cerr << "synchronous: " << sc->log() << "\n";
        return false;
    }

    boost::asio::io_context io;
    auto sc2 = script(false);
    bool clean = false;
    smtp::async_connect<P>(io.get_executor(), options,
                           [&](smtp::error_code ec, std::optional<smtp::connected_session<P>> s) {
                               if (ec)
                                   return;
                               std::move(*s).async_quit([&](smtp::error_code e, auto closed) {
                                   clean = !e && closed.clean();
                               });
                           },
                           sc2);
    io.run();
    if (!clean || !sc2->done()) {
        std::cerr << "asynchronous: " << sc2->log() << "\n";
        return false;
    }
    return true;
}

// A completion handler written for one argument, (step), where every
// asynchronous operation completes with (smtp::error_code, result): one
// line says so, instead of a hundred from inside Asio.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: the
// completion's shape. With -DSMTP_TWIN one line changes and the program is
// legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/asio/io_context.hpp>

#include <memory>
#include <utility>

using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;

int main()
{
    boost::asio::io_context io;
    smtp::async_connect<P>(
        io.get_executor(), smtp::connect_options{},
        [](smtp::error_code, auto c) {
#ifndef SMTP_TWIN
            std::move(*c).async_ehlo([](auto step) { (void)step; });
#else
            std::move(*c).async_ehlo([](smtp::error_code, auto step) { (void)step; });
#endif
        },
        std::make_shared<smtp::transport::script>());
    io.run();
}

// async_sendmail with a temporary message_source: the operation reads a
// source as it sends, after the call has returned, so it views the source
// and a temporary one would be gone. It does not compile (sendable_message);
// a named source does.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: sendable_message.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;

int main()
{
    auto g = std::move(smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>())).ehlo();
    const std::vector<std::string> to{"b@x.org"};
    const auto handler = [](smtp::error_code, smtp::transaction_result) {};
    smtp::message_source named{[](char*, std::size_t) { return std::size_t(0); }, {}};
#ifndef SMTP_TWIN
    g.async_sendmail("a@x.org", to, smtp::message_source{[](char*, std::size_t) { return std::size_t(0); }, {}}, handler);
#else
    g.async_sendmail("a@x.org", to, named, handler);
#endif
    (void)named;
}

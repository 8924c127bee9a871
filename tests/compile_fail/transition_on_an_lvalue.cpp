// A transition called on an lvalue: s.ehlo() instead of std::move(s).ehlo(). It would leave s moved from; the message says to write std::move(s).ehlo().
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: the static_assert that says a transition consumes the session.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

using P = smtp::policies<smtp::transport::scripted, smtp::tls::opportunistic>;

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
#ifndef SMTP_TWIN
    auto g = s.ehlo();
#else
    auto g = std::move(s).ehlo();
#endif
    std::move(g).quit();
}

// STARTTLS under implicit TLS (tls::implicit): the connection is encrypted already.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: not_encrypted (checked before policy_offers_starttls).
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

#ifndef SMTP_TWIN
using P = smtp::policies<smtp::transport::scripted, smtp::tls::implicit>;
#else
using P = smtp::policies<smtp::transport::scripted, smtp::tls::starttls>;
#endif

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
    auto t = std::move(s).ehlo().starttls().ehlo();
    std::move(t).quit();
}

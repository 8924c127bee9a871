// AUTH over an unencrypted connection without the opt-in (auth::allow_plaintext).
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: encrypted_or_plaintext_auth_allowed.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

#ifndef SMTP_TWIN
using P = smtp::policies<smtp::transport::scripted, smtp::tls::opportunistic>;
#else
using P = smtp::policies<smtp::transport::scripted, smtp::tls::opportunistic, smtp::auth::allow_plaintext>;
#endif

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
    auto a = std::move(s).ehlo().login("user", "secret");
    std::move(a).quit();
}

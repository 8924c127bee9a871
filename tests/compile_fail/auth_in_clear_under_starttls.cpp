// AUTH in clear under tls::starttls, although the policies opt in to AUTH in clear: that opt-in is for the TLS policies that allow clear text; under tls::starttls credentials wait for STARTTLS.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: encrypted_or_clear_text_allowed.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

using P = smtp::policies<smtp::transport::scripted, smtp::tls::starttls, smtp::auth::allow_plaintext>;

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
#ifndef SMTP_TWIN
    auto g = std::move(s).ehlo();
#else
    auto g = std::move(s).ehlo().starttls().ehlo();
#endif
    auto a = std::move(g).login("user", "secret");
    std::move(a).quit();
}

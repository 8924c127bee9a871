// A protocol mistake that does not compile: AUTH before EHLO (README.md and
// docs/compile-errors.md show it, with the compilers' messages).
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: ehlo_done.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

// In clear, with the opt-in to AUTH in clear: only the rule under test is broken.
using P = smtp::policies<smtp::transport::scripted, smtp::tls::opportunistic, smtp::auth::allow_plaintext>;

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
#ifndef SMTP_TWIN
    //! [mistake]
    auto a = std::move(s).login("user", "secret"); // AUTH before EHLO: s is connected, not greeted
    //! [mistake]
#else
    //! [legal]
    auto a = std::move(s).ehlo().login("user", "secret");
    //! [legal]
#endif
    std::move(a).quit();
}

// HELP right after STARTTLS, written inside a generic lambda.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: greeted_again_after_starttls.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

using P = smtp::policies<smtp::transport::scripted>;

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
#ifndef SMTP_TWIN
    auto t = std::move(s).ehlo().starttls();
#else
    auto t = std::move(s).ehlo().starttls().ehlo();
#endif
    [](auto& session) { session.help(); }(t);
    std::move(t).quit();
}

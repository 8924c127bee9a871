// MAIL before EHLO, a transition written inside a function template that returns void.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: ehlo_done.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

using P = smtp::policies<smtp::transport::scripted, smtp::tls::opportunistic, smtp::auth::allow_plaintext>;

template <class S>
void send(S s)
{
    auto m = std::move(s).mail_from("from@example.org");
    std::move(m).quit();
}

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
#ifndef SMTP_TWIN
    send(std::move(s));
#else
    send(std::move(s).ehlo());
#endif
}

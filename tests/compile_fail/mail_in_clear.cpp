// MAIL in clear under the default tls::starttls.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: encrypted_or_clear_text_allowed.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <utility>

// The defaults: tls::starttls, auth::require_tls.
using P = smtp::policies<smtp::transport::scripted>;

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
#ifndef SMTP_TWIN
    auto m = std::move(s).ehlo().mail_from("from@example.org");
#else
    auto m = std::move(s).ehlo().starttls().ehlo().mail_from("from@example.org");
#endif
    std::move(m).quit();
}

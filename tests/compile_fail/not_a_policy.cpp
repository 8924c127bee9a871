// A type that is not a policy among the policies: the error names it.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: checked_policy<not_a_policy>, the type's name.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>

struct not_a_policy {};

#ifndef SMTP_TWIN
using P = smtp::policies<smtp::transport::scripted, not_a_policy, smtp::tls::none>;
#else
using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
#endif

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
    (void)s;
}

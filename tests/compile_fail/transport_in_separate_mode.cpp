// Separate mode (SMTP_SEPARATE_COMPILATION): <smtp/src.hpp> compiles the
// sessions over the default transport; a session over another one (here the
// scripted transport) in a file without <smtp/full.hpp> is told so in a
// static_assert, not left to the linker.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must name <smtp/full.hpp>.
// With -DSMTP_TWIN the file includes <smtp/full.hpp> and is legal: it must
// compile.
#define SMTP_SEPARATE_COMPILATION
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>
#ifdef SMTP_TWIN
#include <smtp/full.hpp>
#endif

#include <memory>
#include <utility>

int main()
{
    using P = smtp::policies<smtp::transport::scripted, smtp::tls::none>;
    auto script = std::make_shared<smtp::transport::script>();
    std::move(smtp::connect<P>(smtp::connect_options{}, script)).ehlo();
}

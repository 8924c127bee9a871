// Separate mode (SMTP_SEPARATE_COMPILATION): <smtp/src.hpp> compiles the
// synchronous API; an asynchronous operation in a file without
// <smtp/full.hpp> is told so in a static_assert, not left to the linker.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must name <smtp/full.hpp>.
// With -DSMTP_TWIN the file includes <smtp/full.hpp> and is legal: it must
// compile.
#define SMTP_SEPARATE_COMPILATION
#include <smtp/client.hpp>
#ifdef SMTP_TWIN
#include <smtp/full.hpp>
#endif

#include <utility>

int main()
{
    auto s = smtp::connect(smtp::connect_options{});
    std::move(s).async_ehlo([](smtp::error_code, auto next) { (void)next; });
}

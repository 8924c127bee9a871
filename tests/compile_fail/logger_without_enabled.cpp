// A logger without its constant `enabled`: smtp::logger is exactly what the session uses, so this is refused where the policies are named, not deep inside the session.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say why: it does not
// satisfy smtp::logger, and what a logger needs.
// With -DSMTP_TWIN one line changes and the program is legal: it must compile.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <memory>
#include <string_view>

struct my_logger {
    using policy_category = smtp::log_category;
#ifdef SMTP_TWIN
    static constexpr bool enabled = true;
#endif
    void on_send(std::string_view, smtp::log::sent) {}
    void on_reply(const smtp::reply_view&, bool) {}
};

using P = smtp::policies<smtp::transport::scripted, smtp::tls::none, my_logger>;

int main()
{
    auto s = smtp::connect<P>(smtp::connect_options{}, std::make_shared<smtp::transport::script>());
    (void)s;
}

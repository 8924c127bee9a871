// An extension with a mail() hook that does not declare its parameters
// (mail_params: each keyword with its line allowance): the engine refuses
// to plan with it, and says what to add.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must say that an extension
// with a mail() hook declares its parameters.
// With -DSMTP_TWIN the declaration is there: it must compile.
#include <smtp/protocol/transaction.hpp>

#include <optional>
#include <string_view>
#include <vector>

struct xfoo {
    static constexpr std::string_view keyword = "XFOO";
    using value_type = smtp::ext::flag;
    static std::optional<smtp::ext::flag> parse(std::string_view) { return smtp::ext::flag{}; }
#ifdef SMTP_TWIN
    static constexpr smtp::parameter_spec mail_params[] = {{"XFOO", 5}};
#endif
    static void mail(smtp::mail_context& m, smtp::ext::flag) { m.add("XFOO"); }
};

int main()
{
    const std::vector<smtp::recipient> to{{"rcpt@example.org"}};
    const std::string_view message = "Subject: hi\r\n\r\nHello.\r\n";
    smtp::transaction t("from@example.org", to, message, smtp::send_options{}, smtp::capabilities{},
                        smtp::session_facts{}, {}, smtp::extensions<xfoo>{});
    return t.error() ? 1 : 0;
}

// A transaction over a temporary std::string message: the transaction views
// its message, which would be destroyed before it is sent.
//
// Compile-fail case (tests/compile_fail/CMakeLists.txt): as it is, this
// program must not compile, and the diagnostic must name the deleted
// constructor. With -DSMTP_TWIN the message is a named string that outlives
// the transaction: it must compile.
#include <smtp/protocol/transaction.hpp>

#include <string>
#include <vector>

int main()
{
    const std::vector<smtp::recipient> to{{"rcpt@example.org"}};
#ifndef SMTP_TWIN
    smtp::transaction t("from@example.org", to, std::string("Subject: hi\r\n\r\nHello.\r\n"), smtp::send_options{},
                        smtp::capabilities{}, smtp::session_facts{});
#else
    const std::string message("Subject: hi\r\n\r\nHello.\r\n");
    smtp::transaction t("from@example.org", to, message, smtp::send_options{}, smtp::capabilities{},
                        smtp::session_facts{});
#endif
    return t.error() ? 1 : 0;
}

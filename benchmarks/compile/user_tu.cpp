// Compile-time benchmark (benchmarks/run_e2e.py): a user's file that sends
// mail with the synchronous API and the default policies: connect, EHLO,
// STARTTLS, EHLO, AUTH (the default mechanisms: SCRAM-SHA-256, PLAIN,
// LOGIN), sendmail, QUIT. Compiled twice: header-only, and in separate mode
// (-DSMTP_SEPARATE_COMPILATION, the heavy parts compiled by <smtp/src.hpp>
// elsewhere), beside asio_tu.cpp.
#include <smtp/client.hpp>

#include <exception>
#include <string>

int main(int argc, char** argv)
{
    smtp::connect_options options;
    options.host = argc > 1 ? argv[1] : "mail.example.org";
    options.port = 587;
    try {
        auto s = std::move(smtp::connect(options)).ehlo().starttls().ehlo().login("alice", "secret");
        const std::string message = "From: alice@example.org\r\nSubject: hi\r\n\r\nHello.\r\n";
        s.sendmail("alice@example.org", {"bob@example.org"}, message);
        std::move(s).quit();
    } catch (const std::exception&) {
        return 1;
    }
}

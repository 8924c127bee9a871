// Compile-time benchmark (benchmarks/run_e2e.py): the whole client (Asio, OpenSSL),
// with the calls a first program makes: connect, EHLO, STARTTLS, sendmail, QUIT.
#include <smtp/client.hpp>

int main()
{
    smtp::connect_options options;
    options.host = "mail.example.org";
    try {
        auto s = std::move(smtp::connect(options)).ehlo().starttls().ehlo();
        s.sendmail("author@example.org", {"rcpt@example.org"}, "Subject: hi\r\n\r\nHello.\r\n");
        std::move(s).quit();
    } catch (const std::exception&) {
        return 1;
    }
}

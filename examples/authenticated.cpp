// smtplib_authenticated.py (PyMOTW) in C++: ask where to send, connect with
// TLS from the start or in clear, then STARTTLS when the server offers it and
// AUTH when the server offers it, and send a message. The transcript goes to
// stderr, the program's own lines to stdout.
//
// In the typestate API, "encrypted" and "authenticated" are part of the
// session's type, so the branches of the Python program hold sessions of
// different types. Each step is a generic lambda that takes whichever session
// it is given; the compiler instantiates it once per type that reaches it,
// and a step the protocol forbids in that state does not compile.
//
// SMTP_CAFILE (environment): a PEM file of CAs to trust instead of the system
// store (the tests point it at their own CA). Certificates are always verified.
#include <smtp/client.hpp>

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

/// Python's input(): the prompt on stdout, one line from stdin.
std::string input(const std::string& prompt)
{
    std::cout << prompt << std::flush;
    std::string line;
    if (!std::getline(std::cin, line))
        throw std::runtime_error("end of input");
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    return line;
}

std::uint16_t parse_port(const std::string& text)
{
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
        throw std::runtime_error("not a port number: " + text);
    return static_cast<std::uint16_t>(value);
}

termios saved_terminal{};

void restore_terminal_and_die(int sig)
{
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

/// Python's getpass(): on a terminal, the line is read without echo (and the
/// echo comes back even after Ctrl-C). When stdin is not a terminal (a
/// script, a test), it is an ordinary line.
std::string getpass(const std::string& prompt)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_terminal) != 0)
        return input(prompt);
    std::cout << prompt << std::flush;
    termios quiet = saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    const auto old_int = std::signal(SIGINT, restore_terminal_and_die);
    const auto old_term = std::signal(SIGTERM, restore_terminal_and_die);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::string line;
    const bool ok = static_cast<bool>(std::getline(std::cin, line));
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    std::cout << '\n'; // the Enter the terminal did not echo
    if (!ok)
        throw std::runtime_error("end of input");
    return line;
}

//! [secure]
// "yes": smtplib.SMTP_SSL, TLS from the first byte (port 465, RFC 8314).
using secure = smtp::policies<smtp::tls::implicit, smtp::log::transcript>;
//! [secure]

// "no": smtplib.SMTP, in clear until STARTTLS. tls::opportunistic: STARTTLS
// when the server offers it, and mail in clear when it does not, as the
// Python program does.
//
// auth::allow_plaintext is an explicit opt-in to the Python program's other
// habit: it logs in even when the server offered no STARTTLS, so the password
// crosses the network readable by anyone on the path (and an attacker who
// strips STARTTLS from the EHLO reply gets exactly that). Without this policy
// the login() below does not compile for the session that is still in clear.
// For real use, answer "yes", or use tls::starttls (the default), which
// refuses to go on without TLS.
using insecure = smtp::policies<smtp::tls::opportunistic, smtp::auth::allow_plaintext, smtp::log::transcript>;

} // namespace

int main()
{
    try {
        const std::string to_email = input("Recipient: ");
        smtp::connect_options options;
        options.host = input("Mail server name: ");
        const std::string port = input("Server port: ");
        options.port = port.empty() ? 25 : parse_port(port);
        std::string use_tls = input("Use TLS? (yes/no): ");
        std::transform(use_tls.begin(), use_tls.end(), use_tls.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const std::string username = input("Mail username: ");
        const std::string password = getpass(username + "'s password: ");
        if (const char* ca = std::getenv("SMTP_CAFILE"))
            options.tls.ca_file = ca;

        const std::string message = "Content-Type: text/plain; charset=\"us-ascii\"\n"
                                    "MIME-Version: 1.0\n"
                                    "Content-Transfer-Encoding: 7bit\n"
                                    "To: Recipient <" + to_email + ">\n"
                                    "From: Author <author@example.com>\n"
                                    "Subject: Test from PyMOTW\n"
                                    "\n"
                                    "Test message from PyMOTW.\n";

        // The last steps, for a greeted session: TLS or not, logged in or not.
        auto send = [&](auto server) {
            server.sendmail("author@example.com", {to_email}, message);
            std::move(server).quit();
        };
        auto log_in = [&](auto server) {
            if (!server.has_extn("AUTH")) {
                std::cout << "(no AUTH)\n";
                return send(std::move(server));
            }
            std::cout << "(logging in)\n";
            if (!server.encrypted())
                std::cerr << "warning: no TLS: the password crosses the network in clear\n";
            send(std::move(server).login(username, password));
        };
        // From the greeting: identify ourselves, then encrypt if we can.
        auto run = [&](auto server) {
            using P = typename decltype(server)::policies_type;
            auto greeted = std::move(server).ehlo();
            if constexpr (P::tls::offers_starttls) { // STARTTLS exists only under this policy
                if (greeted.has_extn("STARTTLS")) {
                    std::cout << "(starting TLS)\n";
                    // After STARTTLS only EHLO (or QUIT) compiles: the server
                    // must be asked again what it offers, now over TLS.
                    return log_in(std::move(greeted).starttls().ehlo());
                }
            }
            std::cout << "(no STARTTLS)\n";
            log_in(std::move(greeted));
        };

        // An error throws smtp::error_with_diagnostics; the session it came
        // from closes its connection (without QUIT) as it goes.
        if (use_tls == "yes") {
            std::cout << "starting with a secure connection\n";
            //! [connect]
            run(smtp::connect<secure>(options, smtp::log::transcript(std::cerr)));
            //! [connect]
        } else {
            std::cout << "starting with an insecure connection\n";
            run(smtp::connect<insecure>(options, smtp::log::transcript(std::cerr)));
        }
    } catch (const std::exception& e) {
        std::cerr << "authenticated: " << e.what() << '\n';
        return 1;
    }
}

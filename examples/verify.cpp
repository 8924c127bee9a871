// smtplib_verify.py (PyMOTW) in C++: ask a server whether two mailboxes
// exist (VRFY), with smtplib's transcript on stderr, then print each reply as
// Python prints smtplib's (code, message) tuple.
//
//   verify [HOST [PORT]]          (default: mail 25)
//
// Most servers disable VRFY (it hands spammers a list of valid addresses) or
// answer 252 "cannot verify, will attempt delivery".
#include <smtp/client.hpp>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

namespace {

/// Python's repr of a str: '...' (or "..." when the text has a ' and no ").
std::string python_repr(std::string_view s)
{
    const char q = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += "\\t";
        else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[(c >> 4) & 0xf];
            out += hex[c & 0xf];
        } else {
            if (c == q || c == '\\')
                out += '\\';
            out += c;
        }
    }
    return out += q;
}

std::string tuple(const smtp::reply& r)
{
    return "(" + std::to_string(r.code().value()) + ", " + python_repr(r.message()) + ")";
}

} // namespace

int main(int argc, char** argv)
{
    smtp::connect_options options;
    options.host = argc > 1 ? argv[1] : "mail";
    const int port = argc > 2 ? std::atoi(argv[2]) : 25;
    if (argc > 3 || port < 1 || port > 65535) {
        std::cerr << "usage: verify [HOST [PORT]]\n";
        return 2;
    }
    options.port = static_cast<std::uint16_t>(port);

    // smtplib.SMTP(host) talks in clear, and so does this (tls::none): VRFY
    // carries no secret. For mail, see sendmail.cpp and authenticated.cpp.
    using P = smtp::policies<smtp::tls::none, smtp::log::transcript>;
    try {
        // As smtplib does, VRFY straight after the greeting (RFC 5321 4.1.4
        // allows it before EHLO).
        auto server = smtp::connect<P>(options, smtp::log::transcript(std::cerr));
        // verify() returns the reply whatever its code: 550 is an answer here.
        const smtp::reply dhellmann_result = server.verify("dhellmann");
        const smtp::reply notthere_result = server.verify("notthere");
        std::move(server).quit();
        std::cout << "dhellmann: " << tuple(dhellmann_result) << '\n';
        std::cout << "notthere : " << tuple(notthere_result) << '\n';
    } catch (const std::exception& e) {
        std::cerr << "verify: " << e.what() << '\n';
        return 1;
    }
}

// tests/separate: a program in separate mode (linked with smtp::compiled),
// run by ctest (separate_mode). A loopback SMTP server written with POSIX
// sockets (so that this file needs no Asio either) answers two sessions of
// sync_part.cpp's; the lines it received are checked, then a refused
// connect's diagnostics, then full_part.cpp's scripted sessions.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

std::string send_two_messages(unsigned short port);
std::string refused_connect(unsigned short port);
bool scripted_sync_and_async();

namespace {
bool read_line(int fd, std::string& line)
{
    line.clear();
    char c;
    while (::recv(fd, &c, 1, 0) == 1) {
        line += c;
        if (c == '\n')
            return true;
    }
    return false;
}
void say(int fd, const std::string& s)
{
    (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
}
/// One session: greeting, EHLO (AUTH PLAIN offered), then every command
/// answered; the lines received (the message's lines too) go to `got`.
void serve(int fd, std::vector<std::string>& got)
{
    say(fd, "220 mx.example ready\r\n");
    std::string line;
    bool in_data = false;
    while (read_line(fd, line)) {
        got.push_back(line);
        if (in_data) {
            if (line == ".\r\n") {
                in_data = false;
                say(fd, "250 2.0.0 queued\r\n");
            }
            continue;
        }
        const std::string verb = line.substr(0, 4);
        if (verb == "EHLO")
            say(fd, "250-mx.example\r\n250 AUTH PLAIN\r\n");
        else if (verb == "AUTH")
            say(fd, "235 2.7.0 accepted\r\n");
        else if (verb == "DATA") {
            in_data = true;
            say(fd, "354 go ahead\r\n");
        } else if (verb == "QUIT") {
            say(fd, "221 bye\r\n");
            break;
        } else
            say(fd, "250 OK\r\n");
    }
    ::close(fd);
}
} // namespace

int main()
{
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener, 2) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::perror("listen");
        return 1;
    }
    const unsigned short port = ntohs(addr.sin_port);
    std::vector<std::string> got;
    std::thread server([&] {
        for (int i = 0; i < 2; ++i) {
            const int fd = ::accept(listener, nullptr, nullptr);
            if (fd < 0)
                return;
            serve(fd, got);
        }
    });
    std::string transcript;
    int failures = 0;
    try {
        transcript = send_two_messages(port);
    } catch (const std::exception& e) {
        std::cerr << "separate mode: " << e.what() << "\n";
        ++failures;
    }
    server.join();
    ::close(listener); // the port is closed now: the next connect is refused

    const std::vector<std::string> expected = {
        "EHLO client.example\r\n", "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "MAIL FROM:<alice@example.org>\r\n",
        "RCPT TO:<bob@example.org>\r\n", "DATA\r\n", "Subject: one\r\n", "\r\n", "Hello.\r\n", ".\r\n", "QUIT\r\n",
        "EHLO client.example\r\n", "MAIL FROM:<alice@example.org>\r\n", "RCPT TO:<bob@example.org>\r\n", "DATA\r\n",
        "Subject: two\r\n", "\r\n", "..dot\r\n", ".\r\n", "QUIT\r\n"};
    if (got != expected) {
        std::cerr << "separate mode: the server received:\n";
        for (const auto& l : got)
            std::cerr << "  " << l;
        ++failures;
    }
    if (transcript.find("EHLO client.example") == std::string::npos ||
        transcript.find("221") == std::string::npos) {
        std::cerr << "separate mode: log::transcript wrote:\n" << transcript << "\n";
        ++failures;
    }
    const std::string refused = refused_connect(port);
    if (refused.find("127.0.0.1") == std::string::npos) {
        std::cerr << "separate mode: a refused connect says: " << refused << "\n";
        ++failures;
    }
    if (!scripted_sync_and_async()) {
        std::cerr << "separate mode: the scripted sessions (<smtp/full.hpp>) failed\n";
        ++failures;
    }
    if (failures == 0)
        std::cout << "separate mode: " << got.size() << " lines as expected; refused connect: " << refused << "\n";
    return failures == 0 ? 0 : 1;
}

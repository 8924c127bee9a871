// benchmarks/e2e_peers.cpp — other C++ SMTP clients on the same workload as
// e2e_bench's `lib`: N messages over one connection to smtp-sink, after one
// untimed warm-up message; one JSON line at the end (benchmarks/run_e2e.py).
//
//   e2e_peers poco --port P --rcpt R --count N --message FILE [--nodelay 1]
//       Poco::Net::SMTPClientSession: login(EHLO), then per message
//       sendAddresses (MAIL, each RCPT, in lockstep), sendData (DATA) and
//       sendMessage(istream) (the message through MailOutputStream, which
//       dot-stuffs it, then the final reply).
//   e2e_peers curl --port P --rcpt R --count N --message FILE
//       libcurl: one easy handle reused (its connection kept open), mail to
//       smtp://127.0.0.1:P, CURLOPT_UPLOAD with a read callback.
#include "e2e_util.hpp"

#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <curl/curl.h>

#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what)
{
    std::cerr << "e2e_peers: " << what << '\n';
    std::exit(1);
}

std::vector<std::string> recipients(long long n)
{
    std::vector<std::string> to;
    for (long long i = 0; i < n; ++i)
        to.push_back("rcpt" + std::to_string(i) + "@example.com");
    return to;
}

void report(const char* client, long long n, long long r, double secs, double cpu)
{
    e2e::json_line()
        .add("client", client)
        .add("messages", n)
        .add("recipients", r)
        .add("seconds", secs)
        .add("messages_per_second", static_cast<double>(n) / secs)
        .add("cpu_seconds", cpu)
        .add("maxrss_kib", static_cast<long long>(e2e::peak_rss_kib()))
        .print();
}

int run_poco(const e2e::flags& f)
{
    const long long n = f.num("count");
    const std::string message = e2e::read_file(f.str("message"));
    const auto list = recipients(f.num("rcpt"));
    const Poco::Net::SMTPClientSession::Recipients to(list.begin(), list.end());
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(f.num("port"))));
    // As shipped, the final dot waits for the server's delayed ACK (Nagle's
    // algorithm: MailOutputStream writes the message and the dot separately):
    // about 40 ms a message. --nodelay 1 turns Nagle off (TCP_NODELAY).
    if (f.num("nodelay", 0) != 0)
        socket.setNoDelay(true);
    Poco::Net::SMTPClientSession s(socket);
    s.login("client.example");
    auto one = [&] {
        s.sendAddresses("author@example.com", to);
        s.sendData();
        std::istringstream in(message);
        s.sendMessage(in);
    };
    one(); // warm-up
    const double c0 = e2e::cpu_now();
    const double t0 = e2e::now();
    for (long long i = 0; i < n; ++i)
        one();
    const double t1 = e2e::now();
    const double c1 = e2e::cpu_now();
    s.close();
    report(f.num("nodelay", 0) ? "poco-nodelay" : "poco", n, f.num("rcpt"), t1 - t0, c1 - c0);
    return 0;
}

struct upload {
    const std::string* message;
    std::size_t at = 0;
};

std::size_t read_cb(char* out, std::size_t size, std::size_t nitems, void* p)
{
    auto* u = static_cast<upload*>(p);
    const std::size_t n = std::min(size * nitems, u->message->size() - u->at);
    std::memcpy(out, u->message->data() + u->at, n);
    u->at += n;
    return n;
}

int run_curl(const e2e::flags& f)
{
    const long long n = f.num("count");
    const std::string message = e2e::read_file(f.str("message"));
    const auto list = recipients(f.num("rcpt"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL* h = curl_easy_init();
    curl_slist* rcpt = nullptr;
    for (const auto& a : list)
        rcpt = curl_slist_append(rcpt, ("<" + a + ">").c_str());
    const std::string url = "smtp://127.0.0.1:" + std::to_string(f.num("port")) + "/client.example";
    upload u{&message};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, "<author@example.com>");
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    auto one = [&] {
        u.at = 0;
        const CURLcode rc = curl_easy_perform(h);
        if (rc != CURLE_OK)
            die(std::string("curl: ") + curl_easy_strerror(rc));
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (code != 250)
            die("curl: final reply " + std::to_string(code));
    };
    one(); // warm-up (and the connection, kept by the handle)
    long connects = 0;
    const double c0 = e2e::cpu_now();
    const double t0 = e2e::now();
    for (long long i = 0; i < n; ++i) {
        one();
        long c = 0;
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &c);
        connects += c;
    }
    const double t1 = e2e::now();
    const double c1 = e2e::cpu_now();
    if (connects != 0)
        die("curl: the connection was not reused (" + std::to_string(connects) + " new connections)");
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    report("curl", n, f.num("rcpt"), t1 - t0, c1 - c0);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::cerr << "usage: e2e_peers poco|curl --port P --rcpt R --count N --message FILE\n";
        return 2;
    }
    try {
        const std::string cmd = argv[1];
        const e2e::flags f(argc, argv, 2);
        if (cmd == "poco")
            return run_poco(f);
        if (cmd == "curl")
            return run_curl(f);
        std::cerr << "e2e_peers: unknown command " << cmd << '\n';
        return 2;
    } catch (const Poco::Exception& e) {
        std::cerr << "e2e_peers: " << e.displayText() << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "e2e_peers: " << e.what() << '\n';
        return 1;
    }
}

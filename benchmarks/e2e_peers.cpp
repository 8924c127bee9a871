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
//   e2e_peers libesmtp --port P --rcpt R --count N --message FILE
//       libESMTP (when built with it: libesmtp-dev): one session holding N+1
//       messages, sent over one connection by smtp_start_session; MAIL, the
//       RCPTs and DATA pipelined (RFC 2920), the data after the 354; it adds
//       Date and Message-Id headers (93 octets). The timed
//       part runs from the first message's SMTP_EV_MESSAGESENT (the warm-up)
//       to the last one's.
#include "e2e_util.hpp"

#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <curl/curl.h>
#if SMTP_E2E_HAVE_LIBESMTP
#include <libesmtp.h>
#endif

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

#if SMTP_E2E_HAVE_LIBESMTP
struct esmtp_clock {
    long long sent = 0; // SMTP_EV_MESSAGESENT events so far
    long long last = 0; // the event that ends the timed part
    double t0 = 0, t1 = 0, c0 = 0, c1 = 0;
};

void esmtp_event(smtp_session_t, int event, void* arg, ...)
{
    if (event != SMTP_EV_MESSAGESENT)
        return;
    auto* k = static_cast<esmtp_clock*>(arg);
    if (++k->sent == 1) { // the warm-up message
        k->c0 = e2e::cpu_now();
        k->t0 = e2e::now();
    } else if (k->sent == k->last) {
        k->t1 = e2e::now();
        k->c1 = e2e::cpu_now();
    }
}

int run_libesmtp(const e2e::flags& f)
{
    const long long n = f.num("count");
    const std::string message = e2e::read_file(f.str("message"));
    const auto list = recipients(f.num("rcpt"));
    smtp_session_t s = smtp_create_session();
    const std::string server = "127.0.0.1:" + std::to_string(f.num("port"));
    if (!s || !smtp_set_server(s, server.c_str()) || !smtp_set_hostname(s, "client.example"))
        die("libesmtp: session setup failed");
    std::vector<smtp_message_t> messages;
    for (long long i = 0; i <= n; ++i) { // the warm-up, then N
        smtp_message_t m = smtp_add_message(s);
        // It adds Date and Message-Id headers, which the file lacks (RFC 5322
        // requires a Date; Hdr_PROHIBIT stops neither in libESMTP 1.1.0): the
        // capture check (benchmarks/e2e_cpu.py) reports those octets.
        if (!m || !smtp_set_reverse_path(m, "author@example.com") || !smtp_set_message_str(m, const_cast<char*>(message.c_str()))) // read only
            die("libesmtp: message setup failed");
        for (const auto& a : list)
            if (!smtp_add_recipient(m, a.c_str()))
                die("libesmtp: recipient setup failed");
        messages.push_back(m);
    }
    esmtp_clock k;
    k.last = n + 1;
    smtp_set_eventcb(s, esmtp_event, &k);
    if (!smtp_start_session(s)) {
        char buf[256];
        die(std::string("libesmtp: ") + smtp_strerror(smtp_errno(), buf, sizeof buf));
    }
    for (auto m : messages) {
        const smtp_status_t* st = smtp_message_transfer_status(m);
        if (!st || st->code != 250)
            die("libesmtp: a message was not queued: " + std::to_string(st ? st->code : 0));
    }
    smtp_destroy_session(s);
    if (k.sent != n + 1)
        die("libesmtp: " + std::to_string(k.sent) + " messages sent of " + std::to_string(n + 1));
    report("libesmtp", n, f.num("rcpt"), k.t1 - k.t0, k.c1 - k.c0);
    return 0;
}
#endif

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::cerr << "usage: e2e_peers poco|curl|libesmtp --port P --rcpt R --count N --message FILE\n";
        return 2;
    }
    try {
        const std::string cmd = argv[1];
        const e2e::flags f(argc, argv, 2);
        if (cmd == "poco")
            return run_poco(f);
        if (cmd == "curl")
            return run_curl(f);
#if SMTP_E2E_HAVE_LIBESMTP
        if (cmd == "libesmtp")
            return run_libesmtp(f);
#endif
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

// Errors and results, the two forms of every command (docs/tutorial.md,
// "Errors" and "The transaction result"). A server played by the scripted
// in-memory transport refuses a password, a recipient and then a whole
// message, and finally drops the connection; the program shows what each
// form reports. Then three connects that fail: a server that is not SMTP, one
// that says nothing, and a port nobody listens on. It needs no server, and its
// output is checked by the tests.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <boost/asio/error.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

using P = smtp::policies<smtp::transport::scripted, smtp::tls::none, smtp::auth::allow_plaintext>;

int main()
{
    auto script = std::make_shared<smtp::transport::script>();
    script->respond("220 mx.example ESMTP\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250 AUTH PLAIN\r\n")
        .expect("AUTH PLAIN AGFsaWNlAHdyb25n\r\n")
        .respond("535 5.7.8 Authentication credentials invalid\r\n")
        // The first message: one recipient refused, the message queued.
        .expect("MAIL FROM:<author@example.com>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect("RCPT TO:<ann@example.com>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect("RCPT TO:<bob@example.com>\r\n")
        .respond("550 5.1.1 <bob@example.com>: mailbox unavailable\r\n")
        .expect("DATA\r\n")
        .respond("354 End data with <CR><LF>.<CR><LF>\r\n")
        .expect("Subject: hello\r\n\r\nHello.\r\n.\r\n")
        .respond("250 2.0.0 Ok: queued as 4F2A1\r\n")
        // The second: refused after its data.
        .expect("MAIL FROM:<author@example.com>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect("RCPT TO:<ann@example.com>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect("DATA\r\n")
        .respond("354 End data with <CR><LF>.<CR><LF>\r\n")
        .expect("Subject: spam?\r\n\r\nBuy now.\r\n.\r\n")
        .respond("554 5.7.1 Message rejected as spam\r\n")
        // Then the server goes away.
        .expect("NOOP\r\n")
        .close();

    smtp::connect_options options;
    options.local_name = "client.example";
    auto greeted = std::move(smtp::connect<P>(options, script)).ehlo();

    //! [error_code]
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto r = std::move(greeted).login("alice", "wrong", ec, diag);
    if (!r) {
        std::cout << "login: " << diag.describe(ec) << '\n';
        if (const auto& reply = diag.server_reply())
            std::cout << "  code " << reply->code() << ", enhanced status " << reply->status().value() << '\n';
    }
    auto session = std::move(r).recover(); // the greeted session, not authenticated: try again, or go on
    //! [error_code]

    //! [result]
    const auto result = session.sendmail("author@example.com", {"ann@example.com", "bob@example.com"},
                                         "Subject: hello\r\n\r\nHello.\r\n");
    std::cout << "queued: " << result.queued() << " (" << result.final_reply.message() << "), "
              << result.accepted_count() << " of " << result.recipients.size() << " recipients accepted\n";
    for (const auto& [address, reply] : result.refused())
        std::cout << "  refused " << address << ": " << reply.code() << ' ' << reply.message()
                  << (reply.code().is_transient() ? " (try again later)" : " (permanent)") << '\n';
    //! [result]

    //! [throwing]
    try {
        session.sendmail("author@example.com", {"ann@example.com"}, "Subject: spam?\r\n\r\nBuy now.\r\n");
    } catch (const smtp::error_with_diagnostics& e) {
        std::cout << "sendmail: " << e.what() << '\n';
        if (e.code() == smtp::errc::permanent_failure)
            std::cout << "  a permanent refusal: do not send it again as it is\n";
    }
    //! [throwing]

    //! [bad_input]
    const std::size_t written = script->written().size();
    try {
        session.sendmail("author@example.com", {"ann@example.com>\r\nRCPT TO:<eve@example.com"}, "Hi.\r\n");
    } catch (const smtp::error_with_diagnostics& e) {
        std::cout << "refused before sending: " << e.what() << " (" << script->written().size() - written
                  << " bytes written)\n";
    }
    //! [bad_input]

    //! [broken]
    try {
        session.noop();
    } catch (const smtp::error_with_diagnostics& e) {
        std::cout << "noop: " << e.what() << '\n';
    }
    try {
        session.noop(); // after an I/O error the session is broken: nothing more is sent
    } catch (const smtp::error_with_diagnostics& e) {
        std::cout << "noop again: " << e.what() << (e.code() == smtp::errc::session_broken ? " (session_broken)" : "")
                  << '\n';
    }
    //! [broken]

    //! [wrong_server]
    smtp::connect_options elsewhere;
    elsewhere.host = "mail.example.org";
    elsewhere.port = 587;
    elsewhere.timeouts.greeting = std::chrono::milliseconds(100);
    auto ssh = std::make_shared<smtp::transport::script>();
    ssh->respond("SSH-2.0-OpenSSH_9.2p1\r\n"); // an SSH server
    auto implicit_tls = std::make_shared<smtp::transport::script>();
    implicit_tls->stall(); // an implicit-TLS server: it waits for the client's TLS hello
    auto nobody = std::make_shared<smtp::transport::script>();
    nobody->fail_at(1, boost::asio::error::connection_refused); // nobody listens
    for (const auto& server : {ssh, implicit_tls, nobody}) {
        smtp::error_code ec;
        smtp::diagnostics diag;
        if (!smtp::connect<P>(elsewhere, ec, diag, server))
            std::cout << "connect: " << diag.describe(ec) << '\n';
    }
    //! [wrong_server]
    return script->done() ? 0 : 1;
}

// detail::tls_stream, the TLS engine under transport::tls_layer, against an
// OpenSSL server in the same process: the cases a real server will not
// produce on demand. The client's next layer is in memory and the test
// says how it behaves: a record split across 1-byte reads, writes taken a
// few octets at a time, an error or the end of the stream mid-record, a
// corrupted record, a KeyUpdate while a write is in flight. And the TLS
// layer's close over TCP, which sends a close_notify.
#include <smtp/transport/detail/tls_stream.hpp>

#define BOOST_TEST_MODULE tls_stream
#include <boost/test/unit_test.hpp>

#include <smtp/transport/tcp.hpp>
#include <smtp/transport/tls_layer.hpp>

#if SMTP_HAS_CANCELLATION
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#endif
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>

namespace asio = boost::asio;
using smtp::error_code;

namespace {

/// A self-signed P-256 certificate made here, for the server.
struct server_identity {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    server_identity()
    {
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -60);
        X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509_set_pubkey(cert, key);
        X509_sign(cert, key, EVP_sha256());
    }
    ~server_identity()
    {
        X509_free(cert);
        EVP_PKEY_free(key);
    }
};

/// The server: OpenSSL over two memory BIOs, run by the test whenever the
/// client's bytes arrive (pump). What it decrypts goes into `received`.
struct server_end {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    SSL* ssl = nullptr;
    BIO* in = BIO_new(BIO_s_mem());  // client -> server
    BIO* out = BIO_new(BIO_s_mem()); // server -> client
    std::string received;
    int last_error = SSL_ERROR_NONE; // of the last read that failed other than WANT_READ
    int last_reason = 0;             // and OpenSSL's reason, if any

    explicit server_end(const server_identity& id, int max_version = 0)
    {
        SSL_CTX_use_certificate(ctx, id.cert);
        SSL_CTX_use_PrivateKey(ctx, id.key);
        if (max_version)
            SSL_CTX_set_max_proto_version(ctx, max_version);
        ssl = SSL_new(ctx);
        SSL_set_bio(ssl, in, out);
        SSL_set_accept_state(ssl);
    }
    ~server_end()
    {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    void feed(const void* p, std::size_t n)
    {
        BIO_write(in, p, static_cast<int>(n));
        pump();
    }
    void pump()
    {
        if (!SSL_is_init_finished(ssl) && SSL_do_handshake(ssl) != 1)
            return;
        char buf[4096];
        for (;;) {
            std::size_t n = 0;
            const int r = SSL_read_ex(ssl, buf, sizeof buf, &n);
            if (r != 1) {
                const int e = SSL_get_error(ssl, r);
                if (e != SSL_ERROR_WANT_READ) {
                    last_error = e;
                    last_reason = ERR_GET_REASON(ERR_peek_error());
                }
                ERR_clear_error();
                return;
            }
            received.append(buf, n);
        }
    }
    void send(const std::string& s)
    {
        std::size_t n = 0;
        BOOST_REQUIRE(SSL_write_ex(ssl, s.data(), s.size(), &n) == 1 && n == s.size());
    }
    std::string take_output()
    {
        std::string s(static_cast<std::size_t>(BIO_ctrl_pending(out)), '\0');
        if (!s.empty())
            BIO_read(out, s.data(), static_cast<int>(s.size()));
        return s;
    }
};

/// The client's next layer, in memory, completing every operation later
/// (posted), as a socket would. It reads at most max_read octets at a
/// time, takes at most max_write; a read with nothing to give waits for
/// the server's next output. `fail_read_at`: the read that would pass
/// that many octets in total fails instead (with `read_error`).
struct mem_next {
    using executor_type = asio::io_context::executor_type;
    asio::io_context& io;
    server_end& server;
    std::size_t max_read = std::numeric_limits<std::size_t>::max();
    std::size_t max_write = std::numeric_limits<std::size_t>::max();
    std::size_t fail_read_at = std::numeric_limits<std::size_t>::max();
    error_code read_error = asio::error::connection_reset;
    std::string to_client{};
    std::size_t read_total = 0, writes = 0;
    std::function<void()> pending_read{};

    executor_type get_executor() { return io.get_executor(); }

    template <class Handler>
    void async_read_some(asio::mutable_buffer b, Handler h)
    {
        pending_read = [this, b, h = std::move(h)]() mutable {
            std::size_t n = std::min({b.size(), max_read, to_client.size()});
            if (read_total + n > fail_read_at) {
                const std::size_t part = fail_read_at - read_total; // what comes before the failure is lost
                to_client.erase(0, part);
                read_total += part;
                return asio::post(io, [h = std::move(h), e = read_error]() mutable { h(e, 0); });
            }
            std::memcpy(b.data(), to_client.data(), n);
            to_client.erase(0, n);
            read_total += n;
            asio::post(io, [h = std::move(h), n]() mutable { h(error_code{}, n); });
        };
        serve_read();
    }
    template <class Handler>
    void async_write_some(asio::const_buffer b, Handler h)
    {
        const std::size_t n = std::min(b.size(), max_write);
        ++writes;
        asio::post(io, [this, b, n, h = std::move(h)]() mutable {
            server.feed(b.data(), n);
            server_output();
            h(error_code{}, n);
        });
    }
    /// What the server wrote goes to the client (and to a waiting read).
    void server_output()
    {
        to_client += server.take_output();
        serve_read();
    }
    void serve_read()
    {
        if (pending_read && (!to_client.empty() || read_total >= fail_read_at))
            std::exchange(pending_read, nullptr)();
    }
};

struct fixture {
    server_identity id;
    asio::io_context io;
    SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method()); // no verification: the engine is under test
    ~fixture() { SSL_CTX_free(client_ctx); }
};

using stream = smtp::detail::tls_stream<mem_next>;

void handshake(asio::io_context& io, stream& s)
{
    error_code ec = asio::error::would_block;
    s.async_handshake([&](error_code e) { ec = e; });
    io.restart();
    io.run();
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
}

std::string read_some(asio::io_context& io, stream& s, error_code& ec, std::size_t size = 256)
{
    std::string buf(size, '\0');
    std::size_t got = 0;
    ec = asio::error::would_block;
    s.async_read_some(asio::buffer(buf), [&](error_code e, std::size_t n) {
        ec = e;
        got = n;
    });
    io.restart();
    io.run();
    buf.resize(got);
    return buf;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(every_record_split_into_one_byte_reads, fixture)
{
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    s.next_layer().max_read = 1;
    handshake(io, s);
    BOOST_TEST(s.next_layer().read_total > 500u); // the server's flight, one octet per read

    // TLS 1.3: the server's tickets come after the handshake; a read goes
    // past them to the data.
    server.send("220 after the tickets\r\n");
    s.next_layer().server_output();
    std::string got;
    error_code ec;
    while (got.size() < 23 && !ec)
        got += read_some(io, s, ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(got == "220 after the tickets\r\n");
    BOOST_TEST(SSL_version(s.native_handle()) == TLS1_3_VERSION);

    // Nothing held between operations: no ciphertext, in or out.
    BOOST_TEST(s.buffered_bytes() == 0u);
}

BOOST_FIXTURE_TEST_CASE(writes_taken_a_few_octets_at_a_time, fixture)
{
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    s.next_layer().max_write = 7;
    handshake(io, s);
    const std::size_t before = s.next_layer().writes;

    std::string message;
    for (int i = 0; message.size() < 100'000; ++i)
        message += "line " + std::to_string(i) + "\r\n";
    error_code ec = asio::error::would_block;
    std::size_t written = 0;
    asio::async_write(s, asio::buffer(message), [&](error_code e, std::size_t n) {
        ec = e;
        written = n;
    });
    io.restart();
    io.run();
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(written == message.size());
    BOOST_TEST(server.received == message); // every record whole, in order
    BOOST_TEST(s.next_layer().writes - before > message.size() / 7);
    BOOST_TEST(s.buffered_bytes() == 0u);
}

BOOST_FIXTURE_TEST_CASE(write_some_takes_at_most_four_records, fixture)
{
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    handshake(io, s);
    const std::string big(200'000, 'x');
    std::size_t written = 0;
    error_code ec = asio::error::would_block;
    s.async_write_some(asio::buffer(big), [&](error_code e, std::size_t n) {
        ec = e;
        written = n;
    });
    io.restart();
    io.run();
    BOOST_TEST(!ec);
    BOOST_TEST(written == stream::max_write);
    BOOST_TEST(server.received == big.substr(0, written));
}

BOOST_FIXTURE_TEST_CASE(an_error_mid_record_ends_the_read_with_it, fixture)
{
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    handshake(io, s);
    error_code ec;
    // Whatever the tickets are, they are read first (none left after this).
    server.send("250 first\r\n");
    s.next_layer().server_output();
    BOOST_TEST(read_some(io, s, ec) == "250 first\r\n");

    server.send(std::string(3000, 'y'));
    s.next_layer().server_output();
    const std::size_t record = s.next_layer().to_client.size();
    s.next_layer().max_read = record / 2;
    s.next_layer().fail_read_at = s.next_layer().read_total + record / 2; // half a record, then a reset
    const std::string got = read_some(io, s, ec, 4096);
    BOOST_TEST(got.empty());
    BOOST_TEST(ec == asio::error::connection_reset, ec.message());
}

BOOST_FIXTURE_TEST_CASE(the_end_of_the_stream_mid_record_is_stream_truncated, fixture)
{
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    handshake(io, s);
    error_code ec;
    server.send("250 first\r\n");
    s.next_layer().server_output();
    BOOST_TEST(read_some(io, s, ec) == "250 first\r\n");

    server.send("250 second\r\n");
    s.next_layer().server_output();
    s.next_layer().read_error = asio::error::eof;
    s.next_layer().max_read = 10;
    s.next_layer().fail_read_at = s.next_layer().read_total + 10;
    BOOST_TEST(read_some(io, s, ec).empty());
    BOOST_TEST(ec == asio::ssl::error::stream_truncated, ec.message());
}

BOOST_FIXTURE_TEST_CASE(a_corrupted_record_is_an_ssl_error_and_the_server_hears_why, fixture)
{
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    handshake(io, s);
    error_code ec;
    server.send("250 first\r\n");
    s.next_layer().server_output();
    BOOST_TEST(read_some(io, s, ec) == "250 first\r\n");

    server.send("250 second\r\n");
    std::string bytes = server.take_output();
    bytes[bytes.size() - 3] ^= 0x40; // the authentication tag
    s.next_layer().to_client += bytes;
    BOOST_TEST(read_some(io, s, ec).empty());
    BOOST_TEST((ec.category() == asio::error::get_ssl_category()), ec.message());
    BOOST_TEST(ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC,
               ec.message());
    // The client's alert (bad_record_mac) reached the server: its read fails.
    BOOST_TEST(server.last_error == SSL_ERROR_SSL);
    BOOST_TEST(s.take_close_notify().empty()); // and no close_notify after an error
}

BOOST_FIXTURE_TEST_CASE(a_peer_close_notify_is_eof_and_ours_reaches_the_server, fixture)
{
    {
        server_end server(id);
        stream s(mem_next{io, server}, client_ctx);
        handshake(io, s);
        error_code ec;
        SSL_shutdown(server.ssl);
        s.next_layer().server_output();
        BOOST_TEST(read_some(io, s, ec).empty());
        BOOST_TEST(ec == asio::error::eof, ec.message());
    }
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    handshake(io, s);
    const auto alert = s.take_close_notify();
    BOOST_TEST(!alert.empty());
    server.feed(alert.data(), alert.size());
    BOOST_TEST(server.last_error == SSL_ERROR_ZERO_RETURN);
}

BOOST_FIXTURE_TEST_CASE(a_key_update_read_while_a_write_is_in_flight, fixture)
{
    // The server asks for a KeyUpdate (TLS 1.3) while a long write is
    // sending records under the old key, one octet per write: the client's
    // read takes it (and new keys) mid-write; its own KeyUpdate goes out
    // with its next write (OpenSSL 3 sends it then). The server decrypts
    // the whole message, then the next write under the new keys.
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    handshake(io, s);
    error_code ec;
    server.send("250 first\r\n");
    s.next_layer().server_output();
    BOOST_TEST(read_some(io, s, ec) == "250 first\r\n");

    s.next_layer().max_write = 1;
    const std::string message(40'000, 'z');
    error_code wec = asio::error::would_block, rec = asio::error::would_block;
    std::size_t written = 0;
    std::string reply(64, '\0');
    std::size_t replied = 0;
    asio::async_write(s, asio::buffer(message), [&](error_code e, std::size_t n) {
        wec = e;
        written = n;
    });
    s.async_read_some(asio::buffer(reply), [&](error_code e, std::size_t n) {
        rec = e;
        replied = n;
    });
    io.restart();
    for (int i = 0; i < 50; ++i) // the write under way
        io.run_one();
    BOOST_REQUIRE(SSL_key_update(server.ssl, SSL_KEY_UPDATE_REQUESTED) == 1);
    server.send("250 after the update\r\n");
    s.next_layer().server_output();
    io.run();
    BOOST_TEST(!wec, wec.message());
    BOOST_TEST(written == message.size());
    BOOST_TEST(!rec, rec.message());
    BOOST_TEST(reply.substr(0, replied) == "250 after the update\r\n");
    BOOST_TEST(server.received == message);
    BOOST_TEST(server.last_error == SSL_ERROR_NONE);
    // The client's answer came: a second write under the new keys is read.
    server.received.clear();
    s.next_layer().max_write = 1 << 20;
    asio::async_write(s, asio::buffer(std::string_view("QUIT\r\n")), [&](error_code e, std::size_t) { wec = e; });
    io.restart();
    io.run();
    BOOST_TEST(server.received == "QUIT\r\n");
    BOOST_TEST(s.buffered_bytes() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_write_waits_while_a_read_sends_an_alert, fixture)
{
    // TLS 1.2: the server asks to renegotiate (HelloRequest); the client's
    // read declines with a no_renegotiation alert, sent one octet per
    // write. A write started meanwhile waits for it: the server sees the
    // alert first (and, being OpenSSL, ends there), never the write's
    // record before it.
    server_end server(id, TLS1_2_VERSION);
    stream s(mem_next{io, server}, client_ctx);
    handshake(io, s);
    error_code ec;
    server.send("250 first\r\n");
    BOOST_REQUIRE(SSL_renegotiate(server.ssl) == 1);
    (void)SSL_do_handshake(server.ssl); // writes the HelloRequest, then waits
    ERR_clear_error();
    s.next_layer().server_output();
    BOOST_TEST(read_some(io, s, ec) == "250 first\r\n");

    s.next_layer().max_write = 1;
    error_code wec = asio::error::would_block;
    bool write_done = false;
    std::string reply(64, '\0');
    s.async_read_some(asio::buffer(reply), [&](error_code, std::size_t) {}); // reads the HelloRequest
    io.restart();
    const std::size_t before = s.next_layer().writes;
    while (s.next_layer().writes < before + 2) // the alert under way
        BOOST_REQUIRE(io.run_one() == 1u);
    asio::async_write(s, asio::buffer(std::string_view("QUIT\r\n")), [&](error_code e, std::size_t n) {
        wec = e;
        write_done = n == 6;
    });
    io.run();
    BOOST_TEST(!wec, wec.message());
    BOOST_TEST(write_done);
    BOOST_TEST(server.last_reason == SSL_R_NO_RENEGOTIATION);
    BOOST_TEST(server.received.empty()); // the alert came first
    BOOST_TEST(s.next_layer().writes - before > 7u + 6u); // the alert's record and the write's, one octet each
}

#if SMTP_HAS_CANCELLATION
BOOST_FIXTURE_TEST_CASE(a_cancellation_between_two_steps_stops_the_next, fixture)
{
    // This next layer does not take the slot itself (a socket would): the
    // request comes while the handshake waits on it, and is seen when that
    // step completes, before the next one starts.
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    s.next_layer().max_read = 1;
    asio::cancellation_signal signal;
    error_code ec = asio::error::would_block;
    s.async_handshake(asio::bind_cancellation_slot(signal.slot(), [&](error_code e) { ec = e; }));
    io.run_one(); // the ClientHello's write; the server's flight comes back
    signal.emit(asio::cancellation_type::terminal);
    io.restart();
    io.run();
    BOOST_TEST(ec == asio::error::operation_aborted, ec.message());
    BOOST_TEST(!SSL_is_init_finished(s.native_handle()));
}
#endif

BOOST_FIXTURE_TEST_CASE(tls_1_2_works_too, fixture)
{
    server_end server(id, TLS1_2_VERSION);
    stream s(mem_next{io, server}, client_ctx);
    s.next_layer().max_read = 3;
    handshake(io, s);
    BOOST_TEST(SSL_version(s.native_handle()) == TLS1_2_VERSION);
    server.send("220 ok\r\n");
    s.next_layer().server_output();
    error_code ec;
    BOOST_TEST(read_some(io, s, ec) == "220 ok\r\n");
    BOOST_TEST(s.buffered_bytes() == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_empty_read_or_write_completes_at_once_with_nothing, fixture)
{
    server_end server(id);
    stream s(mem_next{io, server}, client_ctx);
    bool read_done = false, write_done = false;
    s.async_read_some(asio::mutable_buffer(), [&](error_code e, std::size_t n) {
        read_done = !e && n == 0;
    });
    s.async_write_some(asio::const_buffer(), [&](error_code e, std::size_t n) {
        write_done = !e && n == 0;
    });
    BOOST_TEST(!read_done); // never inside the call
    io.run();
    BOOST_TEST(read_done);
    BOOST_TEST(write_done);
    BOOST_TEST(s.next_layer().writes == 0u);
}

BOOST_FIXTURE_TEST_CASE(the_tls_layer_over_tcp_closes_with_a_close_notify, fixture)
{
    // transport::tls_layer<transport::tcp> against the same server over a
    // loopback socket: after the handshake, close() sends a close_notify,
    // which the server reads as the TLS end (SSL_ERROR_ZERO_RETURN), not
    // as a cut connection.
    server_end server(id);
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket peer(io);
    std::array<char, 4096> buf{};
    bool peer_eof = false;
    std::function<void()> serve = [&] {
        peer.async_read_some(asio::buffer(buf), [&](error_code e, std::size_t n) {
            if (e) {
                peer_eof = e == asio::error::eof;
                return;
            }
            server.feed(buf.data(), n);
            const std::string out = server.take_output();
            asio::write(peer, asio::buffer(out));
            serve();
        });
    };
    acceptor.async_accept(peer, [&](error_code e) {
        BOOST_REQUIRE(!e);
        serve();
    });

    smtp::connect_options o;
    o.host = "127.0.0.1";
    o.port = acceptor.local_endpoint().port();
    o.tls.resume_sessions = false;
    smtp::transport::tls_layer<smtp::transport::tcp> layer(io.get_executor());
    error_code hs = asio::error::would_block;
    layer.async_connect(o, [&](error_code e) {
        BOOST_REQUIRE_MESSAGE(!e, e.message());
        layer.async_handshake(o, false, [&](error_code h) {
            hs = h;
            layer.close();
        });
    });
    io.run();
    BOOST_TEST(!hs, hs.message());
    BOOST_TEST(peer_eof);
    BOOST_TEST(server.last_error == SSL_ERROR_ZERO_RETURN);
}

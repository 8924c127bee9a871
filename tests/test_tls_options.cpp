// connect_options::tls checked when the connection opens, before a byte is
// written: each bad option is its own smtp::tls_errc, and the TCP stream under
// the TLS layer never tried an address. The pins' two spellings. (The options
// that need a server, a certificate or a handshake: live_tls_test.cpp.)
#include <smtp/transport/tls_layer.hpp>

#include <smtp/transport/tcp.hpp>

#define BOOST_TEST_MODULE tls_options
#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

using layer = smtp::transport::tls_layer<smtp::transport::tcp>;

/// Connects a TLS layer over TCP with these options; the error it completes with.
smtp::error_code connect_with(const smtp::tls_options& t, bool* tried = nullptr)
{
    boost::asio::io_context io;
    layer l(io.get_executor());
    smtp::connect_options o;
    o.host = "127.0.0.1";
    o.port = 1; // nothing listens there: a connect that got this far would be refused
    o.tls = t;
    std::optional<smtp::error_code> got;
    l.async_connect(o, [&](smtp::error_code ec) { got = ec; });
    io.run();
    BOOST_REQUIRE(got.has_value());
    if (tried)
        *tried = !l.connect_attempts().empty();
    return *got;
}

const std::string hex_pin = "4c7a2d1e0b8f3a6c9d5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e";

} // namespace

BOOST_AUTO_TEST_CASE(pins_as_hex_or_base64)
{
    smtp::detail::spki_digest d{};
    BOOST_TEST(smtp::detail::parse_pin(hex_pin, d));
    BOOST_TEST(d[0] == 0x4c);
    BOOST_TEST(d[31] == 0x6e);
    smtp::detail::spki_digest upper{};
    std::string up = hex_pin;
    for (char& c : up)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    BOOST_TEST(smtp::detail::parse_pin(up, upper));
    BOOST_TEST((upper == d));
    // The same 32 bytes in base64, bare and as curl writes them.
    const std::string b64 = smtp::base64::encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
    smtp::detail::spki_digest e{}, f{};
    BOOST_TEST(smtp::detail::parse_pin(b64, e));
    BOOST_TEST(smtp::detail::parse_pin("sha256//" + b64, f));
    BOOST_TEST((e == d));
    BOOST_TEST((f == d));
    // Not a SHA-256: too short, too long, not hex, base64 of 31 bytes, a space.
    for (const std::string& bad : {hex_pin.substr(1), hex_pin + "0", "g" + hex_pin.substr(1),
                                  smtp::base64::encode(std::string(31, 'x')), " " + b64, std::string()})
        BOOST_TEST(!smtp::detail::parse_pin(bad, e), bad);
}

BOOST_AUTO_TEST_CASE(bad_options_fail_before_connecting)
{
    const std::string missing = "/nonexistent/smtp-test/file.pem";
    struct tcase {
        const char* what;
        smtp::tls_options t;
        smtp::tls_errc expected;
    };
    std::vector<tcase> cases;
    {
        smtp::tls_options t;
        t.pin_sha256 = {hex_pin, "not a pin"};
        cases.push_back({"a bad pin among good ones", t, smtp::tls_errc::bad_pin});
    }
    {
        smtp::tls_options t;
        t.ca_file = missing;
        cases.push_back({"a CA file that is not there", t, smtp::tls_errc::ca_file_unreadable});
    }
    {
        smtp::tls_options t;
        t.ca_file = SMTP_TEST_DATA "/../CMakeLists.txt"; // readable, not PEM
        cases.push_back({"a CA file that is not PEM", t, smtp::tls_errc::ca_file_unreadable});
    }
    {
        smtp::tls_options t;
        t.cert_file = missing;
        cases.push_back({"a certificate that is not there", t, smtp::tls_errc::cert_file_unreadable});
    }
    {
        smtp::tls_options t;
        t.cert_file = SMTP_TEST_DATA "/../CMakeLists.txt";
        cases.push_back({"a certificate that is not PEM", t, smtp::tls_errc::client_cert_invalid});
    }
    {
        smtp::tls_options t;
        t.key_file = missing;
        cases.push_back({"a key without a certificate", t, smtp::tls_errc::key_without_cert});
    }
    {
        smtp::tls_options t;
        t.ciphers = "NO-SUCH-CIPHER";
        cases.push_back({"a cipher list OpenSSL refuses", t, smtp::tls_errc::bad_cipher_list});
    }
    {
        smtp::tls_options t;
        t.ciphersuites = "TLS_NO_SUCH_SUITE";
        cases.push_back({"ciphersuites OpenSSL refuses", t, smtp::tls_errc::bad_ciphersuites});
    }
    // DANE (tls_options::dane), checked with the rest.
    const smtp::dane::tlsa_record ee{3, 1, 1, std::vector<std::uint8_t>(32, 1)};
    {
        smtp::tls_options t;
        t.dane.records = {ee};
        cases.push_back({"TLSA records with DANE off", t, smtp::tls_errc::dane_records_unused});
    }
    {
        smtp::tls_options t;
        t.dane.mode = smtp::dane::mode::authenticate;
        t.dane.records = {{1, 1, 1, std::vector<std::uint8_t>(32, 1)}, {3, 1, 1, std::vector<std::uint8_t>(31, 1)}};
        cases.push_back({"DANE authentication without a usable record", t, smtp::tls_errc::dane_no_usable_record});
    }
    {
        smtp::tls_options t;
        t.dane.mode = smtp::dane::mode::authenticate;
        t.dane.records = {ee};
        t.dane.names = {"mx.example.test", "mx.example.test\r\nQUIT"};
        cases.push_back({"a DANE name that is not a host name", t, smtp::tls_errc::dane_bad_name});
    }
    {
        smtp::tls_options t; // no names, and the host is an address: nothing to check DANE-TA against
        t.dane.mode = smtp::dane::mode::authenticate;
        t.dane.records = {ee};
        cases.push_back({"DANE with no name and an address as the host", t, smtp::tls_errc::dane_bad_name});
    }
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what)
        {
            bool tried = true;
            const smtp::error_code ec = connect_with(c.t, &tried);
            BOOST_TEST((ec == c.expected), ec.message());
            BOOST_TEST((ec.category() == smtp::tls_error_category()));
            BOOST_TEST(!tried); // no address was tried: nothing left this process
            BOOST_TEST(!ec.message().empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(good_options_go_on_to_connect)
{
    // The control: the same path with options that are fine reaches the TCP
    // connect, which port 1 refuses.
    smtp::tls_options t;
    t.pin_sha256 = {hex_pin};
    t.ciphers = "ECDHE+AESGCM";
    t.min_version = smtp::tls_version::v1_3;
    bool tried = false;
    const smtp::error_code ec = connect_with(t, &tried);
    BOOST_TEST(tried);
    BOOST_TEST((ec.category() != smtp::tls_error_category()), ec.message());
    // And with DANE settings that are fine.
    t = {};
    t.dane.mode = smtp::dane::mode::authenticate;
    t.dane.records = {{3, 1, 1, std::vector<std::uint8_t>(32, 1)}, {0, 0, 1, std::vector<std::uint8_t>(32, 1)}};
    t.dane.names = {"mx.example.test", "example.test"};
    tried = false;
    const smtp::error_code dane_ec = connect_with(t, &tried);
    BOOST_TEST(tried);
    BOOST_TEST((dane_ec.category() != smtp::tls_error_category()), dane_ec.message());
}

// tests/test_offers.hpp: what a test server offers, as flags, made into the
// capability record the transaction engine plans from (an EHLO reply that
// lists the keywords). Shared by the engine's tests (test_transaction,
// test_message_check, test_hostile).
#ifndef SMTP_TESTS_TEST_OFFERS_HPP
#define SMTP_TESTS_TEST_OFFERS_HPP

#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/reply_parser.hpp>

#include <cstdint>
#include <optional>
#include <string>

struct test_offers {
    bool pipelining = false, chunking = false, binarymime = false, eightbitmime = false, smtputf8 = false,
         dsn = false, requiretls = false, size = false;
    std::optional<std::uint64_t> size_limit{};
};

inline smtp::capabilities caps(const test_offers& o)
{
    std::string ehlo = "250-mx.example.org";
    const auto add = [&](bool on, const std::string& line) {
        if (on)
            ehlo += "\r\n250-" + line;
    };
    add(o.pipelining, "PIPELINING");
    add(o.chunking, "CHUNKING");
    add(o.binarymime, "BINARYMIME");
    add(o.eightbitmime, "8BITMIME");
    add(o.smtputf8, "SMTPUTF8");
    add(o.dsn, "DSN");
    add(o.requiretls, "REQUIRETLS");
    add(o.size, o.size_limit ? "SIZE " + std::to_string(*o.size_limit) : std::string("SIZE"));
    ehlo += "\r\n250 HELP\r\n";
    smtp::reply_parser p;
    smtp::reply_view v;
    smtp::error_code ec;
    p.put(ehlo, v, ec);
    return smtp::capabilities::from_ehlo(v);
}

#endif

// Tests for smtp/protocol/message_check.hpp: what makes a message unsendable
// whatever the server offers, found before connecting, with the line at
// fault; and that it is the engine's own verdict: a transaction with a server
// that offers everything refuses the same messages with the same error.
#define BOOST_TEST_MODULE message_check
#include <smtp/protocol/message_check.hpp>

#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/reply_parser.hpp>

#include "test_offers.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

using smtp::errc;

namespace {

const std::string x998(998, 'x');
const std::string x999(999, 'x');

/// A server that offers everything the engine can use, without a SIZE limit.
test_offers everything()
{
    test_offers o;
    o.pipelining = o.chunking = o.binarymime = o.eightbitmime = o.smtputf8 = o.dsn = o.requiretls = true;
    return o;
}

/// What the engine says of the same message, before a byte is written.
smtp::error_code engine_verdict(std::string_view message, const smtp::send_options& options,
                                const smtp::transaction_settings& settings)
{
    const std::vector<smtp::recipient> to{{"b@example.org"}};
    const smtp::transaction t("a@example.org", to, message, options, caps(everything()), {true, false}, settings);
    return t.error();
}

/// A message read a few octets at a time, counting what was read.
struct string_source {
    std::string data;
    std::size_t at = 0, reads = 0;
    bool can_rewind = true, rewind_works = true;
    smtp::message_source make()
    {
        smtp::message_source s;
        s.read = [this](char* buf, std::size_t n) {
            const std::size_t k = std::min({n, std::size_t(7), data.size() - at});
            std::copy_n(data.data() + at, k, buf);
            at += k;
            ++reads;
            return k;
        };
        if (can_rewind)
            s.rewind = [this] {
                if (rewind_works)
                    at = 0;
                return rewind_works;
            };
        return s;
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_sendable_message_passes_with_its_facts)
{
    const std::string m = "Subject: x\r\n\r\n" + x998 + "\r\n";
    const smtp::message_check c = smtp::check_message(m);
    BOOST_TEST(c.ok());
    BOOST_TEST(c.checked);
    BOOST_TEST(c.line == 0u);
    BOOST_TEST(c.facts.size == m.size());
    BOOST_TEST(c.facts.longest_line == 998u);
    BOOST_TEST(c.describe() == "");
}

BOOST_AUTO_TEST_CASE(the_first_line_over_the_limit_with_its_number_and_length)
{
    struct line_case {
        std::string message;
        std::size_t line, length;
    };
    const std::vector<line_case> cases{
        {"A: b\r\n\r\n" + x999 + "\r\n", 3, 999},
        {x999, 1, 999},                                                           // one open line
        {"A: b\r\n\r\nend\r\n" + std::string(1200, 'y'), 4, 1200},                // the last line, open
        {"a\r\n" + std::string(1200, 'y') + "\r\nb\r\n" + std::string(5000, 'z') + "\r\n", 2, 1200}, // the first of two
        {"a\nb\rc\r\n\n" + x999 + "\n", 5, 999}, // LF, CR, CRLF and an empty line: each a line end, as sent
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("case " << &c - cases.data())
        {
            const smtp::message_check r = smtp::check_message(c.message);
            BOOST_TEST(r.error == errc::data_line_too_long);
            BOOST_TEST(r.line == c.line);
            BOOST_TEST(r.line_length == c.length);
            BOOST_TEST(r.max_line == 998u);
            BOOST_TEST(r.error == engine_verdict(c.message, {}, {}));
        }
    }
    const smtp::message_check r = smtp::check_message("A: b\r\n\r\n" + x999 + "\r\n");
    BOOST_TEST(r.describe() == "message line 3 is 999 octets, over the limit of 998 (RFC 5321 4.5.3.1.6)");
}

BOOST_AUTO_TEST_CASE(the_limit_is_the_settings_and_binary_has_none)
{
    const std::string m = "a\r\n" + std::string(150, 'y') + "\r\n";
    smtp::transaction_settings tight;
    tight.data.max_line = 100;
    const smtp::message_check r = smtp::check_message(m, {}, tight);
    BOOST_TEST(r.error == errc::data_line_too_long);
    BOOST_TEST((r.line == 2u && r.line_length == 150u && r.max_line == 100u));
    BOOST_TEST(r.error == engine_verdict(m, {}, tight));

    smtp::transaction_settings unlimited;
    unlimited.data.max_line = 0;
    BOOST_TEST(smtp::check_message("a\r\n" + std::string(100000, 'y'), {}, unlimited).ok());

    // BINARYMIME: the bytes go as they are in BDAT chunks; no line limit.
    smtp::send_options binary;
    binary.body = smtp::body_type::binary;
    const std::string long_binary = std::string("\x00\xff", 2) + std::string(5000, 'b');
    BOOST_TEST(smtp::check_message(long_binary, binary).ok());
    BOOST_TEST(smtp::check_message(long_binary, binary).facts.size == long_binary.size());
    BOOST_TEST(engine_verdict(long_binary, binary, {}) == smtp::error_code());
    // ... but only with BDAT: with CHUNKING turned off it cannot be sent at all.
    smtp::transaction_settings no_chunking;
    no_chunking.chunking = false;
    const smtp::message_check nb = smtp::check_message(long_binary, binary, no_chunking);
    BOOST_TEST(nb.error == errc::binarymime_not_offered);
    BOOST_TEST(nb.error == engine_verdict(long_binary, binary, no_chunking));
    BOOST_TEST(nb.describe() ==
               "message is binary (body_type::binary), which needs BDAT, and transaction_settings::chunking is off");
}

BOOST_AUTO_TEST_CASE(bare_line_ends_under_reject_with_their_offset)
{
    smtp::transaction_settings strict;
    strict.data.bare_line_endings = smtp::line_endings::reject;
    const smtp::message_check lf = smtp::check_message("ab\r\ncd\nef\r\n", {}, strict);
    BOOST_TEST(lf.error == errc::data_bare_lf);
    BOOST_TEST(lf.offset == 6u);
    BOOST_TEST(lf.describe() == "message data contains a bare LF at offset 6");
    const smtp::message_check cr = smtp::check_message("ab\rcd\r\n", {}, strict);
    BOOST_TEST(cr.error == errc::data_bare_cr);
    BOOST_TEST(cr.offset == 2u);
    for (const std::string m : {"ab\r\ncd\nef\r\n", "ab\rcd\r\n"})
        BOOST_TEST(smtp::check_message(m, {}, strict).error == engine_verdict(m, {}, strict));
    // By default they are made CRLF: fine.
    BOOST_TEST(smtp::check_message("ab\rcd\nef").ok());
}

BOOST_AUTO_TEST_CASE(a_rewindable_source_is_read_once_and_rewound)
{
    string_source s{"A: b\r\n\r\n" + x999 + "\r\n"};
    auto ms = s.make();
    const smtp::message_check r = smtp::check_message(ms);
    BOOST_TEST(r.checked);
    BOOST_TEST(r.error == errc::data_line_too_long);
    BOOST_TEST((r.line == 3u && r.line_length == 999u));
    BOOST_TEST(s.at == 0u); // rewound: the engine reads it from the start

    string_source ok{"A: b\r\n\r\nbody\r\n"};
    auto mo = ok.make();
    const smtp::message_check g = smtp::check_message(mo);
    BOOST_TEST(g.ok());
    BOOST_TEST(g.facts.size == smtp::check_message(ok.data).facts.size);
    BOOST_TEST(ok.at == 0u);
}

BOOST_AUTO_TEST_CASE(an_unrewindable_source_is_not_read)
{
    string_source s{x999};
    s.can_rewind = false;
    auto ms = s.make();
    const smtp::message_check r = smtp::check_message(ms);
    BOOST_TEST(!r.checked);
    BOOST_TEST(r.ok()); // nothing known: the engine checks it as it goes
    BOOST_TEST(s.reads == 0u);
}

BOOST_AUTO_TEST_CASE(a_source_that_cannot_be_read_or_rewound_is_refused_as_the_engine_refuses_it)
{
    smtp::message_source none;
    BOOST_TEST(smtp::check_message(none).error == errc::empty_argument);

    string_source s{"A: b\r\n\r\nbody\r\n"};
    s.rewind_works = false;
    auto ms = s.make();
    BOOST_TEST(smtp::check_message(ms).error == errc::empty_argument);
    string_source s2{"A: b\r\n\r\nbody\r\n"};
    s2.rewind_works = false;
    auto ms2 = s2.make();
    const std::vector<smtp::recipient> to{{"b@example.org"}};
    const smtp::transaction t("a@example.org", to, ms2, {}, caps(everything()), {true, false});
    BOOST_TEST(t.error() == errc::empty_argument);
}

BOOST_AUTO_TEST_CASE(the_first_long_line_is_the_same_at_every_split)
{
    const std::vector<std::string> messages{"a\r\n" + x999 + "\r\n" + std::string(2000, 'y'),
                                            "a\rb\n" + x999 + "\r", x999 + "\r\n" + x998, "\r\n\r\n" + x999};
    for (const auto& m : messages) {
        const auto whole = smtp::scan_message(m, 998);
        BOOST_TEST(whole.first_long_line != 0u);
        for (std::size_t cut = 0; cut <= m.size(); ++cut) {
            smtp::message_scanner s(998);
            s.put(std::string_view(m).substr(0, cut));
            s.put(std::string_view(m).substr(cut));
            const auto f = s.finish();
            BOOST_TEST_CONTEXT("message " << &m - messages.data() << " cut " << cut)
            {
                BOOST_TEST(f.first_long_line == whole.first_long_line);
                BOOST_TEST(f.first_long_line_length == whole.first_long_line_length);
            }
        }
    }
    // Without a limit nothing is noted.
    BOOST_TEST(smtp::scan_message(x999).first_long_line == 0u);
}

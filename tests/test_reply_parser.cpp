// Tests for the incremental reply parser (RFC 5321 4.2): every reply at every
// split point, each malformed class, the limits, and no allocation.
#define BOOST_TEST_MODULE reply_parser
#include <smtp/protocol/reply_parser.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <iomanip>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "counting_new.hpp" // the parser must never allocate

namespace {

struct parsed {
    std::vector<smtp::reply> replies;
    smtp::error_code ec; // first error other than need_more; need_more if input ended mid-reply
    std::size_t max_buffered = 0;
};

/// Feeds `input` in pieces whose ends are given by `cuts` (ascending, last is
/// input.size()), the way a client reading a socket would: append, parse
/// every complete reply, consume.
parsed feed(std::string_view input, const std::vector<std::size_t>& cuts, smtp::reply_limits limits = {})
{
    parsed out;
    smtp::reply_parser p(limits);
    std::string buffer;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        buffer.append(input.substr(from, cut - from));
        from = cut;
        out.max_buffered = std::max(out.max_buffered, buffer.size());
        for (;;) {
            smtp::reply_view r;
            smtp::error_code ec;
            const std::size_t n = p.put(buffer, r, ec);
            if (ec == smtp::errc::need_more) {
                BOOST_TEST(n == 0u);
                out.ec = ec;
                break;
            }
            if (ec) {
                BOOST_TEST(n == 0u);
                out.ec = ec;
                return out;
            }
            BOOST_TEST(n == r.raw().size());
            BOOST_TEST(r.raw() == std::string_view(buffer).substr(0, n));
            out.replies.emplace_back(r);
            buffer.erase(0, n);
            out.ec = {};
        }
    }
    if (buffer.empty() && out.ec == smtp::errc::need_more)
        out.ec = {};
    return out;
}

parsed feed_whole(std::string_view input, smtp::reply_limits limits = {}) { return feed(input, {input.size()}, limits); }

/// All the ways to cut the input that the tests try: whole, every two-piece
/// split, one byte at a time, and random chunkings.
std::vector<std::vector<std::size_t>> chunkings(std::size_t n, unsigned seed = 1)
{
    std::vector<std::vector<std::size_t>> all;
    all.push_back({n});
    for (std::size_t i = 0; i <= n; ++i)
        all.push_back({i, n});
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i <= n; ++i)
        bytes.push_back(i);
    all.push_back(bytes);
    std::mt19937 rng(seed);
    for (int k = 0; k < 20; ++k) {
        std::vector<std::size_t> cuts;
        std::size_t at = 0;
        while (at < n) {
            at = std::min(n, at + 1 + rng() % 7);
            cuts.push_back(at);
        }
        if (cuts.empty())
            cuts.push_back(0);
        all.push_back(cuts);
    }
    return all;
}

std::vector<std::string> texts(const smtp::reply& r)
{
    std::vector<std::string> v;
    for (auto l : r.lines())
        v.emplace_back(l);
    return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(single_line_reply)
{
    const auto p = feed_whole("250 OK\r\n");
    BOOST_TEST(!p.ec);
    BOOST_REQUIRE(p.replies.size() == 1u);
    const auto& r = p.replies[0];
    BOOST_TEST(r.code().value() == 250u);
    BOOST_TEST(!r.is_multiline());
    BOOST_TEST(r.line_count() == 1u);
    BOOST_TEST(r.message() == "OK");
    BOOST_TEST(!r.status().has_value());
    BOOST_TEST(r.raw() == "250 OK\r\n");
}

BOOST_AUTO_TEST_CASE(an_owning_reply_assigned_in_place_is_the_copy)
{
    // What a result's entry holds after assign(): the same as a reply made
    // from the view, whatever it held before (a longer, multi-line one here).
    const auto first = feed_whole("550-5.1.1 no such user here, and a long line of text\r\n550 5.1.1 really\r\n");
    const auto second = feed_whole("250 2.1.5 ok\r\n");
    BOOST_REQUIRE(first.replies.size() == 1u);
    BOOST_REQUIRE(second.replies.size() == 1u);
    smtp::reply r = first.replies[0];
    BOOST_TEST(r.status().has_value());
    r.assign(second.replies[0].view());
    const smtp::reply made(second.replies[0].view());
    BOOST_TEST(r.raw() == made.raw());
    BOOST_TEST(r.raw() == "250 2.1.5 ok\r\n");
    BOOST_TEST(r.code().value() == 250u);
    BOOST_TEST(r.line_count() == 1u);
    BOOST_TEST(!r.is_multiline());
    BOOST_REQUIRE(r.status().has_value());
    BOOST_TEST(r.status()->to_string() == "2.1.5");
    BOOST_TEST((r.status() == made.status()));
}

BOOST_AUTO_TEST_CASE(multi_line_reply_keeps_every_line)
{
    const std::string ehlo = "250-mail.example.org\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250 HELP\r\n";
    const auto p = feed_whole(ehlo);
    BOOST_REQUIRE(p.replies.size() == 1u);
    const auto& r = p.replies[0];
    BOOST_TEST(r.is_multiline());
    BOOST_TEST(r.line_count() == 4u);
    const std::vector<std::string> expected{"mail.example.org", "SIZE 33554432", "8BITMIME", "HELP"};
    BOOST_TEST(texts(r) == expected, boost::test_tools::per_element());
    BOOST_TEST(r.message() == "mail.example.org\nSIZE 33554432\n8BITMIME\nHELP");
    BOOST_TEST(r.view().front() == "mail.example.org");
}

BOOST_AUTO_TEST_CASE(empty_text_with_and_without_space)
{
    // RFC 5321 4.2: the text may be empty, with or without the space.
    for (std::string_view in : {"250\r\n", "250 \r\n"}) {
        const auto p = feed_whole(in);
        BOOST_REQUIRE(p.replies.size() == 1u);
        BOOST_TEST(p.replies[0].code().value() == 250u);
        BOOST_TEST(p.replies[0].message().empty());
    }
    const auto p = feed_whole("250-\r\n250-x\r\n250\r\n");
    BOOST_REQUIRE(p.replies.size() == 1u);
    BOOST_TEST(p.replies[0].line_count() == 3u);
    BOOST_TEST(p.replies[0].message() == "\nx\n");
}

BOOST_AUTO_TEST_CASE(enhanced_status_codes)
{
    struct case_ {
        std::string_view in;
        bool present;
        smtp::enhanced_status status;
        std::string_view text;
    };
    const case_ cases[] = {
        {"250 2.1.0 Ok\r\n", true, {2, 1, 0}, "2.1.0 Ok"},
        {"550-5.1.1 The email account\r\n550 5.1.1 does not exist\r\n", true, {5, 1, 1}, ""},
        {"451 4.7.1 Try again later\r\n", true, {4, 7, 1}, ""},
        {"250 2.0.0\r\n", true, {2, 0, 0}, ""},
        {"554 5.123.999 x\r\n", true, {5, 123, 999}, ""},
        {"250 5.1.1 class differs from the code\r\n", false, {}, ""},
        {"250 3.1.1 not a class\r\n", false, {}, ""},
        {"250 2.1000.0 too many digits\r\n", false, {}, ""},
        {"250 2.1.0x glued\r\n", false, {}, ""},
        {"250 2..0 empty subject\r\n", false, {}, ""},
        {"250 2.1. empty detail\r\n", false, {}, ""},
        {"250 mail.example.org\r\n", false, {}, ""},
        {"250 2.1\r\n", false, {}, ""},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.in)
        {
            const auto p = feed_whole(c.in);
            BOOST_REQUIRE(p.replies.size() == 1u);
            BOOST_TEST(p.replies[0].status().has_value() == c.present);
            if (c.present) {
                BOOST_TEST((*p.replies[0].status() == c.status));
                BOOST_TEST(p.replies[0].status()->to_string() == c.status.to_string());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(every_reply_at_every_split_point)
{
    const std::string transcript = "220 mail.example.org ESMTP ready\r\n"
                                   "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                                   "250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                                   "250 2.1.0 Ok\r\n"
                                   "250 2.1.5 Ok\r\n"
                                   "550-5.1.1 <nobody@example.org>: Recipient address rejected:\r\n"
                                   "550-5.1.1 User unknown in virtual mailbox table\r\n"
                                   "550 5.1.1 \tsee https://example.org/help\r\n"
                                   "354 End data with <CR><LF>.<CR><LF>\r\n"
                                   "250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n"
                                   "250\r\n"
                                   "221 2.0.0 Bye \xc3\xa9\r\n";
    const auto reference = feed_whole(transcript);
    BOOST_TEST(!reference.ec);
    BOOST_REQUIRE(reference.replies.size() == 9u);
    const unsigned codes[] = {220, 250, 250, 250, 550, 354, 250, 250, 221};
    for (std::size_t i = 0; i < 9; ++i)
        BOOST_TEST(reference.replies[i].code().value() == codes[i]);
    BOOST_TEST(reference.replies[1].line_count() == 6u);
    BOOST_TEST(reference.replies[3].line_count() == 1u); // 250 2.1.5
    BOOST_TEST(reference.replies[4].line_count() == 3u);
    BOOST_TEST(reference.replies[4].message() ==
               "5.1.1 <nobody@example.org>: Recipient address rejected:\n5.1.1 User unknown in virtual mailbox "
               "table\n5.1.1 \tsee https://example.org/help");
    BOOST_TEST(reference.replies[8].message() == "2.0.0 Bye \xc3\xa9");
    for (const auto& cuts : chunkings(transcript.size())) {
        const auto p = feed(transcript, cuts);
        BOOST_TEST(!p.ec);
        BOOST_REQUIRE(p.replies.size() == reference.replies.size());
        for (std::size_t i = 0; i < p.replies.size(); ++i) {
            BOOST_TEST(p.replies[i].raw() == reference.replies[i].raw());
            BOOST_TEST(p.replies[i].code().value() == reference.replies[i].code().value());
            BOOST_TEST(p.replies[i].line_count() == reference.replies[i].line_count());
            BOOST_TEST(p.replies[i].status().has_value() == reference.replies[i].status().has_value());
        }
    }
}

BOOST_AUTO_TEST_CASE(reply_codes_out_of_range_or_malformed)
{
    for (std::string_view in : {"199 x\r\n", "600 x\r\n", "099 x\r\n", "000\r\n", "2a0 x\r\n", "25\r\n", "2\r\n",
                                "\r\n", "abc\r\n", " 250 x\r\n", "-250 x\r\n", "25 0\r\n", "2500\r\n"}) {
        BOOST_TEST_CONTEXT(in)
        {
            for (const auto& cuts : chunkings(in.size())) {
                const auto p = feed(in, cuts);
                BOOST_TEST(p.replies.empty());
                // "2500" has a digit where the separator goes.
                const smtp::error_code expected =
                    in == "2500\r\n" ? smtp::errc::reply_separator_invalid : smtp::errc::reply_code_invalid;
                BOOST_TEST(p.ec == expected);
            }
        }
    }
    // The first digit bounds: 2..5 pass.
    for (std::string_view in : {"200 x\r\n", "399 x\r\n", "421 x\r\n", "599 x\r\n"})
        BOOST_TEST(feed_whole(in).replies.size() == 1u);
}

BOOST_AUTO_TEST_CASE(separator_must_be_space_hyphen_or_end)
{
    for (std::string_view in : {"250x\r\n", "250_OK\r\n", "250\tOK\r\n", "250=OK\r\n"}) {
        BOOST_TEST_CONTEXT(in)
        {
            for (const auto& cuts : chunkings(in.size()))
                BOOST_TEST(feed(in, cuts).ec == smtp::errc::reply_separator_invalid);
        }
    }
}

BOOST_AUTO_TEST_CASE(multi_line_code_must_not_change)
{
    for (std::string_view in : {"250-a\r\n251 b\r\n", "250-a\r\n250-b\r\n550 c\r\n", "550-a\r\n551-b\r\n551 c\r\n"}) {
        BOOST_TEST_CONTEXT(in)
        {
            for (const auto& cuts : chunkings(in.size())) {
                const auto p = feed(in, cuts);
                BOOST_TEST(p.replies.empty());
                BOOST_TEST(p.ec == smtp::errc::reply_code_mismatch);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(control_bytes_in_text)
{
    for (std::string_view in : {std::string_view("250 a\0b\r\n", 9), std::string_view("250 \x1b[31mred\r\n"),
                                std::string_view("250 del\x7f\r\n"), std::string_view("250 bell\x07\r\n"),
                                std::string_view("250-ok\r\n250 \x01\r\n")}) {
        BOOST_TEST_CONTEXT(in)
        {
            for (const auto& cuts : chunkings(in.size()))
                BOOST_TEST(feed(in, cuts).ec == smtp::errc::reply_control_character);
        }
    }
    // HTAB and 8-bit bytes are text.
    BOOST_TEST(feed_whole("250 a\tb \xe2\x9c\x93\r\n").replies.size() == 1u);
}

BOOST_AUTO_TEST_CASE(bare_cr_is_always_an_error)
{
    for (std::string_view in : {"250 a\rb\r\n", "250\r250 x\r\n", "250 a\r\r\n"}) {
        BOOST_TEST_CONTEXT(in)
        {
            for (const auto& cuts : chunkings(in.size())) {
                BOOST_TEST(feed(in, cuts).ec == smtp::errc::reply_bare_cr);
                smtp::reply_limits lenient;
                lenient.accept_bare_lf = true;
                BOOST_TEST(feed(in, cuts, lenient).ec == smtp::errc::reply_bare_cr);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(bare_lf_rejected_by_default_accepted_when_asked)
{
    const std::string in = "250-mail.example.org\n250-SIZE 100\r\n250 HELP\n";
    for (const auto& cuts : chunkings(in.size())) {
        BOOST_TEST(feed(in, cuts).ec == smtp::errc::reply_bare_lf);
        smtp::reply_limits lenient;
        lenient.accept_bare_lf = true;
        const auto p = feed(in, cuts, lenient);
        BOOST_TEST(!p.ec);
        BOOST_REQUIRE(p.replies.size() == 1u);
        const std::vector<std::string> expected{"mail.example.org", "SIZE 100", "HELP"};
        BOOST_TEST(texts(p.replies[0]) == expected, boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(line_length_limit_is_exact)
{
    smtp::reply_limits limits;
    limits.max_line = 64;
    const std::string exact = "250 " + std::string(64 - 6, 'x') + "\r\n"; // 64 with CRLF
    const std::string over = "250 " + std::string(64 - 5, 'x') + "\r\n";  // 65
    BOOST_REQUIRE(exact.size() == 64u);
    for (const auto& cuts : chunkings(exact.size()))
        BOOST_TEST(feed(exact, cuts, limits).replies.size() == 1u);
    for (const auto& cuts : chunkings(over.size()))
        BOOST_TEST(feed(over, cuts, limits).ec == smtp::errc::reply_line_too_long);
    // A line that never ends is cut off at the limit, not buffered forever.
    const std::string endless = "250 " + std::string(10000, 'y');
    const auto p = feed(endless, chunkings(endless.size()).back(), limits);
    BOOST_TEST(p.ec == smtp::errc::reply_line_too_long);
    BOOST_TEST(p.max_buffered <= limits.max_line + 8);
    // The RFC's own 512.
    const auto strict = smtp::reply_limits::rfc5321_strict();
    BOOST_TEST(strict.max_line == 512u);
    BOOST_TEST(feed_whole("250 " + std::string(506, 'z') + "\r\n", strict).replies.size() == 1u);
    BOOST_TEST(feed_whole("250 " + std::string(507, 'z') + "\r\n", strict).ec == smtp::errc::reply_line_too_long);
}

BOOST_AUTO_TEST_CASE(default_limits_are_documented_values)
{
    const smtp::reply_limits d;
    BOOST_TEST(d.max_line == 2048u);
    BOOST_TEST(d.max_reply == 65536u);
    BOOST_TEST(d.max_lines == 512u);
    BOOST_TEST(!d.accept_bare_lf);
}

BOOST_AUTO_TEST_CASE(endless_multi_line_reply_is_bounded)
{
    smtp::reply_limits limits;
    limits.max_reply = 4096;
    limits.max_lines = 100000;
    std::string endless;
    while (endless.size() < 100000)
        endless += "250-this reply never ends\r\n";
    const auto p = feed(endless, chunkings(endless.size(), 7).back(), limits);
    BOOST_TEST(p.ec == smtp::errc::reply_too_long);
    BOOST_TEST(p.max_buffered <= limits.max_reply + limits.max_line);

    smtp::reply_limits few;
    few.max_lines = 10;
    const auto q = feed_whole(endless, few);
    BOOST_TEST(q.ec == smtp::errc::reply_too_many_lines);
    // Exactly max_lines lines is fine.
    std::string ten;
    for (int i = 0; i < 9; ++i)
        ten += "250-x\r\n";
    ten += "250 x\r\n";
    BOOST_TEST(feed_whole(ten, few).replies.size() == 1u);
}

BOOST_AUTO_TEST_CASE(truncated_reply_needs_more_at_every_byte)
{
    const std::string in = "250-first\r\n250-second\r\n250 last\r\n";
    for (std::size_t n = 0; n < in.size(); ++n) {
        const auto p = feed_whole(in.substr(0, n));
        BOOST_TEST(p.replies.empty());
        if (n > 0)
            BOOST_TEST(p.ec == smtp::errc::need_more);
    }
}

BOOST_AUTO_TEST_CASE(failed_parser_stays_failed_until_reset)
{
    smtp::reply_parser p;
    smtp::reply_view r;
    smtp::error_code ec;
    BOOST_TEST(p.put("199 no\r\n", r, ec) == 0u);
    BOOST_TEST(ec == smtp::errc::reply_code_invalid);
    BOOST_TEST(p.put("250 fine\r\n", r, ec) == 0u);
    BOOST_TEST(ec == smtp::errc::reply_code_invalid);
    p.reset();
    BOOST_TEST(p.put("250 fine\r\n", r, ec) == 10u);
    BOOST_TEST(!ec);
    BOOST_TEST(r.code().value() == 250u);
}

BOOST_AUTO_TEST_CASE(several_replies_in_one_buffer_are_taken_one_at_a_time)
{
    const std::string in = "250 a\r\n354 b\r\n250 c";
    smtp::reply_parser p;
    smtp::reply_view r;
    smtp::error_code ec;
    std::string_view rest = in;
    BOOST_TEST(p.put(rest, r, ec) == 7u);
    BOOST_TEST(r.front() == "a");
    rest.remove_prefix(7);
    BOOST_TEST(p.put(rest, r, ec) == 7u);
    BOOST_TEST(r.code().value() == 354u);
    rest.remove_prefix(7);
    BOOST_TEST(p.put(rest, r, ec) == 0u);
    BOOST_TEST(ec == smtp::errc::need_more);
}

BOOST_AUTO_TEST_CASE(parser_does_not_allocate)
{
    std::string in;
    for (int i = 0; i < 100; ++i)
        in += "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 2.0.0 OK\r\n550 5.1.1 no\r\n";
    smtp::reply_parser p;
    smtp::reply_view r;
    smtp::error_code ec;
    std::size_t replies = 0;
    const long before = g_allocations.load();
    std::string_view rest = in;
    while (!rest.empty()) {
        const std::size_t n = p.put(rest, r, ec);
        if (ec)
            break;
        rest.remove_prefix(n);
        ++replies;
    }
    const long after = g_allocations.load();
    BOOST_TEST(!ec);
    BOOST_TEST(replies == 200u);
    BOOST_TEST(after - before == 0);
}

BOOST_AUTO_TEST_CASE(owning_reply_outlives_the_buffer)
{
    smtp::reply kept;
    {
        std::string buffer = "550-5.7.1 first\r\n550 5.7.1 second\r\n";
        smtp::reply_parser p;
        smtp::reply_view r;
        smtp::error_code ec;
        p.put(buffer, r, ec);
        kept = smtp::reply(r);
        buffer.assign(buffer.size(), '#');
    }
    BOOST_TEST(kept.code().value() == 550u);
    BOOST_TEST(kept.code().is_permanent());
    BOOST_TEST(kept.message() == "5.7.1 first\n5.7.1 second");
    BOOST_TEST(kept.status()->subject == 7u);
}

BOOST_AUTO_TEST_CASE(reply_code_classes)
{
    BOOST_TEST(smtp::reply_code(250).is_positive());
    BOOST_TEST(smtp::reply_code(354).is_intermediate());
    BOOST_TEST(smtp::reply_code(421).is_transient());
    BOOST_TEST(smtp::reply_code(554).is_permanent());
    BOOST_TEST((smtp::reply_code(451).klass() == smtp::reply_class::transient_negative));
    BOOST_TEST(smtp::reply_code(451).is_failure());
    BOOST_TEST(!smtp::reply_code(250).is_failure());
}

BOOST_AUTO_TEST_CASE(random_garbage_never_crashes_and_never_overruns)
{
    // Replies built from a small alphabet that hits every branch; whatever
    // comes out, a successful parse must be a well-formed reply.
    std::mt19937 rng(42);
    const char alphabet[] = {'2', '5', '0', '-', ' ', '\r', '\n', 'a', '\t', '\0', '.', '9'};
    smtp::reply_limits limits;
    limits.max_line = 40;
    limits.max_reply = 120;
    for (int iter = 0; iter < 20000; ++iter) {
        std::string in;
        const std::size_t n = rng() % 60;
        for (std::size_t i = 0; i < n; ++i)
            in.push_back(alphabet[rng() % sizeof alphabet]);
        const auto whole = feed_whole(in, limits);
        const auto bytes = feed(in, chunkings(in.size()).back(), limits);
        BOOST_REQUIRE(whole.replies.size() == bytes.replies.size());
        BOOST_REQUIRE(whole.ec == bytes.ec);
        for (const auto& r : whole.replies) {
            BOOST_REQUIRE(r.code().value() >= 200u);
            BOOST_REQUIRE(r.code().value() <= 599u);
            BOOST_REQUIRE(r.raw().size() <= limits.max_reply);
            BOOST_REQUIRE(r.raw().size() >= 5u);
            BOOST_REQUIRE(r.raw().substr(r.raw().size() - 2) == "\r\n");
        }
    }
}

BOOST_AUTO_TEST_CASE(fast_and_general_paths_agree)
{
    // A new one-line reply with 64 bytes in view takes a fast path; fed a
    // byte at a time the same bytes take the general one. Near-valid replies
    // with one thing wrong here and there must get the same answer both ways.
    std::mt19937 rng(99);
    const std::string_view codes[] = {"250", "550", "199", "600", "2x0", "25", "354"};
    const char seps[] = {' ', ' ', ' ', '-', 'x', '\t'};
    const char text_bytes[] = {'a', 'b', ' ', '.', '\t', '\x80', '\xc3', '\x7f', '\0', '\r', '\n', '\x1b'};
    const std::string_view ends[] = {"\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n"};
    smtp::reply_limits lenient;
    lenient.accept_bare_lf = true;
    for (int iter = 0; iter < 10000; ++iter) {
        std::string in(codes[rng() % 7]);
        in.push_back(seps[rng() % 6]);
        const std::size_t n = rng() % 90;
        for (std::size_t i = 0; i < n; ++i)
            in.push_back(rng() % 8 ? char('a' + rng() % 26) : text_bytes[rng() % sizeof text_bytes]);
        in += ends[rng() % 6];
        while (in.size() < 200)
            in += "250 padding so that sixty-four bytes are in view\r\n";
        for (const auto& limits : {smtp::reply_limits{}, lenient, smtp::reply_limits{70, 100, 3, false}}) {
            const auto whole = feed_whole(in, limits);
            const auto bytes = feed(in, chunkings(in.size()).back(), limits);
            BOOST_TEST_INFO("input " << std::quoted(in.substr(0, 120)) << " limits " << limits.max_line << "/" << limits.max_reply << "/" << limits.max_lines << "/" << limits.accept_bare_lf);
            BOOST_REQUIRE_MESSAGE(whole.ec == bytes.ec, whole.ec.message() << " vs " << bytes.ec.message());
            BOOST_REQUIRE(whole.replies.size() == bytes.replies.size());
            for (std::size_t i = 0; i < whole.replies.size(); ++i)
                BOOST_REQUIRE(whole.replies[i].raw() == bytes.replies[i].raw());
        }
    }
}

BOOST_AUTO_TEST_CASE(eight_bit_text_on_both_paths)
{
    // The block scan flags bytes >= 0x7F as candidates; 8-bit ones are text,
    // DEL is not.
    const std::string utf8 = "250 caf\xc3\xa9 \xe2\x9c\x93 ok\r\n";
    std::string padded = utf8 + std::string(80, 'x');
    smtp::reply_parser p;
    smtp::reply_view r;
    smtp::error_code ec;
    BOOST_TEST(p.put(padded, r, ec) == utf8.size());
    BOOST_TEST(!ec);
    padded[6] = '\x7f';
    p.reset();
    BOOST_TEST(p.put(padded, r, ec) == 0u);
    BOOST_TEST(ec == smtp::errc::reply_control_character);
}

BOOST_AUTO_TEST_CASE(fast_first_line_then_general_loop_agree)
{
    // The fast path takes a short first line "ddd-..." and hands the rest of
    // the reply to the general loop; fed a byte at a time the whole reply
    // takes the general one. Continuation lines with one thing wrong here
    // and there, and limits that bite at the first line's end, must get the
    // same answer both ways.
    std::mt19937 rng(4711);
    const std::string_view conts[] = {"550-", "550 ", "550", "551 ", "5x0 ", "550x", "550\t"};
    const char text_bytes[] = {'a', ' ', '.', '\t', '\x80', '\x7f', '\0', '\r', '\n'};
    for (int iter = 0; iter < 1000; ++iter) {
        std::string in = "550-";
        in.append(rng() % 62, 'f');
        in += "\r\n";
        const std::size_t more = rng() % 4;
        for (std::size_t k = 0; k <= more; ++k) {
            in += conts[rng() % 7];
            const std::size_t n = rng() % 80;
            for (std::size_t i = 0; i < n; ++i)
                in.push_back(rng() % 16 ? char('a' + rng() % 26) : text_bytes[rng() % sizeof text_bytes]);
            in += rng() % 10 ? "\r\n" : "\n";
        }
        in += "550 end\r\n";
        in += "250 padding so that sixty-four bytes are in view\r\n";
        const std::size_t first = in.find('\n') + 1;
        for (const auto& limits :
             {smtp::reply_limits{}, smtp::reply_limits{2048, 65536, 512, true}, smtp::reply_limits{70, 100, 3, false},
              smtp::reply_limits{2048, 65536, 1, false}, smtp::reply_limits{2048, 65536, 2, false},
              smtp::reply_limits{first, first + 3, 512, false}, smtp::reply_limits{first - 1, 65536, 512, false}}) {
            const auto whole = feed_whole(in, limits);
            const auto bytes = feed(in, chunkings(in.size()).back(), limits);
            BOOST_TEST_INFO("input " << std::quoted(in.substr(0, 160)) << " limits " << limits.max_line << "/"
                                     << limits.max_reply << "/" << limits.max_lines << "/" << limits.accept_bare_lf);
            // When a line and the reply are both too long, which is reported
            // depends on where the bytes stop (on every path): either will do.
            const auto limit = [](const smtp::error_code& e) {
                return e == smtp::errc::reply_line_too_long || e == smtp::errc::reply_too_long;
            };
            BOOST_REQUIRE_MESSAGE(whole.ec == bytes.ec || (limit(whole.ec) && limit(bytes.ec)),
                                  whole.ec.message() << " vs " << bytes.ec.message());
            BOOST_REQUIRE(whole.replies.size() == bytes.replies.size());
            for (std::size_t i = 0; i < whole.replies.size(); ++i) {
                BOOST_REQUIRE(whole.replies[i].raw() == bytes.replies[i].raw());
                BOOST_REQUIRE(whole.replies[i].code() == bytes.replies[i].code());
                BOOST_REQUIRE(whole.replies[i].line_count() == bytes.replies[i].line_count());
            }
        }
    }
}

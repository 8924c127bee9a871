// Tests for the reply parser's batch API (reply_parser::cursor, put_many):
// the same replies, the same errors at the same reply and the same state as
// put() called reply after reply, on every input of test_reply_parser.cpp at
// every split point, on long streams that keep the batch loop busy, and on
// random streams of valid and malformed replies; no allocation.
#define BOOST_TEST_MODULE reply_batch
#include <smtp/protocol/reply_parser.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <memory>
#include <new>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "counting_new.hpp" // the batch API must never allocate

namespace {

/// How the replies of each piece read are taken.
enum class api {
    put,      // put() reply after reply (the reference)
    put_many, // one put_many() per read
    cursor,   // one cursor per read
    mixed,    // each read a different one of the three: the parser's state passes between them
};

const char* name(api a)
{
    switch (a) {
    case api::put: return "put";
    case api::put_many: return "put_many";
    case api::cursor: return "cursor";
    case api::mixed: return "mixed";
    }
    return "?";
}

/// What came out of a stream.
struct outcome {
    std::vector<std::string> raw; // each reply's bytes
    std::vector<unsigned> code;
    std::vector<std::size_t> lines;
    smtp::error_code ec;      // the first error other than need_more; need_more when the input ended mid-reply
    std::size_t consumed = 0; // bytes of whole replies (the error, if any, is of the reply that starts there)
    bool views_ok = true;     // every reply viewed the caller's buffer where the reply starts

    friend bool operator==(const outcome&, const outcome&) = default;
};

std::ostream& operator<<(std::ostream& os, const outcome& o)
{
    os << o.raw.size() << " replies, " << o.consumed << " bytes, ec " << o.ec.message()
       << (o.views_ok ? "" : ", a view out of place");
    return os;
}

/// Feeds `input` in pieces ending at `cuts` (ascending, the last input.size())
/// the way a client reading a socket does: append, parse what is whole with
/// `how`, consume it.
outcome feed(std::string_view input, const std::vector<std::size_t>& cuts, const smtp::reply_limits& limits, api how)
{
    outcome out;
    smtp::reply_parser p(limits);
    std::string buffer;
    std::size_t from = 0;
    unsigned piece = 0;
    for (std::size_t cut : cuts) {
        buffer.append(input.substr(from, cut - from));
        from = cut;
        const api use = how == api::mixed ? static_cast<api>(piece++ % 3) : how;
        std::size_t used = 0;
        smtp::error_code ec;
        const auto take = [&](const smtp::reply_view& r) {
            out.views_ok = out.views_ok && r.raw().data() == buffer.data() + used && !r.raw().empty();
            used += r.raw().size();
            out.raw.emplace_back(r.raw());
            out.code.push_back(r.code().value());
            out.lines.push_back(r.line_count());
        };
        switch (use) {
        case api::put:
        case api::mixed:
            for (;;) {
                smtp::reply_view r;
                const std::size_t n = p.put(std::string_view(buffer).substr(used), r, ec);
                if (n == 0)
                    break;
                out.views_ok = out.views_ok && n == r.raw().size();
                take(r);
            }
            break;
        case api::put_many: {
            const std::size_t n = p.put_many(buffer, take, ec);
            out.views_ok = out.views_ok && n == used;
            // No error only when every byte was a whole reply: then the next
            // piece goes on as after need_more.
            if (!ec) {
                out.views_ok = out.views_ok && n == buffer.size();
                ec = smtp::errc::need_more;
            }
            break;
        }
        case api::cursor: {
            smtp::reply_parser::cursor c(p, buffer);
            smtp::reply_view r;
            while (c.next(r, ec)) {
                out.views_ok = out.views_ok && !ec;
                take(r);
            }
            out.views_ok = out.views_ok && c.consumed() == used;
            // Asked again, it says the same.
            smtp::error_code again;
            out.views_ok = out.views_ok && !c.next(r, again) && again == ec && c.consumed() == used;
            break;
        }
        }
        out.consumed += used;
        buffer.erase(0, used);
        out.ec = ec;
        if (ec != smtp::errc::need_more)
            return out; // an error: the parser stays failed
    }
    if (buffer.empty() && out.ec == smtp::errc::need_more)
        out.ec = {};
    return out;
}

std::vector<std::size_t> whole(std::size_t n) { return {n}; }

/// Whole, every two-piece split, a byte at a time, and random chunkings.
std::vector<std::vector<std::size_t>> every_chunking(std::size_t n, unsigned seed = 1)
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
    for (int k = 0; k < 10; ++k) {
        std::vector<std::size_t> cuts;
        std::size_t at = 0;
        while (at < n) {
            at = std::min(n, at + 1 + rng() % (k < 5 ? 7 : 150));
            cuts.push_back(at);
        }
        if (cuts.empty())
            cuts.push_back(0);
        all.push_back(cuts);
    }
    return all;
}

/// A few chunkings for long inputs: whole, some splits, random pieces.
std::vector<std::vector<std::size_t>> some_chunkings(std::size_t n, std::mt19937& rng)
{
    std::vector<std::vector<std::size_t>> all;
    all.push_back({n});
    for (int k = 0; k < 3; ++k) {
        const std::size_t i = n ? rng() % (n + 1) : 0;
        all.push_back({i, n});
    }
    for (std::size_t most : {7u, 64u, 300u, 4096u}) {
        std::vector<std::size_t> cuts;
        std::size_t at = 0;
        while (at < n) {
            at = std::min(n, at + 1 + rng() % most);
            cuts.push_back(at);
        }
        if (cuts.empty())
            cuts.push_back(0);
        all.push_back(cuts);
    }
    return all;
}

std::string limits_text(const smtp::reply_limits& l)
{
    std::ostringstream os;
    os << l.max_line << "/" << l.max_reply << "/" << l.max_lines << (l.accept_bare_lf ? "/lf" : "");
    return os.str();
}

std::string shown(std::string_view s)
{
    std::ostringstream os;
    os << std::quoted(std::string(s.substr(0, 200)));
    if (s.size() > 200)
        os << "... (" << s.size() << " bytes)";
    return os.str();
}

/// The batch APIs on a copy of `input` in an allocation of exactly its size
/// (so that AddressSanitizer sees any read past its end), in one piece.
outcome exact(std::string_view input, const smtp::reply_limits& limits, api how)
{
    const std::unique_ptr<char[]> copy(new char[input.size() ? input.size() : 1]);
    std::memcpy(copy.get(), input.data(), input.size());
    const std::string_view bytes(copy.get(), input.size());
    outcome out;
    smtp::reply_parser p(limits);
    std::size_t used = 0;
    const auto take = [&](const smtp::reply_view& r) {
        out.views_ok = out.views_ok && r.raw().data() == bytes.data() + used;
        used += r.raw().size();
        out.raw.emplace_back(r.raw());
        out.code.push_back(r.code().value());
        out.lines.push_back(r.line_count());
    };
    if (how == api::put_many) {
        out.views_ok = p.put_many(bytes, take, out.ec) == used;
    } else {
        smtp::reply_parser::cursor c(p, bytes);
        smtp::reply_view r;
        while (c.next(r, out.ec))
            take(r);
        out.views_ok = out.views_ok && c.consumed() == used;
    }
    out.consumed = used;
    if (out.ec == smtp::errc::need_more && used == input.size())
        out.ec = {};
    return out;
}

/// The batch APIs against put(), on every chunking given; returns put()'s outcome whole.
outcome agree(std::string_view input, const smtp::reply_limits& limits,
              const std::vector<std::vector<std::size_t>>& chunkings)
{
    outcome reference_whole;
    bool first = true;
    for (const auto& cuts : chunkings) {
        const outcome reference = feed(input, cuts, limits, api::put);
        BOOST_REQUIRE_MESSAGE(reference.views_ok, "put() " << shown(input));
        if (first)
            reference_whole = reference;
        first = false;
        for (api how : {api::put_many, api::cursor, api::mixed}) {
            const outcome got = feed(input, cuts, limits, how);
            if (!(got == reference)) {
                BOOST_ERROR(name(how) << " differs from put() on " << shown(input) << " limits "
                                      << limits_text(limits) << ", " << cuts.size() << " pieces (first ends at "
                                      << cuts.front() << "): " << got << " vs " << reference);
                return reference_whole;
            }
        }
    }
    for (api how : {api::put_many, api::cursor}) {
        const outcome got = exact(input, limits, how);
        if (!(got == reference_whole))
            BOOST_ERROR(name(how) << " differs from put() on an exact copy of " << shown(input) << " limits "
                                  << limits_text(limits) << ": " << got << " vs " << reference_whole);
    }
    return reference_whole;
}

/// Valid replies that keep the batch loop busy before and after a case.
const std::string lead = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                         "250-mail.example.org\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n";
const std::string trail = "250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n221 2.0.0 Bye\r\n";

/// One input of test_reply_parser.cpp, with the limits it was tested with.
struct case_ {
    std::string in;
    smtp::reply_limits limits{};
};

smtp::reply_limits lenient()
{
    smtp::reply_limits l;
    l.accept_bare_lf = true;
    return l;
}

smtp::reply_limits line64()
{
    smtp::reply_limits l;
    l.max_line = 64;
    return l;
}

/// Every input of test_reply_parser.cpp, with its limits.
std::vector<case_> existing_inputs()
{
    std::vector<case_> v;
    const auto add = [&v](std::string_view in, smtp::reply_limits l = {}) { v.push_back({std::string(in), l}); };
    add("250 OK\r\n");
    add("250-mail.example.org\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250 HELP\r\n");
    add("250\r\n");
    add("250 \r\n");
    add("250-\r\n250-x\r\n250\r\n");
    for (std::string_view in :
         {"250 2.1.0 Ok\r\n", "550-5.1.1 The email account\r\n550 5.1.1 does not exist\r\n",
          "451 4.7.1 Try again later\r\n", "250 2.0.0\r\n", "554 5.123.999 x\r\n",
          "250 5.1.1 class differs from the code\r\n", "250 3.1.1 not a class\r\n", "250 2.1000.0 too many digits\r\n",
          "250 2.1.0x glued\r\n", "250 2..0 empty subject\r\n", "250 2.1. empty detail\r\n", "250 mail.example.org\r\n",
          "250 2.1\r\n"})
        add(in);
    add("220 mail.example.org ESMTP ready\r\n"
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
        "221 2.0.0 Bye \xc3\xa9\r\n");
    for (std::string_view in : {"199 x\r\n", "600 x\r\n", "099 x\r\n", "000\r\n", "2a0 x\r\n", "25\r\n", "2\r\n", "\r\n",
                                "abc\r\n", " 250 x\r\n", "-250 x\r\n", "25 0\r\n", "2500\r\n", "200 x\r\n", "399 x\r\n",
                                "421 x\r\n", "599 x\r\n"})
        add(in);
    for (std::string_view in : {"250x\r\n", "250_OK\r\n", "250\tOK\r\n", "250=OK\r\n"})
        add(in);
    for (std::string_view in : {"250-a\r\n251 b\r\n", "250-a\r\n250-b\r\n550 c\r\n", "550-a\r\n551-b\r\n551 c\r\n"})
        add(in);
    for (std::string_view in : {std::string_view("250 a\0b\r\n", 9), std::string_view("250 \x1b[31mred\r\n"),
                                std::string_view("250 del\x7f\r\n"), std::string_view("250 bell\x07\r\n"),
                                std::string_view("250-ok\r\n250 \x01\r\n")})
        add(in);
    add("250 a\tb \xe2\x9c\x93\r\n");
    for (std::string_view in : {"250 a\rb\r\n", "250\r250 x\r\n", "250 a\r\r\n"}) {
        add(in);
        add(in, lenient());
    }
    add("250-mail.example.org\n250-SIZE 100\r\n250 HELP\n");
    add("250-mail.example.org\n250-SIZE 100\r\n250 HELP\n", lenient());
    add("250 " + std::string(64 - 6, 'x') + "\r\n", line64());
    add("250 " + std::string(64 - 5, 'x') + "\r\n", line64());
    add("250 " + std::string(10000, 'y'), line64());
    add("250 " + std::string(506, 'z') + "\r\n", smtp::reply_limits::rfc5321_strict());
    add("250 " + std::string(507, 'z') + "\r\n", smtp::reply_limits::rfc5321_strict());
    {
        std::string endless;
        while (endless.size() < 100000)
            endless += "250-this reply never ends\r\n";
        smtp::reply_limits limits;
        limits.max_reply = 4096;
        limits.max_lines = 100000;
        add(endless, limits);
        smtp::reply_limits few;
        few.max_lines = 10;
        add(endless, few);
        std::string ten;
        for (int i = 0; i < 9; ++i)
            ten += "250-x\r\n";
        ten += "250 x\r\n";
        add(ten, few);
    }
    add("250-first\r\n250-second\r\n250 last\r\n");
    add("250 a\r\n354 b\r\n250 c");
    add("550-5.7.1 first\r\n550 5.7.1 second\r\n");
    add("250 caf\xc3\xa9 \xe2\x9c\x93 ok\r\n" + std::string(80, 'x'));
    add("250 caf\x7f\xa9 \xe2\x9c\x93 ok\r\n" + std::string(80, 'x'));
    return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(existing_inputs_at_every_split_point)
{
    // Each input alone; between valid replies, so that the batch loop meets
    // it with a block in view; and alone with that in front, so that it is
    // where the batch loop is when the input ends.
    for (const auto& c : existing_inputs()) {
        BOOST_TEST_CONTEXT(shown(c.in) << " limits " << limits_text(c.limits))
        {
            const std::size_t n = c.in.size();
            if (n > 1000) {
                std::mt19937 rng(7);
                agree(c.in, c.limits, some_chunkings(n, rng));
                agree(lead + c.in + trail, c.limits, some_chunkings(lead.size() + n + trail.size(), rng));
                continue;
            }
            agree(c.in, c.limits, every_chunking(n));
            agree(lead + c.in + trail, c.limits, every_chunking(lead.size() + n + trail.size()));
            agree(lead + c.in, c.limits, every_chunking(lead.size() + n));
            agree(c.in + c.in + c.in + trail + trail, c.limits, every_chunking(3 * n + 2 * trail.size()));
        }
    }
}

BOOST_AUTO_TEST_CASE(line_ends_at_the_block_edge_near_the_input_end)
{
    // The batch loop reads the LF after a block's last byte and the first
    // bytes of the line after it: line ends on and around a 64-byte block's
    // edge, with the input ending a few bytes later (exact copies: a read
    // past the end is AddressSanitizer's).
    const std::string after = "250-x\r\n250 y\r\n";
    for (std::size_t text = 54; text <= 66; ++text) {
        for (std::size_t more = 0; more <= after.size(); ++more) {
            for (const char* first : {"250 ", "250-"}) {
                const std::string in = first + std::string(text, 'x') + "\r\n" + after.substr(0, more);
                BOOST_TEST_CONTEXT(shown(in))
                {
                    agree(in, {}, every_chunking(in.size()));
                    agree("250 a\r\n" + in, {}, every_chunking(in.size() + 7));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_burst_of_replies_in_one_buffer)
{
    // What a pipelining client reads: every reply at once.
    std::string in = "250 2.1.0 Ok\r\n";
    for (int i = 0; i < 50; ++i)
        in += i % 7 == 3 ? "550 5.1.1 <x@example.org>: Recipient address rejected\r\n" : "250 2.1.5 Ok\r\n";
    in += "354 End data with <CR><LF>.<CR><LF>\r\n";
    smtp::reply_parser p;
    smtp::error_code ec;
    std::vector<unsigned> codes;
    std::size_t at = 0;
    bool in_place = true;
    const std::size_t used = p.put_many(
        in,
        [&](const smtp::reply_view& r) {
            in_place = in_place && r.raw().data() == in.data() + at;
            at += r.raw().size();
            codes.push_back(r.code().value());
        },
        ec);
    BOOST_TEST(in_place);
    BOOST_TEST(used == in.size());
    BOOST_TEST(!ec); // whole replies only: nothing is missing
    BOOST_REQUIRE(codes.size() == 52u);
    BOOST_TEST(codes.front() == 250u);
    BOOST_TEST(codes[4] == 550u);
    BOOST_TEST(codes.back() == 354u);
    const auto reference = feed(in, whole(in.size()), {}, api::put);
    BOOST_TEST(reference.code == codes, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_error_in_the_middle_stops_at_its_reply)
{
    struct bad {
        std::string_view reply;
        smtp::errc error;
    };
    const std::string long_line = "250 " + std::string(80, 'x') + "\r\n";
    const bad bads[] = {
        {"199 too low\r\n", smtp::errc::reply_code_invalid},
        {"250-a\r\n251 b\r\n", smtp::errc::reply_code_mismatch},
        {"250x\r\n", smtp::errc::reply_separator_invalid},
        {"250 bell\x07\r\n", smtp::errc::reply_control_character},
        {"250 a\rb\r\n", smtp::errc::reply_bare_cr},
        {"250 bare\n", smtp::errc::reply_bare_lf},
        {long_line, smtp::errc::reply_line_too_long},
    };
    smtp::reply_limits limits;
    limits.max_line = 80;
    for (const auto& b : bads) {
        for (std::size_t before : {0u, 1u, 5u, 20u}) {
            std::string in;
            for (std::size_t i = 0; i < before; ++i)
                in += i % 3 ? "250 2.1.5 Ok\r\n" : "250-mail.example.org\r\n250 PIPELINING\r\n";
            const std::size_t good = in.size();
            in += b.reply;
            in += "250 2.1.5 Ok, after the bad one\r\n";
            while (in.size() < good + 200)
                in += "250 2.1.5 Ok\r\n";
            BOOST_TEST_CONTEXT(shown(b.reply) << " after " << before)
            {
                for (int how = 0; how < 2; ++how) {
                    smtp::reply_parser p(limits);
                    smtp::error_code ec;
                    std::size_t calls = 0, used = 0;
                    if (how == 0) {
                        used = p.put_many(in, [&](const smtp::reply_view&) { ++calls; }, ec);
                    } else {
                        smtp::reply_parser::cursor c(p, in);
                        smtp::reply_view r;
                        while (c.next(r, ec))
                            ++calls;
                        used = c.consumed();
                    }
                    BOOST_TEST(calls == before);
                    BOOST_TEST(used == good);
                    BOOST_TEST(ec == b.error);
                    // The parser stays failed, as after put().
                    std::size_t more = 0;
                    BOOST_TEST(p.put_many(std::string_view(in).substr(used), [&](const smtp::reply_view&) { ++more; },
                                          ec) == 0u);
                    BOOST_TEST(more == 0u);
                    BOOST_TEST(ec == b.error);
                    smtp::reply_view r;
                    BOOST_TEST(p.put(std::string_view(in).substr(used), r, ec) == 0u);
                    BOOST_TEST(ec == b.error);
                    p.reset();
                    BOOST_TEST(p.put_many(std::string_view(in).substr(good + b.reply.size()),
                                          [&](const smtp::reply_view&) { ++more; }, ec) ==
                               in.size() - good - b.reply.size());
                    BOOST_TEST(!ec);
                    BOOST_TEST(more > 1u);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(on_reply_returning_false_stops_after_that_reply)
{
    std::string in;
    for (int i = 0; i < 30; ++i)
        in += "250 2.1.5 Ok " + std::to_string(i) + "\r\n";
    for (std::size_t stop_after : {1u, 2u, 10u, 29u, 30u}) {
        smtp::reply_parser p;
        smtp::error_code ec = smtp::errc::need_more;
        std::size_t calls = 0;
        const std::size_t used = p.put_many(
            in, [&](const smtp::reply_view&) { return ++calls < stop_after; }, ec);
        BOOST_TEST(calls == stop_after);
        BOOST_TEST(!ec);
        const std::size_t expected = in.find("Ok " + std::to_string(stop_after - 1) + "\r\n") +
                                     std::to_string(stop_after - 1).size() + 5;
        BOOST_TEST(used == expected);
        // The parser is at a reply boundary: the rest parses on.
        std::size_t rest = 0;
        BOOST_TEST(p.put_many(std::string_view(in).substr(used), [&](const smtp::reply_view&) { ++rest; }, ec) ==
                   in.size() - used);
        BOOST_TEST(rest == 30 - stop_after);
        BOOST_TEST(!ec);
    }
}

BOOST_AUTO_TEST_CASE(a_reply_cut_by_the_end_of_the_input_goes_on_with_put_or_a_cursor)
{
    std::string in;
    for (int i = 0; i < 10; ++i)
        in += "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 SMTPUTF8\r\n";
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        for (int next_with = 0; next_with < 3; ++next_with) {
            smtp::reply_parser p;
            smtp::error_code ec;
            std::size_t replies = 0;
            const std::size_t used =
                p.put_many(std::string_view(in).substr(0, cut), [&](const smtp::reply_view&) { ++replies; }, ec);
            // need_more only when a reply is cut; at a boundary nothing is missing.
            BOOST_TEST((ec == smtp::errc::need_more) == (used != cut));
            BOOST_TEST(used == replies * (in.size() / 10));
            std::string_view rest = std::string_view(in).substr(used);
            if (next_with == 0) {
                smtp::reply_view r;
                while (const std::size_t n = p.put(rest, r, ec)) {
                    rest.remove_prefix(n);
                    ++replies;
                }
            } else if (next_with == 1) {
                smtp::reply_parser::cursor c(p, rest);
                smtp::reply_view r;
                while (c.next(r, ec))
                    ++replies;
                rest.remove_prefix(c.consumed());
            } else {
                rest.remove_prefix(p.put_many(rest, [&](const smtp::reply_view&) { ++replies; }, ec));
            }
            BOOST_TEST(rest.empty());
            BOOST_TEST(replies == 10u);
            // At the end, on a reply boundary: put() and the cursor say
            // need_more (nothing to return); put_many says nothing is missing.
            BOOST_TEST((ec == smtp::errc::need_more) == (next_with != 2));
            BOOST_TEST((!ec) == (next_with == 2));
        }
    }
}

BOOST_AUTO_TEST_CASE(long_streams_of_each_kind)
{
    // Thousands of replies in one buffer, the way the benchmarks parse them,
    // with every byte offset of the block grid met by some line end.
    std::mt19937 rng(2024);
    const std::string_view kinds[] = {
        "250 2.1.0 Ok\r\n",
        "250 2.1.5 Ok\r\n",
        "354 End data with <CR><LF>.<CR><LF>\r\n",
        "250 2.0.0 Ok: queued as 4F3A2B1C0D\r\n",
        "550-5.1.1 <nobody@example.com>: Recipient address rejected:\r\n550-5.1.1 User unknown in virtual "
        "mailbox table\r\n550 5.1.1 See https://mail.example.com/help/5.1.1\r\n",
        "451 4.7.1 Try again later\r\n",
        "221 2.0.0 Bye\r\n",
        "250-mail.example.com Hello client [10.0.0.1]\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-ETRN\r\n"
        "250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
        "250 CHUNKING\r\n",
        "250 caf\xc3\xa9\tok\r\n",
        "250\r\n",
        "250-\r\n250 \r\n",
    };
    for (int k = 0; k < 20; ++k) {
        std::string in;
        std::size_t replies = 0;
        while (in.size() < 20000) {
            in += kinds[rng() % std::size(kinds)];
            if (rng() % 5 == 0)
                in += "250 " + std::string(rng() % 300, 'x') + "\r\n";
            ++replies;
        }
        const auto reference = agree(in, {}, some_chunkings(in.size(), rng));
        BOOST_TEST(!reference.ec);
        BOOST_TEST(reference.consumed == in.size());
        agree(in, smtp::reply_limits::rfc5321_strict(), some_chunkings(in.size(), rng));
        agree(in, smtp::reply_limits{120, 400, 6, false}, some_chunkings(in.size(), rng));
        // The EHLO reply (about 240 bytes, ten lines) over the reply limit, the rest under it.
        agree(in, smtp::reply_limits{2048, 200, 512, false}, some_chunkings(in.size(), rng));
        agree(in, smtp::reply_limits{2048, 240, 10, false}, some_chunkings(in.size(), rng));
    }
}

BOOST_AUTO_TEST_CASE(random_streams_of_valid_and_malformed_replies)
{
    // Differential: concatenations of valid replies and malformed ones, and
    // valid streams with one byte changed, under several limits; the batch
    // APIs must say what put() says, at the same reply, however the stream
    // is cut.
    std::mt19937 rng(0x5EED);
    const std::string_view valid[] = {
        "250 2.1.0 Ok\r\n", "354 go ahead\r\n", "550-5.1.1 first\r\n550-5.1.1 second\r\n550 5.1.1 third\r\n",
        "250\r\n", "250-\r\n250 \r\n", "221 a\tb \xe2\x9c\x93\r\n", "451 4.7.1 Try again later\r\n",
        "250-PIPELINING\r\n250-SIZE 100\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
    };
    const std::string_view malformed[] = {
        "199 x\r\n",  "2x0 y\r\n",        "250x\r\n",        "250-a\r\n251 b\r\n", std::string_view("250 a\0b\r\n", 9),
        "250 a\rb\r\n", "250 bare lf\n", "250 del\x7f\r\n", "25\r\n",             "\r\n",
        " 250 x\r\n", "250-a\n250 b\r\n", "250-x\r\n2500\r\n", "250-a\r\n\r\n",
    };
    const char mutations[] = {'\r', '\n', '-', ' ', '2', '5', '0', '9', '\0', '\t', '\x80', '\x7f', 'x', '1'};
    const smtp::reply_limits limit_sets[] = {
        {},
        lenient(),
        {70, 200, 3, false},
        {64, 65536, 512, false},
        {2048, 300, 512, true},
        {2048, 65536, 1, false},
        {30, 90, 4, false},
    };
    for (int iter = 0; iter < 1500; ++iter) {
        std::string in;
        const std::size_t parts = 1 + rng() % 30;
        for (std::size_t i = 0; i < parts; ++i) {
            const unsigned r = rng() % 20;
            if (r == 0)
                in += malformed[rng() % std::size(malformed)];
            else if (r == 1)
                in += "250 " + std::string(rng() % 100, 'l') + "\r\n";
            else if (r == 2)
                in += "250-" + std::string(rng() % 80, 'm') + "\r\n250 end\r\n";
            else if (r == 3)
                in += "250-" + std::string(rng() % 60, 'n') + "\r\n250-" + std::string(rng() % 60, 'o') +
                      "\r\n250 " + std::string(rng() % 60, 'p') + "\r\n";
            else
                in += valid[rng() % std::size(valid)];
        }
        if (rng() % 2 && !in.empty()) {
            const std::size_t changes = 1 + rng() % 3;
            for (std::size_t i = 0; i < changes; ++i)
                in[rng() % in.size()] = mutations[rng() % sizeof mutations];
        }
        if (rng() % 4 == 0 && !in.empty())
            in.resize(rng() % in.size()); // ends inside a reply
        const auto& limits = limit_sets[rng() % std::size(limit_sets)];
        agree(in, limits, some_chunkings(in.size(), rng));
    }
}

BOOST_AUTO_TEST_CASE(batch_does_not_allocate)
{
    std::string in;
    for (int i = 0; i < 100; ++i)
        in += "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 2.0.0 OK\r\n550 5.1.1 no\r\n";
    in += "250 the last one is cut o";
    smtp::reply_parser p;
    smtp::error_code ec;
    std::size_t replies = 0;
    const long before = g_allocations.load();
    const std::size_t used = p.put_many(in, [&](const smtp::reply_view&) { ++replies; }, ec);
    {
        p.reset();
        smtp::reply_parser::cursor c(p, in);
        smtp::reply_view r;
        while (c.next(r, ec))
            ++replies;
    }
    const long after = g_allocations.load();
    BOOST_TEST(ec == smtp::errc::need_more);
    BOOST_TEST(used == in.size() - 25);
    BOOST_TEST(replies == 400u);
    BOOST_TEST(after - before == 0);
}

BOOST_AUTO_TEST_CASE(empty_and_tiny_inputs)
{
    for (std::string_view in : {"", "2", "25", "250", "250 ", "250 x\r", "250 x\r\n"}) {
        smtp::reply_parser p;
        smtp::error_code ec;
        std::size_t replies = 0;
        const std::size_t used = p.put_many(in, [&](const smtp::reply_view&) { ++replies; }, ec);
        const bool whole = in.empty() || in == "250 x\r\n";
        // need_more only when a reply is cut: `if (ec)` must not misfire on whole replies.
        BOOST_TEST((ec == smtp::errc::need_more) == !whole);
        BOOST_TEST(!(ec && ec != smtp::errc::need_more));
        BOOST_TEST(used == (in == "250 x\r\n" ? in.size() : 0u));
        BOOST_TEST(replies == (in == "250 x\r\n" ? 1u : 0u));
    }
}

// The sixteen-byte scanners against their one-byte twins, at every alignment
// and every position of the byte searched for.
#define BOOST_TEST_MODULE scan
#include <smtp/protocol/detail/scan.hpp>

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

BOOST_AUTO_TEST_CASE(find_control_matches_scalar)
{
    std::mt19937 rng(7);
    std::string buf(200, 'a');
    for (int iter = 0; iter < 20000; ++iter) {
        for (auto& c : buf)
            c = static_cast<char>(0x20 + rng() % 0x5F); // printable, no DEL
        const std::size_t specials = rng() % 3;
        for (std::size_t k = 0; k < specials; ++k)
            buf[rng() % buf.size()] = static_cast<char>(std::string_view("\r\n\t\0\x1f\x7f\x01", 7)[rng() % 7]);
        // 8-bit bytes are not controls.
        buf[rng() % buf.size()] = static_cast<char>(0x80 + rng() % 0x80);
        const std::size_t from = rng() % 40, to = from + rng() % (buf.size() - from);
        const char* b = buf.data() + from;
        const char* e = buf.data() + to;
        BOOST_REQUIRE(smtp::detail::find_control(b, e) == smtp::detail::find_control_scalar(b, e));
        BOOST_REQUIRE(smtp::detail::find_cr_or_lf(b, e) == smtp::detail::find_cr_or_lf_scalar(b, e));
    }
}

BOOST_AUTO_TEST_CASE(every_control_byte_is_found_and_no_other)
{
    for (int c = 0; c < 256; ++c) {
        std::string buf(40, 'x');
        buf[21] = static_cast<char>(c);
        const bool control = c < 0x20 || c == 0x7F;
        const char* hit = smtp::detail::find_control(buf.data(), buf.data() + buf.size());
        BOOST_TEST((hit == buf.data() + 21) == control, "byte " << c);
        const bool crlf = c == '\r' || c == '\n';
        const char* hit2 = smtp::detail::find_cr_or_lf(buf.data(), buf.data() + buf.size());
        BOOST_TEST((hit2 == buf.data() + 21) == crlf, "byte " << c);
    }
}

BOOST_AUTO_TEST_CASE(control_candidates_are_controls_and_high_bytes)
{
    // The block mask the parser uses: every control byte and every byte
    // >= 0x7F, nothing else, at every position, whole blocks and tails.
    for (int c = 0; c < 256; ++c) {
        for (std::size_t at : {std::size_t(0), std::size_t(15), std::size_t(16), std::size_t(40), std::size_t(63)}) {
            std::string buf(64, 'x');
            buf[at] = static_cast<char>(c);
            const bool expected = c < 0x20 || c >= 0x7F;
            const std::uint64_t m = smtp::detail::control_candidates<64>(buf.data());
            BOOST_TEST(m == (expected ? std::uint64_t(1) << at : 0u), "byte " << c << " at " << at);
            BOOST_TEST(smtp::detail::control_candidates<16>(buf.data()) == (at < 16 ? m : 0u));
            const std::uint64_t t = smtp::detail::control_candidates_tail<64>(buf.data(), at + 1);
            BOOST_TEST(t == m);
            if (at > 0)
                BOOST_TEST(smtp::detail::control_candidates_tail<64>(buf.data(), at) == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(first_candidate_and_low_control_mask)
{
    // first_candidate: the first control or >= 0x7F byte, or Width - 1 when
    // there is none. low_control_mask64: every byte <= 0x0D, nothing else.
    for (int c = 0; c < 256; ++c) {
        for (std::size_t at = 0; at < 64; ++at) {
            std::string buf(64, 'x');
            buf[at] = static_cast<char>(c);
            const bool cand = c < 0x20 || c >= 0x7F;
            BOOST_TEST(smtp::detail::first_candidate<64>(buf.data()) == (cand ? at : 63u), "byte " << c << " at " << at);
            BOOST_TEST(smtp::detail::first_candidate<32>(buf.data()) == (cand && at < 32 ? at : 31u));
            BOOST_TEST(smtp::detail::first_candidate<16>(buf.data()) == (cand && at < 16 ? at : 15u));
#if SMTP_HAVE_SSE2
            BOOST_TEST(smtp::detail::low_control_mask64(buf.data()) == (c <= 0x0D ? std::uint64_t(1) << at : 0u),
                       "byte " << c << " at " << at);
#endif
        }
    }
    std::string two(64, 'x');
    two[9] = '\x80';
    two[5] = '\r';
    BOOST_TEST(smtp::detail::first_candidate<64>(two.data()) == 5u);
}

// has_8bit (64 and 16 octets at a time) against its one-octet twin: one
// 8-bit octet or none, at every position and alignment of the range.
BOOST_AUTO_TEST_CASE(has_8bit_matches_scalar)
{
    std::string buf(300, 'a');
    for (std::size_t from = 0; from < 20; ++from)
        for (std::size_t len = 0; from + len <= buf.size(); len += 7)
            for (std::size_t at = from; at <= from + len; ++at) { // at == from + len: outside the range
                std::string b = buf;
                if (at < b.size())
                    b[at] = static_cast<char>(0x80 | at);
                const char* p = b.data() + from;
                const bool expected = at < from + len;
                BOOST_REQUIRE(smtp::detail::has_8bit(p, p + len) == expected);
                BOOST_REQUIRE(smtp::detail::has_8bit_scalar(p, p + len) == expected);
            }
}

// Tests for the BDAT framer (RFC 3030 2): data unchanged, chunk sizes exact,
// LAST on the final chunk, "BDAT 0 LAST" for an empty message.
#define BOOST_TEST_MODULE bdat_framer
#include <smtp/protocol/bdat_framer.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace {
struct framed {
    std::vector<std::string> headers;
    std::string payload;
};

framed frame_all(std::string_view message, std::size_t chunk)
{
    smtp::bdat_framer f(chunk);
    framed out;
    std::string_view rest = message;
    int guard = 0;
    while (!f.done() && ++guard < 100000) {
        std::string header;
        const auto payload = f.next(rest, true, header);
        out.headers.push_back(header);
        out.payload.append(payload);
    }
    return out;
}
} // namespace

BOOST_AUTO_TEST_CASE(chunks_of_the_chosen_size_last_flagged)
{
    const auto f = frame_all("0123456789", 4);
    const std::vector<std::string> expected{"BDAT 4\r\n", "BDAT 4\r\n", "BDAT 2 LAST\r\n"};
    BOOST_TEST(f.headers == expected, boost::test_tools::per_element());
    BOOST_TEST(f.payload == "0123456789");
}

BOOST_AUTO_TEST_CASE(exact_multiple_ends_with_a_full_last_chunk)
{
    const auto f = frame_all("abcdefgh", 4);
    const std::vector<std::string> expected{"BDAT 4\r\n", "BDAT 4 LAST\r\n"};
    BOOST_TEST(f.headers == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_message_is_bdat_0_last)
{
    const auto f = frame_all("", 4);
    const std::vector<std::string> expected{"BDAT 0 LAST\r\n"};
    BOOST_TEST(f.headers == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(data_goes_unchanged)
{
    // No stuffing, no line-end changes: BDAT carries octets (BINARYMIME).
    const std::string msg = std::string("a\n.\r\n\r.\0\xff", 10) + ".\r\n";
    const auto f = frame_all(msg, 3);
    BOOST_TEST(f.payload == msg);
    BOOST_TEST(f.headers.back() == "BDAT 1 LAST\r\n");
}

BOOST_AUTO_TEST_CASE(streaming_input_frames_what_is_there)
{
    smtp::bdat_framer f(1000);
    std::string header;
    std::string_view piece = "first piece";
    BOOST_TEST(f.next(piece, false, header) == "first piece");
    BOOST_TEST(header == "BDAT 11\r\n");
    BOOST_TEST(!f.done());
    header.clear();
    std::string_view none;
    BOOST_TEST(f.next(none, false, header).empty());
    BOOST_TEST(header.empty()); // nothing to say yet
    std::string_view last = "end";
    BOOST_TEST(f.next(last, true, header) == "end");
    BOOST_TEST(header == "BDAT 3 LAST\r\n");
    BOOST_TEST(f.done());
    header.clear();
    BOOST_TEST(f.next(last, true, header).empty());
    BOOST_TEST(header.empty());
    f.reset();
    BOOST_TEST(!f.done());
}

BOOST_AUTO_TEST_CASE(zero_chunk_size_is_refused)
{
    BOOST_CHECK_THROW(smtp::bdat_framer(0), std::invalid_argument);
}

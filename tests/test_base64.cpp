// Tests for base64 (RFC 4648 section 4) as SMTP AUTH uses it (RFC 4954):
// the section 10 vectors both ways, and a strict decoder that leaves its
// output alone on any error.
#define BOOST_TEST_MODULE base64
#include <smtp/protocol/base64.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::literals;
namespace base64 = smtp::base64;

namespace smtp {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e)
{
    if (e == errc{})
        return os << "errc{} (no error)";
    return os << "errc " << static_cast<int>(e) << " (" << make_error_code(e).message() << ")";
}
} // namespace smtp

namespace {

smtp::errc code_of(const smtp::error_code& ec)
{
    if (!ec)
        return smtp::errc{};
    BOOST_TEST_REQUIRE((ec.category() == smtp::smtp_category()), "error from another category: " << ec.message());
    return static_cast<smtp::errc>(ec.value());
}

/// RFC 4648 section 10.
const std::vector<std::pair<std::string_view, std::string_view>> rfc4648_vectors = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

/// Decodes `in` after some bytes already in the output; checks the prefix.
std::string decoded(std::string_view in)
{
    const std::string prefix = "kept\0"s;
    std::string out = prefix;
    smtp::error_code ec = smtp::errc::need_more; // stale: decode() must clear it
    base64::decode(in, out, ec);
    BOOST_TEST(code_of(ec) == smtp::errc{}, "decoding " << in);
    BOOST_TEST_REQUIRE(out.size() >= prefix.size());
    BOOST_TEST(out.substr(0, prefix.size()) == prefix);
    return out.substr(prefix.size());
}

/// Checks that decoding `in` fails with invalid_base64 and leaves `out` as it was.
void check_rejected(std::string_view in)
{
    BOOST_TEST_CONTEXT("decoding \"" << in << "\" (" << in.size() << " octets)")
    {
        for (const std::string& before : {""s, "already here"s, "\0\xFF"s}) {
            std::string out = before;
            smtp::error_code ec;
            base64::decode(in, out, ec);
            BOOST_TEST(code_of(ec) == smtp::errc::invalid_base64);
            BOOST_TEST(out == before);
        }
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(rfc4648_encode)
{
    for (const auto& [raw, enc] : rfc4648_vectors) {
        BOOST_TEST(base64::encode(raw) == enc);
        BOOST_TEST(base64::encoded_size(raw.size()) == enc.size());
    }
}

BOOST_AUTO_TEST_CASE(rfc4648_decode)
{
    for (const auto& [raw, enc] : rfc4648_vectors)
        BOOST_TEST(decoded(enc) == raw);
}

BOOST_AUTO_TEST_CASE(encode_appends)
{
    std::string out = "AUTH PLAIN ";
    base64::encode("\0user\0pass"sv, out);
    BOOST_TEST(out == "AUTH PLAIN AHVzZXIAcGFzcw==");
    base64::encode("", out);
    BOOST_TEST(out == "AUTH PLAIN AHVzZXIAcGFzcw==");
    base64::encode("f", out);
    BOOST_TEST(out == "AUTH PLAIN AHVzZXIAcGFzcw==Zg==");
}

BOOST_AUTO_TEST_CASE(whole_alphabet)
{
    // Octets that map to the last index values: '+' (62) and '/' (63).
    BOOST_TEST(base64::encode("\xFB\xEF\xBE"sv) == "++++");
    BOOST_TEST(base64::encode("\xFF\xFF\xFF"sv) == "////");
    BOOST_TEST(base64::encode("\xFB\xFF"sv) == "+/8=");
    BOOST_TEST(base64::encode("\0\0\0"sv) == "AAAA");
    BOOST_TEST(decoded("++++") == "\xFB\xEF\xBE"sv);
    BOOST_TEST(decoded("////") == "\xFF\xFF\xFF"sv);
    BOOST_TEST(decoded("+/8=") == "\xFB\xFF"sv);
    BOOST_TEST(decoded("AAAA") == "\0\0\0"sv);
    // Every index value 0..63, in order, decodes and re-encodes to itself.
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    BOOST_TEST(base64::encode(decoded(alphabet)) == alphabet);
    // All 256 octet values.
    std::string all;
    for (int i = 0; i < 256; ++i)
        all.push_back(static_cast<char>(i));
    const std::string enc = base64::encode(all);
    BOOST_TEST(enc.size() == base64::encoded_size(256));
    // Python: base64.b64encode(bytes(range(256)))
    BOOST_TEST(enc ==
               "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZH"
               "SElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6P"
               "kJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX"
               "2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==");
    BOOST_TEST(decoded(enc) == all);
}

BOOST_AUTO_TEST_CASE(round_trip)
{
    std::mt19937 rng(4648);
    std::uniform_int_distribution<int> octet(0, 255);
    for (std::size_t n = 0; n < 200; ++n) {
        std::string raw;
        for (std::size_t i = 0; i < n; ++i)
            raw.push_back(static_cast<char>(octet(rng)));
        const std::string enc = base64::encode(raw);
        BOOST_TEST(enc.size() == base64::encoded_size(n));
        BOOST_TEST(enc.size() % 4 == 0u);
        BOOST_TEST(enc.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
                   std::string::npos);
        BOOST_TEST(decoded(enc) == raw, "length " << n);
    }
}

BOOST_AUTO_TEST_CASE(server_challenges)
{
    // What AUTH LOGIN and CRAM-MD5 servers send (RFC 4954 4, RFC 2195 2).
    BOOST_TEST(decoded("VXNlcm5hbWU6") == "Username:");
    BOOST_TEST(decoded("UGFzc3dvcmQ6") == "Password:");
    BOOST_TEST(decoded("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+") ==
               "<1896.697170952@postoffice.reston.mci.net>");
}

BOOST_AUTO_TEST_CASE(bad_length)
{
    for (std::string_view in : {"Z"sv, "Zg"sv, "Zg="sv, "Zm9vY"sv, "Zm9vYm"sv, "Zm9vYmF"sv, "Zm9vYg="sv, "="sv,
                                "Zm9vYg==="sv})
        check_rejected(in);
    // Views cut short inside a longer buffer of good base64: the decoder must
    // go by the view's length, not by what follows it in memory.
    const std::string buffer = "Zm9vYmFyZm9vYmFy";
    for (std::size_t n : {1u, 2u, 3u, 5u, 6u, 7u, 9u, 13u, 15u})
        check_rejected(std::string_view(buffer).substr(0, n));
    BOOST_TEST(decoded(std::string_view(buffer).substr(0, 8)) == "foobar");
    BOOST_TEST(decoded(std::string_view(buffer).substr(0, 4)) == "foo");
}

BOOST_AUTO_TEST_CASE(bad_characters)
{
    for (std::string_view in : {"Zm9!"sv, "Zm9-"sv, "Zm9_"sv, "Zm9v!A=="sv, "Zm9.YmFy"sv, "Zm9\x80"sv, "Zm9\xFF"sv,
                                "Zm9\0"sv, "Zm9vYmF\x7F"sv, "Zm\"v"sv, "*AAA"sv})
        check_rejected(in);
    // The URL-safe alphabet (RFC 4648 5) is another alphabet.
    check_rejected("-_-_");
    check_rejected("+/8_");
}

BOOST_AUTO_TEST_CASE(misplaced_padding)
{
    for (std::string_view in : {"=Zg="sv, "Z=g="sv, "Zg=a"sv, "Z==="sv, "===="sv, "Zm9v===="sv, "Zg==Zm8="sv,
                                "Zm8=Zm9v"sv, "Zg==Zg=="sv, "Zm9vZ==="sv, "Zm=v"sv, "Zm9v=AAA"sv})
        check_rejected(in);
}

BOOST_AUTO_TEST_CASE(non_canonical_padding_bits)
{
    // RFC 4648 3.5: the bits the padding hides must be zero.
    for (std::string_view in : {"Zh=="sv, "Zm9="sv, "Zm+="sv, "Zv=="sv, "Zm9vYh=="sv, "Zm9vYmF="sv, "AB=="sv,
                                "AAB="sv, "//=="sv})
        check_rejected(in);
    // Their canonical twins decode.
    BOOST_TEST(decoded("Zg==") == "f");
    BOOST_TEST(decoded("Zm8=") == "fo");
    BOOST_TEST(decoded("AA==") == "\0"sv);
    BOOST_TEST(decoded("AAA=") == "\0\0"sv);
    BOOST_TEST(decoded("/w==") == "\xFF"sv);
}

BOOST_AUTO_TEST_CASE(whitespace)
{
    for (std::string_view in : {"Zm9vYmF\n"sv, "Zm9vYmFy\r\n"sv, "Zm9v\r\nYmFy"sv, "Zm9 vYmFy"sv, " Zm9vYmF"sv,
                                "Zm9vYmF "sv, "Zm9v\tYmF"sv, "Zm9v    "sv, "    "sv, "Zm9v\r\nYm"sv})
        check_rejected(in);
}

BOOST_AUTO_TEST_CASE(error_after_good_quads_leaves_output)
{
    // The decoder has written the first quads when it meets the bad one:
    // all of it must be taken back.
    for (std::string_view in : {"Zm9vYmFy!!!!"sv, "Zm9vYmFyZh=="sv, "Zm9vYmFy===="sv, "Zm9vYmFyZg=a"sv,
                                "AAAAAAAAAAAAAAAAAAAAAAA*"sv})
        check_rejected(in);
    // And a good decode after a failed one starts from a clean error_code.
    std::string out;
    smtp::error_code ec;
    base64::decode("Zh==", out, ec);
    BOOST_TEST(code_of(ec) == smtp::errc::invalid_base64);
    base64::decode("Zm9vYmFy", out, ec);
    BOOST_TEST(code_of(ec) == smtp::errc{});
    BOOST_TEST(out == "foobar");
}

BOOST_AUTO_TEST_CASE(encoded_size)
{
    static_assert(base64::encoded_size(0) == 0);
    static_assert(base64::encoded_size(1) == 4);
    static_assert(base64::encoded_size(2) == 4);
    static_assert(base64::encoded_size(3) == 4);
    static_assert(base64::encoded_size(4) == 8);
    static_assert(base64::encoded_size(9207) == 12276);
    for (std::size_t n = 0; n < 64; ++n)
        BOOST_TEST(base64::encoded_size(n) == base64::encode(std::string(n, 'x')).size());
}

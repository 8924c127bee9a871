// Tests for the extension types and the capability record (RFC 5321 4.1.1.1,
// RFC 1869, 1870, 4954): real EHLO/LHLO replies captured from aiosmtpd and
// Postfix smtp-sink (tests/data/ehlo/), hand-written edge cases, a user-defined
// extension, and what must not compile.
#define BOOST_TEST_MODULE capabilities
#include <smtp/protocol/capabilities.hpp>

#include <smtp/protocol/reply_parser.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using namespace std::literals;
namespace ext = smtp::ext;

namespace smtp {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e)
{
    if (e == errc{})
        return os << "errc{} (no error)";
    return os << "errc " << static_cast<int>(e) << " (" << make_error_code(e).message() << ")";
}
} // namespace smtp

// How Boost.Test prints optionals and the flag value in failure messages.
namespace boost::test_tools::tt_detail {
template <class T>
struct print_log_value<std::optional<T>> {
    void operator()(std::ostream& os, const std::optional<T>& v)
    {
        if (v)
            print_log_value<T>()(os, *v);
        else
            os << "nullopt";
    }
};
template <>
struct print_log_value<smtp::ext::flag> {
    void operator()(std::ostream& os, smtp::ext::flag) { os << "flag"; }
};
} // namespace boost::test_tools::tt_detail

// ---------------------------------------------------------------------------
// A user-defined extension, outside the library.
// ---------------------------------------------------------------------------

/// Postfix XCLIENT: the attribute names the server accepts (NAME ADDR ...).
struct xclient {
    static constexpr std::string_view keyword = "XCLIENT";
    using value_type = std::vector<std::string>;
    static std::optional<value_type> parse(std::string_view params)
    {
        value_type attributes;
        while (!params.empty()) {
            const auto sp = params.find(' ');
            const auto word = params.substr(0, sp);
            if (!word.empty()) {
                if (!std::all_of(word.begin(), word.end(), [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }))
                    return std::nullopt;
                attributes.emplace_back(word);
            }
            if (sp == std::string_view::npos)
                break;
            params.remove_prefix(sp + 1);
        }
        if (attributes.empty())
            return std::nullopt; // XCLIENT always lists its attributes
        return attributes;
    }
};

/// Postfix XFORWARD, with a merge: two XFORWARD lines add up.
struct xforward {
    static constexpr std::string_view keyword = "XFORWARD";
    using value_type = std::vector<std::string>;
    static std::optional<value_type> parse(std::string_view params) { return xclient::parse(params); }
    static void merge(value_type& into, value_type&& more)
    {
        into.insert(into.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
};

/// An extension no record below lists.
struct x_exps {
    static constexpr std::string_view keyword = "X-EXPS";
    using value_type = ext::flag;
    static std::optional<value_type> parse(std::string_view) { return ext::flag{}; }
};

/// Same keyword as ext::size, other case.
struct size_again {
    static constexpr std::string_view keyword = "size";
    using value_type = int;
    static std::optional<int> parse(std::string_view) { return 0; }
};

// Not extensions.
struct no_parse {
    static constexpr std::string_view keyword = "XNOPARSE";
    using value_type = int;
};
struct parse_not_optional {
    static constexpr std::string_view keyword = "XBAD";
    using value_type = int;
    static int parse(std::string_view) { return 0; }
};
struct no_value_type {
    static constexpr std::string_view keyword = "XBAD";
    static std::optional<int> parse(std::string_view) { return 0; }
};
struct no_keyword {
    using value_type = int;
    static std::optional<int> parse(std::string_view) { return 0; }
};

using caps_x = smtp::capabilities_with<xclient, xforward>;

// ---------------------------------------------------------------------------
// Compile-time checks: the concepts, and queries that must not compile.
// ---------------------------------------------------------------------------

/// Can `caps.has<E>()` / `caps.get<E>()` / `caps.size_limit()` be written?
/// (Dependent, so that a constraint failure makes the requires-expression
/// false instead of an error.)
template <class E, class Caps>
constexpr bool can_has = requires(const Caps& caps) { caps.template has<E>(); };
template <class E, class Caps>
constexpr bool can_get = requires(const Caps& caps) { caps.template get<E>(); };
template <class Caps>
constexpr bool can_size_limit = requires(const Caps& caps) { caps.size_limit(); };

// The user's type, in the record that lists it: compiles...
static_assert(can_has<xclient, caps_x> && can_get<xclient, caps_x>);
// ...and the same query on the record that does not list it: does not.
static_assert(!can_has<xclient, smtp::capabilities> && !can_get<xclient, smtp::capabilities>);
static_assert(can_has<ext::size, smtp::capabilities> && can_get<ext::auth, smtp::capabilities>);
static_assert(!can_has<x_exps, caps_x> && !can_get<x_exps, caps_x>);
// A type that is not an extension at all.
static_assert(!can_has<no_parse, smtp::capabilities> && !can_has<int, smtp::capabilities>);
// A record without SIZE has no size_limit(); one with it does.
static_assert(can_size_limit<smtp::capabilities> && can_size_limit<caps_x>);
static_assert(!can_size_limit<smtp::basic_capabilities<ext::pipelining>>);
static_assert(!can_has<ext::size, smtp::basic_capabilities<ext::pipelining>>);
static_assert(can_has<ext::pipelining, smtp::basic_capabilities<ext::pipelining>>);

// smtp::extension
static_assert(smtp::extension<xclient> && smtp::extension<xforward> && smtp::extension<x_exps>);
static_assert(smtp::extension<ext::pipelining> && smtp::extension<ext::size> && smtp::extension<ext::starttls> &&
              smtp::extension<ext::auth> && smtp::extension<ext::eightbitmime> && smtp::extension<ext::smtputf8> &&
              smtp::extension<ext::chunking> && smtp::extension<ext::binarymime> && smtp::extension<ext::dsn> &&
              smtp::extension<ext::enhancedstatuscodes> && smtp::extension<ext::requiretls> &&
              smtp::extension<ext::help>);
static_assert(!smtp::extension<no_parse> && !smtp::extension<parse_not_optional> &&
              !smtp::extension<no_value_type> && !smtp::extension<no_keyword> && !smtp::extension<int>);

// smtp::known_extension: every built-in in the default record, the user's
// type only where it is listed.
static_assert(smtp::known_extension<ext::pipelining, smtp::capabilities> &&
              smtp::known_extension<ext::size, smtp::capabilities> &&
              smtp::known_extension<ext::starttls, smtp::capabilities> &&
              smtp::known_extension<ext::auth, smtp::capabilities> &&
              smtp::known_extension<ext::eightbitmime, smtp::capabilities> &&
              smtp::known_extension<ext::smtputf8, smtp::capabilities> &&
              smtp::known_extension<ext::chunking, smtp::capabilities> &&
              smtp::known_extension<ext::binarymime, smtp::capabilities> &&
              smtp::known_extension<ext::dsn, smtp::capabilities> &&
              smtp::known_extension<ext::enhancedstatuscodes, smtp::capabilities> &&
              smtp::known_extension<ext::requiretls, smtp::capabilities> &&
              smtp::known_extension<ext::help, smtp::capabilities>);
static_assert(smtp::known_extension<xclient, caps_x> && smtp::known_extension<ext::size, caps_x>);
static_assert(!smtp::known_extension<xclient, smtp::capabilities>);
static_assert(!smtp::known_extension<x_exps, caps_x>);
static_assert(!smtp::known_extension<ext::dsn, smtp::basic_capabilities<ext::pipelining, ext::size>>);
static_assert(!smtp::known_extension<no_parse, smtp::capabilities>);
static_assert(smtp::capabilities::knows<ext::size> && !smtp::capabilities::knows<xclient> && caps_x::knows<xclient>);

// Two types with the same keyword (any case) are refused by the record.
static_assert(!smtp::detail::keywords_distinct<ext::size, size_again>());
static_assert(!smtp::detail::keywords_distinct<xclient, ext::pipelining, xclient>());
static_assert(smtp::detail::keywords_distinct<xclient, xforward, ext::size, ext::auth>());

// The value types.
static_assert(std::is_same_v<ext::size::value_type, std::uint64_t>);
static_assert(std::is_same_v<ext::auth::value_type, ext::sasl_mechanisms>);
static_assert(std::is_same_v<ext::pipelining::value_type, ext::flag>);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

namespace {

const std::filesystem::path ehlo_dir = std::filesystem::path(SMTP_TEST_DATA) / "ehlo";

/// A file's bytes, exactly.
std::string load(const std::string& name)
{
    std::ifstream in(ehlo_dir / name, std::ios::binary);
    BOOST_TEST_REQUIRE(in.good(), "cannot open " << (ehlo_dir / name).string());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// One whole reply through smtp::reply_parser, then from_ehlo (both forms).
template <class Caps = smtp::capabilities>
Caps parse_caps(const std::string& bytes)
{
    smtp::reply_parser parser;
    smtp::reply_view view;
    smtp::error_code ec;
    const std::size_t n = parser.put(bytes, view, ec);
    BOOST_TEST_REQUIRE(!ec, "reply parser: " << ec.message());
    BOOST_TEST_REQUIRE(n == bytes.size(), "the data is not exactly one reply");
    BOOST_TEST(view.code() == 250u);
    smtp::error_code ec2 = smtp::errc::need_more; // stale: from_ehlo must clear it
    Caps caps = Caps::from_ehlo(view, ec2);
    BOOST_TEST_REQUIRE(!ec2, "from_ehlo: " << ec2.message());
    BOOST_CHECK_NO_THROW((void)Caps::from_ehlo(view));
    return caps;
}

template <class Caps = smtp::capabilities>
Caps parse_file(const std::string& name)
{
    BOOST_TEST_INFO_SCOPE("file " << name);
    return parse_caps<Caps>(load(name));
}

/// keywords() as "KEY params|KEY|...".
std::string render(const std::vector<smtp::ehlo_keyword>& ks)
{
    std::string out;
    for (const auto& k : ks) {
        if (!out.empty())
            out += '|';
        out += k.keyword;
        if (!k.params.empty()) {
            out += ' ';
            out += k.params;
        }
    }
    return out;
}

/// A list of names as "A B C".
template <class Range>
std::string join(const Range& names)
{
    std::string out;
    for (const auto& n : names) {
        if (!out.empty())
            out += ' ';
        out += n;
    }
    return out;
}

std::string upper(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    return out;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// Which built-in extensions a record has, by type, as a sorted-by-listing string.
template <class Caps>
std::string typed_set(const Caps& c)
{
    std::string out;
    const auto add = [&](bool b, std::string_view k) {
        if (b) {
            if (!out.empty())
                out += ' ';
            out += k;
        }
    };
    add(c.template has<ext::pipelining>(), "PIPELINING");
    add(c.template has<ext::size>(), "SIZE");
    add(c.template has<ext::starttls>(), "STARTTLS");
    add(c.template has<ext::auth>(), "AUTH");
    add(c.template has<ext::eightbitmime>(), "8BITMIME");
    add(c.template has<ext::smtputf8>(), "SMTPUTF8");
    add(c.template has<ext::chunking>(), "CHUNKING");
    add(c.template has<ext::binarymime>(), "BINARYMIME");
    add(c.template has<ext::dsn>(), "DSN");
    add(c.template has<ext::enhancedstatuscodes>(), "ENHANCEDSTATUSCODES");
    add(c.template has<ext::requiretls>(), "REQUIRETLS");
    add(c.template has<ext::help>(), "HELP");
    return out;
}

const std::vector<std::string> all_files = {
    "aiosmtpd_default.txt",    "aiosmtpd_starttls_smtputf8.txt", "aiosmtpd_auth.txt",
    "smtp-sink_ehlo.txt",      "smtp-sink_lhlo.txt",             "handwritten_mixed.txt",
    "handwritten_size_bare.txt", "handwritten_size_zero.txt",
};

} // namespace

// ---------------------------------------------------------------------------
// The captures
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(captures)

BOOST_AUTO_TEST_CASE(every_file_parses)
{
    // Every .txt in tests/data/ehlo is listed here and parses.
    std::vector<std::string> on_disk;
    for (const auto& entry : std::filesystem::directory_iterator(ehlo_dir))
        if (entry.path().extension() == ".txt")
            on_disk.push_back(entry.path().filename().string());
    std::sort(on_disk.begin(), on_disk.end());
    std::vector<std::string> listed = all_files;
    std::sort(listed.begin(), listed.end());
    BOOST_TEST(join(on_disk) == join(listed));

    for (const auto& name : on_disk) {
        BOOST_TEST_CONTEXT("file " << name)
        {
            const std::string bytes = load(name);
            BOOST_TEST(bytes.ends_with("\r\n"));
            const auto caps = parse_caps(bytes);
            BOOST_TEST(!caps.server_name().empty());
            for (const auto& k : caps.keywords()) {
                // Upper-cased ESMTP keywords, found again in any case.
                BOOST_TEST(k.keyword == upper(k.keyword));
                BOOST_TEST(smtp::detail::is_esmtp_keyword(k.keyword));
                BOOST_TEST(caps.has_extn(k.keyword));
                BOOST_TEST(caps.has_extn(lower(k.keyword)));
                BOOST_TEST_REQUIRE(caps.extn_params(lower(k.keyword)).has_value());
                BOOST_TEST(*caps.extn_params(lower(k.keyword)) == k.params);
            }
            // A typed yes is always also a listed keyword.
            const auto typed = [&]<class E>(E) {
                if (caps.template has<E>())
                    BOOST_TEST(caps.has_extn(E::keyword), E::keyword);
            };
            typed(ext::pipelining{}), typed(ext::size{}), typed(ext::starttls{}), typed(ext::auth{});
            typed(ext::eightbitmime{}), typed(ext::smtputf8{}), typed(ext::chunking{}), typed(ext::dsn{});
            typed(ext::enhancedstatuscodes{}), typed(ext::help{}), typed(ext::binarymime{}), typed(ext::requiretls{});
        }
    }
}

BOOST_AUTO_TEST_CASE(aiosmtpd_default)
{
    const auto caps = parse_file("aiosmtpd_default.txt");
    BOOST_TEST(caps.server_name() == "localhost");
    BOOST_TEST(render(caps.keywords()) == "8BITMIME|HELP");
    BOOST_TEST(typed_set(caps) == "8BITMIME HELP");
    BOOST_TEST(!caps.get<ext::size>().has_value());
    BOOST_TEST(!caps.size_limit().has_value());
    BOOST_TEST(!caps.get<ext::auth>().has_value());
    BOOST_TEST(caps.get<ext::eightbitmime>() == ext::flag{});
    BOOST_TEST(!caps.has_extn("SIZE"));
    BOOST_TEST(!caps.extn_params("size").has_value());
}

BOOST_AUTO_TEST_CASE(aiosmtpd_starttls_smtputf8)
{
    const auto caps = parse_file("aiosmtpd_starttls_smtputf8.txt");
    BOOST_TEST(caps.server_name() == "localhost");
    BOOST_TEST(render(caps.keywords()) == "SIZE 10485760|8BITMIME|SMTPUTF8|STARTTLS|HELP");
    BOOST_TEST(typed_set(caps) == "SIZE STARTTLS 8BITMIME SMTPUTF8 HELP");
    BOOST_TEST_REQUIRE(caps.get<ext::size>().has_value());
    BOOST_TEST(*caps.get<ext::size>() == 10485760u);
    BOOST_TEST_REQUIRE(caps.size_limit().has_value());
    BOOST_TEST(*caps.size_limit() == 10485760u);
    BOOST_TEST(caps.has<ext::starttls>());
    BOOST_TEST(!caps.has<ext::auth>());
    BOOST_TEST(!caps.has<ext::pipelining>());
    BOOST_TEST(caps.extn_params("Size") == "10485760"sv);
}

BOOST_AUTO_TEST_CASE(aiosmtpd_auth)
{
    const auto caps = parse_file("aiosmtpd_auth.txt");
    BOOST_TEST(caps.server_name() == "aiosmtpd.test");
    BOOST_TEST(render(caps.keywords()) == "SIZE 33554432|8BITMIME|SMTPUTF8|AUTH LOGIN PLAIN|HELP");
    BOOST_TEST(typed_set(caps) == "SIZE AUTH 8BITMIME SMTPUTF8 HELP");
    BOOST_TEST(caps.size_limit() == std::optional<std::uint64_t>(33554432u));
    BOOST_TEST_REQUIRE(caps.get<ext::auth>().has_value());
    const auto& mechs = *caps.get<ext::auth>();
    BOOST_TEST(join(mechs) == "LOGIN PLAIN");
    BOOST_TEST(mechs.size() == 2u);
    BOOST_TEST(mechs.contains("PLAIN"));
    BOOST_TEST(mechs.contains("login"));
    BOOST_TEST(!mechs.contains("CRAM-MD5"));
    BOOST_TEST(!caps.has<ext::starttls>());
    BOOST_TEST(caps.extn_params("auth") == "LOGIN PLAIN"sv);
}

BOOST_AUTO_TEST_CASE(smtp_sink)
{
    for (const char* name : {"smtp-sink_ehlo.txt", "smtp-sink_lhlo.txt"}) {
        BOOST_TEST_CONTEXT(name)
        {
            const auto caps = parse_file<caps_x>(name);
            BOOST_TEST(caps.server_name() == "sink.test");
            // The empty last line ("250 ") adds no keyword.
            BOOST_TEST(render(caps.keywords()) ==
                       "PIPELINING|8BITMIME|AUTH PLAIN LOGIN|XCLIENT NAME HELO|XFORWARD NAME ADDR PROTO HELO|"
                       "ENHANCEDSTATUSCODES|DSN");
            BOOST_TEST(typed_set(caps) == "PIPELINING AUTH 8BITMIME DSN ENHANCEDSTATUSCODES");
            BOOST_TEST(!caps.has<ext::size>());
            BOOST_TEST(!caps.size_limit().has_value());
            BOOST_TEST(!caps.has<ext::starttls>());
            BOOST_TEST_REQUIRE(caps.get<ext::auth>().has_value());
            BOOST_TEST(join(*caps.get<ext::auth>()) == "PLAIN LOGIN");
            // The user's types, by type.
            BOOST_TEST_REQUIRE(caps.has<xclient>());
            BOOST_TEST(join(*caps.get<xclient>()) == "NAME HELO");
            BOOST_TEST_REQUIRE(caps.has<xforward>());
            BOOST_TEST(join(*caps.get<xforward>()) == "NAME ADDR PROTO HELO");
            // by keyword, any case
            BOOST_TEST(caps.has_extn("xclient"));
            BOOST_TEST(caps.extn_params("XForward") == "NAME ADDR PROTO HELO"sv);
        }
    }
    // The default record keeps the unknown keywords too, untyped.
    const auto plain = parse_file("smtp-sink_ehlo.txt");
    BOOST_TEST(plain.has_extn("XCLIENT"));
    BOOST_TEST(plain.extn_params("xclient") == "NAME HELO"sv);
    BOOST_TEST(plain.keywords().size() == 7u);
}

BOOST_AUTO_TEST_CASE(handwritten_mixed)
{
    const auto caps = parse_file<caps_x>("handwritten_mixed.txt");
    // The first word of the first line; the rest of that line is not a name.
    BOOST_TEST(caps.server_name() == "mx.handwritten.test");
    // In order, upper-cased; AUTH= folded into AUTH (smtplib concatenates the same way).
    BOOST_TEST(render(caps.keywords()) ==
               "AUTH PLAIN LOGIN PLAIN LOGIN CRAM-MD5|PIPELINING|8BITMIME|X-EXPS GSSAPI NTLM|"
               "XCLIENT NAME ADDR PROTO HELO|SIZE abc|ENHANCEDSTATUSCODES|CHUNKING|XUNKNOWN|HELP");
    // Lower-case keywords count; malformed "SIZE abc" is listed but not typed support.
    BOOST_TEST(typed_set(caps) == "PIPELINING AUTH 8BITMIME CHUNKING ENHANCEDSTATUSCODES HELP");
    // AUTH and AUTH= merged, in first-seen order, no repeats.
    BOOST_TEST_REQUIRE(caps.get<ext::auth>().has_value());
    BOOST_TEST(join(*caps.get<ext::auth>()) == "PLAIN LOGIN CRAM-MD5");
    BOOST_TEST(caps.get<ext::auth>()->size() == 3u);
    BOOST_TEST(caps.get<ext::auth>()->contains("cram-md5"));
    // SIZE abc
    BOOST_TEST(!caps.has<ext::size>());
    BOOST_TEST(!caps.size_limit().has_value());
    BOOST_TEST(caps.has_extn("size"));
    BOOST_TEST(caps.extn_params("SIZE") == "abc"sv);
    // Unknown keywords with and without parameters.
    BOOST_TEST(caps.has_extn("x-exps"));
    BOOST_TEST(caps.extn_params("X-Exps") == "GSSAPI NTLM"sv);
    BOOST_TEST(caps.has_extn("xunknown"));
    BOOST_TEST(caps.extn_params("XUNKNOWN") == ""sv);
    BOOST_TEST(!caps.has_extn("XUNKNOWN2"));
    BOOST_TEST(!caps.has_extn("X-EXP"));
    BOOST_TEST(!caps.has_extn("AUTH=PLAIN"));
    BOOST_TEST(!caps.has_extn(""));
    BOOST_TEST_REQUIRE(caps.has<xclient>());
    BOOST_TEST(join(*caps.get<xclient>()) == "NAME ADDR PROTO HELO");
    BOOST_TEST(!caps.has<xforward>());
    BOOST_TEST(!caps.get<xforward>().has_value());
}

BOOST_AUTO_TEST_CASE(handwritten_size)
{
    // "SIZE" alone and "SIZE 0": supported, no fixed maximum (RFC 1870 4).
    const auto bare = parse_file("handwritten_size_bare.txt");
    BOOST_TEST(bare.server_name() == "size-bare.test");
    BOOST_TEST(bare.has<ext::size>());
    BOOST_TEST(bare.get<ext::size>() == std::optional<std::uint64_t>(0u));
    BOOST_TEST(!bare.size_limit().has_value());
    BOOST_TEST(bare.extn_params("size") == ""sv);
    BOOST_TEST(bare.has<ext::dsn>());

    const auto zero = parse_file("handwritten_size_zero.txt");
    BOOST_TEST(zero.server_name() == "size-zero.test");
    BOOST_TEST(zero.has<ext::size>());
    BOOST_TEST(zero.get<ext::size>() == std::optional<std::uint64_t>(0u));
    BOOST_TEST(!zero.size_limit().has_value());
    BOOST_TEST(zero.extn_params("SIZE") == "0"sv);
    BOOST_TEST(zero.has<ext::pipelining>());
    BOOST_TEST(render(zero.keywords()) == "PIPELINING|SIZE 0");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// The record on inline replies
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(record)

BOOST_AUTO_TEST_CASE(not_a_250_reply)
{
    for (std::string_view raw : {"502 5.5.2 Error: command not recognized\r\n"sv, "500 unknown\r\n"sv,
                                 "421 4.3.2 Service shutting down\r\n"sv, "550-no\r\n550 go away\r\n"sv,
                                 "220 mx.example ESMTP\r\n"sv, "251 odd\r\n"sv, "354 odd\r\n"sv}) {
        BOOST_TEST_CONTEXT(raw)
        {
            const std::string bytes(raw);
            smtp::reply_parser parser;
            smtp::reply_view view;
            smtp::error_code ec;
            BOOST_TEST_REQUIRE(parser.put(bytes, view, ec) == bytes.size());
            smtp::error_code ec2;
            const auto caps = smtp::capabilities::from_ehlo(view, ec2);
            BOOST_TEST((ec2 == smtp::make_error_code(smtp::errc::ehlo_reply_malformed)), ec2.message());
            BOOST_TEST(caps.keywords().empty());
            BOOST_TEST(caps.server_name().empty());
            BOOST_TEST(!caps.has<ext::pipelining>());
            bool threw = false;
            try {
                (void)smtp::capabilities::from_ehlo(view);
            } catch (const smtp::system_error& e) {
                threw = true;
                BOOST_TEST((e.code() == smtp::make_error_code(smtp::errc::ehlo_reply_malformed)));
            }
            BOOST_TEST(threw);
        }
    }
}

BOOST_AUTO_TEST_CASE(single_line_reply)
{
    const auto caps = parse_caps("250 mail.example.com\r\n"s);
    BOOST_TEST(caps.server_name() == "mail.example.com");
    BOOST_TEST(caps.keywords().empty());
    BOOST_TEST(typed_set(caps) == "");
    BOOST_TEST(!caps.has_extn("mail.example.com"));
    const auto greeting = parse_caps("250 mx.example.org Hello client [192.0.2.1]\r\n"s);
    BOOST_TEST(greeting.server_name() == "mx.example.org");
}

BOOST_AUTO_TEST_CASE(a_record_over_other_types_reads_the_same_lines)
{
    // The built-ins' record, then one over xclient made from it: the user's
    // type parses from its keyword's line; every line, the AUTH= merge and
    // the server's name carry over.
    const auto caps = parse_caps("250-mx.example greets you\r\n250-XCLIENT NAME ADDR\r\n250-AUTH PLAIN\r\n"
                                 "250-AUTH=LOGIN\r\n250-SIZE 2048\r\n250 X-UNKNOWN a  b\r\n");
    const auto x = caps_x::from(caps);
    BOOST_REQUIRE(x.has<xclient>());
    BOOST_TEST(x.get<xclient>()->size() == 2u);
    BOOST_TEST(!x.has<xforward>());
    BOOST_TEST(*x.get<ext::size>() == 2048u);
    BOOST_TEST(x.get<ext::auth>()->contains("LOGIN"));
    BOOST_TEST(x.get<ext::auth>()->contains("PLAIN"));
    BOOST_TEST(x.server_name() == "mx.example");
    BOOST_REQUIRE(x.keywords().size() == caps.keywords().size());
    for (std::size_t i = 0; i < x.keywords().size(); ++i) {
        BOOST_TEST(x.keywords()[i].keyword == caps.keywords()[i].keyword);
        BOOST_TEST(x.keywords()[i].params == caps.keywords()[i].params);
    }
    // And back: nothing lost either way.
    const auto back = smtp::capabilities::from(x);
    BOOST_TEST(back.extn_params("XCLIENT").value_or("") == "NAME ADDR");
    BOOST_TEST(smtp::capabilities::from(smtp::capabilities{}).keywords().empty());
}

BOOST_AUTO_TEST_CASE(unknown_keywords_in_order)
{
    const auto caps = parse_caps("250-x.test\r\n250-XFOO a b\r\n250-x-bar\r\n250-ZZZ 1\r\n250-PIPELINING\r\n250 AAA\r\n"s);
    BOOST_TEST(render(caps.keywords()) == "XFOO a b|X-BAR|ZZZ 1|PIPELINING|AAA");
    BOOST_TEST(caps.keywords().at(1).keyword == "X-BAR");
    BOOST_TEST(caps.keywords().at(1).params == "");
    BOOST_TEST(caps.keywords().at(0).params == "a b");
    BOOST_TEST(typed_set(caps) == "PIPELINING");
}

BOOST_AUTO_TEST_CASE(has_extn_is_case_insensitive)
{
    const auto caps = parse_caps("250-x.test\r\n250-Size 1000\r\n250-8bitmime\r\n250 StartTLS\r\n"s);
    for (std::string_view k : {"size"sv, "SIZE"sv, "Size"sv, "sIzE"sv})
        BOOST_TEST(caps.has_extn(k), k);
    BOOST_TEST(caps.extn_params("SIZE") == "1000"sv);
    BOOST_TEST(caps.extn_params("size") == "1000"sv);
    BOOST_TEST(caps.extn_params("8BITMIME") == ""sv);
    BOOST_TEST(caps.extn_params("8BITMIME").has_value());
    BOOST_TEST(caps.has_extn("starttls"));
    BOOST_TEST(caps.has<ext::starttls>());
    BOOST_TEST(caps.has<ext::eightbitmime>());
    BOOST_TEST(caps.size_limit() == std::optional<std::uint64_t>(1000u));
    BOOST_TEST(!caps.has_extn("siz"));
    BOOST_TEST(!caps.has_extn("sizes"));
    BOOST_TEST(!caps.extn_params("pipelining").has_value());
}

BOOST_AUTO_TEST_CASE(auth_lists_merge)
{
    // AUTH then AUTH=.
    const auto a = parse_caps("250-x.test\r\n250-AUTH LOGIN\r\n250-AUTH=PLAIN LOGIN XOAUTH2\r\n250 HELP\r\n"s);
    BOOST_TEST_REQUIRE(a.get<ext::auth>().has_value());
    BOOST_TEST(join(*a.get<ext::auth>()) == "LOGIN PLAIN XOAUTH2");
    // AUTH= alone, lower case.
    const auto b = parse_caps("250-x.test\r\n250 auth=plain login\r\n"s);
    BOOST_TEST_REQUIRE(b.get<ext::auth>().has_value());
    BOOST_TEST(join(*b.get<ext::auth>()) == "PLAIN LOGIN");
    BOOST_TEST(b.has_extn("AUTH"));
    BOOST_TEST(b.extn_params("auth") == "plain login"sv);
    BOOST_TEST(render(b.keywords()) == "AUTH plain login");
    // Lower-case mechanisms are upper-cased; repeats within one line dropped.
    const auto c = parse_caps("250-x.test\r\n250 AUTH plain PLAIN Login cram-md5 LOGIN\r\n"s);
    BOOST_TEST_REQUIRE(c.get<ext::auth>().has_value());
    BOOST_TEST(join(*c.get<ext::auth>()) == "PLAIN LOGIN CRAM-MD5");
    // AUTH with nothing after it: supported, no mechanism.
    const auto d = parse_caps("250-x.test\r\n250 AUTH\r\n"s);
    BOOST_TEST_REQUIRE(d.get<ext::auth>().has_value());
    BOOST_TEST(d.get<ext::auth>()->empty());
    // Extra spaces between and around mechanisms.
    const auto e = parse_caps("250-x.test\r\n250 AUTH  PLAIN   LOGIN  \r\n"s);
    BOOST_TEST_REQUIRE(e.get<ext::auth>().has_value());
    BOOST_TEST(join(*e.get<ext::auth>()) == "PLAIN LOGIN");
    BOOST_TEST(e.extn_params("AUTH") == "PLAIN   LOGIN"sv);
}

BOOST_AUTO_TEST_CASE(size_values)
{
    const auto big = parse_caps("250-x.test\r\n250 SIZE 18446744073709551615\r\n"s);
    BOOST_TEST(big.size_limit() == std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max()));
    const auto over = parse_caps("250-x.test\r\n250 SIZE 18446744073709551616\r\n"s);
    BOOST_TEST(!over.has<ext::size>());
    BOOST_TEST(!over.size_limit().has_value());
    BOOST_TEST(over.has_extn("SIZE"));
    for (std::string_view line : {"SIZE -1"sv, "SIZE +1"sv, "SIZE 1k"sv, "SIZE 10 20"sv, "SIZE 0x10"sv}) {
        const auto caps = parse_caps("250-x.test\r\n250 " + std::string(line) + "\r\n");
        BOOST_TEST(!caps.has<ext::size>(), line);
        BOOST_TEST(!caps.size_limit().has_value(), line);
    }
    const auto spaced = parse_caps("250-x.test\r\n250 SIZE   35882577  \r\n"s);
    BOOST_TEST(spaced.size_limit() == std::optional<std::uint64_t>(35882577u));
    BOOST_TEST(spaced.extn_params("SIZE") == "35882577"sv);
}

BOOST_AUTO_TEST_CASE(lines_that_are_not_keywords)
{
    // Skipped, as smtplib skips them.
    const auto caps = parse_caps("250-x.test\r\n250- PIPELINING\r\n250--X\r\n250-=Y\r\n250-\r\n250 DSN\r\n"s);
    BOOST_TEST(render(caps.keywords()) == "DSN");
    BOOST_TEST(!caps.has<ext::pipelining>());
    BOOST_TEST(caps.has<ext::dsn>());
}

BOOST_AUTO_TEST_CASE(user_extension_values)
{
    const auto caps = parse_caps<caps_x>(
        "250-x.test\r\n250-XFORWARD NAME ADDR\r\n250-XFORWARD PROTO HELO\r\n250 XCLIENT name\r\n"s);
    // merge() adds a repeated keyword's values.
    BOOST_TEST_REQUIRE(caps.has<xforward>());
    BOOST_TEST(join(*caps.get<xforward>()) == "NAME ADDR PROTO HELO");
    // Parameters the type's parser refuses: listed, not typed support.
    BOOST_TEST(!caps.has<xclient>());
    BOOST_TEST(caps.has_extn("XCLIENT"));
    BOOST_TEST(caps.extn_params("XCLIENT") == "name"sv);
    // A record of user types only still keeps every keyword.
    const auto only = parse_caps<smtp::basic_capabilities<xclient>>(load("smtp-sink_ehlo.txt"));
    BOOST_TEST(only.has<xclient>());
    BOOST_TEST(only.keywords().size() == 7u);
    BOOST_TEST(only.has_extn("PIPELINING"));
}

BOOST_AUTO_TEST_CASE(default_record_is_empty)
{
    const smtp::capabilities caps;
    BOOST_TEST(caps.keywords().empty());
    BOOST_TEST(caps.server_name().empty());
    BOOST_TEST(typed_set(caps) == "");
    BOOST_TEST(!caps.size_limit().has_value());
    BOOST_TEST(!caps.has_extn("SIZE"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// The extension types on their own
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(extension_types)

BOOST_AUTO_TEST_CASE(size_parse)
{
    BOOST_TEST(ext::size::parse("") == std::optional<std::uint64_t>(0u));
    BOOST_TEST(ext::size::parse("0") == std::optional<std::uint64_t>(0u));
    BOOST_TEST(ext::size::parse("35882577") == std::optional<std::uint64_t>(35882577u));
    BOOST_TEST(ext::size::parse("18446744073709551615") ==
               std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max()));
    for (std::string_view bad : {"abc"sv, "18446744073709551616"sv, "-1"sv, "+1"sv, " 1"sv, "1 "sv, "1.5"sv, "1e6"sv})
        BOOST_TEST(!ext::size::parse(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(auth_parse)
{
    const auto m = ext::auth::parse("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256-PLUS X_Y");
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(join(*m) == "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256-PLUS X_Y");
    BOOST_TEST(join(*ext::auth::parse("plain login")) == "PLAIN LOGIN");
    BOOST_TEST(ext::auth::parse("")->empty());
    // Words that are not mechanism names are skipped; the rest stay usable.
    BOOST_TEST(join(*ext::auth::parse("PLAIN L@GIN")) == "PLAIN");
    for (std::string_view bad : {"ABCDEFGHIJKLMNOPQRSTU"sv, "PLAIN=X"sv, "PLAİN"sv})
        BOOST_TEST(ext::auth::parse(bad)->empty(), bad);
    BOOST_TEST(join(*ext::auth::parse("ABCDEFGHIJKLMNOPQRST")) == "ABCDEFGHIJKLMNOPQRST");

    ext::sasl_mechanisms into = *ext::auth::parse("LOGIN PLAIN");
    ext::auth::merge(into, *ext::auth::parse("plain XOAUTH2 login"));
    BOOST_TEST(join(into) == "LOGIN PLAIN XOAUTH2");
}

BOOST_AUTO_TEST_CASE(sasl_mechanisms)
{
    ext::sasl_mechanisms m;
    BOOST_TEST(m.empty());
    BOOST_TEST(m.size() == 0u);
    m.add("plain");
    m.add("PLAIN");
    m.add("Plain");
    m.add("");
    m.add("LOGIN");
    BOOST_TEST(m.size() == 2u);
    BOOST_TEST(join(m.names()) == "PLAIN LOGIN");
    BOOST_TEST(m.contains("plain"));
    BOOST_TEST(m.contains("LoGiN"));
    BOOST_TEST(!m.contains("PLAI"));
    BOOST_TEST(!m.contains(""));
    ext::sasl_mechanisms same;
    same.add("PLAIN");
    same.add("login");
    BOOST_TEST((m == same));
    ext::sasl_mechanisms other_order;
    other_order.add("LOGIN");
    other_order.add("PLAIN");
    BOOST_TEST(!(m == other_order));
}

BOOST_AUTO_TEST_CASE(keyword_only)
{
    BOOST_TEST((ext::pipelining::parse("") == ext::flag{}));
    BOOST_TEST((ext::pipelining::parse("anything at all") == ext::flag{}));
    BOOST_TEST((ext::starttls::parse("x") == ext::flag{}));
    BOOST_TEST(ext::pipelining::keyword == "PIPELINING");
    BOOST_TEST(ext::eightbitmime::keyword == "8BITMIME");
    BOOST_TEST(ext::smtputf8::keyword == "SMTPUTF8");
    BOOST_TEST(ext::chunking::keyword == "CHUNKING");
    BOOST_TEST(ext::binarymime::keyword == "BINARYMIME");
    BOOST_TEST(ext::dsn::keyword == "DSN");
    BOOST_TEST(ext::enhancedstatuscodes::keyword == "ENHANCEDSTATUSCODES");
    BOOST_TEST(ext::requiretls::keyword == "REQUIRETLS");
    BOOST_TEST(ext::help::keyword == "HELP");
    BOOST_TEST(ext::starttls::keyword == "STARTTLS");
    BOOST_TEST(ext::size::keyword == "SIZE");
    BOOST_TEST(ext::auth::keyword == "AUTH");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(auth_list_skips_words_that_are_not_mechanism_names)
{
    const std::string in = "250-mx.example\r\n250 AUTH PLAIN X=Y login \x01 CRAM-MD5\r\n";
    smtp::reply_limits lenient;
    smtp::reply_parser p(lenient);
    smtp::reply_view r;
    smtp::error_code ec;
    // The control byte is refused by the parser itself...
    BOOST_TEST(p.put(in, r, ec) == 0u);
    BOOST_TEST(ec == smtp::errc::reply_control_character);
    // ...and a word that is merely not a mechanism name is skipped.
    const std::string ok = "250-mx.example\r\n250 AUTH PLAIN X=Y login CRAM-MD5\r\n";
    p.reset();
    BOOST_REQUIRE(p.put(ok, r, ec) == ok.size());
    const auto caps = smtp::capabilities::from_ehlo(r);
    BOOST_REQUIRE(caps.get<smtp::ext::auth>().has_value());
    const std::vector<std::string> expected{"PLAIN", "LOGIN", "CRAM-MD5"};
    BOOST_TEST(caps.get<smtp::ext::auth>()->names() == expected, boost::test_tools::per_element());
}

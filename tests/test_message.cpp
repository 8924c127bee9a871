// Tests for the message builder (smtp/message.hpp). Every message built here
// is also written to message_checks/NAME.eml, with NAME.json beside it, and
// checked independently by Python's email package (tests/check_message.py):
// decoded headers and addresses, the part structure, decoded payloads,
// filenames, Content-IDs and the line limits.
#define BOOST_TEST_MODULE message
#include <smtp/message.hpp>

// The builder is usable without the client: no Asio, no OpenSSL.
#if defined(BOOST_ASIO_VERSION) || defined(OPENSSL_VERSION_NUMBER)
#error "smtp/message.hpp pulled in Asio or OpenSSL"
#endif

#include <smtp/protocol/transaction.hpp> // smtp::message_source

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::literals;
namespace fs = std::filesystem;

namespace {

// --- Expectations for check_message.py ------------------------------------------

std::string json(std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string to_hex(std::string_view bytes)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

struct part {
    std::string type;
    std::map<std::string, std::string> fields{}; // cte, charset, text, filename, content_id, disposition, bytes_file
    std::optional<std::string> bytes{};
};

struct expect {
    std::map<std::string, std::string> headers{};
    std::vector<std::pair<std::string, std::vector<smtp::mailbox>>> addresses{};
    std::string message_id_re{};
    std::string structure{};
    std::vector<part> parts{};
    int max_header_line = 78;

    std::string to_json() const
    {
        std::string j = "{\"max_header_line\": " + std::to_string(max_header_line);
        j += ", \"structure\": " + json(structure);
        if (!message_id_re.empty())
            j += ", \"message_id_re\": " + json(message_id_re);
        j += ", \"headers\": {";
        for (auto it = headers.begin(); it != headers.end(); ++it)
            j += (it == headers.begin() ? "" : ", ") + json(it->first) + ": " + json(it->second);
        j += "}, \"addresses\": {";
        for (std::size_t i = 0; i < addresses.size(); ++i) {
            j += (i ? ", " : "") + json(addresses[i].first) + ": [";
            for (std::size_t k = 0; k < addresses[i].second.size(); ++k)
                j += (k ? ", [" : "[") + json(addresses[i].second[k].name) + ", " +
                     json(addresses[i].second[k].address) + "]";
            j += "]";
        }
        j += "}, \"parts\": [";
        for (std::size_t i = 0; i < parts.size(); ++i) {
            j += (i ? ", {" : "{") + "\"type\": "s + json(parts[i].type);
            for (const auto& [k, v] : parts[i].fields)
                j += ", " + json(k) + ": " + json(v);
            if (parts[i].bytes)
                j += ", \"bytes_hex\": " + json(to_hex(*parts[i].bytes));
            j += "}";
        }
        return j + "]}\n";
    }
};

fs::path check_dir()
{
    const fs::path dir = fs::current_path() / "message_checks";
    fs::create_directories(dir);
    return dir;
}

/// Writes the message with write() and has Python check it; returns the bytes.
std::string python_check(const std::string& name, const smtp::message& m, const expect& e)
{
    const fs::path dir = check_dir();
    const fs::path eml = dir / (name + ".eml"), js = dir / (name + ".json");
    std::string all;
    {
        std::ofstream out(eml, std::ios::binary);
        m.write([&](std::string_view piece) {
            out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
            all += piece;
        });
    }
    std::ofstream(js, std::ios::binary) << e.to_json();
    const std::string cmd = "/usr/bin/python3 '" SMTP_TEST_DATA "/../check_message.py' '" + eml.string() + "' '" +
                            js.string() + "'";
    const int rc = std::system(cmd.c_str());
    BOOST_TEST(rc == 0, name << ": check_message.py failed (see above): " << cmd);
    return all;
}

const auto fixed_date = std::chrono::sys_days{std::chrono::year{2026} / 11 / 28} + 20h + 8min + 45s;

smtp::message base(std::uint64_t seed = 1)
{
    smtp::message m(seed);
    m.from({"Author", "author@example.com"}).to({"Recipient", "recipient@example.com"}).date(fixed_date);
    return m;
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

/// The header section's lines (up to the first empty line), unfolded.
std::string header_section(std::string_view msg) { return std::string(msg.substr(0, msg.find("\r\n\r\n") + 2)); }

template <class F>
std::string invalid_argument_of(F&& f)
{
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(nothing thrown)";
}

long max_rss_kib()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

} // namespace

// --- Streaming first: the peak memory measured before other tests raise it -------

BOOST_AUTO_TEST_CASE(five_mib_attachment_streamed_from_a_file)
{
    const fs::path file = check_dir() / "big.bin";
    constexpr std::size_t size = 5 * 1024 * 1024 + 17; // not a multiple of 57
    {
        std::ofstream out(file, std::ios::binary);
        std::minstd_rand gen(7);
        std::string chunk(4096, '\0');
        for (std::size_t done = 0; done < size; done += chunk.size()) {
            chunk.resize(std::min<std::size_t>(4096, size - done));
            for (auto& c : chunk)
                c = static_cast<char>(gen() & 0xFF);
            out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        }
    }
    smtp::message m = base();
    m.subject("Big").text("See the attachment.\n").attach(smtp::attachment::from_file(file.string(), "application/octet-stream"));

    // write(): pieces stay small, and the peak memory does not grow with the
    // attachment (about 7 MiB once encoded).
    const long before = max_rss_kib();
    std::size_t largest = 0, total = 0;
    const fs::path eml = check_dir() / "big.eml";
    {
        std::ofstream out(eml, std::ios::binary);
        m.write([&](std::string_view piece) {
            largest = std::max(largest, piece.size());
            total += piece.size();
            out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
        });
    }
    const long growth = max_rss_kib() - before;
    BOOST_TEST(largest < 100u * 1024);
    BOOST_TEST(total > size * 4 / 3);
    BOOST_TEST(growth < 3 * 1024, "peak memory grew by " << growth << " KiB");

    // The reader, as a message_source: the same bytes, again after rewind().
    smtp::message_reader r = m.reader();
    smtp::message_source src{r.read_function(), r.rewind_function()};
    for (int round = 0; round < 2; ++round) {
        std::ifstream in(eml, std::ios::binary);
        std::string a(4093, '\0'), b(4093, '\0');
        std::size_t read_total = 0;
        bool same = true;
        while (const std::size_t n = src.read(a.data(), a.size())) {
            in.read(b.data(), static_cast<std::streamsize>(n));
            same = same && static_cast<std::size_t>(in.gcount()) == n && a.compare(0, n, b, 0, n) == 0;
            read_total += n;
        }
        BOOST_TEST(same, "round " << round);
        BOOST_TEST(read_total == total);
        BOOST_TEST(src.rewind());
    }

    expect e;
    e.structure = "multipart/mixed(text/plain,application/octet-stream)";
    e.parts = {{"text/plain", {{"text", "See the attachment.\n"}, {"cte", "7bit"}}},
               {"application/octet-stream",
                {{"bytes_file", file.string()}, {"filename", "big.bin"}, {"disposition", "attachment"}, {"cte", "base64"}}}};
    std::ofstream(check_dir() / "big.json", std::ios::binary) << e.to_json();
    const std::string cmd = "/usr/bin/python3 '" SMTP_TEST_DATA "/../check_message.py' '" + eml.string() + "' '" +
                            (check_dir() / "big.json").string() + "'";
    BOOST_TEST(std::system(cmd.c_str()) == 0, cmd);

    // A missing file: an error when written, not a truncated message.
    smtp::message missing = base();
    missing.attach(smtp::attachment::from_file((check_dir() / "no-such-file").string(), "text/plain"));
    BOOST_CHECK_THROW(missing.to_string(), std::runtime_error);
}

// --- Headers ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ascii_headers)
{
    smtp::message m(1);
    m.from({"Author", "author@example.com"})
        .to({"Recipient", "recipient@example.com"})
        .to({"", "bare@example.com"})
        .cc({"Carbon Copy", "cc@example.com"})
        .reply_to({"Replies", "replies@example.com"})
        .subject("Simple test message")
        .date(fixed_date)
        .header("X-Mailer", "smtp test")
        .text("This is the body of the message.\n");
    const std::string s = m.to_string();
    const std::string h = header_section(s);
    BOOST_TEST(contains(h, "From: Author <author@example.com>\r\n"));
    BOOST_TEST(contains(h, "To: Recipient <recipient@example.com>, bare@example.com\r\n"));
    BOOST_TEST(contains(h, "Cc: Carbon Copy <cc@example.com>\r\n"));
    BOOST_TEST(contains(h, "Reply-To: Replies <replies@example.com>\r\n"));
    BOOST_TEST(contains(h, "Subject: Simple test message\r\n"));
    BOOST_TEST(contains(h, "Date: Sat, 28 Nov 2026 20:08:45 +0000\r\n"));
    BOOST_TEST(contains(h, "X-Mailer: smtp test\r\n"));
    BOOST_TEST(contains(h, "MIME-Version: 1.0\r\n"));
    BOOST_TEST(std::regex_search(h, std::regex("Message-ID: <[0-9a-f]{32}@example\\.com>\r\n")));
    BOOST_TEST(contains(h, "Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 7bit\r\n"));
    BOOST_TEST(s.ends_with("\r\n\r\nThis is the body of the message.\r\n"));

    // Reproducible with a seed, and the same bytes every time it is written.
    BOOST_TEST(s == m.to_string());
    smtp::message same(1);
    same.from({"Author", "author@example.com"}).date(fixed_date);
    BOOST_TEST(same.message_id() == m.message_id());
    smtp::message other(2);
    other.from({"Author", "author@example.com"});
    BOOST_TEST(other.message_id() != m.message_id());

    expect e;
    e.headers = {{"subject", "Simple test message"}, {"date", "Sat, 28 Nov 2026 20:08:45 +0000"}, {"x-mailer", "smtp test"}};
    e.addresses = {{"from", {{"Author", "author@example.com"}}},
                   {"to", {{"Recipient", "recipient@example.com"}, {"", "bare@example.com"}}},
                   {"cc", {{"Carbon Copy", "cc@example.com"}}},
                   {"reply-to", {{"Replies", "replies@example.com"}}}};
    e.message_id_re = "<[0-9a-f]{32}@example\\.com>";
    e.structure = "text/plain";
    e.parts = {{"text/plain", {{"text", "This is the body of the message.\n"}, {"cte", "7bit"}, {"charset", "utf-8"}}}};
    python_check("ascii_headers", m, e);
}

BOOST_AUTO_TEST_CASE(date_and_message_id)
{
    BOOST_TEST(smtp::mime::format_date(std::chrono::system_clock::time_point{}) == "Thu, 01 Jan 1970 00:00:00 +0000");
    BOOST_TEST(smtp::mime::format_date(std::chrono::sys_days{std::chrono::year{2024} / 2 / 29} + 23h + 59min + 59s +
                                       999ms) == "Thu, 29 Feb 2024 23:59:59 +0000");
    smtp::message m = base();
    m.message_id("given@host.example");
    BOOST_TEST(m.message_id() == "<given@host.example>");
    m.message_id("<other@host.example>");
    BOOST_TEST(contains(m.to_string(), "\r\nMessage-ID: <other@host.example>\r\n"));
    BOOST_CHECK_THROW(m.message_id("a b@c"), std::invalid_argument);
    BOOST_CHECK_THROW(m.message_id("<a>b@c>"), std::invalid_argument);

    // Date defaults to now.
    smtp::message now(3);
    const auto t = std::chrono::system_clock::now();
    const std::string s = now.to_string();
    BOOST_TEST((contains(s, "Date: " + smtp::mime::format_date(t) + "\r\n") ||
                contains(s, "Date: " + smtp::mime::format_date(t + 1s) + "\r\n")));
    BOOST_TEST(contains(s, "@localhost>\r\n")); // no From: a Message-ID all the same
}

BOOST_AUTO_TEST_CASE(utf8_names_and_subject)
{
    smtp::message m = base();
    m.from({"Jörg Müller", "joerg@example.com"})
        .to({"Zoë Ωmega", "zoe@example.com"})
        .cc({"山田太郎", "taro@example.jp"})
        .subject("Grüße aus Köln ☕")
        .header("X-Note", "naïve")
        .text("Hallo.\n");
    const std::string h = header_section(m.to_string());
    BOOST_TEST(contains(h, "From: =?utf-8?"));
    BOOST_TEST(contains(h, "Subject: =?utf-8?"));
    BOOST_TEST(!contains(h, "Grüße")); // never raw 8-bit in the header section
    BOOST_TEST(std::all_of(h.begin(), h.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }));

    expect e;
    e.headers = {{"subject", "Grüße aus Köln ☕"}, {"x-note", "naïve"}};
    e.addresses = {{"from", {{"Jörg Müller", "joerg@example.com"}}},
                   {"to", {{"Recipient", "recipient@example.com"}, {"Zoë Ωmega", "zoe@example.com"}}},
                   {"cc", {{"山田太郎", "taro@example.jp"}}}};
    e.structure = "text/plain";
    e.parts = {{"text/plain", {{"text", "Hallo.\n"}}}};
    python_check("utf8_names_and_subject", m, e);

    // B or Q, whichever is shorter.
    BOOST_TEST(smtp::mime::encoded_words("Café au lait") == "=?utf-8?q?Caf=C3=A9_au_lait?=");
    BOOST_TEST(smtp::mime::encoded_words("Café") == "=?utf-8?b?Q2Fmw6k=?=");
    BOOST_TEST(smtp::mime::encoded_words("山田太郎").starts_with("=?utf-8?b?"));
}

BOOST_AUTO_TEST_CASE(long_subjects_fold)
{
    std::string ascii;
    for (int i = 0; i < 30; ++i)
        ascii += "word" + std::to_string(i) + " ";
    ascii += "end";
    std::string utf8;
    for (int i = 0; i < 25; ++i)
        utf8 += "Straße Ünïcödé 日本 ";
    utf8 += "Ende";
    std::string many_names;
    smtp::message m = base();
    for (int i = 0; i < 12; ++i)
        m.to({"Recipient Number " + std::to_string(i), "r" + std::to_string(i) + "@example.com"});
    m.subject(ascii).header("X-Long", utf8).text("Body.\n");
    const std::string h = header_section(m.to_string());
    BOOST_TEST(contains(h, "Subject: word0 word1"));
    std::size_t lines = 0;
    for (std::size_t at = 0, end; (end = h.find("\r\n", at)) != std::string::npos; at = end + 2, ++lines)
        BOOST_TEST(end - at <= 78u, "line " << h.substr(at, end - at));
    BOOST_TEST(lines > 20u);

    expect e;
    e.headers = {{"subject", ascii}, {"x-long", utf8}};
    std::vector<smtp::mailbox> to = {{"Recipient", "recipient@example.com"}};
    for (int i = 0; i < 12; ++i)
        to.push_back({"Recipient Number " + std::to_string(i), "r" + std::to_string(i) + "@example.com"});
    e.addresses = {{"to", to}};
    e.structure = "text/plain";
    e.parts = {{"text/plain", {{"text", "Body.\n"}}}};
    python_check("long_subjects_fold", m, e);

    // A word too long to fold into 998 octets: encoded-words, which can be split.
    smtp::message w = base();
    w.subject(std::string(1200, 'x'));
    expect ew;
    ew.headers = {{"subject", std::string(1200, 'x')}};
    ew.structure = "text/plain";
    ew.parts = {{"text/plain", {}}};
    python_check("unbreakable_subject", w, ew);
    // In a custom ASCII header the same, and in an address: an error.
    smtp::message a = base();
    BOOST_TEST(contains(invalid_argument_of([&] { a.cc({"", std::string(1000, 'a') + "@example.com"}).to_string(); }),
                        "Cc has a word too long"));
}

BOOST_AUTO_TEST_CASE(specials_in_names_are_quoted)
{
    smtp::message m = base();
    m.from({"Doe, John", "john@example.com"})
        .to({"Al \"Bo\" \\ Cy", "al@example.com"})
        .to({"O'Brien Jr.", "ob@example.com"})
        .cc({"  spaced  ", "sp@example.com"})
        .reply_to({"=?utf-8?q?not_an_encoded_word?=", "ew@example.com"})
        .subject("=?utf-8?q?looks_encoded?= but is not")
        .text("x\n");
    const std::string h = header_section(m.to_string());
    BOOST_TEST(contains(h, "From: \"Doe, John\" <john@example.com>\r\n"));
    BOOST_TEST(contains(h, "\"Al \\\"Bo\\\" \\\\ Cy\" <al@example.com>,"));
    BOOST_TEST(contains(h, "\"O'Brien Jr.\" <ob@example.com>\r\n"));

    expect e;
    e.headers = {{"subject", "=?utf-8?q?looks_encoded?= but is not"}};
    e.addresses = {{"from", {{"Doe, John", "john@example.com"}}},
                   {"to", {{"Recipient", "recipient@example.com"}, {"Al \"Bo\" \\ Cy", "al@example.com"}, {"O'Brien Jr.", "ob@example.com"}}},
                   {"cc", {{"  spaced  ", "sp@example.com"}}},
                   {"reply-to", {{"=?utf-8?q?not_an_encoded_word?=", "ew@example.com"}}}};
    e.structure = "text/plain";
    e.parts = {{"text/plain", {{"text", "x\n"}}}};
    python_check("specials_in_names", m, e);
}

BOOST_AUTO_TEST_CASE(header_injection_is_refused)
{
    smtp::message m = base();
    BOOST_TEST(contains(invalid_argument_of([&] { m.subject("Hi\r\nBcc: victim@example.com"); }), "Subject"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.subject("Hi\nthere"); }), "CR, LF or NUL"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.subject("Hi\rthere"); }), "Subject"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.subject("Hi\0there"s); }), "Subject"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.to({"Eve\r\nBcc: x@example.com", "eve@example.com"}); }), "To"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.cc({"Eve", "eve@example.com\r\nBcc: x@y"}); }), "Cc"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.from({"Eve", "eve@example.com>, <x@y"}); }), "From"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.reply_to({"\n", "a@b"}); }), "Reply-To"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.header("X-Bad", "a\r\nBcc: x"); }), "X-Bad"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.header("X-Bad\r\nBcc", "a"); }), "header name"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.header("X-Bad: a", "a"); }), "header name"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.header("Content-Type", "text/html"); }), "set by the builder"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.message_id("a@b\r\nX: y"); }), "Message-ID"));
    BOOST_TEST(contains(invalid_argument_of([&] {
                            m.attach(smtp::attachment::from_memory("a\r\nb.txt", "text/plain", "x"));
                        }),
                        "filename"));
    BOOST_TEST(contains(invalid_argument_of([&] {
                            m.attach(smtp::attachment::from_memory("a.txt", "text/plain\r\nX-Evil: 1", "x"));
                        }),
                        "Content-Type"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.embed(smtp::attachment::from_memory("a", "image/png", ""), "x\n"); }),
                        "Content-ID"));
    BOOST_TEST(contains(invalid_argument_of([&] { m.text("x", "utf-8\r\nX: y"); }), "charset"));
    // Nothing refused reached the message.
    const std::string s = m.to_string();
    BOOST_TEST(!contains(s, "Bcc"));
    BOOST_TEST(!contains(s, "Evil"));
}

// --- Bodies ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(transfer_encoding_by_content)
{
    using smtp::transfer_encoding;
    BOOST_TEST((smtp::mime::choose_encoding("plain ASCII\r\n") == transfer_encoding::seven_bit));
    BOOST_TEST((smtp::mime::choose_encoding("Mostly ASCII, one café.\r\n") == transfer_encoding::quoted_printable));
    BOOST_TEST((smtp::mime::choose_encoding("Привет, мир!\r\n") == transfer_encoding::base64));
    BOOST_TEST((smtp::mime::choose_encoding(std::string(999, 'a')) == transfer_encoding::quoted_printable));
    BOOST_TEST((smtp::mime::choose_encoding(std::string(998, 'a')) == transfer_encoding::seven_bit));
    BOOST_TEST((smtp::mime::choose_encoding("nul\0here"s) == transfer_encoding::quoted_printable));

    struct body_case {
        std::string name, body, cte;
    };
    std::string long_line;
    for (int i = 0; long_line.size() < 2500; ++i)
        long_line += "token" + std::to_string(i) + (i % 7 ? "" : " ");
    const std::vector<body_case> cases = {
        {"seven_bit", "Line one.\nLine two.\r\nLine three.\rEnd.", "7bit"},
        {"qp_mostly_ascii", "Mostly ASCII text with a few accents: café, naïve, Köln.\nTrailing space \nTab\t\n"
                            "=equals= and .dots\n", "quoted-printable"},
        {"qp_long_line", "Short.\n" + long_line + "\nShort again.\n", "quoted-printable"},
        {"qp_long_line_no_spaces", std::string(3000, 'z') + "\n", "quoted-printable"},
        {"base64_cyrillic", "Привет, мир! Это сообщение почти целиком не ASCII.\nВторая строка.\n", "base64"},
        {"base64_japanese", "こんにちは世界。日本語のテキストです。\n", "base64"},
    };
    for (const auto& c : cases) {
        smtp::message m = base();
        m.subject(c.name).text(c.body);
        const std::string s = python_check(c.name, m, [&] {
            expect e;
            e.structure = "text/plain";
            e.parts = {{"text/plain", {{"text", c.body}, {"cte", c.cte}, {"charset", "utf-8"}}}};
            return e;
        }());
        BOOST_TEST(contains(s, "Content-Transfer-Encoding: " + c.cte + "\r\n"), c.name);
    }

    // html gets the same rule, and another charset is kept.
    smtp::message m = base();
    m.html("<p>\xE9t\xE9</p>\n", "iso-8859-1");
    expect e;
    e.structure = "text/html";
    e.parts = {{"text/html", {{"text", "<p>été</p>\n"}, {"cte", "quoted-printable"}, {"charset", "iso-8859-1"}}}};
    python_check("html_latin1", m, e);
}

BOOST_AUTO_TEST_CASE(quoted_printable_form)
{
    BOOST_TEST(smtp::mime::quoted_printable("a=b \r\nc\t\r\nd") == "a=3Db=20\r\nc=09\r\nd");
    const std::string qp = smtp::mime::quoted_printable(std::string(200, 'x'));
    std::size_t at = 0;
    for (std::size_t end; (end = qp.find("\r\n", at)) != std::string::npos; at = end + 2) {
        BOOST_TEST(end - at == 76u);
        BOOST_TEST(qp[end - 1] == '=');
    }
    // An escape is never split by a soft break.
    const std::string esc = smtp::mime::quoted_printable(std::string(100, '\xff'));
    BOOST_TEST(esc.find("=\r\n") % 3 == 0u);
}

BOOST_AUTO_TEST_CASE(text_and_html_alternative)
{
    smtp::message m = base();
    m.subject("Alternative").text("Hello, plain world.\n").html("<html><body><p>Hello, <b>html</b> world.</p></body></html>\n");
    expect e;
    e.structure = "multipart/alternative(text/plain,text/html)";
    e.parts = {{"text/plain", {{"text", "Hello, plain world.\n"}}},
               {"text/html", {{"text", "<html><body><p>Hello, <b>html</b> world.</p></body></html>\n"}}}};
    python_check("alternative", m, e);
}

BOOST_AUTO_TEST_CASE(mixed_with_two_attachments)
{
    std::string binary;
    for (int i = 0; i < 1000; ++i)
        binary += static_cast<char>(i * 7 % 256);
    const std::string utf8_name = "Übersicht März 2026 – sehr lange Datei mit Umlauten äöü.csv";
    smtp::message m = base();
    m.subject("Reports")
        .text("Two files.\n")
        .html("<p>Two files.</p>\n")
        .attach(smtp::attachment::from_memory("report \"v2\".pdf", "application/pdf", binary))
        .attach(smtp::attachment::from_memory(utf8_name, "text/csv; charset=utf-8", "a;b\r\n1;2\r\n"));
    const std::string s = m.to_string();
    BOOST_TEST(contains(s, "filename=\"report \\\"v2\\\".pdf\""));
    BOOST_TEST(contains(s, "filename*0*=utf-8''%C3%9Cbersicht"));
    expect e;
    e.structure = "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf,text/csv)";
    e.parts = {{"text/plain", {{"text", "Two files.\n"}}},
               {"text/html", {{"text", "<p>Two files.</p>\n"}}},
               {"application/pdf", {{"filename", "report \"v2\".pdf"}, {"disposition", "attachment"}, {"cte", "base64"}}, binary},
               {"text/csv", {{"filename", utf8_name}, {"disposition", "attachment"}}, "a;b\r\n1;2\r\n"s}};
    python_check("mixed_two_attachments", m, e);

    // A short UTF-8 name: one filename* parameter.
    BOOST_TEST(smtp::mime::filename_parameter("résumé.pdf") == "filename*=utf-8''r%C3%A9sum%C3%A9.pdf");
    BOOST_TEST(smtp::mime::filename_parameter("plain.txt") == "filename=\"plain.txt\"");

    // Attachments only: mixed without a text part.
    smtp::message only = base();
    only.attach(smtp::attachment::from_memory("empty.bin", "application/octet-stream", ""));
    expect eo;
    eo.structure = "application/octet-stream";
    eo.parts = {{"application/octet-stream", {{"filename", "empty.bin"}}, ""s}};
    python_check("attachment_only", only, eo);
}

BOOST_AUTO_TEST_CASE(inline_image_with_content_id)
{
    const std::string png = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image bytes"s;
    const std::string html = "<p>Logo: <img src=\"cid:logo.123@example.com\"></p>\n";
    smtp::message m = base();
    m.subject("Inline").text("Logo attached inline.\n").html(html)
        .embed(smtp::attachment::from_memory("logo.png", "image/png", png), "logo.123@example.com")
        .attach(smtp::attachment::from_memory("notes.txt", "text/plain", "notes\n"));
    expect e;
    e.structure = "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),text/plain)";
    e.parts = {{"text/plain", {{"text", "Logo attached inline.\n"}}},
               {"text/html", {{"text", html}}},
               {"image/png", {{"content_id", "<logo.123@example.com>"}, {"disposition", "inline"}, {"filename", "logo.png"}}, png},
               {"text/plain", {{"filename", "notes.txt"}, {"disposition", "attachment"}}, "notes\n"s}};
    python_check("inline_image", m, e);

    // html only: related at the top.
    smtp::message h = base();
    h.html(html).embed(smtp::attachment::from_memory("logo.png", "image/png", png), "logo.123@example.com");
    expect eh;
    eh.structure = "multipart/related(text/html,image/png)";
    eh.parts = {{"text/html", {{"text", html}}}, {"image/png", {{"content_id", "<logo.123@example.com>"}}, png}};
    python_check("inline_image_html_only", h, eh);
}

BOOST_AUTO_TEST_CASE(attachment_from_a_reader_callback)
{
    constexpr std::size_t size = 300'000;
    auto byte_at = [](std::size_t i) { return static_cast<char>((i * 2654435761u) >> 13); };
    std::size_t pos = 0, rewinds = 0;
    auto read = [&](char* buf, std::size_t n) {
        n = std::min<std::size_t>({n, size - pos, 1000}); // short reads
        for (std::size_t k = 0; k < n; ++k)
            buf[k] = byte_at(pos + k);
        pos += n;
        return n;
    };
    auto rewind = [&] {
        pos = 0;
        ++rewinds;
        return true;
    };
    std::string expected(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
        expected[i] = byte_at(i);
    std::ofstream(check_dir() / "reader.bin", std::ios::binary) << expected;

    smtp::message m = base();
    m.text("From a reader.\n").attach(smtp::attachment::from_reader("data.bin", "application/octet-stream", read, rewind));
    expect e;
    e.structure = "multipart/mixed(text/plain,application/octet-stream)";
    e.parts = {{"text/plain", {{"text", "From a reader.\n"}}},
               {"application/octet-stream", {{"filename", "data.bin"}, {"bytes_file", (check_dir() / "reader.bin").string()}}}};
    const std::string first = python_check("reader_attachment", m, e);

    auto r = m.reader();
    BOOST_TEST(r.rewind());
    BOOST_TEST(rewinds == 1u);
    std::string again(first.size() + 10, '\0');
    std::size_t got = 0;
    while (const std::size_t n = r.read(again.data() + got, std::min<std::size_t>(777, again.size() - got)))
        got += n;
    BOOST_TEST(got == first.size());
    again.resize(got);
    BOOST_TEST((again == first));

    // A reader without rewind cannot be rewound.
    smtp::message once = base();
    once.attach(smtp::attachment::from_reader("x", "application/octet-stream", [](char*, std::size_t) { return std::size_t{0}; }));
    BOOST_TEST(!once.reader().rewind());
}

BOOST_AUTO_TEST_CASE(boundaries_avoid_the_content)
{
    // The same seed gives the same boundaries: put them in the text and
    // check that the builder chose others.
    smtp::message probe = base(99);
    probe.text("a\n").html("<p>a</p>\n");
    const std::string p = probe.to_string();
    const std::regex re("boundary=\"([^\"]+)\"");
    std::smatch match;
    BOOST_TEST_REQUIRE(std::regex_search(p, match, re));
    const std::string taken = match[1];

    const std::string body = "--" + taken + "\nThis line is a boundary that is not one.\n--" + taken + "--\n";
    smtp::message m = base(99);
    m.text(body).html("<p>" + taken + "</p>\n");
    const std::string s = m.to_string();
    BOOST_TEST_REQUIRE(std::regex_search(s, match, re));
    BOOST_TEST(match[1] != taken);
    BOOST_TEST(s.find(match[1].str()) == s.find("boundary=\"") + 10); // nowhere else but in delimiters
    expect e;
    e.structure = "multipart/alternative(text/plain,text/html)";
    e.parts = {{"text/plain", {{"text", body}, {"cte", "7bit"}}}, {"text/html", {{"text", "<p>" + taken + "</p>\n"}}}};
    python_check("boundary_collision", m, e);
}

BOOST_AUTO_TEST_CASE(write_reader_and_to_string_agree)
{
    smtp::message m = base(5);
    m.subject("Same bytes").text("Text.\n").attach(smtp::attachment::from_memory("a.bin", "application/octet-stream", std::string(100'000, 'q')));
    std::string pieces;
    std::size_t count = 0;
    m.write([&](std::string_view piece) { pieces += piece, ++count; });
    BOOST_TEST(pieces == m.to_string());
    auto r = m.reader();
    std::string via_reader;
    char buf[100];
    while (const std::size_t n = r.read(buf, sizeof buf))
        via_reader.append(buf, n);
    BOOST_TEST(via_reader == pieces);
    // std::function sinks work as well as lambdas.
    std::string via_function;
    const std::function<void(std::string_view)> sink = [&](std::string_view s) { via_function += s; };
    m.write(sink);
    BOOST_TEST(via_function == pieces);
}

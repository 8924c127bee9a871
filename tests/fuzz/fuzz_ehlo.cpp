// libFuzzer target: EHLO replies (include/smtp/protocol/capabilities.hpp,
// extensions.hpp) from arbitrary bytes.
//
// Input: a 2-byte header, the keywords to look up, then the server's bytes.
//   [0] bit 0: reply_limits::accept_bare_lf; bit 1: also hand the bytes to
//       from_ehlo as one 250 reply_view the parser never saw (the record must
//       survive any bytes, not only the parser's)
//   [1] q, the number of keywords that follow (q % 16), each one byte of
//       length and its bytes
//   the rest: the server's bytes, parsed as replies; each reply goes to
//       capabilities::from_ehlo
//
// Properties: no crash, no undefined behaviour; a reply other than 250 is
// errc::ehlo_reply_malformed with an empty record; otherwise the record is
// what capabilities.hpp documents, held against a reference written from
// that text: every line whose first word is an ESMTP keyword ("AUTH=" as
// "AUTH") kept once, upper-cased, in order, with its parameters trimmed and
// merged; the typed slots (every known extension, SIZE's first well-formed
// value, AUTH's mechanism names) and size_limit(); has_extn() and
// extn_params() on every keyword listed, case-changed, and on the input's
// own keywords.
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/reply_parser.hpp>

#include "fuzz_common.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string upper(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        c = upper(c);
    return out;
}

bool iequal(std::string_view a, std::string_view b) { return upper(a) == upper(b); }

bool alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/// RFC 5321 4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool esmtp_keyword(std::string_view k)
{
    if (k.empty() || !alnum(k.front()))
        return false;
    for (char c : k)
        if (!alnum(c) && c != '-')
            return false;
    return true;
}

/// RFC 4422 3.1: 1*20 of upper-case letters, digits, '-' and '_'.
bool mechanism_name(std::string_view m)
{
    if (m.empty() || m.size() > 20)
        return false;
    for (char c : m)
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    return true;
}

/// SIZE's parameter: none (0, no fixed limit) or a decimal number that fits.
std::optional<std::uint64_t> size_value(std::string_view p)
{
    if (p.empty())
        return 0;
    std::uint64_t v = 0;
    for (char c : p) {
        if (c < '0' || c > '9')
            return std::nullopt;
        const std::uint64_t d = std::uint64_t(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

struct line_entry {
    std::string keyword; // upper-cased
    std::string_view params;
};

/// The documented reading of one line after the first: keyword, parameters.
std::optional<line_entry> read_line(std::string_view line)
{
    const std::size_t sp = line.find(' ');
    std::string_view keyword = line.substr(0, sp);
    std::string_view params = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    if (keyword.size() > 5 && iequal(keyword.substr(0, 5), "AUTH=")) { // "AUTH=PLAIN LOGIN"
        keyword = keyword.substr(0, 4);
        params = line.substr(5);
    }
    while (!params.empty() && params.front() == ' ')
        params.remove_prefix(1);
    while (!params.empty() && params.back() == ' ')
        params.remove_suffix(1);
    if (!esmtp_keyword(keyword))
        return std::nullopt;
    return line_entry{upper(keyword), params};
}

/// A keyword-only extension: has<E>() exactly when the keyword is listed.
template <class E>
void check_flag(const smtp::capabilities& caps, const std::string& ctx)
{
    FUZZ_CHECK(caps.has<E>() == caps.has_extn(E::keyword), ctx + " " + std::string(E::keyword));
    FUZZ_CHECK(caps.get<E>().has_value() == caps.has<E>(), ctx);
}

void check_record(const smtp::reply_view& r, const std::vector<std::string_view>& queries)
{
    const std::string ctx = fuzz::quoted(r.raw());
    smtp::error_code ec;
    const smtp::capabilities caps = smtp::capabilities::from_ehlo(r, ec);
    if (r.code() != 250) {
        FUZZ_CHECK(ec == smtp::errc::ehlo_reply_malformed, ctx);
        FUZZ_CHECK(caps.keywords().empty() && caps.server_name().empty(), ctx);
        FUZZ_CHECK(!caps.has<smtp::ext::size>() && !caps.has<smtp::ext::auth>() && !caps.size_limit(), ctx);
        return;
    }
    FUZZ_CHECK(!ec, ctx);

    // The reference record.
    std::vector<std::pair<std::string, std::string>> keywords;
    std::optional<std::uint64_t> size;
    bool auth = false;
    std::vector<std::string> mechanisms;
    std::string server_name;
    bool first = true;
    for (std::string_view line : r.lines()) {
        if (first) {
            first = false;
            server_name = std::string(line.substr(0, line.find(' ')));
            continue;
        }
        const auto e = read_line(line);
        if (!e)
            continue;
        bool seen = false;
        for (auto& [k, p] : keywords)
            if (k == e->keyword) {
                if (!e->params.empty()) {
                    if (!p.empty())
                        p.push_back(' ');
                    p.append(e->params);
                }
                seen = true;
            }
        if (!seen)
            keywords.emplace_back(e->keyword, std::string(e->params));
        if (e->keyword == "SIZE" && !size)
            size = size_value(e->params); // the first well-formed one
        if (e->keyword == "AUTH") {
            auth = true;
            std::string_view rest = e->params;
            while (!rest.empty()) {
                const std::size_t sp = rest.find(' ');
                const std::string word = upper(rest.substr(0, sp));
                bool dup = false;
                for (const auto& m : mechanisms)
                    dup = dup || m == word;
                if (mechanism_name(word) && !dup)
                    mechanisms.push_back(word);
                if (sp == std::string_view::npos)
                    break;
                rest.remove_prefix(sp + 1);
            }
        }
    }

    FUZZ_CHECK(caps.server_name() == server_name, ctx);
    const auto& got = caps.keywords();
    FUZZ_CHECK(got.size() == keywords.size(), ctx + ": " + std::to_string(got.size()) + " keywords, expected " +
                                                  std::to_string(keywords.size()));
    for (std::size_t i = 0; i < got.size(); ++i) {
        FUZZ_CHECK(got[i].keyword == keywords[i].first && got[i].params == keywords[i].second,
                   ctx + ": keyword " + std::to_string(i) + " " + fuzz::quoted(got[i].keyword) + " " +
                       fuzz::quoted(got[i].params) + ", expected " + fuzz::quoted(keywords[i].first) + " " +
                       fuzz::quoted(keywords[i].second));
        // Found by any spelling, with its parameters.
        std::string low = got[i].keyword;
        for (char& c : low)
            c = lower(c);
        FUZZ_CHECK(caps.has_extn(got[i].keyword) && caps.has_extn(low), ctx);
        const auto params = caps.extn_params(low);
        FUZZ_CHECK(params && *params == got[i].params, ctx);
    }

    // The typed slots.
    check_flag<smtp::ext::pipelining>(caps, ctx);
    check_flag<smtp::ext::starttls>(caps, ctx);
    check_flag<smtp::ext::eightbitmime>(caps, ctx);
    check_flag<smtp::ext::smtputf8>(caps, ctx);
    check_flag<smtp::ext::chunking>(caps, ctx);
    check_flag<smtp::ext::binarymime>(caps, ctx);
    check_flag<smtp::ext::dsn>(caps, ctx);
    check_flag<smtp::ext::enhancedstatuscodes>(caps, ctx);
    check_flag<smtp::ext::requiretls>(caps, ctx);
    check_flag<smtp::ext::help>(caps, ctx);
    const bool size_ok = size.has_value();
    FUZZ_CHECK(caps.has<smtp::ext::size>() == size_ok, ctx);
    if (size_ok)
        FUZZ_CHECK(*caps.get<smtp::ext::size>() == *size, ctx);
    FUZZ_CHECK(caps.size_limit() == (size_ok && *size != 0 ? size : std::nullopt), ctx);
    FUZZ_CHECK(caps.has<smtp::ext::auth>() == auth, ctx);
    FUZZ_CHECK(auth == caps.has_extn("auth"), ctx);
    if (auth) {
        const auto& m = *caps.get<smtp::ext::auth>();
        FUZZ_CHECK(m.names() == mechanisms, ctx);
        FUZZ_CHECK(m.size() == mechanisms.size() && m.empty() == mechanisms.empty(), ctx);
        for (const auto& name : mechanisms) {
            std::string low = name;
            for (char& c : low)
                c = lower(c);
            FUZZ_CHECK(m.contains(name) && m.contains(low), ctx);
        }
    }

    // The input's own keywords, as they are.
    for (std::string_view q : queries) {
        bool listed = false;
        std::string params;
        for (const auto& [k, p] : keywords)
            if (iequal(k, q)) {
                listed = true;
                params = p;
            }
        FUZZ_CHECK(caps.has_extn(q) == listed, ctx + " query " + fuzz::quoted(q));
        const auto p = caps.extn_params(q);
        FUZZ_CHECK(p.has_value() == listed && (!p || *p == params), ctx + " query " + fuzz::quoted(q));
        if (caps.has<smtp::ext::auth>())
            (void)caps.get<smtp::ext::auth>()->contains(q);
    }

    // The throwing form gives the same record.
    const smtp::capabilities again = smtp::capabilities::from_ehlo(r);
    FUZZ_CHECK(again.keywords() == caps.keywords(), ctx);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::reader in(data, size);
    const std::uint8_t flags = in.u8();
    std::vector<std::string_view> queries;
    const std::size_t q = in.u8() % 16;
    for (std::size_t i = 0; i < q; ++i)
        queries.push_back(in.counted());
    for (std::string_view k : {"SIZE", "AUTH", "PIPELINING", "8BITMIME", "STARTTLS", "", "X"})
        queries.push_back(k);
    const fuzz::exact_copy copy(in.rest());
    const std::string_view bytes = copy.view();

    smtp::reply_limits limits;
    limits.accept_bare_lf = (flags & 1) != 0;
    smtp::reply_parser parser(limits);
    std::string_view rest = bytes;
    for (;;) {
        smtp::reply_view r;
        smtp::error_code ec;
        const std::size_t n = parser.put(rest, r, ec);
        if (n == 0)
            break;
        check_record(r, queries);
        rest.remove_prefix(n);
    }
    if (flags & 2) {
        // Bytes no parser checked, as a 250 reply of one line.
        check_record(smtp::reply_view(smtp::reply_code(250), bytes, 1), queries);
    }
    return 0;
}

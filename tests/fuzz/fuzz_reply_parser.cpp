// libFuzzer target: smtp::reply_parser (include/smtp/protocol/reply_parser.hpp)
// on arbitrary bytes.
//
// Input: a 5-byte header, the piece lengths it asks for, then the server's
// bytes.
//   [0] bits 0-1: limits (0 default, 1 rfc5321_strict, 2 small, 3 mixed,
//       from bytes 1-3); bit 2: accept_bare_lf; bits 3-5: where the mixed
//       feeding starts its rotation of APIs; bits 6-7: how many replies a
//       stopping put_many() callback takes before it says stop (1-4)
//   [1-3] the custom limits (max_line, max_reply, max_lines)
//   [4] k, the number of piece lengths that follow (k % 32)
//   [5..5+k) piece lengths: the chunking the input chooses
//   the rest: the bytes the server sent
//
// Properties:
// - no crash, no read outside the caller's bytes (each piece is in an
//   allocation of exactly its size), no undefined behaviour;
// - every reply_view is well-formed: code 200..599, raw() exactly where the
//   reply starts in the caller's buffer, within the limits, line_count >= 1
//   and equal to its lines, each line carrying the code, lines() and
//   status() consistent with the bytes;
// - after an error the parser stays failed;
// - the same bytes in one piece, in the pieces the input chooses and a byte
//   at a time give the same replies and the same error at the same reply
//   (a line and a reply both too long: either limit error, as
//   tests/test_reply_parser.cpp allows);
// - the batch API (put_many, with and without a callback that stops, and
//   cursor) gives exactly what put() gives on the same pieces, also when the
//   APIs take turns on one parser (a byte at a time: only taking turns).
#include <smtp/protocol/reply_parser.hpp>

#include "fuzz_common.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

enum class api { put, put_many, put_many_stop, cursor, mixed };
constexpr unsigned api_count = 4; // the ones "mixed" takes turns with

const char* name(api a)
{
    switch (a) {
    case api::put: return "put";
    case api::put_many: return "put_many";
    case api::put_many_stop: return "put_many(stopping)";
    case api::cursor: return "cursor";
    case api::mixed: return "mixed";
    }
    return "?";
}

struct outcome {
    std::vector<std::array<std::size_t, 3>> replies; // length, code, line count
    smtp::error_code ec;                              // need_more: the input ended inside a reply
    std::size_t consumed = 0;                         // bytes of whole replies

    friend bool operator==(const outcome&, const outcome&) = default;
};

std::string describe(const outcome& o)
{
    return std::to_string(o.replies.size()) + " replies, " + std::to_string(o.consumed) + " bytes, ec " +
           (o.ec ? o.ec.message() : std::string("none"));
}

bool is_limit(const smtp::error_code& e)
{
    return e == smtp::errc::reply_line_too_long || e == smtp::errc::reply_too_long;
}

std::string limits_text(const smtp::reply_limits& l)
{
    return "limits " + std::to_string(l.max_line) + "/" + std::to_string(l.max_reply) + "/" +
           std::to_string(l.max_lines) + (l.accept_bare_lf ? "/lf" : "");
}

/// RFC 3463's class.subject.detail at the start of a reply's text, read the
/// way reply.hpp documents it: the class the code's first digit (2, 4 or 5),
/// one to three digits each, then a space or the end.
std::optional<smtp::enhanced_status> reference_status(std::string_view t, unsigned klass)
{
    std::size_t i = 0;
    const auto number = [&](std::uint16_t& v) {
        std::size_t digits = 0;
        v = 0;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            v = static_cast<std::uint16_t>(v * 10 + (t[i] - '0'));
            ++i;
            if (++digits > 3)
                return false;
        }
        return digits > 0;
    };
    if (t.size() < 2 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || unsigned(t[0] - '0') != klass || t[1] != '.')
        return std::nullopt;
    i = 2;
    std::uint16_t subject = 0, detail = 0;
    if (!number(subject) || i >= t.size() || t[i] != '.')
        return std::nullopt;
    ++i;
    if (!number(detail) || (i != t.size() && t[i] != ' '))
        return std::nullopt;
    return smtp::enhanced_status{static_cast<std::uint8_t>(klass), subject, detail};
}

/// A reply the parser returned, checked against the bytes it views.
void check_reply(const smtp::reply_view& r, std::string_view buffer, std::size_t at, const smtp::reply_limits& limits)
{
    const std::string_view raw = r.raw();
    const auto ctx = [&] { return fuzz::quoted(raw) + " " + limits_text(limits); };
    FUZZ_CHECK(raw.data() == buffer.data() + at, ctx());
    FUZZ_CHECK(!raw.empty() && raw.size() <= buffer.size() - at, ctx());
    const unsigned code = r.code().value();
    FUZZ_CHECK(code >= 200 && code <= 599, ctx());
    FUZZ_CHECK(raw.size() <= limits.max_reply, ctx());
    FUZZ_CHECK(r.line_count() >= 1, ctx());
    FUZZ_CHECK(r.line_count() <= std::max<std::size_t>(1, limits.max_lines), ctx());
    FUZZ_CHECK(r.is_multiline() == (r.line_count() > 1), ctx());
    FUZZ_CHECK(raw.back() == '\n', ctx());

    // The lines, split by hand.
    const char digits[3] = {char('0' + code / 100), char('0' + code / 10 % 10), char('0' + code % 10)};
    std::vector<std::string_view> texts;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        const std::size_t lf = raw.find('\n', pos);
        FUZZ_CHECK(lf != std::string_view::npos, ctx());
        const std::size_t next = lf + 1;
        FUZZ_CHECK(next - pos <= limits.max_line, ctx());
        std::size_t end = lf;
        if (end > pos && raw[end - 1] == '\r')
            --end;
        else
            FUZZ_CHECK(limits.accept_bare_lf, ctx());
        const std::string_view line = raw.substr(pos, end - pos);
        FUZZ_CHECK(line.size() >= 3 && line.substr(0, 3) == std::string_view(digits, 3), ctx());
        const bool last = next == raw.size();
        if (last)
            FUZZ_CHECK(line.size() == 3 || line[3] == ' ', ctx());
        else
            FUZZ_CHECK(line.size() > 3 && line[3] == '-', ctx());
        for (char ch : line.substr(3)) {
            const auto c = static_cast<unsigned char>(ch);
            FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7F), ctx());
        }
        texts.push_back(line.size() > 4 ? line.substr(4) : std::string_view{});
        pos = next;
    }
    FUZZ_CHECK(texts.size() == r.line_count(), ctx());

    // lines(), front(), message(), status() and the owning copy agree.
    std::size_t i = 0;
    std::string joined;
    for (std::string_view t : r.lines()) {
        FUZZ_CHECK(i < texts.size() && t == texts[i], ctx());
        joined.append(t);
        joined.push_back('\n');
        ++i;
    }
    FUZZ_CHECK(i == texts.size(), ctx());
    joined.pop_back();
    FUZZ_CHECK(r.front() == texts.front(), ctx());
    FUZZ_CHECK(r.message() == joined, ctx());
    const auto status = r.status();
    const auto expected = reference_status(r.front(), code / 100);
    FUZZ_CHECK(status.has_value() == expected.has_value(), ctx());
    if (status)
        FUZZ_CHECK(*status == *expected, ctx());
    const smtp::reply owned(r);
    FUZZ_CHECK(owned.raw() == raw && owned.code() == r.code() && owned.line_count() == r.line_count(), ctx());
    FUZZ_CHECK(owned.status() == status, ctx());
}

/// Feeds `input` in pieces ending at `cuts` (ascending, the last input.size())
/// the way a client reading a socket does: what it has not consumed, grown by
/// the piece, in a fresh allocation of exactly that size; every whole reply
/// taken with `how`, then consumed.
outcome feed(std::string_view input, const std::vector<std::size_t>& cuts, const smtp::reply_limits& limits, api how,
             unsigned rotation, std::size_t stop_after, bool full_check)
{
    outcome out;
    smtp::reply_parser p(limits);
    std::size_t start = 0; // where the bytes not consumed start in `input`
    smtp::error_code ec = smtp::errc::need_more;
    unsigned piece = 0;
    for (const std::size_t cut : cuts) {
        const fuzz::exact_copy copy(input.substr(start, cut - start));
        const std::string_view buffer = copy.view();
        const api use = how == api::mixed ? static_cast<api>((rotation + piece) % api_count) : how;
        ++piece;
        std::size_t used = 0;
        const auto take = [&](const smtp::reply_view& r) {
            // Every reply in place; its bytes in full on the reference feed
            // (the others must give the same replies: compared below).
            if (full_check) {
                check_reply(r, buffer, used, limits);
            } else {
                FUZZ_CHECK(r.raw().data() == buffer.data() + used && !r.raw().empty() &&
                               r.raw().size() <= buffer.size() - used && r.code().value() >= 200 &&
                               r.code().value() <= 599 && r.line_count() >= 1,
                           std::string(name(use)) + " " + fuzz::quoted(r.raw()));
            }
            used += r.raw().size();
            out.replies.push_back({r.raw().size(), r.code().value(), r.line_count()});
        };
        const auto ctx = [&] { return std::string(name(use)) + " " + limits_text(limits); };
        switch (use) {
        case api::put:
        case api::mixed:
            for (;;) {
                smtp::reply_view r;
                const std::size_t n = p.put(buffer.substr(used), r, ec);
                if (n == 0) {
                    FUZZ_CHECK(ec, ctx());
                    break;
                }
                FUZZ_CHECK(!ec && n == r.raw().size(), ctx());
                take(r);
            }
            break;
        case api::put_many: {
            const std::size_t n = p.put_many(buffer, take, ec);
            // No error only when every byte was a whole reply.
            FUZZ_CHECK(n == used && (ec || n == buffer.size()), ctx());
            if (!ec)
                ec = smtp::errc::need_more; // the next piece goes on, as after put()
            break;
        }
        case api::put_many_stop:
            // A callback that says stop after stop_after replies: the batch
            // ends there with no error; the next one goes on from there.
            for (;;) {
                std::size_t taken = 0;
                const std::size_t before = used;
                const std::size_t n = p.put_many(
                    buffer.substr(used),
                    [&](const smtp::reply_view& r) {
                        take(r);
                        return ++taken < stop_after;
                    },
                    ec);
                FUZZ_CHECK(n == used - before, ctx());
                if (ec) {
                    FUZZ_CHECK(taken < stop_after, ctx());
                    break;
                }
                if (taken < stop_after) { // not stopped: every byte was a whole reply
                    FUZZ_CHECK(used == buffer.size(), ctx());
                    ec = smtp::errc::need_more;
                    break;
                }
                FUZZ_CHECK(taken == stop_after, ctx());
            }
            break;
        case api::cursor: {
            smtp::reply_parser::cursor c(p, buffer);
            smtp::reply_view r;
            while (c.next(r, ec)) {
                FUZZ_CHECK(!ec, ctx());
                take(r);
            }
            FUZZ_CHECK(ec && c.consumed() == used, ctx());
            // Asked again, it says the same.
            smtp::error_code again;
            FUZZ_CHECK(!c.next(r, again) && again == ec && c.consumed() == used, ctx());
            break;
        }
        }
        start += used;
        if (ec != smtp::errc::need_more) {
            // A failed parser stays failed.
            smtp::reply_view r;
            smtp::error_code again;
            FUZZ_CHECK(p.put(buffer.substr(used), r, again) == 0 && again == ec, ctx());
            FUZZ_CHECK(p.put(std::string_view("250 ok\r\n"), r, again) == 0 && again == ec, ctx());
            break;
        }
    }
    out.ec = ec;
    out.consumed = start;
    if (ec == smtp::errc::need_more && start == input.size())
        out.ec = {};
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::reader in(data, size);
    const std::uint8_t flags = in.u8();
    const std::uint8_t l1 = in.u8(), l2 = in.u8(), l3 = in.u8();
    smtp::reply_limits limits;
    switch (flags & 3) {
    case 0: break;
    case 1: limits = smtp::reply_limits::rfc5321_strict(); break;
    case 2: // around the 64-byte block, lines and replies that end near it
        limits.max_line = l1 % 160;
        limits.max_reply = std::size_t(l2) * 2;
        limits.max_lines = l3 % 12;
        break;
    case 3:
        limits.max_line = 1 + std::size_t(l1) * 4;
        limits.max_reply = std::size_t(l2) * 16;
        limits.max_lines = l3;
        break;
    }
    limits.accept_bare_lf = (flags & 4) != 0;
    const unsigned rotation = (flags >> 3) & 7;
    const std::size_t stop_after = 1 + ((flags >> 6) & 3);

    const std::size_t k = in.u8() % 32;
    const std::string_view lengths = in.bytes(k);
    const std::string_view input = in.rest();
    const std::size_t n = input.size();

    // The chunkings: whole; the pieces the input chooses (empty ones too);
    // a byte at a time (longer inputs: a few hundred pieces).
    std::vector<std::vector<std::size_t>> chunkings;
    chunkings.push_back({n});
    {
        std::vector<std::size_t> cuts;
        std::size_t at = 0;
        for (char c : lengths) {
            at = std::min(n, at + static_cast<unsigned char>(c));
            cuts.push_back(at);
        }
        cuts.push_back(n);
        chunkings.push_back(std::move(cuts));
    }
    {
        const std::size_t step = n <= 512 ? 1 : n / 512 + 1;
        std::vector<std::size_t> cuts;
        for (std::size_t at = step; at < n; at += step)
            cuts.push_back(at);
        cuts.push_back(n);
        chunkings.push_back(std::move(cuts));
    }

    outcome whole;
    for (std::size_t c = 0; c < chunkings.size(); ++c) {
        const auto& cuts = chunkings[c];
        const outcome reference = feed(input, cuts, limits, api::put, rotation, stop_after, c == 0);
        const auto ctx = [&](const outcome& got, api how) {
            return std::string(name(how)) + " on chunking " + std::to_string(c) + " (" +
                   std::to_string(cuts.size()) + " pieces) " + limits_text(limits) + ": " + describe(got) +
                   " vs put(): " + describe(reference) + " on " + fuzz::quoted(input);
        };
        for (api how : {api::put_many, api::put_many_stop, api::cursor, api::mixed}) {
            // A byte at a time, "mixed" alone: it takes every API in turn,
            // and one feed per API there would cost most of the run.
            if (c == 2 && how != api::mixed)
                continue;
            const outcome got = feed(input, cuts, limits, how, rotation, stop_after, false);
            FUZZ_CHECK(got == reference, ctx(got, how));
        }
        if (c == 0) {
            whole = reference;
            continue;
        }
        // The pieces do not change the replies, nor which reply is wrong.
        const std::string diff = "chunking " + std::to_string(c) + " " + limits_text(limits) + ": " +
                                 describe(reference) + " vs whole: " + describe(whole) + " on " + fuzz::quoted(input);
        FUZZ_CHECK(reference.replies == whole.replies, diff);
        FUZZ_CHECK(reference.consumed == whole.consumed, diff);
        FUZZ_CHECK(reference.ec == whole.ec || (is_limit(reference.ec) && is_limit(whole.ec)), diff);
    }
    return 0;
}

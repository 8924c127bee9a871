// libFuzzer target: the transaction engine (include/smtp/protocol/transaction.hpp)
// driven with the reply codes the input chooses.
//
// Input:
//   [0] what the server offers: bit 0 PIPELINING, 1 CHUNKING, 2 BINARYMIME,
//       3 8BITMIME, 4 SMTPUTF8, 5 DSN, 6 REQUIRETLS, 7 SIZE
//   [1] bit 0: SIZE has a limit (bytes [4-5]); 1: LMTP; 2: the session is
//       encrypted; 3: settings.pipelining off; 4: settings.chunking off;
//       5: body_type::binary; 6: REQUIRETLS asked for; 7: bare line ends rejected
//   [2] bits 0-2: the number of recipients (0-7); 3-4: RET; 5: ENVID;
//       6-7: which sender
//   [3] chunk_size and write_size (0: the defaults; else that many octets)
//   [4-5] the SIZE limit; [6] max_line (0: the default 998)
//   [7] bits 0-1: the message in memory (0), or a message_source that can
//       rewind (1), cannot (2), or fails to (3); bits 2-7: the most octets a
//       read of the source returns (1 + 4n)
//   [8-9] the message's length (% 2048), then the message
//   one byte per recipient: bits 0-2 which address, 3-6 NOTIFY bits, 7 ORCPT
//   the rest, a reply at a time: 0xFF the connection fails; 0xF0-0xFE a code
//       from the next two bytes (200-599); else a code from a table. When the
//       input runs out the connection fails.
//
// Properties: no crash, no undefined behaviour; next() reaches done within a
// bound (writes and replies in proportion to the recipients and the data
// pieces) whatever the replies, and stays there; every write appends bytes
// (but a data piece that encodes to nothing, and the one that finds a
// streamed message unsendable: aborted(), not_sent, an error, and no end of
// data ever written); while a reply is awaited awaited() says what for;
// data_written() never passes size() (when known: a stream not read
// beforehand has size() 0) and progress reports never go back; at the end
// result().queued() exactly when error() is clear, and a queued message had
// its MAIL and at least one recipient accepted; replies and failures after
// the end change nothing. A rewindable source whose reads fill whole pieces
// gives the same bytes on the wire and the same result as the message in
// memory, reply for reply.
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/protocol/transaction.hpp>

#include "fuzz_common.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr unsigned codes[] = {250, 251, 252, 354, 421, 450, 451, 452, 500, 501, 503, 550,
                              551, 552, 553, 554, 220, 221, 235, 334, 530, 535, 555, 200};

constexpr const char* addresses[] = {"b@example.org", "c@example.org",   "d\xc3\xa9@example.org", "postmaster",
                                     "bad address",   "<x@example.org>", "",                      "e@[127.0.0.1]"};
constexpr const char* senders[] = {"a@example.org", "\xc3\xa9@example.org", "", "no-at-sign"};

std::string describe(const smtp::transaction& t)
{
    std::ostringstream os;
    os << "outcome " << t.result().outcome << ", error " << (t.error() ? t.error().message() : "none");
    return os.str();
}

/// A message read through a message_source, a few octets at a time.
struct source_state {
    std::string_view message;
    std::size_t at = 0, most = 1;
    bool rewind_fails = false;
};

smtp::message_source make_source(source_state& st, bool rewindable)
{
    smtp::message_source src;
    src.read = [&st](char* buf, std::size_t n) {
        const std::size_t k = std::min({n, st.most, st.message.size() - st.at});
        std::memcpy(buf, st.message.data() + st.at, k);
        st.at += k;
        return k;
    };
    if (rewindable)
        src.rewind = [&st] {
            st.at = 0;
            return !st.rewind_fails;
        };
    return src;
}

/// Whether the client's bytes end the message data: with DATA, the dot-stuffed
/// data after "DATA" holds an end of data; with BDAT, a chunk is LAST.
bool wrote_end_of_data(std::string_view wire, bool bdat)
{
    if (!bdat) {
        const std::size_t data = wire.find("DATA\r\n");
        if (data == std::string_view::npos)
            return false;
        const std::string_view d = wire.substr(data + 6);
        return d.substr(0, 3) == ".\r\n" || d.find("\r\n.\r\n") != std::string_view::npos;
    }
    // Command lines, and "BDAT n[ LAST]" each followed by n octets.
    std::size_t at = 0;
    while (at < wire.size()) {
        const std::size_t eol = wire.find("\r\n", at);
        FUZZ_CHECK(eol != std::string_view::npos, "a command without its CRLF: " + fuzz::quoted(wire));
        const std::string_view line = wire.substr(at, eol - at);
        at = eol + 2;
        if (line.substr(0, 5) != "BDAT ")
            continue;
        std::size_t n = 0, i = 5;
        while (i < line.size() && line[i] >= '0' && line[i] <= '9')
            n = n * 10 + std::size_t(line[i++] - '0');
        if (line.substr(i) == " LAST")
            return true;
        FUZZ_CHECK(i == line.size() && at + n <= wire.size(), "a malformed BDAT chunk: " + fuzz::quoted(wire));
        at += n;
    }
    return false;
}

/// What one transaction did: every byte written, and its verdict.
struct run {
    std::string wire;
    smtp::transaction_outcome outcome{};
    smtp::error_code error;
    std::vector<unsigned> rcpt_codes;
    bool aborted = false;
};

/// Runs t with the replies `script` chooses until it is done.
run drive(smtp::transaction& t, std::string_view script, std::size_t bound, bool size_known,
          std::vector<std::uint64_t>& progress, const std::string& ctx)
{
    fuzz::reader rd(reinterpret_cast<const std::uint8_t*>(script.data()), script.size());
    run out;
    progress.clear();
    std::size_t steps = 0;
    for (;;) {
        FUZZ_CHECK(++steps <= bound, ctx + ": no end after " + std::to_string(bound) + " steps; " + describe(t));
        FUZZ_CHECK(!size_known || t.data_written() <= t.size(), ctx);
        const auto w = t.next();
        if (w == smtp::transaction::want::done)
            break;
        if (w == smtp::transaction::want::write) {
            const std::size_t before = out.wire.size();
            t.write(out.wire);
            // Nothing appended: only a data piece that encodes to nothing (the
            // LF of a CRLF cut between two pieces), or the abort of a stream.
            FUZZ_CHECK(out.wire.size() > before || t.wrote_data() || t.aborted(), ctx + ": an empty write");
            t.report_progress();
            continue;
        }
        FUZZ_CHECK(t.awaited() != smtp::transaction::awaiting::nothing, ctx + ": a read for nothing");
        if (rd.empty()) {
            t.on_failure(smtp::errc::connection_closed);
            continue;
        }
        const std::uint8_t b = rd.u8();
        if (b == 0xFF) {
            t.on_failure(smtp::errc::timeout);
            continue;
        }
        const unsigned code = b >= 0xF0 ? 200 + rd.u16() % 400 : codes[b % std::size(codes)];
        const std::string text = std::to_string(code) + " " + std::to_string(code / 100) + ".0.0 reply\r\n";
        smtp::reply_parser p;
        smtp::reply_view r;
        smtp::error_code ec;
        p.put(text, r, ec);
        FUZZ_CHECK(!ec, text);
        t.on_reply(r);
    }
    out.outcome = t.result().outcome;
    out.error = t.error();
    out.aborted = t.aborted();
    for (const auto& x : t.result().recipients)
        out.rcpt_codes.push_back(x.rcpt_reply.code().value());

    // The verdict.
    const auto& res = t.result();
    const std::string verdict = ctx + ": " + describe(t);
    FUZZ_CHECK(res.queued() == !t.error(), verdict);
    FUZZ_CHECK(res.error == t.error(), verdict);
    if (res.queued()) {
        FUZZ_CHECK(res.mail_reply.code().is_positive(), verdict);
        FUZZ_CHECK(res.accepted_count() > 0, verdict);
    }
    FUZZ_CHECK(t.awaited() == smtp::transaction::awaiting::nothing, verdict);
    if (t.aborted()) {
        // Unsendable midway: never queued, and its end of data never written.
        FUZZ_CHECK(res.outcome == smtp::transaction_outcome::not_sent && t.error(), verdict);
        FUZZ_CHECK(!wrote_end_of_data(out.wire, t.uses_bdat()), verdict + ": an end of data written " + fuzz::quoted(out.wire));
    }

    // Nothing changes it any more.
    t.on_failure(smtp::errc::connection_closed);
    smtp::reply_parser p;
    smtp::reply_view r;
    smtp::error_code ec;
    p.put("250 late\r\n", r, ec);
    t.on_reply(r);
    FUZZ_CHECK(t.next() == smtp::transaction::want::done, verdict);
    FUZZ_CHECK(t.result().outcome == out.outcome && t.error() == out.error, verdict + ", then " + describe(t));
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::reader rd(data, size);
    const std::uint8_t o = rd.u8(), f = rd.u8(), m = rd.u8(), piece = rd.u8();
    const std::uint16_t size_limit = rd.u16();
    const std::uint8_t max_line = rd.u8();
    const std::uint8_t src = rd.u8();

    // What the server offers, as the EHLO reply that says it.
    std::string ehlo = "250-mx.example.org\r\n";
    const char* const keywords[] = {"PIPELINING", "CHUNKING", "BINARYMIME", "8BITMIME",
                                    "SMTPUTF8",   "DSN",      "REQUIRETLS"};
    for (int bit = 0; bit < 7; ++bit)
        if (o & (1u << bit))
            ehlo.append("250-").append(keywords[bit]).append("\r\n");
    if (o & 128)
        ehlo.append("250-SIZE").append((f & 1) ? " " + std::to_string(size_limit) : std::string()).append("\r\n");
    ehlo.append("250 HELP\r\n");
    smtp::capabilities offers;
    {
        smtp::reply_parser p;
        smtp::reply_view v;
        smtp::error_code ec;
        p.put(ehlo, v, ec);
        offers = smtp::capabilities::from_ehlo(v, ec);
        FUZZ_CHECK(!ec, "the EHLO reply of the offers");
    }
    smtp::session_facts facts;
    facts.lmtp = f & 2;
    facts.encrypted = f & 4;
    smtp::transaction_settings settings;
    settings.pipelining = !(f & 8);
    settings.chunking = !(f & 16);
    if (piece != 0)
        settings.chunk_size = settings.write_size = piece;
    if (max_line != 0)
        settings.data.max_line = max_line;
    if (f & 128)
        settings.data.bare_line_endings = smtp::line_endings::reject;

    std::vector<std::uint64_t> progress;
    smtp::send_options options;
    options.body = (f & 32) ? smtp::body_type::binary : smtp::body_type::detect;
    options.requiretls = f & 64;
    options.ret = static_cast<smtp::dsn::ret>(((m >> 3) & 3) % 3);
    if (m & 32)
        options.envid = "envid+1=x";
    options.progress = [&progress](std::uint64_t sent, std::uint64_t total) {
        FUZZ_CHECK(total == 0 || sent <= total, "progress past the total");
        FUZZ_CHECK(progress.empty() || sent >= progress.back(), "progress went back");
        progress.push_back(sent);
    };
    const std::string from = senders[m >> 6];

    const std::string message(rd.bytes(rd.u16() % 2048));
    std::vector<smtp::recipient> to;
    for (std::size_t i = 0; i < (m & 7u); ++i) {
        const std::uint8_t r = rd.u8();
        smtp::recipient x{addresses[r & 7]};
        x.notify = static_cast<smtp::dsn::notify>((r >> 3) & 15);
        if (r & 128)
            x.original_recipient = (r & 1) ? "orig@example.org" : "\xc3\xa9@example.org";
        to.push_back(std::move(x));
    }
    const std::string_view script = rd.rest();

    // Every write is a command group, a data piece, RSET or a lone dot; every
    // read answers one of them (LMTP: one per recipient after the data).
    const std::size_t unit = std::min(settings.chunk_size, settings.write_size);
    const std::size_t reads_per_piece = src & 3 ? unit / (1 + 4u * (src >> 2)) + 1 : 1;
    const std::size_t pieces = (message.size() / std::max<std::size_t>(1, unit) + 1) * reads_per_piece;
    const std::size_t bound = 4 * (pieces + to.size()) + 40;
    const std::string ctx = "message " + fuzz::quoted(message, 80) + ", " + std::to_string(to.size()) +
                            " recipients, source mode " + std::to_string(src & 3);

    smtp::transaction in_memory(from, to, message, options, offers, facts, settings);
    const run reference = drive(in_memory, script, bound, true, progress, ctx);
    if ((src & 3) == 0)
        return 0;

    source_state st;
    st.message = message;
    st.most = 1 + 4u * (src >> 2);
    st.rewind_fails = (src & 3) == 3;
    smtp::message_source source = make_source(st, (src & 3) != 2);
    smtp::transaction streamed(from, to, source, options, offers, facts, settings);
    if ((src & 3) == 3) {
        FUZZ_CHECK(streamed.error() && streamed.next() == smtp::transaction::want::done, ctx + ": rewind failed");
        return 0;
    }
    const bool unchecked = (src & 3) == 2;
    const run got = drive(streamed, script, bound, !unchecked, progress, ctx + " streamed");
    // Read whole pieces and checked first, a source is the message in memory.
    const std::size_t piece_size = streamed.uses_bdat() ? settings.chunk_size : settings.write_size;
    if (!unchecked && st.most >= piece_size) {
        const std::string c = ctx + ": streamed " + describe(streamed) + ", in memory " + describe(in_memory);
        FUZZ_CHECK(got.wire == reference.wire, c + "; wire " + fuzz::quoted(got.wire) + " vs " + fuzz::quoted(reference.wire));
        FUZZ_CHECK(got.outcome == reference.outcome && got.error == reference.error, c);
        FUZZ_CHECK(got.rcpt_codes == reference.rcpt_codes, c);
    }
    return 0;
}

// libFuzzer target: the DATA encoder (include/smtp/protocol/data_encoder.hpp),
// and, on the same messages, line_end_normalizer and scan_message
// (include/smtp/protocol/transaction.hpp).
//
// Input: a 5-byte header, the piece lengths it asks for, then the message.
//   [0] bits 0-1: output room for the span API (min_output_size plus 0, 1,
//       byte [3], or byte [3] * 8)
//   [1-2] max_line for the limited runs (little-endian, % 1200; 0 is "no limit")
//   [3] see [0]
//   [4] k, the number of piece lengths that follow (k % 32); pieces may be
//       empty, and a CR may end one with its LF starting the next
//   the rest: the message
//
// Properties (the issue's, exactly): whatever the message and however it is
// cut, the encoded data holds one end of data, at its end ("\r\n.\r\n"; ".\r\n"
// alone for an empty message, as encode_message("") documents), every CR and
// LF in it is part of a CRLF, and un-stuffing it (one leading '.' off each
// line, the end of data off) gives the message normalised (a bare CR or bare
// LF made CRLF, a final CRLF added when the last line is open). In reject
// mode: an error exactly when the message has a bare CR or LF, and which of
// the two comes first. With max_line: data_line_too_long exactly when a line
// is longer (both limits at once: an error that applies, and the first).
// The span API, with exact-size output buffers (AddressSanitizer sees a
// store past them), gives the same bytes and never writes more than it says.
// Every loop of the encoder the CPU runs (the sixteen-byte loop alone, the
// block loop on SSE2 and on AVX2) gives the same bytes and errors.
// line_end_normalizer gives the normalised message over the same pieces;
// scan_message's size is its length, its longest line, bare CR and LF
// offsets and 8-bit facts those of the message; message_scanner over the
// same pieces gives the same facts (and never more along the way).
#include <smtp/protocol/data_encoder.hpp>
#include <smtp/protocol/transaction.hpp>

#include "fuzz_common.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

/// What a message is, computed the obvious way.
struct facts {
    std::string normalised;      // bare CR, bare LF and CRLF each one CRLF; a final CRLF if the last line is open
    std::size_t longest = 0;     // longest line, without its line end
    std::size_t first_bare = std::string::npos; // offset of the first bare CR or LF
    bool first_bare_is_cr = false;
    std::size_t first_bare_cr = std::string::npos, first_bare_lf = std::string::npos;
    std::size_t first_long_line_end = std::string::npos; // where the first line over max_line ends (offset)
    bool eight_bit = false, eight_bit_headers = false;
};

facts look_at(std::string_view in, std::size_t max_line)
{
    facts f;
    std::size_t line = 0; // current line's length
    bool headers = true;  // before the first empty line
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c != '\r' && c != '\n') {
            f.normalised += c;
            ++line;
            if (static_cast<unsigned char>(c) >= 0x80) {
                f.eight_bit = true;
                f.eight_bit_headers = f.eight_bit_headers || headers;
            }
            continue;
        }
        const bool crlf = c == '\r' && i + 1 < in.size() && in[i + 1] == '\n';
        if (!crlf) {
            if (f.first_bare == std::string::npos) {
                f.first_bare = i;
                f.first_bare_is_cr = c == '\r';
            }
            if (c == '\r' && f.first_bare_cr == std::string::npos)
                f.first_bare_cr = i;
            if (c == '\n' && f.first_bare_lf == std::string::npos)
                f.first_bare_lf = i;
        }
        if (max_line != 0 && line > max_line && f.first_long_line_end == std::string::npos)
            f.first_long_line_end = i;
        f.longest = std::max(f.longest, line);
        if (line == 0)
            headers = false;
        line = 0;
        f.normalised += "\r\n";
        if (crlf)
            ++i;
    }
    if (line > 0) {
        f.longest = std::max(f.longest, line);
        if (max_line != 0 && line > max_line && f.first_long_line_end == std::string::npos)
            f.first_long_line_end = in.size();
        f.normalised += "\r\n";
    }
    return f;
}

/// Undoes the encoder, checking the wire form as it goes: every CR and LF a
/// CRLF; the end of data once, at the end; one leading '.' off each line.
std::string unstuff(std::string_view out, const std::string& ctx)
{
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\r')
            FUZZ_CHECK(i + 1 < out.size() && out[i + 1] == '\n', ctx);
        if (out[i] == '\n')
            FUZZ_CHECK(i > 0 && out[i - 1] == '\r', ctx);
    }
    // One end of data, at the end: "\r\n.\r\n" nowhere else, and ".\r\n" at
    // the very start only when it is all there is.
    FUZZ_CHECK(out.size() >= 3 && out.substr(out.size() - 3) == ".\r\n", ctx);
    if (out.size() == 3) {
        FUZZ_CHECK(out == ".\r\n", ctx);
        return {};
    }
    FUZZ_CHECK(out.size() >= 5 && out.substr(out.size() - 5) == "\r\n.\r\n", ctx);
    FUZZ_CHECK(out.find("\r\n.\r\n") == out.size() - 5, ctx);
    FUZZ_CHECK(out.substr(0, 3) != ".\r\n", ctx);
    // The lines: each "\r\n"-terminated; a leading '.' is the stuffing one.
    std::string plain;
    std::size_t pos = 0;
    const std::size_t body_end = out.size() - 3;
    while (pos < body_end) {
        const std::size_t eol = out.find("\r\n", pos);
        FUZZ_CHECK(eol != std::string_view::npos && eol + 2 <= body_end, ctx);
        std::string_view line = out.substr(pos, eol - pos);
        if (!line.empty() && line.front() == '.') {
            FUZZ_CHECK(line.size() >= 2, ctx); // a lone "." line would be an end of data
            line.remove_prefix(1);
        }
        plain.append(line);
        plain.append("\r\n");
        pos = eol + 2;
    }
    return plain;
}

struct encoded {
    std::string out;
    smtp::error_code ec; // the first error (encode or finish)
};

/// The std::string API over the pieces, on the widest loop the CPU has or on `isa`.
encoded encode_pieces(std::string_view in, const std::vector<std::size_t>& cuts, const smtp::data_encoder_options& o,
                      smtp::detail::encoder_isa isa = smtp::detail::best_encoder_isa())
{
    encoded r;
    smtp::data_encoder e(o);
    smtp::detail::data_encoder_access::set_isa(e, isa);
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        const std::string before = r.out;
        const fuzz::exact_copy piece(in.substr(from, cut - from));
        e.encode(piece.view(), r.out, r.ec);
        from = cut;
        if (r.ec) {
            FUZZ_CHECK(r.out == before, "encode() changed its output on an error");
            // Failed: stays failed, finish() too.
            smtp::error_code again;
            e.encode("x", r.out, again);
            FUZZ_CHECK(again == r.ec && r.out == before, "the encoder did not stay failed");
            e.finish(r.out, again);
            FUZZ_CHECK(again == r.ec && r.out == before, "finish() after an error");
            return r;
        }
    }
    const std::size_t at = r.out.size();
    e.finish(r.out, r.ec);
    FUZZ_CHECK(r.out.size() - at <= smtp::data_encoder::max_trailer_size, "finish() wrote too much");
    if (r.ec)
        return r;
    // Finished: once only.
    smtp::error_code again;
    std::string more;
    e.finish(more, again);
    FUZZ_CHECK(again == smtp::errc::data_already_finished && more.empty(), "finish() twice");
    e.encode("x", more, again);
    FUZZ_CHECK(again == smtp::errc::data_already_finished && more.empty(), "encode() after finish()");
    return r;
}

/// The span API over the pieces, with an output buffer of exactly `room`
/// bytes (a fresh allocation each call).
encoded encode_spans(std::string_view in, const std::vector<std::size_t>& cuts, const smtp::data_encoder_options& o,
                     std::size_t room)
{
    encoded r;
    smtp::data_encoder e(o);
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        const fuzz::exact_copy piece(in.substr(from, cut - from));
        std::string_view rest = piece.view();
        from = cut;
        do {
            const std::unique_ptr<char[]> buf(new char[room]);
            const auto res = e.encode(rest, std::span<char>(buf.get(), room), r.ec);
            if (r.ec)
                return r;
            FUZZ_CHECK(res.produced <= room && res.consumed <= rest.size(), "span encode() out of bounds");
            FUZZ_CHECK(res.consumed > 0 || rest.empty(), "span encode() made no progress with min_output_size");
            r.out.append(buf.get(), res.produced);
            rest.remove_prefix(res.consumed);
        } while (!rest.empty());
    }
    const std::unique_ptr<char[]> tail(new char[smtp::data_encoder::max_trailer_size]);
    const std::size_t n =
        e.finish(std::span<char>(tail.get(), smtp::data_encoder::max_trailer_size), r.ec);
    r.out.append(tail.get(), n);
    return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::reader rd(data, size);
    const std::uint8_t flags = rd.u8();
    const std::size_t max_line = rd.u16() % 1200;
    const std::uint8_t room_byte = rd.u8();
    const std::size_t k = rd.u8() % 32;
    const std::string_view lengths = rd.bytes(k);
    const std::string_view in = rd.rest();

    std::vector<std::size_t> cuts;
    {
        std::size_t at = 0;
        for (char c : lengths) {
            at = std::min(in.size(), at + static_cast<unsigned char>(c));
            cuts.push_back(at);
        }
        cuts.push_back(in.size());
    }
    std::size_t room = smtp::data_encoder::min_output_size;
    switch (flags & 3) {
    case 0: break;
    case 1: room += 1; break;
    case 2: room += room_byte; break;
    case 3: room += std::size_t(room_byte) * 8; break;
    }

    const facts f = look_at(in, max_line);
    const std::string ctx = "message " + fuzz::quoted(in) + " in " + std::to_string(cuts.size()) + " pieces";

    // Normalise, no line limit: never an error; the output un-stuffs to the
    // normalised message.
    smtp::data_encoder_options normalize;
    normalize.max_line = 0;
    const encoded plain = encode_pieces(in, cuts, normalize);
    FUZZ_CHECK(!plain.ec, ctx + ": " + plain.ec.message());
    FUZZ_CHECK(unstuff(plain.out, ctx + " encoded " + fuzz::quoted(plain.out)) == f.normalised,
               ctx + " encoded " + fuzz::quoted(plain.out));
    FUZZ_CHECK(smtp::data_encoder::encode_message(in, normalize) == plain.out, ctx);
    {
        const encoded spans = encode_spans(in, cuts, normalize, room);
        FUZZ_CHECK(!spans.ec && spans.out == plain.out, ctx + " room " + std::to_string(room));
    }

    // Every loop the CPU runs (none, the block loop on SSE2, AVX2, AVX-512)
    // gives the same bytes, and in reject mode the same error.
    for (const auto isa : {smtp::detail::encoder_isa::none, smtp::detail::encoder_isa::sse2,
                           smtp::detail::encoder_isa::avx2, smtp::detail::encoder_isa::avx512}) {
        if (!smtp::detail::cpu_has(isa))
            continue;
        const std::string c = ctx + " on loop " + std::to_string(static_cast<int>(isa));
        const encoded other = encode_pieces(in, cuts, normalize, isa);
        FUZZ_CHECK(!other.ec && other.out == plain.out, c);
        smtp::data_encoder_options reject;
        reject.max_line = 0;
        reject.bare_line_endings = smtp::line_endings::reject;
        const encoded r = encode_pieces(in, cuts, reject, isa);
        const encoded widest = encode_pieces(in, cuts, reject);
        FUZZ_CHECK(r.ec == widest.ec && (r.ec || r.out == widest.out), c + " reject");
    }

    // Normalise with a line limit.
    if (max_line != 0) {
        smtp::data_encoder_options limited;
        limited.max_line = max_line;
        const encoded r = encode_pieces(in, cuts, limited);
        const std::string c = ctx + " max_line " + std::to_string(max_line);
        if (f.longest > max_line)
            FUZZ_CHECK(r.ec == smtp::errc::data_line_too_long, c + ": " + r.ec.message());
        else
            FUZZ_CHECK(!r.ec && r.out == plain.out, c + ": " + r.ec.message());
        const encoded spans = encode_spans(in, cuts, limited, room);
        FUZZ_CHECK(spans.ec == r.ec && (r.ec || spans.out == plain.out), c);
    }

    // Reject mode: an error exactly when there is a bare CR or LF, the first one's kind.
    const smtp::error_code bare =
        f.first_bare == std::string::npos
            ? smtp::error_code{}
            : smtp::error_code(f.first_bare_is_cr ? smtp::errc::data_bare_cr : smtp::errc::data_bare_lf);
    {
        smtp::data_encoder_options reject;
        reject.max_line = 0;
        reject.bare_line_endings = smtp::line_endings::reject;
        const encoded r = encode_pieces(in, cuts, reject);
        FUZZ_CHECK(r.ec == bare, ctx + " reject: " + r.ec.message());
        if (!r.ec)
            FUZZ_CHECK(r.out == plain.out, ctx);
        const encoded spans = encode_spans(in, cuts, reject, room);
        FUZZ_CHECK(spans.ec == r.ec && (r.ec || spans.out == plain.out), ctx + " reject, spans");
    }
    // Both: the error of the first problem; a too-long line that ends in the
    // first bare CR or LF may report either.
    if (max_line != 0) {
        smtp::data_encoder_options both;
        both.max_line = max_line;
        both.bare_line_endings = smtp::line_endings::reject;
        const encoded r = encode_pieces(in, cuts, both);
        const std::string c = ctx + " reject, max_line " + std::to_string(max_line) + ": " + r.ec.message();
        const bool too_long = f.first_long_line_end != std::string::npos;
        if (!too_long)
            FUZZ_CHECK(r.ec == bare, c);
        else if (f.first_bare == std::string::npos || f.first_long_line_end < f.first_bare)
            FUZZ_CHECK(r.ec == smtp::errc::data_line_too_long, c);
        else if (f.first_long_line_end == f.first_bare)
            FUZZ_CHECK(r.ec == smtp::errc::data_line_too_long || r.ec == bare, c);
        else
            FUZZ_CHECK(r.ec == bare, c);
        if (!r.ec)
            FUZZ_CHECK(r.out == plain.out, c);
    }

    // line_end_normalizer (BDAT's data) over the same pieces.
    {
        smtp::line_end_normalizer n;
        std::string out;
        std::size_t from = 0;
        for (std::size_t cut : cuts) {
            const fuzz::exact_copy piece(in.substr(from, cut - from));
            n.put(piece.view(), out);
            from = cut;
        }
        n.finish(out);
        FUZZ_CHECK(out == f.normalised, "line_end_normalizer: " + ctx + " gave " + fuzz::quoted(out) + ", expected " +
                                            fuzz::quoted(f.normalised));
    }

    // scan_message, and message_scanner over the same pieces.
    const auto check_facts = [&](const smtp::message_facts& m, const std::string& c) {
        FUZZ_CHECK(m.size == f.normalised.size(), c + " size " + std::to_string(m.size));
        FUZZ_CHECK(m.longest_line == f.longest, c + " longest " + std::to_string(m.longest_line));
        FUZZ_CHECK(m.first_bare_cr == (f.first_bare_cr == std::string::npos ? smtp::message_facts::npos
                                                                              : f.first_bare_cr),
                   c + " first bare CR " + std::to_string(m.first_bare_cr));
        FUZZ_CHECK(m.first_bare_lf == (f.first_bare_lf == std::string::npos ? smtp::message_facts::npos
                                                                              : f.first_bare_lf),
                   c + " first bare LF " + std::to_string(m.first_bare_lf));
        FUZZ_CHECK(m.eight_bit == f.eight_bit && m.eight_bit_headers == f.eight_bit_headers, c);
    };
    {
        const fuzz::exact_copy whole(in);
        check_facts(smtp::scan_message(whole.view()), "scan_message: " + ctx);
    }
    {
        smtp::message_scanner scanner;
        std::size_t from = 0;
        std::uint64_t size = 0;
        for (std::size_t cut : cuts) {
            const fuzz::exact_copy piece(in.substr(from, cut - from));
            scanner.put(piece.view());
            from = cut;
            // So far: whole lines only, never more than the whole, never less than before.
            const smtp::message_facts& now = scanner.so_far();
            FUZZ_CHECK(now.size >= size && now.size <= f.normalised.size(), "message_scanner so_far: " + ctx);
            FUZZ_CHECK(now.longest_line <= f.longest && scanner.open_line() <= f.longest, "message_scanner: " + ctx);
            size = now.size;
        }
        check_facts(scanner.finish(), "message_scanner: " + ctx);
    }
    return 0;
}

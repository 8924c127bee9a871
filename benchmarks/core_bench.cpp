// benchmarks/core_bench.cpp
//
// The core benchmarks (Google Benchmark), each against a reference on the same bytes:
//   parser/{ehlo,mix}            reply_parser::put over 1 MiB of replies, one call per reply
//   parser_batch/{ehlo,mix}      reply_parser::put_many over the same buffer, one call for all
//                                (how a pipelining client parses a burst of replies)
//   parser_cursor/{ehlo,mix}     reply_parser::cursor over the same buffer, next() per reply
//   memchr_lines/{ehlo,mix}      counting the lines of that buffer with memchr
//   encoder/{lf,crlf}            data_encoder::encode + finish over a 10 MiB body, on the
//                                loop the encoder picks for this CPU (counter "loop": 1 SSE2,
//                                2 AVX2, 3 AVX-512)
//   encoder_{sse2,avx2,avx512}/{lf,crlf} the same on each loop the CPU has, in the same run
//   memcpy/{lf,crlf}             copying that body (the ceiling)
//   poco_mail_stream/{lf,crlf}   Poco::Net::MailOutputStream over that body
//   transaction/plan_{plain,dsn}  planning one small message's MAIL and RCPTs (two
//                                recipients) against a server offering PIPELINING,
//                                SIZE, 8BITMIME, DSN: the per-message cost of the engine
//   transaction/run_{plain,dsn}   the same, then every write and reply to the end
//
// core_bench --dump-inputs DIR writes the inputs, the encoder's output for each
// body and meta.json (reply counts, sizes) for smtplib_bench.py, then exits.
#include <smtp/protocol/data_encoder.hpp>
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/protocol/transaction.hpp>

#include "alloc_counter.hpp"
#include "inputs.hpp"

#include <Poco/Net/MailStream.h>
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <ostream>
#include <span>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace {

// ---------------------------------------------------------------------------
// Inputs, built on first use.

const bench::reply_corpus& ehlo_corpus()
{
    static const bench::reply_corpus c = bench::ehlo_replies();
    return c;
}

const bench::reply_corpus& mix_corpus()
{
    static const bench::reply_corpus c = bench::mix_replies();
    return c;
}

const std::string& body_lf()
{
    static const std::string b = bench::message_body("\n");
    return b;
}

const std::string& body_crlf()
{
    static const std::string b = bench::message_body("\r\n");
    return b;
}

using corpus_fn = const bench::reply_corpus& (*)();
using body_fn = const std::string& (*)();

// ---------------------------------------------------------------------------
// Reply parser.

/// Parses all of `bytes` reply by reply; returns the replies found, or 0 on an error.
std::size_t parse_all(smtp::reply_parser& parser, std::string_view buf, std::size_t& lines)
{
    smtp::reply_view reply;
    smtp::error_code ec;
    std::size_t off = 0, replies = 0;
    lines = 0;
    while (off < buf.size()) {
        const std::size_t n = parser.put(buf.substr(off), reply, ec);
        if (ec)
            return 0;
        off += n;
        ++replies;
        lines += reply.line_count();
    }
    return replies;
}

void bm_parser(benchmark::State& state, corpus_fn corpus)
{
    const bench::reply_corpus& c = corpus();
    const std::string_view buf = c.bytes;
    smtp::reply_parser parser;

    // Warm-up, and a check that the parser finds what the generator wrote.
    std::size_t lines = 0;
    if (parse_all(parser, buf, lines) != c.replies || lines != c.lines) {
        state.SkipWithError("the parser does not find the generated replies");
        return;
    }

    smtp::reply_view reply;
    smtp::error_code ec;
    std::uint64_t allocations = 0;
    bool failed = false;
    for (auto _ : state) {
        const std::uint64_t before = bench::allocation_count();
        std::size_t off = 0;
        while (off < buf.size()) {
            const std::size_t n = parser.put(buf.substr(off), reply, ec);
            benchmark::DoNotOptimize(reply);
            if (n == 0) {
                failed = true;
                break;
            }
            off += n;
        }
        allocations += bench::allocation_count() - before;
        if (failed) {
            state.SkipWithError("parse error");
            break;
        }
    }
    const auto replies = static_cast<std::int64_t>(c.replies) * state.iterations();
    state.SetBytesProcessed(static_cast<std::int64_t>(buf.size()) * state.iterations());
    state.SetItemsProcessed(replies);
    state.counters["allocs_per_reply"] = replies ? double(allocations) / double(replies) : 0.0;
    state.counters["replies"] = double(c.replies);
}

/// How the batch benchmarks take the buffer's replies.
enum class batch_api { put_many, cursor };

/// Parses all of `buf` in one batch; returns the replies found, or 0 unless
/// the batch took the whole buffer and stopped at its end.
std::size_t parse_batch(smtp::reply_parser& parser, std::string_view buf, batch_api api, std::size_t& lines)
{
    smtp::error_code ec;
    std::size_t replies = 0, used = 0;
    lines = 0;
    if (api == batch_api::put_many) {
        used = parser.put_many(
            buf,
            [&](const smtp::reply_view& r) {
                ++replies;
                lines += r.line_count();
            },
            ec);
    } else {
        smtp::reply_parser::cursor c(parser, buf);
        smtp::reply_view r;
        while (c.next(r, ec)) {
            ++replies;
            lines += r.line_count();
        }
        used = c.consumed();
    }
    // At the end of whole replies put_many says nothing is missing; the
    // cursor, which has no reply to give, says need_more.
    const bool clean_end = api == batch_api::put_many ? !ec : ec == smtp::errc::need_more;
    return used == buf.size() && clean_end ? replies : 0;
}

/// The whole buffer in one batch per iteration: every reply goes to memory,
/// as in bm_parser.
void bm_parser_batch(benchmark::State& state, corpus_fn corpus, batch_api api)
{
    const bench::reply_corpus& c = corpus();
    const std::string_view buf = c.bytes;
    smtp::reply_parser parser;

    std::size_t lines = 0;
    if (parse_batch(parser, buf, api, lines) != c.replies || lines != c.lines) {
        state.SkipWithError("the batch API does not find the generated replies");
        return;
    }

    smtp::error_code ec;
    std::uint64_t allocations = 0;
    bool failed = false;
    for (auto _ : state) {
        const std::uint64_t before = bench::allocation_count();
        std::size_t used;
        if (api == batch_api::put_many) {
            used = parser.put_many(buf, [](const smtp::reply_view& r) { benchmark::DoNotOptimize(r); }, ec);
        } else {
            smtp::reply_parser::cursor cur(parser, buf);
            smtp::reply_view reply;
            while (cur.next(reply, ec))
                benchmark::DoNotOptimize(reply);
            used = cur.consumed();
        }
        allocations += bench::allocation_count() - before;
        if (used != buf.size()) {
            failed = true;
            break;
        }
    }
    if (failed) {
        state.SkipWithError("parse error");
        return;
    }
    const auto replies = static_cast<std::int64_t>(c.replies) * state.iterations();
    state.SetBytesProcessed(static_cast<std::int64_t>(buf.size()) * state.iterations());
    state.SetItemsProcessed(replies);
    state.counters["allocs_per_reply"] = replies ? double(allocations) / double(replies) : 0.0;
    state.counters["replies"] = double(c.replies);
}

/// The reference: find every line end with memchr.
void bm_memchr_lines(benchmark::State& state, corpus_fn corpus)
{
    const bench::reply_corpus& c = corpus();
    const char* const begin = c.bytes.data();
    const char* const end = begin + c.bytes.size();
    for (auto _ : state) {
        std::size_t lines = 0;
        const char* p = begin;
        while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))) != nullptr) {
            ++p;
            ++lines;
        }
        benchmark::DoNotOptimize(lines);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(c.bytes.size()) * state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(c.replies) * state.iterations());
}

// ---------------------------------------------------------------------------
// DATA encoder.

/// Encodes all of `in` into `out` (max_encoded_size + max_trailer_size bytes);
/// returns the output size, or 0 on an error.
std::size_t encode_all(smtp::data_encoder& encoder, std::string_view in, std::vector<char>& out)
{
    smtp::error_code ec;
    encoder.reset();
    const auto r = encoder.encode(in, std::span<char>(out.data(), smtp::data_encoder::max_encoded_size(in.size())), ec);
    if (ec || r.consumed != in.size())
        return 0;
    const std::size_t t = encoder.finish(std::span<char>(out).subspan(r.produced), ec);
    if (ec)
        return 0;
    return r.produced + t;
}

/// The encoder on one loop (detail::encoder_isa), or on the one it picks by itself.
using encoder_isa = smtp::detail::encoder_isa;

void bm_encoder(benchmark::State& state, body_fn body, encoder_isa isa)
{
    const std::string& in = body();
    std::vector<char> out(smtp::data_encoder::max_encoded_size(in.size()) + smtp::data_encoder::max_trailer_size);
    smtp::data_encoder encoder;
    smtp::detail::data_encoder_access::set_isa(encoder, isa);
    std::size_t produced = encode_all(encoder, in, out); // warm-up: touches every output page
    if (produced == 0) {
        state.SkipWithError("encode error");
        return;
    }
    for (auto _ : state) {
        produced = encode_all(encoder, in, out);
        benchmark::DoNotOptimize(produced);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(in.size()) * state.iterations());
    state.counters["out_bytes"] = double(produced);
    state.counters["loop"] = double(static_cast<int>(isa));
}

/// The ceiling: copying the same bytes.
void bm_memcpy(benchmark::State& state, body_fn body)
{
    const std::string& in = body();
    std::vector<char> out(in.size());
    std::memcpy(out.data(), in.data(), in.size());
    for (auto _ : state) {
        std::memcpy(out.data(), in.data(), in.size());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(in.size()) * state.iterations());
}

/// A buffered output that keeps nothing and counts what it was given (and,
/// optionally, keeps it, for the check in --dump-inputs).
class counting_buf : public std::streambuf {
public:
    explicit counting_buf(std::string* keep = nullptr) : keep_(keep) { setp(buf_, buf_ + sizeof buf_); }

    std::size_t count()
    {
        drain();
        return count_;
    }

protected:
    int_type overflow(int_type c) override
    {
        drain();
        if (!traits_type::eq_int_type(c, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }

    std::streamsize xsputn(const char* s, std::streamsize n) override
    {
        drain();
        count_ += static_cast<std::size_t>(n);
        if (keep_)
            keep_->append(s, static_cast<std::size_t>(n));
        return n;
    }

    int sync() override
    {
        drain();
        return 0;
    }

private:
    void drain()
    {
        const auto n = static_cast<std::size_t>(pptr() - pbase());
        count_ += n;
        if (keep_)
            keep_->append(pbase(), n);
        setp(buf_, buf_ + sizeof buf_);
    }

    char buf_[1 << 16];
    std::size_t count_ = 0;
    std::string* keep_;
};

/// Poco's MailOutputStream writing the body into a counting stream.
std::size_t poco_encode(std::string_view in, std::string* keep = nullptr)
{
    counting_buf sink_buf(keep);
    std::ostream sink(&sink_buf);
    Poco::Net::MailOutputStream mail(sink);
    mail.write(in.data(), static_cast<std::streamsize>(in.size()));
    mail.close();
    sink.flush();
    return sink_buf.count();
}

void bm_poco(benchmark::State& state, body_fn body)
{
    const std::string& in = body();
    std::size_t produced = poco_encode(in);
    for (auto _ : state) {
        produced = poco_encode(in);
        benchmark::DoNotOptimize(produced);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(in.size()) * state.iterations());
    state.counters["out_bytes"] = double(produced);
}

// ---------------------------------------------------------------------------
// The transaction engine's per-message cost.

const smtp::capabilities& bench_caps()
{
    static const smtp::capabilities caps = [] {
        const std::string ehlo = "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                                 "250-8BITMIME\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n";
        smtp::reply_parser p;
        smtp::reply_view v;
        smtp::error_code ec;
        p.put(ehlo, v, ec);
        return smtp::capabilities::from_ehlo(v);
    }();
    return caps;
}

void bm_transaction(benchmark::State& state, bool with_dsn, bool run)
{
    static const std::string message = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n"
                                       "Hello, this is a short message.\r\n";
    std::vector<smtp::recipient> to{{"b@example.org"}, {"c@example.org"}};
    smtp::send_options options;
    if (with_dsn) {
        options.ret = smtp::dsn::ret::headers;
        options.envid = "QQ314159";
        for (auto& r : to)
            r.notify = smtp::dsn::notify::failure | smtp::dsn::notify::delay;
        to[1].original_recipient = "c+orig@example.org";
    }
    const auto& caps = bench_caps();
    std::string replies_text = "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
    std::string out;
    out.reserve(4096);
    for (auto _ : state) {
        smtp::transaction t("a@example.org", to, message, options, caps, smtp::session_facts{});
        if (run) {
            smtp::reply_parser p;
            std::string_view rest = replies_text;
            while (t.next() != smtp::transaction::want::done) {
                if (t.next() == smtp::transaction::want::write) {
                    out.clear();
                    t.write(out);
                    benchmark::DoNotOptimize(out.data());
                    continue;
                }
                smtp::reply_view v;
                smtp::error_code ec;
                const std::size_t used = p.put(rest, v, ec);
                rest.remove_prefix(used);
                t.on_reply(v);
            }
        } else {
            t.write(out);
            benchmark::DoNotOptimize(out.data());
            out.clear();
        }
        benchmark::DoNotOptimize(t.error());
    }
}

void register_benchmarks()
{
    const struct {
        const char* name;
        corpus_fn corpus;
    } corpora[] = {{"ehlo", ehlo_corpus}, {"mix", mix_corpus}};
    const struct {
        const char* name;
        body_fn body;
    } bodies[] = {{"lf", body_lf}, {"crlf", body_crlf}};

    for (const auto& c : corpora)
        benchmark::RegisterBenchmark((std::string("parser/") + c.name).c_str(), bm_parser, c.corpus)->UseRealTime();
    for (const auto& c : corpora)
        benchmark::RegisterBenchmark((std::string("parser_batch/") + c.name).c_str(), bm_parser_batch, c.corpus,
                                     batch_api::put_many)
            ->UseRealTime();
    for (const auto& c : corpora)
        benchmark::RegisterBenchmark((std::string("parser_cursor/") + c.name).c_str(), bm_parser_batch, c.corpus,
                                     batch_api::cursor)
            ->UseRealTime();
    for (const auto& c : corpora)
        benchmark::RegisterBenchmark((std::string("memchr_lines/") + c.name).c_str(), bm_memchr_lines, c.corpus)
            ->UseRealTime();
    for (const auto& b : bodies)
        benchmark::RegisterBenchmark((std::string("encoder/") + b.name).c_str(), bm_encoder, b.body,
                                     smtp::detail::best_encoder_isa())
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    const struct {
        const char* name;
        encoder_isa isa;
    } loops[] = {{"encoder_sse2/", encoder_isa::sse2},
                 {"encoder_avx2/", encoder_isa::avx2},
                 {"encoder_avx512/", encoder_isa::avx512}};
    for (const auto& l : loops)
        if (smtp::detail::cpu_has(l.isa))
            for (const auto& b : bodies)
                benchmark::RegisterBenchmark((std::string(l.name) + b.name).c_str(), bm_encoder, b.body, l.isa)
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
    for (const auto& b : bodies)
        benchmark::RegisterBenchmark((std::string("memcpy/") + b.name).c_str(), bm_memcpy, b.body)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    for (const auto& b : bodies)
        benchmark::RegisterBenchmark((std::string("poco_mail_stream/") + b.name).c_str(), bm_poco, b.body)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("transaction/plan_plain", bm_transaction, false, false);
    benchmark::RegisterBenchmark("transaction/plan_dsn", bm_transaction, true, false);
    benchmark::RegisterBenchmark("transaction/run_plain", bm_transaction, false, true);
    benchmark::RegisterBenchmark("transaction/run_dsn", bm_transaction, true, true);
}

// ---------------------------------------------------------------------------
// --dump-inputs DIR

bool write_file(const std::filesystem::path& path, std::string_view bytes)
{
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(f);
}

int dump_inputs(const std::filesystem::path& dir)
{
    std::error_code fs_ec;
    std::filesystem::create_directories(dir, fs_ec);
    if (fs_ec) {
        std::cerr << "cannot create " << dir << ": " << fs_ec.message() << '\n';
        return 1;
    }
    std::string meta = "{\n";
    bool ok = true;

    const struct {
        const char* name;
        corpus_fn corpus;
    } corpora[] = {{"ehlo", ehlo_corpus}, {"mix", mix_corpus}};
    for (const auto& c : corpora) {
        const auto& corpus = c.corpus();
        const std::string file = std::string("replies_") + c.name + ".bin";
        ok = write_file(dir / file, corpus.bytes) && ok;
        meta += std::string("  \"replies_") + c.name + "\": {\"file\": \"" + file +
                "\", \"bytes\": " + std::to_string(corpus.bytes.size()) +
                ", \"replies\": " + std::to_string(corpus.replies) + ", \"lines\": " + std::to_string(corpus.lines) +
                "},\n";
    }

    const struct {
        const char* name;
        body_fn body;
    } bodies[] = {{"lf", body_lf}, {"crlf", body_crlf}};
    smtp::data_encoder encoder;
    for (std::size_t i = 0; i < std::size(bodies); ++i) {
        const auto& b = bodies[i];
        const std::string& in = b.body();
        std::vector<char> out(smtp::data_encoder::max_encoded_size(in.size()) + smtp::data_encoder::max_trailer_size);
        const std::size_t produced = encode_all(encoder, in, out);
        if (produced == 0) {
            std::cerr << "the encoder failed on body_" << b.name << '\n';
            return 1;
        }
        const std::string_view encoded(out.data(), produced);
        std::string poco;
        poco_encode(in, &poco);
        const std::string file = std::string("body_") + b.name + ".txt";
        const std::string expected = std::string("encoded_") + b.name + ".bin";
        ok = write_file(dir / file, in) && ok;
        ok = write_file(dir / expected, encoded) && ok;
        meta += std::string("  \"body_") + b.name + "\": {\"file\": \"" + file +
                "\", \"bytes\": " + std::to_string(in.size()) + ", \"encoded_file\": \"" + expected +
                "\", \"encoded_bytes\": " + std::to_string(produced) +
                ", \"poco_bytes\": " + std::to_string(poco.size()) +
                ", \"poco_matches_encoder\": " + (poco == encoded ? "true" : "false") + "}" +
                (i + 1 < std::size(bodies) ? ",\n" : "\n");
    }
    meta += "}\n";
    ok = write_file(dir / "meta.json", meta) && ok;
    if (!ok) {
        std::cerr << "cannot write the inputs to " << dir << '\n';
        return 1;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--dump-inputs") {
            if (i + 1 >= argc) {
                std::cerr << "usage: " << argv[0] << " --dump-inputs DIR\n";
                return 2;
            }
            return dump_inputs(argv[i + 1]);
        }
    }
    register_benchmarks();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

// DKIM signing throughput (./run bench, benchmarks/dkim_report.py): a whole
// signature (canonicalisation, body hash, header hash, RSA-2048 or Ed25519)
// over 1 KiB and 1 MiB messages, beside a plain SHA-256 of the same bytes,
// the ceiling of any signer. --dump DIR writes the messages and keys' paths
// for dkim_bench.py (dkimpy on the same bytes).
#include <smtp/dkim.hpp>

#include <smtp/crypto/openssl.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

/// A text message of about `size` octets: headers, then lines of prose with
/// the odd double space and trailing blank, as mail has.
std::string message(std::size_t size)
{
    std::string m = "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nSubject: benchmark\r\n"
                    "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\r\n";
    for (unsigned i = 0; m.size() < size; ++i)
        m += "Line " + std::to_string(i) + " of the body,  with some words in it and a tab\tat the end \r\n";
    m.resize(size - 2);
    m += "\r\n";
    return m;
}

std::string key_path(const char* name) { return std::string(SMTP_BENCH_KEYS) + "/" + name; }

std::string slurp(const std::string& p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

const std::string& input(std::size_t size)
{
    static const std::string small = message(1024), big = message(1024 * 1024);
    return size == 1024 ? small : big;
}

void sign(benchmark::State& state, const char* key, smtp::dkim::canonicalization c)
{
    const std::string& m = input(static_cast<std::size_t>(state.range(0)));
    smtp::dkim::sign_options o;
    o.domain = "example.com";
    o.selector = "bench";
    o.header_canonicalization = o.body_canonicalization = c;
    const smtp::dkim::signer s(smtp::crypto::dkim_key::from_pem(slurp(key_path(key))), o);
    for (auto _ : state)
        benchmark::DoNotOptimize(s.sign(m));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.size()));
}

void sha256(benchmark::State& state)
{
    const std::string& m = input(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state)
        benchmark::DoNotOptimize(smtp::crypto::openssl::sha256(m));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.size()));
}

} // namespace

BENCHMARK_CAPTURE(sign, rsa_relaxed, "rsa2048.pem", smtp::dkim::canonicalization::relaxed)
    ->Name("dkim_rsa_relaxed")->Arg(1024)->Arg(1024 * 1024);
BENCHMARK_CAPTURE(sign, rsa_simple, "rsa2048.pem", smtp::dkim::canonicalization::simple)
    ->Name("dkim_rsa_simple")->Arg(1024)->Arg(1024 * 1024);
BENCHMARK_CAPTURE(sign, ed25519_relaxed, "ed25519-rfc8463.pem", smtp::dkim::canonicalization::relaxed)
    ->Name("dkim_ed25519_relaxed")->Arg(1024)->Arg(1024 * 1024);
BENCHMARK_CAPTURE(sign, ed25519_simple, "ed25519-rfc8463.pem", smtp::dkim::canonicalization::simple)
    ->Name("dkim_ed25519_simple")->Arg(1024)->Arg(1024 * 1024);
BENCHMARK(sha256)->Name("sha256")->Arg(1024)->Arg(1024 * 1024);

int main(int argc, char** argv)
{
    if (argc == 3 && std::strcmp(argv[1], "--dump") == 0) { // the inputs for dkim_bench.py
        std::filesystem::create_directories(argv[2]);
        for (std::size_t n : {std::size_t{1024}, std::size_t{1024 * 1024}})
            std::ofstream(std::filesystem::path(argv[2]) / ("message_" + std::to_string(n) + ".eml"),
                          std::ios::binary)
                << input(n);
        std::ofstream(std::filesystem::path(argv[2]) / "keys.txt") << key_path("rsa2048.pem") << '\n'
                                                                  << key_path("ed25519-rfc8463.pem") << '\n';
        return 0;
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}

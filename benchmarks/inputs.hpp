// benchmarks/inputs.hpp
//
// The benchmark inputs, generated deterministically (a fixed-seed splitmix64),
// so that every run, and smtplib_bench.py reading the dumped files, sees the
// same bytes:
//   ehlo_replies()   about 1 MiB of 10-line EHLO replies;
//   mix_replies()    about 1 MiB of the replies of mail transactions;
//   message_body()   a 10 MiB text body, LF or CRLF line ends, with lines that
//                    start with '.' and lines that are a lone '.'.
#ifndef SMTP_BENCHMARKS_INPUTS_HPP
#define SMTP_BENCHMARKS_INPUTS_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

/// splitmix64: small, fast, and the same on every platform.
class rng {
public:
    explicit rng(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t next() noexcept
    {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15u);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        return z ^ (z >> 31);
    }
    /// Uniform enough in [0, n) for n far below 2^32.
    std::size_t below(std::size_t n) noexcept { return static_cast<std::size_t>((next() >> 32) % n); }

private:
    std::uint64_t state_;
};

/// A buffer of whole replies and what the parser must find in it.
struct reply_corpus {
    std::string bytes;
    std::size_t replies = 0;
    std::size_t lines = 0;
};

inline constexpr std::size_t reply_corpus_size = std::size_t(1) << 20; // 1 MiB
inline constexpr std::size_t body_size = std::size_t(10) << 20;         // 10 MiB

/// EHLO replies of 10 lines each; the client's address varies.
inline reply_corpus ehlo_replies()
{
    reply_corpus c;
    rng r(0x5EED0001);
    static constexpr std::array<std::string_view, 9> rest = {
        "250-PIPELINING\r\n", "250-SIZE 35882577\r\n",        "250-ETRN\r\n",
        "250-AUTH PLAIN LOGIN CRAM-MD5\r\n", "250-ENHANCEDSTATUSCODES\r\n", "250-8BITMIME\r\n",
        "250-DSN\r\n",      "250-SMTPUTF8\r\n",              "250 CHUNKING\r\n",
    };
    c.bytes.reserve(reply_corpus_size + 512);
    while (c.bytes.size() < reply_corpus_size) {
        c.bytes += "250-mail.example.com Hello client [";
        c.bytes += std::to_string(10 + r.below(200)) + '.' + std::to_string(r.below(256)) + '.' +
                   std::to_string(r.below(256)) + '.' + std::to_string(1 + r.below(254));
        c.bytes += "]\r\n";
        for (auto l : rest)
            c.bytes += l;
        ++c.replies;
        c.lines += 1 + rest.size();
    }
    return c;
}

/// The replies of mail transactions, drawn at random from seven kinds.
inline reply_corpus mix_replies()
{
    reply_corpus c;
    rng r(0x5EED0002);
    c.bytes.reserve(reply_corpus_size + 512);
    static constexpr char hex[] = "0123456789ABCDEF";
    while (c.bytes.size() < reply_corpus_size) {
        switch (r.below(7)) {
        case 0: c.bytes += "250 2.1.0 Ok\r\n"; break;
        case 1: c.bytes += "250 2.1.5 Ok\r\n"; break;
        case 2: c.bytes += "354 End data with <CR><LF>.<CR><LF>\r\n"; break;
        case 3: {
            c.bytes += "250 2.0.0 Ok: queued as ";
            std::uint64_t id = r.next();
            for (int i = 0; i < 10; ++i, id >>= 4)
                c.bytes += hex[id & 0xF];
            c.bytes += "\r\n";
            break;
        }
        case 4:
            c.bytes += "550-5.1.1 <nobody@example.com>: Recipient address rejected:\r\n"
                       "550-5.1.1 User unknown in virtual mailbox table\r\n"
                       "550 5.1.1 See https://mail.example.com/help/5.1.1\r\n";
            c.lines += 2;
            break;
        case 5: c.bytes += "451 4.7.1 Try again later\r\n"; break;
        default: c.bytes += "221 2.0.0 Bye\r\n"; break;
        }
        ++c.replies;
        ++c.lines;
    }
    return c;
}

/// A text body of about body_size bytes: lines of 60..78 characters of words,
/// some empty lines, about 1 in 40 starting with '.', 1 in 200 a lone '.'.
/// The same lines for both line ends; each stops at the first line end at or
/// past body_size.
inline std::string message_body(std::string_view eol)
{
    static constexpr std::array<std::string_view, 32> words = {
        "the",     "of",      "and",    "to",      "in",       "message", "server", "client",
        "mail",    "Subject", "relay",  "queue",   "deliver",  "header",  "body",   "line",
        "example", "domain",  "is",     "that",    "with",     "for",     "not",    "on",
        "report",  "status",  "SMTP,",  "DATA.",   "(quoted)", "42",      "2024",   "a",
    };
    rng r(0x5EED0003);
    std::string out;
    out.reserve(body_size + 128);
    while (out.size() < body_size) {
        const std::size_t kind = r.below(200);
        if (kind == 0) {
            out += '.';
        } else if (kind < 6) {
            // an empty line (paragraph break)
        } else {
            const std::size_t target = 60 + r.below(19);
            const std::size_t start = out.size();
            if (kind < 11)
                out += '.'; // a line that starts with a period
            for (;;) {
                const auto w = words[r.below(words.size())];
                const std::size_t len = out.size() - start;
                if (len + 1 + w.size() > target && len > 0)
                    break;
                if (len > 0 && out.back() != '.')
                    out += ' ';
                out += w;
            }
        }
        out += eol;
    }
    return out;
}

} // namespace bench

#endif

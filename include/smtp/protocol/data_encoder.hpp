/// \file smtp/protocol/data_encoder.hpp
///
/// The DATA encoder (RFC 5321 4.5.2, 4.1.1.4, 2.3.8): streaming dot-stuffing
/// with one explicit policy for bare CR and bare LF.
///
/// Feed the message in chunks of any size; the encoder carries its state
/// (start of line, a CR waiting for its LF, the current line's length) across
/// chunk boundaries. finish() ends the data: CRLF when the last line is open,
/// then ".\r\n".
///
/// Guarantee (SMTP smuggling): every line end in the output is CRLF, and every
/// line that starts with '.' gets one more. So whatever the input and however
/// it is chunked, CRLF "." CRLF appears in the output once, at its end.
///
/// Line endings: line_endings::normalize (default) turns CRLF, a bare LF and a
/// bare CR each into one CRLF. line_endings::reject makes a bare CR or bare LF
/// an error (errc::data_bare_cr / data_bare_lf) instead.
///
/// Line length: a line longer than max_line octets of text (998 by default,
/// RFC 5321 4.5.3.1.6) is errc::data_line_too_long; 0 lifts the limit.
///
/// After an error the encoder stays failed: the caller must not end the data
/// (it cannot take back what it sent), but drop the connection or, when
/// nothing was sent yet, fix the input.
#ifndef SMTP_PROTOCOL_DATA_ENCODER_HPP
#define SMTP_PROTOCOL_DATA_ENCODER_HPP

#include <smtp/protocol/detail/scan.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

// The block loop below runs on SSE2 everywhere it exists, and on AVX2 or
// AVX-512 where the CPU has it, chosen at run time: that code is compiled for
// its target alone (a function attribute), so nothing else needs -mavx2.
#if SMTP_HAVE_SSE2 && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SMTP_DATA_ENCODER_AVX2 1
#else
#define SMTP_DATA_ENCODER_AVX2 0
#endif

SMTP_NAMESPACE_BEGIN

/// What the encoder does with a CR or LF that is not part of CRLF.
enum class line_endings {
    normalize, ///< make it CRLF
    reject,    ///< errc::data_bare_cr / errc::data_bare_lf
};

struct data_encoder_options {
    line_endings bare_line_endings = line_endings::normalize;
    /// Longest line in octets, without its CRLF; 0 for no limit.
    std::size_t max_line = 998;
};

class data_encoder;

namespace detail {

/// Which loop the encoder runs over whole 64-byte blocks: none (the
/// sixteen-byte loop takes everything), SSE2's, AVX2's or AVX-512's. The
/// same algorithm; only the vector width differs.
enum class encoder_isa : unsigned char { none, sse2, avx2, avx512 };

/// The widest the CPU runs, looked up once. AVX-512 (BW, for byte compares)
/// only where the CPU also has VBMI2, that is from Ice Lake and Zen 4 on:
/// on the Skylake-SP generation, 512-bit instructions lower the clock of
/// the core for everything else it runs (simdjson and simdutf draw the same
/// line); AVX2 is as fast as before there.
inline encoder_isa best_encoder_isa() noexcept
{
#if SMTP_DATA_ENCODER_AVX2
    static const encoder_isa isa = [] {
        __builtin_cpu_init(); // needed when this runs before the constructors do
        if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi2"))
            return encoder_isa::avx512;
        return __builtin_cpu_supports("avx2") ? encoder_isa::avx2 : encoder_isa::sse2;
    }();
    return isa;
#elif SMTP_HAVE_SSE2
    return encoder_isa::sse2;
#else
    return encoder_isa::none;
#endif
}

/// Whether this CPU can run `isa`.
inline bool cpu_has(encoder_isa isa) noexcept
{
    return isa <= best_encoder_isa();
}

/// For the tests and the benchmarks: run an encoder on a given loop.
struct data_encoder_access {
    static void set_isa(data_encoder& e, encoder_isa isa) noexcept;
    static encoder_isa isa(const data_encoder& e) noexcept;
};

#if SMTP_HAVE_SSE2
/// The block loop's vector operations: copy a 64-byte block and give the
/// mask of its bytes <= 0x0D (one load of each byte for both), and copy 64
/// bytes (see scan.hpp).
struct sse2_block_ops {
    static std::uint64_t copy64_low_control_mask(char* to, const char* from) noexcept
    {
        const std::uint64_t m = detail::low_control_mask64(from);
        detail::copy64(to, from);
        return m;
    }
    static void copy64(char* to, const char* from) noexcept { detail::copy64(to, from); }
};
#endif

#if SMTP_DATA_ENCODER_AVX2
/// The same on AVX2: two 32-byte vectors a block, where SSE2 takes four.
/// Called only from code compiled for AVX2 (data_encoder::run_blocks_avx2).
/// Written with the compilers' vector types and the one builtin that
/// _mm256_movemask_epi8 is (in g++ and clang alike), not <immintrin.h>: that
/// header would add some 40,000 lines to every file that reads the core.
struct avx2_block_ops {
    using bytes32 = unsigned char __attribute__((vector_size(32)));
    using mask32 = char __attribute__((vector_size(32)));

    __attribute__((target("avx2"))) static std::uint64_t copy64_low_control_mask(char* to, const char* from) noexcept
    {
        bytes32 a, b;
        std::memcpy(&a, from, 32);
        std::memcpy(&b, from + 32, 32);
        std::memcpy(to, &a, 32);
        std::memcpy(to + 32, &b, 32);
        // Each byte <= 0x0D becomes 0xFF, and the mask takes the top bits.
        const auto lo = static_cast<unsigned>(__builtin_ia32_pmovmskb256(reinterpret_cast<mask32>(a <= 0x0D)));
        const auto hi = static_cast<unsigned>(__builtin_ia32_pmovmskb256(reinterpret_cast<mask32>(b <= 0x0D)));
        return std::uint64_t(lo) | (std::uint64_t(hi) << 32);
    }
    __attribute__((target("avx2"))) static void copy64(char* to, const char* from) noexcept
    {
        bytes32 a, b;
        std::memcpy(&a, from, 32);
        std::memcpy(&b, from + 32, 32);
        std::memcpy(to, &a, 32);
        std::memcpy(to + 32, &b, 32);
    }
};

/// The same on AVX-512: one vector a block, and the compare writes the mask
/// straight into a mask register (_mm512_cmple_epu8_mask is that builtin).
/// Called only from data_encoder::run_blocks_avx512.
struct avx512_block_ops {
    using bytes64 = char __attribute__((vector_size(64)));

    __attribute__((target("avx512bw"))) static std::uint64_t copy64_low_control_mask(char* to,
                                                                                      const char* from) noexcept
    {
        bytes64 a;
        std::memcpy(&a, from, 64);
        std::memcpy(to, &a, 64);
        bytes64 cr;
        std::memset(&cr, 0x0D, sizeof cr);
        // Predicate 2 is "less or equal", unsigned; the last operand selects every byte.
        return __builtin_ia32_ucmpb512_mask(a, cr, 2, ~0ULL);
    }
    __attribute__((target("avx512bw"))) static void copy64(char* to, const char* from) noexcept
    {
        bytes64 a;
        std::memcpy(&a, from, 64);
        std::memcpy(to, &a, 64);
    }
};
#endif

} // namespace detail

class data_encoder {
public:
    /// Output room encode() needs to take all of n input bytes at once.
    static constexpr std::size_t max_encoded_size(std::size_t n) noexcept { return 2 * n + slack; }
    /// What finish() appends at most.
    static constexpr std::size_t max_trailer_size = 5;
    /// The smallest output span with which encode() makes progress.
    static constexpr std::size_t min_output_size = 2 + 64;

    data_encoder() noexcept = default;
    explicit data_encoder(const data_encoder_options& options) noexcept : options_(options) {}

    struct result {
        std::size_t consumed; ///< input bytes taken
        std::size_t produced; ///< output bytes written
    };

    /// Encodes as much of `in` as `out` surely has room for (out.size() / 2
    /// input bytes, less a few), and says how much it took and wrote. On an
    /// error, nothing it wrote is to be used.
    result encode(std::string_view in, std::span<char> out, error_code& ec) noexcept
    {
        ec = {};
        if (failed_) {
            ec = failed_;
            return {0, 0};
        }
        std::size_t take = in.size();
        if (out.size() < max_encoded_size(take))
            take = out.size() > slack ? (out.size() - slack) / 2 : 0;
        char* const o0 = out.data();
        char* const o = run(in.data(), in.data() + take, o0, ec);
        if (ec) {
            failed_ = ec;
            return {0, 0};
        }
        return {take, static_cast<std::size_t>(o - o0)};
    }

    /// Appends the encoding of all of `in` to `out`; on an error `out` is left as it was.
    /// (Room for the worst case is reserved first, growing geometrically, so
    /// nothing can throw once encoding has begun; the octets go through a
    /// buffer on the stack, because resizing `out` to the worst case would
    /// zero-fill twice the input's size, which costs more than the copy.)
    void encode(std::string_view in, std::string& out, error_code& ec)
    {
        const std::size_t at = out.size();
        const std::size_t need = at + max_encoded_size(in.size());
        if (out.capacity() < need)
            out.reserve(std::max(need, 2 * out.capacity()));
        char buf[4096];
        do {
            const auto r = encode(in, std::span<char>(buf, sizeof buf), ec);
            if (ec) {
                out.resize(at);
                return;
            }
            out.append(buf, r.produced);
            in.remove_prefix(r.consumed);
        } while (!in.empty());
    }

    /// Throwing form.
    void encode(std::string_view in, std::string& out)
    {
        error_code ec;
        encode(in, out, ec);
        if (ec)
            throw system_error(ec);
    }

    /// Ends the data: CRLF if the last line is open, then ".\r\n". Writes at
    /// most max_trailer_size bytes to `out` and returns how many.
    std::size_t finish(std::span<char> out, error_code& ec) noexcept
    {
        ec = {};
        if (failed_) {
            ec = failed_;
            return 0;
        }
        if (finished_) {
            ec = errc::data_already_finished;
            return 0;
        }
        if (require_lf_) {
            ec = failed_ = errc::data_bare_cr;
            return 0;
        }
        char* o = out.data();
        if (!at_line_start_) {
            *o++ = '\r';
            *o++ = '\n';
        }
        *o++ = '.';
        *o++ = '\r';
        *o++ = '\n';
        finished_ = true;
        return static_cast<std::size_t>(o - out.data());
    }

    void finish(std::string& out, error_code& ec)
    {
        char buf[max_trailer_size];
        out.append(buf, finish(std::span<char>(buf, max_trailer_size), ec));
    }

    void finish(std::string& out)
    {
        error_code ec;
        finish(out, ec);
        if (ec)
            throw system_error(ec);
    }

    /// Ready for the next message.
    void reset() noexcept
    {
        at_line_start_ = true;
        swallow_lf_ = require_lf_ = finished_ = false;
        line_length_ = 0;
        failed_ = {};
    }

    /// Encodes a whole message in one go: dot-stuffed data and the final ".\r\n".
    static std::string encode_message(std::string_view message, const data_encoder_options& options = {})
    {
        data_encoder e(options);
        std::string out;
        out.reserve(max_encoded_size(message.size()) + max_trailer_size);
        e.encode(message, out);
        e.finish(out);
        return out;
    }

private:
    /// The SIMD copy loops store up to sixty-four bytes ahead of what they keep.
    static constexpr std::size_t slack = min_output_size - 2;
    /// The block loop reads up to this far ahead (a CRLF across a block's
    /// end, then the next 64 bytes).
    static constexpr std::ptrdiff_t block_reach = 64 + 2 + 64;
    /// "\r\n" read as a 16-bit word.
    static constexpr std::uint16_t crlf_word =
        std::endian::native == std::endian::little ? std::uint16_t(0x0A0D) : std::uint16_t(0x0D0A);
    static std::uint16_t load16(const char* p) noexcept
    {
        std::uint16_t w;
        std::memcpy(&w, p, 2);
        return w;
    }

    /// The block loop's part of run()'s state, in and out.
    struct block_cursor {
        const char* p;
        char* o;
        std::size_t line_length;
        bool at_line_start;
    };

    /// Whole 64-byte blocks while at least block_reach bytes remain, on the
    /// vector operations of Ops (detail::sse2_block_ops, avx2_block_ops, avx512_block_ops).
    template <class Ops>
    static void run_blocks(block_cursor& c, const char* const end, const bool reject, const std::size_t max_line,
                           error_code& ec) noexcept
    {
        // Locals, as in run(): the stores through the output may alias `c`.
        // On an error `c` is left as it was (the caller fails, and keeps
        // nothing).
        const char* p = c.p;
        // Addresses as integers: the output's distance from the input, and
        // how far the current line may go (it may have started in an earlier
        // chunk, before `p`'s array), which pointers may not say.
        const auto at = [](const char* q) { return reinterpret_cast<std::uintptr_t>(q); };
        // The output of input byte q is at out(q): the shift grows by one at
        // each stuffing dot and each bare line end.
        std::uintptr_t shift = at(c.o) - at(c.p);
        const auto out = [&shift, &at](const char* q) { return reinterpret_cast<char*>(at(q) + shift); };
        // A line end at e is too far when at(e) > line_limit: the line's
        // start plus max_line. (In 64 bits, and no limit taken as 2^62, so
        // the sum never wraps: no line gets that long.)
        const std::uint64_t max = std::min<std::uint64_t>(max_line, std::uint64_t(1) << 62);
        std::uint64_t line_limit = at(p) + (max - std::min<std::uint64_t>(c.line_length, max));
        // Whole 64-byte blocks while at least block_reach bytes remain: one
        // mask finds every CR and LF in the block (among the few other bytes
        // <= 0x0D, which are passed over); the block is stored as it is.
        // A CRLF leaves the shift as it was, so what is stored is right
        // already (but for an LF past the block's end, stored with it). A
        // bare LF or CR, or a stuffing dot, shifts the rest of the block: it
        // is stored again, shifted. No loop exit per line, and no work per
        // block but the copy, the mask and the step to the next block: the
        // line's length is looked at where it ends, and at the loop's end.
        // Only the first block can start a line unlooked at: in the loop, the
        // byte after a line end is looked at with the line end.
        if (c.at_line_start && *p == '.') {
            *out(p) = '.';
            ++shift;
        }
        const char* const last = end - block_reach;
        while (p <= last) {
            std::uint64_t m = Ops::copy64_low_control_mask(out(p), p);
            const char* resume = p; // after the block's last line end (past the block after a CRLF across its end)
            while (m) {
                const char* const e = p + detail::lowest_bit_nonzero(m);
                m &= m - 1;
                // The CRLF case and the bare case below repeat a few lines on
                // purpose: merged, g++ 12 emits 10-15% more instructions per
                // byte (callgrind, 10 MiB bodies).
                if (load16(e) == crlf_word) {
                    // CRLF: the output is right already (but an LF past the
                    // block's end: stored below).
                    m &= m - 1; // the LF's bit, or nothing when it is past the block
                    if (at(e) > line_limit) {
                        ec = errc::data_line_too_long;
                        return;
                    }
                    const char* const next = e + 2;
                    line_limit = at(next) + max;
                    resume = next;
                    if (*next == '.') {
                        *out(next) = '.';
                        ++shift;
                        Ops::copy64(out(next), next);
                    }
                    continue;
                }
                const char ch = *e;
                if (ch != '\n' && ch != '\r')
                    continue; // another control byte: text
                // A bare CR or LF: it becomes CRLF, and the rest moves by one.
                if (reject) {
                    ec = ch == '\n' ? errc::data_bare_lf : errc::data_bare_cr;
                    return;
                }
                if (at(e) > line_limit) {
                    ec = errc::data_line_too_long;
                    return;
                }
                // CR LF and a stuffing dot in one store: the copy below
                // starts after the dot when the next line starts with one,
                // on it otherwise (no branch).
                std::memcpy(out(e), "\r\n..", 4);
                const char* const next = e + 1;
                line_limit = at(next) + max;
                resume = next;
                shift += 1 + (*next == '.');
                Ops::copy64(out(next), next);
            }
            // A branch, not a conditional move: the next block's loads must
            // not wait for this block's line ends (a CRLF across the block's
            // end is 1 block in 64 or so).
            if (__builtin_expect(resume > p + 64, 0)) {
                // The LF of a CRLF across the block's end, before the
                // stuffing dot, if any. (Not stored with every CRLF: a store
                // there, just before the next line's first byte is read,
                // can stall that load when the output's address is the
                // input's modulo 4096.)
                out(p + 64)[-(*resume == '.')] = '\n';
                p = resume;
            } else
                p += 64;
        }
        if (at(p) > line_limit) {
            ec = errc::data_line_too_long;
            return;
        }
        c = {p, out(p), static_cast<std::size_t>(at(p) + max - line_limit), false};
    }

#if SMTP_HAVE_SSE2
    static void run_blocks_sse2(block_cursor& c, const char* end, bool reject, std::size_t max_line,
                                error_code& ec) noexcept
    {
        run_blocks<detail::sse2_block_ops>(c, end, reject, max_line, ec);
    }
#endif

#if SMTP_DATA_ENCODER_AVX2
    // flatten: the template and the AVX2 operations are inlined here, where
    // AVX2 is enabled (they cannot be inlined into code compiled without it).
    __attribute__((target("avx2"), flatten)) static void run_blocks_avx2(block_cursor& c, const char* end,
                                                                          bool reject, std::size_t max_line,
                                                                          error_code& ec) noexcept
    {
        run_blocks<detail::avx2_block_ops>(c, end, reject, max_line, ec);
    }

    __attribute__((target("avx512bw"), flatten)) static void run_blocks_avx512(block_cursor& c, const char* end,
                                                                              bool reject, std::size_t max_line,
                                                                              error_code& ec) noexcept
    {
        run_blocks<detail::avx512_block_ops>(c, end, reject, max_line, ec);
    }
#endif

    char* run(const char* p, const char* const end, char* o, error_code& ec) noexcept
    {
        if (finished_ && p != end) {
            ec = errc::data_already_finished;
            return o;
        }
        // The loop works on locals: its stores through `o` (a char*) may alias
        // anything, members included, and would force reloads every line.
        const bool reject = options_.bare_line_endings == line_endings::reject;
        const std::size_t max_line = options_.max_line ? options_.max_line : ~std::size_t(0);
        bool at_line_start = at_line_start_;
        bool swallow_lf = swallow_lf_;
        std::size_t line_length = line_length_;
        if (p != end && swallow_lf) {
            // The previous chunk ended with a CR: an LF now belongs to it.
            swallow_lf = false;
            if (*p == '\n')
                ++p;
            else if (reject) {
                ec = errc::data_bare_cr;
                return o;
            }
        }
#if SMTP_HAVE_SSE2
        if (end - p >= block_reach && isa_ != detail::encoder_isa::none) {
            block_cursor c{p, o, line_length, at_line_start};
#if SMTP_DATA_ENCODER_AVX2
            if (isa_ == detail::encoder_isa::avx512)
                run_blocks_avx512(c, end, reject, max_line, ec);
            else if (isa_ == detail::encoder_isa::avx2)
                run_blocks_avx2(c, end, reject, max_line, ec);
            else
#endif
                run_blocks_sse2(c, end, reject, max_line, ec);
            if (ec)
                return c.o;
            p = c.p;
            o = c.o;
            line_length = c.line_length;
            at_line_start = c.at_line_start;
        }
#endif
        while (p != end) {
            if (at_line_start) {
                if (*p == '.')
                    *o++ = '.';
                at_line_start = false;
            }
            // Copy up to the next CR or LF, sixteen bytes at a time: store
            // first, look after; what is stored past the line end is
            // overwritten by what follows.
            const char* const run_start = p;
#if SMTP_HAVE_SSE2
            // Thirty-two bytes a step while they last: half the loop trips
            // (and exits) on ~70-byte lines.
            while (end - p >= 32) {
                const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
                const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v0);
                _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 16), v1);
                const unsigned m = detail::cr_or_lf_mask16(v0) | (detail::cr_or_lf_mask16(v1) << 16);
                if (m) {
                    const unsigned n = static_cast<unsigned>(__builtin_ctz(m));
                    p += n;
                    o += n;
                    goto line_end;
                }
                p += 32;
                o += 32;
            }
            for (;;) {
                if (end - p < 16) {
                    while (p != end && !detail::is_cr_or_lf(static_cast<unsigned char>(*p)))
                        *o++ = *p++;
                    break;
                }
                const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
                if (const unsigned m = detail::cr_or_lf_mask16(v)) {
                    const unsigned n = static_cast<unsigned>(__builtin_ctz(m));
                    p += n;
                    o += n;
                    break;
                }
                p += 16;
                o += 16;
            }
        line_end:
#else
            while (p != end && !detail::is_cr_or_lf(static_cast<unsigned char>(*p)))
                *o++ = *p++;
#endif
            line_length += static_cast<std::size_t>(p - run_start);
            if (line_length > max_line) {
                ec = errc::data_line_too_long;
                return o;
            }
            if (p == end)
                break;
            // A line end: CRLF, a CR (maybe with its LF in the next chunk), or a bare LF.
            if (*p == '\r') {
                if (p + 1 == end) {
                    swallow_lf = true;
                    ++p;
                } else if (p[1] == '\n') {
                    p += 2;
                } else if (reject) {
                    ec = errc::data_bare_cr;
                    return o;
                } else {
                    ++p;
                }
            } else if (reject) {
                ec = errc::data_bare_lf;
                return o;
            } else {
                ++p;
            }
            *o++ = '\r';
            *o++ = '\n';
            at_line_start = true;
            line_length = 0;
        }
        at_line_start_ = at_line_start;
        swallow_lf_ = swallow_lf;
        require_lf_ = swallow_lf && reject;
        line_length_ = line_length;
        return o;
    }

    data_encoder_options options_{};
    bool at_line_start_ = true; ///< the next byte starts a line
    bool swallow_lf_ = false;   ///< the last line end was a CR: an LF now belongs to it
    bool require_lf_ = false;   ///< reject mode: that LF must come
    bool finished_ = false;
    detail::encoder_isa isa_ = detail::best_encoder_isa(); ///< the block loop's form (beside the flags: no padding)
    std::size_t line_length_ = 0;
    error_code failed_{};

    friend struct detail::data_encoder_access;
};

inline void detail::data_encoder_access::set_isa(data_encoder& e, encoder_isa isa) noexcept
{
    e.isa_ = isa;
}

inline detail::encoder_isa detail::data_encoder_access::isa(const data_encoder& e) noexcept
{
    return e.isa_;
}

SMTP_NAMESPACE_END

#endif

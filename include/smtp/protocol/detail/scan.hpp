// smtp/protocol/detail/scan.hpp
//
// Byte scanners shared by the reply parser and the DATA encoder: find the
// first byte of a class, sixteen bytes at a time with SSE2 where the target has
// it (every x86-64), a byte at a time elsewhere. Both paths are always compiled
// so the tests can hold them against each other.
#ifndef SMTP_PROTOCOL_DETAIL_SCAN_HPP
#define SMTP_PROTOCOL_DETAIL_SCAN_HPP

#include <smtp/version.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define SMTP_HAVE_SSE2 1
#include <emmintrin.h>
#else
#define SMTP_HAVE_SSE2 0
#endif

SMTP_NAMESPACE_BEGIN
namespace detail {

/// True for the bytes a reply line may not carry as text: 0x00-0x1F and 0x7F.
/// (CR, LF and HTAB are among them; the callers decide what each means.)
constexpr bool is_control(unsigned char c) noexcept { return c < 0x20 || c == 0x7F; }

constexpr bool is_cr_or_lf(unsigned char c) noexcept { return c == '\r' || c == '\n'; }

inline const char* find_control_scalar(const char* p, const char* end) noexcept
{
    for (; p != end; ++p)
        if (is_control(static_cast<unsigned char>(*p)))
            return p;
    return end;
}

inline const char* find_cr_or_lf_scalar(const char* p, const char* end) noexcept
{
    for (; p != end; ++p)
        if (is_cr_or_lf(static_cast<unsigned char>(*p)))
            return p;
    return end;
}

#if SMTP_HAVE_SSE2
inline unsigned control_mask16(const char* p) noexcept
{
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // v <= 0x1F (unsigned) <=> min(v, 0x1F) == v
    const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    const __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(low, del)));
}

inline unsigned cr_or_lf_mask16(__m128i v) noexcept
{
    const __m128i cr = _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'));
    const __m128i lf = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(cr, lf)));
}

/// Bit i set when p[i] is CR or LF, for the 64 bytes at p.
inline std::uint64_t cr_or_lf_mask64(const char* p) noexcept
{
    const auto at = [p](int k) {
        return std::uint64_t(cr_or_lf_mask16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k))));
    };
    return at(0) | (at(1) << 16) | (at(2) << 32) | (at(3) << 48);
}

/// Bit i set when p[i] <= 0x0D, for the 64 bytes at p: CR and LF, and the
/// other low control bytes (rare in text; callers pass over them). Two
/// operations a vector (v - 0x0D, saturating, is 0), each overwriting its
/// operand, where CR-or-LF takes three and two register copies.
inline std::uint64_t low_control_mask64(const char* p) noexcept
{
    const auto at = [p](int k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
        return std::uint64_t(static_cast<unsigned>(_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_subs_epu8(v, _mm_set1_epi8(0x0D)), _mm_setzero_si128()))));
    };
    return at(0) | (at(1) << 16) | (at(2) << 32) | (at(3) << 48);
}

/// Stores the 64 bytes at `from` to `to` (unaligned; the ranges do not overlap).
inline void copy64(char* to, const char* from) noexcept
{
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to + 16), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to + 32), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to + 48), d);
}
#endif

#if SMTP_HAVE_SSE2
/// Candidates for is_control() among 16 bytes, in three operations: every
/// control byte and every byte >= 0x7F (x + 1, as a signed byte, is below
/// 0x21 exactly for those, so (x + 1) - 0x21, saturating, is negative: its
/// sign bit is the mask bit). Callers look at each candidate; 8-bit bytes are
/// the only false ones, and rare in replies. (Not a compare: g++ turns
/// cmplt into cmpgt and a second compare that inverts it.)
inline unsigned control_candidates16(const char* p) noexcept
{
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i t = _mm_add_epi8(v, _mm_set1_epi8(1));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_subs_epi8(t, _mm_set1_epi8(0x21))));
}
#endif

/// Bit i set when p[i] is a control byte or a byte >= 0x7F (see
/// control_candidates16), for the Width (16, 32 or 64) bytes at p.
template <unsigned Width>
inline std::uint64_t control_candidates(const char* p) noexcept
{
    static_assert(Width == 16 || Width == 32 || Width == 64);
#if SMTP_HAVE_SSE2
    std::uint64_t m = control_candidates16(p);
    if constexpr (Width >= 32)
        m |= std::uint64_t(control_candidates16(p + 16)) << 16;
    if constexpr (Width == 64)
        m |= (std::uint64_t(control_candidates16(p + 32)) << 32) |
             (std::uint64_t(control_candidates16(p + 48)) << 48);
    return m;
#else
    std::uint64_t m = 0;
    for (unsigned i = 0; i < Width; ++i)
        m |= std::uint64_t(static_cast<unsigned char>(p[i]) < 0x20 || static_cast<unsigned char>(p[i]) >= 0x7F) << i;
    return m;
#endif
}

/// The same for the n < Width bytes at p (the rest of the mask is zero).
template <unsigned Width>
inline std::uint64_t control_candidates_tail(const char* p, std::size_t n) noexcept
{
    char block[Width];
    std::memcpy(block, p, n);
    std::memset(block + n, 'x', Width - n);
    return control_candidates<Width>(block);
}

inline std::size_t lowest_bit(std::uint64_t m) noexcept
{
    // Through unsigned: the count is never negative, and g++ then does not sign-extend it.
    return static_cast<std::size_t>(static_cast<unsigned>(__builtin_ctzll(m)));
}

/// lowest_bit(m) for m != 0, as a 64-bit count straight away: g++ computes
/// __builtin_ctzll in 32 bits and sign-extends it, one more cycle on the
/// parser's chain from one reply to the next. (rep bsf is tzcnt where the
/// CPU has it, bsf elsewhere: the same for m != 0.)
inline std::size_t lowest_bit_nonzero(std::uint64_t m) noexcept
{
#if defined(__GNUC__) && defined(__x86_64__)
    std::uint64_t i;
    __asm__("rep bsfq %1, %0" : "=r"(i) : "rm"(m) : "cc");
    return static_cast<std::size_t>(i);
#else
    return lowest_bit(m);
#endif
}

/// The offset of the first candidate (see control_candidates) among the
/// Width bytes at p, or Width - 1 when there is none (the caller looks at
/// that byte and finds it is not one). The same as
/// lowest_bit(control_candidates<Width>(p) | 1 << (Width - 1)), with the
/// masks joined as a tree and the sentinel bit set before the join: this
/// sits on the dependency chain from one reply to the next.
template <unsigned Width>
inline std::size_t first_candidate(const char* p) noexcept
{
    static_assert(Width == 16 || Width == 32 || Width == 64);
#if SMTP_HAVE_SSE2
    if constexpr (Width == 16) {
        return lowest_bit_nonzero(control_candidates16(p) | 0x8000u);
    } else if constexpr (Width == 32) {
        return lowest_bit_nonzero(control_candidates16(p) | ((control_candidates16(p + 16) | 0x8000u) << 16));
    } else {
        const std::uint64_t a = control_candidates16(p) | (control_candidates16(p + 16) << 16);
        const std::uint64_t b = (std::uint64_t(control_candidates16(p + 32)) << 32) |
                                (std::uint64_t(control_candidates16(p + 48) | 0x8000u) << 48);
        return lowest_bit_nonzero(a | b);
    }
#else
    return lowest_bit(control_candidates<Width>(p) | (std::uint64_t(1) << (Width - 1)));
#endif
}

/// First control byte (see is_control) in [p, end), or end.
inline const char* find_control(const char* p, const char* end) noexcept
{
#if SMTP_HAVE_SSE2
    while (end - p >= 16) {
        if (const unsigned m = control_mask16(p))
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    return find_control_scalar(p, end);
}

/// First CR or LF in [p, end), or end.
inline const char* find_cr_or_lf(const char* p, const char* end) noexcept
{
#if SMTP_HAVE_SSE2
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        if (const unsigned m = cr_or_lf_mask16(v))
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    return find_cr_or_lf_scalar(p, end);
}

inline bool has_8bit_scalar(const char* p, const char* end) noexcept
{
    unsigned char bits = 0;
    for (; p != end; ++p)
        bits |= static_cast<unsigned char>(*p);
    return (bits & 0x80) != 0;
}

/// True when an octet in [p, end) is 0x80 or above.
inline bool has_8bit(const char* p, const char* end) noexcept
{
#if SMTP_HAVE_SSE2
    __m128i acc = _mm_setzero_si128();
    for (; end - p >= 64; p += 64)
        acc = _mm_or_si128(acc, _mm_or_si128(_mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)),
                                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16))),
                                             _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32)),
                                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48)))));
    for (; end - p >= 16; p += 16)
        acc = _mm_or_si128(acc, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    if (_mm_movemask_epi8(acc) != 0)
        return true;
#endif
    return has_8bit_scalar(p, end);
}

} // namespace detail
SMTP_NAMESPACE_END

#endif

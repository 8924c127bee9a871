/// \file smtp/secret.hpp
///
/// A string for passwords, OAuth tokens and key passphrases: its bytes are
/// overwritten with zeros whenever the library lets go of them (when it is
/// destroyed, assigned over, or its buffer grows), by volatile stores that
/// the optimiser may not remove (explicit_bzero's guarantee, without
/// depending on glibc). std::string gives no such promise: its destructor
/// frees the bytes as they are, and a later allocation may hand them out.
///
/// ```
///   smtp::secret s = "hunter2";          // from a literal, a string_view or a std::string
///   smtp::secret t(std::move(str));      // copied, and `str`'s bytes wiped
///   login(user, s.view());
/// ```
///
/// What it cannot reach: copies made outside it (a std::string the caller
/// keeps, the lines on the wire, OpenSSL's own buffers). The library keeps
/// its secrets in it: tls_options::key_passphrase, pool_options::login, the
/// credentials a provider returns (smtp::auth::credentials), and the copy an
/// AUTH exchange makes.
#ifndef SMTP_SECRET_HPP
#define SMTP_SECRET_HPP

#include <smtp/version.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

namespace detail {

/// Zeros `n` bytes at `p` with volatile stores: no compiler may drop them as
/// dead, even right before the memory is freed.
inline void secure_wipe(void* p, std::size_t n) noexcept
{
    auto* v = static_cast<volatile unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = 0;
#if defined(__GNUC__) || defined(__clang__)
    __asm__ __volatile__("" : : "r"(p) : "memory");
#endif
}

/// Zeros the whole buffer of a string (up to its capacity, where old bytes
/// may lie beyond its size), and empties it.
template <class String>
void wipe_string(String& s) noexcept
{
    s.resize(s.capacity()); // within capacity: no allocation, the tail becomes addressable
    secure_wipe(s.data(), s.size());
    s.clear();
}

/// An allocator that zeros memory before giving it back to `Inner`: what a
/// string's growth or destruction frees holds no secret any more.
template <class T, class Inner = std::allocator<T>>
struct wiping_allocator : Inner {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = wiping_allocator<U, typename std::allocator_traits<Inner>::template rebind_alloc<U>>;
    };

    wiping_allocator() = default;
    template <class U, class I>
    wiping_allocator(const wiping_allocator<U, I>& o) noexcept : Inner(static_cast<const I&>(o))
    {}

    T* allocate(std::size_t n) { return std::allocator_traits<Inner>::allocate(*this, n); }
    void deallocate(T* p, std::size_t n) noexcept
    {
        secure_wipe(p, n * sizeof(T));
        std::allocator_traits<Inner>::deallocate(*this, p, n);
    }
    friend bool operator==(const wiping_allocator&, const wiping_allocator&) noexcept { return true; }
};

} // namespace detail

/// A string whose bytes are wiped when they are let go (smtp/secret.hpp).
/// `Alloc` is where the bytes live (the tests pass one that looks at them
/// when they are freed); `smtp::secret` is the one everyone uses.
template <class Alloc = std::allocator<char>>
class basic_secret {
public:
    using string_type = std::basic_string<char, std::char_traits<char>, detail::wiping_allocator<char, Alloc>>;

    basic_secret() noexcept = default;
    basic_secret(const char* s) : s_(s) {}                                     // NOLINT: implicit, as a string's
    basic_secret(std::string_view s) : s_(s.data(), s.size()) {}                // NOLINT
    basic_secret(const std::string& s) : s_(s.data(), s.size()) {}              // NOLINT
    /// Copies `s` and wipes it: the only copy left is this one.
    basic_secret(std::string&& s) : s_(s.data(), s.size()) { detail::wipe_string(s); } // NOLINT
    basic_secret(const basic_secret& o) : s_(o.s_) {}
    basic_secret(basic_secret&& o) noexcept : s_(std::move(o.s_)) { detail::wipe_string(o.s_); }
    ~basic_secret() { detail::wipe_string(s_); }

    basic_secret& operator=(const basic_secret& o)
    {
        if (this != &o)
            assign(o.view());
        return *this;
    }
    basic_secret& operator=(basic_secret&& o) noexcept
    {
        if (this != &o) {
            detail::wipe_string(s_);
            s_ = std::move(o.s_);
            detail::wipe_string(o.s_);
        }
        return *this;
    }
    basic_secret& operator=(std::string_view s) { return assign(s); }
    basic_secret& operator=(const char* s) { return assign(s); }
    basic_secret& operator=(const std::string& s) { return assign(s); }
    basic_secret& operator=(std::string&& s)
    {
        assign(s);
        detail::wipe_string(s);
        return *this;
    }

    /// The bytes, for as long as this secret is neither changed nor destroyed.
    std::string_view view() const noexcept { return {s_.data(), s_.size()}; }
    const char* c_str() const noexcept { return s_.c_str(); }
    const char* data() const noexcept { return s_.data(); }
    std::size_t size() const noexcept { return s_.size(); }
    bool empty() const noexcept { return s_.empty(); }
    /// Wipes and empties it.
    void clear() noexcept { detail::wipe_string(s_); }

    friend bool operator==(const basic_secret& a, std::string_view b) noexcept { return a.view() == b; }

private:
    basic_secret& assign(std::string_view s)
    {
        detail::wipe_string(s_); // the old bytes, also those a shorter value would leave behind
        s_.assign(s.data(), s.size());
        return *this;
    }

    string_type s_;
};

/// A password, token or passphrase: wiped when let go.
using secret = basic_secret<>;

SMTP_NAMESPACE_END

#endif

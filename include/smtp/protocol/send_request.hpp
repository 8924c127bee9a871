/// \file smtp/protocol/send_request.hpp
///
/// What a caller asks of one mail transaction: the recipients with their
/// DSN requests (RFC 3461), the per-message options (send_options, with a
/// slot per extension type for the user's own extensions), a whole owned
/// message (outgoing_message) and how the engine may use the wire
/// (transaction_settings). Plain data: the engine (transaction.hpp) reads it.
#ifndef SMTP_PROTOCOL_SEND_REQUEST_HPP
#define SMTP_PROTOCOL_SEND_REQUEST_HPP

#include <smtp/protocol/data_encoder.hpp>
#include <smtp/version.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <string>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// Delivery status notifications (RFC 3461).
namespace dsn {
/// NOTIFY: `never`, or any of success, failure and delay. `unset`: not sent.
enum class notify : unsigned char { unset = 0, never = 1, success = 2, failure = 4, delay = 8 };
constexpr notify operator|(notify a, notify b) noexcept
{
    return static_cast<notify>(static_cast<unsigned char>(a) | static_cast<unsigned char>(b));
}
constexpr bool has(notify set, notify one) noexcept
{
    return (static_cast<unsigned char>(set) & static_cast<unsigned char>(one)) != 0;
}
/// RET: return the full message or only its headers in a failure DSN.
enum class ret { unset, full, headers };
} // namespace dsn

/// A recipient with its DSN requests.
struct recipient {
    std::string address;
    dsn::notify notify = dsn::notify::unset;
    /// ORCPT (RFC 3461 4.2): the address the sender originally gave, when
    /// it is not `address`. Empty: not sent.
    std::string original_recipient{};
};

/// The message body's type (BODY=, RFC 6152 and RFC 3030).
enum class body_type {
    detect,    ///< 7BIT unless an octet is >= 0x80, then 8BITMIME
    binary,    ///< BINARYMIME: sent as it is with BDAT (needs CHUNKING and BINARYMIME)
};

namespace detail {
/// One object per type: its address names the type (no RTTI).
template <class E>
inline constexpr char type_key = 0;
} // namespace detail

/// What one message asks of extensions that are not built in, one value
/// per extension type E (its E::request_type). Copies share the values,
/// which are never changed in place: set() replaces.
class extension_requests {
public:
    template <class E>
    void set(typename E::request_type value)
    {
        auto v = std::make_shared<const typename E::request_type>(std::move(value));
        for (auto& s : slots_)
            if (s.key == &detail::type_key<E>) {
                s.value = std::move(v);
                return;
            }
        slots_.push_back({&detail::type_key<E>, std::move(v)});
    }
    /// E's value for this message, or nullptr when none was set.
    template <class E>
    const typename E::request_type* get() const noexcept
    {
        for (const auto& s : slots_)
            if (s.key == &detail::type_key<E>)
                return static_cast<const typename E::request_type*>(s.value.get());
        return nullptr;
    }
    template <class E>
    void reset() noexcept
    {
        std::erase_if(slots_, [](const slot& s) { return s.key == &detail::type_key<E>; });
    }
    bool empty() const noexcept { return slots_.empty(); }

private:
    struct slot {
        const void* key;
        std::shared_ptr<const void> value;
    };
    std::vector<slot> slots_;
};

/// Per message. The built-in extensions' requests are fields; an extension
/// type from outside the library takes its value through set<E>():
///
/// ```
///   smtp::send_options o;
///   o.set<my_ext>(my_ext::request_type{...});   // my_ext::mail() reads it
/// ```
struct send_options {
    dsn::ret ret = dsn::ret::unset;
    /// ENVID (RFC 3461 4.4), at most 100 characters; sent as xtext.
    std::string envid{};
    /// REQUIRETLS (RFC 8689): every hop must use verified TLS.
    bool requiretls = false;
    body_type body = body_type::detect;
    /// Called after each write of message data: (message octets sent, total).
    std::function<void(std::uint64_t, std::uint64_t)> progress{};
    /// What this message asks of extension types that are not built in.
    extension_requests extensions{};

    template <class E>
    send_options& set(typename E::request_type value)
    {
        extensions.set<E>(std::move(value));
        return *this;
    }
    template <class E>
    const typename E::request_type* get() const noexcept
    {
        return extensions.get<E>();
    }
};

/// A message with its envelope, owned: what send_all() and the pool take.
struct outgoing_message {
    std::string from;
    std::vector<recipient> to;
    std::string message;
    send_options options{};
};

/// How the engine may use the wire (per session: connect_options::transactions).
struct transaction_settings {
    bool pipelining = true;                  ///< use PIPELINING when offered
    bool chunking = true;                    ///< use CHUNKING (BDAT) when offered
    std::size_t chunk_size = 1024 * 1024;    ///< BDAT: message octets per chunk
    std::size_t write_size = 64 * 1024;      ///< DATA: message octets encoded per write
    /// BDAT with PIPELINING (several messages, send_all and the pool): the
    /// most transactions on the wire at once, each whole (MAIL, RCPTs, BDAT
    /// chunks) before its replies come (RFC 2920, RFC 3030: BDAT needs no
    /// go-ahead). 1: one message at a time, about a round trip each, as with
    /// DATA; 0 counts as 1. DATA is not windowed (its 354 must come back).
    std::size_t window = 8;
    data_encoder_options data{};             ///< bare CR/LF handling, longest line
};

SMTP_NAMESPACE_END

#endif

/// \file smtp/transport/any_stream.hpp
///
/// A stream transport chosen at run time: one of a fixed list of streams
/// (a std::variant, no allocation, no handler erased), for a program that
/// reads from its command line or configuration whether to connect directly,
/// over a Unix socket, or through a proxy, with one session type for all:
///
/// ```
///   using P = smtp::policies<smtp::transport::any_stream>;
///   auto direct = smtp::connect<P>(options);                                   // tcp
///   auto local  = smtp::connect<P>(options, std::string("/run/lmtp.sock"));   // unix_socket
///   auto socks  = smtp::connect<P>(options, smtp::transport::socks5_options{...});
///   auto web    = smtp::connect<P>(options, smtp::transport::http_proxy_options{...});
/// ```
///
/// The arguments after the executor pick the stream: the first of the list
/// constructible from (executor, arguments...); `std::in_place_type<S>`
/// first names it outright. basic_any_stream is the same over a list of
/// one's own.
#ifndef SMTP_TRANSPORT_ANY_STREAM_HPP
#define SMTP_TRANSPORT_ANY_STREAM_HPP

#include <smtp/options.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/concepts.hpp>
#include <smtp/transport/http_connect.hpp>
#include <smtp/transport/socks5.hpp>
#include <smtp/transport/tcp.hpp>
#include <smtp/transport/unix_socket.hpp>
#include <smtp/version.hpp>

#include <boost/asio/buffer.hpp>

#include <concepts>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

SMTP_NAMESPACE_BEGIN
namespace transport {

/// One of `Streams...` (each a stream_transport, all with one executor_type),
/// chosen when it is constructed; itself a stream_transport.
template <class... Streams>
class basic_any_stream {
    static_assert(sizeof...(Streams) > 0, "smtp::transport::basic_any_stream: name at least one stream");
    static_assert((stream_transport<Streams> && ...),
                  "smtp::transport::basic_any_stream: each stream must satisfy smtp::transport::stream_transport");

    using first = std::tuple_element_t<0, std::tuple<Streams...>>;

public:
    using policy_category = transport_category;
    using executor_type = typename first::executor_type;
    static_assert((std::same_as<typename Streams::executor_type, executor_type> && ...),
                  "smtp::transport::basic_any_stream: the streams must have one executor_type");

    /// The first stream constructible from (executor, a...).
    template <class... A>
        requires(std::constructible_from<Streams, executor_type, A...> || ...)
    explicit basic_any_stream(executor_type ex, A&&... a)
        : v_(std::in_place_index<first_constructible<A...>()>, std::move(ex), std::forward<A>(a)...)
    {}

    /// The stream S, constructed from (executor, a...).
    template <class S, class... A>
        requires(std::same_as<S, Streams> || ...)
    basic_any_stream(executor_type ex, std::in_place_type_t<S>, A&&... a)
        : v_(std::in_place_type<S>, std::move(ex), std::forward<A>(a)...)
    {}

    /// Which stream this is, and the stream itself.
    template <class S>
    bool holds() const noexcept { return std::holds_alternative<S>(v_); }
    template <class S>
    S& get() { return std::get<S>(v_); }
    std::size_t index() const noexcept { return v_.index(); }

    executor_type get_executor()
    {
        return std::visit([](auto& s) -> executor_type { return s.get_executor(); }, v_);
    }

    template <class Handler>
    void async_connect(const connect_options& o, Handler&& h)
    {
        std::visit([&](auto& s) { s.async_connect(o, std::forward<Handler>(h)); }, v_);
    }
    template <class Handler>
    void async_read_some(boost::asio::mutable_buffer b, Handler&& h)
    {
        std::visit([&](auto& s) { s.async_read_some(b, std::forward<Handler>(h)); }, v_);
    }
    template <class Handler>
    void async_write_some(boost::asio::const_buffer b, Handler&& h)
    {
        std::visit([&](auto& s) { s.async_write_some(b, std::forward<Handler>(h)); }, v_);
    }
    void cancel()
    {
        std::visit([](auto& s) { s.cancel(); }, v_);
    }
    void close()
    {
        std::visit([](auto& s) { s.close(); }, v_);
    }

    /// The addresses the last connect tried (tcp, unix_socket), or none.
    const std::vector<connect_attempt>& connect_attempts() const noexcept
    {
        static const std::vector<connect_attempt> none;
        return std::visit(
            [](const auto& s) -> const std::vector<connect_attempt>& {
                if constexpr (requires { { s.connect_attempts() } -> std::convertible_to<const std::vector<connect_attempt>&>; })
                    return s.connect_attempts();
                else
                    return none;
            },
            v_);
    }

    /// What the stream connects to in words, when not o.host and o.port
    /// (unix_socket: "the Unix socket PATH"), or empty.
    std::string connect_target() const
    {
        return std::visit(
            [](const auto& s) -> std::string {
                if constexpr (requires { std::string(s.connect_target()); })
                    return std::string(s.connect_target());
                else
                    return {};
            },
            v_);
    }

    /// A proxy's words for the last failed connect, or empty.
    const std::string& connect_failure_detail() const noexcept
    {
        static const std::string none;
        return std::visit(
            [](const auto& s) -> const std::string& {
                if constexpr (requires { { s.connect_failure_detail() } -> std::convertible_to<const std::string&>; })
                    return s.connect_failure_detail();
                else
                    return none;
            },
            v_);
    }

private:
    template <class... A>
    static constexpr std::size_t first_constructible()
    {
        constexpr bool ok[] = {std::constructible_from<Streams, executor_type, A...>...};
        std::size_t i = 0;
        while (!ok[i])
            ++i;
        return i;
    }

    std::variant<Streams...> v_;
};

/// tcp (the default, constructed from the executor alone), unix_socket
/// (from its path, a std::string), socks5 (from socks5_options) or
/// http_connect (from http_proxy_options).
using any_stream = basic_any_stream<tcp, unix_socket, socks5<tcp>, http_connect<tcp>>;

} // namespace transport
SMTP_NAMESPACE_END

#endif

// smtp/detail/blocking_io.hpp
//
// The synchronous driver's reads and writes on a socket in clear: a
// readiness wait (poll, bounded by the connection's deadline) and then one
// non-blocking recv or send, instead of a trip through Asio's reactor
// (an epoll_wait to block, another after each completion, and the scheduler
// around them). A synchronous session runs nothing else on its io_context
// while it waits, so nothing is lost by blocking here; TLS, and transports
// that do not name their socket, keep the reactor path.
#ifndef SMTP_DETAIL_BLOCKING_IO_HPP
#define SMTP_DETAIL_BLOCKING_IO_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/version.hpp>

#if defined(__unix__) || defined(__APPLE__)
#define SMTP_HAS_BLOCKING_IO 1
#include <cerrno>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#else
#define SMTP_HAS_BLOCKING_IO 0
#endif

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>

SMTP_NAMESPACE_BEGIN
namespace detail {

/// The transport's socket for the synchronous driver's direct reads and
/// writes (transport::tcp in clear, under tls_layer before STARTTLS), or -1:
/// then the driver goes through the transport's asynchronous operations.
template <class Transport>
int sync_descriptor(Transport& t) noexcept
{
#if SMTP_HAS_BLOCKING_IO
    if constexpr (requires { { t.sync_descriptor() } -> std::same_as<int>; })
        return t.sync_descriptor();
#endif
    (void)t;
    return -1;
}

#if SMTP_HAS_BLOCKING_IO
/// What one direct I/O did: its error (operation_aborted with `timed_out`
/// when the deadline passed, as a cancelled Asio operation reports it) and
/// the octets moved.
struct blocking_result {
    error_code ec{};
    std::size_t n = 0;
    bool timed_out = false;
};

/// Waits until `fd` is ready for `events` (POLLIN, POLLOUT) or `deadline`
/// passes. A hang-up or an error counts as ready: the recv or send that
/// follows reports it.
inline blocking_result wait_ready(int fd, short events, std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return {boost::asio::error::operation_aborted, 0, true};
        pollfd p{fd, events, 0};
        const int ms = left.count() > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left.count());
        const int r = ::poll(&p, 1, ms);
        if (r > 0)
            return {};
        if (r < 0 && errno != EINTR)
            return {error_code(errno, boost::system::system_category()), 0, false};
    }
}

/// Reads what has come, at most `b.size()` octets, after waiting for it;
/// end of stream is boost::asio::error::eof, as Asio reports it.
inline blocking_result blocking_read_some(int fd, boost::asio::mutable_buffer b,
                                          std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        blocking_result w = wait_ready(fd, POLLIN, deadline);
        if (w.ec)
            return w;
        const ssize_t r = ::recv(fd, b.data(), b.size(), MSG_DONTWAIT);
        if (r > 0)
            return {{}, static_cast<std::size_t>(r), false};
        if (r == 0)
            return {boost::asio::error::eof, 0, false};
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return {error_code(errno, boost::system::system_category()), 0, false};
    }
}

/// Writes all of `b`, waiting whenever the socket's buffer is full; on an
/// error or the deadline, `n` says how much went out.
inline blocking_result blocking_write(int fd, boost::asio::const_buffer b,
                                      std::chrono::steady_clock::time_point deadline)
{
    const char* p = static_cast<const char*>(b.data());
    std::size_t done = 0;
    while (done < b.size()) {
        const ssize_t w = ::send(fd, p + done, b.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w >= 0) {
            done += static_cast<std::size_t>(w);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return {error_code(errno, boost::system::system_category()), done, false};
        blocking_result r = wait_ready(fd, POLLOUT, deadline);
        if (r.ec) {
            r.n = done;
            return r;
        }
    }
    return {{}, done, false};
}

/// Sends what the socket takes at once, without waiting, and says nothing
/// of the result (a TLS close_notify before the close).
inline void send_without_waiting(int fd, const void* p, std::size_t n) noexcept
{
    while (::send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}
#endif

} // namespace detail
SMTP_NAMESPACE_END

#endif

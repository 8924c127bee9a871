// smtp/detail/blocking_io.hpp
//
// The synchronous driver's reads and writes on a socket in clear, instead of
// a trip through Asio's reactor (an epoll_wait to block, another after each
// completion, and the scheduler around them). A synchronous session runs
// nothing else on its io_context while it waits, so nothing is lost by
// blocking here. A read is one blocking recv, as a hand-written client's:
// the socket is in blocking mode for it, and SO_RCVTIMEO bounds each wait,
// so that the deadline holds without a readiness wait (poll) before every
// read. A write is a non-blocking send, with poll only when the socket's
// buffer is full. TLS, and transports that do not name their socket, keep
// the reactor path.
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

/// The longest a blocking recv waits (its socket's SO_RCVTIMEO): with less
/// than this left before the deadline, a read waits in poll instead, so the
/// deadline is kept to the millisecond; a reply that is slow to come costs
/// one wake-up every such interval.
inline constexpr std::chrono::milliseconds longest_blocking_recv{200};

/// The transport's socket for the synchronous driver's direct reads and
/// writes (transport::tcp in clear, under tls_layer before STARTTLS), in
/// blocking mode with SO_RCVTIMEO at most longest_blocking_recv; or -1: then
/// the driver goes through the transport's asynchronous operations.
template <class Transport>
int blocking_descriptor(Transport& t) noexcept
{
#if SMTP_HAS_BLOCKING_IO
    if constexpr (requires { { t.blocking_descriptor(std::chrono::microseconds(longest_blocking_recv)) } -> std::same_as<int>; })
        return t.blocking_descriptor(std::chrono::microseconds(longest_blocking_recv));
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

/// Reads what has come, at most `b.size()` octets, waiting for it until
/// `deadline`; end of stream is boost::asio::error::eof, as Asio reports it.
/// `fd` from blocking_descriptor(): recv itself waits (at most
/// longest_blocking_recv) while more than that is left; then, or when
/// recv's wait ended with nothing, poll waits, bounded by the deadline. (On
/// a socket in non-blocking mode this is still right: recv finds nothing
/// and poll waits.)
inline blocking_result blocking_read_some(int fd, boost::asio::mutable_buffer b,
                                          std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        const bool wait_in_recv = std::chrono::steady_clock::now() + longest_blocking_recv <= deadline;
        const ssize_t r = ::recv(fd, b.data(), b.size(), wait_in_recv ? 0 : MSG_DONTWAIT);
        if (r > 0)
            return {{}, static_cast<std::size_t>(r), false};
        if (r == 0)
            return {boost::asio::error::eof, 0, false};
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return {error_code(errno, boost::system::system_category()), 0, false};
        blocking_result w = wait_ready(fd, POLLIN, deadline); // nothing came in recv's wait, or none was allowed
        if (w.ec)
            return w;
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

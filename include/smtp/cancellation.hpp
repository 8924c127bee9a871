/// \file smtp/cancellation.hpp
/// SMTP_HAS_CANCELLATION: whether the Boost.Asio in use has per-operation
/// cancellation (Boost 1.77, Asio 1.19, and later), which every asynchronous
/// operation of the library then honours.
///
/// With it, an asynchronous operation takes the cancellation slot associated
/// with its completion handler (asio::bind_cancellation_slot, a coroutine's,
/// an awaitable operator's) and passes it on to the I/O it does: the
/// connect, the reads and writes, the TLS handshake, a pool's wait for a
/// session, a DNS lookup of smtp::dns::resolver. Terminal cancellation is supported (and every request that
/// includes it, such as cancellation_type::all); a request for partial or
/// total cancellation alone is ignored, because no SMTP exchange can stop
/// half-way and leave the session usable. A cancelled operation completes
/// with asio::error::operation_aborted and the session is broken afterwards
/// (errc::session_broken; QUIT and destruction stay safe); a message cut off
/// is never reported queued. The tutorial (docs/tutorial.md, "Cancellation")
/// has the details.
///
/// Boost 1.74 to 1.76 have no cancellation slots: SMTP_HAS_CANCELLATION is 0
/// there and the library works as before, without per-operation
/// cancellation (a deadline in connect_options::timeouts still ends any
/// operation).
#ifndef SMTP_CANCELLATION_HPP
#define SMTP_CANCELLATION_HPP

#include <boost/version.hpp>

/// 1 when Boost.Asio has per-operation cancellation (Boost 1.77, Asio 1.19, or later), else 0.
/// Boost's version decides, as the docs say it: Asio's own numbering is not Boost's.
#if BOOST_VERSION >= 107700
#define SMTP_HAS_CANCELLATION 1
#else
#define SMTP_HAS_CANCELLATION 0
#endif

#endif

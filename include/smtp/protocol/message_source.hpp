/// \file smtp/protocol/message_source.hpp
/// A message read a piece at a time (smtp::message_source): what the
/// transaction engine, send_message and the message builder's reader share.
#ifndef SMTP_PROTOCOL_MESSAGE_SOURCE_HPP
#define SMTP_PROTOCOL_MESSAGE_SOURCE_HPP

#include <smtp/version.hpp>

#include <cstddef>
#include <functional>

SMTP_NAMESPACE_BEGIN

/// A message read a piece at a time, for messages too large to hold in
/// memory: `read(buffer, n)` fills up to n octets and returns how many, 0 at
/// the end. With `rewind` (back to the start; false if it cannot), the
/// engine reads the message once to check it and learn its size before
/// anything is sent, as for a message in memory. Without it, the message is
/// checked while it is sent: SIZE is not declared, BODY=8BITMIME is declared
/// when the server offers it, and a problem found midway (a line too long,
/// 8-bit octets the server cannot take, UTF-8 headers without SMTPUTF8)
/// stops the transaction without its end of data: the connection is closed,
/// the server discards what it got, and the outcome is not_sent.
struct message_source {
    std::function<std::size_t(char*, std::size_t)> read;
    std::function<bool()> rewind{};
};

SMTP_NAMESPACE_END

#endif

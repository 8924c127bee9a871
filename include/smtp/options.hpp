/// \file smtp/options.hpp
///
/// What a session needs at run time: where to connect, how to name itself,
/// which CA to trust, and how long each phase may take.
#ifndef SMTP_OPTIONS_HPP
#define SMTP_OPTIONS_HPP

#include <smtp/protocol/reply_parser.hpp>
#include <smtp/protocol/transaction.hpp>
#include <smtp/version.hpp>

#include <chrono>
#include <cstdint>
#include <string>

SMTP_NAMESPACE_BEGIN

/// Per-phase time limits, RFC 5321 4.5.3.2's by default. Each limit covers
/// the whole phase (a server that sends one byte a minute is cut off at the
/// deadline, not at each read).
struct timeouts {
    std::chrono::milliseconds connect = std::chrono::minutes(1);   ///< resolve, TCP, TLS handshake
    std::chrono::milliseconds greeting = std::chrono::minutes(5);  ///< the 220 (4.5.3.2.1)
    std::chrono::milliseconds command = std::chrono::minutes(5);   ///< EHLO, AUTH, VRFY, NOOP, ...
    std::chrono::milliseconds mail = std::chrono::minutes(5);      ///< MAIL (4.5.3.2.2)
    std::chrono::milliseconds rcpt = std::chrono::minutes(5);      ///< RCPT (4.5.3.2.3)
    std::chrono::milliseconds data_init = std::chrono::minutes(2); ///< DATA's 354 (4.5.3.2.4)
    std::chrono::milliseconds data_block = std::chrono::minutes(3); ///< each write of data (4.5.3.2.5)
    std::chrono::milliseconds data_term = std::chrono::minutes(10); ///< the reply to the final dot (4.5.3.2.6)
};

struct connect_options {
    std::string host = "localhost";
    std::uint16_t port = 25;
    /// The name given in EHLO/HELO; empty: this machine's host name when it
    /// is a valid domain, else "localhost".
    std::string local_name{};
    /// PEM file of trusted CAs; empty: the system's trust store.
    std::string ca_file{};
    /// Local address to connect from; empty: any.
    std::string source_address{};
    smtp::timeouts timeouts{};
    reply_limits limits{};
    /// Most 334 challenges one AUTH exchange may take.
    unsigned max_auth_challenges = 8;
    /// How transactions may use the wire: PIPELINING and CHUNKING when the
    /// server offers them (both on by default), BDAT chunk size, bare CR/LF
    /// handling (smtp/protocol/transaction.hpp).
    transaction_settings transactions{};
};

SMTP_NAMESPACE_END

#endif

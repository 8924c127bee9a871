/// \file smtp/protocol/algorithms.hpp
///
/// Every protocol operation as an I/O-free algorithm over a session_state
/// (docs/protocol-core.md, "The algorithms"): each answers resume(state,
/// io_ec) with its next action (connect, write, read, tls_handshake, close,
/// done). smtp/detail/driver.hpp runs them over a transport; a test can run
/// them over a transcript.
#ifndef SMTP_PROTOCOL_ALGORITHMS_HPP
#define SMTP_PROTOCOL_ALGORITHMS_HPP

#include <smtp/protocol/algorithms/auth.hpp>
#include <smtp/protocol/algorithms/command.hpp>
#include <smtp/protocol/algorithms/ehlo.hpp>
#include <smtp/protocol/algorithms/greeting.hpp>
#include <smtp/protocol/algorithms/message.hpp>
#include <smtp/protocol/algorithms/next_action.hpp>
#include <smtp/protocol/algorithms/open.hpp>
#include <smtp/protocol/algorithms/quit.hpp>
#include <smtp/protocol/algorithms/session_state.hpp>
#include <smtp/protocol/algorithms/starttls.hpp>
#include <smtp/protocol/algorithms/transactions.hpp>
#include <smtp/protocol/session_rules.hpp>

#endif

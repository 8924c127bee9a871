/// \file smtp/protocol.hpp
///
/// The sans-I/O protocol core, all of it: replies and their parser, commands,
/// extensions and the capability record, the DATA encoder and the BDAT framer,
/// the transaction engine and the check of a message before connecting,
/// DKIM's canonicalisation and signature field (its crypto comes from outside).
/// No sockets, no Asio, no OpenSSL.
#ifndef SMTP_PROTOCOL_HPP
#define SMTP_PROTOCOL_HPP

#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/bdat_framer.hpp>
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/dane.hpp>
#include <smtp/protocol/data_encoder.hpp>
#include <smtp/protocol/diagnostics.hpp>
#include <smtp/protocol/dkim.hpp>
#include <smtp/protocol/envelope.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/extension_parameters.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/protocol/line_ends.hpp>
#include <smtp/protocol/message_check.hpp>
#include <smtp/protocol/message_scanner.hpp>
#include <smtp/protocol/message_source.hpp>
#include <smtp/protocol/mta_sts.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/protocol/retry_policy.hpp>
#include <smtp/protocol/sasl.hpp>
#include <smtp/protocol/send_request.hpp>
#include <smtp/protocol/transaction.hpp>
#include <smtp/protocol/transaction_result.hpp>
#include <smtp/protocol/xtext.hpp>

#endif

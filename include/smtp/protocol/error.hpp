/// \file smtp/protocol/error.hpp
///
/// The library's error codes and their category.
///
/// Every operation of the library comes in two forms: one that throws
/// smtp::system_error, and one that takes a boost::system::error_code& (and,
/// where there is more to say, an smtp::diagnostics&). The error codes below say
/// what went wrong; diagnostics say where (which argument), what happened in
/// words (diagnostics::detail_text()), and carry the server's reply when the
/// server refused.
#ifndef SMTP_PROTOCOL_ERROR_HPP
#define SMTP_PROTOCOL_ERROR_HPP

#include <smtp/version.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <ostream>
#include <string>
#include <type_traits>

SMTP_NAMESPACE_BEGIN

using error_code = boost::system::error_code;
using system_error = boost::system::system_error;

/// What went wrong. Values are stable; 0 is never used.
enum class errc {
    // --- Reply parser (RFC 5321 4.2) ------------------------------------
    need_more = 1,              ///< not an error: feed more bytes
    reply_code_invalid,         ///< not three digits, or the first is not 2..5
    reply_separator_invalid,    ///< the byte after the code is not ' ', '-' or CRLF
    reply_code_mismatch,        ///< a continuation line carries another code
    reply_line_too_long,        ///< a line is longer than reply_limits::max_line
    reply_too_long,             ///< a reply is longer than reply_limits::max_reply
    reply_too_many_lines,       ///< a reply has more lines than reply_limits::max_lines
    reply_bare_cr,              ///< CR not followed by LF inside a reply
    reply_bare_lf,              ///< LF not preceded by CR (rejected by default)
    reply_control_character,    ///< NUL or another control byte in reply text

    // --- Command arguments, checked before a byte is written -------------
    control_character,          ///< CR, LF, NUL or another control byte in an argument
    command_line_too_long,      ///< the command line would exceed its limit (RFC 5321 4.5.3.1.4)
    local_part_too_long,        ///< more than 64 octets (RFC 5321 4.5.3.1.1)
    domain_too_long,            ///< more than 255 octets (RFC 5321 4.5.3.1.2)
    path_too_long,              ///< more than 256 octets with the brackets (RFC 5321 4.5.3.1.3)
    angle_bracket_in_address,   ///< '<' or '>' inside an address
    address_syntax,             ///< not `local-part@domain` (or a valid special form)
    non_ascii_without_smtputf8, ///< 8-bit bytes where SMTPUTF8 is not in use
    invalid_utf8,               ///< SMTPUTF8 is in use but the bytes are not UTF-8
    empty_argument,             ///< a required argument is empty
    invalid_domain,             ///< not a domain name or an address literal
    invalid_parameter_keyword,  ///< ESMTP parameter keyword is not (ALPHA/DIGIT)*(ALPHA/DIGIT/-)
    invalid_parameter_value,    ///< ESMTP parameter value has '=', space or control bytes
    duplicate_parameter,        ///< the same ESMTP parameter given twice
    invalid_mechanism_name,     ///< not a SASL mechanism name (RFC 4422 3.1)
    invalid_command_verb,       ///< a raw command's verb is not letters, digits and '-'

    // --- DATA encoder ------------------------------------------------------
    data_bare_cr,               ///< bare CR in message data, with line_endings::reject
    data_bare_lf,               ///< bare LF in message data, with line_endings::reject
    data_line_too_long,         ///< a text line longer than the encoder's limit
    data_already_finished,      ///< encode() or finish() after finish()

    // --- Capabilities --------------------------------------------------------
    ehlo_reply_malformed,       ///< an EHLO line is not a keyword with parameters

    // --- Encodings -------------------------------------------------------------
    invalid_base64,             ///< not RFC 4648 base64

    // --- Replies to commands (the reply travels in diagnostics) ------------------
    transient_failure,          ///< 4yz reply
    permanent_failure,          ///< 5yz reply
    unexpected_reply,           ///< a 2yz/3yz code the command does not allow

    // --- Sessions --------------------------------------------------------------------
    timeout,                    ///< a phase took longer than its limit (connect_options::timeouts)
    connection_closed,          ///< the server closed the connection
    session_broken,             ///< an earlier I/O error left the session unusable
    starttls_not_offered,       ///< STARTTLS is required and the server's EHLO does not offer it
    no_common_mechanism,        ///< the server offers none of the auth policy's SASL mechanisms
    too_many_challenges,        ///< AUTH took more 334 challenges than allowed
    auth_incomplete,            ///< 235 before the mechanism was satisfied (SCRAM: no server proof)
    all_recipients_refused,     ///< every RCPT was refused; no message data was sent
    outcome_unknown,            ///< the connection failed after the final dot: the message may be queued
    script_mismatch,            ///< scripted transport: the client wrote what the script did not expect

    // --- SASL mechanisms (smtp/protocol/sasl.hpp) ------------------------------------
    sasl_unexpected_challenge,      ///< a challenge where the mechanism expects none
    sasl_malformed_challenge,       ///< a challenge the mechanism cannot parse or accept
    sasl_server_signature_mismatch, ///< the server did not prove it knows the password (SCRAM)
    sasl_server_error,              ///< the server reported an error inside the exchange
    sasl_invalid_credentials,       ///< credentials the mechanism cannot carry

    // --- Transactions (smtp/protocol/transaction.hpp): refused before a byte is sent --
    message_too_large,              ///< the message exceeds the server's SIZE limit
    eightbitmime_not_offered,       ///< the message has 8-bit octets and the server lacks 8BITMIME
    smtputf8_not_offered,           ///< a UTF-8 address or header and the server lacks SMTPUTF8
    binarymime_not_offered,         ///< BINARYMIME asked for; the server lacks CHUNKING or BINARYMIME
    dsn_not_offered,                ///< DSN parameters asked for and the server lacks DSN
    requiretls_not_offered,         ///< REQUIRETLS asked for and the server does not offer it
    requiretls_without_tls,         ///< REQUIRETLS asked for on a session that is not encrypted
    extension_not_offered,          ///< a message needs an extension the server does not offer (its keyword: diagnostics::field())
    chunking_not_offered,           ///< BDAT asked for and the server does not offer CHUNKING

    // --- Sessions, continued ------------------------------------------------------------
    unsolicited_reply,              ///< the server sent bytes no command asked for (reply injection)
    moved_from_session,             ///< the session was moved from (a transition consumed it): use the one it returned

    // --- The wrong server, or the wrong TLS mode for the port; AUTH refused -----------
    greeting_in_clear,              ///< tls::implicit, and the server greets in clear (OpenSSL's "wrong version number")
    no_greeting,                    ///< no greeting came (timeout or close): an implicit-TLS server waits for the client
    not_smtp,                       ///< the server's first bytes are not SMTP (an SSH or HTTP server, ...)
    auth_refused,                   ///< the server refused AUTH (4yz or 5yz but 421; the reply is in diagnostics)
    auth_in_clear,                  ///< AUTH would send credentials in clear and the policies do not allow it (auth::allow_plaintext)

    // --- Reading a message's headers from a source ------------------------------------
    header_block_too_long,          ///< envelope_from_source: no blank line ends the headers within its limit

    // --- Proxies (transport::socks5, transport::http_connect): the words in connect_failure_detail()
    proxy_refused,                  ///< the proxy would not connect to the mail server (its reply says why)
    proxy_auth_required,            ///< the proxy asks for credentials and none were given
    proxy_auth_refused,             ///< the proxy refused the credentials
    proxy_bad_reply,                ///< the proxy's reply is malformed (wrong version, address type, not HTTP)
    proxy_reply_too_long,           ///< the proxy's reply did not end within its bound
    proxy_closed,                   ///< the proxy closed the connection before the tunnel was up
    proxy_invalid_request,          ///< the mail server's name or the credentials cannot be sent to the proxy

    // --- DKIM signing (smtp/protocol/dkim.hpp, smtp/dkim.hpp) -------------------------
    dkim_invalid_message,           ///< the message cannot be signed: no From header, or a header line without a colon
    dkim_signing_failed,            ///< the message signer failed (its exception's text: diagnostics' text)

    // --- DANE (connect_options::tls.dane) ----------------------------------------------
    dane_in_clear,                  ///< DANE makes TLS mandatory and the TLS policy allows clear text
};

namespace detail {

class error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "smtp"; }

    std::string message(int ev) const override { return describe(static_cast<errc>(ev)); }

    static const char* describe(errc e) noexcept
    {
        switch (e) {
        case errc::need_more: return "more input is needed";
        case errc::reply_code_invalid: return "reply code is not three digits from 200 to 599";
        case errc::reply_separator_invalid: return "reply code is not followed by space, hyphen or CRLF";
        case errc::reply_code_mismatch: return "multi-line reply changes its code";
        case errc::reply_line_too_long: return "reply line exceeds the line limit";
        case errc::reply_too_long: return "reply exceeds the reply size limit";
        case errc::reply_too_many_lines: return "reply exceeds the line count limit";
        case errc::reply_bare_cr: return "reply contains a CR not followed by LF";
        case errc::reply_bare_lf: return "reply line ends with a bare LF";
        case errc::reply_control_character: return "reply contains a control character";
        case errc::control_character: return "contains CR, LF, NUL or another control character";
        case errc::command_line_too_long: return "command line exceeds its length limit";
        case errc::local_part_too_long: return "local part exceeds 64 octets";
        case errc::domain_too_long: return "domain exceeds 255 octets";
        case errc::path_too_long: return "path exceeds 256 octets";
        case errc::angle_bracket_in_address: return "contains '<' or '>'";
        case errc::address_syntax: return "is not a valid address (local-part@domain)";
        case errc::non_ascii_without_smtputf8: return "contains non-ASCII bytes but SMTPUTF8 is not in use";
        case errc::invalid_utf8: return "is not valid UTF-8";
        case errc::empty_argument: return "is empty";
        case errc::invalid_domain: return "is not a domain name or address literal";
        case errc::invalid_parameter_keyword: return "is not a valid ESMTP parameter keyword";
        case errc::invalid_parameter_value: return "is not a valid ESMTP parameter value";
        case errc::duplicate_parameter: return "is given more than once";
        case errc::invalid_mechanism_name: return "is not a valid SASL mechanism name";
        case errc::invalid_command_verb: return "is not a command verb (letters, digits, '-')";
        case errc::data_bare_cr: return "message data contains a bare CR";
        case errc::data_bare_lf: return "message data contains a bare LF";
        case errc::data_line_too_long: return "message data has a line longer than the limit";
        case errc::data_already_finished: return "message data was already finished";
        case errc::ehlo_reply_malformed: return "EHLO reply line is malformed";
        case errc::invalid_base64: return "is not valid base64";
        case errc::transient_failure: return "server replied with a transient failure (4yz)";
        case errc::permanent_failure: return "server replied with a permanent failure (5yz)";
        case errc::unexpected_reply: return "server replied with a code not allowed for the command";
        case errc::timeout: return "the server did not answer in time";
        case errc::connection_closed: return "the server closed the connection";
        case errc::session_broken: return "the session is unusable after an earlier I/O error";
        case errc::starttls_not_offered: return "TLS is required but the server does not offer STARTTLS";
        case errc::no_common_mechanism: return "the server offers none of the allowed AUTH mechanisms";
        case errc::too_many_challenges: return "the AUTH exchange took too many challenges";
        case errc::auth_incomplete: return "the server accepted AUTH before the mechanism could verify it";
        case errc::all_recipients_refused: return "the server refused every recipient (each reply is in the transaction result)";
        case errc::outcome_unknown:
            return "the connection failed after the end of data: the message may or may not have been queued";
        case errc::script_mismatch: return "the client wrote what the test script did not expect";
        case errc::sasl_unexpected_challenge: return "server sent an AUTH challenge the mechanism does not expect";
        case errc::sasl_malformed_challenge: return "server sent a malformed AUTH challenge";
        case errc::sasl_server_signature_mismatch: return "server failed to prove it knows the password (signature mismatch)";
        case errc::sasl_server_error: return "server reported an error during authentication";
        case errc::sasl_invalid_credentials: return "credentials are empty or contain bytes the AUTH mechanism cannot carry";
        case errc::message_too_large: return "the message is larger than the server's SIZE limit";
        case errc::eightbitmime_not_offered: return "has 8-bit octets but the server does not offer 8BITMIME";
        case errc::smtputf8_not_offered: return "is not ASCII but the server does not offer SMTPUTF8";
        case errc::binarymime_not_offered: return "needs BINARYMIME but the server does not offer CHUNKING and BINARYMIME";
        case errc::dsn_not_offered: return "requested but the server does not offer DSN";
        case errc::requiretls_not_offered: return "requested but the server does not offer REQUIRETLS";
        case errc::requiretls_without_tls: return "requested on a session that is not encrypted";
        case errc::extension_not_offered: return "is needed by the message but the server does not offer it";
        case errc::chunking_not_offered: return "BDAT needs CHUNKING, which the server does not offer";
        case errc::unsolicited_reply: return "the server sent a reply no command asked for";
        case errc::header_block_too_long: return "the message's header block has no end within the limit";
        case errc::moved_from_session:
            return "the session was moved from: a transition consumed it, use the session it returned";
        case errc::greeting_in_clear: return "the server greets in clear: use tls::starttls, usually port 587";
        case errc::no_greeting:
            return "the server sent no greeting: if it expects TLS at once, use tls::implicit, usually port 465";
        case errc::not_smtp: return "not an SMTP server";
        case errc::auth_refused: return "authentication refused";
        case errc::auth_in_clear:
            return "AUTH would send the credentials in clear: the connection is not encrypted and the policies do not "
                   "allow AUTH in clear (auth::allow_plaintext)";
        case errc::proxy_refused: return "the proxy refused to connect to the mail server";
        case errc::proxy_auth_required: return "the proxy asks for credentials";
        case errc::proxy_auth_refused: return "the proxy refused the credentials";
        case errc::proxy_bad_reply: return "the proxy's reply is malformed";
        case errc::proxy_reply_too_long: return "the proxy's reply is longer than its limit";
        case errc::proxy_closed: return "the proxy closed the connection before the tunnel was up";
        case errc::proxy_invalid_request:
            return "the mail server's name or the proxy credentials cannot be sent to the proxy";
        case errc::dkim_invalid_message:
            return "the message cannot be DKIM-signed: it has no From header, or a header line without a colon";
        case errc::dkim_signing_failed: return "the message could not be DKIM-signed";
        case errc::dane_in_clear:
            return "DANE (connect_options::tls.dane) makes TLS mandatory and the TLS policy allows clear text: use "
                   "tls::starttls or tls::implicit";
        }
        return "unknown smtp error";
    }
};

} // namespace detail

/// The category of every smtp::errc.
inline const boost::system::error_category& smtp_category() noexcept
{
    static const detail::error_category cat;
    return cat;
}

inline error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), smtp_category()}; }

/// Prints the error's message (for logs and test frameworks).
inline std::ostream& operator<<(std::ostream& os, errc e) { return os << detail::error_category::describe(e); }

SMTP_NAMESPACE_END

/// \cond
template <>
struct boost::system::is_error_code_enum<smtp::errc> : std::true_type {};
/// \endcond

#endif

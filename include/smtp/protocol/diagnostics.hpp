/// \file smtp/protocol/diagnostics.hpp
///
/// What goes with an error code: which argument was at fault, what happened
/// in words (the host, port and addresses of a failed connect, the phase and
/// length of a timeout, the first bytes of a server that is not SMTP), and the
/// server's reply when the server refused. The error_code says what;
/// diagnostics say where and what the server said (Boost.MySQL's split).
#ifndef SMTP_PROTOCOL_DIAGNOSTICS_HPP
#define SMTP_PROTOCOL_DIAGNOSTICS_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/version.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

SMTP_NAMESPACE_BEGIN

class diagnostics {
public:
    /// The argument at fault ("MAIL FROM address"), empty when none is.
    std::string_view field() const noexcept { return field_; }
    /// What happened, in words, when there is more to say than the error
    /// code: "connect to mail.example.org port 587: 127.0.0.1: Connection
    /// refused", "no reply to RCPT within 300 s", "got 'SSH-2.0-OpenSSH_9.2'".
    /// Empty when there is nothing more.
    const std::string& detail_text() const noexcept { return detail_; }
    /// The server's reply, when the server refused.
    const std::optional<reply>& server_reply() const noexcept { return reply_; }

    void clear() noexcept
    {
        field_ = {};
        detail_.clear();
        reply_.reset();
    }
    /// `name` must be a string literal (diagnostics keep the view).
    void set_field(std::string_view name) noexcept { field_ = name; }
    void set_detail_text(std::string text) { detail_ = std::move(text); }
    void set_reply(reply r) { reply_ = std::move(r); }

    /// One line for a person: the field, the error's message, the detail and
    /// the server's reply, each when there is one: "RCPT TO address contains
    /// CR, LF, NUL or ...", "server replied with a permanent failure (5yz):
    /// 550 5.1.1 No such user", "not an SMTP server: got 'SSH-2.0-...'". The
    /// message is left out when the detail already says it ("connect to
    /// localhost port 25: 127.0.0.1: Connection refused").
    std::string describe(const error_code& ec) const
    {
        std::string out;
        if (!field_.empty()) {
            out.append(field_);
            out.push_back(' ');
        }
        const std::string message = ec.message();
        if (detail_.empty() || detail_.find(message) == std::string::npos) {
            out += message;
            if (!detail_.empty())
                out += ": ";
        }
        out += detail_;
        if (reply_) {
            out += ": ";
            out += std::to_string(reply_->code().value());
            out.push_back(' ');
            out += reply_->message();
        }
        return out;
    }

private:
    std::string_view field_{};
    std::string detail_{};
    std::optional<reply> reply_{};
};

/// The exception thrown by the throwing forms: the error code, and the
/// diagnostics that came with it. what() is diagnostics::describe().
class error_with_diagnostics : public system_error {
public:
    error_with_diagnostics(const error_code& ec, diagnostics diag)
        : system_error(ec), diag_(std::move(diag)), what_(diag_.describe(ec))
    {}
    const diagnostics& get_diagnostics() const noexcept { return diag_; }
    /// diagnostics::describe(): the field, the problem, the detail and the server's reply, once each.
    const char* what() const noexcept override { return what_.c_str(); }

private:
    diagnostics diag_;
    std::string what_;
};

namespace detail {
inline void throw_on_error(const error_code& ec, const diagnostics& diag)
{
    if (ec)
        throw error_with_diagnostics(ec, diag);
}
} // namespace detail

SMTP_NAMESPACE_END

#endif

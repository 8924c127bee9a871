// A SASL mechanism of one's own: ANONYMOUS (RFC 4505), one initial response
// carrying trace information and no secret. examples/custom_policies.cpp
// plugs it into a session; tests/test_sasl.cpp tests it; docs/policies.md
// and docs/protocol-core.md show it.
#ifndef SMTP_EXAMPLES_SASL_ANONYMOUS_HPP
#define SMTP_EXAMPLES_SASL_ANONYMOUS_HPP

#include <smtp/protocol/sasl.hpp>

#include <string>
#include <string_view>

//! [mechanism]
/// ANONYMOUS (RFC 4505): one initial response, the trace information.
class anonymous {
public:
    static constexpr std::string_view name = "ANONYMOUS";

    explicit anonymous(const smtp::sasl::credentials& c) noexcept : trace_(c.username) {}

    bool initial_response(std::string& out, smtp::error_code& ec)
    {
        ec = {};
        for (char ch : trace_)
            if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) {
                ec = smtp::errc::sasl_invalid_credentials;
                return false;
            }
        out.append(trace_);
        sent_ = true;
        return true;
    }

    void challenge(std::string_view, std::string&, smtp::error_code& ec)
    {
        ec = smtp::errc::sasl_unexpected_challenge;
        sent_ = false;
    }

    bool complete() const noexcept { return sent_; }

private:
    std::string_view trace_; // the credentials are views: the caller keeps them alive
    bool sent_ = false;
};

static_assert(smtp::sasl::mechanism<anonymous>);
//! [mechanism]

#endif

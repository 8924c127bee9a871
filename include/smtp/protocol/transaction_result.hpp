/// \file smtp/protocol/transaction_result.hpp
///
/// What became of one message: its outcome (not sent, queued, refused,
/// unknown), every reply, and each recipient's verdict (under LMTP, its own
/// delivery reply). The same result on every send path.
#ifndef SMTP_PROTOCOL_TRANSACTION_RESULT_HPP
#define SMTP_PROTOCOL_TRANSACTION_RESULT_HPP

#include <smtp/protocol/error.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

SMTP_NAMESPACE_BEGIN

enum class transaction_outcome {
    not_sent, ///< the server did not get the whole message: safe to send again
    queued,   ///< the server took responsibility (for LMTP: for at least one recipient)
    refused,  ///< the server refused it (MAIL, every recipient, DATA, or the data)
    unknown,  ///< the data was sent but its reply was lost: do not blindly resend
};

inline std::ostream& operator<<(std::ostream& os, transaction_outcome o)
{
    switch (o) {
    case transaction_outcome::not_sent: return os << "not sent";
    case transaction_outcome::queued: return os << "queued";
    case transaction_outcome::refused: return os << "refused";
    case transaction_outcome::unknown: return os << "unknown";
    }
    return os << "?";
}

/// An optional reply kept on the heap: a pointer's size where a
/// std::optional of a reply takes a reply's, for what most results leave
/// empty (the LMTP delivery reply of each recipient: a send_all to many
/// recipients keeps one entry for each of them, and keeping is what costs).
/// Used as that std::optional would be; a copy copies the reply.
class optional_reply {
public:
    optional_reply() noexcept = default;
    optional_reply(std::nullopt_t) noexcept {}
    optional_reply(reply r) : p_(std::make_unique<reply>(std::move(r))) {}
    optional_reply(const optional_reply& o) : p_(o.p_ ? std::make_unique<reply>(*o.p_) : nullptr) {}
    optional_reply(optional_reply&&) noexcept = default;
    optional_reply& operator=(const optional_reply& o)
    {
        if (this != &o)
            p_ = o.p_ ? std::make_unique<reply>(*o.p_) : nullptr;
        return *this;
    }
    optional_reply& operator=(optional_reply&&) noexcept = default;
    optional_reply& operator=(std::nullopt_t) noexcept
    {
        p_.reset();
        return *this;
    }
    optional_reply& operator=(reply r)
    {
        emplace(std::move(r));
        return *this;
    }

    bool has_value() const noexcept { return p_ != nullptr; }
    explicit operator bool() const noexcept { return has_value(); }
    const reply& operator*() const noexcept { return *p_; }
    reply& operator*() noexcept { return *p_; }
    const reply* operator->() const noexcept { return p_.get(); }
    reply* operator->() noexcept { return p_.get(); }
    const reply& value() const
    {
        if (!p_)
            throw std::bad_optional_access();
        return *p_;
    }
    reply& emplace(reply r)
    {
        if (p_)
            *p_ = std::move(r);
        else
            p_ = std::make_unique<reply>(std::move(r));
        return *p_;
    }
    reply& emplace(const reply_view& v) { return emplace(reply(v)); }
    void reset() noexcept { p_.reset(); }

private:
    std::unique_ptr<reply> p_;
};

struct recipient_result {
    std::string address;
    reply rcpt_reply{};       ///< the reply to RCPT TO; empty when none came
    optional_reply delivery{}; ///< LMTP: this recipient's reply after the data

    /// RCPT accepted (and, under LMTP, the message delivered).
    bool accepted() const noexcept { return decisive().code().is_positive(); }
    /// Refused with 4yz: worth trying again later.
    bool transient() const noexcept { return decisive().code().is_transient(); }
    /// Refused with 5yz.
    bool permanent() const noexcept { return decisive().code().is_permanent(); }
    /// The reply that decided: the delivery reply under LMTP when there is one.
    const reply& decisive() const noexcept
    {
        return delivery && rcpt_reply.code().is_positive() ? *delivery : rcpt_reply;
    }
};

/// One message's result, on every send path.
struct transaction_result {
    transaction_outcome outcome = transaction_outcome::not_sent;
    reply mail_reply{};
    std::vector<recipient_result> recipients{};
    reply data_reply{};  ///< DATA's reply (354, or its refusal); empty with BDAT
    reply final_reply{}; ///< the reply to the end of data (under LMTP: in each recipient's delivery)
    /// Why it was not queued (clear when it was; some recipients may still
    /// be refused). The reply that refused it is in the fields above.
    error_code error{};
    /// Transactions this result sums up: 1, or more when it was retried
    /// (smtp/protocol/retry_policy.hpp). The replies above are the last
    /// attempt's; each recipient's, the last attempt that had it.
    unsigned attempts = 1;

    bool queued() const noexcept { return outcome == transaction_outcome::queued; }
    std::size_t accepted_count() const noexcept
    {
        return static_cast<std::size_t>(std::count_if(recipients.begin(), recipients.end(),
                                                      [](const recipient_result& r) { return r.accepted(); }));
    }
    /// smtplib's sendmail result: each refused recipient with the reply that refused it.
    std::map<std::string, reply> refused() const
    {
        std::map<std::string, reply> out;
        for (const auto& r : recipients)
            if (r.decisive().code().is_failure())
                out.emplace(r.address, r.decisive());
        return out;
    }
};

SMTP_NAMESPACE_END

#endif

// examples/mt_priority.hpp: an SMTP extension the library does not know,
// written outside it: MT-PRIORITY (RFC 6710), message transfer priorities.
//
// The server lists "MT-PRIORITY [policy]" in its EHLO reply; a message
// carries "MT-PRIORITY=n" on MAIL FROM, n from -9 (lowest) to 9 (highest).
// A message may require the extension (then a server that does not offer it
// is refused before a byte is sent) or use it only if offered.
//
// Used by examples/custom_extension.cpp and tests/test_extensions.cpp.
#ifndef SMTP_EXAMPLES_MT_PRIORITY_HPP
#define SMTP_EXAMPLES_MT_PRIORITY_HPP

#include <smtp/protocol/extensions.hpp>

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

//! [extension]
struct mt_priority {
    // --- What the server offers: its EHLO keyword and parameters -------------------
    static constexpr std::string_view keyword = "MT-PRIORITY";
    /// The server's priority assignment policy ("MIXER", "STANAG4406",
    /// "NSEP"), empty when it names none.
    using value_type = std::string;
    static std::optional<std::string> parse(std::string_view params) { return std::string(params); }

    // --- What a message asks: send_options::set<mt_priority>(...) -------------------
    struct request_type {
        int priority = 0;       ///< -9 .. 9
        bool required = false;  ///< true: refuse a server without MT-PRIORITY; false: use it if offered
    };

    // --- The MAIL parameter it adds -------------------------------------------------
    /// RFC 6710 3: the MAIL FROM line may grow by 16 octets.
    static constexpr smtp::parameter_spec mail_params[] = {{"MT-PRIORITY", 16}};

    static bool required(const smtp::mail_context& m)
    {
        const request_type* r = m.request<mt_priority>();
        return r != nullptr && r->required;
    }
    static void mail(smtp::mail_context& m, const std::string& /*policy*/)
    {
        const request_type* r = m.request<mt_priority>();
        if (r == nullptr)
            return;
        if (r->priority < -9 || r->priority > 9)
            return m.refuse(smtp::errc::invalid_parameter_value, keyword);
        char digits[4];
        const auto end = std::to_chars(digits, digits + sizeof digits, r->priority).ptr;
        m.add("MT-PRIORITY", std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
};

static_assert(smtp::transaction_extension<mt_priority>);
//! [extension]

#endif

// SASL mechanisms the unit tests drive sessions with (test_session.cpp,
// test_hostile.cpp): behaviours no real mechanism has, for the session's
// bounds to stop.
#ifndef SMTP_TESTS_TEST_MECHANISMS_HPP
#define SMTP_TESTS_TEST_MECHANISMS_HPP

#include <smtp/protocol/sasl.hpp>

#include <string>
#include <string_view>

/// A mechanism that answers every challenge, forever: only the session's
/// bound on challenges (connect_options::max_auth_challenges) stops it.
struct chatty {
    static constexpr std::string_view name = "X-CHATTY";
    explicit chatty(const smtp::sasl::credentials&) {}
    bool initial_response(std::string&, smtp::error_code&) { return false; }
    void challenge(std::string_view, std::string& out, smtp::error_code&) { out += "more"; }
    bool complete() const { return false; }
};
static_assert(smtp::sasl::mechanism<chatty>);

#endif

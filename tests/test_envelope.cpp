// The envelope read from a message's headers (smtplib's send_message).
#define BOOST_TEST_MODULE envelope
#include <smtp/protocol/envelope.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using strings = std::vector<std::string>;

BOOST_AUTO_TEST_CASE(from_to_cc_bcc)
{
    const std::string m = "From: Author <author@example.com>\r\n"
                          "To: \"Doe, John\" <john@example.com>, jane@example.com\r\n"
                          "Cc: team: a@example.com, b@example.com (the b);\r\n"
                          "Bcc: hidden@example.com\r\n"
                          "Subject: hi\r\n"
                          "\r\n"
                          "Bcc: this is the body, not a header\r\n";
    const auto e = smtp::envelope_from_headers(m);
    BOOST_TEST(e.from == "author@example.com");
    const strings expected{"john@example.com", "jane@example.com", "a@example.com", "b@example.com",
                           "hidden@example.com"};
    BOOST_TEST(e.recipients == expected, boost::test_tools::per_element());
    BOOST_TEST(e.message.find("hidden@example.com") == std::string::npos);
    BOOST_TEST(e.message.find("Bcc: this is the body") != std::string::npos);
    BOOST_TEST(e.message.size() == m.size() - std::string("Bcc: hidden@example.com\r\n").size());
}

BOOST_AUTO_TEST_CASE(folded_headers_case_and_lf_line_ends)
{
    const std::string m = "from: a@example.com\n"
                          "TO: one@example.com,\n"
                          "\ttwo@example.com\n"
                          "bcc: x@example.com,\n"
                          " y@example.com\n"
                          "\n"
                          "body\n";
    const auto e = smtp::envelope_from_headers(m);
    BOOST_TEST(e.from == "a@example.com");
    const strings expected{"one@example.com", "two@example.com", "x@example.com", "y@example.com"};
    BOOST_TEST(e.recipients == expected, boost::test_tools::per_element());
    BOOST_TEST(e.message == "from: a@example.com\nTO: one@example.com,\n\ttwo@example.com\n\nbody\n");
}

BOOST_AUTO_TEST_CASE(sender_wins_over_from_and_resent_blocks)
{
    const auto e = smtp::envelope_from_headers("From: a@x.org, b@x.org\r\nSender: s@x.org\r\nTo: t@x.org\r\n\r\n");
    BOOST_TEST(e.from == "s@x.org");
    const auto r = smtp::envelope_from_headers("Resent-From: r@x.org\r\nResent-Date: now\r\nResent-To: new@x.org\r\n"
                                               "Resent-Bcc: secret@x.org\r\nFrom: a@x.org\r\nTo: old@x.org\r\n\r\n");
    BOOST_TEST(r.from == "r@x.org");
    const strings expected{"new@x.org", "secret@x.org"};
    BOOST_TEST(r.recipients == expected, boost::test_tools::per_element());
    BOOST_TEST(r.message.find("secret@x.org") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(no_headers_no_envelope)
{
    const auto e = smtp::envelope_from_headers("\r\njust a body\r\n");
    BOOST_TEST(e.from.empty());
    BOOST_TEST(e.recipients.empty());
    BOOST_TEST(e.message == "\r\njust a body\r\n");
}

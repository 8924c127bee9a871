// Extensions that own their MAIL and RCPT parameters (smtp/protocol/extensions.hpp,
// extension_parameters.hpp): a user-defined extension the library does not
// know, MT-PRIORITY (RFC 6710, examples/mt_priority.hpp), planned by the
// engine from a capability record that knows it and from one that does not
// (smtp::extensions<...>), required or used only if offered; what the
// parameter writer refuses (an undeclared keyword, a repeated one, a bad
// value, a line over its allowance); a per-recipient parameter; the session
// with the extensions policy over the scripted transport; and bdat() on a
// session that did not get CHUNKING.
#define BOOST_TEST_MODULE extensions
#include <smtp/protocol/extensions.hpp>

#include <smtp/client.hpp>
#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/reply_parser.hpp>
#include <smtp/protocol/transaction.hpp>
#include <smtp/transport/scripted.hpp>

#include "mt_priority.hpp"
#include "scripted_server.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using smtp::errc;
using smtp::transaction;

namespace {

template <class Caps = smtp::capabilities>
Caps caps_from(const std::string& ehlo)
{
    smtp::reply_parser p;
    smtp::reply_view v;
    smtp::error_code ec;
    p.put(ehlo, v, ec);
    BOOST_REQUIRE(!ec);
    return Caps::from_ehlo(v);
}

using caps_with_priority = smtp::capabilities_with<mt_priority>;

const std::string offers_priority = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 MT-PRIORITY MIXER\r\n";
const std::string offers_no_priority = "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n";

const std::vector<smtp::recipient> one{{"b@example.org"}};

smtp::send_options priority(int p, bool required)
{
    smtp::send_options o;
    o.set<mt_priority>({p, required});
    return o;
}

/// The first write of a transaction (MAIL, RCPTs and DATA when pipelined).
std::string first_write(transaction& t)
{
    std::string out;
    if (t.next() == transaction::want::write)
        t.write(out);
    return out;
}

} // namespace

// --- The engine, with a record that knows the extension ----------------------------

BOOST_AUTO_TEST_CASE(offered_priority_goes_on_mail_after_the_built_ins)
{
    const auto caps = caps_from<caps_with_priority>(offers_priority);
    BOOST_TEST(*caps.get<mt_priority>() == "MIXER");
    const auto opts = priority(-3, false);
    transaction t("a@example.org", one, "hi\r\n", opts, caps, {});
    BOOST_REQUIRE(!t.error());
    BOOST_TEST(first_write(t) == "MAIL FROM:<a@example.org> SIZE=4 MT-PRIORITY=-3\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
}

BOOST_AUTO_TEST_CASE(required_and_not_offered_is_refused_before_a_byte)
{
    const auto caps = caps_from<caps_with_priority>(offers_no_priority);
    const auto opts = priority(5, true);
    transaction t("a@example.org", one, "hi\r\n", opts, caps, {});
    BOOST_TEST(t.error() == errc::extension_not_offered);
    BOOST_TEST(t.diag().field() == "MT-PRIORITY");
    BOOST_TEST((t.next() == transaction::want::done));
    BOOST_TEST(first_write(t).empty());
    BOOST_TEST(t.result().outcome == smtp::transaction_outcome::not_sent);
    BOOST_TEST(smtp::diagnostics().describe(t.error()).find("does not offer") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(use_if_offered_and_not_offered_sends_without_it)
{
    const auto caps = caps_from<caps_with_priority>(offers_no_priority);
    const auto opts = priority(5, false);
    transaction t("a@example.org", one, "hi\r\n", opts, caps, {});
    BOOST_REQUIRE(!t.error());
    BOOST_TEST(first_write(t) == "MAIL FROM:<a@example.org> SIZE=4\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
}

BOOST_AUTO_TEST_CASE(no_request_no_parameter)
{
    const auto caps = caps_from<caps_with_priority>(offers_priority);
    transaction t("a@example.org", one, "hi\r\n", smtp::send_options{}, caps, {});
    BOOST_REQUIRE(!t.error());
    BOOST_TEST(first_write(t).find("MT-PRIORITY") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_value_out_of_range_is_refused)
{
    const auto caps = caps_from<caps_with_priority>(offers_priority);
    for (int p : {-10, 10}) {
        const auto opts = priority(p, false);
        transaction t("a@example.org", one, "hi\r\n", opts, caps, {});
        BOOST_TEST(t.error() == errc::invalid_parameter_value);
        BOOST_TEST(t.diag().field() == "MT-PRIORITY");
        BOOST_TEST(first_write(t).empty());
    }
    for (int p : {-9, 0, 9}) {
        const auto opts = priority(p, true);
        transaction t("a@example.org", one, "hi\r\n", opts, caps, {});
        BOOST_TEST(!t.error());
        BOOST_TEST(first_write(t).find(" MT-PRIORITY=" + std::to_string(p) + "\r\n") != std::string::npos);
    }
}

// --- The engine, with the built-ins' record and an extensions list ----------------

BOOST_AUTO_TEST_CASE(a_record_that_does_not_know_it_reads_the_keyword_line)
{
    const auto caps = caps_from(offers_priority); // smtp::capabilities: no slot for mt_priority
    const auto opts = priority(2, true);
    transaction t("a@example.org", one, "hi\r\n", opts, caps, {}, {}, smtp::extensions<mt_priority>{});
    BOOST_REQUIRE(!t.error());
    BOOST_TEST(first_write(t).find("MAIL FROM:<a@example.org> SIZE=4 MT-PRIORITY=2\r\n") == 0u);

    const auto without = caps_from(offers_no_priority);
    transaction u("a@example.org", one, "hi\r\n", opts, without, {}, {}, smtp::extensions<mt_priority>{});
    BOOST_TEST(u.error() == errc::extension_not_offered);
    // Without the extension in the list, the request is not seen at all.
    transaction v("a@example.org", one, "hi\r\n", opts, caps, {});
    BOOST_REQUIRE(!v.error());
    BOOST_TEST(first_write(v).find("MT-PRIORITY") == std::string::npos);
}

// --- What the parameter writer refuses --------------------------------------------

namespace {

/// Test extensions, each misbehaving in one way (or not), keyed on XTEST.
template <int Mode>
struct xtest {
    static constexpr std::string_view keyword = "XTEST";
    using value_type = smtp::ext::flag;
    static std::optional<smtp::ext::flag> parse(std::string_view) { return smtp::ext::flag{}; }
    using request_type = std::string;
    static constexpr smtp::parameter_spec mail_params[] = {
        {"XTEST", 10}, {"XTEXT", 40, smtp::parameter_encoding::xtext}, {"SIZE", 0}, {"BAD KEY", 0}};
    static void mail(smtp::mail_context& m, smtp::ext::flag)
    {
        const std::string* v = m.request<xtest>();
        if (v == nullptr)
            return;
        if constexpr (Mode == 0) { // fine
            m.add("XTEST", *v);
        } else if constexpr (Mode == 1) { // a keyword it did not declare
            m.add("XOTHER", *v);
        } else if constexpr (Mode == 2) { // SIZE, which the SIZE extension already wrote
            m.add("SIZE", "1");
        } else if constexpr (Mode == 3) { // the same keyword twice
            m.add("XTEST", *v);
            m.add("XTEST", *v);
        } else if constexpr (Mode == 4) { // xtext
            m.add("XTEXT", *v);
        } else if constexpr (Mode == 5) { // a declared keyword that is not an esmtp-keyword
            m.add("BAD KEY");
        }
    }
};

/// A per-recipient parameter: XRCPT=<the recipient's position>.
struct xrcpt {
    static constexpr std::string_view keyword = "XRCPT";
    using value_type = smtp::ext::flag;
    static std::optional<smtp::ext::flag> parse(std::string_view) { return smtp::ext::flag{}; }
    static constexpr smtp::parameter_spec rcpt_params[] = {{"XRCPT", 20, smtp::parameter_encoding::xtext}};
    static void rcpt(smtp::rcpt_context& r, smtp::ext::flag) { r.add("XRCPT", "to " + r.to().address); }
};

template <int Mode>
transaction plan_with(const std::string& value, const std::string& ehlo = "250-mx\r\n250-SIZE\r\n250 XTEST\r\n")
{
    static const auto caps = caps_from<smtp::capabilities_with<xtest<Mode>>>(ehlo);
    smtp::send_options o;
    o.set<xtest<Mode>>(value);
    return transaction("a@example.org", one, "hi\r\n", o, caps, {});
}

} // namespace

BOOST_AUTO_TEST_CASE(the_writer_takes_declared_keywords_once_with_valid_values)
{
    auto ok = plan_with<0>("v1");
    BOOST_REQUIRE(!ok.error());
    BOOST_TEST(first_write(ok).find("MAIL FROM:<a@example.org> SIZE=4 XTEST=v1\r\n") == 0u);

    auto undeclared = plan_with<1>("v1");
    BOOST_TEST(undeclared.error() == errc::invalid_parameter_keyword);
    BOOST_TEST(first_write(undeclared).empty());

    auto again = plan_with<2>("v1");
    BOOST_TEST(again.error() == errc::duplicate_parameter);
    BOOST_TEST(again.diag().field() == "SIZE");
    auto twice = plan_with<3>("v1");
    BOOST_TEST(twice.error() == errc::duplicate_parameter);

    auto bad_key = plan_with<5>("v1");
    BOOST_TEST(bad_key.error() == errc::invalid_parameter_keyword);

    // Verbatim values must be esmtp-values: no space, no '=', no control.
    for (const char* v : {"a b", "a=b", "a\r\nRSET", ""}) {
        auto bad = plan_with<0>(v);
        BOOST_TEST(bad.error(), v);
        BOOST_TEST(bad.diag().field() == "XTEST");
        BOOST_TEST(first_write(bad).empty());
    }
    // xtext takes anything, encoded.
    auto x = plan_with<4>("a b=c+\r\n");
    BOOST_REQUIRE(!x.error());
    BOOST_TEST(first_write(x).find(" XTEXT=a+20b+3Dc+2B+0D+0A\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_line_may_grow_by_the_allowances_of_what_was_written)
{
    // A long sender; XTEST may add 10 octets past 512, so a value that
    // takes the line to 522 passes and one more octet does not.
    const std::string label(60, 'b');
    const std::string from = std::string(64, 'a') + "@" + label + "." + label + "." + label + ".org";
    const auto caps = caps_from<smtp::capabilities_with<xtest<0>>>("250-mx\r\n250 XTEST\r\n");
    const std::size_t base = std::string("MAIL FROM:<" + from + "> XTEST=\r\n").size();
    for (std::size_t extra : {std::size_t{0}, std::size_t{1}}) {
        smtp::send_options o;
        o.set<xtest<0>>(std::string(522 - base + extra, 'v'));
        transaction t(from, one, "hi\r\n", o, caps, {});
        if (extra == 0) {
            BOOST_TEST(!t.error());
            BOOST_TEST(first_write(t).find("\r\n") == 522u - 2);
        } else {
            BOOST_TEST(t.error() == errc::command_line_too_long);
            BOOST_TEST(first_write(t).empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(an_extension_adds_a_parameter_to_each_rcpt)
{
    const auto caps = caps_from<smtp::capabilities_with<xrcpt>>("250-mx\r\n250-PIPELINING\r\n250 XRCPT\r\n");
    const std::vector<smtp::recipient> two{{"b@example.org"}, {"c@example.org"}};
    transaction t("a@example.org", two, "hi\r\n", smtp::send_options{}, caps, {});
    BOOST_REQUIRE(!t.error());
    BOOST_TEST(first_write(t) == "MAIL FROM:<a@example.org>\r\n"
                                 "RCPT TO:<b@example.org> XRCPT=to+20b@example.org\r\n"
                                 "RCPT TO:<c@example.org> XRCPT=to+20c@example.org\r\n"
                                 "DATA\r\n");
    const auto without = caps_from<smtp::capabilities_with<xrcpt>>("250-mx\r\n250 PIPELINING\r\n");
    transaction u("a@example.org", two, "hi\r\n", smtp::send_options{}, without, {});
    BOOST_TEST(first_write(u).find("XRCPT") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(send_options_slots_are_per_type)
{
    smtp::send_options o;
    BOOST_TEST(o.get<mt_priority>() == nullptr);
    o.set<mt_priority>({3, true});
    o.set<xtest<0>>("x");
    o.set<mt_priority>({4, false}); // replaces
    BOOST_REQUIRE(o.get<mt_priority>() != nullptr);
    BOOST_TEST(o.get<mt_priority>()->priority == 4);
    BOOST_TEST(*o.get<xtest<0>>() == "x");
    BOOST_TEST(o.get<xtest<1>>() == nullptr);
    const smtp::send_options copy = o;
    o.extensions.reset<mt_priority>();
    BOOST_TEST(o.get<mt_priority>() == nullptr);
    BOOST_TEST(copy.get<mt_priority>()->priority == 4);
}

// --- The session, with the extensions policy --------------------------------------

namespace {
template <class... Ps>
using scripted = smtp::policies<smtp::transport::scripted, smtp::tls::none, Ps...>;
using with_priority = scripted<smtp::extensions<mt_priority>>;
} // namespace

static_assert(std::same_as<with_priority::extensions, smtp::extensions<mt_priority>>);
static_assert(std::same_as<scripted<>::extensions, smtp::extensions<>>);
static_assert(std::same_as<smtp::capabilities_for_t<with_priority::extensions>, caps_with_priority>);
static_assert(std::same_as<smtp::capabilities_for_t<smtp::extensions<>>, smtp::capabilities>);

BOOST_AUTO_TEST_CASE(session_sends_the_priority_the_server_offers)
{
    auto s = scripted_server::greeted(offers_priority);
    s->expect("MAIL FROM:<a@x.org> SIZE=4 MT-PRIORITY=7\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 queued\r\n");
    auto g = std::move(smtp::connect<with_priority>(scripted_server::opts(), s)).ehlo();
    const std::vector<smtp::recipient> to{{"b@x.org"}};
    const auto r = g.sendmail("a@x.org", to, "hi\r\n", priority(7, true));
    BOOST_TEST(r.queued());
    BOOST_TEST(s->done(), s->log());
}

BOOST_AUTO_TEST_CASE(a_session_with_the_extension_reads_its_offer_by_type)
{
    // The policy lists mt_priority: the record the session gives knows it.
    auto s = scripted_server::greeted(offers_priority);
    auto g = std::move(smtp::connect<with_priority>(scripted_server::opts(), s)).ehlo();
    static_assert(std::same_as<std::remove_cvref_t<decltype(g.server_capabilities())>, caps_with_priority>);
    const auto& caps = g.server_capabilities();
    BOOST_REQUIRE(caps.get<mt_priority>().has_value());
    BOOST_TEST(*caps.get<mt_priority>() == "MIXER");
    BOOST_TEST(*caps.get<smtp::ext::size>() == 1000u); // the built-ins too
    BOOST_TEST(caps.server_name() == "mx.example");
    BOOST_TEST(caps.keywords().size() == 3u);

    // Not offered: the type's slot is empty.
    auto t = scripted_server::greeted(offers_no_priority);
    auto h = std::move(smtp::connect<with_priority>(scripted_server::opts(), t)).ehlo();
    BOOST_TEST(!h.server_capabilities().has<mt_priority>());
    BOOST_TEST(h.server_capabilities().has<smtp::ext::pipelining>());

    // Without the policy the session gives its own record, by reference
    // (test_capabilities shows get<E>() on a record that does not list E
    // does not compile); the keyword's line is still there.
    auto u = scripted_server::greeted(offers_priority);
    auto k = std::move(smtp::connect<scripted<>>(scripted_server::opts(), u)).ehlo();
    static_assert(std::same_as<decltype(k.server_capabilities()), const smtp::capabilities&>);
    BOOST_TEST(k.server_capabilities().extn_params("MT-PRIORITY").value_or("") == "MIXER");
}

BOOST_AUTO_TEST_CASE(session_refuses_a_required_priority_before_a_byte)
{
    auto s = scripted_server::greeted(offers_no_priority);
    auto g = std::move(smtp::connect<with_priority>(scripted_server::opts(), s)).ehlo();
    const std::vector<smtp::recipient> to{{"b@x.org"}};
    smtp::error_code ec;
    smtp::diagnostics diag;
    const auto r = g.sendmail("a@x.org", to, "hi\r\n", priority(7, true), ec, diag);
    BOOST_TEST(ec == errc::extension_not_offered);
    BOOST_TEST(diag.field() == "MT-PRIORITY");
    BOOST_TEST(r.outcome == smtp::transaction_outcome::not_sent);
    BOOST_TEST(s->writes().size() == 1u); // EHLO only
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(!g.broken());

    // Used only if offered: the same server takes the message without it.
    s->expect("MAIL FROM:<a@x.org> SIZE=4\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n354 go\r\n")
        .expect("hi\r\n.\r\n")
        .respond("250 queued\r\n");
    BOOST_TEST(g.sendmail("a@x.org", to, "hi\r\n", priority(7, false)).queued());
    BOOST_TEST(s->done(), s->log());
}

// --- bdat() checks CHUNKING -------------------------------------------------------

BOOST_AUTO_TEST_CASE(bdat_without_chunking_writes_no_bdat)
{
    auto s = scripted_server::greeted("250-mx.example\r\n250 PIPELINING\r\n");
    s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 ok\r\n");
    s->expect("RCPT TO:<b@x.org>\r\n").respond("250 ok\r\n");
    s->expect("RSET\r\n").respond("250 reset\r\n"); // the transaction is ended, nothing of the message sent
    auto r = std::move(std::move(smtp::connect<scripted<>>(scripted_server::opts(), s)).ehlo())
                 .mail_from("a@x.org")
                 .rcpt_to("b@x.org");
    const std::size_t before = s->writes().size();
    smtp::error_code ec;
    smtp::diagnostics diag;
    auto g = std::move(r).bdat("hi\r\n", ec, diag);
    BOOST_TEST(ec == errc::chunking_not_offered);
    BOOST_TEST(diag.field() == "BDAT");
    BOOST_TEST(s->writes().size() == before + 1);
    BOOST_TEST(s->writes().back() == "RSET\r\n");
    for (const auto& w : s->writes())
        BOOST_TEST(w.find("BDAT") == std::string::npos);
    BOOST_TEST(s->done(), s->log());
    BOOST_TEST(!g.broken());
}

BOOST_AUTO_TEST_CASE(bdat_with_chunking_sends_the_chunk)
{
    auto s = scripted_server::greeted("250-mx.example\r\n250 CHUNKING\r\n");
    s->expect("MAIL FROM:<a@x.org>\r\n").respond("250 ok\r\n");
    s->expect("RCPT TO:<b@x.org>\r\n").respond("250 ok\r\n");
    s->expect("BDAT 4 LAST\r\nhi\r\n").respond("250 queued\r\n");
    auto g = std::move(std::move(std::move(smtp::connect<scripted<>>(scripted_server::opts(), s)).ehlo())
                           .mail_from("a@x.org")
                           .rcpt_to("b@x.org"))
                 .bdat("hi\r\n");
    BOOST_TEST(s->done(), s->log());
}

// --- The line allowances the commands use are the extension types' own -------------

static_assert(smtp::cmd::detail_::parameter_allowance("SIZE") == 26);     // RFC 1870 5
static_assert(smtp::cmd::detail_::parameter_allowance("body") == 14);     // RFC 6152 2
static_assert(smtp::cmd::detail_::parameter_allowance("SMTPUTF8") == 10); // RFC 6531 3.4
static_assert(smtp::cmd::detail_::parameter_allowance("ENVID") == 102);   // RFC 3461 4
static_assert(smtp::cmd::detail_::parameter_allowance("ORCPT") == 470);
static_assert(smtp::cmd::detail_::parameter_allowance("AUTH") == 500);    // RFC 4954 5
static_assert(smtp::cmd::detail_::parameter_allowance("MT-PRIORITY") == 0); // not built in

BOOST_AUTO_TEST_CASE(a_step_by_step_mail_from_gets_the_same_allowance)
{
    // 512 octets plus SIZE's 26: a SIZE value that takes the line to 538 passes.
    const std::string label(60, 'b');
    const std::string from = std::string(64, 'a') + "@" + label + "." + label + "." + label + ".org";
    const std::string base = "MAIL FROM:<" + from + "> SIZE=\r\n";
    const std::string fits(538 - base.size(), '1'), over(539 - base.size(), '1');
    const smtp::esmtp_param ok[] = {{"SIZE", fits}};
    const smtp::esmtp_param too_long[] = {{"SIZE", over}};
    BOOST_TEST(smtp::to_string(smtp::cmd::mail_from{from, ok}).size() == 538u);
    std::string out;
    smtp::error_code ec;
    smtp::diagnostics diag;
    smtp::serialize(smtp::cmd::mail_from{from, too_long}, out, ec, diag);
    BOOST_TEST(ec == errc::command_line_too_long);
}

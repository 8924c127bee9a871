// What logging costs a session: the same scripted transaction (connect,
// EHLO, sendmail to two recipients, QUIT) with log::none, with a logger whose
// hooks exist but do nothing, and with log::callback holding no function.
// log::none must be no slower than empty hooks: both compile to nothing.
#include <smtp/client.hpp>
#include <smtp/transport/scripted.hpp>

#include <benchmark/benchmark.h>

#include <memory>
#include <string>

namespace {

struct empty_hooks {
    using policy_category = smtp::log_category;
    static constexpr bool enabled = true; // the hooks are called...
    void on_send(std::string_view, smtp::log::sent) const noexcept {} // ...and do nothing
    void on_reply(const smtp::reply_view&, bool) const noexcept {}
};

std::shared_ptr<smtp::transport::script> transaction()
{
    auto s = std::make_shared<smtp::transport::script>();
    s->respond("220 mx.example ESMTP\r\n")
        .expect("EHLO client.example\r\n")
        .respond("250-mx.example\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n")
        .expect("MAIL FROM:<a@example.org> SIZE=6\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect("RCPT TO:<b@example.org>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect("RCPT TO:<c@example.org>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect("DATA\r\n")
        .respond("354 go\r\n")
        .expect("body\r\n.\r\n")
        .respond("250 2.0.0 queued\r\n")
        .expect("QUIT\r\n")
        .respond("221 bye\r\n");
    return s;
}

template <class Log>
void bm_session(benchmark::State& state)
{
    using P = smtp::policies<smtp::transport::scripted, smtp::tls::none, Log>;
    smtp::connect_options o;
    o.local_name = "client.example";
    const std::vector<std::string> to{"b@example.org", "c@example.org"};
    for (auto _ : state) {
        state.PauseTiming();
        auto s = transaction();
        state.ResumeTiming();
        auto g = std::move(smtp::connect<P>(o, s)).ehlo();
        benchmark::DoNotOptimize(g.sendmail("a@example.org", to, "body"));
        std::move(g).quit();
        if (!s->done())
            state.SkipWithError("script not played");
    }
}

} // namespace

BENCHMARK_TEMPLATE(bm_session, smtp::log::none)->Name("session/log_none");
BENCHMARK_TEMPLATE(bm_session, empty_hooks)->Name("session/empty_hooks");
BENCHMARK_TEMPLATE(bm_session, smtp::log::callback)->Name("session/log_callback_unset");
BENCHMARK_MAIN();

// What logging costs a session: the same scripted transaction (connect,
// EHLO, sendmail to two recipients, QUIT) with log::none, with a logger whose
// hooks exist but do nothing, and with log::callback holding no function.
// log::none must be no slower than empty hooks: both compile to nothing.
//
// And the pool's messages per second against an in-memory server
// (tests/sim_server.hpp), unthrottled, and throttled: the server serves
// two connections at once (421 to more) and answers one end of data in
// twenty with 451 4.7.1, so the pool halves its sessions, pauses (1 to 8 ms
// here, a second by default), retries and grows back.
#include <smtp/client.hpp>
#include <smtp/pool.hpp>
#include <smtp/transport/scripted.hpp>

#include "sim_server.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
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

template <bool Throttled>
void bm_pool(benchmark::State& state)
{
    using P = smtp::policies<sim::transport, smtp::tls::none>;
    constexpr std::size_t n = 200;
    smtp::connect_options o;
    o.local_name = "client.example";
    smtp::pool_options po;
    po.max_sessions = 8;
    po.throttle.initial_pause = std::chrono::milliseconds(1);
    po.throttle.max_pause = std::chrono::milliseconds(8);
    po.retry.initial_backoff = std::chrono::milliseconds(1);
    po.retry.max_attempts = 6;
    std::size_t throttled = 0, refused = 0;
    for (auto _ : state) {
        boost::asio::io_context io;
        auto srv = std::make_shared<sim::server>();
        if (Throttled) {
            srv->capacity = 2;
            srv->plan = [](std::size_t k) { return k % 20 == 19 ? sim::fault::refuse_final_451 : sim::fault::none; };
        }
        smtp::pool<P> pool(io.get_executor(), o, po,
                           [srv](boost::asio::any_io_executor ex) { return sim::transport(ex, srv); });
        std::size_t queued = 0;
        for (std::size_t i = 0; i < n; ++i)
            pool.async_send({"a@example.org", {{"b@example.org"}},
                             "Message-ID: <" + std::to_string(i) + "@bench>\r\n\r\nbody\r\n", {}},
                            [&](smtp::error_code, smtp::transaction_result r) { queued += r.queued(); });
        pool.async_close([](smtp::error_code, smtp::pool_stats) {});
        io.run();
        if (queued != n)
            state.SkipWithError("not every message was queued");
        throttled += pool.stats().throttled;
        refused += srv->refused_connections;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
    state.counters["limit_cuts"] = benchmark::Counter(static_cast<double>(throttled), benchmark::Counter::kAvgIterations);
    state.counters["refused_conns"] = benchmark::Counter(static_cast<double>(refused), benchmark::Counter::kAvgIterations);
}

} // namespace

BENCHMARK_TEMPLATE(bm_pool, false)->Name("pool/unthrottled")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bm_pool, true)->Name("pool/throttled")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bm_session, smtp::log::none)->Name("session/log_none");
BENCHMARK_TEMPLATE(bm_session, empty_hooks)->Name("session/empty_hooks");
BENCHMARK_TEMPLATE(bm_session, smtp::log::callback)->Name("session/log_callback_unset");
BENCHMARK_MAIN();

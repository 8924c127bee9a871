/// \file smtp/dns/resolver.hpp
///
/// A DNSSEC-validating stub resolver over libunbound: MX, A, AAAA, TLSA and
/// TXT lookups, each answer with its DNSSEC status (smtp::dns::answer), sync
/// and async (Asio). Link the CMake target smtp::dns (pkg-config libunbound);
/// the rest of the library does not need it.
///
/// libunbound validates by itself, from the trust anchors given here: it
/// never believes an upstream's AD bit. Its worker runs in a thread of its
/// own (ub_ctx_async); results arrive on a pipe (ub_fd) that the async calls
/// watch with an Asio descriptor and the sync calls with poll(2), so both
/// kinds share one context, one cache and one timeout rule. Like Asio's I/O
/// objects, a resolver is used from one thread at a time (its executor's,
/// for the async calls).
#ifndef SMTP_DNS_RESOLVER_HPP
#define SMTP_DNS_RESOLVER_HPP

#include <smtp/cancellation.hpp>
#include <smtp/protocol/dane.hpp>
#include <smtp/protocol/dns.hpp>
#include <smtp/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#if SMTP_HAS_CANCELLATION
#include <boost/asio/associated_cancellation_slot.hpp>
#endif
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>

#include <unbound.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

SMTP_NAMESPACE_BEGIN

namespace dns {

/// Authoritative servers for one zone (unbound's stub-zone): queries under
/// `zone` go to them, not to the forwarders or the root.
struct stub_zone {
    std::string zone;                   ///< "example.test."
    std::vector<std::string> addresses; ///< `192.0.2.53` or `192.0.2.53@5353` (`address@port`)
};

/// Where the resolver asks and what it trusts. The defaults: the name
/// servers of /etc/resolv.conf as upstreams, the root's trust anchor from
/// Debian's dns-root-data (/usr/share/dns/root.key), a 10 s timeout.
struct resolver_options {
    /// Recursive upstreams to forward every query to, "address" or
    /// `address@port`. Empty: those of `resolv_conf`.
    std::vector<std::string> forwarders;
    /// The file whose `nameserver` lines are the upstreams when `forwarders`
    /// is empty. "": none, so the resolver recurses itself from the root (or
    /// asks only its `stubs`).
    std::string resolv_conf = "/etc/resolv.conf";
    /// Zones answered by the authoritative servers named here.
    std::vector<stub_zone> stubs;
    /// Trust anchors: files of DS or DNSKEY records in zone-file form
    /// (unbound's trust-anchor-file), and the same as text ("test. DS 1234 13
    /// 2 ab..."). All of them are used.
    std::vector<std::string> trust_anchor_files;
    std::vector<std::string> trust_anchors;
    /// The root's anchor, used when the file exists; "": not used. With no
    /// anchor at all the resolver refuses to start (errc::no_trust_anchor):
    /// it could never call an answer secure.
    std::string root_anchor_file = "/usr/share/dns/root.key";
    /// Zones that unbound answers itself by default (RFC 6761's test.,
    /// invalid., localhost., onion., the private reverse zones) that should be
    /// looked up instead (unbound.conf's `local-zone: "<zone>" nodefault`;
    /// set as a transparent local zone, which does the same here).
    std::vector<std::string> nodefault_zones;
    /// Per lookup: no answer by then is errc::timeout (the query is
    /// cancelled). libunbound itself retries far longer.
    std::chrono::milliseconds timeout{10000};
    /// Any other unbound.conf option, as ub_ctx_set_option takes it:
    /// {"edns-buffer-size:", "1232"}. Applied last.
    std::vector<std::pair<std::string, std::string>> unbound_options;
};

/// The resolver. Construction applies the options (a bad one throws, or
/// sets the error_code of the other constructor); lookups never throw: the
/// answer carries the outcome.
class resolver {
public:
    using executor_type = boost::asio::any_io_executor;
    using address_v4 = boost::asio::ip::address_v4;
    using address_v6 = boost::asio::ip::address_v6;

    resolver(executor_type ex, const resolver_options& options)
    {
        boost::system::error_code ec;
        std::string why;
        open(std::move(ex), options, ec, why);
        if (ec)
            throw boost::system::system_error(ec, why);
    }

    /// Sets `ec` (and `why`, libunbound's or the file's text) instead of throwing.
    resolver(executor_type ex, const resolver_options& options, boost::system::error_code& ec, std::string& why)
    {
        open(std::move(ex), options, ec, why);
    }

    resolver(const resolver&) = delete;
    resolver& operator=(const resolver&) = delete;

    /// Pending async lookups complete with errc::cancelled.
    ~resolver()
    {
        if (impl_)
            impl_->shutdown();
    }

    executor_type get_executor() const { return ex_; }

    // --- synchronous lookups ---------------------------------------------------------
    answer<mx_record> mx(std::string_view name) { return lookup<mx_record>(name, 15); }
    answer<address_v4> a(std::string_view name) { return lookup<address_v4>(name, 1); }
    answer<address_v6> aaaa(std::string_view name) { return lookup<address_v6>(name, 28); }
    answer<std::string> txt(std::string_view name) { return lookup<std::string>(name, 16); }
    /// The TLSA RRset of a TCP service: `_<port>._tcp.<host>` (RFC 6698 3).
    answer<dane::tlsa_record> tlsa(std::string_view host, unsigned port = 25)
    {
        return lookup<dane::tlsa_record>(tlsa_name(host, port), 52);
    }

    // --- asynchronous lookups: completion signature void(error_code, answer<T>) -----
    template <class Token>
    auto async_mx(std::string_view name, Token&& token)
    {
        return async_lookup<mx_record>(std::string(name), 15, std::forward<Token>(token));
    }
    template <class Token>
    auto async_a(std::string_view name, Token&& token)
    {
        return async_lookup<address_v4>(std::string(name), 1, std::forward<Token>(token));
    }
    template <class Token>
    auto async_aaaa(std::string_view name, Token&& token)
    {
        return async_lookup<address_v6>(std::string(name), 28, std::forward<Token>(token));
    }
    template <class Token>
    auto async_txt(std::string_view name, Token&& token)
    {
        return async_lookup<std::string>(std::string(name), 16, std::forward<Token>(token));
    }
    template <class Token>
    auto async_tlsa(std::string_view host, unsigned port, Token&& token)
    {
        return async_lookup<dane::tlsa_record>(tlsa_name(host, port), 52, std::forward<Token>(token));
    }

private:
    struct op_base {
        virtual ~op_base() = default;
        virtual void done(int err, ub_result* result) = 0;
        int id = 0;             // libunbound's, which it may give again to a later query
        std::uint64_t serial = 0; // this resolver's own, never reused
    };

    struct impl : std::enable_shared_from_this<impl> {
        executor_type ex;
        ub_ctx* ctx = nullptr;
        std::chrono::milliseconds timeout{};
        boost::asio::posix::stream_descriptor pipe;
        bool waiting = false;
        std::map<int, std::unique_ptr<op_base>> ops; // async ones
        std::uint64_t serials = 0;

        explicit impl(executor_type e) : ex(e), pipe(e) {}
        ~impl()
        {
            if (ctx)
                ub_ctx_delete(ctx);
        }

        static void callback(void* mydata, int err, ub_result* result)
        {
            static_cast<op_base*>(mydata)->done(err, result);
        }

        void watch()
        {
            if (waiting || ops.empty() || !pipe.is_open())
                return;
            waiting = true;
            pipe.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                            [self = this->shared_from_this()](boost::system::error_code ec) {
                                self->waiting = false;
                                // aborted: release() stopped the watch, and a
                                // lookup may have started since
                                if (ec && ec != boost::asio::error::operation_aborted)
                                    return;
                                if (!ec)
                                    ub_process(self->ctx);
                                self->watch();
                            });
        }

        /// Forgets a finished lookup; with none left, stops watching the
        /// pipe, so that an io_context with nothing else to do returns.
        void release(int id)
        {
            ops.erase(id);
            if (ops.empty() && waiting) {
                boost::system::error_code ignored;
                pipe.cancel(ignored);
            }
        }

        void shutdown()
        {
            auto pending = std::move(ops);
            ops.clear();
            for (auto& [id, op] : pending) {
                ub_cancel(ctx, id);
                op->done(-1, nullptr);
            }
            boost::system::error_code ignored;
            pipe.close(ignored);
        }
    };

    executor_type ex_;
    std::shared_ptr<impl> impl_; // none when the options were refused: every lookup is then resolver_error
    static constexpr const char* not_open = "the resolver did not open: its options were refused";

    static std::string tlsa_name(std::string_view host, unsigned port)
    {
        return "_" + std::to_string(port) + "._tcp." + std::string(host);
    }

    static bool loopback(std::string_view addr)
    {
        return addr.starts_with("127.") || addr.starts_with("::1");
    }

    void open(executor_type ex, const resolver_options& o, boost::system::error_code& ec, std::string& why)
    {
        ec = {};
        ex_ = ex;
        auto im = std::make_shared<impl>(ex);
        im->timeout = o.timeout;
        im->ctx = ub_ctx_create();
        auto fail = [&](errc e, std::string text) {
            ec = e;
            why = std::move(text);
        };
        if (!im->ctx)
            return fail(errc::resolver_error, "ub_ctx_create failed");
        auto check = [&](int rc, std::string_view what) {
            if (rc != 0 && !ec)
                fail(errc::resolver_error, std::string(what) + ": " + ub_strerror(rc));
            return rc == 0;
        };
        if (!check(ub_ctx_async(im->ctx, 1), "ub_ctx_async"))
            return;
        bool local = false;
        for (const auto& f : o.forwarders) {
            local = local || loopback(f);
            if (!check(ub_ctx_set_fwd(im->ctx, f.c_str()), "forwarder " + f))
                return;
        }
        if (o.forwarders.empty() && !o.resolv_conf.empty()
            && !check(ub_ctx_resolvconf(im->ctx, o.resolv_conf.c_str()), "resolv.conf " + o.resolv_conf))
            return;
        for (const auto& s : o.stubs)
            for (const auto& addr : s.addresses) {
                local = local || loopback(addr);
                if (!check(ub_ctx_set_stub(im->ctx, s.zone.c_str(), addr.c_str(), 0), "stub " + s.zone + " " + addr))
                    return;
            }
        // An upstream the user named on loopback is meant to be asked
        // (unbound's do-not-query-localhost would ignore it).
        if (local && !check(ub_ctx_set_option(im->ctx, "do-not-query-localhost:", "no"), "do-not-query-localhost"))
            return;
        // "<zone> nodefault" given to ub_ctx_set_option leaves libunbound
        // 1.17's built-in static zone in place (tried); a transparent local
        // zone without local data lets every query through, the same.
        for (const auto& z : o.nodefault_zones)
            if (!check(ub_ctx_set_option(im->ctx, "local-zone:", (z + " transparent").c_str()), "nodefault zone " + z))
                return;
        std::size_t anchors = 0;
        auto readable = [](const std::string& f) { return std::ifstream(f).good(); };
        for (const auto& f : o.trust_anchor_files) {
            if (!readable(f))
                return fail(errc::resolver_error, "trust anchor file " + f + " cannot be read");
            if (!check(ub_ctx_add_ta_file(im->ctx, f.c_str()), "trust anchor file " + f))
                return;
            ++anchors;
        }
        for (const auto& t : o.trust_anchors) {
            if (!check(ub_ctx_add_ta(im->ctx, t.c_str()), "trust anchor " + t))
                return;
            ++anchors;
        }
        if (!o.root_anchor_file.empty() && readable(o.root_anchor_file)) {
            if (!check(ub_ctx_add_ta_file(im->ctx, o.root_anchor_file.c_str()), "root anchor " + o.root_anchor_file))
                return;
            ++anchors;
        }
        if (anchors == 0)
            return fail(errc::no_trust_anchor, "no trust anchor: set trust_anchor_files, trust_anchors or "
                                               "root_anchor_file (package dns-root-data)");
        for (const auto& [opt, val] : o.unbound_options)
            if (!check(ub_ctx_set_option(im->ctx, opt.c_str(), val.c_str()), "option " + opt + " " + val))
                return;
        if (!start(im->ctx, ec, why))
            return;
        // The descriptor gets a duplicate: closing it must not close unbound's pipe.
        const int fd = ::dup(ub_fd(im->ctx));
        if (fd < 0)
            return fail(errc::resolver_error, "cannot watch libunbound's descriptor");
        im->pipe.assign(fd, ec);
        if (ec)
            return;
        impl_ = std::move(im);
    }

    /// libunbound reads the trust anchors' text (and applies the settings)
    /// only when it starts, at its first query: one query that a local zone
    /// of its own answers (no server is asked) starts it here, so that a malformed
    /// anchor is refused by the constructor, with libunbound's words (what
    /// it logs while starting, caught in a temporary file), and not at the
    /// first lookup as an "initialization failure".
    static bool start(ub_ctx* ctx, boost::system::error_code& ec, std::string& why)
    {
        static constexpr const char* name = "resolver-start.smtp.invalid.";
        if (int rc = ub_ctx_set_option(ctx, "local-zone:", (std::string(name) + " static").c_str()); rc != 0) {
            ec = errc::resolver_error;
            why = std::string("libunbound: local-zone: ") + ub_strerror(rc);
            return false;
        }
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(std::tmpfile(), std::fclose);
        if (log)
            ub_ctx_debugout(ctx, log.get());
        ub_result* r = nullptr;
        const int rc = ub_resolve(ctx, name, 1, 1, &r);
        if (r)
            ub_resolve_free(r);
        ub_ctx_debugout(ctx, stderr); // libunbound's own default
        if (rc == 0)
            return true;
        ec = errc::resolver_error;
        why = std::string("libunbound could not start: ") + ub_strerror(rc);
        if (log) {
            std::string said;
            std::rewind(log.get());
            char line[512];
            while (std::fgets(line, sizeof line, log.get()) != nullptr && said.size() < 2048) {
                std::string_view l(line);
                // "[time] libunbound[pid:thread] error: TEXT": the TEXT.
                if (auto at = l.find("error: "); at != std::string_view::npos)
                    l.remove_prefix(at + 7);
                while (!l.empty() && (l.back() == '\n' || l.back() == '\r'))
                    l.remove_suffix(1);
                said.append(said.empty() ? "" : "; ").append(l);
            }
            if (!said.empty())
                why += ": " + said;
        }
        return false;
    }

    template <class T>
    static bool parse_one(std::span<const std::uint8_t> in, T& out)
    {
        if constexpr (std::is_same_v<T, mx_record>) {
            return parse_mx(in, out);
        } else if constexpr (std::is_same_v<T, dane::tlsa_record>) {
            return parse_tlsa(in, out);
        } else if constexpr (std::is_same_v<T, std::string>) {
            return parse_txt(in, out);
        } else if constexpr (std::is_same_v<T, address_v4>) {
            std::array<std::uint8_t, 4> b{};
            if (!parse_address(in, b))
                return false;
            out = address_v4(b);
            return true;
        } else {
            std::array<std::uint8_t, 16> b{};
            if (!parse_address(in, b))
                return false;
            out = address_v6(b);
            return true;
        }
    }

    /// Fills `a` from libunbound's outcome: err (a UB_ error, or -1:
    /// cancelled) and result (owned here, freed).
    template <class T>
    static void fill(answer<T>& a, int err, ub_result* r)
    {
        std::unique_ptr<ub_result, void (*)(ub_result*)> owner(r, ub_resolve_free);
        if (err == -1) {
            a.error = errc::cancelled;
            return;
        }
        if (err != 0 || !r) {
            a.error = errc::resolver_error;
            a.why_bogus = ub_strerror(err);
            return;
        }
        a.rcode = r->rcode;
        a.ttl = static_cast<std::uint32_t>(r->ttl);
        if (r->canonname) {
            std::string_view c(r->canonname), q(a.name);
            if (c.ends_with('.'))
                c.remove_suffix(1);
            if (q.ends_with('.'))
                q.remove_suffix(1);
            if (!smtp::detail::iequals(c, q))
                a.canonical_name = std::string(c);
        }
        if (r->bogus) {
            a.dnssec = security::bogus;
            a.why_bogus = r->why_bogus ? r->why_bogus : "";
            a.error = errc::bogus;
            return;
        }
        a.dnssec = r->secure ? security::secure : security::insecure;
        if (r->nxdomain || r->rcode == 3) {
            a.error = errc::nxdomain;
            return;
        }
        if (r->rcode != 0) {
            a.error = errc::server_failure;
            return;
        }
        if (!r->havedata) {
            a.error = errc::no_data;
            return;
        }
        std::vector<T> records;
        for (int i = 0; r->data[i]; ++i) {
            T rec{};
            if (!parse_one(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(r->data[i]),
                                                         static_cast<std::size_t>(r->len[i])),
                           rec)) {
                a.error = errc::malformed_record;
                return;
            }
            records.push_back(std::move(rec));
        }
        a.records = std::move(records);
    }

    template <class T>
    answer<T> lookup(std::string_view query, int type)
    {
        const std::string name(query);
        answer<T> a;
        a.name = name;
        if (!valid_query_name(name)) {
            a.error = errc::invalid_name;
            return a;
        }
        if (!impl_) {
            a.error = errc::resolver_error;
            a.why_bogus = not_open;
            return a;
        }
        struct sync_op final : op_base {
            bool finished = false;
            int err = 0;
            ub_result* result = nullptr;
            void done(int e, ub_result* r) override
            {
                finished = true;
                err = e;
                result = r;
            }
        } op;
        const int rc = ub_resolve_async(impl_->ctx, name.c_str(), type, 1, &op, &impl::callback, &op.id);
        if (rc != 0) {
            a.error = errc::resolver_error;
            a.why_bogus = ub_strerror(rc);
            return a;
        }
        const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
        while (!op.finished) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                ub_cancel(impl_->ctx, op.id);
                a.error = errc::timeout;
                return a;
            }
            pollfd p{ub_fd(impl_->ctx), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count()) + 1) > 0)
                ub_process(impl_->ctx); // may complete async lookups too: they post their handlers
        }
        fill(a, op.err, op.result);
        return a;
    }

    template <class T, class Handler>
    struct async_op final : op_base {
        using handler_executor = boost::asio::associated_executor_t<Handler, executor_type>;

        std::weak_ptr<impl> owner;
        answer<T> a;
        Handler handler;
        boost::asio::steady_timer timer;
        // The handler's executor has work until the handler is posted to it
        // (the resolver's own has the pipe's wait and the timer).
        boost::asio::executor_work_guard<handler_executor> work;

        async_op(std::shared_ptr<impl> im, std::string name, Handler&& h)
            : owner(im), handler(std::move(h)), timer(im->ex),
              work(boost::asio::get_associated_executor(handler, im->ex))
        {
            a.name = std::move(name);
        }

        /// The handler's cancellation slot no longer leads here.
        void clear_slot()
        {
#if SMTP_HAS_CANCELLATION
            auto slot = boost::asio::get_associated_cancellation_slot(handler);
            if (slot.is_connected())
                slot.clear();
#endif
        }

        /// Ends lookup `id` with `ec` (its timeout, or a cancellation), if it
        /// is still pending (the same lookup: `serial`): libunbound forgets the query.
        static void abandon(const std::weak_ptr<impl>& w, int id, std::uint64_t serial, boost::system::error_code ec,
                            bool from_slot)
        {
            auto im = w.lock();
            if (!im)
                return;
            auto it = im->ops.find(id);
            if (it == im->ops.end() || it->second->serial != serial)
                return;
            ub_cancel(im->ctx, id);
            auto op = std::move(it->second);
            im->release(id);
            auto* o = static_cast<async_op*>(op.get());
            o->timer.cancel();
            if (!from_slot) // the slot's own handler is running: it goes with the slot
                o->clear_slot();
            auto guard = std::move(o->work);
            o->a.error = ec;
            deliver(std::move(o->handler), std::move(o->a), im->ex);
        }

        // The handler runs on its associated executor (the resolver's by
        // default), never inside ub_process or the caller's initiation.
        static void deliver(Handler h, answer<T> a, const executor_type& ex)
        {
            auto hex = boost::asio::get_associated_executor(h, ex);
            boost::asio::post(hex, [h = std::move(h), a = std::move(a)]() mutable {
                auto ec = a.error;
                std::move(h)(ec, std::move(a));
            });
        }

        void done(int err, ub_result* r) override
        {
            fill(a, err, r);
            timer.cancel();
            clear_slot();
            auto im = owner.lock();
            executor_type ex = im ? im->ex : timer.get_executor();
            // this object dies when the map lets go: move out first
            Handler h = std::move(handler);
            answer<T> out = std::move(a);
            auto guard = std::move(work);
            if (im)
                im->release(id);
            deliver(std::move(h), std::move(out), ex);
        }
    };

    template <class T, class Token>
    auto async_lookup(std::string name, int type, Token&& token)
    {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, answer<T>)>(
            [this, type](auto handler, std::string name) {
                using H = std::decay_t<decltype(handler)>;
                auto im = impl_;
                if (!valid_query_name(name) || !im) {
                    answer<T> a;
                    a.name = name;
                    a.error = im ? errc::invalid_name : errc::resolver_error;
                    if (!im)
                        a.why_bogus = not_open;
                    async_op<T, H>::deliver(std::move(handler), std::move(a), ex_);
                    return;
                }
                auto op = std::make_unique<async_op<T, H>>(im, name, std::move(handler));
                auto* raw = op.get();
                const int rc = ub_resolve_async(im->ctx, name.c_str(), type, 1, raw, &impl::callback, &raw->id);
                if (rc != 0) {
                    raw->a.error = errc::resolver_error;
                    raw->a.why_bogus = ub_strerror(rc);
                    async_op<T, H>::deliver(std::move(raw->handler), std::move(raw->a), im->ex);
                    return;
                }
                const int id = raw->id;
                const std::uint64_t serial = raw->serial = ++im->serials;
                im->ops.emplace(id, std::move(op));
                raw->timer.expires_after(im->timeout);
                raw->timer.async_wait([w = std::weak_ptr<impl>(im), id, serial](boost::system::error_code ec) {
                    if (!ec)
                        async_op<T, H>::abandon(w, id, serial, errc::timeout, false);
                });
#if SMTP_HAS_CANCELLATION
                // Every type of cancellation ends the lookup (smtp/cancellation.hpp):
                // nothing of it is left half-done, as with a pool's waiting message.
                if (auto slot = boost::asio::get_associated_cancellation_slot(raw->handler); slot.is_connected())
                    slot.assign([w = std::weak_ptr<impl>(im), id, serial](boost::asio::cancellation_type) {
                        async_op<T, H>::abandon(w, id, serial, boost::asio::error::operation_aborted, true);
                    });
#endif
                im->watch();
            },
            token, std::move(name));
    }
};

} // namespace dns

SMTP_NAMESPACE_END

#endif

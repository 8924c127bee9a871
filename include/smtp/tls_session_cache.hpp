// smtp/tls_session_cache.hpp
//
// TLS sessions kept for resumption, per server and per set of TLS settings.
// A key is the host name (the SNI and the name the certificate was checked
// against), the port, whether the chain and name were verified, and every
// tls_options field that changes what was verified or who the client is
// (CA file, client certificate and key, pins, minimum version, ciphers): a
// session is only ever offered to a connection that would have checked the
// server the same way, because a resumed handshake does not check the
// certificate again (OpenSSL carries the first verification's result).
//
// RFC 8446 4.6.1: a ticket is kept no longer than its ticket_lifetime and
// never longer than 7 days; C.4: a client should not use a TLS 1.3 ticket
// twice (the server could link the connections), so a TLS 1.3 session is
// taken out of the cache when it is offered, and the server's new tickets
// replace it. A TLS 1.2 session (RFC 5077 ticket or session ID) stays until
// it expires or a newer one replaces it.
/// \file smtp/tls_session_cache.hpp
/// smtp::tls_session_cache: TLS sessions kept for resumption, keyed by
/// server and TLS settings; a pool owns one, tls_options::session_cache
/// names one to share.
#ifndef SMTP_TLS_SESSION_CACHE_HPP
#define SMTP_TLS_SESSION_CACHE_HPP

#include <smtp/options.hpp>
#include <smtp/version.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

SMTP_NAMESPACE_BEGIN

/// TLS sessions kept for resumption (TLS 1.3 tickets, TLS 1.2 tickets and
/// session IDs), keyed by server and TLS settings; thread-safe. A pool owns
/// one for its connections; tls_options::session_cache shares one between
/// sessions; without either, a process-wide one (process_default()) serves
/// connections whose tls_options have no context_hook.
class tls_session_cache {
public:
    /// At most `servers` keys (the least recently used goes first), at most
    /// `per_server` sessions each, none older than `max_age` (RFC 8446: 7
    /// days at most; a session's own lifetime, when shorter, wins).
    explicit tls_session_cache(std::size_t servers = 64, std::size_t per_server = 4,
                               std::chrono::seconds max_age = std::chrono::hours(24 * 7))
        : max_servers_(std::max<std::size_t>(servers, 1)), per_server_(std::max<std::size_t>(per_server, 1)),
          max_age_(std::min<std::chrono::seconds>(max_age, std::chrono::hours(24 * 7)))
    {}
    tls_session_cache(const tls_session_cache&) = delete;
    tls_session_cache& operator=(const tls_session_cache&) = delete;
    ~tls_session_cache() { clear(); }

    /// The cache used when tls_options::resume_sessions is on and names no
    /// cache (and has no context_hook): one per process.
    static const std::shared_ptr<tls_session_cache>& process_default()
    {
        static const std::shared_ptr<tls_session_cache> cache = std::make_shared<tls_session_cache>();
        return cache;
    }

    /// Forgets every session.
    void clear()
    {
        std::lock_guard<std::mutex> lock(m_);
        for (auto& e : entries_)
            for (SSL_SESSION* s : e.sessions)
                SSL_SESSION_free(s);
        entries_.clear();
    }
    /// Sessions held now (expired ones included until a lookup drops them).
    std::size_t size() const
    {
        std::lock_guard<std::mutex> lock(m_);
        std::size_t n = 0;
        for (const auto& e : entries_)
            n += e.sessions.size();
        return n;
    }
    /// Handshakes that offered a session from this cache.
    std::uint64_t offered() const
    {
        std::lock_guard<std::mutex> lock(m_);
        return offered_;
    }
    /// Handshakes that resumed one (SSL_session_reused).
    std::uint64_t resumed() const
    {
        std::lock_guard<std::mutex> lock(m_);
        return resumed_;
    }

    /// Keeps `s` under `key` (takes over the caller's reference).
    void put(const std::string& key, SSL_SESSION* s)
    {
        std::lock_guard<std::mutex> lock(m_);
        auto it = find(key);
        if (it == entries_.end()) {
            if (entries_.size() >= max_servers_) {
                for (SSL_SESSION* old : entries_.back().sessions)
                    SSL_SESSION_free(old);
                entries_.pop_back();
            }
            entries_.push_front(entry{key, {}});
            it = entries_.begin();
        }
        it->sessions.push_front(s);
        while (it->sessions.size() > per_server_) {
            SSL_SESSION_free(it->sessions.back());
            it->sessions.pop_back();
        }
    }

    /// A session to offer for `key`, or nullptr; the caller owns the
    /// reference it gets. A TLS 1.3 session leaves the cache (used once);
    /// a TLS 1.2 one stays. Expired sessions are dropped on the way.
    SSL_SESSION* take(const std::string& key)
    {
        std::lock_guard<std::mutex> lock(m_);
        auto it = find(key);
        if (it == entries_.end())
            return nullptr;
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        auto& q = it->sessions;
        while (!q.empty()) {
            SSL_SESSION* s = q.front();
            if (!fresh(s, now)) {
                SSL_SESSION_free(s);
                q.pop_front();
                continue;
            }
            if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION)
                q.pop_front();
            else
                SSL_SESSION_up_ref(s);
            ++offered_;
            return s;
        }
        entries_.erase(it);
        return nullptr;
    }

    /// Counts a handshake that resumed a session.
    void note_resumed()
    {
        std::lock_guard<std::mutex> lock(m_);
        ++resumed_;
    }

    /// The key of a connection: the server (host and port), whether it is
    /// verified, and the tls_options that bear on what was checked and on
    /// who the client is. Each field is length-prefixed: no two settings
    /// give the same key.
    static std::string key_of(const connect_options& o, bool verify)
    {
        std::string k;
        const auto add = [&k](std::string_view v) {
            k += std::to_string(v.size());
            k += ':';
            k += v;
        };
        add(o.host);
        add(std::to_string(o.port));
        add(verify ? "verify" : "no-verify");
        add(o.tls.ca_file);
        add(o.tls.cert_file);
        add(o.tls.key_file);
        add(o.tls.min_version == tls_version::v1_3 ? "1.3" : "1.2");
        add(o.tls.ciphers);
        add(o.tls.ciphersuites);
        for (const auto& pin : o.tls.pin_sha256)
            add(pin);
        return k;
    }

private:
    struct entry {
        std::string key;
        std::deque<SSL_SESSION*> sessions; // newest first
    };

    std::list<entry>::iterator find(const std::string& key)
    {
        for (auto it = entries_.begin(); it != entries_.end(); ++it)
            if (it->key == key) {
                entries_.splice(entries_.begin(), entries_, it); // most recently used first
                return entries_.begin();
            }
        return entries_.end();
    }

    /// Resumable, and younger than its own lifetime, its ticket's (TLS 1.3)
    /// and max_age.
    bool fresh(SSL_SESSION* s, std::int64_t now) const
    {
        if (SSL_SESSION_is_resumable(s) != 1)
            return false;
        const auto born = static_cast<std::int64_t>(SSL_SESSION_get_time(s));
        std::int64_t life = std::min<std::int64_t>(static_cast<std::int64_t>(SSL_SESSION_get_timeout(s)), max_age_.count());
        if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION && SSL_SESSION_has_ticket(s) == 1)
            life = std::min<std::int64_t>(life, static_cast<std::int64_t>(SSL_SESSION_get_ticket_lifetime_hint(s)));
        return now >= born && now - born < life;
    }

    mutable std::mutex m_;
    std::list<entry> entries_;
    std::size_t max_servers_;
    std::size_t per_server_;
    std::chrono::seconds max_age_;
    std::uint64_t offered_ = 0;
    std::uint64_t resumed_ = 0;
};

SMTP_NAMESPACE_END

#endif

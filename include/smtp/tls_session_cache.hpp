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

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

SMTP_NAMESPACE_BEGIN

namespace detail {
struct tls_context_access; // smtp/transport/tls_layer.hpp
}

/// TLS sessions kept for resumption (TLS 1.3 tickets, TLS 1.2 tickets and
/// session IDs), keyed by server and TLS settings; thread-safe. A pool owns
/// one for its connections; tls_options::session_cache shares one between
/// sessions; without either, a process-wide one (process_default()) serves
/// connections whose tls_options have no context_hook. It also keeps the
/// OpenSSL client context of each set of settings (at most 8, the least
/// recently used goes first), shared by its connections: the CA file (or
/// the system's store) is read once, and the context_hook runs once, for
/// all of them; clear() makes the next connection read them again.
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

    /// Forgets every session and context.
    void clear()
    {
        std::lock_guard<std::mutex> lock(m_);
        for (auto& e : entries_)
            for (SSL_SESSION* s : e.sessions)
                SSL_SESSION_free(s);
        entries_.clear();
        contexts_.clear();
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

    /// The key of a set of TLS settings: whether the server is verified,
    /// and the tls_options that bear on what is checked and on who the
    /// client is. Each field is length-prefixed: no two settings give the
    /// same key.
    static std::string settings_key(const tls_options& t, bool verify)
    {
        std::string k;
        add(k, verify ? "verify" : "no-verify");
        add(k, t.ca_file);
        add(k, t.cert_file);
        add(k, t.key_file);
        add(k, passphrase_digest(t.key_passphrase.view())); // a wrong one must fail as it would alone
        add(k, t.min_version == tls_version::v1_3 ? "1.3" : "1.2");
        add(k, t.ciphers);
        add(k, t.ciphersuites);
        for (const auto& pin : t.pin_sha256)
            add(k, pin);
        return k;
    }
    /// The key of a connection's sessions: the server (host name and port)
    /// and settings_key.
    static std::string key_of(const connect_options& o, bool verify)
    {
        std::string k;
        add(k, o.host);
        add(k, std::to_string(o.port));
        return k + settings_key(o.tls, verify);
    }

private:
    friend struct detail::tls_context_access;

    /// SHA-256 of the key's passphrase: in the key, never the passphrase itself.
    static std::string passphrase_digest(std::string_view p)
    {
        if (p.empty())
            return {};
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (EVP_Digest(p.data(), p.size(), d, &n, EVP_sha256(), nullptr) != 1) {
            static std::atomic<unsigned long> unmatched{0}; // a key no other connection has
            return "?" + std::to_string(++unmatched);
        }
        return std::string(reinterpret_cast<const char*>(d), n);
    }

    static void add(std::string& k, std::string_view v)
    {
        k += std::to_string(v.size());
        k += ':';
        k += v;
    }

    std::shared_ptr<void> context(const std::string& settings)
    {
        std::lock_guard<std::mutex> lock(m_);
        for (auto it = contexts_.begin(); it != contexts_.end(); ++it)
            if (it->first == settings) {
                contexts_.splice(contexts_.begin(), contexts_, it);
                return it->second;
            }
        return nullptr;
    }
    void keep_context(const std::string& settings, std::shared_ptr<void> ctx)
    {
        std::lock_guard<std::mutex> lock(m_);
        for (auto it = contexts_.begin(); it != contexts_.end(); ++it)
            if (it->first == settings) {
                it->second = std::move(ctx);
                contexts_.splice(contexts_.begin(), contexts_, it);
                return;
            }
        contexts_.emplace_front(settings, std::move(ctx));
        if (contexts_.size() > 8)
            contexts_.pop_back();
    }

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
    std::list<std::pair<std::string, std::shared_ptr<void>>> contexts_; // most recently used first
    std::size_t max_servers_;
    std::size_t per_server_;
    std::chrono::seconds max_age_;
    std::uint64_t offered_ = 0;
    std::uint64_t resumed_ = 0;
};

SMTP_NAMESPACE_END

#endif

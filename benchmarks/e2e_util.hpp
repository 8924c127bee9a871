// benchmarks/e2e_util.hpp
//
// What the end-to-end benchmark programs (e2e_bench.cpp, e2e_peers.cpp,
// tls_sink.cpp) share: command-line flags, a monotonic clock, peak and
// current memory, a deterministic large message, and the one JSON line
// each run prints for benchmarks/run_e2e.py.
#ifndef SMTP_BENCHMARKS_E2E_UTIL_HPP
#define SMTP_BENCHMARKS_E2E_UTIL_HPP

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace e2e {

/// --name value pairs after the subcommand.
class flags {
public:
    flags(int argc, char** argv, int first)
    {
        for (int i = first; i < argc; ++i) {
            std::string k = argv[i];
            if (k.rfind("--", 0) != 0 || i + 1 >= argc)
                throw std::invalid_argument("expected --name value, got " + k);
            v_[k.substr(2)] = argv[++i];
        }
    }
    std::string str(const std::string& k, const std::string& def = {}) const
    {
        auto it = v_.find(k);
        if (it != v_.end())
            return it->second;
        if (def.empty())
            throw std::invalid_argument("missing --" + k);
        return def;
    }
    long long num(const std::string& k, long long def = -1) const
    {
        auto it = v_.find(k);
        if (it != v_.end())
            return std::stoll(it->second);
        if (def < 0)
            throw std::invalid_argument("missing --" + k);
        return def;
    }

private:
    std::map<std::string, std::string> v_;
};

inline double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// CPU time of this process (all threads, user and system), seconds.
inline double cpu_now()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

/// A field of /proc/self/status in kB ("VmHWM", "VmRSS", "Threads"), -1 if absent.
inline long proc_status(const std::string& field)
{
    std::ifstream f("/proc/self/status");
    std::string key;
    while (f >> key) {
        if (key == field + ":") {
            long n = 0;
            f >> n;
            return n;
        }
        f.ignore(1 << 20, '\n');
    }
    return -1;
}

/// Peak resident set of this process image so far, KiB: VmHWM, the high-water
/// mark of this address space. (getrusage's ru_maxrss is not used for the
/// figures: Linux carries it over execve, so a child of a large parent
/// starts with the parent's RSS as its "peak".)
inline long peak_rss_kib() { return proc_status("VmHWM"); }

/// getrusage(RUSAGE_SELF).ru_maxrss, KiB: reported beside VmHWM.
inline long rusage_maxrss_kib()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/// Resident set now (/proc/self/statm), KiB.
inline long rss_kib()
{
    std::ifstream f("/proc/self/statm");
    long size = 0, resident = 0;
    f >> size >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/// Threads of this process now.
inline long thread_count() { return proc_status("Threads"); }

/// Bytes malloc has handed out and not taken back (every operator new
/// goes through malloc here; so do OpenSSL's allocations).
inline std::size_t heap_in_use()
{
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

inline std::string read_file(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        throw std::runtime_error("cannot read " + path);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

/// A message of exactly `size` octets (at least 300), generated a piece at
/// a time: a header section, then lines of 76 random letters with CRLF (997
/// lines drawn once, then repeated), one line in 40 starting with a dot (so
/// dot-stuffing has work to do); deterministic.
class message_generator {
public:
    explicit message_generator(std::size_t size) : size_(size)
    {
        std::uint64_t x = 0x9E3779B97F4A7C15ull;
        lines_.resize(997 * 78);
        for (std::size_t i = 0; i < lines_.size(); i += 78) {
            for (std::size_t j = 0; j < 76; ++j) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                lines_[i + j] = static_cast<char>('a' + x % 26);
            }
            lines_[i + 76] = '\r';
            lines_[i + 77] = '\n';
        }
        rewind();
    }

    void rewind()
    {
        pending_ = "From: Author <author@example.com>\r\nTo: Recipient <rcpt0@example.com>\r\n"
                   "Subject: e2e benchmark, large message\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
        at_ = 0;
        total_ = pending_.size();
        line_ = 0;
    }

    /// Up to n octets into out; 0 at the end.
    std::size_t read(char* out, std::size_t n)
    {
        std::size_t done = 0;
        while (done < n) {
            if (at_ == pending_.size() && !refill())
                break;
            const std::size_t k = std::min(n - done, pending_.size() - at_);
            std::memcpy(out + done, pending_.data() + at_, k);
            at_ += k;
            done += k;
        }
        return done;
    }

private:
    bool refill()
    {
        at_ = 0;
        if (total_ + 78 <= size_) {
            pending_.assign(lines_, (line_ % 997) * 78, 78);
            if (line_++ % 40 == 0)
                pending_[0] = '.';
        } else if (total_ < size_) { // the last line, padded to the exact size
            const std::size_t rest = size_ - total_;
            pending_ = rest >= 2 ? std::string(rest - 2, 'z') + "\r\n" : std::string(rest, '\n');
        } else {
            pending_.clear();
            return false;
        }
        total_ += pending_.size();
        return true;
    }

    std::size_t size_;
    std::string lines_;
    std::string pending_;
    std::size_t at_ = 0, total_ = 0;
    std::size_t line_ = 0;
};

/// The generator's message, all of it in memory.
inline std::string make_message(std::size_t size)
{
    std::string m(size, '\0');
    message_generator g(size);
    m.resize(g.read(m.data(), size));
    return m;
}

/// One JSON object on one line: the runner reads the last line of stdout.
class json_line {
public:
    json_line& add(const std::string& k, double v)
    {
        char b[64];
        std::snprintf(b, sizeof b, "%.9g", v);
        return raw(k, b);
    }
    json_line& add(const std::string& k, long long v) { return raw(k, std::to_string(v)); }
    json_line& add(const std::string& k, const std::string& v)
    {
        std::string q = "\"";
        for (char c : v) {
            if (c == '"' || c == '\\')
                q += '\\';
            q += c;
        }
        return raw(k, q + "\"");
    }
    json_line& add(const std::string& k, const std::vector<double>& v)
    {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) {
            char b[64];
            std::snprintf(b, sizeof b, "%s%.9g", i ? ", " : "", v[i]);
            s += b;
        }
        return raw(k, s + "]");
    }
    void print() const { std::printf("{%s}\n", body_.c_str()), std::fflush(stdout); }

private:
    json_line& raw(const std::string& k, const std::string& v)
    {
        if (!body_.empty())
            body_ += ", ";
        body_ += "\"" + k + "\": " + v;
        return *this;
    }
    std::string body_;
};

} // namespace e2e

#endif

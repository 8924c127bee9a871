/// \file smtp/message_reader.hpp
///
/// message_reader: a built message's bytes, read piece by piece (what a
/// message_source takes), attachments read and encoded as they go.
#ifndef SMTP_MESSAGE_READER_HPP
#define SMTP_MESSAGE_READER_HPP

#include <smtp/mime.hpp>
#include <smtp/protocol/base64.hpp>
#include <smtp/protocol/line_ends.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

SMTP_NAMESPACE_BEGIN

/// Reads a message's bytes piece by piece: read(buf, n) fills up to n bytes
/// (0: the end), rewind() starts over (false when an attachment's reader
/// cannot). Copies share one position. Attachments from files or readers
/// are read 57 KiB at a time. Made by message::reader(); smtp::message_source
/// (transaction.hpp) takes read_function() and rewind_function().
class message_reader {
public:
    static constexpr std::size_t raw_chunk = 57 * 1024; ///< attachment bytes read at a time

    explicit message_reader(std::vector<mime::segment> segments)
        : s_(std::make_shared<state>())
    {
        s_->segs = std::move(segments);
    }

    std::size_t read(char* buf, std::size_t n)
    {
        state& s = *s_;
        std::size_t done = 0;
        while (done < n && s.seg < s.segs.size()) {
            const mime::segment& seg = s.segs[s.seg];
            if (!seg.stream) {
                const std::size_t take = std::min(n - done, seg.text.size() - s.off);
                std::copy_n(seg.text.data() + s.off, take, buf + done);
                done += take;
                s.off += take;
                if (s.off == seg.text.size())
                    next(s);
                continue;
            }
            if (s.off == s.encoded.size() && !refill(s)) {
                next(s);
                continue;
            }
            const std::size_t take = std::min(n - done, s.encoded.size() - s.off);
            std::copy_n(s.encoded.data() + s.off, take, buf + done);
            done += take;
            s.off += take;
        }
        return done;
    }

    bool rewind()
    {
        state& s = *s_;
        for (const auto& seg : s.segs)
            if (seg.stream && seg.stream->read && !seg.stream->rewind)
                return false;
        for (const auto& seg : s.segs)
            if (seg.stream && seg.stream->read && !seg.stream->rewind())
                return false;
        s.seg = 0;
        s.off = 0;
        s.file.reset();
        s.encoded.clear();
        s.opened = false;
        s.first_line = true;
        return true;
    }

    std::function<std::size_t(char*, std::size_t)> read_function() const
    {
        return [r = *this](char* buf, std::size_t n) mutable { return r.read(buf, n); };
    }
    std::function<bool()> rewind_function() const
    {
        return [r = *this]() mutable { return r.rewind(); };
    }

    /// The largest amount of memory an attachment's encoding holds at once.
    static constexpr std::size_t max_piece() noexcept
    {
        return raw_chunk + base64::encoded_size(raw_chunk) + 2 * (raw_chunk / 57 + 1);
    }

private:
    struct state {
        std::vector<mime::segment> segs;
        std::size_t seg = 0, off = 0;
        std::unique_ptr<std::ifstream> file{};
        std::string raw{}, encoded{};
        bool opened = false, first_line = true;
    };

    static void next(state& s)
    {
        ++s.seg;
        s.off = 0;
        s.file.reset();
        s.encoded.clear();
        s.opened = false;
        s.first_line = true;
    }

    /// Reads and encodes the next chunk of the current attachment; false at its end.
    static bool refill(state& s)
    {
        const attachment& a = *s.segs[s.seg].stream;
        if (!s.opened) {
            s.opened = true;
            if (!a.read && !a.path.empty()) {
                s.file = std::make_unique<std::ifstream>(a.path, std::ios::binary);
                if (!*s.file)
                    throw std::runtime_error("smtp::message: cannot open attachment " + a.path);
            }
        }
        s.raw.resize(raw_chunk);
        std::size_t got = 0;
        while (got < raw_chunk) { // a whole chunk, so that lines stay 57 bytes
            std::size_t n = 0;
            if (a.read) {
                n = a.read(s.raw.data() + got, raw_chunk - got);
            } else {
                s.file->read(s.raw.data() + got, static_cast<std::streamsize>(raw_chunk - got));
                n = static_cast<std::size_t>(s.file->gcount());
                if (n == 0 && s.file->bad())
                    throw std::runtime_error("smtp::message: cannot read attachment " + a.path);
            }
            if (n == 0)
                break;
            got += n;
        }
        s.raw.resize(got);
        s.encoded.clear();
        s.off = 0;
        mime::base64_lines(s.raw, s.encoded, s.first_line);
        return got != 0;
    }

    std::shared_ptr<state> s_;
};

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/bdat_framer.hpp
///
/// The BDAT framer (RFC 3030 2): message data sent unchanged, in chunks of a
/// chosen size, each announced by "BDAT <size>[ LAST]". No dot-stuffing and
/// no line-end changes: what goes in is what the server stores.
///
/// ```
///   smtp::bdat_framer f(64 * 1024);
///   std::string_view rest = message;
///   while (!f.done()) {
///       std::string header;
///       auto payload = f.next(rest, /*end_of_input=*/true, header);
///       send(header); send(payload);           // payload views the message
///   }
/// ```
#ifndef SMTP_PROTOCOL_BDAT_FRAMER_HPP
#define SMTP_PROTOCOL_BDAT_FRAMER_HPP

#include <smtp/protocol/commands.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

class bdat_framer {
public:
    explicit bdat_framer(std::size_t chunk_size) : chunk_size_(chunk_size)
    {
        if (chunk_size == 0)
            throw std::invalid_argument("bdat_framer: chunk size must be positive");
    }

    std::size_t chunk_size() const noexcept { return chunk_size_; }

    /// Takes the next chunk off the front of `data` and appends its BDAT line
    /// to `header`. `end_of_input`: nothing follows `data`, so the chunk that
    /// takes its last byte is the LAST one (an empty message gives
    /// "BDAT 0 LAST"). Without it, a partial chunk is sent as it is and an
    /// empty `data` gives no chunk (empty header, empty payload).
    std::string_view next(std::string_view& data, bool end_of_input, std::string& header)
    {
        if (done_)
            return {};
        const std::size_t n = std::min(data.size(), chunk_size_);
        const bool last = end_of_input && n == data.size();
        if (n == 0 && !last)
            return {};
        cmd::bdat{n, last}.write_to(header);
        const std::string_view payload = data.substr(0, n);
        data.remove_prefix(n);
        done_ = last;
        return payload;
    }

    /// True once the LAST chunk has been framed.
    bool done() const noexcept { return done_; }

    void reset() noexcept { done_ = false; }

private:
    std::size_t chunk_size_;
    bool done_ = false;
};

SMTP_NAMESPACE_END

#endif

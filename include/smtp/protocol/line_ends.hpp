/// \file smtp/protocol/line_ends.hpp
///
/// Line ends made CRLF (a bare CR or a bare LF becomes CRLF, nothing else
/// changes), a piece at a time: the message data the engine sends with BDAT,
/// and the text parts the message builder encodes.
#ifndef SMTP_PROTOCOL_LINE_ENDS_HPP
#define SMTP_PROTOCOL_LINE_ENDS_HPP

#include <smtp/protocol/detail/scan.hpp>
#include <smtp/version.hpp>

#include <string>
#include <string_view>

SMTP_NAMESPACE_BEGIN

/// Line ends made CRLF, nothing else changed: message data for BDAT.
/// Streaming; carries a CR at the end of one piece over to the next.
class line_end_normalizer {
public:
    void put(std::string_view in, std::string& out)
    {
        const char* p = in.data();
        const char* const end = p + in.size();
        if (after_cr_ && p != end) { // an empty piece keeps the CR pending
            if (*p == '\n')
                ++p;
            after_cr_ = false;
        }
        while (p != end) {
            const char* q = detail::find_cr_or_lf(p, end);
            out.append(p, q);
            if (q == end) {
                open_line_ = true;
                return;
            }
            out.append(std::string_view("\r\n"));
            open_line_ = false;
            if (*q == '\r') {
                if (q + 1 == end) {
                    after_cr_ = true;
                    return;
                }
                if (q[1] == '\n')
                    ++q;
            }
            p = q + 1;
        }
    }
    /// The final CRLF when the last line is open.
    void finish(std::string& out)
    {
        if (open_line_)
            out.append(std::string_view("\r\n"));
        open_line_ = after_cr_ = false;
    }

private:
    bool after_cr_ = false;
    bool open_line_ = false;
};

SMTP_NAMESPACE_END

#endif

/// \file smtp/protocol/transaction.hpp
///
/// The mail transaction engine, sans I/O: one message's MAIL, RCPTs, DATA or
/// BDAT chunks and their replies, planned from what the server offers and
/// what the message needs, and one transaction_result at the end.
///
/// ```
///   smtp::transaction t(from, recipients, message, options, caps, facts, settings);
///   // caps: a capability record (basic_capabilities<...>); last, optionally,
///   // smtp::extensions<my_ext...>{} for extension types the record lacks
///   if (t.error()) ...                       // refused before a byte: nothing to send
///   while (t.next() != smtp::transaction::want::done) {
///       if (t.next() == want::write) t.write(out), send(out);
///       else t.on_reply(read_reply());        // replies in the order they come
///   }                                         // (t.on_failure(ec) when the connection fails)
///   t.result();                               // per recipient, and the message's outcome
/// ```
///
/// How it chooses (docs/transactions.md):
/// - PIPELINING offered (and allowed by the settings): MAIL, every RCPT and
///   DATA go out in one write (RFC 2920 3.1); with CHUNKING, MAIL, the RCPTs
///   and the BDAT chunks. Every reply is matched to its command in order.
///   Without it, lockstep: one command, one reply.
/// - CHUNKING offered: BDAT chunks, no dot-stuffing, line ends made CRLF
///   (BINARYMIME: the bytes as they are). Otherwise DATA with dot-stuffing.
/// - SIZE offered: the size is declared on MAIL; over the server's limit the
///   message is refused here, before anything is sent.
/// - 8-bit octets: BODY=8BITMIME; non-ASCII in an address or in the header
///   section: SMTPUTF8. Needed and not offered: an error, never mangling.
/// - DSN (RFC 3461) NOTIFY/ORCPT per recipient and RET/ENVID per message, and
///   REQUIRETLS (RFC 8689): sent when asked for; asked for and not offered:
///   an error.
/// - Each of these parameters belongs to an extension type (extensions.hpp):
///   the engine folds over the record's types, then the extra ones, asking
///   each whether the message requires it and, when offered, for its MAIL
///   and RCPT parameters. A user's extension is planned the same way.
/// - Every recipient refused: no message data is sent (after a 354 to a
///   pipelined DATA, a lone "." ends it, RFC 2920 3.1) and the transaction is
///   reset; the session is clean for the next one. (With pipelined BDAT the
///   first chunk went with the commands; once the next transaction followed
///   its BDAT LAST there is no RSET: see on_followed().)
/// - LMTP (RFC 2033): one reply per accepted recipient after the data.
///
/// What a caller asks (send_request.hpp), what happened
/// (transaction_result.hpp), the look at the message (message_scanner.hpp)
/// and the parameter encodings (xtext.hpp) are in their own headers, all
/// included here.
///
/// Everything the engine will send is checked in its constructor. After that
/// nothing it writes can be refused locally, so a message is never half sent
/// because of its own content.
#ifndef SMTP_PROTOCOL_TRANSACTION_HPP
#define SMTP_PROTOCOL_TRANSACTION_HPP

#include <smtp/protocol/capabilities.hpp>
#include <smtp/protocol/commands.hpp>
#include <smtp/protocol/data_encoder.hpp>
#include <smtp/protocol/detail/validate.hpp>
#include <smtp/protocol/diagnostics.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/protocol/extension_parameters.hpp>
#include <smtp/protocol/extensions.hpp>
#include <smtp/protocol/line_ends.hpp>
#include <smtp/protocol/message_scanner.hpp>
#include <smtp/protocol/message_source.hpp>
#include <smtp/protocol/reply.hpp>
#include <smtp/protocol/send_request.hpp>
#include <smtp/protocol/transaction_result.hpp>
#include <smtp/protocol/xtext.hpp>
#include <smtp/version.hpp>

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

SMTP_NAMESPACE_BEGIN

// --- The engine ---------------------------------------------------------------------------

/// A capability record the engine can plan from: a basic_capabilities<...>.
template <class Caps>
concept capability_record = requires(const Caps& c, std::string_view keyword) {
    { c.extn_params(keyword) } -> std::same_as<std::optional<std::string_view>>;
    Caps::for_each_extension([]<class E>() {});
};

namespace detail {
/// Calls f(offered) with E's value as the server offered it (an optional):
/// from the record when it knows E, else parsed from the keyword's line.
template <class E, class Caps, class F>
decltype(auto) with_offer(const Caps& caps, F&& f)
{
    if constexpr (Caps::template knows<E>) {
        return f(caps.template get<E>());
    } else {
        std::optional<typename E::value_type> v;
        if (const auto params = caps.extn_params(E::keyword))
            v = E::parse(*params);
        return f(std::as_const(v));
    }
}
template <class E, class Caps>
bool offers(const Caps& caps)
{
    return with_offer<E>(caps, [](const auto& v) { return v.has_value(); });
}
/// Calls f.template operator()<E>() for each extension type of the record,
/// then for each of Extra... the record does not know.
template <class Caps, class... Extra, class F>
void for_each_extension(F&& f)
{
    Caps::for_each_extension(f);
    (
        [&] {
            if constexpr (!Caps::template knows<Extra>)
                f.template operator()<Extra>();
        }(),
        ...);
}
} // namespace detail

/// The session around a transaction.
struct session_facts {
    bool encrypted = false;
    bool lmtp = false; ///< one reply per accepted recipient after the data (RFC 2033)
};

class transaction {
public:
    enum class want { write, read, done };
    /// What the next reply answers (for the per-phase time limits).
    enum class awaiting { nothing, mail, rcpt, data, bdat, end_of_data, rset };

    transaction() = default;

    /// Plans the transaction and checks everything it will send, from what
    /// the server offers (`caps`, a capability record) and what the message
    /// needs: each extension type of the record, then each of Extra... (an
    /// smtp::extensions<...> list, for types the record does not know),
    /// adds its MAIL and RCPT parameters or refuses. On a refusal, error()
    /// and diag() say why, next() is done, and nothing is to be sent.
    /// `message` is viewed, not copied: it must outlive the transaction (a
    /// temporary std::string does not compile).
    template <capability_record Caps, class... Extra>
    transaction(std::string_view from, std::span<const recipient> to, std::string_view message,
                const send_options& options, const Caps& caps, const session_facts& facts,
                const transaction_settings& settings = {}, extensions<Extra...> = {})
        : message_(message), options_(options), settings_(settings), lmtp_(facts.lmtp)
    {
        plan<Caps, Extra...>(from, to, caps, facts);
    }

    template <class S, class Caps, class... Extra>
        requires std::same_as<S, std::string>
    transaction(std::string_view, std::span<const recipient>, S&&, const send_options&, const Caps&,
                const session_facts&, const transaction_settings& = {}, extensions<Extra...> = {}) = delete;

    /// A message read from `source` (which must outlive the transaction).
    template <capability_record Caps, class... Extra>
    transaction(std::string_view from, std::span<const recipient> to, message_source& source,
                const send_options& options, const Caps& caps, const session_facts& facts,
                const transaction_settings& settings = {}, extensions<Extra...> = {})
        : source_(&source), options_(options), settings_(settings), lmtp_(facts.lmtp)
    {
        plan<Caps, Extra...>(from, to, caps, facts);
    }

    transaction(transaction&&) noexcept = default;
    transaction& operator=(transaction&&) noexcept = default;

    want next() const noexcept
    {
        if (stage_ == stage::done)
            return want::done;
        if (stage_ == stage::send_group || stage_ == stage::send_data || stage_ == stage::send_rset ||
            stage_ == stage::send_abort || stage_ == stage::send_next_rcpt || stage_ == stage::send_data_cmd)
            return want::write;
        return qhead_ < queue_.size() ? want::read : want::done;
    }

    /// Appends what is to be sent now. Data goes out a piece at a time
    /// (write_size octets, or one BDAT chunk): next() may say write again.
    void write(std::string& out)
    {
        using namespace std::string_view_literals; // appended with their length, not a strlen
        wrote_data_ = false;
        switch (stage_) {
        case stage::send_group: write_group(out); break;
        case stage::send_next_rcpt:
            append_rcpt(next_rcpt_++, out);
            stage_ = stage::wait;
            break;
        case stage::send_data_cmd:
            out.append("DATA\r\n"sv);
            expect(kind::data);
            stage_ = stage::wait;
            break;
        case stage::send_data: write_data(out); break;
        case stage::send_rset:
            out.append("RSET\r\n"sv);
            expect(kind::rset);
            stage_ = stage::wait;
            break;
        case stage::send_abort:
            out.append(".\r\n"sv);
            expect(kind::abort_dot);
            data_go_ = false;
            stage_ = stage::wait;
            break;
        default: break;
        }
    }

    /// The next reply, in order.
    void on_reply(const reply_view& r)
    {
        if (qhead_ >= queue_.size())
            return;
        const item it = queue_[qhead_++];
        if (r.code() == 421)
            closing_ = true;
        switch (it.k) {
        case kind::mail: on_mail(r); break;
        case kind::rcpt: on_rcpt(it.index, r); break;
        case kind::data: on_data(r); break;
        case kind::bdat: on_bdat(it.index, r); break;
        case kind::end_of_data: on_final(r); break;
        case kind::rset:
        case kind::abort_dot: break;
        }
        if (closing_)
            return close_now(r);
        settle();
    }

    /// The connection failed. The outcome becomes unknown when the whole
    /// message went out and its reply did not come. `end_of_data_sent`:
    /// false when the write that held the end of data is the one that
    /// failed (then the server cannot have the whole message).
    void on_failure(error_code io, bool end_of_data_sent = true)
    {
        if (stage_ == stage::done && qhead_ >= queue_.size())
            return;
        stage_ = stage::done;
        queue_.clear();
        qhead_ = 0;
        if (final_seen_ || r_.outcome == transaction_outcome::refused) {
            if (!r_.error)
                r_.error = io;
            return;
        }
        if (data_complete_ && end_of_data_sent) {
            r_.outcome = transaction_outcome::unknown;
            set_error(errc::outcome_unknown, "end of data");
            return;
        }
        r_.outcome = transaction_outcome::not_sent;
        r_.error = io;
        diag_.clear();
    }

    /// The whole message has been written (its end of data too): another
    /// transaction's commands may follow it in the same write (RFC 2920 3.1).
    bool data_complete() const noexcept { return data_complete_; }
    /// Another transaction's commands went out behind this one's end of
    /// data (a pipelined stream, a BDAT window). A refusal that comes after
    /// it is then left without RSET: the server ended this transaction at
    /// the end of data, and an RSET would land in the next one.
    void on_followed() noexcept { followed_ = true; }
    /// The server sent 421: it is closing the connection.
    bool server_closing() const noexcept { return closing_; }
    /// A streamed message turned out unsendable midway (error() says why):
    /// its end of data must never be sent. The caller closes the connection.
    bool aborted() const noexcept { return aborted_; }
    awaiting awaited() const noexcept
    {
        if (qhead_ >= queue_.size())
            return awaiting::nothing;
        switch (queue_[qhead_].k) {
        case kind::mail: return awaiting::mail;
        case kind::rcpt: return awaiting::rcpt;
        case kind::data: return awaiting::data;
        case kind::bdat: return awaiting::bdat;
        case kind::end_of_data:
        case kind::abort_dot: return awaiting::end_of_data;
        case kind::rset: return awaiting::rset;
        }
        return awaiting::nothing;
    }

    /// The transaction's verdict: clear when the message was queued (some
    /// recipients may still be refused: see result()).
    const error_code& error() const noexcept { return r_.error; }
    const diagnostics& diag() const noexcept { return diag_; }
    const transaction_result& result() const& noexcept { return r_; }
    transaction_result&& result() && noexcept { return std::move(r_); }

    /// Message octets written so far (of size()), for progress reports.
    std::uint64_t data_written() const noexcept { return data_written_; }
    std::uint64_t size() const noexcept { return facts_.size; }
    /// Calls send_options::progress when more data went out since the last call.
    void report_progress()
    {
        if (data_written_ != reported_ && options_.progress) {
            reported_ = data_written_;
            options_.progress(data_written_, facts_.size);
        }
    }
    /// True when the last write() appended message data.
    bool wrote_data() const noexcept { return wrote_data_; }
    bool uses_bdat() const noexcept { return bdat_; }
    bool pipelined() const noexcept { return pipelining_; }

private:
    enum class stage { done, send_group, wait, send_next_rcpt, send_data_cmd, send_data, send_rset, send_abort };
    enum class kind : unsigned char { mail, rcpt, data, bdat, end_of_data, rset, abort_dot };
    struct item {
        kind k;
        std::uint32_t index;
    };

    void set_error(errc e, std::string_view field)
    {
        r_.error = e;
        diag_.clear();
        diag_.set_field(field);
    }
    void refuse_locally(errc e, std::string_view field)
    {
        set_error(e, field);
        stage_ = stage::done;
    }
    void fail_with(const reply& r)
    {
        if (r_.error)
            return;
        r_.error = r.code().is_transient() ? errc::transient_failure
              : r.code().is_permanent() ? errc::permanent_failure
                                        : errc::unexpected_reply;
        diag_.clear();
        diag_.set_reply(r);
    }

    template <class Caps, class... Extra>
    void plan(std::string_view from, std::span<const recipient> to, const Caps& caps, const session_facts& f)
    {
        using namespace std::string_view_literals; // appended with their length, not a strlen
        const send_options& o = options_;
        stage_ = stage::done;
        r_.recipients.reserve(to.size());
        for (const auto& t : to) // copied in place (a temporary's string moved costs as much again)
            r_.recipients.emplace_back().address = t.address;
        if (to.empty())
            return refuse_locally(errc::empty_argument, "RCPT TO address");

        // The addresses decide SMTPUTF8.
        bool utf8 = std::any_of(from.begin(), from.end(), detail::is_8bit);
        for (const auto& t : to)
            utf8 = utf8 || std::any_of(t.address.begin(), t.address.end(), detail::is_8bit);

        // The message: looked at whole before anything is sent, unless it
        // is a source that cannot be read twice.
        const bool binary = o.body == body_type::binary;
        if (source_ && !scan_source(binary))
            return;
        eightbit_offered_ = detail::offers<ext::eightbitmime>(caps);
        if (unchecked_) {
            facts_.eight_bit = eightbit_offered_ && !binary; // declared: the content is not known yet
        } else if (binary) {
            if (!source_)
                facts_.size = message_.size();
            facts_.eight_bit = true;
        } else {
            if (!source_)
                facts_ = scan_message(message_, settings_.data.max_line);
            if (facts_.eight_bit_headers)
                utf8 = true;
        }
        // (For a source read as it goes the facts are empty: its pieces are
        // checked as they go out, in next_piece().)
        if (const errc e = check_content(facts_, o.body, settings_); e != errc{})
            return refuse_locally(e, "message");

        // PIPELINING and CHUNKING shape the engine; a binary body needs BDAT.
        const bool chunking = detail::offers<ext::chunking>(caps);
        if (binary && !chunking)
            return refuse_locally(errc::binarymime_not_offered, "message");
        bdat_ = binary || (chunking && settings_.chunking);
        pipelining_ = detail::offers<ext::pipelining>(caps) && settings_.pipelining;
        header_utf8_ = utf8;

        // The command lines, in one allocation when no RCPT carries long parameters.
        std::size_t line_bytes = from.size() + 128;
        for (const auto& t : to)
            line_bytes += t.address.size() + 16;
        lines_.reserve(line_bytes);
        ends_.reserve(to.size() + 1);
        mail_context m(lines_, utf8, facts_, !unchecked_, o, to, f.encrypted, bdat_);

        // What the message needs and the server does not offer: refused.
        detail::for_each_extension<Caps, Extra...>([&]<class E>() {
            if constexpr (requires { E::required(m); }) {
                if (r_.error)
                    return;
                const bool needed = E::required(m);
                if (m.error() != errc{}) // required() may refuse outright
                    return refuse_locally(m.error(), m.field());
                if (!needed || detail::offers<E>(caps))
                    return;
                if constexpr (requires { E::not_offered_field(m); })
                    refuse_locally(not_offered<E>(), E::not_offered_field(m));
                else if constexpr (requires { std::string_view(E::not_offered_field); })
                    refuse_locally(not_offered<E>(), E::not_offered_field);
                else
                    refuse_locally(not_offered<E>(), E::keyword);
            }
        });
        if (r_.error)
            return;

        // MAIL FROM, checked and written once: each offered extension adds
        // its parameters.
        if (const errc e = detail::check_mailbox(from, utf8, true, false); e != errc{})
            return refuse_locally(e, "MAIL FROM address");
        lines_.append("MAIL FROM:<"sv).append(from).push_back('>');
        m.start_line();
        detail::for_each_extension<Caps, Extra...>([&]<class E>() {
            if constexpr (requires(const typename E::value_type& v) { E::mail(m, v); }) {
                static_assert(requires { std::span<const parameter_spec>(E::mail_params); },
                              "smtp: an extension with a mail() hook declares its parameters: "
                              "static constexpr smtp::parameter_spec mail_params[]");
                if (m.error() != errc{})
                    return;
                detail::with_offer<E>(caps, [&](const auto& offered) {
                    if (offered) {
                        m.declared(E::mail_params);
                        E::mail(m, *offered);
                    }
                });
            }
        });
        if (!end_line(m, cmd::default_max_line))
            return;

        // Each RCPT TO.
        rcpt_context rc(lines_, utf8, to.front(), o);
        for (const auto& t : to) {
            if (const errc e = detail::check_mailbox(t.address, utf8, false, true); e != errc{})
                return refuse_locally(e, "RCPT TO address");
            lines_.append("RCPT TO:<"sv).append(t.address).push_back('>');
            rc.next(t);
            rc.start_line();
            detail::for_each_extension<Caps, Extra...>([&]<class E>() {
                if constexpr (requires(const typename E::value_type& v) { E::rcpt(rc, v); }) {
                    static_assert(requires { std::span<const parameter_spec>(E::rcpt_params); },
                                  "smtp: an extension with an rcpt() hook declares its parameters: "
                                  "static constexpr smtp::parameter_spec rcpt_params[]");
                    if (rc.error() != errc{})
                        return;
                    detail::with_offer<E>(caps, [&](const auto& offered) {
                        if (offered) {
                            rc.declared(E::rcpt_params);
                            E::rcpt(rc, *offered);
                        }
                    });
                }
            });
            if (!end_line(rc, cmd::default_max_line))
                return;
        }
        queue_.reserve(to.size() + 4);
        stage_ = stage::send_group;
    }

    template <class E>
    static constexpr errc not_offered() noexcept
    {
        if constexpr (requires { errc(E::not_offered); })
            return E::not_offered;
        else
            return errc::extension_not_offered;
    }

    /// Ends the command line being planned: refused when an extension
    /// refused, or when the line is longer than `max` octets plus what its
    /// parameters may add (RFC 5321 4.5.3.1.1).
    bool end_line(const parameter_writer& w, std::size_t max)
    {
        using namespace std::string_view_literals; // appended with their length, not a strlen
        if (w.error() != errc{}) {
            refuse_locally(w.error(), w.field());
            return false;
        }
        lines_.append("\r\n"sv);
        const std::size_t start = ends_.empty() ? 0 : ends_.back();
        if (lines_.size() - start > max + w.allowance()) {
            refuse_locally(errc::command_line_too_long, "command line");
            return false;
        }
        ends_.push_back(lines_.size());
        return true;
    }

    void expect(kind k, std::uint32_t index = 0) { queue_.push_back({k, index}); }

    /// Reads a rewindable source once for its facts, then rewinds it.
    /// False (with the error set) when it cannot be read.
    bool scan_source(bool binary)
    {
        if (!source_->read)
            return refuse_locally(errc::empty_argument, "message"), false;
        if (!source_->rewind) {
            unchecked_ = true;
            return true;
        }
        if (!detail::scan_source(*source_, binary, settings_.data.max_line, facts_))
            return refuse_locally(errc::empty_argument, "message"), false;
        return true;
    }

    /// The next piece of a source, read one piece ahead so that the last is
    /// known as such. For a source not checked beforehand, each piece is
    /// checked before it goes out; a problem aborts the transaction.
    bool next_piece(std::size_t piece, std::string_view& in, bool& last)
    {
        if (!primed_) {
            primed_ = true;
            ahead_.resize(piece);
            ahead_.resize(source_->read(ahead_.data(), piece));
        }
        current_.swap(ahead_);
        ahead_.resize(piece);
        ahead_.resize(current_.empty() ? 0 : source_->read(ahead_.data(), piece));
        in = current_;
        last = ahead_.empty();
        if (unchecked_ && options_.body != body_type::binary) {
            scanner_.put(in);
            const message_facts& f = scanner_.so_far();
            const std::size_t longest = std::max(f.longest_line, last ? scanner_.open_line() : 0);
            errc e{};
            if (settings_.data.max_line != 0 &&
                (longest > settings_.data.max_line || scanner_.open_line() > settings_.data.max_line))
                e = errc::data_line_too_long;
            else if (settings_.data.bare_line_endings == line_endings::reject && f.first_bare_cr != message_facts::npos)
                e = errc::data_bare_cr;
            else if (settings_.data.bare_line_endings == line_endings::reject && f.first_bare_lf != message_facts::npos)
                e = errc::data_bare_lf;
            else if (f.eight_bit_headers && !header_utf8_)
                e = errc::smtputf8_not_offered;
            else if (f.eight_bit && !eightbit_offered_)
                e = errc::eightbitmime_not_offered;
            if (e != errc{}) {
                set_error(e, "message");
                r_.outcome = transaction_outcome::not_sent;
                aborted_ = true;
                queue_.clear();
                qhead_ = 0;
                stage_ = stage::done;
                return false;
            }
        }
        return true;
    }

    void append_rcpt(std::size_t i, std::string& out)
    {
        out.append(lines_, ends_[i], ends_[i + 1] - ends_[i]);
        expect(kind::rcpt, static_cast<std::uint32_t>(i));
    }

    void write_group(std::string& out)
    {
        using namespace std::string_view_literals;
        out.append(lines_, 0, ends_[0]);
        expect(kind::mail);
        if (!pipelining_) {
            stage_ = stage::wait;
            return;
        }
        out.append(lines_, ends_[0], std::string::npos);
        for (std::size_t i = 0; i + 1 < ends_.size(); ++i)
            expect(kind::rcpt, static_cast<std::uint32_t>(i));
        next_rcpt_ = ends_.size() - 1;
        if (bdat_) {
            write_data(out); // the first chunk travels with the commands
        } else {
            out.append("DATA\r\n"sv);
            expect(kind::data);
            stage_ = stage::wait;
        }
    }

    /// One piece of the data: a BDAT chunk, or write_size octets dot-stuffed.
    void write_data(std::string& out)
    {
        const std::size_t piece = std::max<std::size_t>(1, bdat_ ? settings_.chunk_size : settings_.write_size);
        std::string_view in;
        bool last;
        if (source_) {
            if (!next_piece(piece, in, last))
                return;
        } else {
            const std::string_view rest = message_.substr(offset_);
            in = rest.substr(0, piece);
            last = in.size() == rest.size();
        }
        offset_ += in.size();
        wrote_data_ = true;
        if (bdat_) {
            std::string_view payload = in;
            if (options_.body != body_type::binary) {
                chunk_.clear();
                normalizer_.put(in, chunk_);
                if (last)
                    normalizer_.finish(chunk_);
                payload = chunk_;
            }
            cmd::bdat{payload.size(), last}.write_to(out);
            out.append(payload);
            expect(kind::bdat, static_cast<std::uint32_t>(last));
            data_written_ += payload.size();
        } else {
            error_code ec; // cannot fail: the message was checked in plan() or next_piece()
            encoder_.encode(in, out, ec);
            if (last)
                encoder_.finish(out, ec);
            data_written_ = unchecked_ ? offset_ : std::min<std::uint64_t>(facts_.size, data_written_ + in.size());
            if (last && !unchecked_)
                data_written_ = facts_.size;
        }
        if (last) {
            data_complete_ = true;
            if (!bdat_)
                expect(kind::end_of_data);
        }
        // DATA: the rest goes out without waiting. BDAT: pipelined chunks
        // too; in lockstep each chunk waits for its reply.
        if (last || (bdat_ && !pipelining_))
            stage_ = stage::wait;
        else
            stage_ = stage::send_data;
    }

    void on_mail(const reply_view& r)
    {
        r_.mail_reply.assign(r);
        mail_ok_ = r.code().is_positive();
        if (!mail_ok_) {
            fail_with(r_.mail_reply);
            r_.outcome = transaction_outcome::refused;
        }
    }
    void on_rcpt(std::size_t i, const reply_view& r)
    {
        r_.recipients[i].rcpt_reply.assign(r);
        if (r.code().is_positive())
            ++accepted_;
    }
    void on_data(const reply_view& r)
    {
        r_.data_reply.assign(r);
        data_go_ = r.code() == 354;
        if (!data_go_ && mail_ok_ && accepted_ > 0)
            fail_with(r_.data_reply);
    }
    void on_bdat(std::uint32_t last, const reply_view& r)
    {
        if (last && lmtp_ && !bdat_failed_ && mail_ok_ && accepted_ > 0)
            return on_final(r); // LMTP: the first recipient's reply
        if (!r.code().is_positive()) {
            if (!bdat_failed_ && mail_ok_ && accepted_ > 0) {
                r_.final_reply.assign(r);
                fail_with(r_.final_reply);
            }
            bdat_failed_ = true;
        }
        if (last && !bdat_failed_ && mail_ok_ && accepted_ > 0)
            on_final(r); // (after a refused MAIL, or no recipient, a 250 here decides nothing)
    }
    /// The reply to the end of data; under LMTP, the next accepted recipient's.
    void on_final(const reply_view& r)
    {
        if (!lmtp_) {
            final_seen_ = true;
            r_.final_reply.assign(r);
            if (r.code().is_positive()) {
                r_.outcome = transaction_outcome::queued;
            } else {
                r_.outcome = transaction_outcome::refused;
                fail_with(r_.final_reply);
            }
            return;
        }
        while (lmtp_next_ < r_.recipients.size() && !r_.recipients[lmtp_next_].rcpt_reply.code().is_positive())
            ++lmtp_next_;
        if (lmtp_next_ < r_.recipients.size())
            r_.recipients[lmtp_next_++].delivery.emplace(r);
        ++lmtp_seen_;
        if (lmtp_seen_ < accepted_) { // more replies come
            expect(kind::end_of_data);
            return;
        }
        final_seen_ = true;
        r_.final_reply.assign(r);
        if (r_.accepted_count() > 0) {
            r_.outcome = transaction_outcome::queued;
        } else {
            r_.outcome = transaction_outcome::refused;
            set_error(errc::all_recipients_refused, {});
        }
    }

    /// After each reply: what comes next, once every reply sent for is in.
    void settle()
    {
        if (stage_ != stage::wait || qhead_ < queue_.size())
            return;
        if (cleaning_) // the RSET or the lone dot is answered
            return finish();
        if (!mail_ok_) { // MAIL refused: no transaction is open
            r_.outcome = transaction_outcome::refused;
            return data_go_ ? clean_up() : finish();
        }
        if (!pipelining_ && next_rcpt_ < r_.recipients.size()) {
            stage_ = stage::send_next_rcpt;
            return;
        }
        if (accepted_ == 0) {
            if (!r_.error)
                set_error(errc::all_recipients_refused, {});
            r_.outcome = transaction_outcome::refused;
            return clean_up();
        }
        if (bdat_failed_ || (!bdat_ && r_.data_reply.code().value() != 0 && !data_go_)) {
            r_.outcome = transaction_outcome::refused; // DATA or a chunk refused
            return clean_up();
        }
        if (final_seen_)
            return finish();
        if (data_complete_)
            return; // not reached: the final reply is awaited
        if (!bdat_ && r_.data_reply.code().value() == 0)
            stage_ = stage::send_data_cmd; // lockstep: DATA now
        else
            stage_ = stage::send_data;     // the data after 354; the next BDAT chunk
    }

    /// Leaves the session clean: a lone dot after a 354 no recipient can
    /// use (RFC 2920 3.1), RSET otherwise; nothing when the end of data went
    /// out and the next transaction followed it (see on_followed()).
    void clean_up()
    {
        if (followed_ && data_complete_)
            return finish();
        cleaning_ = true;
        stage_ = data_go_ && !data_complete_ ? stage::send_abort : stage::send_rset;
    }

    void finish() { stage_ = stage::done; }

    /// 421: the server is closing the connection; nothing more will come.
    void close_now(const reply_view& r)
    {
        if (!final_seen_) { // else the 421 was the last recipient's reply: the verdict stands
            fail_with(reply(r));
            if (data_complete_ && lmtp_ && lmtp_seen_ > 0)
                r_.outcome = transaction_outcome::unknown; // some recipients' replies are missing
            else // the server did not take the message: sending it again is safe
                r_.outcome = transaction_outcome::not_sent;
        }
        queue_.clear();
        qhead_ = 0;
        stage_ = stage::done;
    }

    std::string_view message_{};
    message_source* source_ = nullptr;
    bool unchecked_ = false, primed_ = false, aborted_ = false, header_utf8_ = false, eightbit_offered_ = false;
    std::string current_, ahead_;    ///< a source's pieces: the one going out, the next
    message_scanner scanner_{};      ///< an unchecked source, checked as it goes
    send_options options_{};
    transaction_settings settings_{};
    bool lmtp_ = false;
    message_facts facts_{};

    std::string lines_;              ///< MAIL and the RCPTs, serialised once
    std::vector<std::size_t> ends_;  ///< where each line ends in lines_
    std::vector<item> queue_;        ///< replies awaited, in order
    std::size_t qhead_ = 0;

    stage stage_ = stage::done;
    bool bdat_ = false, pipelining_ = false;
    bool mail_ok_ = false, data_go_ = false, data_complete_ = false, final_seen_ = false;
    bool bdat_failed_ = false, cleaning_ = false, closing_ = false, wrote_data_ = false, followed_ = false;
    std::size_t next_rcpt_ = 0, accepted_ = 0, lmtp_next_ = 0, lmtp_seen_ = 0;
    std::size_t offset_ = 0;
    std::uint64_t data_written_ = 0;
    data_encoder encoder_{};
    line_end_normalizer normalizer_{};
    std::string chunk_;

    diagnostics diag_{};
    transaction_result r_{};
    std::uint64_t reported_ = 0;
};

SMTP_NAMESPACE_END

#endif


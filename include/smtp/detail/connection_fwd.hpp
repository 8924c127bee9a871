// smtp/detail/connection_fwd.hpp
//
// What the session facade (smtp/session.hpp, smtp/client.hpp) does with a
// connection, declared without Asio: a handful of function templates over
// detail::connection<Transport, Log>, defined in
// smtp/detail/connection_ops.hpp. Header-only, that file is included and
// they are inline; in separate mode (SMTP_SEPARATE_COMPILATION) the
// connection stays an incomplete type behind a pointer, and <smtp/src.hpp>
// instantiates these for the connection types it covers (the default
// transport with log::none or log::transcript: compiled_connection below).
// The protocol algorithms reach the driver through algorithm_ref, one
// function pointer, so that any algorithm runs on a connection compiled
// elsewhere.
#ifndef SMTP_DETAIL_CONNECTION_FWD_HPP
#define SMTP_DETAIL_CONNECTION_FWD_HPP

#include <smtp/auth.hpp>
#include <smtp/log.hpp>
#include <smtp/options.hpp>
#include <smtp/protocol/algorithms.hpp>
#include <smtp/protocol/error.hpp>
#include <smtp/transport/fwd.hpp>
#include <smtp/version.hpp>

#include <memory>
#include <type_traits>

SMTP_NAMESPACE_BEGIN
namespace detail {

template <class Transport, class Log>
class connection;

template <class T, class L>
void destroy_connection(connection<T, L>* c) noexcept;

/// unique_ptr's deleter for a connection that may be incomplete here.
template <class Conn>
struct connection_delete {
    connection_delete() noexcept = default;
    connection_delete(std::default_delete<Conn>) noexcept {}
    void operator()(Conn* c) const noexcept { destroy_connection(c); }
};
template <class Conn>
using connection_ptr = std::unique_ptr<Conn, connection_delete<Conn>>;

/// An algorithm (smtp/protocol/algorithms/) seen through one function
/// pointer: what the compiled driver resumes.
template <class Log>
struct algorithm_ref {
    void* algo;
    sansio::next_action (*resume)(void* algo, sansio::session_state<Log>& st, error_code io_ec);
};
template <class Log, class Algo>
algorithm_ref<Log> ref_to(Algo& a) noexcept
{
    return {&a, [](void* p, sansio::session_state<Log>& st, error_code io_ec) {
                return static_cast<Algo*>(p)->resume(st, io_ec);
            }};
}

// --- The connection's side of the facade (smtp/detail/connection_ops.hpp) ----------
template <class T, class L>
sansio::session_state<L>& state_of(connection<T, L>& c) noexcept;
template <class T, class L>
const sansio::session_state<L>& state_of(const connection<T, L>& c) noexcept;
template <class T, class L>
bool transport_encrypted(const connection<T, L>& c) noexcept;
template <class T, class L>
T& transport_of(connection<T, L>& c) noexcept;
/// True for a session made by the synchronous connect(): it runs its own io_context.
template <class T, class L>
bool runs_own_context(const connection<T, L>& c) noexcept;
template <class T, class L>
void close_transport(connection<T, L>& c);
/// Runs an algorithm to its end, synchronously (the driver of smtp/detail/driver.hpp).
template <class T, class L>
error_code run_algorithm(connection<T, L>& c, algorithm_ref<L> a);
/// A connection for the synchronous connect(), with its own io_context;
/// the transport made from that context's executor alone.
template <class T, class L>
connection_ptr<connection<T, L>> make_sync_connection(const connect_options& o, L log, bool verify, bool lmtp);

/// Runs `algo` on `c` through the driver. In separate mode the algorithms
/// a session runs under the default policies (the greeting, EHLO,
/// STARTTLS, AUTH with the default mechanisms, a transaction, RSET, NOOP,
/// QUIT) are compiled by <smtp/src.hpp> too (SMTP_DETAIL_KNOWN_ALGORITHMS
/// below); any other is compiled where it is used.
template <class T, class L, class Algo>
error_code run_known(connection<T, L>& c, Algo& algo)
{
    return run_algorithm(c, ref_to<L>(algo));
}
/// The synchronous form: runs `algo` on `c` through the driver.
template <class T, class L, class Algo>
error_code run(connection<T, L>& c, Algo algo)
{
    return run_known(c, algo);
}

// --- The asynchronous side: smtp/detail/driver.hpp and connection_ops.hpp ---------
template <class Sig, class Token, class Init, class... Args>
auto initiate(Init&& init, std::remove_reference_t<Token>& token, Args&&... args);
template <class Conn, class Algo, class Token>
auto async_run(Conn& c, Algo algo, Token&& token);
template <class Conn, class Algo, class Handler, class Then>
void async_run_for(Conn& c, Algo algo, Handler handler, Then then);
/// Calls f(handler) on the handler's associated executor (else the transport's).
template <class Conn, class Handler, class F>
void post_to_handler(Conn& c, Handler handler, F f);

/// What an asynchronous operation says in separate mode without the full definitions.
#define SMTP_DETAIL_ASYNC_NEEDS_FULL                                                                                  \
    "smtp: separate mode (SMTP_SEPARATE_COMPILATION): the asynchronous operations need the full definitions: "       \
    "#include <smtp/full.hpp> in this file (<smtp/src.hpp> compiles the synchronous API; "                           \
    "docs/separate-compilation.md)"

/// The connection types <smtp/src.hpp> compiles: the default transport
/// (TLS over transport::tcp) with log::none or log::transcript, whatever
/// the other policies (TLS, verification, auth, dialect, extensions: the
/// connection type does not depend on them).
template <class Conn>
inline constexpr bool compiled_connection = false;
template <>
inline constexpr bool compiled_connection<connection<transport::tls_layer<transport::tcp>, log::none>> = true;
template <>
inline constexpr bool compiled_connection<connection<transport::tls_layer<transport::tcp>, log::transcript>> = true;

/// Complete where smtp/detail/connection_ops.hpp (the full definitions) is
/// included.
template <class Conn>
struct full_definitions;
template <class Conn>
concept has_full_definitions = requires { sizeof(full_definitions<Conn>); };

#ifdef SMTP_SEPARATE_COMPILATION
// Compiled once by <smtp/src.hpp>: never instantiated here, even where the
// full definitions are visible.
#define SMTP_DETAIL_CONNECTION_OPS(EXTERN, T, L)                                                                     \
    EXTERN template sansio::session_state<L>& state_of(connection<T, L>&) noexcept;                                  \
    EXTERN template const sansio::session_state<L>& state_of(const connection<T, L>&) noexcept;                      \
    EXTERN template bool transport_encrypted(const connection<T, L>&) noexcept;                                      \
    EXTERN template T& transport_of(connection<T, L>&) noexcept;                                                     \
    EXTERN template bool runs_own_context(const connection<T, L>&) noexcept;                                         \
    EXTERN template void close_transport(connection<T, L>&);                                                         \
    EXTERN template void destroy_connection(connection<T, L>*) noexcept;                                             \
    EXTERN template error_code run_algorithm(connection<T, L>&, algorithm_ref<L>);                                   \
    EXTERN template connection_ptr<connection<T, L>> make_sync_connection(const connect_options&, L, bool, bool);
#define SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, ...)                                                               \
    EXTERN template error_code run_known(connection<T, L>&, __VA_ARGS__&);
#define SMTP_DETAIL_KNOWN_ALGORITHMS(EXTERN, T, L)                                                                   \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::greeting)                                                      \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::ehlo)                                                          \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::starttls)                                                      \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::quit)                                                          \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::transactions)                                                  \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::message)                                                       \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::command<cmd::rset>)                                            \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::command<cmd::noop>)                                            \
    SMTP_DETAIL_KNOWN_ALGORITHM(EXTERN, T, L, sansio::auth_any<sasl::scram_sha256<crypto::openssl>, sasl::plain, sasl::login>)
SMTP_DETAIL_CONNECTION_OPS(extern, transport::tls_layer<transport::tcp>, log::none)
SMTP_DETAIL_CONNECTION_OPS(extern, transport::tls_layer<transport::tcp>, log::transcript)
SMTP_DETAIL_KNOWN_ALGORITHMS(extern, transport::tls_layer<transport::tcp>, log::none)
SMTP_DETAIL_KNOWN_ALGORITHMS(extern, transport::tls_layer<transport::tcp>, log::transcript)
#endif

} // namespace detail
SMTP_NAMESPACE_END

#endif

#pragma once
// takeoff::emulator::server — the core of takeoff-emulator: one Beast HTTP/1.1 server, plain or
// TLS, listening on 127.0.0.1 and an ephemeral port only, on its own io_context and thread.
//
// Routes map a method and a path (exact or prefix) to a C++20 coroutine that receives an
// `exchange`: the parsed request plus ways to answer properly (keep-alive honoured) or to misbehave
// on purpose (raw bytes, chunk-by-chunk writes, abrupt close, byte-at-a-time writes, hanging).
// Ready-made misbehaviours live in `behaviours`. Every request is recorded in a thread-safe log and
// every accepted connection is counted, so tests can assert what a client sent and whether it
// reused its connection.
//
// Everything asynchronous runs on the server's single thread; the public member functions of
// `server` may be called from any thread. Nothing here sleeps: waits are timers or conditions.

#include <takeoff/core/config.hpp>
#include <takeoff_emulator/certificates.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace takeoff::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

/// The request a handler receives (the whole body is read before the handler runs).
using http_request = http::request<http::string_body>;
/// The response type handlers send with exchange::async_respond.
using http_response = http::response<http::string_body>;

class server;
class exchange;

/// A route handler: a coroutine run on the server's thread for one request. The server keeps the
/// handler object alive while the coroutine runs, so lambdas with captures are safe.
using handler = std::function<asio::awaitable<void>(exchange&)>;

/// How a route's path is compared with the request's path (the target without its query).
enum class path_match {
    exact,  ///< the whole path must be equal
    prefix, ///< the path must start with the route's path (plain string prefix); longest wins
};

/// The certificate chain and private key a TLS server presents (PEM text).
struct tls_credentials {
    std::string certificate_chain_pem;
    std::string private_key_pem;

    tls_credentials(std::string certificate_chain, std::string private_key)
        : certificate_chain_pem(std::move(certificate_chain)), private_key_pem(std::move(private_key)) {}
    /// Uses a generated certificate and its key (the CA certificate is for clients, not needed here).
    tls_credentials(const server_certificate& certificate) // NOLINT: implicit on purpose
        : certificate_chain_pem(certificate.certificate_pem), private_key_pem(certificate.private_key_pem) {}
};

/// How a server is set up. Without `tls` it speaks plain HTTP.
struct server_options {
    std::optional<tls_credentials> tls;
    std::uint64_t body_limit = 64ull * 1024 * 1024; ///< larger request bodies get 413
    std::uint32_t header_limit = 64u * 1024;        ///< larger request headers get 431
};

/// One request as the server received it, for assertions in tests.
struct recorded_request {
    std::uint64_t connection_id = 0; ///< 1 for the first accepted connection, 2 for the next, ...
    std::string method;
    std::string target;
    unsigned version = 11; ///< 11 for HTTP/1.1, 10 for HTTP/1.0
    std::vector<std::pair<std::string, std::string>> headers; ///< in received order, names as sent
    std::string body;

    /// The first header with this name (case-insensitive), if any.
    std::optional<std::string> header(std::string_view name) const
    {
        for (const auto& [field_name, value] : headers)
            if (beast::iequals(field_name, name))
                return value;
        return std::nullopt;
    }
};

/// Makes a response with a body and Content-Type (Content-Length is added when it is sent).
inline http_response make_response(http::status status, std::string body, std::string_view content_type = "text/plain")
{
    http_response response{status, 11};
    response.set(http::field::content_type, content_type);
    response.body() = std::move(body);
    return response;
}

/// Makes an application/json response; `json` is sent as given.
inline http_response make_json_response(http::status status, std::string json)
{
    return make_response(status, std::move(json), "application/json");
}

/// Quotes text as a JSON string literal (for error messages built by hand).
inline std::string json_quote(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                static constexpr char hex[] = "0123456789abcdef";
                out += "\\u00";
                out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
                out += hex[static_cast<unsigned char>(c) & 0xf];
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

/// An async condition for handlers: async_wait() completes once the gate is open (at once if it
/// already is). open()/close() may be called from any thread; async_wait() runs on the server's
/// thread. A server stop cancels every waiter.
class gate {
public:
    explicit gate(const asio::any_io_executor& executor)
        : timer_(executor, asio::steady_timer::time_point::max()) {}

    gate(const gate&) = delete;
    gate& operator=(const gate&) = delete;

    /// Lets current and future waiters through until close() is called.
    void open()
    {
        open_.store(true);
        // The timer is a condition variable: cancelling it wakes every waiter (on the server thread).
        asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
    }

    /// Makes later waiters wait again.
    void close() noexcept { open_.store(false); }

    bool is_open() const noexcept { return open_.load(); }

    /// Waits until the gate is open; throws operation_aborted if the server stops first.
    asio::awaitable<void> async_wait()
    {
        while (!open_.load()) {
            auto result = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
            (void)result; // woken by open() or by cancellation; the loop and the check below decide
            asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
            if (state.cancelled() != asio::cancellation_type::none)
                throw boost::system::system_error(asio::error::operation_aborted);
        }
    }

private:
    std::atomic<bool> open_{false};
    asio::steady_timer timer_;
};

namespace detail {

// The byte-level view of one connection that an exchange writes to, whatever the transport.
class connection_io {
public:
    virtual ~connection_io() = default;
    virtual asio::awaitable<void> async_write(std::vector<asio::const_buffer> buffers) = 0;
    virtual asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_read_some(asio::mutable_buffer buffer) = 0;
    virtual asio::awaitable<void> async_graceful_close() = 0;
    virtual void close() noexcept = 0;
    virtual bool is_open() const noexcept = 0;
    virtual bool is_tls() const noexcept = 0;
};

template <class Stream>
class stream_io final : public connection_io {
public:
    static constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;

    explicit stream_io(Stream& stream) : stream_(stream) {}

    asio::awaitable<void> async_write(std::vector<asio::const_buffer> buffers) override
    {
        co_await asio::async_write(stream_, buffers, asio::use_awaitable);
    }

    asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_read_some(asio::mutable_buffer buffer) override
    {
        auto result = co_await stream_.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
        co_return result;
    }

    // Plain: FIN after everything written. TLS: close_notify, waiting briefly for the peer's reply.
    asio::awaitable<void> async_graceful_close() override
    {
        if (!is_open())
            co_return;
        if constexpr (tls) {
            beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
            auto result = co_await stream_.async_shutdown(asio::as_tuple(asio::use_awaitable));
            (void)result; // the peer may already be gone; nothing to do about it
        } else {
            boost::system::error_code ignored;
            stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        }
        close();
    }

    void close() noexcept override
    {
        open_ = false;
        beast::get_lowest_layer(stream_).close();
    }

    bool is_open() const noexcept override
    {
        return open_ && beast::get_lowest_layer(stream_).socket().is_open();
    }

    bool is_tls() const noexcept override { return tls; }

private:
    Stream& stream_;
    bool open_ = true;
};

// What server::stop needs to reach one live connection (touched on the server thread only).
struct connection_entry {
    asio::cancellation_signal signal;
    connection_io* io = nullptr;
};

// Serializes a response start line and fields (nothing of the body).
template <class Fields>
std::string serialize_header(const http::header<false, Fields>& header)
{
    std::string out;
    out.reserve(256);
    out += "HTTP/";
    out += static_cast<char>('0' + header.version() / 10);
    out += '.';
    out += static_cast<char>('0' + header.version() % 10);
    out += ' ';
    out += std::to_string(header.result_int());
    out += ' ';
    const auto reason = header.reason();
    out.append(reason.data(), reason.size());
    out += "\r\n";
    for (const auto& field : header) {
        const auto name = field.name_string();
        const auto value = field.value();
        out.append(name.data(), name.size());
        out += ": ";
        out.append(value.data(), value.size());
        out += "\r\n";
    }
    out += "\r\n";
    return out;
}

inline std::string chunk_size_line(std::size_t size)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string digits;
    do {
        digits.insert(digits.begin(), hex[size & 0xf]);
        size >>= 4;
    } while (size != 0);
    digits += "\r\n";
    return digits;
}

template <class Fields>
bool says_connection_close(const http::header<false, Fields>& header)
{
    for (const auto& token : http::token_list{header[http::field::connection]})
        if (beast::iequals(token, "close"))
            return true;
    return false;
}

} // namespace detail

/// One request/response exchange on a connection, handed to a route handler. The handler answers
/// with exactly one of: async_respond / async_respond_slowly; async_write_chunked_header +
/// async_write_chunk... + async_write_last_chunk; async_write_raw (any bytes; the connection is
/// closed after the handler); close(). If it returns without answering, the client gets a 500.
/// Write operations throw boost::system::system_error when the client has gone away.
class exchange {
public:
    /// Where the exchange is in its answer.
    enum class response_state {
        none,     ///< nothing written yet
        chunked,  ///< a chunked header is out; chunks may follow
        complete, ///< a whole, well-framed response is out
        raw,      ///< raw bytes are out; the framing is unknown, so the connection will close
    };

    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    /// The parsed request, body included.
    const http_request& request() const noexcept { return request_; }
    /// The request target without its query string.
    std::string_view path() const noexcept
    {
        const std::string_view target(request_.target().data(), request_.target().size());
        return target.substr(0, target.find('?'));
    }
    /// The query string (without '?'), empty if none.
    std::string_view query() const noexcept
    {
        const std::string_view target(request_.target().data(), request_.target().size());
        const auto mark = target.find('?');
        return mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1);
    }
    /// The connection's number (1 for the first accepted connection).
    std::uint64_t connection_id() const noexcept { return connection_id_; }
    /// True when the connection is TLS.
    bool is_tls() const noexcept { return io_->is_tls(); }
    /// True until close() or a transport failure closed the connection.
    bool is_open() const noexcept { return io_->is_open(); }
    response_state state() const noexcept { return state_; }
    /// True when the connection will serve another request after this handler.
    bool keep_alive_after() const noexcept { return state_ == response_state::complete && keep_alive_ && is_open(); }

    /// Sends a whole response. Content-Length is set from the body unless the response already has
    /// Content-Length or chunked framing (so a test may lie on purpose). Keep-alive follows the
    /// request unless the response says `Connection: close`.
    asio::awaitable<void> async_respond(http_response response)
    {
        std::string wire = prepare(response);
        std::vector<asio::const_buffer> buffers{asio::buffer(wire)};
        std::string chunk_head;
        if (!is_head_request()) {
            if (response.chunked()) {
                wire_chunked_body(response.body(), chunk_head, buffers);
            } else if (!response.body().empty()) {
                buffers.push_back(asio::buffer(response.body()));
            }
        }
        co_await io_->async_write(std::move(buffers)); // one gather write: header and body together
        state_ = response_state::complete;
    }

    /// Sends a whole response like async_respond, but one byte per write, each write awaited,
    /// with an optional pause between bytes (a server-side timer).
    asio::awaitable<void> async_respond_slowly(http_response response,
                                               std::chrono::steady_clock::duration pause = {})
    {
        std::string wire = prepare(response);
        if (!is_head_request()) {
            std::vector<asio::const_buffer> body_buffers;
            std::string chunk_head;
            if (response.chunked())
                wire_chunked_body(response.body(), chunk_head, body_buffers);
            else
                body_buffers.push_back(asio::buffer(response.body()));
            for (const auto& buffer : body_buffers)
                wire.append(static_cast<const char*>(buffer.data()), buffer.size());
        }
        state_ = response_state::raw; // until the last byte is out
        for (std::size_t i = 0; i < wire.size(); ++i) {
            if (i != 0 && pause > std::chrono::steady_clock::duration::zero())
                co_await async_delay(pause);
            std::vector<asio::const_buffer> one{asio::buffer(wire.data() + i, 1)};
            co_await io_->async_write(std::move(one));
        }
        state_ = response_state::complete;
    }

    /// Sends a response header with `Transfer-Encoding: chunked` (Content-Length removed).
    asio::awaitable<void> async_write_chunked_header(http::response_header<> header)
    {
        expect_state(response_state::none, "async_write_chunked_header");
        header.erase(http::field::content_length);
        header.set(http::field::transfer_encoding, "chunked");
        keep_alive_ = request_.keep_alive() && !detail::says_connection_close(header);
        if (!request_.keep_alive() && header.version() >= 11 && !detail::says_connection_close(header))
            header.set(http::field::connection, "close");
        std::string wire = detail::serialize_header(header);
        state_ = response_state::chunked;
        std::vector<asio::const_buffer> buffers{asio::buffer(wire)};
        co_await io_->async_write(std::move(buffers));
    }

    /// Sends a chunked response header with this status and Content-Type.
    asio::awaitable<void> async_write_chunked_header(http::status status, std::string_view content_type)
    {
        http::response_header<> header;
        header.version(11);
        header.result(status);
        header.set(http::field::content_type, content_type);
        co_await async_write_chunked_header(std::move(header));
    }

    /// Sends one chunk, flushed on its own. An empty chunk would end the body, so it is skipped.
    asio::awaitable<void> async_write_chunk(std::string data)
    {
        expect_state(response_state::chunked, "async_write_chunk");
        if (data.empty())
            co_return;
        std::string head = detail::chunk_size_line(data.size());
        static constexpr std::string_view crlf = "\r\n";
        std::vector<asio::const_buffer> buffers{asio::buffer(head), asio::buffer(data), asio::buffer(crlf)};
        co_await io_->async_write(std::move(buffers));
    }

    /// Sends the last chunk (`0\r\n\r\n`); the response is then complete.
    asio::awaitable<void> async_write_last_chunk()
    {
        expect_state(response_state::chunked, "async_write_last_chunk");
        static constexpr std::string_view last = "0\r\n\r\n";
        std::vector<asio::const_buffer> buffers{asio::buffer(last)};
        co_await io_->async_write(std::move(buffers));
        state_ = response_state::complete;
    }

    /// Writes bytes as they are. The connection is closed once the handler returns.
    asio::awaitable<void> async_write_raw(std::string bytes)
    {
        state_ = response_state::raw;
        std::vector<asio::const_buffer> buffers{asio::buffer(bytes)};
        co_await io_->async_write(std::move(buffers));
    }

    /// Closes the connection at once: no more bytes, no TLS close_notify (the client sees the
    /// stream end wherever the handler stopped writing).
    void close() noexcept
    {
        io_->close();
        if (state_ != response_state::complete)
            state_ = response_state::raw;
    }

    /// Waits on the server's hold gate (server::hold_gate()): until a test opens it, or the server
    /// stops (then it throws operation_aborted).
    asio::awaitable<void> async_wait_released() { co_await hold_gate_->async_wait(); }

    /// Waits until the client closes the connection or the server stops, discarding anything the
    /// client sends meanwhile. Never answers.
    asio::awaitable<void> async_wait_peer_closed()
    {
        std::array<char, 1024> scratch{};
        while (io_->is_open()) {
            auto result = co_await io_->async_read_some(asio::buffer(scratch));
            if (std::get<0>(result))
                co_return;
        }
    }

    /// Waits for a duration on a server-side timer (cancelled by server stop).
    static asio::awaitable<void> async_delay(std::chrono::steady_clock::duration duration)
    {
        asio::steady_timer timer(co_await asio::this_coro::executor, duration);
        co_await timer.async_wait(asio::use_awaitable);
    }

private:
    friend class server;

    exchange(detail::connection_io& io, gate& hold_gate, http_request request, std::uint64_t connection_id)
        : io_(&io), hold_gate_(&hold_gate), request_(std::move(request)), connection_id_(connection_id) {}

    bool is_head_request() const noexcept { return request_.method() == http::verb::head; }

    void expect_state(response_state expected, const char* operation) const
    {
        if (state_ != expected)
            throw std::logic_error(std::string("takeoff-emulator: exchange::") + operation +
                                   " called in the wrong state");
    }

    // Fixes framing and keep-alive, marks the exchange as answering, returns the header bytes.
    std::string prepare(http_response& response)
    {
        expect_state(response_state::none, "async_respond");
        if (!response.chunked() && !response.has_content_length())
            response.prepare_payload();
        keep_alive_ = request_.keep_alive() && !detail::says_connection_close(response.base());
        if (!keep_alive_ && response.version() >= 11 && !detail::says_connection_close(response.base()))
            response.set(http::field::connection, "close");
        return detail::serialize_header(response.base());
    }

    static void wire_chunked_body(const std::string& body, std::string& head, std::vector<asio::const_buffer>& buffers)
    {
        static constexpr std::string_view crlf = "\r\n";
        static constexpr std::string_view last = "0\r\n\r\n";
        if (!body.empty()) {
            head = detail::chunk_size_line(body.size());
            buffers.push_back(asio::buffer(head));
            buffers.push_back(asio::buffer(body));
            buffers.push_back(asio::buffer(crlf));
        }
        buffers.push_back(asio::buffer(last));
    }

    detail::connection_io* io_;
    gate* hold_gate_;
    http_request request_;
    std::uint64_t connection_id_;
    response_state state_ = response_state::none;
    bool keep_alive_ = false;
};

/// Maps method + path to handlers. Thread-safe: routes may be added, replaced or removed while the
/// server runs. Adding a route with the same method, path and match kind replaces the old one.
class router {
public:
    /// What a lookup found: the handler, or whether the path exists under other methods (405).
    struct match_result {
        std::shared_ptr<const handler> target;
        bool path_known = false;
        std::string allowed_methods; ///< for the Allow header of a 405
    };

    /// Adds (or replaces) a route for one method.
    void add(http::verb method, std::string path, handler function, path_match match = path_match::exact)
    {
        insert(std::optional<http::verb>(method), std::move(path), std::move(function), match);
    }

    /// Adds (or replaces) a route that accepts every method.
    void add_any_method(std::string path, handler function, path_match match = path_match::exact)
    {
        insert(std::nullopt, std::move(path), std::move(function), match);
    }

    /// Removes a route; returns whether one was removed.
    bool remove(std::optional<http::verb> method, std::string_view path, path_match match = path_match::exact)
    {
        std::lock_guard lock(mutex_);
        const auto before = routes_.size();
        std::erase_if(routes_, [&](const route& r) { return r.method == method && r.path == path && r.match == match; });
        return routes_.size() != before;
    }

    /// Finds the handler for a request: exact paths first, then the longest matching prefix.
    match_result find(http::verb method, std::string_view path) const
    {
        std::lock_guard lock(mutex_);
        match_result result;
        const route* best = nullptr;
        for (const route& r : routes_) {
            if (!matches(r, path))
                continue;
            result.path_known = true;
            if (r.method && *r.method != method) {
                const auto name = http::to_string(*r.method);
                if (!result.allowed_methods.empty())
                    result.allowed_methods += ", ";
                result.allowed_methods.append(name.data(), name.size());
                continue;
            }
            if (!best || better(r, *best))
                best = &r;
        }
        if (best)
            result.target = best->function;
        return result;
    }

private:
    struct route {
        std::optional<http::verb> method;
        std::string path;
        path_match match;
        std::shared_ptr<const handler> function;
    };

    static bool matches(const route& r, std::string_view path)
    {
        return r.match == path_match::exact ? path == r.path : path.substr(0, r.path.size()) == r.path;
    }

    // Exact beats prefix; a longer prefix beats a shorter one; a method-specific route beats "any".
    static bool better(const route& a, const route& b)
    {
        if (a.match != b.match)
            return a.match == path_match::exact;
        if (a.path.size() != b.path.size())
            return a.path.size() > b.path.size();
        return a.method.has_value() && !b.method.has_value();
    }

    void insert(std::optional<http::verb> method, std::string path, handler function, path_match match)
    {
        if (!function)
            throw std::invalid_argument("takeoff-emulator: empty route handler");
        auto shared = std::make_shared<const handler>(std::move(function));
        std::lock_guard lock(mutex_);
        std::erase_if(routes_, [&](const route& r) { return r.method == method && r.path == path && r.match == match; });
        routes_.push_back(route{method, std::move(path), match, std::move(shared)});
    }

    mutable std::mutex mutex_;
    std::vector<route> routes_;
};

/// The emulator's HTTP(S) server. Construction binds 127.0.0.1 on an ephemeral port and starts
/// serving on a background thread, so port() and url() are usable as soon as the constructor
/// returns. stop() (or the destructor) closes the listener and every connection, cancels every
/// handler and joins the thread. Unknown paths get 404 `{"detail":"Not Found"}`, known paths with
/// another method 405. Not copyable or movable.
class server {
public:
    /// Starts a plain HTTP server.
    server() : server(server_options{}) {}

    /// Starts a server; with options.tls it speaks HTTPS only.
    explicit server(server_options options)
        : options_(std::move(options)), acceptor_(io_context_), hold_gate_(io_context_.get_executor())
    {
        if (options_.tls)
            ssl_context_.emplace(make_ssl_context(*options_.tls));
        // Loopback only, by construction: nothing else is ever bound.
        const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.bind(endpoint);
        acceptor_.listen(asio::socket_base::max_listen_connections);
        endpoint_ = acceptor_.local_endpoint();
        url_ = std::string(ssl_context_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(endpoint_.port());

        auto accepting = accept_loop();
        asio::co_spawn(io_context_, std::move(accepting), [](std::exception_ptr) {});
        thread_ = std::thread([this] { run(); });
    }

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Stops the server (see stop()).
    ~server() { stop(); }

    /// Closes the listener and every connection, cancels every running handler (hanging ones too)
    /// and joins the server thread. Idempotent; safe from any thread except the server's own
    /// (calling it from a handler throws std::logic_error).
    void stop()
    {
        std::lock_guard lock(stop_mutex_);
        if (!thread_.joinable())
            return;
        if (std::this_thread::get_id() == thread_.get_id())
            throw std::logic_error("takeoff-emulator: server::stop called from the server's own thread");
        asio::post(io_context_, [this] { shut_down(); });
        thread_.join();
    }

    /// The port chosen by the system.
    std::uint16_t port() const noexcept { return endpoint_.port(); }
    /// Always "127.0.0.1".
    static std::string host() { return "127.0.0.1"; }
    /// The listening endpoint (127.0.0.1:port()).
    asio::ip::tcp::endpoint endpoint() const noexcept { return endpoint_; }
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT` (no trailing slash).
    const std::string& url() const noexcept { return url_; }
    /// True when the server speaks HTTPS.
    bool is_tls() const noexcept { return ssl_context_.has_value(); }

    /// The router; routes may be changed at any time.
    emulator::router& routes() noexcept { return router_; }

    /// Adds (or replaces) a route for one method.
    void route(http::verb method, std::string path, handler function, path_match match = path_match::exact)
    {
        router_.add(method, std::move(path), std::move(function), match);
    }

    /// Adds (or replaces) a route for every method.
    void route_any_method(std::string path, handler function, path_match match = path_match::exact)
    {
        router_.add_any_method(std::move(path), std::move(function), match);
    }

    /// The gate that exchange::async_wait_released() and behaviours::hold() wait on.
    emulator::gate& hold_gate() noexcept { return hold_gate_; }

    /// Number of TCP connections accepted so far (TLS handshakes that failed count too).
    std::size_t connection_count() const noexcept { return accepted_.load(); }

    /// Number of connections currently open on the server side (0 after stop()).
    std::size_t open_connection_count() const noexcept { return open_.load(); }

    /// Every request received so far, in arrival order (recorded before its handler runs).
    std::vector<recorded_request> requests() const
    {
        std::lock_guard lock(log_mutex_);
        return log_;
    }

    /// Number of requests received so far.
    std::size_t request_count() const
    {
        std::lock_guard lock(log_mutex_);
        return log_.size();
    }

    /// Forgets the recorded requests (the connection count is kept).
    void clear_requests()
    {
        std::lock_guard lock(log_mutex_);
        log_.clear();
    }

    /// Blocks until at least `count` requests are recorded or `timeout` passes; returns whether
    /// they were (a condition-variable wait, for tests that must know a request has arrived).
    bool wait_for_requests(std::size_t count, std::chrono::milliseconds timeout) const
    {
        std::unique_lock lock(log_mutex_);
        return log_cv_.wait_for(lock, timeout, [&] { return log_.size() >= count; });
    }

    /// The server's executor (its single thread), for timers or work that belongs to the server.
    asio::any_io_executor get_executor() noexcept { return io_context_.get_executor(); }

private:
    static asio::ssl::context make_ssl_context(const tls_credentials& credentials)
    {
        asio::ssl::context context(asio::ssl::context::tls_server);
        try {
            context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                asio::ssl::context::no_tlsv1_1);
            context.use_certificate_chain(asio::buffer(credentials.certificate_chain_pem));
            context.use_private_key(asio::buffer(credentials.private_key_pem), asio::ssl::context::pem);
        } catch (const boost::system::system_error& error) {
            throw std::runtime_error(std::string("takeoff-emulator: loading the TLS certificate or key: ") +
                                     error.what());
        }
        return context;
    }

    void run() noexcept
    {
        for (;;) {
            try {
                io_context_.run();
                return;
            } catch (...) {
                // A handler must not take the server down; keep serving.
            }
        }
    }

    // On the server thread: stop accepting, cancel every connection's work and close its socket.
    void shut_down()
    {
        stopping_ = true;
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        std::vector<std::shared_ptr<detail::connection_entry>> entries;
        entries.reserve(connections_.size());
        for (const auto& [id, entry] : connections_)
            entries.push_back(entry);
        for (const auto& entry : entries) {
            entry->signal.emit(asio::cancellation_type::terminal);
            if (entry->io)
                entry->io->close();
        }
    }

    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto result = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            const boost::system::error_code ec = std::get<0>(result);
            if (stopping_ || !acceptor_.is_open() || ec == asio::error::operation_aborted)
                co_return;
            if (ec) {
                // Out of descriptors or similar: back off briefly instead of spinning.
                asio::steady_timer pause(io_context_, std::chrono::milliseconds(10));
                auto waited = co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
                (void)waited;
                continue;
            }
            asio::ip::tcp::socket socket = std::move(std::get<1>(result));
            boost::system::error_code ignored;
            socket.set_option(asio::ip::tcp::no_delay(true), ignored);
            const std::uint64_t id = accepted_.fetch_add(1) + 1;
            spawn_connection(id, std::move(socket));
        }
    }

    void spawn_connection(std::uint64_t id, asio::ip::tcp::socket socket)
    {
        auto entry = std::make_shared<detail::connection_entry>();
        connections_.emplace(id, entry);
        open_.fetch_add(1);
        auto session = run_connection(id, std::move(socket), entry);
        auto slot = entry->signal.slot();
        // The completion handler owns the entry so the signal outlives the coroutine.
        auto completion = asio::bind_cancellation_slot(slot, [entry](std::exception_ptr) {});
        asio::co_spawn(io_context_, std::move(session), std::move(completion));
    }

    asio::awaitable<void> run_connection(std::uint64_t id, asio::ip::tcp::socket socket,
                                         std::shared_ptr<detail::connection_entry> entry)
    {
        try {
            if (ssl_context_) {
                asio::ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *ssl_context_);
                co_await serve(id, stream, *entry);
            } else {
                beast::tcp_stream stream(std::move(socket));
                co_await serve(id, stream, *entry);
            }
        } catch (...) {
            // A client that vanished, a stop, a failed write: the connection is simply over.
        }
        connections_.erase(id);
        open_.fetch_sub(1);
    }

    template <class Stream>
    asio::awaitable<void> serve(std::uint64_t id, Stream& stream, detail::connection_entry& entry)
    {
        detail::stream_io<Stream> io(stream);
        struct registration {
            detail::connection_entry& entry;
            ~registration() { entry.io = nullptr; }
        } registered{entry};
        entry.io = &io;
        if (stopping_)
            co_return;

        if constexpr (detail::stream_io<Stream>::tls) {
            auto handshake = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                             asio::as_tuple(asio::use_awaitable));
            if (std::get<0>(handshake)) {
                io.close();
                co_return;
            }
        }

        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(options_.header_limit);
            parser.body_limit(options_.body_limit);
            auto header_result =
                co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
            boost::system::error_code ec = std::get<0>(header_result);
            if (!ec && expects_continue(parser.get())) {
                static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
                std::vector<asio::const_buffer> buffers{asio::buffer(interim)};
                co_await io.async_write(std::move(buffers));
            }
            if (!ec && !parser.is_done()) {
                auto body_result = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
                ec = std::get<0>(body_result);
            }
            if (ec) {
                if (!stopping_ && io.is_open()) {
                    if (auto status = status_for_parse_error(ec)) {
                        co_await respond_to_bad_request(io, *status, ec);
                        co_await io.async_graceful_close();
                    }
                }
                io.close();
                co_return;
            }

            exchange ex(io, hold_gate_, parser.release(), id);
            record(ex);
            const bool keep_alive = co_await dispatch(ex);
            if (stopping_ || !io.is_open())
                break;
            if (!keep_alive) {
                co_await io.async_graceful_close();
                break;
            }
        }
        io.close();
    }

    // Runs the matching handler, or answers 404/405 itself. Returns whether to keep the connection.
    asio::awaitable<bool> dispatch(exchange& ex)
    {
        const auto method = ex.request().method();
        router::match_result found = router_.find(method, ex.path());
        if (!found.target) {
            http_response response = found.path_known
                ? make_json_response(http::status::method_not_allowed, R"({"detail":"Method Not Allowed"})")
                : make_json_response(http::status::not_found, R"({"detail":"Not Found"})");
            if (found.path_known)
                response.set(http::field::allow, found.allowed_methods);
            co_await ex.async_respond(std::move(response));
            co_return ex.keep_alive_after();
        }

        std::shared_ptr<const handler> target = std::move(found.target); // alive until the handler ends
        bool failed = false;
        std::string failure;
        try {
            asio::awaitable<void> handling = (*target)(ex);
            co_await std::move(handling);
        } catch (const std::exception& error) {
            failed = true;
            failure = error.what();
        } catch (...) {
            failed = true;
            failure = "unknown exception";
        }
        if (stopping_)
            co_return false;
        if (ex.state() == exchange::response_state::none && ex.is_open()) {
            http_response response = make_json_response(
                http::status::internal_server_error,
                "{\"detail\":" + json_quote(failed ? "handler failed: " + failure : "handler sent no response") + "}");
            response.set(http::field::connection, "close");
            co_await ex.async_respond(std::move(response));
            co_return false;
        }
        co_return !failed && ex.keep_alive_after();
    }

    static bool expects_continue(const http_request& request)
    {
        const auto expect = request[http::field::expect];
        return request.version() >= 11 && beast::iequals(expect, "100-continue");
    }

    // Which status a malformed request deserves; nothing when the client simply went away.
    static std::optional<http::status> status_for_parse_error(const boost::system::error_code& ec)
    {
        if (ec.category() != http::make_error_code(http::error::bad_target).category())
            return std::nullopt;
        if (ec == http::error::end_of_stream || ec == http::error::partial_message)
            return std::nullopt;
        if (ec == http::error::body_limit)
            return http::status::payload_too_large;
        if (ec == http::error::header_limit)
            return http::status::request_header_fields_too_large;
        return http::status::bad_request;
    }

    static asio::awaitable<void> respond_to_bad_request(detail::connection_io& io, http::status status,
                                                        boost::system::error_code ec)
    {
        http_response response = make_json_response(status, "{\"detail\":" + json_quote(ec.message()) + "}");
        response.set(http::field::connection, "close");
        response.prepare_payload();
        std::string wire = detail::serialize_header(response.base());
        std::vector<asio::const_buffer> buffers{asio::buffer(wire), asio::buffer(response.body())};
        co_await io.async_write(std::move(buffers));
    }

    void record(const exchange& ex)
    {
        const http_request& request = ex.request();
        recorded_request entry;
        entry.connection_id = ex.connection_id();
        entry.method.assign(request.method_string().data(), request.method_string().size());
        entry.target.assign(request.target().data(), request.target().size());
        entry.version = request.version();
        for (const auto& field : request) {
            entry.headers.emplace_back(std::string(field.name_string().data(), field.name_string().size()),
                                       std::string(field.value().data(), field.value().size()));
        }
        entry.body = request.body();
        {
            std::lock_guard lock(log_mutex_);
            log_.push_back(std::move(entry));
        }
        log_cv_.notify_all();
    }

    server_options options_;
    asio::io_context io_context_{1};
    std::optional<asio::ssl::context> ssl_context_;
    asio::ip::tcp::acceptor acceptor_;
    asio::ip::tcp::endpoint endpoint_;
    std::string url_;
    emulator::router router_;
    emulator::gate hold_gate_;

    // Server thread only.
    bool stopping_ = false;
    std::unordered_map<std::uint64_t, std::shared_ptr<detail::connection_entry>> connections_;

    std::atomic<std::size_t> accepted_{0};
    std::atomic<std::size_t> open_{0};

    mutable std::mutex log_mutex_;
    mutable std::condition_variable log_cv_;
    std::vector<recorded_request> log_;

    std::mutex stop_mutex_;
    std::thread thread_;
};

// Coroutine bodies of the ready-made behaviours (emulator::behaviours).
namespace detail {

inline asio::awaitable<void> behaviour_respond(exchange& ex, http_response response)
{
    co_await ex.async_respond(std::move(response));
}

inline asio::awaitable<void> behaviour_chunked_drip(exchange& ex, std::vector<std::string> chunks,
                                          std::chrono::steady_clock::duration pause, std::string content_type)
{
    co_await ex.async_write_chunked_header(http::status::ok, content_type);
    bool first = true;
    for (std::string& chunk : chunks) {
        if (!first && pause > std::chrono::steady_clock::duration::zero())
            co_await exchange::async_delay(pause);
        first = false;
        co_await ex.async_write_chunk(std::move(chunk));
    }
    co_await ex.async_write_last_chunk();
}

inline asio::awaitable<void> behaviour_write_then_close(exchange& ex, std::string bytes)
{
    co_await ex.async_write_raw(std::move(bytes));
    ex.close();
}

inline asio::awaitable<void> behaviour_slow_bytes(exchange& ex, http_response response, std::chrono::steady_clock::duration pause)
{
    co_await ex.async_respond_slowly(std::move(response), pause);
}

inline asio::awaitable<void> behaviour_hang(exchange& ex)
{
    co_await ex.async_wait_peer_closed();
    ex.close();
}

inline asio::awaitable<void> behaviour_hold(exchange& ex, http_response response)
{
    co_await ex.async_wait_released();
    co_await ex.async_respond(std::move(response));
}

} // namespace detail

/// Ready-made handlers, including the scripted misbehaviours transport tests need.
namespace behaviours {

// Each behaviour is a plain lambda that forwards to a coroutine function taking its data by value,
// so no coroutine frame ever refers to a lambda's captures.

/// Always answers with this response.
inline handler respond(http_response response)
{
    return [response = std::move(response)](exchange& ex) { return detail::behaviour_respond(ex, response); };
}

/// Always answers with this status, body and Content-Type.
inline handler respond(http::status status, std::string body, std::string content_type = "text/plain")
{
    return respond(make_response(status, std::move(body), content_type));
}

/// Always answers with this status and JSON text.
inline handler respond_json(http::status status, std::string json)
{
    return respond(make_json_response(status, std::move(json)));
}

/// A 200 chunked response whose chunks are written (and flushed) one by one, with an optional
/// server-side pause between them, then the last chunk. Keep-alive is honoured.
inline handler chunked_drip(std::vector<std::string> chunks, std::chrono::steady_clock::duration pause = {},
                            std::string content_type = "text/plain")
{
    return [chunks = std::move(chunks), pause, content_type = std::move(content_type)](exchange& ex) {
        return detail::behaviour_chunked_drip(ex, chunks, pause, content_type);
    };
}

/// Writes the start of a response header, then closes the connection (the client sees the stream
/// end inside the header: Beast reports http::error::partial_message).
inline handler close_mid_headers(std::string partial_header = "HTTP/1.1 200 OK\r\nContent-Type: text/pl")
{
    return [partial_header = std::move(partial_header)](exchange& ex) {
        return detail::behaviour_write_then_close(ex, partial_header);
    };
}

/// Sends a complete header announcing `content_length` bytes, then only `sent_body`, then closes
/// (the client sees a partial body: Beast reports http::error::partial_message).
inline handler close_mid_body(std::size_t content_length = 1000, std::string sent_body = "only part of the body")
{
    std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(content_length) + "\r\n\r\n" + sent_body;
    return [wire = std::move(wire)](exchange& ex) { return detail::behaviour_write_then_close(ex, wire); };
}

/// Sends bytes that are not HTTP instead of a status line, then closes (Beast reports
/// http::error::bad_version for the default bytes).
inline handler garbage(std::string bytes = "SSH-2.0-definitely-not-http\r\n\r\n")
{
    return [bytes = std::move(bytes)](exchange& ex) { return detail::behaviour_write_then_close(ex, bytes); };
}

/// Sends this response one byte per write, each write awaited, with an optional server-side
/// pause between bytes. Keep-alive is honoured.
inline handler slow_bytes(http_response response, std::chrono::steady_clock::duration pause = {})
{
    return [response = std::move(response), pause](exchange& ex) { return detail::behaviour_slow_bytes(ex, response, pause); };
}

/// Never answers: waits until the client closes the connection or the server stops, then closes.
inline handler hang()
{
    return [](exchange& ex) { return detail::behaviour_hang(ex); };
}

/// Waits on the server's hold gate (server::hold_gate().open() releases it), then responds.
inline handler hold(http_response response)
{
    return [response = std::move(response)](exchange& ex) { return detail::behaviour_hold(ex, response); };
}

} // namespace behaviours

} // namespace takeoff::emulator

#pragma once
// takeoff::emulator::server — the core of takeoff-emulator: one Beast HTTP/1.1 server, plain or
// TLS, listening on 127.0.0.1 only (an ephemeral port unless a fixed one is asked for), on its own
// io_context and thread. This
// file holds the server class and its options; it also includes every other emulator header a test
// needs (messages, exchange, router, gate, behaviours), so `#include <takeoff_emulator/server.hpp>`
// is the one include for users.
//
// Routes map a method and a path (exact or prefix) to a C++20 coroutine that receives an
// `exchange` (exchange.hpp). Ready-made misbehaviours live in `behaviours` (behaviours.hpp). Every
// request is recorded in a thread-safe log and every accepted connection is counted, so tests can
// assert what a client sent and whether it reused its connection.
//
// Everything asynchronous runs on the server's single thread; the public member functions of
// `server` may be called from any thread. Nothing here sleeps: waits are timers or conditions.

#include <takeoff/core/config.hpp>
#include <takeoff_emulator/behaviours.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/detail/connection_io.hpp>
#include <takeoff_emulator/detail/wire.hpp>
#include <takeoff_emulator/exchange.hpp>
#include <takeoff_emulator/gate.hpp>
#include <takeoff_emulator/message.hpp>
#include <takeoff_emulator/router.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

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
#include <unordered_map>
#include <utility>
#include <vector>

namespace takeoff::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

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

/// What the server does with `Expect: 100-continue` (RFC 9110 §10.1.1) on an HTTP/1.1 request.
enum class continue_policy {
    answer, ///< send `100 Continue` after the header, before reading the body, as real servers do
    ignore, ///< send nothing and read the body (a client must then stop waiting and send it anyway)
};

/// How a server is set up. Without `tls` it speaks plain HTTP.
struct server_options {
    std::optional<tls_credentials> tls;
    std::uint64_t body_limit = 64ull * 1024 * 1024; ///< larger request bodies get 413
    std::uint32_t header_limit = 64u * 1024;        ///< larger request headers get 431
    continue_policy expect_continue = continue_policy::answer;
    /// The port to listen on; 0 (the default, and what tests use) lets the system pick a free one.
    /// A fixed port is for programs that must be found at a known address (takeoff-emulator --port).
    std::uint16_t port = 0;
    /// Called on the server thread after each routed request's handler has finished (404 and 405
    /// answers included), e.g. for a request log; exchange::response_status() tells the status.
    std::function<void(const exchange&)> on_response{};
};

namespace detail {

// What server::stop needs to reach one live connection (touched on the server thread only).
struct connection_entry {
    asio::cancellation_signal signal;
    connection_io* io = nullptr;
};

} // namespace detail

/// The emulator's HTTP(S) server. Construction binds 127.0.0.1 (on options.port, by default an
/// ephemeral port) and starts
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
        const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), options_.port);
        acceptor_.open(endpoint.protocol());
        if (options_.port != 0) // a restart may find the port's old connections in TIME_WAIT
            acceptor_.set_option(asio::socket_base::reuse_address(true));
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

    /// The port listened on (the one chosen by the system when options.port was 0).
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
            bool sent_continue = false;
            if (!ec && options_.expect_continue == continue_policy::answer && expects_continue(parser.get())) {
                static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
                std::vector<asio::const_buffer> buffers{asio::buffer(interim)};
                co_await io.async_write(std::move(buffers));
                sent_continue = true;
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
            record(ex, sent_continue);
            const bool keep_alive = co_await dispatch(ex);
            if (options_.on_response) {
                try {
                    options_.on_response(ex);
                } catch (...) {
                    // An observer's failure must not take the connection down.
                }
            }
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

    void record(const exchange& ex, bool sent_continue)
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
        entry.sent_continue = sent_continue;
        entry.tls_server_name = std::string(ex.tls_server_name());
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

} // namespace takeoff::emulator

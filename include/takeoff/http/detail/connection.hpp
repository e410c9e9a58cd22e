#pragma once
// One HTTP/1.1 connection, plain or TLS, optionally tunnelled through a proxy with CONNECT. Each
// step has its own timeout (zero: none). A connection is used by one exchange at a time; the pool
// hands it out and takes it back.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/http/origin.hpp>
#include <takeoff/http/proxy.hpp>
#include <takeoff/http/tls.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <sys/socket.h>
#include <cerrno>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace takeoff::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using tcp_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<tcp_stream>;

inline constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);

/// Sets or clears a Beast stream timeout from a duration where zero means none.
inline void set_timeout(tcp_stream& s, std::chrono::milliseconds d) {
    if (d.count() > 0)
        s.expires_after(d);
    else
        s.expires_never();
}

/// Beast reports a step timeout as beast::error::timeout; the transport keeps that code.
class connection {
public:
    using clock = std::chrono::steady_clock;

    connection(const asio::any_io_executor& executor, http::origin origin,
               std::shared_ptr<asio::ssl::context> tls_context)
        : origin_(std::move(origin)), tls_context_(std::move(tls_context)) {
        if (origin_.scheme == scheme::https)
            stream_.emplace<tls_stream>(executor, *tls_context_);
        else
            stream_.emplace<tcp_stream>(executor);
    }

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    const http::origin& origin() const noexcept { return origin_; }
    tcp_stream& lowest_layer() noexcept {
        if (auto* t = std::get_if<tls_stream>(&stream_)) return beast::get_lowest_layer(*t);
        return std::get<tcp_stream>(stream_);
    }
    beast::flat_buffer& buffer() noexcept { return buffer_; }

    /// How many exchanges this connection has carried (0 for a fresh one).
    std::size_t exchanges() const noexcept { return exchanges_; }
    void count_exchange() noexcept { ++exchanges_; }

    clock::time_point idle_since() const noexcept { return idle_since_; }
    void mark_idle() {
        idle_since_ = clock::now();
        if (buffer_.size() == 0) buffer_.shrink_to_fit();
        // OpenSSL keeps a ~16 KiB record buffer despite SSL_MODE_RELEASE_BUFFERS; an idle
        // connection does not need it (a no-op while data is buffered).
        if (auto* tls = std::get_if<tls_stream>(&stream_)) SSL_free_buffers(tls->native_handle());
    }

    /// True when an idle connection can carry another request: still open, nothing unread, and
    /// the peer has not closed it (checked without blocking).
    bool usable_after_idle() {
        auto& socket = lowest_layer().socket();
        if (!socket.is_open() || buffer_.size() != 0) return false;
        char byte;
        const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        // 0: orderly close; > 0: unexpected bytes (or a TLS alert) on an idle connection; an error
        // other than "would block": reset.
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    /// Resolves, connects (trying each address), tunnels through the proxy if one is given, and
    /// completes the TLS handshake for https origins.
    asio::awaitable<boost::system::error_code> async_connect(const timeouts& limits, const proxy_settings* proxy,
                                                             diagnostics& diag) {
        const std::string& host = proxy ? proxy->proxy.host : origin_.host;
        const std::uint16_t port = proxy ? proxy->proxy.port : origin_.port;

        std::vector<tcp::endpoint> endpoints;
        boost::system::error_code ec;
        const auto literal = asio::ip::make_address(host, ec);
        if (!ec) {
            endpoints.emplace_back(literal, port);
        } else {
            auto resolved = co_await resolve(host, port, limits.resolve);
            if (resolved.first) {
                diag.set_client_message("cannot resolve " + host + ": " + resolved.first.message());
                co_return resolved.first;
            }
            endpoints = std::move(resolved.second);
        }

        auto& tcp = lowest_layer();
        ec = asio::error::host_not_found;
        for (const auto& endpoint : endpoints) {
            set_timeout(tcp, limits.connect);
            auto [connect_ec] = co_await tcp.async_connect(endpoint, nothrow_awaitable);
            ec = connect_ec;
            if (!ec) break;
            tcp.socket().close();
        }
        if (ec) {
            diag.set_client_message("cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message());
            co_return ec;
        }
        tcp.socket().set_option(tcp::no_delay(true), ec);

        if (proxy) {
            if (auto tunnel_ec = co_await open_tunnel(*proxy, limits, diag)) co_return tunnel_ec;
        }

        if (auto* tls = std::get_if<tls_stream>(&stream_)) {
            if ((ec = prepare_tls_session(tls->native_handle(), origin_.host))) {
                diag.set_client_message("cannot set up TLS for " + origin_.host + ": " + ec.message());
                co_return ec;
            }
            set_timeout(tcp, limits.tls_handshake);
            auto [handshake_ec] = co_await tls->async_handshake(asio::ssl::stream_base::client, nothrow_awaitable);
            if (handshake_ec) {
                diag.set_client_message(describe_tls_failure(tls->native_handle(), handshake_ec) + " (" +
                                        origin_.to_string() + ")");
                co_return handshake_ec;
            }
        }
        co_return boost::system::error_code{};
    }

    /// Writes a whole message (Beast gathers header and body into one write).
    template <class Message>
    asio::awaitable<boost::system::error_code> async_write(Message& message, std::chrono::milliseconds limit) {
        set_timeout(lowest_layer(), limit);
        if (auto* tls = std::get_if<tls_stream>(&stream_)) {
            auto [ec, n] = co_await beast::http::async_write(*tls, message, nothrow_awaitable);
            co_return ec;
        }
        auto [ec, n] = co_await beast::http::async_write(std::get<tcp_stream>(stream_), message, nothrow_awaitable);
        co_return ec;
    }

    /// Reads until the parser has the whole header.
    template <class Parser>
    asio::awaitable<boost::system::error_code> async_read_header(Parser& parser, std::chrono::milliseconds limit) {
        set_timeout(lowest_layer(), limit);
        if (auto* tls = std::get_if<tls_stream>(&stream_)) {
            auto [ec, n] = co_await beast::http::async_read_header(*tls, buffer_, parser, nothrow_awaitable);
            co_return ec;
        }
        auto [ec, n] =
            co_await beast::http::async_read_header(std::get<tcp_stream>(stream_), buffer_, parser, nothrow_awaitable);
        co_return ec;
    }

    /// One read into the parser; limit bounds the silence, not the body's total time.
    template <class Parser>
    asio::awaitable<boost::system::error_code> async_read_some(Parser& parser, std::chrono::milliseconds limit) {
        set_timeout(lowest_layer(), limit);
        if (auto* tls = std::get_if<tls_stream>(&stream_)) {
            auto [ec, n] = co_await beast::http::async_read_some(*tls, buffer_, parser, nothrow_awaitable);
            co_return ec;
        }
        auto [ec, n] =
            co_await beast::http::async_read_some(std::get<tcp_stream>(stream_), buffer_, parser, nothrow_awaitable);
        co_return ec;
    }

    /// Closes the socket at once (no TLS close_notify: the connection is being dropped).
    void close() noexcept {
        boost::system::error_code ignored;
        auto& socket = lowest_layer().socket();
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

private:
    asio::awaitable<std::pair<boost::system::error_code, std::vector<tcp::endpoint>>> resolve(
        const std::string& host, std::uint16_t port, std::chrono::milliseconds limit) {
        using namespace asio::experimental::awaitable_operators;
        auto executor = co_await asio::this_coro::executor;
        tcp::resolver resolver(executor);
        std::vector<tcp::endpoint> endpoints;
        if (limit.count() <= 0) {
            auto [ec, results] = co_await resolver.async_resolve(host, std::to_string(port), nothrow_awaitable);
            for (const auto& entry : results) endpoints.push_back(entry.endpoint());
            co_return std::pair{ec, std::move(endpoints)};
        }
        asio::steady_timer timer(executor, limit);
        auto resolving = resolver.async_resolve(host, std::to_string(port), nothrow_awaitable);
        auto waiting = timer.async_wait(nothrow_awaitable);
        auto outcome = co_await (std::move(resolving) || std::move(waiting));
        if (outcome.index() == 1) co_return std::pair{make_error_code(beast::error::timeout), std::move(endpoints)};
        auto [ec, results] = std::get<0>(std::move(outcome));
        for (const auto& entry : results) endpoints.push_back(entry.endpoint());
        co_return std::pair{ec, std::move(endpoints)};
    }

    asio::awaitable<boost::system::error_code> open_tunnel(const proxy_settings& proxy, const timeouts& limits,
                                                           diagnostics& diag) {
        auto& tcp = lowest_layer();
        const std::string head = connect_request(origin_, proxy);
        set_timeout(tcp, limits.write);
        auto [write_ec, written] = co_await asio::async_write(tcp, asio::buffer(head), nothrow_awaitable);
        if (write_ec) {
            diag.set_client_message("cannot send CONNECT to the proxy " + proxy.proxy.to_string() + ": " +
                                    write_ec.message());
            co_return write_ec;
        }
        beast::http::response_parser<beast::http::empty_body> parser;
        parser.skip(true); // a 2xx answer to CONNECT has no body: the tunnel starts after the header
        set_timeout(tcp, limits.header_read);
        auto [read_ec, read] = co_await beast::http::async_read_header(tcp, buffer_, parser, nothrow_awaitable);
        if (read_ec) {
            diag.set_client_message("no answer to CONNECT from the proxy " + proxy.proxy.to_string() + ": " +
                                    read_ec.message());
            co_return read_ec;
        }
        const unsigned status = parser.get().result_int();
        if (status / 100 != 2) {
            diag.set_http_status(status);
            diag.set_client_message("the proxy " + proxy.proxy.to_string() + " refused to connect to " +
                                    origin_.to_string() + " (HTTP " + std::to_string(status) + ")");
            co_return make_error_code(errc::proxy_error);
        }
        if (buffer_.size() != 0) {
            diag.set_client_message("the proxy sent bytes before the tunnel was used");
            co_return make_error_code(errc::invalid_response);
        }
        co_return boost::system::error_code{};
    }

    http::origin origin_;
    std::shared_ptr<asio::ssl::context> tls_context_;
    std::variant<std::monostate, tcp_stream, tls_stream> stream_;
    beast::flat_buffer buffer_;
    std::size_t exchanges_ = 0;
    clock::time_point idle_since_{};
};

} // namespace takeoff::http::detail

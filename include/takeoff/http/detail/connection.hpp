#pragma once
// One HTTP/1.1 connection, plain or TLS, optionally tunnelled through a proxy with CONNECT. A
// connection is used by one exchange at a time; the pool hands it out and takes it back.
//
// Timeouts: each step (connect, handshake, write, header read, one body read) has its own limit
// (zero: none). A step only records its deadline with the pool's deadline_monitor, whose one timer
// serves every connection of the pool; when a deadline passes, the monitor calls on_deadline() on
// the executor of the operation using the connection (its strand when it has one), so closing the
// socket on a timeout never races with the operation. A step that timed out fails with
// beast::error::timeout and the connection is not reused.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/http/origin.hpp>
#include <takeoff/http/detail/deadline_monitor.hpp>
#include <takeoff/http/detail/fault_injection.hpp>
#include <takeoff/http/detail/response_parser.hpp>
#include <takeoff/http/detail/tls_stream.hpp>
#include <takeoff/http/proxy.hpp>
#include <takeoff/http/tls.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <sys/socket.h>
#include <cerrno>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

namespace takeoff::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// The completion token for co_await inside the transport's tasks (takeoff/detail/task.hpp): a
// deferred operation, awaited without a frame of its own, its completion arguments as a tuple.
inline constexpr auto as_tuple_deferred = asio::as_tuple(asio::deferred);

class connection final : private deadline_target {
public:
    using clock = std::chrono::steady_clock;
    using tls_type = tls_stream<tcp::socket&>; // our own: almost nothing held while idle

    /// Read and request-head buffers up to this size are kept while the connection is idle.
    static constexpr std::size_t keep_buffer_bytes = 4096;

    connection(const asio::any_io_executor& executor, http::origin origin,
               std::shared_ptr<asio::ssl::context> tls_context, std::shared_ptr<deadline_monitor> monitor)
        : origin_(std::move(origin)),
          host_header_(http::host_header(origin_)),
          tls_context_(std::move(tls_context)),
          socket_(executor),
          monitor_(std::move(monitor)),
          watch_(std::make_shared<watch_state>(static_cast<deadline_target*>(this))) {
        if (origin_.scheme == scheme::https) tls_.emplace(*tls_context_, socket_);
    }

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    ~connection() {
        unwatch();
        watch_->detach();
        // In use still (an operation ended by an exception): the pool could not take it back.
        if (watch_->registered) monitor_->remove(*watch_);
    }

    /// The connection's entry with the pool's deadline monitor.
    const std::shared_ptr<watch_state>& watch_entry() const noexcept { return watch_; }

    const http::origin& origin() const noexcept { return origin_; }
    /// The Host header value for this connection's origin.
    const std::string& host_header() const noexcept { return host_header_; }
    tcp::socket& socket() noexcept { return socket_; }
    asio::any_io_executor get_executor() noexcept { return socket_.get_executor(); }

    /// How many exchanges this connection has carried (0 for a fresh one).
    std::size_t exchanges() const noexcept { return exchanges_; }
    void count_exchange() noexcept { ++exchanges_; }

    clock::time_point idle_since() const noexcept { return idle_since_; }
    void mark_idle() {
        idle_since_ = clock::now();
        // Small buffers stay for the next request (no allocation per request); large ones go.
        if (buffer_.size() == 0 && buffer_.capacity() > keep_buffer_bytes) buffer_.shrink_to_fit();
        if (head_.capacity() > keep_buffer_bytes) std::string().swap(head_);
        // The TLS staging buffers and OpenSSL's record buffers (kept while data is buffered).
        if (tls_) tls_->release_buffers();
    }

    /// True when the socket is open and no response bytes are left unread.
    bool open_and_drained() const noexcept {
        return socket_.is_open() && buffer_.size() == 0 && (!tls_ || tls_->buffered_bytes() == 0);
    }

    /// True when an idle connection can carry another request: still open, nothing unread, and
    /// the peer has not closed it (checked without blocking).
    bool usable_after_idle() {
        if (!open_and_drained()) return false;
        char byte;
        const auto n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        // 0: orderly close; > 0: unexpected bytes (or a TLS alert) on an idle connection; an error
        // other than "would block": reset.
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    /// The buffer the request head is written into (kept between requests, freed when idle).
    std::string& head_buffer() noexcept { return head_; }

    /// Resolves, connects (trying each address), tunnels through the proxy if one is given, and
    /// completes the TLS handshake for https origins.
    takeoff::detail::task<boost::system::error_code> async_connect(const timeouts& limits, const proxy_settings* proxy,
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

        ec = asio::error::host_not_found;
        for (const auto& endpoint : endpoints) {
            timed_out_ = false;
            if (injected(ec)) break;
            watch(limits.connect, co_await takeoff::detail::this_task::executor);
            auto [connect_ec] = co_await socket_.async_connect(endpoint, as_tuple_deferred);
            ec = step_result(connect_ec);
            if (!ec) break;
            boost::system::error_code ignored;
            socket_.close(ignored);
        }
        if (ec) {
            diag.set_client_message("cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message());
            co_return ec;
        }
        socket_.set_option(tcp::no_delay(true), ec);

        if (proxy) {
            if (auto tunnel_ec = co_await open_tunnel(*proxy, limits, diag)) co_return tunnel_ec;
        }

        if (tls_) {
            if ((ec = prepare_tls_session(tls_->native_handle(), origin_.host))) {
                diag.set_client_message("cannot set up TLS for " + origin_.host + ": " + ec.message());
                co_return ec;
            }
            watch(limits.tls_handshake, co_await takeoff::detail::this_task::executor);
            boost::system::error_code handshake_ec;
            if (!injected(handshake_ec)) std::tie(handshake_ec) = co_await tls_->async_handshake(as_tuple_deferred);
            if (handshake_ec) {
                handshake_ec = step_result(handshake_ec);
                diag.set_client_message(describe_tls_failure(tls_->native_handle(), handshake_ec) + " (" +
                                        origin_.to_string() + ")");
                co_return handshake_ec;
            }
            secure_ = true;
        }
        co_return boost::system::error_code{};
    }

    // The steps of an exchange, for the coroutine that runs it (client.hpp): each is an Asio
    // operation awaited without a coroutine frame of its own, so a request on a pooled
    // connection costs the frames of the request's own coroutines only.

    /// Starts a step of at most `limit` (zero: none) of the operation running on
    /// operation_executor (its strand, when it has one).
    void watch(std::chrono::milliseconds limit, const asio::any_io_executor& operation_executor) {
        const auto deadline =
            limit.count() > 0 ? (clock::now() + limit).time_since_epoch().count() : watch_state::none;
        monitor_->watch(watch_, deadline, operation_executor);
    }

    /// Writes the buffers whole (TLS: small ones gathered into one record): completes with
    /// void(error_code, std::size_t). A plain socket gets one send(2) for one buffer.
    template <class Token>
    auto async_send(std::array<asio::const_buffer, 2> buffers, Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, std::array<asio::const_buffer, 2> b) {
                if (boost::system::error_code ec; injected(ec)) {
                    asio::post(socket_.get_executor(), asio::append(std::move(handler), ec, std::size_t{0}));
                    return;
                }
                if (b[1].size() == 0) {
                    if (secure_)
                        asio::async_write(*tls_, b[0], std::move(handler));
                    else
                        asio::async_write(socket_, b[0], std::move(handler));
                } else if (secure_) {
                    asio::async_write(*tls_, b, std::move(handler));
                } else {
                    asio::async_write(socket_, b, std::move(handler));
                }
            },
            token, buffers);
    }

    /// Feeds the parser from the bytes already read: beast::http::error::need_more when it needs
    /// more input (read some with async_fill, then call filled), {} when it made progress, or the
    /// parser's error.
    template <class Parser>
    boost::system::error_code feed(Parser& parser) {
        if (buffer_.size() == 0) return beast::http::error::need_more;
        boost::system::error_code ec;
        const std::size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (!ec && used == 0 && !parser.is_done()) return beast::http::error::need_more;
        return ec;
    }

    /// Drops the interim (1xx) responses at the front of the bytes read, before the final
    /// response's head is fed to the parser: need_more while nothing else has arrived (or an
    /// interim head is incomplete), {} when the next bytes are the final response's,
    /// errc::invalid_response for a 101 or interim heads longer than `budget` bytes in all (what
    /// they use is taken off budget).
    boost::system::error_code skip_interim(std::size_t& budget) {
        for (;;) {
            const std::string_view in(static_cast<const char*>(buffer_.data().data()), buffer_.size());
            if (in.empty()) return beast::http::error::need_more;
            std::size_t size = 0;
            switch (find_interim_head(in, budget, size)) {
            case interim_head_result::none: return {};
            case interim_head_result::incomplete: return beast::http::error::need_more;
            case interim_head_result::invalid: return make_error_code(errc::invalid_response);
            case interim_head_result::complete:
                buffer_.consume(size);
                budget -= size;
                break;
            }
        }
    }

    /// Reads what the peer sent into the connection's buffer: completes with
    /// void(error_code, std::size_t); pass both to filled().
    template <class Token>
    auto async_fill(Token&& token) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler) {
                if (boost::system::error_code ec; injected(ec)) {
                    asio::post(socket_.get_executor(), asio::append(std::move(handler), ec, std::size_t{0}));
                    return;
                }
                const std::size_t room = beast::read_size(buffer_, 65536);
                if (room == 0) { // the parser holds on to a full buffer
                    asio::post(socket_.get_executor(),
                               asio::append(std::move(handler), make_error_code(beast::http::error::buffer_overflow),
                                            std::size_t{0}));
                    return;
                }
                if (secure_)
                    tls_->async_read_some(buffer_.prepare(room), std::move(handler));
                else
                    socket_.async_read_some(buffer_.prepare(room), std::move(handler));
            },
            token);
    }

    /// Takes the outcome of async_fill: need_more to feed the parser again, or the error that
    /// ends the read (end_of_stream when the peer closed before any response byte; a
    /// close-delimited body ends with the parser's own result; a timeout is beast::error::timeout).
    template <class Parser>
    boost::system::error_code filled(Parser& parser, boost::system::error_code read_ec, std::size_t n) {
        buffer_.commit(n);
        if (read_ec == asio::error::eof) {
            if (!parser.got_some()) return beast::http::error::end_of_stream;
            boost::system::error_code ec;
            parser.put_eof(ec);
            return step_result(ec);
        }
        if (read_ec) return step_result(read_ec);
        return beast::http::error::need_more;
    }

    /// A step's error as the caller sees it: a timeout instead of the abort it caused.
    boost::system::error_code step_result(boost::system::error_code ec) const {
        if (ec && timed_out_) return beast::error::timeout;
        return ec;
    }

    /// Reads until the parser has the whole header (the proxy's answer to CONNECT).
    template <class Parser>
    takeoff::detail::task<boost::system::error_code> async_read_header(Parser& parser, std::chrono::milliseconds limit) {
        watch(limit, co_await takeoff::detail::this_task::executor);
        while (!parser.is_header_done()) {
            if (auto ec = co_await parse_some(parser)) co_return step_result(ec);
        }
        co_return boost::system::error_code{};
    }

    /// Feeds the parser until it makes progress (reading from the network at most as often as it
    /// needs); limit bounds this silence, not the body's total time. Completes with the parser's
    /// own codes (beast::http::error::need_buffer when a buffer_body is full).
    template <class Parser>
    takeoff::detail::task<boost::system::error_code> async_read_some(Parser& parser, std::chrono::milliseconds limit) {
        watch(limit, co_await takeoff::detail::this_task::executor);
        co_return step_result(co_await parse_some(parser));
    }

    /// Ends the operation's use of the connection: no step limit any more, a timeout notice still
    /// on its way is ignored, and one being handled (on another thread) is done. Called before the
    /// connection goes back to the pool or to another operation.
    void unwatch() { monitor_->unwatch(*watch_); }

    /// Tests only (fault_injection.hpp): every later I/O operation is counted by injector.
    void inject_faults(std::shared_ptr<fault_injector> injector) noexcept { faults_ = std::move(injector); }

    /// Closes the socket at once (no TLS close_notify: the connection is being dropped).
    void close() noexcept {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

private:
    // Whether a test's fault injector makes this operation fail (with ec set to its error).
    bool injected(boost::system::error_code& ec) noexcept {
        if (!faults_ || !faults_->fail_now()) return false;
        ec = faults_->error();
        return true;
    }

    // The monitor saw the step's deadline pass (the step may have moved on since: check again).
    void on_deadline() override {
        const auto deadline = watch_->deadline.load(std::memory_order_seq_cst);
        if (deadline == watch_state::none || clock::now().time_since_epoch().count() < deadline) return;
        timed_out_ = true;
        boost::system::error_code ignored;
        socket_.close(ignored); // the pending step completes with operation_aborted
    }

    // One parse step: buffered bytes first, then one read when the parser needs more.
    template <class Parser>
    takeoff::detail::task<boost::system::error_code> parse_some(Parser& parser) {
        for (;;) {
            auto ec = feed(parser);
            if (ec != beast::http::error::need_more) co_return ec;
            auto [read_ec, n] = co_await async_fill(as_tuple_deferred);
            ec = filled(parser, read_ec, n);
            if (ec != beast::http::error::need_more) co_return ec;
        }
    }

    // The resolver and the timer bounding it: shared with the timer's handler, which runs (on the
    // operation's executor, never alongside the coroutine) after the coroutine may have finished.
    struct bounded_resolve {
        explicit bounded_resolve(const asio::any_io_executor& executor) : resolver(executor), timer(executor) {}
        tcp::resolver resolver;
        asio::steady_timer timer;
        bool timed_out = false;
    };

    takeoff::detail::task<std::pair<boost::system::error_code, std::vector<tcp::endpoint>>> resolve(
        const std::string& host, std::uint16_t port, std::chrono::milliseconds limit) {
        auto state = std::make_shared<bounded_resolve>(co_await takeoff::detail::this_task::executor);
        if (limit.count() > 0) {
            state->timer.expires_after(limit);
            state->timer.async_wait([weak = std::weak_ptr<bounded_resolve>(state)](boost::system::error_code ec) {
                auto s = weak.lock();
                if (ec || !s) return;
                s->timed_out = true;
                s->resolver.cancel(); // the resolve completes with operation_aborted
            });
        }
        auto [ec, results] = co_await state->resolver.async_resolve(host, std::to_string(port), as_tuple_deferred);
        state->timer.cancel();
        std::vector<tcp::endpoint> endpoints;
        if (ec && state->timed_out) co_return std::pair{make_error_code(beast::error::timeout), std::move(endpoints)};
        for (const auto& entry : results) endpoints.push_back(entry.endpoint());
        co_return std::pair{ec, std::move(endpoints)};
    }

    takeoff::detail::task<boost::system::error_code> open_tunnel(const proxy_settings& proxy, const timeouts& limits,
                                                           diagnostics& diag) {
        const std::string head = connect_request(origin_, proxy);
        watch(limits.write, co_await takeoff::detail::this_task::executor);
        auto [write_ec, written] = co_await asio::async_write(socket_, asio::buffer(head), as_tuple_deferred);
        if (write_ec) {
            write_ec = step_result(write_ec);
            diag.set_client_message("cannot send CONNECT to the proxy " + proxy.proxy.to_string() + ": " +
                                    write_ec.message());
            co_return write_ec;
        }
        beast::http::response_parser<beast::http::empty_body> parser;
        parser.skip(true); // a 2xx answer to CONNECT has no body: the tunnel starts after the header
        if (auto read_ec = co_await async_read_header(parser, limits.header_read)) {
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
    std::string host_header_;
    std::shared_ptr<asio::ssl::context> tls_context_;
    tcp::socket socket_;
    std::optional<tls_type> tls_; // over socket_, for https origins
    bool secure_ = false;         // the TLS handshake is done: the exchange goes through tls_
    std::shared_ptr<deadline_monitor> monitor_;
    std::shared_ptr<watch_state> watch_; // shared with the monitor and its pending notices
    bool timed_out_ = false;
    beast::flat_buffer buffer_;
    std::string head_;
    std::size_t exchanges_ = 0;
    clock::time_point idle_since_{};
    std::shared_ptr<fault_injector> faults_; // tests only
};

} // namespace takeoff::http::detail

#pragma once
// body_stream: the body of a response read as it arrives, in constant memory, for SSE and other
// long streams. Obtained from client::async_open after a 2xx header; pulled with async_read_some.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/http/detail/connection.hpp>
#include <takeoff/http/detail/pool.hpp>
#include <takeoff/http/detail/response_parser.hpp>
#include <takeoff/http/fields.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/http/options.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <memory>

namespace takeoff::http {

namespace detail {

// What a body_stream owns: the connection (returned to the pool when the body was read to its end,
// closed otherwise), the response head and the parser positioned after it, writing into the
// reader's buffers.
struct body_stream_state {
    body_stream_state(std::shared_ptr<connection_pool> p, bool s, const request_settings& settings,
                      std::chrono::steady_clock::time_point d)
        : pool(std::move(p)), serialised(s), body_read(settings.timeouts.body_read), deadline(d) {}

    body_stream_state(const body_stream_state&) = delete;
    body_stream_state& operator=(const body_stream_state&) = delete;

    ~body_stream_state() {
        if (conn) pool->release(std::move(conn), parser.is_done() && parser.keep_alive() && !failed);
    }

    std::shared_ptr<connection_pool> pool;
    bool serialised;                  // the client's executor is (see detail/async_op.hpp)
    std::unique_ptr<connection> conn; // set once the 2xx header has arrived
    response head;                    // status and headers; the body goes to the reader's buffers
    response_parser parser{head};
    std::chrono::milliseconds body_read; // the longest silence (timeouts.body_read)
    std::chrono::steady_clock::time_point deadline; // the request's; time_point::max() when none
    bool failed = false;
    bool reading = false;
};

} // namespace detail

/// A response body read incrementally. Move-only. Not thread-safe: one read at a time (a second
/// one completes with errc::operation_in_progress). Destroying it before the end closes the
/// connection; reading to the end returns it to the pool.
class body_stream {
public:
    body_stream() = default;

    explicit body_stream(std::shared_ptr<detail::body_stream_state> state) : state_(std::move(state)) {}

    /// The response status (2xx).
    unsigned status() const { return state_ ? state_->head.status : 0; }
    /// The response header fields.
    const http::fields& headers() const {
        static const http::fields none;
        return state_ ? state_->head.headers : none;
    }
    /// True once the whole body was read.
    bool done() const noexcept { return !state_ || state_->parser.is_done(); }

    /// Reads some body bytes into buffer: completes with void(error_code, std::size_t n).
    ///
    /// As with Asio's read_some, a read can complete with n > 0 *and* an error: the n bytes
    /// arrived before the error and are in the buffer. A reader that loses no byte uses the n
    /// bytes first, then looks at the error (with as_tuple(deferred)):
    ///
    ///     for (;;) {
    ///         auto [ec, n] = co_await stream.async_read_some(buffer, as_tuple(deferred));
    ///         consume(buffer.data(), n);
    ///         if (ec == asio::error::eof) break; // the whole body was read
    ///         if (ec) fail(ec);
    ///     }
    ///
    /// With the default token an error is thrown as takeoff::error, and the n bytes of that read
    /// are lost to the caller: use an error_code token where a partial body matters.
    ///
    /// At the end of the body: asio::error::eof with 0 bytes. Errors: the body_read timeout
    /// (silence longer than timeouts.body_read) is beast::error::timeout; the request deadline is
    /// errc::request_timeout; a connection closed before the end is errc::stream_truncated; after
    /// an error every read fails with errc::stream_truncated. Cancellation: terminal and partial
    /// end the read (the stream then fails as after an error); total is not honoured (bytes may
    /// already have been taken off the connection).
    template <class CompletionToken = default_token>
    auto async_read_some(boost::asio::mutable_buffer buffer, CompletionToken&& token = {}) {
        return start_read(buffer, nullptr, std::forward<CompletionToken>(token));
    }

    /// As above; a failure's explanation goes into diag (cleared by a read that fails).
    template <class CompletionToken = default_token>
    auto async_read_some(boost::asio::mutable_buffer buffer, diagnostics& diag, CompletionToken&& token = {}) {
        return start_read(buffer, &diag, std::forward<CompletionToken>(token));
    }

    /// For the library's own composed operations: the read as a step of the calling task (on its
    /// executor and under its cancellation). The stream must outlive the task.
    takeoff::detail::task<takeoff::detail::op_result<std::size_t>> read_some_task(boost::asio::mutable_buffer buffer,
                                                                                diagnostics* diag = nullptr) {
        return read_some(state_, buffer, diag);
    }

private:
    template <class CompletionToken>
    auto start_read(boost::asio::mutable_buffer buffer, diagnostics* diag, CompletionToken&& token) {
        // A default-constructed stream has no connection: it completes at once with eof.
        boost::asio::any_io_executor executor = boost::asio::system_executor();
        if (state_ && state_->conn) executor = state_->conn->get_executor();
        return takeoff::detail::async_run<std::size_t>(
            executor, state_ && state_->serialised, std::chrono::steady_clock::duration::zero(), diag,
            [](diagnostics* diag, std::shared_ptr<detail::body_stream_state>& state, boost::asio::mutable_buffer& b) {
                return read_some(state, b, diag);
            },
            std::forward<CompletionToken>(token), state_, buffer);
    }

    static takeoff::detail::task<takeoff::detail::op_result<std::size_t>> read_some(
        std::shared_ptr<detail::body_stream_state> state, boost::asio::mutable_buffer buffer, diagnostics* diag) {
        using result = takeoff::detail::op_result<std::size_t>;
        auto fail = [&](boost::system::error_code ec, std::size_t n, const char* why) {
            if (diag) {
                diag->clear();
                diag->set_client_message(std::string("cannot read the response body: ") + why);
            }
            return result{ec, n};
        };
        if (!state || state->parser.is_done()) co_return result{boost::asio::error::eof, 0};
        if (state->failed || !state->conn)
            co_return fail(make_error_code(errc::stream_truncated), 0, "an earlier read failed");
        if (state->reading)
            co_return fail(make_error_code(errc::operation_in_progress), 0, "another read is in progress");
        if (buffer.size() == 0) co_return result{{}, 0};
        state->reading = true;
        co_await takeoff::detail::this_task::side_effects;

        for (;;) {
            // The step's limit: the body_read silence, or what is left of the request's deadline.
            auto limit = state->body_read;
            bool deadline_binds = false;
            if (state->deadline != std::chrono::steady_clock::time_point::max()) {
                const auto left = std::chrono::ceil<std::chrono::milliseconds>(state->deadline -
                                                                                std::chrono::steady_clock::now());
                if (left.count() <= 0 || limit.count() == 0 || left < limit) {
                    limit = std::max(left, std::chrono::milliseconds(1));
                    deadline_binds = true;
                }
            }
            state->parser.set_buffer(buffer);
            auto ec = co_await state->conn->async_read_some(state->parser, limit);
            state->conn->unwatch();
            const std::size_t n = buffer.size() - state->parser.buffer_room();
            if (ec == boost::beast::http::error::need_buffer) ec = {};
            if (ec) {
                state->failed = true;
                state->reading = false;
                if (ec == boost::beast::error::timeout && deadline_binds)
                    co_return fail(make_error_code(errc::request_timeout), n, "the request deadline passed");
                if (ec == boost::beast::error::timeout)
                    co_return fail(ec, n, "the server sent nothing for longer than timeouts.body_read");
                if (ec == boost::beast::http::error::partial_message || ec == boost::asio::error::eof ||
                    ec == boost::asio::error::connection_reset)
                    co_return fail(make_error_code(errc::stream_truncated), n,
                                   "the connection closed before the end of the body");
                co_return fail(ec, n, "the connection failed");
            }
            if (n > 0 || state->parser.is_done()) {
                state->reading = false;
                if (n == 0) co_return result{boost::asio::error::eof, 0};
                co_return result{{}, n};
            }
            // A read that produced only framing (a chunk header): read again.
        }
    }

    std::shared_ptr<detail::body_stream_state> state_;
};

} // namespace takeoff::http

#pragma once
// body_stream: the body of a response read as it arrives, in constant memory, for SSE and other
// long streams. Obtained from client::async_open after a 2xx header; pulled with async_read_some.

#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>
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
    body_stream_state(std::shared_ptr<connection_pool> p, bool s, request_options o,
                      std::chrono::steady_clock::time_point d)
        : pool(std::move(p)), serialised(s), options(std::move(o)), deadline(d) {}

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
    request_options options;
    std::chrono::steady_clock::time_point deadline; // time_point::max() when none
    bool failed = false;
    bool reading = false;
};

} // namespace detail

/// A response body read incrementally. Move-only. Not thread-safe: one async_read_some at a time
/// (a second one completes with errc::operation_in_progress). Destroying it before the end closes
/// the connection; reading to the end returns it to the pool.
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

    /// Reads some body bytes into buffer: completes with void(error_code, std::size_t). At the end
    /// of the body: asio::error::eof with 0 bytes. Errors: the body_read timeout (silence longer
    /// than timeouts.body_read) is beast::error::timeout; the request deadline is
    /// errc::request_timeout; a connection closed before the end is errc::stream_truncated.
    /// Cancellation: terminal, partial and total; the connection is then closed.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_read_some(boost::asio::mutable_buffer buffer, CompletionToken&& token = {}) {
        auto state = state_;
        // A default-constructed stream has no connection: it completes at once with eof.
        boost::asio::any_io_executor executor = boost::asio::system_executor();
        if (state) executor = state->conn->get_executor();
        const auto remaining = state && state->deadline != std::chrono::steady_clock::time_point::max()
                                   ? std::max(state->deadline - std::chrono::steady_clock::now(),
                                              std::chrono::steady_clock::duration(std::chrono::nanoseconds(1)))
                                   : std::chrono::steady_clock::duration::zero();
        return takeoff::detail::async_run<std::size_t>(
            executor, state && state->serialised, remaining, [state, buffer] { return read_some(state, buffer); },
            std::forward<CompletionToken>(token));
    }

private:
    static takeoff::detail::task<takeoff::detail::op_result<std::size_t>> read_some(
        std::shared_ptr<detail::body_stream_state> state, boost::asio::mutable_buffer buffer) {
        using result = takeoff::detail::op_result<std::size_t>;
        if (!state || state->parser.is_done()) co_return result{boost::asio::error::eof, 0};
        if (state->failed || !state->conn) co_return result{make_error_code(errc::stream_truncated), 0};
        if (state->reading) co_return result{make_error_code(errc::operation_in_progress), 0};
        if (buffer.size() == 0) co_return result{{}, 0};
        state->reading = true;

        for (;;) {
            state->parser.set_buffer(buffer);
            auto ec = co_await state->conn->async_read_some(state->parser, state->options.timeouts.body_read);
            state->conn->unwatch();
            const std::size_t n = buffer.size() - state->parser.buffer_room();
            if (ec == boost::beast::http::error::need_buffer) ec = {};
            if (ec) {
                state->failed = true;
                state->reading = false;
                if (ec == boost::beast::http::error::partial_message || ec == boost::asio::error::eof ||
                    ec == boost::asio::error::connection_reset)
                    ec = make_error_code(errc::stream_truncated);
                co_return result{ec, n};
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

#pragma once
// event_stream: the events of a streamed Takeoff request (generate_stream, OpenAI chat with
// stream: true), pulled one at a time:
//
//     auto stream = co_await client.async_generate_stream("Tell me a story");
//     while (auto token = co_await stream.async_next()) std::cout << *token << std::flush;
//
// Constant memory: a fixed read buffer and the SSE parser's buffers for the event being read;
// nothing is queued. The stream ends (async_next gives an empty optional) when the body ends
// after a complete event, or at the API's end marker (OpenAI's `data: [DONE]`). A connection that
// drops, or a body that ends inside an event, is errc::stream_truncated: never a silent end.
// Cancelling a read, or destroying the stream before its end, closes the connection; reading it
// to its end gives the connection back to the pool at once.

#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/body_stream.hpp>
#include <takeoff/sse/parser.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace takeoff {

namespace detail {

// What a stream owns, at a stable address for the reads in flight.
template <class Request>
struct event_stream_state {
    // Bytes read per socket read. A token event is a few dozen bytes; 4 KiB takes hundreds at once.
    static constexpr std::size_t buffer_size = 4096;
    // After the end marker, at most this many more bytes are read hoping for the body's end (so the
    // connection goes back to the pool); a server that sends more loses its connection instead.
    static constexpr std::size_t drain_limit = 16 * 1024;

    event_stream_state(http::body_stream b, Request r, boost::asio::any_io_executor ex, bool s)
        : status(b.status()), headers(b.headers()), body(std::move(b)), request(std::move(r)), executor(std::move(ex)),
          serialised(s) {}

    // The body ended: its connection goes back to the pool now, not when the stream is destroyed.
    void release_body() { body = http::body_stream(); }

    unsigned status;
    http::fields headers;
    http::body_stream body;
    Request request;
    boost::asio::any_io_executor executor;
    bool serialised;
    sse::parser parser;
    std::array<char, buffer_size> buffer;
    std::size_t begin = 0, end = 0;          // unparsed bytes in buffer
    boost::system::error_code pending;       // the error of the read that also delivered bytes
    bool finished = false;                   // the end was reached; every next() gives nothing
    bool failed = false;
};

} // namespace detail

/// The events of one streamed request (see the file comment). Move-only; one async_next at a
/// time; not thread-safe. Made by client::async_open.
template <api::streaming_request Request>
class event_stream {
public:
    /// What each async_next yields: a token's text, a batch_token, an OpenAI chat_chunk, ...
    using event_type = typename Request::event_type;

    event_stream() = default;
    event_stream(http::body_stream body, Request request, boost::asio::any_io_executor executor, bool serialised)
        : state_(std::make_shared<detail::event_stream_state<Request>>(std::move(body), std::move(request),
                                                                      std::move(executor), serialised)) {}

    /// The response status (2xx).
    unsigned status() const { return state_ ? state_->status : 0; }
    /// The response header fields (a request id, say).
    const http::fields& headers() const {
        static const http::fields none;
        return state_ ? state_->headers : none;
    }
    /// True once the stream has ended (normally or not).
    bool done() const noexcept { return !state_ || state_->finished || state_->failed; }

    /// The next event: completes with void(error_code, std::optional<event_type>), empty at the
    /// end. Errors: errc::stream_truncated (the connection dropped, or the body ended inside an
    /// event), errc::invalid_response / invalid_json (an event the API does not define),
    /// errc::event_too_large, the body's timeouts (http::body_stream::async_read_some). After an
    /// error every call fails with errc::stream_truncated.
    template <class CompletionToken = default_token>
    auto async_next(CompletionToken&& token = {}) {
        return start(nullptr, std::forward<CompletionToken>(token));
    }

    /// As above; a failure's explanation goes into diag.
    template <class CompletionToken = default_token>
    auto async_next(diagnostics& diag, CompletionToken&& token = {}) {
        return start(&diag, std::forward<CompletionToken>(token));
    }

    /// For the library's composed operations: async_next as a step of the calling task. The
    /// stream must outlive the task.
    takeoff::detail::task<takeoff::detail::op_result<std::optional<event_type>>> next_task(diagnostics& diag) {
        return next(state_, diag);
    }

private:
    using state_type = detail::event_stream_state<Request>;
    using result = takeoff::detail::op_result<std::optional<event_type>>;

    template <class CompletionToken>
    auto start(diagnostics* diag, CompletionToken&& token) {
        boost::asio::any_io_executor executor = boost::asio::system_executor();
        bool serialised = false;
        if (state_) {
            executor = state_->executor;
            serialised = state_->serialised;
        }
        return takeoff::detail::async_run<std::optional<event_type>>(
            executor, serialised, std::chrono::steady_clock::duration::zero(), diag,
            [](diagnostics* d, std::shared_ptr<state_type>& state, diagnostics& own) {
                return next(state, d ? *d : own);
            },
            std::forward<CompletionToken>(token), state_, diagnostics{});
    }

    static result fail(state_type& s, diagnostics& diag, boost::system::error_code ec, std::string message) {
        s.failed = true;
        if (!message.empty()) diag.set_client_message(std::move(message));
        return result{ec, std::nullopt};
    }

    static takeoff::detail::task<result> next(std::shared_ptr<state_type> state, diagnostics& diag) {
        if (!state || state->finished) co_return result{};
        state_type& s = *state;
        if (s.failed) co_return fail(s, diag, make_error_code(errc::stream_truncated), "an earlier read of the stream failed");
        for (;;) {
            // Events already read come first.
            while (s.begin < s.end) {
                boost::system::error_code ec;
                const std::string_view input(s.buffer.data() + s.begin, s.end - s.begin);
                s.begin += s.parser.parse(input, ec);
                if (ec) co_return fail(s, diag, ec, "a server-sent event exceeded the parser's size cap");
                if (!s.parser.has_event()) continue;
                auto step = s.request.parse_event(s.parser.current(), diag);
                if (!step) co_return fail(s, diag, step.error(), "");
                if (step->end) {
                    co_await drain(s);
                    s.finished = true;
                    s.release_body();
                    co_return result{};
                }
                if (step->event) co_return result{{}, std::move(step->event)};
            }
            if (s.pending) {
                const auto ec = s.pending;
                co_return fail(s, diag, ec, "");
            }
            s.begin = s.end = 0;
            auto [ec, n] = co_await s.body.read_some_task(boost::asio::buffer(s.buffer), &diag);
            s.end = n;
            if (ec == boost::asio::error::eof) {
                if (s.parser.in_event())
                    co_return fail(s, diag, make_error_code(errc::stream_truncated),
                                   "the stream ended inside an event (its blank line never came)");
                s.finished = true;
                s.release_body();
                co_return result{};
            }
            if (ec) {
                if (n == 0) co_return fail(s, diag, ec, "");
                s.pending = ec; // use the n bytes first
            }
        }
    }

    // Reads what follows the end marker, up to drain_limit bytes, so that a body that ends there
    // gives its connection back to the pool.
    static takeoff::detail::task<takeoff::detail::op_result<bool>> drain(state_type& s) {
        std::size_t drained = 0;
        while (!s.body.done() && drained < state_type::drain_limit) {
            auto [ec, n] = co_await s.body.read_some_task(boost::asio::buffer(s.buffer));
            drained += n;
            if (ec) break;
        }
        s.begin = s.end = 0;
        co_return takeoff::detail::op_result<bool>{{}, true};
    }

    std::shared_ptr<state_type> state_;
};

} // namespace takeoff

#pragma once
// http::client: HTTP/1.1 requests over pooled plain or TLS connections, with per-step timeouts, a
// whole-request deadline, redirects and retries by policy, and Asio cancellation.
//
// Thread safety: a client may be used by many coroutines and threads at once; its pool is
// thread-safe, and each operation runs on a strand of its own unless the client's executor is
// already serialised (a strand, or an io_context made with concurrency hint 1: see
// detail/async_op.hpp). A body_stream is not thread-safe.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/body_stream.hpp>
#include <takeoff/http/detail/connection.hpp>
#include <takeoff/http/detail/pool.hpp>
#include <takeoff/http/detail/request_head.hpp>
#include <takeoff/http/detail/response_parser.hpp>
#include <takeoff/http/fields.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/http/origin.hpp>
#include <takeoff/http/proxy.hpp>
#include <takeoff/http/redirect_policy.hpp>
#include <takeoff/http/retry_after.hpp>
#include <takeoff/http/retry_policy.hpp>
#include <takeoff/http/tls.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/error.hpp>

#include <array>
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace takeoff::http {

namespace detail {

// What every operation of a client shares; kept alive by the operations in flight.
struct client_state {
    client_state(asio::any_io_executor ex, client_options o, std::shared_ptr<asio::ssl::context> tls)
        : executor(std::move(ex)),
          options(std::move(o)),
          serialised(takeoff::detail::is_serialised(executor)),
          pool(std::make_shared<connection_pool>(executor, options.pool, std::move(tls), effective_proxies(options))) {}

    static proxy_config effective_proxies(const client_options& o) {
        if (o.proxy) return *o.proxy;
        if (!o.proxy_from_environment) return {};
        return proxy_config_from_environment();
    }

    // The retry jitter source is shared by all operations, which may run on different threads.
    std::chrono::milliseconds next_delay(const retry_policy& policy, unsigned attempts, beast::http::verb method,
                                         const attempt_outcome& outcome, bool& retry) {
        std::lock_guard lock(random_mutex);
        auto delay = next_retry_delay(policy, attempts, method, outcome, random);
        retry = delay.has_value();
        return delay.value_or(std::chrono::milliseconds(0));
    }

    asio::any_io_executor executor;
    client_options options;
    bool serialised; // is_serialised(executor), decided once
    std::shared_ptr<connection_pool> pool;
    std::mutex random_mutex;
    random_source random = default_random_source();
};

// How one attempt ended, in the terms the retry policy needs.
struct attempt_result {
    boost::system::error_code ec;      // before a response header was complete
    boost::system::error_code body_ec; // while reading the body, after the header
    attempt_outcome outcome;
    bool stale_reuse = false;          // a pooled connection failed before any response byte
    std::unique_ptr<connection> conn;  // a 2xx header for a streamed body: the body is still to read
};

// A buffered response and the parser writing into it (neither is movable: built in place).
struct buffered_response {
    response resp;
    response_parser parser{resp};
};

// Request ids servers commonly send, checked in this order.
inline std::string request_id_of(const http::fields& headers) {
    for (const char* name : {"x-request-id", "x-amzn-requestid", "request-id", "x-correlation-id"}) {
        auto it = headers.find(name);
        if (it != headers.end()) return std::string(it->value);
    }
    return {};
}

// The URL as it may appear in messages: origin and path, never the query (it can carry codes).
inline std::string printable_url(const boost::urls::url_view& url) {
    return std::string(url.scheme()) + "://" + std::string(url.encoded_host_and_port()) + std::string(url.encoded_path());
}

} // namespace detail

/// Sends HTTP requests. See the file comment for thread safety.
class client {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Makes a client. Throws takeoff::error when the TLS settings cannot be applied (a CA file
    /// that does not load, for example).
    explicit client(executor_type executor, client_options options = {}) {
        diagnostics diag;
        auto tls = make_tls_context(options.tls, diag);
        if (!tls) throw error(tls.error(), diag);
        state_ = std::make_shared<detail::client_state>(std::move(executor), std::move(options), std::move(*tls));
    }

    executor_type get_executor() const noexcept { return state_->executor; }
    const client_options& options() const noexcept { return state_->options; }

    /// Connections opened so far, all origins together (to observe connection reuse).
    std::size_t connections_opened() const noexcept { return state_->pool->connections_opened(); }
    /// Idle connections kept in the pool now.
    std::size_t idle_connections() const { return state_->pool->idle_connections(); }

    /// Sends req and reads the whole response: completes with void(error_code, response).
    /// A non-2xx final status completes with the errc for it (errc_from_http_status) *and* the
    /// response; diag then has the status, an excerpt of the body, the request id and Retry-After.
    /// Cancellation: terminal, partial and total (the connection in use is closed).
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_request(request req, request_options options, diagnostics& diag, CompletionToken&& token = {}) {
        const auto deadline = options.deadline;
        return start<false>(deadline, std::forward<CompletionToken>(token), std::move(req), std::move(options), &diag);
    }

    /// As above, with the client's default options and no diagnostics.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_request(request req, CompletionToken&& token = {}) {
        return start<false>(state_->options.defaults.deadline, std::forward<CompletionToken>(token), std::move(req),
                            request_options(state_->options.defaults), nullptr);
    }

    /// Sends req and completes, once a 2xx header has arrived, with void(error_code, body_stream)
    /// for reading the body as it comes. Redirects and retries apply until then; a non-2xx status
    /// completes with its errc (the error body, bounded, is in diag). The deadline, if any, also
    /// bounds the reading of the body.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_open(request req, request_options options, diagnostics& diag, CompletionToken&& token = {}) {
        const auto deadline = options.deadline;
        return start<true>(deadline, std::forward<CompletionToken>(token), std::move(req), std::move(options), &diag);
    }

    /// As above, with the client's default options and no diagnostics.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_open(request req, CompletionToken&& token = {}) {
        return start<true>(state_->options.defaults.deadline, std::forward<CompletionToken>(token), std::move(req),
                           request_options(state_->options.defaults), nullptr);
    }

private:
    // Bodies up to this size are copied behind the head and sent with it in one write.
    static constexpr std::size_t small_body = 16 * 1024;
    // The most of an error or redirect body kept when the caller streams.
    static constexpr std::size_t streamed_error_body_limit = 64 * 1024;

    // One attempt, in one coroutine (its steps are awaited without frames of their own): a
    // connection, the request written, the response header read into parser and, unless the caller
    // streams a 2xx body, the body too, after which the connection goes back to the pool.
    static takeoff::detail::task<detail::attempt_result> exchange(detail::client_state& state, const request& req,
                                                                  const origin& target, const request_options& options,
                                                                  bool streaming, detail::response_parser& parser,
                                                                  diagnostics& diag) {
        namespace bhttp = boost::beast::http;
        detail::attempt_result r;
        const auto& executor = co_await takeoff::detail::this_task::executor;

        bool reused = true;
        r.conn = state.pool->take_idle(target);
        if (!r.conn) {
            auto [acquire_ec, lease] = co_await state.pool->acquire(target, options.timeouts, diag);
            if (acquire_ec) {
                r.ec = acquire_ec;
                co_return r;
            }
            r.conn = std::move(lease.conn);
            reused = lease.reused;
        }
        detail::connection& conn = *r.conn;

        std::string& head = conn.head_buffer();
        head.clear();
        // Origin form: "http://host" and "http://host?q" have an empty path, sent as "/".
        std::string_view path = req.url.encoded_target();
        std::string rooted;
        if (path.empty() || path.front() != '/') {
            rooted = "/" + std::string(path);
            path = rooted;
        }
        if (auto ec = detail::append_request_head(head, req.method, path, conn.host_header(), req.headers,
                                                  state.options.user_agent, req.body.size(), diag)) {
            state.pool->release(std::move(r.conn), true); // nothing was sent on it
            r.ec = ec;
            co_return r;
        }
        // Small bodies travel in the head's buffer: one contiguous block, one TLS record.
        std::array<boost::asio::const_buffer, 2> buffers{boost::asio::buffer(head), boost::asio::buffer(req.body)};
        if (req.body.size() <= small_body) {
            head.append(req.body);
            buffers = {boost::asio::buffer(head), boost::asio::const_buffer()};
        }

        r.outcome.request_sent = true;
        conn.watch(options.timeouts.write, executor);
        auto [write_ec, written] = co_await conn.async_send(buffers, detail::nothrow_awaitable);
        if (write_ec) {
            r.ec = conn.step_result(write_ec);
            r.stale_reuse = reused && r.ec != boost::asio::error::operation_aborted;
            diag.set_client_message("cannot send the request to " + detail::printable_url(req.url) + ": " +
                                    r.ec.message());
            state.pool->release(std::move(r.conn), false);
            co_return r;
        }

        parser.header_limit(options.header_limit);
        parser.body_limit(boost::none); // set below, once the status tells which limit applies
        if (req.method == bhttp::verb::head) parser.skip(true);
        conn.watch(options.timeouts.header_read, executor);
        boost::system::error_code ec;
        while (!parser.is_header_done()) {
            ec = conn.feed(parser);
            if (ec == bhttp::error::need_more) {
                auto [read_ec, n] = co_await conn.async_fill(detail::nothrow_awaitable);
                ec = conn.filled(parser, read_ec, n);
                if (ec == bhttp::error::need_more) ec = {};
            }
            if (ec) break;
        }
        if (ec) {
            r.ec = ec;
            r.outcome.response_started = parser.got_some();
            r.stale_reuse = reused && !r.outcome.response_started && ec != boost::asio::error::operation_aborted &&
                            ec != boost::beast::error::timeout;
            if (ec == bhttp::error::header_limit) r.ec = make_error_code(errc::invalid_response);
            diag.set_client_message(
                (r.outcome.response_started ? "bad or incomplete response header from " : "no response from ") +
                detail::printable_url(req.url) + ": " + ec.message());
            state.pool->release(std::move(r.conn), false);
            co_return r;
        }
        r.outcome.response_started = true;
        conn.count_exchange();

        if (streaming && parser.target().status / 100 == 2) {
            conn.unwatch(); // the body_stream's reads arm it again
            co_return r;
        }

        // The body, into the response. The header was parsed without a limit; a Content-Length
        // over it fails here, a chunked or close-delimited body as it grows past it.
        const std::size_t limit =
            streaming ? std::min(options.body_limit, streamed_error_body_limit) : options.body_limit;
        if (!parser.is_done() && parser.content_length() && *parser.content_length() > limit)
            ec = bhttp::error::body_limit;
        parser.body_limit(limit);
        while (!ec && !parser.is_done()) {
            ec = conn.feed(parser);
            if (ec == bhttp::error::need_more) {
                conn.watch(options.timeouts.body_read, executor); // the longest silence
                auto [read_ec, n] = co_await conn.async_fill(detail::nothrow_awaitable);
                ec = conn.filled(parser, read_ec, n);
                if (ec == bhttp::error::need_more) ec = {};
            }
        }
        state.pool->release(std::move(r.conn), !ec && parser.keep_alive());
        r.body_ec = ec == bhttp::error::body_limit ? make_error_code(errc::body_too_large) : ec;
        co_return r;
    }

    template <bool Streaming>
    using result_type = std::conditional_t<Streaming, body_stream, response>;

    // The request, its options and the diagnostics pointer live in the operation (async_run's
    // payload) for as long as it runs; run() works on them by reference.
    template <bool Streaming, class CompletionToken>
    auto start(std::chrono::milliseconds deadline, CompletionToken&& token, request&& req, request_options&& options,
               diagnostics* diag) {
        return takeoff::detail::async_run<result_type<Streaming>>(
            state_->executor, state_->serialised, deadline,
            [](std::shared_ptr<detail::client_state>& state, request& r, request_options& o, diagnostics* d) {
                return run<Streaming>(*state, r, o, d);
            },
            std::forward<CompletionToken>(token), state_, std::move(req), std::move(options), diag);
    }

    template <bool Streaming>
    static takeoff::detail::task<takeoff::detail::op_result<result_type<Streaming>>> run(
        detail::client_state& state, request& req, const request_options& options, diagnostics* diag_out) {
        using result = takeoff::detail::op_result<result_type<Streaming>>;
        diagnostics local;
        diagnostics& diag = diag_out ? *diag_out : local;
        diag.clear();
        const auto started = std::chrono::steady_clock::now();

        unsigned attempts = 0;
        unsigned redirects = 0;
        bool stale_retried = false;
        for (;;) {
            auto target = origin_of(req.url);
            if (!target) {
                diag.set_client_message("the URL is not an absolute http or https URL");
                co_return result{target.error(), {}};
            }
            ++attempts;
            diag.clear();

            // Where this attempt's response goes: a body_stream's state when streaming (it takes
            // the connection over on a 2xx), a response in this frame otherwise.
            std::shared_ptr<detail::body_stream_state> stream;
            std::optional<detail::buffered_response> buffered;
            if constexpr (Streaming) {
                const auto deadline = options.deadline.count() > 0 ? started + options.deadline
                                                                   : std::chrono::steady_clock::time_point::max();
                stream = std::make_shared<detail::body_stream_state>(state.pool, state.serialised, options, deadline);
            } else {
                buffered.emplace();
            }
            response& resp = Streaming ? stream->head : buffered->resp;
            detail::response_parser& parser = Streaming ? stream->parser : buffered->parser;

            auto attempt = co_await exchange(state, req, *target, options, Streaming, parser, diag);

            if (attempt.ec) {
                if (attempt.ec == boost::asio::error::operation_aborted) co_return result{attempt.ec, {}};
                // A pooled connection the server had closed: try once more at once, on a new one.
                if (attempt.stale_reuse && !stale_retried) {
                    stale_retried = true;
                    --attempts;
                    continue;
                }
                attempt.outcome.ec = attempt.ec;
                bool retry = false;
                auto delay = state.next_delay(options.retries, attempts, req.method, attempt.outcome, retry);
                if (!retry) co_return result{attempt.ec, {}};
                if (auto ec = co_await wait(delay)) co_return result{ec, {}};
                continue;
            }

            const unsigned status = resp.status;
            const bool success = status / 100 == 2;

            if constexpr (Streaming) {
                if (success) {
                    stream->conn = std::move(attempt.conn);
                    stream->parser.use_buffers();
                    stream->parser.body_limit(boost::none); // the reader bounds what it keeps
                    co_return result{{}, body_stream(std::move(stream))};
                }
            }

            // A buffered body: the response itself, or an error or redirect body (bounded when streaming).
            const auto& body_ec = attempt.body_ec;
            if (body_ec && (success || body_ec == boost::asio::error::operation_aborted)) {
                diag.set_http_status(status);
                diag.set_client_message(
                    body_ec == errc::body_too_large
                        ? "the response body from " + detail::printable_url(req.url) + " exceeds the limit of " +
                              std::to_string(Streaming ? std::min(options.body_limit, streamed_error_body_limit)
                                                       : options.body_limit) +
                              " bytes"
                        : "cannot read the response body from " + detail::printable_url(req.url) + ": " +
                              body_ec.message());
                co_return result{body_ec, {}};
            }

            if (status / 100 == 3) {
                const std::string_view where = resp.headers[boost::beast::http::field::location];
                redirect_decision decision = decide_redirect(options.redirects, req.method, status, req.url, where, redirects);
                if (decision.action == redirect_action::follow) {
                    ++redirects;
                    attempts = 0;
                    req.url = std::move(decision.target);
                    if (!decision.keep_authorization) req.headers.erase(boost::beast::http::field::authorization);
                    continue;
                }
                if (decision.action == redirect_action::fail) {
                    diag.set_http_status(status);
                    diag.set_client_message(decision.message);
                    if constexpr (Streaming)
                        co_return result{decision.error, {}};
                    else
                        co_return result{decision.error, std::move(resp)};
                }
            }

            if (success) {
                if constexpr (!Streaming) co_return result{{}, std::move(resp)};
            }

            const errc status_error = errc_from_http_status(status);
            const boost::system::error_code ec =
                status_error == errc{} ? make_error_code(errc::http_status) : make_error_code(status_error);
            diag.set_http_status(status);
            diag.set_client_message("HTTP " + std::to_string(status) + " from " + detail::printable_url(req.url));
            diag.set_server_message(resp.body);
            diag.set_request_id(detail::request_id_of(resp.headers));
            auto retry_after_field = resp.headers.find(boost::beast::http::field::retry_after);
            if (retry_after_field != resp.headers.end())
                diag.set_retry_after(parse_retry_after(retry_after_field->value, std::chrono::system_clock::now()));

            attempt_outcome outcome;
            outcome.ec = ec;
            outcome.status = status;
            outcome.retry_after = diag.retry_after();
            outcome.request_sent = true;
            outcome.response_started = true;
            bool retry = false;
            auto delay = state.next_delay(options.retries, attempts, req.method, outcome, retry);
            if (!retry) {
                if constexpr (Streaming)
                    co_return result{ec, {}};
                else
                    co_return result{ec, std::move(resp)};
            }
            if (auto wait_ec = co_await wait(delay)) co_return result{wait_ec, {}};
        }
    }

    // Waits between attempts; cancellation ends the wait with operation_aborted.
    static takeoff::detail::task<boost::system::error_code> wait(std::chrono::milliseconds delay) {
        boost::asio::steady_timer timer(co_await takeoff::detail::this_task::executor, delay);
        auto [ec] = co_await timer.async_wait(detail::nothrow_awaitable);
        co_return ec;
    }

    std::shared_ptr<detail::client_state> state_;
};

} // namespace takeoff::http

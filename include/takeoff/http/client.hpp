#pragma once
// http::client: HTTP/1.1 requests over pooled plain or TLS connections, with per-step timeouts, a
// whole-request deadline, redirects and retries by policy, and Asio cancellation.
//
// Thread safety: a client may be used by many coroutines and threads at once; its pool is
// thread-safe, and each operation runs on a strand of its own unless the client's executor is
// already serialised (a strand, or client_options::single_threaded_executor: see
// detail/async_op.hpp). A body_stream is not thread-safe.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/body_stream.hpp>
#include <takeoff/http/detail/connection.hpp>
#include <takeoff/http/detail/pool.hpp>
#include <takeoff/http/detail/request_head.hpp>
#include <takeoff/http/detail/response_parser.hpp>
#include <takeoff/http/fields.hpp>
#include <takeoff/http/hooks.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/http/origin.hpp>
#include <takeoff/http/proxy.hpp>
#include <takeoff/http/redirect_policy.hpp>
#include <takeoff/http/retry_after.hpp>
#include <takeoff/http/retry_policy.hpp>
#include <takeoff/http/tls.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
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

class client;

namespace detail {
void inject_faults(client& c, std::shared_ptr<fault_injector> injector);

// What every operation of a client shares; kept alive by the operations in flight.
struct client_state {
    client_state(asio::any_io_executor ex, client_options o)
        : executor(std::move(ex)),
          options(std::move(o)),
          serialised(options.single_threaded_executor || takeoff::detail::is_serialised(executor)),
          pool(std::make_shared<connection_pool>(executor, options.pool, options.tls, effective_proxies(options))) {}

    static proxy_config effective_proxies(const client_options& o) {
        if (o.proxy) return *o.proxy;
        if (!o.proxy_from_environment) return {};
        return proxy_config_from_environment();
    }

    // The retry jitter source is shared by all operations, which may run on different threads.
    std::optional<std::chrono::milliseconds> next_delay(const retry_policy& policy, unsigned attempts,
                                                        beast::http::verb method, const attempt_outcome& outcome) {
        std::lock_guard lock(random_mutex);
        return next_retry_delay(policy, attempts, method, outcome, random);
    }

    asio::any_io_executor executor;
    client_options options;
    bool serialised; // handlers on executor never run concurrently, decided once
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

// The handler a request decorator gets: completes on the handler's executor whichever thread the
// decorator calls it from, and keeps the operation's cancellation slot.
template <class Handler>
struct decorate_completion {
    Handler handler;

    using executor_type = asio::associated_executor_t<Handler>;
    using cancellation_slot_type = asio::associated_cancellation_slot_t<Handler>;
    executor_type get_executor() const noexcept { return asio::get_associated_executor(handler); }
    cancellation_slot_type get_cancellation_slot() const noexcept {
        return asio::get_associated_cancellation_slot(handler);
    }

    void operator()(boost::system::error_code ec) {
        const executor_type executor = get_executor();
        asio::dispatch(executor, asio::append(std::move(handler), ec));
    }
};

// Runs the decorator as an operation the task awaits.
inline auto async_decorate(const request_decorator& decorate, attempt_context& context) {
    return asio::async_initiate<const asio::deferred_t&, void(boost::system::error_code)>(
        [&decorate, &context](auto handler) {
            decorate(context, decorate_handler(decorate_completion<decltype(handler)>{std::move(handler)}));
        },
        asio::deferred);
}

} // namespace detail

/// Sends HTTP requests. See the file comment for thread safety.
///
/// Every async_* completes with void(error_code, T). With the default completion token
/// (takeoff::default_token: deferred, with_diagnostics) `co_await` gives T and a failure throws
/// takeoff::error carrying the diagnostics; tokens such as as_tuple(deferred) give the error_code
/// and T. Operations take request_options: overrides of the client's defaults ({} changes nothing).
class client {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Makes a client. Nothing is loaded or connected yet: the TLS context is made when the first
    /// HTTPS connection is opened (a CA file that does not load then fails that request, and every
    /// later HTTPS one, with the file's name in the diagnostics).
    explicit client(executor_type executor, client_options options = {})
        : state_(std::make_shared<detail::client_state>(std::move(executor), std::move(options))) {}

    executor_type get_executor() const noexcept { return state_->executor; }
    const client_options& options() const noexcept { return state_->options; }

    /// Connections opened so far, all origins together (to observe connection reuse).
    std::size_t connections_opened() const noexcept { return state_->pool->connections_opened(); }
    /// Idle connections kept in the pool now.
    std::size_t idle_connections() const { return state_->pool->idle_connections(); }

    /// Sends req and reads the whole response: completes with void(error_code, response).
    /// A non-2xx final status completes with the errc for it (errc_from_http_status) *and* the
    /// response; diag then has the status, an excerpt of the body, the request id and Retry-After.
    /// Interim (1xx) responses are read and dropped. Cancellation: see "Cancellation" in
    /// docs/http.md (terminal and partial end the request and close its connection; total only
    /// until the request has started to be written).
    template <class CompletionToken = default_token>
    auto async_request(request req, const request_options& options, diagnostics& diag, CompletionToken&& token = {}) {
        return start<false>(std::forward<CompletionToken>(token), std::move(req), options.apply_to(defaults()), &diag);
    }

    /// As above, with the client's defaults.
    template <class CompletionToken = default_token>
    auto async_request(request req, diagnostics& diag, CompletionToken&& token = {}) {
        return start<false>(std::forward<CompletionToken>(token), std::move(req), defaults(), &diag);
    }

    /// As above, with the diagnostics only in the exception of the default token.
    template <class CompletionToken = default_token>
    auto async_request(request req, const request_options& options, CompletionToken&& token = {}) {
        return start<false>(std::forward<CompletionToken>(token), std::move(req), options.apply_to(defaults()), nullptr);
    }

    /// As above, with the client's defaults.
    template <class CompletionToken = default_token>
    auto async_request(request req, CompletionToken&& token = {}) {
        return start<false>(std::forward<CompletionToken>(token), std::move(req), defaults(), nullptr);
    }

    /// Sends req and completes, once a 2xx header has arrived, with void(error_code, body_stream)
    /// for reading the body as it comes. Redirects and retries apply until then; a non-2xx status
    /// completes with its errc (the error body, bounded, is in diag). The deadline, if any, also
    /// bounds the reading of the body.
    template <class CompletionToken = default_token>
    auto async_open(request req, const request_options& options, diagnostics& diag, CompletionToken&& token = {}) {
        return start<true>(std::forward<CompletionToken>(token), std::move(req), options.apply_to(defaults()), &diag);
    }

    /// As above, with the client's defaults.
    template <class CompletionToken = default_token>
    auto async_open(request req, diagnostics& diag, CompletionToken&& token = {}) {
        return start<true>(std::forward<CompletionToken>(token), std::move(req), defaults(), &diag);
    }

    /// As above, with the diagnostics only in the exception of the default token.
    template <class CompletionToken = default_token>
    auto async_open(request req, const request_options& options, CompletionToken&& token = {}) {
        return start<true>(std::forward<CompletionToken>(token), std::move(req), options.apply_to(defaults()), nullptr);
    }

    /// As above, with the client's defaults.
    template <class CompletionToken = default_token>
    auto async_open(request req, CompletionToken&& token = {}) {
        return start<true>(std::forward<CompletionToken>(token), std::move(req), defaults(), nullptr);
    }

    /// For the library's own composed operations (the layers above, which run as detail::tasks):
    /// the request as a step of the calling task, on its executor and under its cancellation, not
    /// an operation of its own. req and settings are used by reference until the task ends (so the
    /// same request can be sent again without a copy). settings.deadline is not applied here, except
    /// to the Retry-After rule and to a body_stream's reads: the enclosing operation's async_run
    /// bounds the whole call.
    takeoff::detail::task<takeoff::detail::op_result<response>> request_task(const request& req,
                                                                           const request_settings& settings,
                                                                           diagnostics& diag) const {
        return run<false>(state_, req, settings, diag);
    }

    /// As request_task, completing with a body_stream once a 2xx header has arrived.
    takeoff::detail::task<takeoff::detail::op_result<body_stream>> open_task(const request& req,
                                                                           const request_settings& settings,
                                                                           diagnostics& diag) const {
        return run<true>(state_, req, settings, diag);
    }

    /// The client's defaults (client_options::defaults), which request_options override.
    const request_settings& defaults() const noexcept { return state_->options.defaults; }

private:
    // Bodies up to this size are copied behind the head and sent with it in one write.
    static constexpr std::size_t small_body = 16 * 1024;
    // The most of an error or redirect body kept when the caller streams.
    static constexpr std::size_t streamed_error_body_limit = 64 * 1024;

    // Where an attempt goes and what it carries besides the request.
    struct attempt_target {
        const boost::urls::url& url;
        const origin& at;
        const http::fields& extra; // the decorator's fields for this attempt
        bool strip_credentials;    // `at` is not the origin of the request's URL
        bool fresh;                // on a new connection, not a pooled one
    };

    // One attempt, in one coroutine (its steps are awaited without frames of their own): a
    // connection, the request written, the response header read into parser (interim 1xx
    // responses dropped) and, unless the caller streams a 2xx body, the body too, after which the
    // connection goes back to the pool.
    static takeoff::detail::task<detail::attempt_result> exchange(detail::client_state& state, const request& req,
                                                                  const attempt_target& to,
                                                                  const request_settings& settings, bool streaming,
                                                                  detail::response_parser& parser, diagnostics& diag) {
        namespace beast = boost::beast;
        detail::attempt_result r;
        const auto& executor = co_await takeoff::detail::this_task::executor;

        bool reused = true;
        if (!to.fresh) r.conn = state.pool->take_idle(to.at);
        if (!r.conn) {
            auto [acquire_ec, lease] = co_await state.pool->acquire(to.at, settings.timeouts, to.fresh, diag);
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
        std::string_view path = to.url.encoded_target();
        std::string rooted;
        if (path.empty() || path.front() != '/') {
            rooted = "/" + std::string(path);
            path = rooted;
        }
        if (auto ec = detail::append_request_head(head, req.method, path, conn.host_header(), req.headers, to.extra,
                                                  to.strip_credentials, state.options.user_agent, req.body.size(),
                                                  diag)) {
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
        co_await takeoff::detail::this_task::side_effects;
        conn.watch(settings.timeouts.write, executor);
        auto [write_ec, written] = co_await conn.async_send(buffers, detail::as_tuple_deferred);
        if (write_ec) {
            r.ec = conn.step_result(write_ec);
            r.stale_reuse = reused && r.ec != boost::asio::error::operation_aborted;
            diag.set_client_message("cannot send the request to " + detail::printable_url(to.url) + ": " +
                                    r.ec.message());
            state.pool->release(std::move(r.conn), false);
            co_return r;
        }

        parser.header_limit(settings.header_limit);
        parser.body_limit(boost::none); // set below, once the status tells which limit applies
        if (req.method == beast::http::verb::head) parser.skip(true);
        conn.watch(settings.timeouts.header_read, executor);
        std::size_t interim_budget = settings.header_limit;
        boost::system::error_code ec;
        while (!parser.is_header_done()) {
            if (!parser.got_some()) ec = conn.skip_interim(interim_budget);
            if (!ec) ec = conn.feed(parser);
            if (ec == beast::http::error::need_more) {
                auto [read_ec, n] = co_await conn.async_fill(detail::as_tuple_deferred);
                ec = conn.filled(parser, read_ec, n);
                if (ec == beast::http::error::need_more) ec = {};
            }
            if (ec) break;
        }
        if (ec) {
            r.ec = ec;
            r.outcome.response_started = parser.got_some() || interim_budget != settings.header_limit;
            r.stale_reuse = reused && !r.outcome.response_started && ec != boost::asio::error::operation_aborted &&
                            ec != boost::beast::error::timeout;
            if (ec == beast::http::error::header_limit) r.ec = make_error_code(errc::invalid_response);
            diag.set_client_message(
                (r.outcome.response_started ? "bad or incomplete response header from " : "no response from ") +
                detail::printable_url(to.url) + ": " + r.ec.message());
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
            streaming ? std::min(settings.body_limit, streamed_error_body_limit) : settings.body_limit;
        if (!parser.is_done() && parser.content_length() && *parser.content_length() > limit)
            ec = beast::http::error::body_limit;
        parser.body_limit(limit);
        while (!ec && !parser.is_done()) {
            ec = conn.feed(parser);
            if (ec == beast::http::error::need_more) {
                conn.watch(settings.timeouts.body_read, executor); // the longest silence
                auto [read_ec, n] = co_await conn.async_fill(detail::as_tuple_deferred);
                ec = conn.filled(parser, read_ec, n);
                if (ec == beast::http::error::need_more) ec = {};
            }
        }
        state.pool->release(std::move(r.conn), !ec && parser.keep_alive());
        r.body_ec = ec == beast::http::error::body_limit ? make_error_code(errc::body_too_large) : ec;
        co_return r;
    }

    template <bool Streaming>
    using result_type = std::conditional_t<Streaming, body_stream, response>;

    // The request, its settings and the diagnostics pointer live in the operation (async_run's
    // payload) for as long as it runs; run() works on them by reference.
    // The request, its settings and the diagnostics (the caller's, or one of the operation's own)
    // live in the operation (async_run's payload) for as long as it runs; run() works on them by
    // reference.
    template <bool Streaming, class CompletionToken>
    auto start(CompletionToken&& token, request&& req, request_settings settings, diagnostics* diag) {
        const auto deadline = settings.deadline;
        return takeoff::detail::async_run<result_type<Streaming>>(
            state_->executor, state_->serialised, deadline, diag,
            [](diagnostics* d, std::shared_ptr<detail::client_state>& state, request& r, request_settings& s,
               diagnostics& own) { return run<Streaming>(state, r, s, d ? *d : own); },
            std::forward<CompletionToken>(token), state_, std::move(req), std::move(settings), diagnostics{});
    }

    template <bool Streaming>
    static takeoff::detail::task<takeoff::detail::op_result<result_type<Streaming>>> run(
        std::shared_ptr<detail::client_state> state_ptr, const request& req, const request_settings& settings,
        diagnostics& diag) {
        using result = takeoff::detail::op_result<result_type<Streaming>>;
        detail::client_state& state = *state_ptr;
        diag.clear();
        const auto started = std::chrono::steady_clock::now();
        const auto deadline = settings.deadline.count() > 0 ? started + settings.deadline
                                                            : std::chrono::steady_clock::time_point::max();

        const auto home = origin_of(req.url); // credentials go to this origin only
        if (!home) {
            diag.set_client_message("the URL is not an absolute http or https URL");
            co_return result{home.error(), {}};
        }
        // Where this attempt goes: the request's URL, or where redirects led.
        const boost::urls::url* url = &req.url;
        const origin* target = &*home;
        boost::urls::url redirected;
        std::optional<origin> redirected_origin;
        unsigned attempts = 0;
        unsigned redirects = 0;
        bool stale_retried = false;
        bool fresh = false;
        http::fields extra;
        for (;;) {
            ++attempts;
            diag.clear();

            extra.clear();
            if (settings.decorate) {
                attempt_context context{*url, attempts, redirects, extra, diag};
                if (auto ec = co_await detail::async_decorate(settings.decorate, context)) co_return result{ec, {}};
            }

            // Where this attempt's response goes: a body_stream's state when streaming (it takes
            // the connection over on a 2xx), a response in this frame otherwise.
            std::shared_ptr<detail::body_stream_state> stream;
            std::optional<detail::buffered_response> buffered;
            if constexpr (Streaming) {
                stream = std::make_shared<detail::body_stream_state>(state.pool, state.serialised, settings, deadline);
            } else {
                buffered.emplace();
            }
            response& resp = Streaming ? stream->head : buffered->resp;
            detail::response_parser& parser = Streaming ? stream->parser : buffered->parser;

            const attempt_target to{*url, *target, extra, target != &*home && *target != *home,
                                    std::exchange(fresh, false)};
            auto attempt = co_await exchange(state, req, to, settings, Streaming, parser, diag);

            if (attempt.ec) {
                if (attempt.ec == boost::asio::error::operation_aborted) co_return result{attempt.ec, {}};
                // A pooled connection the server had closed: try once more at once, on a new one.
                if (attempt.stale_reuse && !stale_retried) {
                    stale_retried = true;
                    fresh = true;
                    --attempts;
                    continue;
                }
                attempt.outcome.ec = attempt.ec;
                auto delay = state.next_delay(settings.retries, attempts, req.method, attempt.outcome);
                if (!delay) co_return result{attempt.ec, {}};
                if (ends_after(deadline, *delay)) {
                    diag.set_client_message(diag.client_message() + "; not retried: the request deadline comes first");
                    co_return result{attempt.ec, {}};
                }
                if (auto ec = co_await wait(*delay)) co_return result{ec, {}};
                continue;
            }

            const unsigned status = resp.status;
            const bool success = status / 100 == 2;

            if (settings.classify) {
                if (auto ec = settings.classify(response_view{req.method, *url, status, resp.headers}, diag)) {
                    if (attempt.conn) state.pool->release(std::move(attempt.conn), false); // its body is unread
                    if constexpr (Streaming)
                        co_return result{ec, {}};
                    else
                        co_return result{ec, std::move(resp)};
                }
            }

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
                        ? "the response body from " + detail::printable_url(*url) + " exceeds the limit of " +
                              std::to_string(Streaming ? std::min(settings.body_limit, streamed_error_body_limit)
                                                       : settings.body_limit) +
                              " bytes"
                        : "cannot read the response body from " + detail::printable_url(*url) + ": " +
                              body_ec.message());
                co_return result{body_ec, {}};
            }

            if (status / 100 == 3) {
                const std::string_view where = resp.headers[boost::beast::http::field::location];
                redirect_decision decision = decide_redirect(settings.redirects, req.method, status, *url, where, redirects);
                if (decision.action == redirect_action::follow) {
                    auto next = origin_of(decision.target); // decide_redirect checked it is an http(s) origin
                    if (!next) {
                        diag.set_client_message("the Location header has no valid host");
                        co_return result{make_error_code(errc::invalid_response), {}};
                    }
                    ++redirects;
                    attempts = 0;
                    redirected = std::move(decision.target);
                    redirected_origin = std::move(*next);
                    url = &redirected;
                    target = &*redirected_origin;
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
            diag.set_client_message("HTTP " + std::to_string(status) + " from " + detail::printable_url(*url));
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
            auto delay = state.next_delay(settings.retries, attempts, req.method, outcome);
            if (delay && ends_after(deadline, *delay)) {
                diag.set_client_message(diag.client_message() + "; not retried: the request deadline comes first");
                delay.reset();
            }
            if (!delay) {
                if constexpr (Streaming)
                    co_return result{ec, {}};
                else
                    co_return result{ec, std::move(resp)};
            }
            if (auto wait_ec = co_await wait(*delay)) co_return result{wait_ec, {}};
        }
    }

    // Whether waiting `delay` from now would end past the deadline (time_point::max(): none).
    static bool ends_after(std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds delay) {
        return deadline != std::chrono::steady_clock::time_point::max() &&
               std::chrono::steady_clock::now() + delay >= deadline;
    }

    // Waits between attempts; cancellation ends the wait with operation_aborted.
    static takeoff::detail::task<boost::system::error_code> wait(std::chrono::milliseconds delay) {
        boost::asio::steady_timer timer(co_await takeoff::detail::this_task::executor, delay);
        auto [ec] = co_await timer.async_wait(detail::as_tuple_deferred);
        co_return ec;
    }

    friend void detail::inject_faults(client&, std::shared_ptr<detail::fault_injector>);

    std::shared_ptr<detail::client_state> state_;
};

namespace detail {
/// Tests only (fault_injection.hpp): the connections c opens from now on count their I/O
/// operations with injector, which fails the one it was made for.
inline void inject_faults(client& c, std::shared_ptr<fault_injector> injector) {
    c.state_->pool->inject_faults(std::move(injector));
}
} // namespace detail

} // namespace takeoff::http

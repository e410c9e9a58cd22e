#pragma once
// takeoff::client: every Takeoff route, typed, over one http::client (its connection pools shared
// by any number of coroutines and threads), with an optional SPCS ingress credential.
//
//     takeoff::client takeoff(io.get_executor());                        // a local Takeoff
//     std::string text = co_await takeoff.async_generate("Hello");
//     auto stream = co_await takeoff.async_generate_stream(api::generate_stream("Hi").max_new_tokens(64));
//     while (auto token = co_await stream.async_next()) std::cout << *token;
//
// Requests are the types of include/takeoff/api/; each names its API, and the client sends it to
// that API's base URL (client_options). With a token_provider every attempt carries its credential
// (snowflake/send.hpp: a rejected credential is invalidated and the request sent once more); with
// none, nothing is added (a Takeoff on localhost). A non-2xx reply completes with the errc of its
// status and an excerpt of the body as the (untrusted) server message in the diagnostics; 429 and
// 503 (no live reader yet) are retried by the transport's retry policy first.

#include <takeoff/api/base_url.hpp>
#include <takeoff/api/api.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/event_stream.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff/snowflake/send.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

namespace takeoff {

/// How a client is made: one base URL per API and the transport's options.
struct client_options {
    /// Where inference requests go (default http://localhost:3000).
    api::inference_url inference_url;
    /// Where management requests go (default http://localhost:3001).
    api::management_url management_url;
    /// Where OpenAI-compatible requests go (default http://localhost:3003).
    api::openai_url openai_url;
    /// The transport's options. The defaults differ from http::client's in one way: a response
    /// header may take up to 10 minutes (a long buffered generation sends nothing until it is done).
    http::client_options http = default_http_options();

    /// http::client_options{} with timeouts.header_read = 10 min.
    static http::client_options default_http_options() {
        http::client_options o;
        o.defaults.timeouts.header_read = std::chrono::minutes(10);
        return o;
    }
};

namespace detail {

/// A request whose 503 is an answer rather than an error: healthz ("not ready" is false), which
/// is therefore not retried either.
template <class R>
concept unavailable_is_answer = std::same_as<R, api::healthz_request>;

/// A generate request of the given mode (Streamed: /generate_stream).
template <class Input, bool Streamed>
concept generate_request_of = requires { std::remove_cvref_t<Input>::is_streamed; } &&
                              std::remove_cvref_t<Input>::is_streamed == Streamed;

/// What api::generate takes: a prompt (anything a std::string is made from) or a batch.
template <class Input>
concept generate_input = std::constructible_from<std::string, Input> ||
                         std::same_as<std::remove_cvref_t<Input>, std::vector<std::string>>;

/// The request a generate convenience sends: a request of the right mode as it is, or the one
/// api::generate / api::generate_stream makes from a prompt or a batch.
template <bool Streamed, class Input>
auto as_generate(Input&& input) {
    if constexpr (generate_request_of<Input, Streamed>) {
        return std::remove_cvref_t<Input>(std::forward<Input>(input));
    } else if constexpr (std::same_as<std::remove_cvref_t<Input>, std::vector<std::string>>) {
        if constexpr (Streamed) return api::generate_stream(std::forward<Input>(input));
        else return api::generate(std::forward<Input>(input));
    } else {
        if constexpr (Streamed) return api::generate_stream(std::string(std::forward<Input>(input)));
        else return api::generate(std::string(std::forward<Input>(input)));
    }
}

template <class Input, bool Streamed>
concept generate_argument = generate_request_of<Input, Streamed> || generate_input<Input>;

struct takeoff_client_state {
    takeoff_client_state(boost::asio::any_io_executor ex, client_options o, snowflake::token_provider* p)
        : options(std::move(o)), http(std::move(ex), options.http), provider(p),
          serialised(takeoff::detail::is_serialised(http.get_executor()) || options.http.single_threaded_executor) {}

    client_options options;
    http::client http;
    snowflake::token_provider* provider;
    bool serialised;
};

} // namespace detail

/// Sends Takeoff requests (see the file comment). Thread-safe; copies share one connection pool.
/// Every async_* completes with void(error_code, T); with the default token `co_await` gives T
/// and throws takeoff::error (with the diagnostics) on failure; as_tuple(deferred) gives both.
class client {
public:
    using executor_type = boost::asio::any_io_executor;

    /// A client of the Takeoff at options' base URLs. `provider` (may be null: no credential)
    /// makes the SPCS ingress credential of every request; it must outlive the client's operations.
    explicit client(executor_type executor, client_options options = {}, snowflake::token_provider* provider = nullptr)
        : state_(std::make_shared<detail::takeoff_client_state>(std::move(executor), std::move(options), provider)) {}

    executor_type get_executor() const noexcept { return state_->http.get_executor(); }
    const client_options& options() const noexcept { return state_->options; }
    /// The transport (connection counts, defaults).
    const http::client& transport() const noexcept { return state_->http; }
    /// The credential provider; null when requests carry none.
    snowflake::token_provider* provider() const noexcept { return state_->provider; }

    /// The base URL of API `Kind`.
    template <api::api_kind Kind>
    const api::base_url<Kind>& base_url() const noexcept {
        if constexpr (Kind == api::api_kind::inference) return state_->options.inference_url;
        else if constexpr (Kind == api::api_kind::management) return state_->options.management_url;
        else return state_->options.openai_url;
    }

    // --- any request -----------------------------------------------------------------------

    /// Sends a buffered request: completes with void(error_code, R::response_type). `options`
    /// override the transport's defaults for this call. (A streaming request does not compile
    /// here: open it with async_open.)
    template <api::buffered_request R, class CompletionToken = default_token>
    auto async_send(R req, const http::request_options& options, diagnostics& diag, CompletionToken&& token = {}) {
        return start_send(std::move(req), options.apply_to(state_->http.defaults()), &diag,
                          std::forward<CompletionToken>(token));
    }
    /// As above, with the transport's defaults.
    template <api::buffered_request R, class CompletionToken = default_token>
    auto async_send(R req, diagnostics& diag, CompletionToken&& token = {}) {
        return start_send(std::move(req), state_->http.defaults(), &diag, std::forward<CompletionToken>(token));
    }
    /// As above; the diagnostics go only into the default token's exception.
    template <api::buffered_request R, class CompletionToken = default_token>
    auto async_send(R req, CompletionToken&& token = {}) {
        return start_send(std::move(req), state_->http.defaults(), nullptr, std::forward<CompletionToken>(token));
    }

    /// Sends a streaming request: completes, once a 2xx header has arrived, with
    /// void(error_code, event_stream<R>) to pull the events from.
    template <api::streaming_request R, class CompletionToken = default_token>
    auto async_open(R req, const http::request_options& options, diagnostics& diag, CompletionToken&& token = {}) {
        return start_open(std::move(req), options.apply_to(state_->http.defaults()), &diag,
                          std::forward<CompletionToken>(token));
    }
    /// As above, with the transport's defaults.
    template <api::streaming_request R, class CompletionToken = default_token>
    auto async_open(R req, diagnostics& diag, CompletionToken&& token = {}) {
        return start_open(std::move(req), state_->http.defaults(), &diag, std::forward<CompletionToken>(token));
    }
    /// As above; the diagnostics go only into the default token's exception.
    template <api::streaming_request R, class CompletionToken = default_token>
    auto async_open(R req, CompletionToken&& token = {}) {
        return start_open(std::move(req), state_->http.defaults(), nullptr, std::forward<CompletionToken>(token));
    }

    // --- named conveniences (each takes the request, or what api:: makes it from) ---------------

    /// api::generate(input) sent: a prompt gives std::string, a batch std::vector<std::string>.
    template <class Input, class CompletionToken = default_token>
    auto async_generate(Input&& input, CompletionToken&& token = {})
        requires detail::generate_argument<Input, false>
    {
        return async_send(detail::as_generate<false>(std::forward<Input>(input)), std::forward<CompletionToken>(token));
    }
    /// As above; a failure's explanation goes into diag.
    template <class Input, class CompletionToken = default_token>
    auto async_generate(Input&& input, diagnostics& diag, CompletionToken&& token = {})
        requires detail::generate_argument<Input, false>
    {
        return async_send(detail::as_generate<false>(std::forward<Input>(input)), diag, std::forward<CompletionToken>(token));
    }

    /// api::generate_stream(input) opened: completes with the event_stream.
    template <class Input, class CompletionToken = default_token>
    auto async_generate_stream(Input&& input, CompletionToken&& token = {})
        requires detail::generate_argument<Input, true>
    {
        return async_open(detail::as_generate<true>(std::forward<Input>(input)), std::forward<CompletionToken>(token));
    }
    /// As above; a failure's explanation goes into diag.
    template <class Input, class CompletionToken = default_token>
    auto async_generate_stream(Input&& input, diagnostics& diag, CompletionToken&& token = {})
        requires detail::generate_argument<Input, true>
    {
        return async_open(detail::as_generate<true>(std::forward<Input>(input)), diag, std::forward<CompletionToken>(token));
    }

    /// api::embed(input): one text gives std::vector<float>, a batch one vector per text.
    template <class Input, class CompletionToken = default_token>
    auto async_embed(Input&& input, CompletionToken&& token = {})
        requires requires { api::embed(std::forward<Input>(input)); }
    {
        return async_send(api::embed(std::forward<Input>(input)), std::forward<CompletionToken>(token));
    }

    /// api::classify(input): scores of one text, of a batch, or of (query, document) pairs.
    template <class Input, class CompletionToken = default_token>
    auto async_classify(Input&& input, CompletionToken&& token = {})
        requires requires { api::classify(std::forward<Input>(input)); }
    {
        return async_send(api::classify(std::forward<Input>(input)), std::forward<CompletionToken>(token));
    }

    /// api::rerank(query, documents): one score vector per document, in order.
    template <class CompletionToken = default_token>
    auto async_rerank(const std::string& query, const std::vector<std::string>& documents, CompletionToken&& token = {}) {
        return async_send(api::rerank(query, documents), std::forward<CompletionToken>(token));
    }

    /// api::tokenize(reader, text): the reader's tokens of `text`.
    template <class Text, class CompletionToken = default_token>
    auto async_tokenize(api::reader_id reader, Text&& text, CompletionToken&& token = {})
        requires requires { api::tokenize(std::move(reader), std::forward<Text>(text)); }
    {
        return async_send(api::tokenize(std::move(reader), std::forward<Text>(text)),
                          std::forward<CompletionToken>(token));
    }

    /// api::detokenize(reader, tokens): the text of token strings or ids.
    template <class Tokens, class CompletionToken = default_token>
    auto async_detokenize(api::reader_id reader, Tokens&& tokens, CompletionToken&& token = {})
        requires requires { api::detokenize(std::move(reader), std::forward<Tokens>(tokens)); }
    {
        return async_send(api::detokenize(std::move(reader), std::forward<Tokens>(tokens)),
                          std::forward<CompletionToken>(token));
    }

    /// api::chat_template(reader, conversation): the prompt the model's chat template makes of it.
    template <class CompletionToken = default_token>
    auto async_chat_template(api::reader_id reader, std::vector<api::chat_message> conversation,
                             CompletionToken&& token = {}) {
        return async_send(api::chat_template(std::move(reader), std::move(conversation)),
                          std::forward<CompletionToken>(token));
    }

    /// GET /status of the inference API: the live readers and their consumer groups.
    template <class CompletionToken = default_token>
    auto async_status(CompletionToken&& token = {}) {
        return async_send(api::status(), std::forward<CompletionToken>(token));
    }

    /// GET /healthz: true when ready, false on 503 (not retried).
    template <class CompletionToken = default_token>
    auto async_healthz(CompletionToken&& token = {}) {
        return async_send(api::healthz(), std::forward<CompletionToken>(token));
    }

    /// GET /reader_groups of the management API.
    template <class CompletionToken = default_token>
    auto async_reader_groups(CompletionToken&& token = {}) {
        return async_send(api::reader_groups(), std::forward<CompletionToken>(token));
    }

    /// POST /reader of the management API: the new reader's id (the config is checked first).
    template <class CompletionToken = default_token>
    auto async_create_reader(api::reader_config config, CompletionToken&& token = {}) {
        return async_send(api::create_reader(std::move(config)), std::forward<CompletionToken>(token));
    }

    /// DELETE /reader/{id} of the management API.
    template <class CompletionToken = default_token>
    auto async_delete_reader(api::reader_id reader, CompletionToken&& token = {}) {
        return async_send(api::delete_reader(std::move(reader)), std::forward<CompletionToken>(token));
    }

    /// GET /config/{id} of the management API: the reader's configuration as JSON.
    template <class CompletionToken = default_token>
    auto async_reader_config(api::reader_id reader, CompletionToken&& token = {}) {
        return async_send(api::reader_config_of(std::move(reader)), std::forward<CompletionToken>(token));
    }

    /// GET /status of the management API: the server's configuration and readers.
    template <class CompletionToken = default_token>
    auto async_management_status(CompletionToken&& token = {}) {
        return async_send(api::management_status(), std::forward<CompletionToken>(token));
    }

    /// OpenAI-compatible chat completion (buffered): `model` is the consumer group.
    template <class CompletionToken = default_token>
    auto async_chat(api::consumer_group model, std::vector<api::chat_message> messages, CompletionToken&& token = {}) {
        return async_send(api::openai::chat(std::move(model), std::move(messages)), std::forward<CompletionToken>(token));
    }

    /// OpenAI-compatible chat completion, streamed: an event_stream of chat_chunk events.
    template <class CompletionToken = default_token>
    auto async_chat_stream(api::consumer_group model, std::vector<api::chat_message> messages,
                           CompletionToken&& token = {}) {
        return async_open(api::openai::chat_stream(std::move(model), std::move(messages)),
                          std::forward<CompletionToken>(token));
    }

private:
    template <class R>
    using response_of = typename R::response_type;

    template <class R, class CompletionToken>
    auto start_send(R&& req, http::request_settings settings, diagnostics* diag, CompletionToken&& token) {
        using Req = std::remove_cvref_t<R>;
        if constexpr (detail::unavailable_is_answer<Req>) settings.retries = http::retry_policy::none();
        auto hreq = api::to_http_request(base_url<Req::api>(), req);
        const auto deadline = settings.deadline;
        return takeoff::detail::async_run<response_of<Req>>(
            state_->http.get_executor(), state_->serialised, deadline, diag,
            [](diagnostics* d, std::shared_ptr<detail::takeoff_client_state>& st, Req& r, http::request& h,
               http::request_settings& s, diagnostics& own) { return send<Req>(st, r, h, s, d ? *d : own); },
            std::forward<CompletionToken>(token), state_, std::forward<R>(req), std::move(hreq), std::move(settings),
            diagnostics{});
    }

    template <class R, class CompletionToken>
    auto start_open(R&& req, http::request_settings settings, diagnostics* diag, CompletionToken&& token) {
        using Req = std::remove_cvref_t<R>;
        auto hreq = api::to_http_request(base_url<Req::api>(), req);
        const auto deadline = settings.deadline;
        return takeoff::detail::async_run<event_stream<Req>>(
            state_->http.get_executor(), state_->serialised, deadline, diag,
            [](diagnostics* d, std::shared_ptr<detail::takeoff_client_state>& st, Req& r, http::request& h,
               http::request_settings& s, diagnostics& own) { return open<Req>(st, r, h, s, d ? *d : own); },
            std::forward<CompletionToken>(token), state_, std::forward<R>(req), std::move(hreq), std::move(settings),
            diagnostics{});
    }

    static takeoff::detail::task<takeoff::detail::op_result<http::response>> exchange(
        detail::takeoff_client_state& st, const http::request& h, const http::request_settings& s, diagnostics& diag) {
        if (st.provider) return snowflake::send_task(st.http, *st.provider, h, s, diag);
        return st.http.request_task(h, s, diag);
    }

    template <class R>
    static takeoff::detail::task<takeoff::detail::op_result<response_of<R>>> send(
        std::shared_ptr<detail::takeoff_client_state> st, const R& req, const http::request& h,
        const http::request_settings& s, diagnostics& diag) {
        using result = takeoff::detail::op_result<response_of<R>>;
        if (auto invalid = api::validate(req, diag)) co_return result{invalid, {}};
        auto reply = co_await exchange(*st, h, s, diag);
        if constexpr (detail::unavailable_is_answer<R>) {
            if (reply.ec == errc::service_unavailable) co_return result{{}, response_of<R>{}};
        }
        if (reply.ec) co_return result{reply.ec, {}};
        auto parsed = req.parse_response(reply.value, diag);
        if (!parsed) co_return result{parsed.error(), {}};
        co_return result{{}, std::move(*parsed)};
    }

    template <class R>
    static takeoff::detail::task<takeoff::detail::op_result<event_stream<R>>> open(
        std::shared_ptr<detail::takeoff_client_state> st, R& req, const http::request& h,
        const http::request_settings& s, diagnostics& diag) {
        using result = takeoff::detail::op_result<event_stream<R>>;
        if (auto invalid = api::validate(req, diag)) co_return result{invalid, {}};
        takeoff::detail::op_result<http::body_stream> body;
        if (st->provider)
            body = co_await snowflake::open_task(st->http, *st->provider, h, s, diag);
        else
            body = co_await st->http.open_task(h, s, diag);
        if (body.ec) co_return result{body.ec, {}};
        co_return result{{}, event_stream<R>(std::move(body.value), std::move(req), st->http.get_executor(), st->serialised)};
    }

    std::shared_ptr<detail::takeoff_client_state> state_;
};

} // namespace takeoff

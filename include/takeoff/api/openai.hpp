#pragma once
// The OpenAI-compatible API (port 3003, reference §2.10): chat completions, buffered and streamed,
// and embeddings. The OpenAI "model" is a Takeoff consumer group.
//
//     namespace oai = takeoff::api::openai;
//     auto chat = oai::chat(api::consumer_group::primary(), {{"user", "Hello"}}).max_tokens(64);
//     auto stream = oai::chat_stream(api::consumer_group::primary(), {{"user", "Hello"}});
//     auto vec = oai::embeddings(api::consumer_group("embed"), "The cat sat");
//
// A streamed chat yields chat_chunk events and ends at `data: [DONE]`.

#include <takeoff/api/chat_message.hpp>
#include <takeoff/api/detail/json_reply.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/api/sampling.hpp>
#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/config.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace takeoff::api::openai {

namespace detail {
struct temperature_rules {
    using value_type = double;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(double v, literal_check& c) {
        if (!api::detail::finite(v) || v < 0.0 || v > 2.0) return c.fail("OpenAI temperature must lie in [0, 2]");
        return true;
    }
};
} // namespace detail

/// The OpenAI sampling temperature: [0, 2] (0 is greedy), unlike Takeoff's own (0, 100].
using temperature = checked_value<detail::temperature_rules>;

/// Token counts of a completion.
struct usage {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t total_tokens = 0;
    friend bool operator==(const usage&, const usage&) = default;
};

/// One answer of a chat completion.
struct choice {
    std::size_t index = 0;
    chat_message message;
    /// "stop", "length", ...; nullopt when the server sent none.
    std::optional<std::string> finish_reason;
    friend bool operator==(const choice&, const choice&) = default;
};

/// The reply to a buffered chat completion.
struct chat_completion {
    std::string id;
    std::string model;
    std::vector<choice> choices;
    std::optional<openai::usage> usage;

    /// The first choice's content: the answer (empty when there is no choice).
    const std::string& text() const noexcept {
        static const std::string none;
        return choices.empty() ? none : choices.front().message.content;
    }
    friend bool operator==(const chat_completion&, const chat_completion&) = default;
};

/// One event of a streamed chat completion: a piece of the answer (content, "" in the chunk that
/// only names the role or the finish reason).
struct chat_chunk {
    std::size_t index = 0;
    std::string content;
    /// "assistant" in the first chunk, usually.
    std::optional<std::string> role;
    /// Set in the last chunk.
    std::optional<std::string> finish_reason;
    friend bool operator==(const chat_chunk&, const chat_chunk&) = default;
};

namespace detail {
inline constexpr std::string_view chat_route = "/v1/chat/completions";

inline boost::system::result<std::size_t> index_of(const boost::json::object& o, std::size_t fallback,
                                                   std::string_view what, diagnostics& diag) {
    const auto* v = o.if_contains("index");
    if (!v || v->is_null()) return fallback;
    auto n = api::detail::integer(*v);
    if (!n || *n < 0) return api::detail::bad_reply(diag, what, "has an 'index' that is not a non-negative integer");
    return static_cast<std::size_t>(*n);
}

/// A string member that may be absent or null ("" then).
inline boost::system::result<std::string> text_or_empty(const boost::json::object& o, std::string_view key,
                                                        std::string_view what, diagnostics& diag) {
    auto v = api::detail::optional_string_member(o, key, what, diag);
    if (!v) return v.error();
    return v->value_or(std::string());
}

/// An "error" member of a reply or a stream event (OpenAI's {"error": {"message": ...}}):
/// errc::invalid_response with the server's message kept as untrusted text.
inline boost::system::error_code reported_error(const boost::json::value& error, std::string_view what,
                                                diagnostics& diag) {
    const auto* obj = error.if_object();
    const auto* message = obj ? obj->if_contains("message") : nullptr;
    diag.set_server_message(message && message->is_string() ? std::string_view(message->get_string())
                                                            : std::string_view(boost::json::serialize(error)));
    return api::detail::bad_reply(diag, what, "reports an error");
}
} // namespace detail

/// POST /v1/chat/completions, buffered (Streamed = false) or streamed ("stream": true). Made by
/// openai::chat and openai::chat_stream.
template <bool Streamed>
class basic_chat {
public:
    static constexpr api_kind api = api_kind::openai;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// True for chat_stream.
    static constexpr bool is_streamed = Streamed;

    using response_type = chat_completion;
    using event_type = chat_chunk;

    basic_chat(consumer_group model, std::vector<chat_message> messages)
        : model_(std::move(model)), messages_(std::move(messages)) {}

    /// max_tokens: the most tokens the answer may have.
    basic_chat& max_tokens(token_count n) {
        max_tokens_ = n;
        return *this;
    }
    /// temperature, in OpenAI's range [0, 2].
    basic_chat& temperature(openai::temperature t) {
        temperature_ = t;
        return *this;
    }
    /// top_p.
    basic_chat& top_p(api::top_p p) {
        top_p_ = p;
        return *this;
    }

    /// The consumer group ("model") and the conversation.
    const consumer_group& model() const noexcept { return model_; }
    const std::vector<chat_message>& messages() const noexcept { return messages_; }

    std::string path() const { return std::string(detail::chat_route); }

    /// {"model", "messages", "max_tokens"?, "temperature"?, "top_p"?, "stream": true (streamed only)}
    std::string body() const {
        boost::json::object o;
        o["model"] = model_.str();
        boost::json::array messages;
        messages.reserve(messages_.size());
        for (const auto& m : messages_) messages.emplace_back(api::detail::to_json_object(m));
        o["messages"] = std::move(messages);
        if (max_tokens_) o["max_tokens"] = max_tokens_->value();
        if (temperature_) o["temperature"] = temperature_->value();
        if (top_p_) o["top_p"] = top_p_->value();
        if constexpr (Streamed) o["stream"] = true;
        return boost::json::serialize(o);
    }

    /// No message, or an empty model name, is errc::invalid_argument (the server answers 400/404).
    boost::system::error_code validate(diagnostics& diag) const {
        if (messages_.empty()) {
            diag.set_client_message("the chat completion request has no message");
            return make_error_code(errc::invalid_argument);
        }
        if (model_.str().empty()) {
            diag.set_client_message("the chat completion request has an empty model (consumer group)");
            return make_error_code(errc::invalid_argument);
        }
        return {};
    }

    /// {"id", "model", "choices": [{"index", "message": {"role", "content"}, "finish_reason"}, ...],
    /// "usage"?}; at least one choice; a null content reads as "".
    boost::system::result<chat_completion> parse_response(const http::response& resp, diagnostics& diag) const
        requires(!Streamed)
    {
        static constexpr std::string_view what = detail::chat_route;
        auto reply = api::detail::parse_object_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        if (const auto* error = reply->if_contains("error"); error && !error->is_null())
            return detail::reported_error(*error, what, diag);
        chat_completion out;
        auto id = detail::text_or_empty(*reply, "id", what, diag);
        if (!id) return id.error();
        out.id = std::move(*id);
        auto model = detail::text_or_empty(*reply, "model", what, diag);
        if (!model) return model.error();
        out.model = std::move(*model);
        const auto* choices_json = reply->if_contains("choices");
        if (!choices_json) return api::detail::bad_reply(diag, what, "has no 'choices'");
        const auto* choices = choices_json->if_array();
        if (!choices) return api::detail::bad_reply(diag, what, "has a 'choices' that is not an array");
        if (choices->empty()) return api::detail::bad_reply(diag, what, "has no choice");
        for (std::size_t i = 0; i < choices->size(); ++i) {
            const auto* c = (*choices)[i].if_object();
            if (!c) return api::detail::bad_reply(diag, what, "has a choice that is not an object");
            choice ch;
            auto index = detail::index_of(*c, i, what, diag);
            if (!index) return index.error();
            ch.index = *index;
            const auto* message_json = c->if_contains("message");
            if (!message_json) return api::detail::bad_reply(diag, what, "has a choice with no 'message'");
            const auto* message = message_json->if_object();
            if (!message) return api::detail::bad_reply(diag, what, "has a choice whose 'message' is not an object");
            auto role = detail::text_or_empty(*message, "role", what, diag);
            if (!role) return role.error();
            ch.message.role = role->empty() ? std::string("assistant") : std::move(*role);
            auto content = detail::text_or_empty(*message, "content", what, diag);
            if (!content) return content.error();
            ch.message.content = std::move(*content);
            auto finish = api::detail::optional_string_member(*c, "finish_reason", what, diag);
            if (!finish) return finish.error();
            ch.finish_reason = std::move(*finish);
            out.choices.push_back(std::move(ch));
        }
        if (const auto* usage_json = reply->if_contains("usage"); usage_json && !usage_json->is_null()) {
            const auto* u = usage_json->if_object();
            if (!u) return api::detail::bad_reply(diag, what, "has a 'usage' that is not an object");
            openai::usage counts;
            for (auto [key, field] : {std::pair{"prompt_tokens", &usage::prompt_tokens},
                                      std::pair{"completion_tokens", &usage::completion_tokens},
                                      std::pair{"total_tokens", &usage::total_tokens}}) {
                const auto* v = u->if_contains(key);
                if (!v || v->is_null()) continue;
                auto n = api::detail::integer(*v);
                if (!n) return api::detail::bad_reply(diag, what, "has a 'usage." + std::string(key) + "' that is not an integer");
                counts.*field = *n;
            }
            out.usage = counts;
        }
        return out;
    }

    /// `data: {"choices": [{"index", "delta": {"role"?, "content"?}, "finish_reason"}], ...}` gives a
    /// chat_chunk of the first choice; a chunk with no choice (a usage-only chunk) and events of
    /// another type are skipped; `data: [DONE]` ends the stream; `data: {"error": ...}` is an error.
    boost::system::result<event_step<chat_chunk>> parse_event(const sse::event& ev, diagnostics& diag) const
        requires Streamed
    {
        static constexpr std::string_view what = "/v1/chat/completions stream event";
        if (ev.type != "message") return event_step<chat_chunk>{};
        if (ev.data == "[DONE]") return event_step<chat_chunk>{std::nullopt, true};
        auto reply = api::detail::parse_object_reply(ev.data, what, diag);
        if (!reply) return reply.error();
        if (const auto* error = reply->if_contains("error"); error && !error->is_null())
            return detail::reported_error(*error, what, diag);
        const auto* choices_json = reply->if_contains("choices");
        if (!choices_json) return api::detail::bad_reply(diag, what, "has no 'choices'");
        const auto* choices = choices_json->if_array();
        if (!choices) return api::detail::bad_reply(diag, what, "has a 'choices' that is not an array");
        if (choices->empty()) return event_step<chat_chunk>{};
        const auto* c = (*choices)[0].if_object();
        if (!c) return api::detail::bad_reply(diag, what, "has a choice that is not an object");
        chat_chunk chunk;
        auto index = detail::index_of(*c, 0, what, diag);
        if (!index) return index.error();
        chunk.index = *index;
        if (const auto* delta_json = c->if_contains("delta"); delta_json && !delta_json->is_null()) {
            const auto* delta = delta_json->if_object();
            if (!delta) return api::detail::bad_reply(diag, what, "has a 'delta' that is not an object");
            auto content = detail::text_or_empty(*delta, "content", what, diag);
            if (!content) return content.error();
            chunk.content = std::move(*content);
            auto role = api::detail::optional_string_member(*delta, "role", what, diag);
            if (!role) return role.error();
            chunk.role = std::move(*role);
        }
        auto finish = api::detail::optional_string_member(*c, "finish_reason", what, diag);
        if (!finish) return finish.error();
        chunk.finish_reason = std::move(*finish);
        return event_step<chat_chunk>{std::move(chunk)};
    }

private:
    consumer_group model_;
    std::vector<chat_message> messages_;
    std::optional<token_count> max_tokens_;
    std::optional<openai::temperature> temperature_;
    std::optional<api::top_p> top_p_;
};

/// POST /v1/embeddings of one text (Text = std::string) or a batch (std::vector<std::string>).
/// Made by openai::embeddings.
template <class Text>
class basic_embeddings {
public:
    static_assert(std::same_as<Text, std::string> || std::same_as<Text, std::vector<std::string>>);
    static constexpr api_kind api = api_kind::openai;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// True for a batch of texts.
    static constexpr bool is_batch = std::same_as<Text, std::vector<std::string>>;
    /// A vector, or one per text in input order.
    using response_type = std::conditional_t<is_batch, std::vector<std::vector<float>>, std::vector<float>>;

    basic_embeddings(consumer_group model, Text input) : model_(std::move(model)), input_(std::move(input)) {}

    std::string path() const { return "/v1/embeddings"; }

    /// {"input": ..., "model": ...}
    std::string body() const {
        boost::json::object o;
        if constexpr (is_batch)
            o["input"] = api::detail::string_array(input_);
        else
            o["input"] = input_;
        o["model"] = model_.str();
        return boost::json::serialize(o);
    }

    /// OpenAI's {"data": [{"embedding": [...], "index": i}, ...]}, put in input order by index
    /// (each index once, below the number of texts; without indexes, in the order given), or the
    /// {"result": ...} of /embed (reference §8.1).
    boost::system::result<response_type> parse_response(const http::response& resp, diagnostics& diag) const {
        static constexpr std::string_view what = "/v1/embeddings";
        auto reply = api::detail::parse_object_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        const std::size_t expected = is_batch ? input_.size() : 1;
        if (const auto* error = reply->if_contains("error"); error && !error->is_null())
            return detail::reported_error(*error, what, diag);
        if (const auto* result = reply->if_contains("result")) {
            if constexpr (is_batch)
                return api::detail::vector_batch<float>(*result, expected, what, "result", "texts", diag);
            else
                return api::detail::single_vector<float>(*result, what, "result", diag);
        }
        const auto* data_json = reply->if_contains("data");
        if (!data_json) return api::detail::bad_reply(diag, what, "has neither 'data' nor 'result'");
        const auto* data = data_json->if_array();
        if (!data) return api::detail::bad_reply(diag, what, "has a 'data' that is not an array");
        if (data->size() != expected)
            return api::detail::bad_reply(diag, what,
                                          "has " + std::to_string(data->size()) + " embeddings for " +
                                              std::to_string(expected) + " texts");
        std::vector<std::vector<float>> out(expected);
        std::vector<bool> seen(expected, false);
        for (std::size_t i = 0; i < data->size(); ++i) {
            const auto* item = (*data)[i].if_object();
            if (!item) return api::detail::bad_reply(diag, what, "has a 'data' item that is not an object");
            auto index = detail::index_of(*item, i, what, diag);
            if (!index) return index.error();
            if (*index >= expected || seen[*index])
                return api::detail::bad_reply(diag, what, "has an 'index' that is not the position of a text sent, or repeats one");
            seen[*index] = true;
            const auto* embedding = item->if_contains("embedding");
            if (!embedding) return api::detail::bad_reply(diag, what, "has a 'data' item with no 'embedding'");
            auto vec = api::detail::number_vector<float>(*embedding);
            if (!vec) return api::detail::bad_reply(diag, what, "has an 'embedding' that is not an array of numbers");
            out[*index] = std::move(*vec);
        }
        if constexpr (is_batch)
            return out;
        else
            return std::move(out.front());
    }

private:
    consumer_group model_;
    Text input_;
};

/// POST /v1/chat/completions: completes with the chat_completion.
inline basic_chat<false> chat(consumer_group model, std::vector<chat_message> messages) {
    return {std::move(model), std::move(messages)};
}
/// POST /v1/chat/completions with "stream": true: yields chat_chunk events until [DONE].
inline basic_chat<true> chat_stream(consumer_group model, std::vector<chat_message> messages) {
    return {std::move(model), std::move(messages)};
}
/// POST /v1/embeddings of one text: completes with its embedding.
inline basic_embeddings<std::string> embeddings(consumer_group model, std::string input) {
    return {std::move(model), std::move(input)};
}
/// POST /v1/embeddings of a batch: completes with one embedding per text, in order.
inline basic_embeddings<std::vector<std::string>> embeddings(consumer_group model, std::vector<std::string> inputs) {
    return {std::move(model), std::move(inputs)};
}

} // namespace takeoff::api::openai

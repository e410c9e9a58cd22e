#pragma once
// POST /generate and POST /generate_stream (reference §2.1, §2.2, §3).
//
//     auto one = api::generate("List three things to do in London: ").max_new_tokens(64).temperature(0.7);
//     auto many = api::generate(std::vector<std::string>{"a", "b"});        // a batch
//     auto typed = api::generate("pi is ").regex("[0-9]+\\.[0-9]+");       // constrained output
//     auto tokens = api::generate_stream("Tell me a story");                 // streamed
//
// The prompt's type decides the reply's: one prompt gives std::string, a batch
// std::vector<std::string> (streamed: raw token text, or batch_token{text, batch_id}). Constrained
// output is a JSON schema or a regex, never both: once one is set the request's type has neither
// setter. Only the fields that were set are sent (older clients send every field, unset ones as
// null; Takeoff accepts both).

#include <takeoff/api/detail/json_reply.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/api/sampling.hpp>
#include <takeoff/core/config.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace takeoff::api {

/// The constrained-decoding library the server uses (`constrained_decoding_backend`).
enum class decoding_backend { lmfe, outlines };

/// No constraint on the output.
struct unconstrained {};
/// Output constrained to a JSON schema (`json_schema`).
struct json_schema_constraint {
    boost::json::value schema;
};
/// Output constrained to a regular expression (`regex_string`, interegular dialect).
struct regex_constraint {
    std::string pattern;
};

/// A request whose output is not constrained yet (the only kind that can take a constraint).
template <class Constraint>
concept output_not_yet_constrained = std::same_as<Constraint, unconstrained>;

/// One token of a streamed batch: its text and the index of the prompt it belongs to. Tokens of
/// different prompts interleave.
struct batch_token {
    std::string text;
    std::size_t batch_id = 0;
    friend bool operator==(const batch_token&, const batch_token&) = default;
};

/// The optional fields of a generation, as set (see basic_generate's setters).
struct generation_settings {
    std::optional<api::consumer_group> consumer_group;
    std::optional<api::temperature> temperature;
    std::optional<api::top_p> top_p;
    std::optional<api::top_k> top_k;
    std::optional<api::repetition_penalty> repetition_penalty;
    std::optional<api::no_repeat_ngram_size> no_repeat_ngram_size;
    std::optional<api::token_count> max_new_tokens;
    std::optional<api::min_token_count> min_new_tokens;
    std::optional<api::token_count> prompt_max_tokens;
    std::optional<decoding_backend> constrained_decoding_backend;
    std::optional<bool> return_metadata;
    std::optional<bool> use_chat_template;
    std::optional<std::string> lora_id;
};

/// A generation request: buffered (/generate) or streamed (/generate_stream), one prompt
/// (Text = std::string) or a batch (Text = std::vector<std::string>), with a Constraint.
/// Made by api::generate and api::generate_stream.
template <bool Streamed, class Text, class Constraint = unconstrained>
class basic_generate {
public:
    static_assert(std::same_as<Text, std::string> || std::same_as<Text, std::vector<std::string>>);
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// True for a batch of prompts.
    static constexpr bool is_batch = std::same_as<Text, std::vector<std::string>>;
    /// True for /generate_stream.
    static constexpr bool is_streamed = Streamed;

    explicit basic_generate(Text text) : text_(std::move(text)) {}
    basic_generate(Text text, generation_settings settings, Constraint constraint)
        : text_(std::move(text)), settings_(std::move(settings)), constraint_(std::move(constraint)) {}

    /// The prompt or prompts.
    const Text& text() const noexcept { return text_; }
    /// The optional fields set so far.
    const generation_settings& settings() const noexcept { return settings_; }
    /// The constraint (unconstrained, json_schema_constraint or regex_constraint).
    const Constraint& constraint() const noexcept { return constraint_; }

    /// The reader group that serves the request (the server's default is "primary").
    basic_generate& consumer_group(api::consumer_group g) { return set(settings_.consumer_group, std::move(g)); }
    /// sampling_temperature.
    basic_generate& temperature(api::temperature v) { return set(settings_.temperature, v); }
    /// sampling_topp.
    basic_generate& top_p(api::top_p v) { return set(settings_.top_p, v); }
    /// sampling_topk.
    basic_generate& top_k(api::top_k v) { return set(settings_.top_k, v); }
    /// repetition_penalty.
    basic_generate& repetition_penalty(api::repetition_penalty v) { return set(settings_.repetition_penalty, v); }
    /// no_repeat_ngram_size.
    basic_generate& no_repeat_ngram_size(api::no_repeat_ngram_size v) { return set(settings_.no_repeat_ngram_size, v); }
    /// max_new_tokens.
    basic_generate& max_new_tokens(api::token_count v) { return set(settings_.max_new_tokens, v); }
    /// min_new_tokens.
    basic_generate& min_new_tokens(api::min_token_count v) { return set(settings_.min_new_tokens, v); }
    /// prompt_max_tokens: the prompt is truncated to this many tokens.
    basic_generate& prompt_max_tokens(api::token_count v) { return set(settings_.prompt_max_tokens, v); }
    /// constrained_decoding_backend.
    basic_generate& constrained_decoding_backend(decoding_backend b) { return set(settings_.constrained_decoding_backend, b); }
    /// return_metadata (the typed reply keeps the text only; see docs/takeoff-api.md).
    basic_generate& return_metadata(bool on) { return set(settings_.return_metadata, on); }
    /// use_chat_template: the server applies the model's chat template to the prompt.
    basic_generate& use_chat_template(bool on) { return set(settings_.use_chat_template, on); }
    /// lora_id: the LoRA module to use.
    basic_generate& lora_id(std::string id) { return set(settings_.lora_id, std::move(id)); }

    /// The same request with its output constrained to a JSON schema. Only for a request with no
    /// constraint yet: a regex and a schema together do not compile.
    basic_generate<Streamed, Text, json_schema_constraint> json_schema(boost::json::value schema) const
        requires output_not_yet_constrained<Constraint>
    {
        return {text_, settings_, json_schema_constraint{std::move(schema)}};
    }

    /// The same request with its output constrained to a regular expression (see json_schema).
    basic_generate<Streamed, Text, regex_constraint> regex(std::string pattern) const
        requires output_not_yet_constrained<Constraint>
    {
        return {text_, settings_, regex_constraint{std::move(pattern)}};
    }

    std::string path() const { return Streamed ? "/generate_stream" : "/generate"; }

    /// The JSON body: text and the fields that were set.
    std::string body() const {
        boost::json::object o;
        if constexpr (is_batch) {
            o["text"] = detail::string_array(text_);
        } else {
            o["text"] = text_;
        }
        const auto& s = settings_;
        if (s.consumer_group) o["consumer_group"] = s.consumer_group->str();
        if (s.temperature) o["sampling_temperature"] = s.temperature->value();
        if (s.top_p) o["sampling_topp"] = s.top_p->value();
        if (s.top_k) o["sampling_topk"] = s.top_k->value();
        if (s.repetition_penalty) o["repetition_penalty"] = s.repetition_penalty->value();
        if (s.no_repeat_ngram_size) o["no_repeat_ngram_size"] = s.no_repeat_ngram_size->value();
        if (s.max_new_tokens) o["max_new_tokens"] = s.max_new_tokens->value();
        if (s.min_new_tokens) o["min_new_tokens"] = s.min_new_tokens->value();
        if (s.prompt_max_tokens) o["prompt_max_tokens"] = s.prompt_max_tokens->value();
        if constexpr (std::same_as<Constraint, json_schema_constraint>) o["json_schema"] = constraint_.schema;
        if constexpr (std::same_as<Constraint, regex_constraint>) o["regex_string"] = constraint_.pattern;
        if (s.constrained_decoding_backend)
            o["constrained_decoding_backend"] =
                *s.constrained_decoding_backend == decoding_backend::lmfe ? "lmfe" : "outlines";
        if (s.return_metadata) o["return_metadata"] = *s.return_metadata;
        if (s.use_chat_template) o["use_chat_template"] = *s.use_chat_template;
        if (s.lora_id) o["lora_id"] = *s.lora_id;
        return boost::json::serialize(o);
    }

    /// What a buffered request completes with: the generated text, or one per prompt in order.
    using response_type = std::conditional_t<is_batch, std::vector<std::string>, std::string>;
    /// What a streamed request yields: a token's text, or a batch_token.
    using event_type = std::conditional_t<is_batch, batch_token, std::string>;

    /// {"text": "..."} for one prompt (a one-element array is accepted too), {"text": [...]}
    /// with one text per prompt for a batch.
    boost::system::result<response_type> parse_response(const http::response& resp, diagnostics& diag) const
        requires(!Streamed)
    {
        auto reply = detail::parse_reply(resp.body, "/generate", diag);
        if (!reply) return reply.error();
        auto text = detail::member(*reply, "text", "/generate", diag);
        if (!text) return text.error();
        const boost::json::value& t = **text;
        if constexpr (is_batch) {
            const auto* arr = t.if_array();
            if (!arr) return detail::bad_reply(diag, "/generate", "'text' is not an array (a batch was sent)");
            if (arr->size() != text_.size())
                return detail::bad_reply(diag, "/generate",
                                         "has " + std::to_string(arr->size()) + " texts for " +
                                             std::to_string(text_.size()) + " prompts");
            std::vector<std::string> out;
            out.reserve(arr->size());
            for (const auto& x : *arr) {
                if (!x.is_string()) return detail::bad_reply(diag, "/generate", "'text' holds a non-string");
                out.emplace_back(x.get_string());
            }
            return out;
        } else {
            if (t.is_string()) return std::string(t.get_string());
            if (const auto* arr = t.if_array(); arr && arr->size() == 1 && (*arr)[0].is_string())
                return std::string((*arr)[0].get_string());
            return detail::bad_reply(diag, "/generate", "'text' is not a string");
        }
    }

    /// One prompt: the event's data is the token's text (as the SSE rules rejoined it). A batch:
    /// the data is {"text": "...", "batch_id": i} with i below the number of prompts. Events with a
    /// type other than "message" are skipped.
    boost::system::result<event_step<event_type>> parse_event(const sse::event& ev, diagnostics& diag) const
        requires Streamed
    {
        if (ev.type != "message") return event_step<event_type>{};
        if constexpr (is_batch) {
            auto reply = detail::parse_reply(ev.data, "/generate_stream event", diag);
            if (!reply) return reply.error();
            auto text = detail::member(*reply, "text", "/generate_stream event", diag);
            if (!text) return text.error();
            auto id = detail::member(*reply, "batch_id", "/generate_stream event", diag);
            if (!id) return id.error();
            if (!(*text)->is_string()) return detail::bad_reply(diag, "/generate_stream event", "'text' is not a string");
            const auto index = detail::integer(**id);
            if (!index || *index < 0 || static_cast<std::uint64_t>(*index) >= text_.size())
                return detail::bad_reply(diag, "/generate_stream event",
                                         "has a batch_id that is not the index of a prompt sent");
            return event_step<event_type>{batch_token{std::string((*text)->get_string()), static_cast<std::size_t>(*index)}};
        } else {
            return event_step<event_type>{std::string(ev.data)};
        }
    }

private:
    template <class Field, class Value>
    basic_generate& set(Field& field, Value&& v) {
        field = std::forward<Value>(v);
        return *this;
    }

    Text text_;
    generation_settings settings_;
    [[no_unique_address]] Constraint constraint_;
};

/// POST /generate of one prompt: completes with the generated text.
inline basic_generate<false, std::string> generate(std::string prompt) {
    return basic_generate<false, std::string>(std::move(prompt));
}
/// POST /generate of a batch: completes with one text per prompt, in order.
inline basic_generate<false, std::vector<std::string>> generate(std::vector<std::string> prompts) {
    return basic_generate<false, std::vector<std::string>>(std::move(prompts));
}
/// POST /generate_stream of one prompt: yields the tokens' text.
inline basic_generate<true, std::string> generate_stream(std::string prompt) {
    return basic_generate<true, std::string>(std::move(prompt));
}
/// POST /generate_stream of a batch: yields batch_token events.
inline basic_generate<true, std::vector<std::string>> generate_stream(std::vector<std::string> prompts) {
    return basic_generate<true, std::vector<std::string>>(std::move(prompts));
}

} // namespace takeoff::api

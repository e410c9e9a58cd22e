#pragma once
// takeoff::emulator::takeoff_emulator — the Takeoff side of takeoff-emulator, as routes of an
// emulator::server (reference takeoff-api.md §1–§5, §3, §8):
//
//   install_inference   POST /generate, /generate_stream, /embed, /classify,
//                       POST /tokenize/{reader_id}, /detokenize/{reader_id}, /chat_template/{reader_id},
//                       GET /status, /healthz
//   install_management  GET /reader_groups, POST /reader, DELETE /reader/{id}, GET /config/{id}, GET /status
//   install_openai      POST /v1/chat/completions (buffered and streamed), POST /v1/embeddings
//
// What the "model" says comes from generation.hpp: deterministic from the request, so tests predict
// every byte. Failure knobs (not ready, the next N requests unavailable, every k-th request
// rate-limited, streams dropped mid-way, slow first token) live in takeoff_options and change at any
// time through configure().
//
// All state sits behind one mutex: each request function locks it, works out the whole answer (a
// response, or every event of a stream and how to pace it) and returns it; the handlers then send it
// without the lock, on the server's single thread. Handlers share the state (std::shared_ptr), so
// the emulator object may go before the server.
//
// Include this header (it includes server.hpp) to use it.

#include <takeoff_emulator/exchange.hpp>
#include <takeoff_emulator/generation.hpp>
#include <takeoff_emulator/message.hpp>
#include <takeoff_emulator/router.hpp>
#include <takeoff_emulator/server.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::emulator {

/// One emulated reader (a model process serving a consumer group).
struct reader_state {
    std::string reader_id;
    std::string consumer_group;
    std::string model_name;
    std::string device = "cpu";
    std::string model_type; ///< "CAUSAL", "EMBEDDING", "CLASSIFICATION", ...
    /// What GET /config/{id} answers: the ReaderConfig as posted. Empty: {model_name, device,
    /// consumer_group} from the members above.
    boost::json::object config;
};

/// The readers an emulator starts with: "primary-0" (group "primary", "emulator/generate",
/// CAUSAL), "embed-0" (group "embed", "emulator/embed", EMBEDDING) and "classify-0" (group
/// "classify", "emulator/classify", CLASSIFICATION), all on "cpu".
inline std::vector<reader_state> default_readers()
{
    std::vector<reader_state> readers;
    const auto add = [&](std::string id, std::string group, std::string model, std::string type) {
        reader_state r;
        r.reader_id = std::move(id);
        r.consumer_group = std::move(group);
        r.model_name = std::move(model);
        r.model_type = std::move(type);
        r.config = {{"model_name", r.model_name}, {"device", r.device}, {"consumer_group", r.consumer_group}};
        readers.push_back(std::move(r));
    };
    add("primary-0", "primary", "emulator/generate", "CAUSAL");
    add("embed-0", "embed", "emulator/embed", "EMBEDDING");
    add("classify-0", "classify", "emulator/classify", "CLASSIFICATION");
    return readers;
}

/// Knobs of the emulated Takeoff server. Every one may change while it runs (configure()).
struct takeoff_options {
    /// The live readers. POST /reader and DELETE /reader/{id} change this list.
    std::vector<reader_state> readers = default_readers();
    std::size_t default_max_new_tokens = 16; ///< when the request sets no max_new_tokens
    std::size_t embedding_dimensions = 8;
    std::chrono::microseconds token_interval{0};    ///< server-timer pause before each streamed token but the first
    std::chrono::microseconds first_token_delay{0}; ///< server-timer pause before the first streamed token
    /// /status reader info with "consumer_group": "g" (before Takeoff 0.19) instead of "consumer_groups": ["g"].
    bool legacy_status_shape = false;
    bool ready = true; ///< false: 503 on every inference and OpenAI route, /status and /healthz included
    /// The next N inference/OpenAI requests (not /status or /healthz) get 503; counts down.
    std::size_t unavailable_requests = 0;
    /// Every k-th inference/OpenAI request that gets past `ready` and `unavailable_requests` gets
    /// 429 (0: never). The count restarts whenever configure() changes k.
    std::size_t too_many_requests_every = 0;
    std::string retry_after = "0"; ///< Retry-After of the knobs' 503/429 answers (seconds); "" = no header
    /// Streams stop after this many token events and the connection is closed without the end
    /// (no last chunk, no finish chunk or [DONE]); with fewer tokens, after the last one.
    std::optional<std::size_t> drop_stream_after_tokens;
    bool truncate_last_event = false;     ///< with drop_stream_after_tokens: write "data: part" (no blank line) before closing
    bool close_delimited_streams = false; ///< streams without chunked framing, `Connection: close`, ended by closing
    bool record_stream_timings = false;   ///< keep a stream_timing per stream (benchmarks)
};

/// When the server received a streaming request and when its first token was written.
struct stream_timing {
    std::string request_id; ///< the request's X-Request-Id header (empty when it had none)
    std::chrono::steady_clock::time_point received;            ///< the handler started
    std::chrono::steady_clock::time_point first_token_written; ///< the first token event's write completed
};

namespace detail {

/// The longest generation a request may ask for (the emulator holds a whole answer in memory).
inline constexpr std::size_t max_emulated_tokens = 100000;

// A request the route refuses: the status and the message of its {"detail": ...} body (or of
// OpenAI's {"error": {...}} body).
struct route_error {
    http::status status;
    std::string message;
    bool openai_shape = false;
};

inline std::string compact_json(const boost::json::value& value)
{
    std::string out;
    write_compact_json(value, out);
    return out;
}

inline http_response json_reply(http::status status, const boost::json::value& body)
{
    return make_json_response(status, compact_json(body));
}

inline http_response error_reply(const route_error& error)
{
    if (error.openai_shape) {
        boost::json::object inner{{"message", error.message}, {"type", "invalid_request_error"}};
        return json_reply(error.status, boost::json::object{{"error", std::move(inner)}});
    }
    return json_reply(error.status, boost::json::object{{"detail", error.message}});
}

inline boost::json::object body_object(const http_request& request)
{
    boost::system::error_code ec;
    boost::json::value body = boost::json::parse(request.body(), ec);
    if (ec || !body.is_object())
        throw route_error{http::status::unprocessable_entity, "Malformed request body: expected a JSON object"};
    return std::move(body.get_object());
}

// The value of an optional field: absent and null are the same (older clients send nulls).
inline const boost::json::value* optional_field(const boost::json::object& body, std::string_view key)
{
    const boost::json::value* v = body.if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
}

inline std::optional<std::size_t> optional_count(const boost::json::object& body, std::string_view key)
{
    const boost::json::value* v = optional_field(body, key);
    if (!v)
        return std::nullopt;
    if (v->is_int64() && v->get_int64() >= 0)
        return static_cast<std::size_t>(v->get_int64());
    if (v->is_uint64())
        return static_cast<std::size_t>(v->get_uint64());
    throw route_error{http::status::bad_request, std::string(key) + " must be a non-negative integer"};
}

inline void check_number(const boost::json::object& body, std::string_view key)
{
    const boost::json::value* v = optional_field(body, key);
    if (v && !v->is_number())
        throw route_error{http::status::bad_request, std::string(key) + " must be a number"};
}

inline std::optional<bool> optional_bool(const boost::json::object& body, std::string_view key)
{
    const boost::json::value* v = optional_field(body, key);
    if (!v)
        return std::nullopt;
    if (!v->is_bool())
        throw route_error{http::status::bad_request, std::string(key) + " must be a boolean"};
    return v->get_bool();
}

inline std::optional<std::string> optional_string(const boost::json::object& body, std::string_view key)
{
    const boost::json::value* v = optional_field(body, key);
    if (!v)
        return std::nullopt;
    if (!v->is_string())
        throw route_error{http::status::bad_request, std::string(key) + " must be a string"};
    return std::string(v->get_string());
}

// `text` (or OpenAI's `input`): a string, or an array of strings (a batch). Anything else is 422.
struct prompts {
    bool batch = false;
    std::vector<std::string> items;
};

inline prompts text_field(const boost::json::object& body, std::string_view key = "text")
{
    const boost::json::value* v = optional_field(body, key);
    prompts out;
    if (v && v->is_string()) {
        out.items.emplace_back(v->get_string());
        return out;
    }
    if (v && v->is_array()) {
        out.batch = true;
        for (const auto& item : v->get_array()) {
            if (!item.is_string())
                throw route_error{http::status::unprocessable_entity,
                                  std::string(key) + " must be a string or an array of strings"};
            out.items.emplace_back(item.get_string());
        }
        return out;
    }
    throw route_error{http::status::unprocessable_entity,
                      std::string(key) + (v ? " must be a string or an array of strings" : " is required")};
}

inline std::size_t word_count(std::string_view text) { return whitespace_tokenize(text).size(); }

// A pid that stays the same for a reader id (readers are processes in real Takeoff).
inline std::int64_t reader_pid(std::string_view reader_id)
{
    return 1000 + static_cast<std::int64_t>(text_hash(reader_id) % 30000);
}

inline std::int64_t unix_seconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// %XX-decodes a path segment; nullopt when malformed.
inline std::optional<std::string> percent_decode(std::string_view text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size())
            return std::nullopt;
        const auto hex = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        const int hi = hex(text[i + 1]);
        const int lo = hex(text[i + 2]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

/// One event of a planned stream, already in wire form ("data: ...\n\n").
struct stream_event {
    enum class kind {
        lead,    ///< before the tokens (the chat role chunk)
        token,   ///< one generated token or piece
        trailer, ///< after the tokens (the chat finish chunk, [DONE])
    };
    std::string bytes;
    kind type = kind::token;
};

/// A whole stream, worked out under the lock, with the pacing knobs as they were then.
struct stream_plan {
    std::vector<stream_event> events;
    std::chrono::microseconds token_interval{0};
    std::chrono::microseconds first_token_delay{0};
    std::optional<std::size_t> drop_after;
    bool truncate_last_event = false;
    bool close_delimited = false;
    bool record_timing = false;
};

/// A route's answer: a whole response, or a stream to write.
struct takeoff_answer {
    std::optional<http_response> response;
    std::optional<stream_plan> stream;
};

/// Everything the emulated Takeoff server knows, behind one mutex. Each request function locks it,
/// works out the whole answer and returns it; the handlers send it without the lock.
class takeoff_state {
public:
    explicit takeoff_state(takeoff_options options) : options_(std::move(options)) { note_issued(); }

    // ---- knobs and counters (any thread) ----

    takeoff_options options() const
    {
        std::lock_guard lock(mutex_);
        return options_;
    }
    void configure(const std::function<void(takeoff_options&)>& change)
    {
        std::lock_guard lock(mutex_);
        const std::size_t every = options_.too_many_requests_every;
        change(options_);
        if (options_.too_many_requests_every != every)
            rate_count_ = 0;
        note_issued();
    }
    struct counters {
        std::size_t generate_requests = 0, stream_requests = 0, requests_refused = 0;
    };
    counters counts() const
    {
        std::lock_guard lock(mutex_);
        return counts_;
    }
    std::vector<stream_timing> stream_timings() const
    {
        std::lock_guard lock(mutex_);
        return timings_;
    }
    void record_timing(std::string request_id, std::chrono::steady_clock::time_point received,
                       std::chrono::steady_clock::time_point first_token_written)
    {
        std::lock_guard lock(mutex_);
        timings_.push_back(stream_timing{std::move(request_id), received, first_token_written});
    }

    // ---- inference API ----

    http_response generate(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        if (auto refused = admit(false))
            return std::move(*refused);
        try {
            const generation g = parse_generation(request);
            boost::json::value text;
            std::size_t pieces = 0;
            if (g.batch) {
                boost::json::array texts;
                for (const auto& output : g.outputs) {
                    texts.emplace_back(joined(output));
                    pieces += output.size();
                }
                text = std::move(texts);
            } else {
                text = joined(g.outputs.front());
                pieces = g.outputs.front().size();
            }
            boost::json::object body{{"text", std::move(text)}};
            if (g.return_metadata)
                body["metadata"] = boost::json::object{{"tokens_count", pieces}};
            ++counts_.generate_requests;
            return json_reply(http::status::ok, body);
        } catch (const route_error& error) {
            return error_reply(error);
        }
    }

    takeoff_answer generate_stream(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        if (auto refused = admit(false))
            return {std::move(refused), std::nullopt};
        try {
            const generation g = parse_generation(request);
            stream_plan plan = new_plan();
            std::size_t longest = 0;
            for (const auto& output : g.outputs)
                longest = std::max(longest, output.size());
            // Batch items interleave round-robin: token 0 of each item, then token 1, ...
            for (std::size_t round = 0; round < longest; ++round) {
                for (std::size_t item = 0; item < g.outputs.size(); ++item) {
                    if (round >= g.outputs[item].size())
                        continue;
                    const std::string& piece = g.outputs[item][round];
                    std::string data = g.batch
                        ? compact_json(boost::json::object{{"text", piece}, {"batch_id", item}})
                        : piece;
                    plan.events.push_back(stream_event{sse_event(data), stream_event::kind::token});
                }
            }
            ++counts_.generate_requests;
            ++counts_.stream_requests;
            return {std::nullopt, std::move(plan)};
        } catch (const route_error& error) {
            return {error_reply(error), std::nullopt};
        }
    }

    http_response embed(const http_request& request)
    {
        return guarded(false, [&] {
            const boost::json::object body = body_object(request);
            const prompts texts = text_field(body);
            check_group(optional_string(body, "consumer_group").value_or("primary"));
            boost::json::array vectors;
            for (const std::string& text : texts.items)
                vectors.push_back(vector_json(embedding(text, options_.embedding_dimensions)));
            boost::json::value result = texts.batch ? boost::json::value(std::move(vectors)) : std::move(vectors.at(0));
            return json_reply(http::status::ok, boost::json::object{{"result", std::move(result)}});
        });
    }

    http_response classify(const http_request& request)
    {
        return guarded(false, [&] {
            const boost::json::object body = body_object(request);
            const boost::json::value* text = body.if_contains("text");
            static constexpr std::string_view shape = "text must be a string, an array of strings or an array of [string, string] pairs";
            if (!text || !(text->is_string() || text->is_array()))
                throw route_error{http::status::unprocessable_entity, text ? std::string(shape) : "text is required"};
            check_group(optional_string(body, "consumer_group").value_or("primary"));
            boost::json::array result;
            if (text->is_string()) {
                result.push_back(vector_json(classify_scores(text->get_string())));
            } else {
                for (const auto& item : text->get_array()) {
                    if (item.is_string()) {
                        result.push_back(vector_json(classify_scores(item.get_string())));
                    } else if (item.is_array() && item.get_array().size() == 2 && item.get_array()[0].is_string() &&
                               item.get_array()[1].is_string()) {
                        result.push_back(vector_json(
                            classify_scores(item.get_array()[0].get_string(), item.get_array()[1].get_string())));
                    } else {
                        throw route_error{http::status::unprocessable_entity, std::string(shape)};
                    }
                }
            }
            return json_reply(http::status::ok, boost::json::object{{"result", std::move(result)}});
        });
    }

    http_response tokenize(const http_request& request, std::string_view reader_segment)
    {
        return guarded(false, [&] {
            find_reader(reader_segment);
            const boost::json::object body = body_object(request);
            optional_bool(body, "use_chat_template");
            optional_bool(body, "skip_special_tokens");
            const boost::json::value* text = body.if_contains("text");
            boost::json::array tokens;
            const auto add = [&](std::string_view t) {
                for (std::string& token : whitespace_tokenize(t))
                    tokens.emplace_back(std::move(token));
            };
            if (text && text->is_string()) {
                add(text->get_string());
            } else if (text && text->is_array() && text->get_array().size() == 2 && text->get_array()[0].is_string() &&
                       text->get_array()[1].is_string()) {
                add(text->get_array()[0].get_string());
                add(text->get_array()[1].get_string());
            } else {
                throw route_error{http::status::unprocessable_entity,
                                  text ? "text must be a string or a [string, string] pair" : "text is required"};
            }
            const std::size_t count = tokens.size();
            return json_reply(http::status::ok, boost::json::object{{"tokens", std::move(tokens)}, {"tokens_count", count}});
        });
    }

    http_response detokenize(const http_request& request, std::string_view reader_segment)
    {
        return guarded(false, [&] {
            find_reader(reader_segment);
            const boost::json::object body = body_object(request);
            optional_bool(body, "skip_special_tokens");
            const boost::json::value* tokens = body.if_contains("tokens");
            static constexpr std::string_view shape = "tokens must be an array of strings or of non-negative integers";
            if (!tokens || !tokens->is_array())
                throw route_error{http::status::unprocessable_entity, tokens ? std::string(shape) : "tokens is required"};
            const boost::json::array& list = tokens->get_array();
            std::string text;
            if (!list.empty() && list.front().is_string()) {
                std::vector<std::string> strings;
                for (const auto& t : list) {
                    if (!t.is_string())
                        throw route_error{http::status::unprocessable_entity, std::string(shape)};
                    strings.emplace_back(t.get_string());
                }
                text = emulator::detokenize(strings);
            } else {
                std::vector<std::uint64_t> ids;
                for (const auto& t : list) {
                    if (t.is_uint64())
                        ids.push_back(t.get_uint64());
                    else if (t.is_int64() && t.get_int64() >= 0)
                        ids.push_back(static_cast<std::uint64_t>(t.get_int64()));
                    else
                        throw route_error{http::status::unprocessable_entity, std::string(shape)};
                }
                text = emulator::detokenize(ids);
            }
            return json_reply(http::status::ok, boost::json::object{{"text", text}});
        });
    }

    http_response apply_chat_template(const http_request& request, std::string_view reader_segment)
    {
        return guarded(false, [&] {
            find_reader(reader_segment);
            const boost::json::object body = body_object(request);
            const bool generation_prompt = optional_bool(body, "add_generation_prompt").value_or(false);
            const boost::json::value* inputs = body.if_contains("inputs");
            static constexpr std::string_view shape =
                "inputs must be an array of conversations, each an array of {\"role\", \"content\"} strings";
            if (!inputs || !inputs->is_array())
                throw route_error{http::status::unprocessable_entity, inputs ? std::string(shape) : "inputs is required"};
            if (inputs->get_array().empty())
                throw route_error{http::status::bad_request, "Chat template failed: the input is empty"};
            boost::json::array messages;
            for (const auto& conversation : inputs->get_array()) {
                if (!conversation.is_array())
                    throw route_error{http::status::unprocessable_entity, std::string(shape)};
                messages.emplace_back(chat_template(conversation_of(conversation.get_array(), shape), generation_prompt));
            }
            return json_reply(http::status::ok, boost::json::object{{"messages", std::move(messages)}});
        });
    }

    http_response inference_status()
    {
        return guarded(true, [&] {
            boost::json::object live;
            for (const reader_state& r : options_.readers) {
                boost::json::object info;
                add_group(info, r);
                info["device"] = r.device;
                info["loras"] = nullptr;
                info["model_name"] = r.model_name;
                info["model_type"] = r.model_type;
                live[r.reader_id] = std::move(info);
            }
            boost::json::object body{{"live_readers", std::move(live)},
                                     {"dead_readers", boost::json::object{}},
                                     {"ports", boost::json::array{3000, 3001, 3003}}};
            return json_reply(http::status::ok, body);
        });
    }

    http_response healthz()
    {
        return guarded(true, [&] { return json_reply(http::status::ok, boost::json::object{{"status", "ok"}}); });
    }

    // ---- management API (no failure knobs) ----

    http_response reader_groups()
    {
        std::lock_guard lock(mutex_);
        boost::json::object groups;
        for (const reader_state& r : options_.readers) {
            boost::json::object summary{{"reader_id", r.reader_id},
                                        {"device", r.device},
                                        {"model_name", r.model_name},
                                        {"model_type", r.model_type},
                                        {"pids", boost::json::array{reader_pid(r.reader_id)}},
                                        {"ready", true}};
            boost::json::value& list = groups[r.consumer_group];
            if (!list.is_array())
                list = boost::json::array{};
            list.get_array().push_back(std::move(summary));
        }
        return json_reply(http::status::ok, groups);
    }

    http_response create_reader(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        try {
            boost::json::object body = body_object(request);
            const auto required_string = [&](std::string_view key) {
                const boost::json::value* v = optional_field(body, key);
                if (!v || !v->is_string() || v->get_string().empty())
                    throw route_error{http::status::bad_request,
                                      "Reader creation failed: " + std::string(key) + " must be a non-empty string"};
                return std::string(v->get_string());
            };
            reader_state r;
            r.model_name = required_string("model_name");
            r.device = required_string("device");
            if (r.device != "cpu" && r.device != "cuda")
                throw route_error{http::status::bad_request, "Reader creation failed: device must be \"cpu\" or \"cuda\""};
            r.consumer_group = required_string("consumer_group");
            const boost::json::value* type = optional_field(body, "model_type");
            r.model_type = type && type->is_string() ? std::string(type->get_string()) : "CAUSAL";
            for (std::size_t n = 0;; ++n) {
                std::string id = r.consumer_group + "-" + std::to_string(n);
                if (!issued_.contains(id)) {
                    r.reader_id = std::move(id);
                    break;
                }
            }
            r.config = std::move(body);
            issued_.insert(r.reader_id);
            boost::json::object reply{{"reader_id", r.reader_id}};
            options_.readers.push_back(std::move(r));
            return json_reply(http::status::created, reply);
        } catch (const route_error& error) {
            return error_reply(error);
        }
    }

    http_response delete_reader(std::string_view reader_segment)
    {
        std::lock_guard lock(mutex_);
        try {
            const reader_state& r = find_reader(reader_segment);
            const std::string id = r.reader_id;
            std::erase_if(options_.readers, [&](const reader_state& x) { return x.reader_id == id; });
            http_response response{http::status::no_content, 11};
            return response;
        } catch (const route_error& error) {
            return error_reply(error);
        }
    }

    http_response reader_config(std::string_view reader_segment)
    {
        std::lock_guard lock(mutex_);
        try {
            const reader_state& r = find_reader(reader_segment);
            boost::json::object config = r.config;
            if (config.empty())
                config = {{"model_name", r.model_name}, {"device", r.device}, {"consumer_group", r.consumer_group}};
            return json_reply(http::status::ok, config);
        } catch (const route_error& error) {
            return error_reply(error);
        }
    }

    http_response management_status()
    {
        std::lock_guard lock(mutex_);
        boost::json::object config{{"allow_remote_images", false},
                                   {"body_size_limit_bytes", 2097152},
                                   {"echo", false},
                                   {"enable_metrics", true},
                                   {"heartbeat_check_interval", 1},
                                   {"internal_port", 3005},
                                   {"management_port", 3001},
                                   {"max_prompt_string_bytes", 150000},
                                   {"max_user_batch_size", 1000},
                                   {"openai_port", 3003},
                                   {"port", 3000},
                                   {"reader_message_timeout_ms", 500},
                                   {"reserved_consumers", "primary"},
                                   {"snowflake_port", 3004},
                                   {"vertex_port", 3002}};
        boost::json::object live;
        boost::json::object heartbeats;
        const std::int64_t now = unix_seconds();
        for (const reader_state& r : options_.readers) {
            boost::json::object info;
            add_group(info, r);
            info["consumer_name"] = r.reader_id;
            info["device"] = r.device;
            info["model_name"] = r.model_name;
            info["model_type"] = r.model_type;
            info["pids"] = boost::json::array{reader_pid(r.reader_id)};
            live[r.reader_id] = std::move(info);
            heartbeats[r.reader_id] = boost::json::object{{"heartbeat_timestamp", now}, {"heartbeat_wait_interval", 1}};
        }
        boost::json::object status{{"live_readers", std::move(live)},
                                   {"dead_readers", boost::json::object{}},
                                   {"loading_readers", boost::json::object{}},
                                   {"last_heartbeat", std::move(heartbeats)},
                                   {"reserved_consumers", boost::json::array{"primary"}}};
        return json_reply(http::status::ok, boost::json::object{{"config", std::move(config)}, {"status", std::move(status)}});
    }

    // ---- OpenAI-compatible API ----

    takeoff_answer chat_completions(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        if (auto refused = admit(false))
            return {std::move(refused), std::nullopt};
        try {
            const boost::json::object body = body_object(request);
            const boost::json::value* model_field = body.if_contains("model");
            if (!model_field || !model_field->is_string())
                throw route_error{http::status::unprocessable_entity, "model must be a string"};
            const std::string model(model_field->get_string());
            const boost::json::value* messages = body.if_contains("messages");
            static constexpr std::string_view shape = "messages must be an array of {\"role\", \"content\"} strings";
            if (!messages || !messages->is_array())
                throw route_error{http::status::unprocessable_entity, std::string(shape)};
            const std::vector<chat_message> conversation = conversation_of(messages->get_array(), shape);
            const std::optional<std::size_t> max_tokens = optional_count(body, "max_tokens");
            check_number(body, "temperature");
            check_number(body, "top_p");
            const bool stream = optional_bool(body, "stream").value_or(false);
            if (!has_group(model))
                throw route_error{http::status::not_found, "The model `" + model + "` does not exist", true};
            const chat_message* last_user = nullptr;
            std::size_t prompt_tokens = 0;
            for (const chat_message& m : conversation) {
                prompt_tokens += word_count(m.content);
                if (m.role == "user")
                    last_user = &m;
            }
            if (!last_user)
                throw route_error{http::status::bad_request, "messages has no user message"};
            const std::size_t n = checked_count(new_token_count(max_tokens, std::nullopt, options_.default_max_new_tokens));
            const std::vector<std::string> tokens = generated_tokens(last_user->content, n);
            const std::string id = "chatcmpl-emu-" + std::to_string(++chat_count_);
            const std::int64_t created = unix_seconds();
            if (!stream) {
                std::string content;
                for (const std::string& t : tokens)
                    content += t;
                boost::json::object message{{"role", "assistant"}, {"content", content}};
                boost::json::object choice{{"index", 0}, {"message", std::move(message)}, {"finish_reason", "length"}};
                boost::json::object usage{{"prompt_tokens", prompt_tokens},
                                          {"completion_tokens", n},
                                          {"total_tokens", prompt_tokens + n}};
                boost::json::object reply{{"id", id},
                                          {"object", "chat.completion"},
                                          {"created", created},
                                          {"model", model},
                                          {"choices", boost::json::array{std::move(choice)}},
                                          {"usage", std::move(usage)}};
                return {json_reply(http::status::ok, reply), std::nullopt};
            }
            const auto chunk = [&](boost::json::object delta, boost::json::value finish) {
                boost::json::object choice{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}};
                boost::json::object c{{"id", id},
                                      {"object", "chat.completion.chunk"},
                                      {"created", created},
                                      {"model", model},
                                      {"choices", boost::json::array{std::move(choice)}}};
                return sse_event(compact_json(c));
            };
            stream_plan plan = new_plan();
            plan.events.push_back(
                {chunk(boost::json::object{{"role", "assistant"}, {"content", ""}}, nullptr), stream_event::kind::lead});
            for (const std::string& t : tokens)
                plan.events.push_back({chunk(boost::json::object{{"content", t}}, nullptr), stream_event::kind::token});
            plan.events.push_back({chunk(boost::json::object{}, "length"), stream_event::kind::trailer});
            plan.events.push_back({sse_event("[DONE]"), stream_event::kind::trailer});
            ++counts_.stream_requests;
            return {std::nullopt, std::move(plan)};
        } catch (const route_error& error) {
            return {error_reply(error), std::nullopt};
        }
    }

    http_response openai_embeddings(const http_request& request)
    {
        return guarded(false, [&] {
            const boost::json::object body = body_object(request);
            const prompts inputs = text_field(body, "input");
            const boost::json::value* model_field = body.if_contains("model");
            if (!model_field || !model_field->is_string())
                throw route_error{http::status::unprocessable_entity, "model must be a string"};
            const std::string model(model_field->get_string());
            if (!has_group(model))
                throw route_error{http::status::not_found, "The model `" + model + "` does not exist", true};
            boost::json::array data;
            std::size_t tokens = 0;
            for (std::size_t i = 0; i < inputs.items.size(); ++i) {
                tokens += word_count(inputs.items[i]);
                data.push_back(boost::json::object{{"object", "embedding"},
                                                   {"index", i},
                                                   {"embedding", vector_json(embedding(inputs.items[i], options_.embedding_dimensions))}});
            }
            boost::json::object reply{{"object", "list"},
                                      {"data", std::move(data)},
                                      {"model", model},
                                      {"usage", boost::json::object{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
            return json_reply(http::status::ok, reply);
        });
    }

private:
    // A parsed /generate or /generate_stream request and its output, one list of pieces per prompt.
    struct generation {
        bool batch = false;
        bool return_metadata = false;
        std::vector<std::vector<std::string>> outputs;
    };

    generation parse_generation(const http_request& request) const
    {
        const boost::json::object body = body_object(request);
        const prompts texts = text_field(body);
        const std::string group = optional_string(body, "consumer_group").value_or("primary");
        for (std::string_view key : {"sampling_temperature", "sampling_topp", "repetition_penalty"})
            check_number(body, key);
        const auto max_new = optional_count(body, "max_new_tokens");
        const auto min_new = optional_count(body, "min_new_tokens");
        optional_count(body, "sampling_topk");
        optional_count(body, "no_repeat_ngram_size");
        optional_count(body, "prompt_max_tokens");
        const auto regex = optional_string(body, "regex_string");
        const boost::json::value* schema = optional_field(body, "json_schema");
        optional_string(body, "constrained_decoding_backend");
        optional_string(body, "lora_id");
        optional_bool(body, "use_chat_template");
        generation g;
        g.return_metadata = optional_bool(body, "return_metadata").value_or(false);
        if (regex && schema)
            throw route_error{http::status::bad_request, "regex_string and json_schema cannot be used together"};
        check_group(group);
        g.batch = texts.batch;
        const std::size_t n = regex || schema ? 0 : checked_count(new_token_count(max_new, min_new, options_.default_max_new_tokens));
        for (const std::string& prompt : texts.items) {
            if (!regex && !schema) {
                g.outputs.push_back(generated_tokens(prompt, n));
                continue;
            }
            std::string why;
            const std::optional<std::string> text = regex ? regex_text(*regex, prompt, why) : schema_json(*schema, prompt, why);
            if (!text)
                throw route_error{http::status::bad_request, why};
            g.outputs.push_back(utf8_pieces(*text));
        }
        return g;
    }

    static std::size_t checked_count(std::size_t n)
    {
        if (n > max_emulated_tokens)
            throw route_error{http::status::bad_request,
                              "the emulator generates at most " + std::to_string(max_emulated_tokens) + " tokens"};
        return n;
    }

    static std::string joined(const std::vector<std::string>& pieces)
    {
        std::string out;
        for (const std::string& p : pieces)
            out += p;
        return out;
    }

    static boost::json::array vector_json(const std::vector<double>& values)
    {
        boost::json::array out;
        out.reserve(values.size());
        for (const double v : values)
            out.push_back(v);
        return out;
    }

    static std::vector<chat_message> conversation_of(const boost::json::array& list, std::string_view shape)
    {
        std::vector<chat_message> out;
        for (const auto& m : list) {
            const boost::json::object* o = m.if_object();
            const boost::json::value* role = o ? o->if_contains("role") : nullptr;
            const boost::json::value* content = o ? o->if_contains("content") : nullptr;
            if (!role || !role->is_string() || !content || !content->is_string())
                throw route_error{http::status::unprocessable_entity, std::string(shape)};
            out.push_back(chat_message{std::string(role->get_string()), std::string(content->get_string())});
        }
        return out;
    }

    void add_group(boost::json::object& info, const reader_state& r) const
    {
        if (options_.legacy_status_shape)
            info["consumer_group"] = r.consumer_group;
        else
            info["consumer_groups"] = boost::json::array{boost::json::string(r.consumer_group)};
    }

    bool has_group(std::string_view group) const
    {
        for (const reader_state& r : options_.readers)
            if (r.consumer_group == group)
                return true;
        return false;
    }

    void check_group(const std::string& group) const
    {
        if (!has_group(group))
            throw route_error{http::status::bad_request, "No reader serves the consumer group \"" + group + "\""};
    }

    const reader_state& find_reader(std::string_view segment) const
    {
        const std::optional<std::string> id = percent_decode(segment);
        if (id)
            for (const reader_state& r : options_.readers)
                if (r.reader_id == *id)
                    return r;
        throw route_error{http::status::not_found, "Reader " + std::string(segment) + " not found"};
    }

    // The failure knobs, in order: not ready; the next N unavailable; every k-th rate-limited.
    // Status routes (/status, /healthz) only look at `ready`.
    std::optional<http_response> admit(bool status_route)
    {
        const auto refuse = [&](http::status status, std::string_view message) {
            ++counts_.requests_refused;
            http_response response = json_reply(status, boost::json::object{{"detail", message}});
            if (!options_.retry_after.empty())
                response.set(http::field::retry_after, options_.retry_after);
            return std::optional<http_response>(std::move(response));
        };
        if (!options_.ready)
            return refuse(http::status::service_unavailable, "The server is not ready to process requests yet");
        if (status_route)
            return std::nullopt;
        if (options_.unavailable_requests > 0) {
            --options_.unavailable_requests;
            return refuse(http::status::service_unavailable, "The server is not ready to process requests yet");
        }
        if (options_.too_many_requests_every > 0 && ++rate_count_ % options_.too_many_requests_every == 0)
            return refuse(http::status::too_many_requests, "Too many requests");
        return std::nullopt;
    }

    // Locks, applies the knobs, runs `answer` and turns a route_error into its response.
    template <class Answer>
    http_response guarded(bool status_route, Answer&& answer)
    {
        std::lock_guard lock(mutex_);
        if (auto refused = admit(status_route))
            return std::move(*refused);
        try {
            return answer();
        } catch (const route_error& error) {
            return error_reply(error);
        }
    }

    stream_plan new_plan() const
    {
        stream_plan plan;
        plan.token_interval = options_.token_interval;
        plan.first_token_delay = options_.first_token_delay;
        plan.drop_after = options_.drop_stream_after_tokens;
        plan.truncate_last_event = options_.truncate_last_event;
        plan.close_delimited = options_.close_delimited_streams;
        plan.record_timing = options_.record_stream_timings;
        return plan;
    }

    // Reader ids once used are never handed out again by POST /reader.
    void note_issued()
    {
        for (const reader_state& r : options_.readers)
            issued_.insert(r.reader_id);
    }

    mutable std::mutex mutex_;
    takeoff_options options_;
    counters counts_;
    std::size_t rate_count_ = 0;
    std::size_t chat_count_ = 0;
    std::set<std::string> issued_;
    std::vector<stream_timing> timings_;
};

inline asio::awaitable<void> write_stream_bytes(exchange& ex, bool close_delimited, std::string bytes)
{
    if (close_delimited)
        co_await ex.async_write_raw(std::move(bytes));
    else
        co_await ex.async_write_chunk(std::move(bytes));
}

// Writes a planned stream: the header, each event flushed on its own (paced by server timers),
// then the end, or a deliberate drop.
inline asio::awaitable<void> write_stream(std::shared_ptr<takeoff_state> state, exchange& ex, stream_plan plan,
                                          std::chrono::steady_clock::time_point received, std::string request_id)
{
    if (plan.close_delimited) {
        std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                           "Connection: close\r\n\r\n";
        co_await ex.async_write_raw(std::move(head));
    } else {
        http::response_header<> header;
        header.version(11);
        header.result(http::status::ok);
        header.set(http::field::content_type, "text/event-stream");
        header.set(http::field::cache_control, "no-cache");
        co_await ex.async_write_chunked_header(std::move(header));
    }
    std::size_t tokens = 0;
    for (stream_event& event : plan.events) {
        const bool token = event.type == stream_event::kind::token;
        if (plan.drop_after && (event.type == stream_event::kind::trailer || (token && tokens == *plan.drop_after)))
            break;
        if (token) {
            const std::chrono::microseconds pause = tokens == 0 ? plan.first_token_delay : plan.token_interval;
            if (pause > std::chrono::microseconds::zero())
                co_await exchange::async_delay(pause);
        }
        asio::awaitable<void> writing = write_stream_bytes(ex, plan.close_delimited, std::move(event.bytes));
        co_await std::move(writing);
        if (token && ++tokens == 1 && plan.record_timing)
            state->record_timing(std::move(request_id), received, std::chrono::steady_clock::now());
    }
    if (plan.drop_after) {
        if (plan.truncate_last_event) {
            asio::awaitable<void> writing = write_stream_bytes(ex, plan.close_delimited, std::string("data: part"));
            co_await std::move(writing);
        }
        ex.close();
        co_return;
    }
    if (!plan.close_delimited)
        co_await ex.async_write_last_chunk();
    // A close-delimited stream ends when the handler returns: the server closes gracefully.
}

// Routes whose last path segment is a reader id: the part after `route` ("/tokenize/"), or nothing.
inline std::string_view after(std::string_view path, std::string_view route)
{
    return path.substr(std::min(route.size(), path.size()));
}

} // namespace detail

/// The Takeoff server (inference, management and OpenAI-compatible APIs) as routes of an
/// emulator::server. Thread-safe: handlers run on the server thread; tests change knobs and read
/// counters from theirs. Copies share one state.
class takeoff_emulator {
public:
    /// Wraps every handler an install adds, e.g. `[&](handler h) { return account.ingress(std::move(h)); }`.
    using wrapper = std::function<handler(handler)>;

    explicit takeoff_emulator(takeoff_options options = {})
        : state_(std::make_shared<detail::takeoff_state>(std::move(options))) {}

    /// Adds the inference API under `prefix` ("" or e.g. "/inference"; a trailing '/' is ignored):
    /// POST /generate, /generate_stream, /embed, /classify, /tokenize/{id}, /detokenize/{id},
    /// /chat_template/{id}; GET /status, /healthz. Each handler goes through `wrap` when given.
    /// Throws std::invalid_argument for a prefix that does not start with '/'.
    void install_inference(server& s, std::string prefix = "", wrapper wrap = {})
    {
        prefix = normalised(std::move(prefix));
        auto st = state_;
        add(s, wrap, http::verb::post, prefix + "/generate", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->generate(ex.request());
            co_await ex.async_respond(std::move(response));
        });
        add(s, wrap, http::verb::post, prefix + "/generate_stream", [st](exchange& ex) -> asio::awaitable<void> {
            const auto received = std::chrono::steady_clock::now();
            detail::takeoff_answer answer = st->generate_stream(ex.request());
            asio::awaitable<void> sending = send(st, ex, std::move(answer), received);
            co_await std::move(sending);
        });
        add(s, wrap, http::verb::post, prefix + "/embed", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->embed(ex.request());
            co_await ex.async_respond(std::move(response));
        });
        add(s, wrap, http::verb::post, prefix + "/classify", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->classify(ex.request());
            co_await ex.async_respond(std::move(response));
        });
        const std::string tokenize_route = prefix + "/tokenize/";
        add(s, wrap, http::verb::post, tokenize_route, [st, tokenize_route](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->tokenize(ex.request(), detail::after(ex.path(), tokenize_route));
            co_await ex.async_respond(std::move(response));
        }, path_match::prefix);
        const std::string detokenize_route = prefix + "/detokenize/";
        add(s, wrap, http::verb::post, detokenize_route, [st, detokenize_route](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->detokenize(ex.request(), detail::after(ex.path(), detokenize_route));
            co_await ex.async_respond(std::move(response));
        }, path_match::prefix);
        const std::string template_route = prefix + "/chat_template/";
        add(s, wrap, http::verb::post, template_route, [st, template_route](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->apply_chat_template(ex.request(), detail::after(ex.path(), template_route));
            co_await ex.async_respond(std::move(response));
        }, path_match::prefix);
        add(s, wrap, http::verb::get, prefix + "/status", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->inference_status();
            co_await ex.async_respond(std::move(response));
        });
        add(s, wrap, http::verb::get, prefix + "/healthz", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->healthz();
            co_await ex.async_respond(std::move(response));
        });
    }

    /// Adds the management API under `prefix`: GET /reader_groups, POST /reader,
    /// DELETE /reader/{id}, GET /config/{id}, GET /status. The failure knobs do not apply to it.
    void install_management(server& s, std::string prefix = "", wrapper wrap = {})
    {
        prefix = normalised(std::move(prefix));
        auto st = state_;
        add(s, wrap, http::verb::get, prefix + "/reader_groups", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->reader_groups();
            co_await ex.async_respond(std::move(response));
        });
        add(s, wrap, http::verb::post, prefix + "/reader", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->create_reader(ex.request());
            co_await ex.async_respond(std::move(response));
        });
        const std::string reader_route = prefix + "/reader/";
        add(s, wrap, http::verb::delete_, reader_route, [st, reader_route](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->delete_reader(detail::after(ex.path(), reader_route));
            co_await ex.async_respond(std::move(response));
        }, path_match::prefix);
        const std::string config_route = prefix + "/config/";
        add(s, wrap, http::verb::get, config_route, [st, config_route](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->reader_config(detail::after(ex.path(), config_route));
            co_await ex.async_respond(std::move(response));
        }, path_match::prefix);
        add(s, wrap, http::verb::get, prefix + "/status", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->management_status();
            co_await ex.async_respond(std::move(response));
        });
    }

    /// Adds the OpenAI-compatible API under `prefix`: POST /v1/chat/completions (buffered, or SSE
    /// ending with `data: [DONE]` when "stream": true) and POST /v1/embeddings.
    void install_openai(server& s, std::string prefix = "", wrapper wrap = {})
    {
        prefix = normalised(std::move(prefix));
        auto st = state_;
        add(s, wrap, http::verb::post, prefix + "/v1/chat/completions", [st](exchange& ex) -> asio::awaitable<void> {
            const auto received = std::chrono::steady_clock::now();
            detail::takeoff_answer answer = st->chat_completions(ex.request());
            asio::awaitable<void> sending = send(st, ex, std::move(answer), received);
            co_await std::move(sending);
        });
        add(s, wrap, http::verb::post, prefix + "/v1/embeddings", [st](exchange& ex) -> asio::awaitable<void> {
            http_response response = st->openai_embeddings(ex.request());
            co_await ex.async_respond(std::move(response));
        });
    }

    /// Changes knobs under the emulator's lock, e.g. `configure([](auto& o) { o.ready = false; })`.
    void configure(std::function<void(takeoff_options&)> change) { state_->configure(change); }
    /// A copy of the current options (the readers list is the live one).
    takeoff_options options() const { return state_->options(); }
    /// Sets the `ready` knob.
    void set_ready(bool ready)
    {
        state_->configure([ready](takeoff_options& o) { o.ready = ready; });
    }

    /// /generate and /generate_stream calls answered 200.
    std::size_t generate_requests() const { return state_->counts().generate_requests; }
    /// /generate_stream and streamed chat completion calls answered 200.
    std::size_t stream_requests() const { return state_->counts().stream_requests; }
    /// 503 and 429 answers given by the failure knobs.
    std::size_t requests_refused() const { return state_->counts().requests_refused; }
    /// One record per stream that wrote a token while record_stream_timings was on.
    std::vector<stream_timing> stream_timings() const { return state_->stream_timings(); }
    /// The live readers.
    std::vector<reader_state> readers() const { return state_->options().readers; }

private:
    static std::string normalised(std::string prefix)
    {
        if (!prefix.empty() && prefix.front() != '/')
            throw std::invalid_argument("takeoff-emulator: a route prefix must start with '/'");
        while (!prefix.empty() && prefix.back() == '/')
            prefix.pop_back();
        return prefix;
    }

    static void add(server& s, const wrapper& wrap, http::verb method, std::string path, handler h,
                    path_match match = path_match::exact)
    {
        s.route(method, std::move(path), wrap ? wrap(std::move(h)) : std::move(h), match);
    }

    // Sends a route's answer: the response, or the planned stream.
    static asio::awaitable<void> send(std::shared_ptr<detail::takeoff_state> st, exchange& ex,
                                      detail::takeoff_answer answer, std::chrono::steady_clock::time_point received)
    {
        if (answer.response) {
            http_response response = std::move(*answer.response);
            co_await ex.async_respond(std::move(response));
            co_return;
        }
        const auto id = ex.request()["X-Request-Id"];
        std::string request_id(id.data(), id.size());
        asio::awaitable<void> streaming =
            detail::write_stream(std::move(st), ex, std::move(*answer.stream), received, std::move(request_id));
        co_await std::move(streaming);
    }

    std::shared_ptr<detail::takeoff_state> state_;
};

} // namespace takeoff::emulator

#pragma once
// POST /tokenize/{reader_id}, /detokenize/{reader_id} and /chat_template/{reader_id} (reference
// §2.7, §2.8): requests addressed to one reader, not to a consumer group.
//
//     auto t = api::tokenize(api::reader_id("primary-0"), "hello world");      // api::tokenization
//     auto text = api::detokenize(api::reader_id("primary-0"), std::vector<std::int64_t>{1, 2});
//     auto prompt = api::chat_template(api::reader_id("primary-0"), {{"user", "Hi"}}).add_generation_prompt(true);
//
// The reader id is a key of live_readers in /status (see inference_status::readers_in) and goes in
// the path, percent-encoded. A consumer_group where the reader id belongs does not compile.

#include <takeoff/api/chat_message.hpp>
#include <takeoff/api/detail/json_reply.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace takeoff::api {

/// What /tokenize answers: the tokens' text and their count (tokens_count, or the number of tokens
/// when the server sends no count).
struct tokenization {
    std::vector<std::string> tokens;
    std::size_t count = 0;
    friend bool operator==(const tokenization&, const tokenization&) = default;
};

namespace detail {
template <class T>
inline constexpr bool reader_id_expected = false;
} // namespace detail

/// POST /tokenize/{reader_id} of a text (Text = std::string) or of a pair of texts tokenized
/// together (Text = text_pair). Made by api::tokenize.
template <class Text>
class basic_tokenize {
public:
    static_assert(std::same_as<Text, std::string> || std::same_as<Text, std::pair<std::string, std::string>>);
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    using response_type = tokenization;

    basic_tokenize(api::reader_id reader, Text text) : reader_(std::move(reader)), text_(std::move(text)) {}

    /// use_chat_template: tokenize the text as the model's chat template would present it (sent
    /// only when set; the Python client sends true).
    basic_tokenize& use_chat_template(bool on) {
        use_chat_template_ = on;
        return *this;
    }
    /// skip_special_tokens (sent only when set).
    basic_tokenize& skip_special_tokens(bool on) {
        skip_special_tokens_ = on;
        return *this;
    }

    /// The reader addressed.
    const api::reader_id& reader() const noexcept { return reader_; }

    std::string path() const { return detail::reader_path("/tokenize/", reader_); }

    /// {"text": "..." | ["...", "..."], "use_chat_template"?, "skip_special_tokens"?}
    std::string body() const {
        boost::json::object o;
        if constexpr (std::same_as<Text, std::string>)
            o["text"] = text_;
        else
            o["text"] = boost::json::array{text_.first, text_.second};
        if (use_chat_template_) o["use_chat_template"] = *use_chat_template_;
        if (skip_special_tokens_) o["skip_special_tokens"] = *skip_special_tokens_;
        return boost::json::serialize(o);
    }

    /// An empty reader id would address /tokenize/ itself: errc::invalid_argument.
    boost::system::error_code validate(diagnostics& diag) const {
        if (reader_.str().empty()) return detail::empty_reader_id(diag, "/tokenize");
        return {};
    }

    /// {"tokens": ["...", ...], "tokens_count"?: n}
    boost::system::result<tokenization> parse_response(const http::response& resp, diagnostics& diag) const {
        static constexpr std::string_view what = "/tokenize";
        auto reply = detail::parse_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        auto tokens = detail::member(*reply, "tokens", what, diag);
        if (!tokens) return tokens.error();
        const auto* arr = (*tokens)->if_array();
        if (!arr) return detail::bad_reply(diag, what, "has a 'tokens' that is not an array");
        tokenization out;
        out.tokens.reserve(arr->size());
        for (const auto& t : *arr) {
            if (!t.is_string()) return detail::bad_reply(diag, what, "has a token that is not a string");
            out.tokens.emplace_back(t.get_string());
        }
        out.count = out.tokens.size();
        if (const auto* n = reply->as_object().if_contains("tokens_count"); n && !n->is_null()) {
            auto count = detail::integer(*n);
            if (!count || *count < 0) return detail::bad_reply(diag, what, "has a 'tokens_count' that is not a count");
            out.count = static_cast<std::size_t>(*count);
        }
        return out;
    }

private:
    api::reader_id reader_;
    Text text_;
    std::optional<bool> use_chat_template_;
    std::optional<bool> skip_special_tokens_;
};

/// POST /detokenize/{reader_id} of token texts (Token = std::string) or token ids (std::int64_t).
/// Made by api::detokenize.
template <class Token>
class basic_detokenize {
public:
    static_assert(std::same_as<Token, std::string> || std::same_as<Token, std::int64_t>);
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// The text the tokens spell.
    using response_type = std::string;

    basic_detokenize(api::reader_id reader, std::vector<Token> tokens)
        : reader_(std::move(reader)), tokens_(std::move(tokens)) {}

    /// skip_special_tokens (sent only when set; the Python client sends true).
    basic_detokenize& skip_special_tokens(bool on) {
        skip_special_tokens_ = on;
        return *this;
    }

    /// The reader addressed.
    const api::reader_id& reader() const noexcept { return reader_; }

    std::string path() const { return detail::reader_path("/detokenize/", reader_); }

    /// {"tokens": [...], "skip_special_tokens"?}
    std::string body() const {
        boost::json::object o;
        boost::json::array a;
        a.reserve(tokens_.size());
        for (const auto& t : tokens_) a.emplace_back(t);
        o["tokens"] = std::move(a);
        if (skip_special_tokens_) o["skip_special_tokens"] = *skip_special_tokens_;
        return boost::json::serialize(o);
    }

    /// An empty reader id: errc::invalid_argument.
    boost::system::error_code validate(diagnostics& diag) const {
        if (reader_.str().empty()) return detail::empty_reader_id(diag, "/detokenize");
        return {};
    }

    /// {"text": "..."}
    boost::system::result<std::string> parse_response(const http::response& resp, diagnostics& diag) const {
        auto reply = detail::parse_object_reply(resp.body, "/detokenize", diag);
        if (!reply) return reply.error();
        return detail::string_member(*reply, "text", "/detokenize", diag);
    }

private:
    api::reader_id reader_;
    std::vector<Token> tokens_;
    std::optional<bool> skip_special_tokens_;
};

/// POST /chat_template/{reader_id}: the prompt the model's chat template makes of one conversation
/// (Batch = false: completes with std::string) or of several (true: one string per conversation).
/// Made by api::chat_template.
template <bool Batch>
class basic_chat_template {
public:
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// True for several conversations.
    static constexpr bool is_batch = Batch;
    using conversations_type =
        std::conditional_t<Batch, std::vector<std::vector<chat_message>>, std::vector<chat_message>>;
    /// The templated prompt, or one per conversation in order.
    using response_type = std::conditional_t<Batch, std::vector<std::string>, std::string>;

    basic_chat_template(api::reader_id reader, conversations_type inputs)
        : reader_(std::move(reader)), inputs_(std::move(inputs)) {}

    /// add_generation_prompt: end the prompt with the template's cue for the assistant's answer
    /// (sent only when set; the server's default is false).
    basic_chat_template& add_generation_prompt(bool on) {
        add_generation_prompt_ = on;
        return *this;
    }

    /// The reader addressed.
    const api::reader_id& reader() const noexcept { return reader_; }

    std::string path() const { return detail::reader_path("/chat_template/", reader_); }

    /// {"inputs": [[{"role", "content"}, ...], ...], "add_generation_prompt"?}: always a batch of
    /// conversations on the wire.
    std::string body() const {
        boost::json::object o;
        boost::json::array batch;
        auto add = [&batch](const std::vector<chat_message>& conversation) {
            boost::json::array messages;
            messages.reserve(conversation.size());
            for (const auto& m : conversation) messages.emplace_back(detail::to_json_object(m));
            batch.emplace_back(std::move(messages));
        };
        if constexpr (Batch)
            for (const auto& c : inputs_) add(c);
        else
            add(inputs_);
        o["inputs"] = std::move(batch);
        if (add_generation_prompt_) o["add_generation_prompt"] = *add_generation_prompt_;
        return boost::json::serialize(o);
    }

    /// Checked before sending (the server answers 400): an empty reader id, no conversation or an
    /// empty conversation give errc::invalid_argument.
    boost::system::error_code validate(diagnostics& diag) const {
        if (reader_.str().empty()) return detail::empty_reader_id(diag, "/chat_template");
        auto fail = [&](std::string message) {
            diag.set_client_message(std::move(message));
            return make_error_code(errc::invalid_argument);
        };
        if constexpr (Batch) {
            if (inputs_.empty()) return fail("the /chat_template request has no conversation");
            for (std::size_t i = 0; i < inputs_.size(); ++i)
                if (inputs_[i].empty())
                    return fail("the /chat_template request's conversation " + std::to_string(i) + " has no message");
        } else {
            if (inputs_.empty()) return fail("the /chat_template request's conversation has no message");
        }
        return {};
    }

    /// {"messages": ["...", ...]}: one prompt per conversation sent.
    boost::system::result<response_type> parse_response(const http::response& resp, diagnostics& diag) const {
        static constexpr std::string_view what = "/chat_template";
        auto reply = detail::parse_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        auto messages = detail::member(*reply, "messages", what, diag);
        if (!messages) return messages.error();
        const auto* arr = (*messages)->if_array();
        if (!arr) return detail::bad_reply(diag, what, "has a 'messages' that is not an array");
        const std::size_t expected = Batch ? inputs_.size() : 1;
        if (arr->size() != expected)
            return detail::bad_reply(diag, what,
                                     "has " + std::to_string(arr->size()) + " prompts for " + std::to_string(expected) +
                                         " conversations");
        std::vector<std::string> out;
        out.reserve(arr->size());
        for (const auto& m : *arr) {
            if (!m.is_string()) return detail::bad_reply(diag, what, "has a prompt that is not a string");
            out.emplace_back(m.get_string());
        }
        if constexpr (Batch)
            return out;
        else
            return std::move(out.front());
    }

private:
    api::reader_id reader_;
    conversations_type inputs_;
    std::optional<bool> add_generation_prompt_;
};

/// POST /tokenize/{reader_id} of a text: completes with its tokens.
inline basic_tokenize<std::string> tokenize(reader_id reader, std::string text) {
    return {std::move(reader), std::move(text)};
}
/// POST /tokenize/{reader_id} of two texts tokenized as a pair (as a reranker sees them).
inline basic_tokenize<std::pair<std::string, std::string>> tokenize(reader_id reader,
                                                                     std::pair<std::string, std::string> texts) {
    return {std::move(reader), std::move(texts)};
}
/// POST /detokenize/{reader_id} of token texts: completes with the text.
inline basic_detokenize<std::string> detokenize(reader_id reader, std::vector<std::string> tokens) {
    return {std::move(reader), std::move(tokens)};
}
/// POST /detokenize/{reader_id} of token ids: completes with the text.
inline basic_detokenize<std::int64_t> detokenize(reader_id reader, std::vector<std::int64_t> tokens) {
    return {std::move(reader), std::move(tokens)};
}
/// POST /chat_template/{reader_id} of one conversation: completes with the prompt.
inline basic_chat_template<false> chat_template(reader_id reader, std::vector<chat_message> conversation) {
    return {std::move(reader), std::move(conversation)};
}
/// As above for a braced list of messages (`{{"user", "Hi"}}` would otherwise also read as a list
/// of conversations).
inline basic_chat_template<false> chat_template(reader_id reader, std::initializer_list<chat_message> conversation) {
    return {std::move(reader), std::vector<chat_message>(conversation)};
}
/// POST /chat_template/{reader_id} of several conversations: completes with one prompt each.
inline basic_chat_template<true> chat_template(reader_id reader, std::vector<std::vector<chat_message>> conversations) {
    return {std::move(reader), std::move(conversations)};
}

/// A consumer_group where a reader_id belongs: these routes address one reader (find its id with
/// api::status() and inference_status::readers_in(group)).
template <class Group, class... Rest>
    requires std::same_as<std::remove_cvref_t<Group>, consumer_group>
void tokenize(Group&&, Rest&&...) {
    static_assert(detail::reader_id_expected<Group>,
                  "tokenize takes a reader_id, not a consumer_group: find the reader with api::status().readers_in(group)");
}
/// See tokenize(consumer_group, ...).
template <class Group, class... Rest>
    requires std::same_as<std::remove_cvref_t<Group>, consumer_group>
void detokenize(Group&&, Rest&&...) {
    static_assert(detail::reader_id_expected<Group>,
                  "detokenize takes a reader_id, not a consumer_group: find the reader with api::status().readers_in(group)");
}
/// See tokenize(consumer_group, ...).
template <class Group, class... Rest>
    requires std::same_as<std::remove_cvref_t<Group>, consumer_group>
void chat_template(Group&&, Rest&&...) {
    static_assert(detail::reader_id_expected<Group>,
                  "chat_template takes a reader_id, not a consumer_group: find the reader with api::status().readers_in(group)");
}

} // namespace takeoff::api

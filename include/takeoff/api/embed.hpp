#pragma once
// POST /embed (reference §2.5): text to embedding vectors.
//
//     auto one = api::embed("The cat sat");                                  // std::vector<float>
//     auto many = api::embed(std::vector<std::string>{"a", "b"}).consumer_group(api::consumer_group("embed"));
//
// One text gives one vector, a batch one vector per text in order (the count is checked). The
// OpenAI-compatible /v1/embeddings is openai::embeddings (openai.hpp).

#include <takeoff/api/detail/json_reply.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <concepts>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace takeoff::api {

/// POST /embed of one text (Text = std::string) or a batch (std::vector<std::string>). Made by
/// api::embed.
template <class Text>
class basic_embed {
public:
    static_assert(std::same_as<Text, std::string> || std::same_as<Text, std::vector<std::string>>);
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// True for a batch of texts.
    static constexpr bool is_batch = std::same_as<Text, std::vector<std::string>>;

    /// A vector of floats, or one per text in order.
    using response_type = std::conditional_t<is_batch, std::vector<std::vector<float>>, std::vector<float>>;

    explicit basic_embed(Text text) : text_(std::move(text)) {}

    /// The reader group of embedding models to use (unset: the server's default, "primary").
    basic_embed& consumer_group(api::consumer_group g) {
        consumer_group_ = std::move(g);
        return *this;
    }

    /// The text or texts.
    const Text& text() const noexcept { return text_; }

    std::string path() const { return "/embed"; }

    /// {"text": ..., "consumer_group"?}
    std::string body() const {
        boost::json::object o;
        if constexpr (is_batch)
            o["text"] = detail::string_array(text_);
        else
            o["text"] = text_;
        if (consumer_group_) o["consumer_group"] = consumer_group_->str();
        return boost::json::serialize(o);
    }

    /// {"result": [f, ...]} for one text ([[f, ...]] accepted too), {"result": [[...], ...]} with
    /// one vector per text for a batch.
    boost::system::result<response_type> parse_response(const http::response& resp, diagnostics& diag) const {
        auto reply = detail::parse_reply(resp.body, "/embed", diag);
        if (!reply) return reply.error();
        auto result = detail::member(*reply, "result", "/embed", diag);
        if (!result) return result.error();
        if constexpr (is_batch)
            return detail::vector_batch<float>(**result, text_.size(), "/embed", "result", "texts", diag);
        else
            return detail::single_vector<float>(**result, "/embed", "result", diag);
    }

private:
    Text text_;
    std::optional<api::consumer_group> consumer_group_;
};

/// POST /embed of one text: completes with its embedding.
inline basic_embed<std::string> embed(std::string text) { return basic_embed<std::string>(std::move(text)); }
/// POST /embed of a batch: completes with one embedding per text, in order.
inline basic_embed<std::vector<std::string>> embed(std::vector<std::string> texts) {
    return basic_embed<std::vector<std::string>>(std::move(texts));
}

} // namespace takeoff::api

#pragma once
// POST /classify (reference §2.6): scores from a sequence-classification model, and reranking.
//
//     auto scores = api::classify("I loved it");                           // std::vector<double>
//     auto each = api::classify(std::vector<std::string>{"good", "bad"});  // one vector per text
//     auto ranked = api::rerank("capital of France?", {"Paris is ...", "Berlin is ..."});
//
// Takeoff has no /rerank route: reranking is /classify with [query, document] pairs, which the
// server joins with the tokenizer's separator; each pair gets a score vector (one score for a
// reranker). One text gives one score vector, a batch or pairs one per item in order (the count is
// checked).

#include <takeoff/api/detail/json_reply.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <concepts>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace takeoff::api {

/// A pair of texts the model scores together: a (query, document) for a reranker, a (question,
/// context) for extractive QA.
using text_pair = std::pair<std::string, std::string>;

/// POST /classify of one text (Input = std::string), a batch (std::vector<std::string>) or pairs
/// (std::vector<text_pair>). Made by api::classify and api::rerank.
template <class Input>
class basic_classify {
public:
    static_assert(std::same_as<Input, std::string> || std::same_as<Input, std::vector<std::string>> ||
                  std::same_as<Input, std::vector<text_pair>>);
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// True for a batch of texts or pairs.
    static constexpr bool is_batch = !std::same_as<Input, std::string>;

    /// A score vector, or one per item in order.
    using response_type = std::conditional_t<is_batch, std::vector<std::vector<double>>, std::vector<double>>;

    explicit basic_classify(Input input) : input_(std::move(input)) {}

    /// The reader group of the classification model. Unset, none is sent and the server uses its
    /// default ("primary"; the Python client sends "classify" instead).
    basic_classify& consumer_group(api::consumer_group g) {
        consumer_group_ = std::move(g);
        return *this;
    }

    /// The text, texts or pairs.
    const Input& input() const noexcept { return input_; }

    std::string path() const { return "/classify"; }

    /// {"text": "..." | ["...", ...] | [["q", "d"], ...], "consumer_group"?}
    std::string body() const {
        boost::json::object o;
        if constexpr (std::same_as<Input, std::string>) {
            o["text"] = input_;
        } else if constexpr (std::same_as<Input, std::vector<std::string>>) {
            o["text"] = detail::string_array(input_);
        } else {
            boost::json::array a;
            a.reserve(input_.size());
            for (const auto& [first, second] : input_) a.emplace_back(boost::json::array{first, second});
            o["text"] = std::move(a);
        }
        if (consumer_group_) o["consumer_group"] = consumer_group_->str();
        return boost::json::serialize(o);
    }

    /// {"result": [[s, ...], ...]}: one score vector per item. For one text the server answers a
    /// batch of one; a flat [s, ...] is accepted too.
    boost::system::result<response_type> parse_response(const http::response& resp, diagnostics& diag) const {
        auto reply = detail::parse_reply(resp.body, "/classify", diag);
        if (!reply) return reply.error();
        auto result = detail::member(*reply, "result", "/classify", diag);
        if (!result) return result.error();
        if constexpr (is_batch)
            return detail::vector_batch<double>(**result, input_.size(), "/classify", "result",
                                                std::same_as<Input, std::vector<text_pair>> ? "pairs" : "texts", diag);
        else
            return detail::single_vector<double>(**result, "/classify", "result", diag);
    }

private:
    Input input_;
    std::optional<api::consumer_group> consumer_group_;
};

/// POST /classify of one text: completes with its scores.
inline basic_classify<std::string> classify(std::string text) { return basic_classify<std::string>(std::move(text)); }
/// POST /classify of a batch: completes with one score vector per text, in order.
inline basic_classify<std::vector<std::string>> classify(std::vector<std::string> texts) {
    return basic_classify<std::vector<std::string>>(std::move(texts));
}
/// POST /classify of text pairs: completes with one score vector per pair, in order.
inline basic_classify<std::vector<text_pair>> classify(std::vector<text_pair> pairs) {
    return basic_classify<std::vector<text_pair>>(std::move(pairs));
}
/// Reranking: POST /classify of the pairs (query, document) for each document; completes with one
/// score vector per document, in order (one score each for a reranker model).
inline basic_classify<std::vector<text_pair>> rerank(const std::string& query, const std::vector<std::string>& documents) {
    std::vector<text_pair> pairs;
    pairs.reserve(documents.size());
    for (const auto& d : documents) pairs.emplace_back(query, d);
    return basic_classify<std::vector<text_pair>>(std::move(pairs));
}

} // namespace takeoff::api

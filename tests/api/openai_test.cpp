// The OpenAI-compatible request types (sans-io): chat completions, buffered and streamed, and
// embeddings.
#include <takeoff/api/openai.hpp>
#include <takeoff/api/validate.hpp>

#include "api_test_support.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace api = takeoff::api;
namespace oai = takeoff::api::openai;
using api_test::json;
using api_test::message;
using api_test::reply;
using takeoff::errc;

static_assert(api::buffered_request<oai::basic_chat<false>>);
static_assert(!api::streaming_request<oai::basic_chat<false>>);
static_assert(api::streaming_request<oai::basic_chat<true>>);
static_assert(!api::buffered_request<oai::basic_chat<true>>);
static_assert(api::buffered_request<oai::basic_embeddings<std::string>>);

namespace {
const api::consumer_group primary = api::consumer_group::primary();
}

TEST_CASE("openai chat: POST /v1/chat/completions on the OpenAI base URL; only set fields; stream only when streamed") {
    auto req = oai::chat(primary, {{"system", "Be brief"}, {"user", "Hello"}});
    const auto http = api::to_http_request(api::openai_url(), req);
    CHECK(http.method == boost::beast::http::verb::post);
    CHECK(http.url.buffer() == "http://localhost:3003/v1/chat/completions");
    CHECK(http.headers[boost::beast::http::field::accept] == "application/json");
    CHECK(req.body() ==
          R"({"model":"primary","messages":[{"role":"system","content":"Be brief"},{"role":"user","content":"Hello"}]})");
    req.max_tokens(64).temperature(0.0).top_p(0.5);
    CHECK(json(req.body()) == json(R"({"model":"primary","messages":[{"role":"system","content":"Be brief"},
        {"role":"user","content":"Hello"}],"max_tokens":64,"temperature":0.0,"top_p":0.5})"));
    const auto stream = oai::chat_stream(api::consumer_group("chat"), {{"user", "Hi"}}).temperature(2.0);
    CHECK(json(stream.body()) ==
          json(R"({"model":"chat","messages":[{"role":"user","content":"Hi"}],"temperature":2.0,"stream":true})"));
    CHECK(api::to_http_request(api::openai_url(), stream).headers[boost::beast::http::field::accept] == "text/event-stream");
}

TEST_CASE("openai temperature: [0, 2] at run time, with the rule in diag") {
    takeoff::diagnostics diag;
    CHECK(oai::temperature::runtime(0.0)->value() == 0.0);
    CHECK(oai::temperature::runtime(2.0)->value() == 2.0);
    auto high = oai::temperature::runtime(2.5, diag);
    REQUIRE(high.has_error());
    CHECK(high.error() == errc::out_of_range);
    CHECK(diag.client_message() == "OpenAI temperature must lie in [0, 2]");
    CHECK(oai::temperature::runtime(-0.1).has_error());
}

TEST_CASE("openai chat: no message or an empty model is refused before sending") {
    takeoff::diagnostics d1;
    CHECK(api::validate(oai::chat(primary, {}), d1) == errc::invalid_argument);
    CHECK(d1.client_message() == "the chat completion request has no message");
    takeoff::diagnostics d2;
    CHECK(api::validate(oai::chat_stream(api::consumer_group(""), {{"user", "x"}}), d2) == errc::invalid_argument);
    CHECK(d2.client_message() == "the chat completion request has an empty model (consumer group)");
    takeoff::diagnostics ok;
    CHECK_FALSE(api::validate(oai::chat(primary, {{"user", "x"}}), ok));
}

TEST_CASE("openai chat: the completion, its choices and usage; text() is the first choice's content") {
    takeoff::diagnostics diag;
    auto r = oai::chat(primary, {{"user", "Hi"}})
                 .parse_response(reply(R"({"id":"chatcmpl-emu-1","object":"chat.completion","created":1700000000,
        "model":"primary","choices":[{"index":0,"message":{"role":"assistant","content":" hello\nthere"},
        "finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})"),
                                 diag);
    REQUIRE(r.has_value());
    CHECK(r->id == "chatcmpl-emu-1");
    CHECK(r->model == "primary");
    REQUIRE(r->choices.size() == 1);
    CHECK(r->choices[0] == oai::choice{0, {"assistant", " hello\nthere"}, std::optional<std::string>("length")});
    CHECK(r->usage == std::optional<oai::usage>(oai::usage{1, 2, 3}));
    CHECK(r->text() == " hello\nthere");
}

TEST_CASE("openai chat: lenient where OpenAI servers differ (no id, no usage, null content and finish_reason)") {
    takeoff::diagnostics diag;
    auto r = oai::chat(primary, {{"user", "Hi"}})
                 .parse_response(reply(R"({"choices":[{"message":{"content":null},"finish_reason":null},
                                                      {"index":1,"message":{"role":"assistant","content":"b"}}]})"),
                                 diag);
    REQUIRE(r.has_value());
    CHECK(r->id.empty());
    CHECK_FALSE(r->usage.has_value());
    REQUIRE(r->choices.size() == 2);
    CHECK(r->choices[0] == oai::choice{0, {"assistant", ""}, std::nullopt});
    CHECK(r->choices[1].index == 1);
    CHECK(r->text().empty());
    CHECK(oai::chat_completion{}.text().empty());
}

TEST_CASE("openai chat: broken replies and reported errors") {
    struct row {
        std::string body;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"id":"x"})", "the /v1/chat/completions reply has no 'choices'"},
        {R"({"choices":{}})", "the /v1/chat/completions reply has a 'choices' that is not an array"},
        {R"({"choices":[]})", "the /v1/chat/completions reply has no choice"},
        {R"({"choices":[1]})", "the /v1/chat/completions reply has a choice that is not an object"},
        {R"({"choices":[{"index":0}]})", "the /v1/chat/completions reply has a choice with no 'message'"},
        {R"({"choices":[{"message":"hi"}]})", "the /v1/chat/completions reply has a choice whose 'message' is not an object"},
        {R"({"choices":[{"message":{"content":1}}]})", "the /v1/chat/completions reply has a 'content' that is not a string"},
        {R"({"choices":[{"index":-1,"message":{}}]})",
         "the /v1/chat/completions reply has an 'index' that is not a non-negative integer"},
        {R"({"choices":[{"message":{}}],"usage":{"total_tokens":"3"}})",
         "the /v1/chat/completions reply has a 'usage.total_tokens' that is not an integer"},
        {R"({"choices":[{"message":{}}],"usage":[]})", "the /v1/chat/completions reply has a 'usage' that is not an object"},
        {R"({"id":7,"choices":[{"message":{}}]})", "the /v1/chat/completions reply has a 'id' that is not a string"},
    };
    const auto req = oai::chat(primary, {{"user", "Hi"}});
    for (const auto& row : rows) {
        CAPTURE(row.body);
        takeoff::diagnostics d;
        auto res = req.parse_response(reply(row.body), d);
        REQUIRE(res.has_error());
        CHECK(res.error() == errc::invalid_response);
        CHECK(d.client_message() == row.message);
    }
    takeoff::diagnostics d;
    auto err = req.parse_response(reply(R"({"error":{"message":"model not found","type":"invalid_request_error"}})"), d);
    REQUIRE(err.has_error());
    CHECK(err.error() == errc::invalid_response);
    CHECK(d.client_message() == "the /v1/chat/completions reply reports an error");
    CHECK(d.server_message() == "model not found");
}

TEST_CASE("openai chat_stream: role chunk, content chunks, finish chunk, then [DONE] ends the stream") {
    const auto req = oai::chat_stream(primary, {{"user", "Hi"}});
    takeoff::diagnostics diag;
    auto first = req.parse_event(message(R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"primary",
        "choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"),
                                 diag);
    REQUIRE(first.has_value());
    CHECK_FALSE(first->end);
    CHECK(first->event == std::optional<oai::chat_chunk>(oai::chat_chunk{0, "", "assistant", std::nullopt}));
    auto token = req.parse_event(message(R"({"choices":[{"index":0,"delta":{"content":" line\nbreak"}}]})"), diag);
    REQUIRE(token.has_value());
    CHECK(token->event == std::optional<oai::chat_chunk>(oai::chat_chunk{0, " line\nbreak", std::nullopt, std::nullopt}));
    auto last = req.parse_event(message(R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})"), diag);
    REQUIRE(last.has_value());
    CHECK(last->event == std::optional<oai::chat_chunk>(oai::chat_chunk{0, "", std::nullopt, "length"}));
    auto done = req.parse_event(message("[DONE]"), diag);
    REQUIRE(done.has_value());
    CHECK(done->end);
    CHECK_FALSE(done->event.has_value());
}

TEST_CASE("openai chat_stream: usage-only chunks and other event types are skipped; broken events are errors") {
    const auto req = oai::chat_stream(primary, {{"user", "Hi"}});
    takeoff::diagnostics diag;
    auto usage = req.parse_event(message(R"({"choices":[],"usage":{"total_tokens":3}})"), diag);
    REQUIRE(usage.has_value());
    CHECK_FALSE(usage->event.has_value());
    CHECK_FALSE(usage->end);
    auto ping = req.parse_event(takeoff::sse::event{"ping", "[DONE]", ""}, diag);
    REQUIRE(ping.has_value());
    CHECK_FALSE(ping->event.has_value());
    CHECK_FALSE(ping->end);

    struct row {
        std::string data;
        errc code;
        std::string message;
    };
    const std::vector<row> rows = {
        {"hello", errc::invalid_json, ""},
        {R"({"id":"x"})", errc::invalid_response, "the /v1/chat/completions stream event reply has no 'choices'"},
        {R"({"choices":[{"delta":"x"}]})", errc::invalid_response,
         "the /v1/chat/completions stream event reply has a 'delta' that is not an object"},
        {R"({"choices":[{"delta":{"content":5}}]})", errc::invalid_response,
         "the /v1/chat/completions stream event reply has a 'content' that is not a string"},
        {R"({"error":{"message":"reader died"}})", errc::invalid_response,
         "the /v1/chat/completions stream event reply reports an error"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.data);
        takeoff::diagnostics d;
        auto res = req.parse_event(message(row.data), d);
        REQUIRE(res.has_error());
        CHECK(res.error() == row.code);
        if (!row.message.empty()) CHECK(d.client_message() == row.message);
    }
}

TEST_CASE("openai embeddings: input and model; data put in input order by index") {
    const auto one = oai::embeddings(api::consumer_group("embed"), "The cat sat");
    const auto http = api::to_http_request(api::openai_url(), one);
    CHECK(http.url.buffer() == "http://localhost:3003/v1/embeddings");
    CHECK(one.body() == R"({"input":"The cat sat","model":"embed"})");
    const auto batch = oai::embeddings(api::consumer_group("embed"), std::vector<std::string>{"a", "b", "c"});
    CHECK(batch.body() == R"({"input":["a","b","c"],"model":"embed"})");

    takeoff::diagnostics diag;
    auto vec = one.parse_response(reply(R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,1]}],
        "model":"embed","usage":{"prompt_tokens":3,"total_tokens":3}})"),
                                  diag);
    REQUIRE(vec.has_value());
    CHECK(*vec == std::vector<float>{0.5f, 1.0f});
    auto shuffled = batch.parse_response(
        reply(R"({"data":[{"index":2,"embedding":[3]},{"index":0,"embedding":[1]},{"index":1,"embedding":[2]}]})"), diag);
    REQUIRE(shuffled.has_value());
    CHECK(*shuffled == std::vector<std::vector<float>>{{1.0f}, {2.0f}, {3.0f}});
    auto unindexed = batch.parse_response(reply(R"({"data":[{"embedding":[1]},{"embedding":[2]},{"embedding":[3]}]})"), diag);
    REQUIRE(unindexed.has_value());
    CHECK(*unindexed == std::vector<std::vector<float>>{{1.0f}, {2.0f}, {3.0f}});
}

TEST_CASE("openai embeddings: the {\"result\"} body of /embed is accepted too") {
    takeoff::diagnostics diag;
    auto one = oai::embeddings(primary, "x").parse_response(reply(R"({"result":[0.25,0.5]})"), diag);
    REQUIRE(one.has_value());
    CHECK(*one == std::vector<float>{0.25f, 0.5f});
    auto batch = oai::embeddings(primary, std::vector<std::string>{"a", "b"}).parse_response(reply(R"({"result":[[1],[2]]})"), diag);
    REQUIRE(batch.has_value());
    CHECK(*batch == std::vector<std::vector<float>>{{1.0f}, {2.0f}});
}

TEST_CASE("openai embeddings: counts, indexes and shapes are checked") {
    const auto batch = oai::embeddings(primary, std::vector<std::string>{"a", "b"});
    struct row {
        std::string body;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"data":[{"index":0,"embedding":[1]}]})", "the /v1/embeddings reply has 1 embeddings for 2 texts"},
        {R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})",
         "the /v1/embeddings reply has an 'index' that is not the position of a text sent, or repeats one"},
        {R"({"data":[{"index":0,"embedding":[1]},{"index":2,"embedding":[2]}]})",
         "the /v1/embeddings reply has an 'index' that is not the position of a text sent, or repeats one"},
        {R"({"data":[{"index":0,"embedding":[1]},{"index":1}]})", "the /v1/embeddings reply has a 'data' item with no 'embedding'"},
        {R"({"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":"x"}]})",
         "the /v1/embeddings reply has an 'embedding' that is not an array of numbers"},
        {R"({"data":[1,2]})", "the /v1/embeddings reply has a 'data' item that is not an object"},
        {R"({"data":{}})", "the /v1/embeddings reply has a 'data' that is not an array"},
        {R"({"object":"list"})", "the /v1/embeddings reply has neither 'data' nor 'result'"},
        {R"({"result":[[1]]})", "the /v1/embeddings reply has 1 results for 2 texts"},
        {R"({"error":{"message":"no such model"}})", "the /v1/embeddings reply reports an error"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.body);
        takeoff::diagnostics d;
        auto res = batch.parse_response(reply(row.body), d);
        REQUIRE(res.has_error());
        CHECK(res.error() == errc::invalid_response);
        CHECK(d.client_message() == row.message);
    }
}

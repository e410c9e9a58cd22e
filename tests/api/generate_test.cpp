// api::generate and api::generate_stream (sans-io): bodies, reply and event parsing, checked
// sampling values and the http::request they become.
#include <takeoff/api/generate.hpp>

#include "api_test_support.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <limits>
#include <string>
#include <vector>

namespace api = takeoff::api;
using api_test::json;
using api_test::message;
using api_test::reply;
using takeoff::errc;

static_assert(api::buffered_request<api::basic_generate<false, std::string>>);
static_assert(!api::streaming_request<api::basic_generate<false, std::string>>);
static_assert(api::streaming_request<api::basic_generate<true, std::vector<std::string>>>);
static_assert(!api::buffered_request<api::basic_generate<true, std::string>>);

TEST_CASE("generate: a prompt with nothing set sends only text") {
    const auto req = api::generate("List three things to do in London: ");
    CHECK(req.path() == "/generate");
    CHECK(req.body() == R"({"text":"List three things to do in London: "})");
    CHECK(api::generate_stream("x").path() == "/generate_stream");
    CHECK(api::generate_stream("x").body() == R"({"text":"x"})");
}

TEST_CASE("generate: every field set is sent under Takeoff's name, and no other") {
    auto req = api::generate("pi is ");
    req.consumer_group(api::consumer_group("llama"))
        .temperature(0.5)
        .top_p(0.9)
        .top_k(10)
        .repetition_penalty(1.25)
        .no_repeat_ngram_size(3)
        .max_new_tokens(64)
        .min_new_tokens(2)
        .prompt_max_tokens(512)
        .constrained_decoding_backend(api::decoding_backend::outlines)
        .return_metadata(true)
        .use_chat_template(false)
        .lora_id("adapter-1");
    CHECK(json(req.body()) == json(R"({"text":"pi is ","consumer_group":"llama","sampling_temperature":0.5,
        "sampling_topp":0.9,"sampling_topk":10,"repetition_penalty":1.25,"no_repeat_ngram_size":3,
        "max_new_tokens":64,"min_new_tokens":2,"prompt_max_tokens":512,
        "constrained_decoding_backend":"outlines","return_metadata":true,"use_chat_template":false,
        "lora_id":"adapter-1"})"));
    auto lmfe = api::generate("x").constrained_decoding_backend(api::decoding_backend::lmfe);
    CHECK(lmfe.body() == R"({"text":"x","constrained_decoding_backend":"lmfe"})");
}

TEST_CASE("generate: a batch sends text as an array, in order") {
    const auto req = api::generate(std::vector<std::string>{"a", "b", "c"}).max_new_tokens(8);
    CHECK(req.body() == R"({"text":["a","b","c"],"max_new_tokens":8})");
    CHECK(api::generate_stream(std::vector<std::string>{"a"}).body() == R"({"text":["a"]})");
}

TEST_CASE("generate: a JSON schema or a regex constraint is sent under json_schema or regex_string") {
    const auto schema = api::generate("a person: ").max_new_tokens(10).json_schema(
        json(R"({"type":"object","properties":{"name":{"type":"string"}}})"));
    CHECK(json(schema.body()) ==
          json(R"({"text":"a person: ","max_new_tokens":10,
                   "json_schema":{"type":"object","properties":{"name":{"type":"string"}}}})"));
    const auto regex = api::generate_stream("pi is ").regex("[0-9]+\\.[0-9]+");
    CHECK(regex.body() == R"({"text":"pi is ","regex_string":"[0-9]+\\.[0-9]+"})");
    CHECK(regex.constraint().pattern == "[0-9]+\\.[0-9]+");
}

TEST_CASE("generate: the reply's text, for one prompt and for a batch") {
    takeoff::diagnostics diag;
    const auto one = api::generate("x").parse_response(reply(R"({"text":" four five"})"), diag);
    REQUIRE(one.has_value());
    CHECK(*one == " four five");
    // Dataiku sends a one-element batch for one prompt; servers then answer an array of one.
    const auto wrapped = api::generate("x").parse_response(reply(R"({"text":["only"]})"), diag);
    REQUIRE(wrapped.has_value());
    CHECK(*wrapped == "only");
    const auto many =
        api::generate(std::vector<std::string>{"a", "b"}).parse_response(reply(R"({"text":["A","B"],"x":1})"), diag);
    REQUIRE(many.has_value());
    CHECK(*many == std::vector<std::string>{"A", "B"});
}

TEST_CASE("generate: a reply that is not JSON is invalid_json, with the body as the server's message") {
    takeoff::diagnostics diag;
    const auto r = api::generate("x").parse_response(reply("Internal error", 200), diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_json);
    CHECK(diag.client_message().starts_with("the /generate reply is not JSON: "));
    CHECK(diag.server_message() == "Internal error");
}

TEST_CASE("generate: a reply without a usable text is invalid_response naming what is wrong") {
    const auto one = api::generate("x");
    const auto batch = api::generate(std::vector<std::string>{"a", "b"});
    struct row {
        std::string body;
        bool is_batch;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"result":"x"})", false, "the /generate reply has no 'text'"},
        {R"(["x"])", false, "the /generate reply is not a JSON object"},
        {R"({"text":3})", false, "the /generate reply 'text' is not a string"},
        {R"({"text":["a","b"]})", false, "the /generate reply 'text' is not a string"},
        {R"({"text":"a"})", true, "the /generate reply 'text' is not an array (a batch was sent)"},
        {R"({"text":["a"]})", true, "the /generate reply has 1 texts for 2 prompts"},
        {R"({"text":["a","b","c"]})", true, "the /generate reply has 3 texts for 2 prompts"},
        {R"({"text":["a",null]})", true, "the /generate reply 'text' holds a non-string"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        takeoff::diagnostics diag;
        const auto ec = r.is_batch ? batch.parse_response(reply(r.body), diag).error()
                                   : one.parse_response(reply(r.body), diag).error();
        CHECK(ec == errc::invalid_response);
        CHECK(diag.client_message() == r.message);
    }
}

TEST_CASE("generate_stream: one prompt's events are the tokens' text; other event types are skipped") {
    const auto req = api::generate_stream("x");
    takeoff::diagnostics diag;
    auto step = req.parse_event(message(" line\nbreak"), diag);
    REQUIRE(step.has_value());
    CHECK_FALSE(step->end);
    REQUIRE(step->event.has_value());
    CHECK(*step->event == " line\nbreak");
    auto empty = req.parse_event(message(""), diag);
    REQUIRE(empty.has_value());
    CHECK(empty->event == std::optional<std::string>(""));
    auto ping = req.parse_event(takeoff::sse::event{"ping", "x", ""}, diag);
    REQUIRE(ping.has_value());
    CHECK_FALSE(ping->event.has_value());
    CHECK_FALSE(ping->end);
}

TEST_CASE("generate_stream: a batch's events carry text and batch_id, checked against the prompts sent") {
    const auto req = api::generate_stream(std::vector<std::string>{"a", "b"});
    takeoff::diagnostics diag;
    auto ok = req.parse_event(message(R"({"text":" d","batch_id":1})"), diag);
    REQUIRE(ok.has_value());
    CHECK(ok->event == std::optional<api::batch_token>(api::batch_token{" d", 1}));

    struct row {
        std::string data;
        errc code;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"text":"x","batch_id":2})", errc::invalid_response,
         "the /generate_stream event reply has a batch_id that is not the index of a prompt sent"},
        {R"({"text":"x","batch_id":-1})", errc::invalid_response,
         "the /generate_stream event reply has a batch_id that is not the index of a prompt sent"},
        {R"({"text":"x","batch_id":"0"})", errc::invalid_response,
         "the /generate_stream event reply has a batch_id that is not the index of a prompt sent"},
        {R"({"text":"x"})", errc::invalid_response, "the /generate_stream event reply has no 'batch_id'"},
        {R"({"batch_id":0})", errc::invalid_response, "the /generate_stream event reply has no 'text'"},
        {R"({"text":1,"batch_id":0})", errc::invalid_response, "the /generate_stream event reply 'text' is not a string"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.data);
        takeoff::diagnostics d;
        auto step = req.parse_event(message(r.data), d);
        REQUIRE(step.has_error());
        CHECK(step.error() == r.code);
        CHECK(d.client_message() == r.message);
    }
    takeoff::diagnostics d;
    auto raw = req.parse_event(message("not json"), d);
    REQUIRE(raw.has_error());
    CHECK(raw.error() == errc::invalid_json);
}

TEST_CASE("sampling values: runtime() applies the same rules as literals, with the rule in diag") {
    takeoff::diagnostics d1, d2, d3, d4, d5, d6, d7;

    auto t = api::temperature::runtime(0.0, d1);
    REQUIRE(t.has_error());
    CHECK(t.error() == errc::out_of_range);
    CHECK(d1.client_message() == "sampling temperature must lie in (0, 100] (for greedy decoding use top_k 1)");
    CHECK(api::temperature::runtime(100.0)->value() == 100.0);
    CHECK(api::temperature::runtime(100.5).has_error());
    CHECK(api::temperature::runtime(std::numeric_limits<double>::quiet_NaN()).has_error());

    auto p = api::top_p::runtime(1.5, d2);
    REQUIRE(p.has_error());
    CHECK(p.error() == errc::out_of_range);
    CHECK(d2.client_message() == "top_p must lie in (0, 1]");
    CHECK(api::top_p::runtime(1.0)->value() == 1.0);

    auto k = api::top_k::runtime(0, d3);
    REQUIRE(k.has_error());
    CHECK(d3.client_message() == "top_k must be at least 1");

    auto rp = api::repetition_penalty::runtime(-1.0, d4);
    REQUIRE(rp.has_error());
    CHECK(d4.client_message() == "repetition_penalty must lie in (0, 100] (1 is none)");

    auto ng = api::no_repeat_ngram_size::runtime(-1, d5);
    REQUIRE(ng.has_error());
    CHECK(d5.client_message() == "no_repeat_ngram_size must not be negative (0 is off)");
    CHECK(api::no_repeat_ngram_size::runtime(0)->value() == 0);

    auto tc = api::token_count::runtime(0, d6);
    REQUIRE(tc.has_error());
    CHECK(d6.client_message() == "a token count must be at least 1");

    auto mt = api::min_token_count::runtime(-3, d7);
    REQUIRE(mt.has_error());
    CHECK(d7.client_message() == "min_new_tokens must not be negative");
    CHECK(api::min_token_count::runtime(0)->value() == 0);

    // A run-time value goes into the request like a literal.
    auto req = api::generate("x").temperature(*api::temperature::runtime(0.25));
    CHECK(json(req.body()) == json(R"({"text":"x","sampling_temperature":0.25})"));
}

TEST_CASE("to_http_request: URL under the base (a path prefix kept), method, body and headers") {
    const auto base = api::inference_url::runtime("https://gw.example.com/takeoff/").value();
    const auto http = api::to_http_request(base, api::generate("x").max_new_tokens(4));
    CHECK(http.method == boost::beast::http::verb::post);
    CHECK(http.url.buffer() == "https://gw.example.com/takeoff/generate");
    CHECK(http.body == R"({"text":"x","max_new_tokens":4})");
    CHECK(http.headers[boost::beast::http::field::content_type] == "application/json");
    CHECK(http.headers[boost::beast::http::field::accept] == "application/json");

    const auto stream = api::to_http_request(api::inference_url(), api::generate_stream("x"));
    CHECK(stream.url.buffer() == "http://localhost:3000/generate_stream");
    CHECK(stream.headers[boost::beast::http::field::accept] == "text/event-stream");

    const auto ingress = api::to_http_request(api::inference_url::runtime("abc-org.snowflakecomputing.app").value(),
                                              api::generate("x"));
    CHECK(ingress.url.buffer() == "https://abc-org.snowflakecomputing.app/generate");
}

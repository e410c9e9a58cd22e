// api::tokenize, detokenize and chat_template (sans-io): reader-addressed paths, bodies, replies.
#include <takeoff/api/tokenize.hpp>
#include <takeoff/api/validate.hpp>

#include "api_test_support.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace api = takeoff::api;
using api_test::reply;
using takeoff::errc;

namespace {
// Whether tokenize can be called with these arguments (a consumer_group is rejected by a
// static_assert inside the body, which a requires-expression cannot see: see
// tests/compile_fail/api_request.cpp for that).
template <class... A>
concept tokenize_callable = requires(A... a) { api::tokenize(a...); };
} // namespace

static_assert(tokenize_callable<api::reader_id, std::string>);
static_assert(!tokenize_callable<std::string, std::string>);
static_assert(!tokenize_callable<const char*, const char*>);
static_assert(api::validated_request<api::basic_tokenize<std::string>>);

TEST_CASE("tokenize: the reader id is one percent-encoded path segment") {
    CHECK(api::tokenize(api::reader_id("primary-0"), "hi").path() == "/tokenize/primary-0");
    CHECK(api::tokenize(api::reader_id("a/b c"), "hi").path() == "/tokenize/a%2Fb%20c");
    CHECK(api::detokenize(api::reader_id("a/b c"), std::vector<std::int64_t>{1}).path() == "/detokenize/a%2Fb%20c");
    CHECK(api::chat_template(api::reader_id("x?y#z"), {{"user", "Hi"}}).path() == "/chat_template/x%3Fy%23z");
    const auto http = api::to_http_request(api::inference_url(), api::tokenize(api::reader_id("a/b"), "hi"));
    CHECK(http.url.buffer() == "http://localhost:3000/tokenize/a%2Fb");
    CHECK(http.method == boost::beast::http::verb::post);
}

TEST_CASE("tokenize: text or a pair; use_chat_template and skip_special_tokens only when set") {
    const api::reader_id r("r");
    CHECK(api::tokenize(r, "hello world").body() == R"({"text":"hello world"})");
    auto pair = api::tokenize(r, std::pair<std::string, std::string>{"q", "d"});
    CHECK(pair.body() == R"({"text":["q","d"]})");
    pair.use_chat_template(true).skip_special_tokens(false);
    CHECK(pair.body() == R"({"text":["q","d"],"use_chat_template":true,"skip_special_tokens":false})");
    CHECK(pair.reader() == r);
}

TEST_CASE("tokenize: tokens and tokens_count, or the number of tokens when no count is sent") {
    const auto req = api::tokenize(api::reader_id("r"), "x");
    takeoff::diagnostics diag;
    auto both = req.parse_response(reply(R"({"tokens":["\u2581hello",",","\u2581world"],"tokens_count":3})"), diag);
    REQUIRE(both.has_value());
    CHECK(both->tokens == std::vector<std::string>{"\xE2\x96\x81hello", ",", "\xE2\x96\x81world"});
    CHECK(both->count == 3);
    auto counted = req.parse_response(reply(R"({"tokens":["a"],"tokens_count":7})"), diag);
    REQUIRE(counted.has_value());
    CHECK(counted->count == 7);
    auto uncounted = req.parse_response(reply(R"({"tokens":["a","b"]})"), diag);
    REQUIRE(uncounted.has_value());
    CHECK(*uncounted == api::tokenization{{"a", "b"}, 2});
    auto null_count = req.parse_response(reply(R"({"tokens":[],"tokens_count":null})"), diag);
    REQUIRE(null_count.has_value());
    CHECK(null_count->count == 0);
}

TEST_CASE("tokenize: broken replies name the fault") {
    const auto req = api::tokenize(api::reader_id("r"), "x");
    struct row {
        std::string body;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"tokens_count":3})", "the /tokenize reply has no 'tokens'"},
        {R"({"tokens":"a b"})", "the /tokenize reply has a 'tokens' that is not an array"},
        {R"({"tokens":[1]})", "the /tokenize reply has a token that is not a string"},
        {R"({"tokens":[],"tokens_count":-1})", "the /tokenize reply has a 'tokens_count' that is not a count"},
        {R"({"tokens":[],"tokens_count":"3"})", "the /tokenize reply has a 'tokens_count' that is not a count"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        takeoff::diagnostics diag;
        auto res = req.parse_response(reply(r.body), diag);
        REQUIRE(res.has_error());
        CHECK(res.error() == errc::invalid_response);
        CHECK(diag.client_message() == r.message);
    }
    takeoff::diagnostics diag;
    CHECK(req.parse_response(reply("nope"), diag).error() == errc::invalid_json);
}

TEST_CASE("detokenize: token texts or ids, skip_special_tokens only when set; the reply's text") {
    const api::reader_id r("r");
    CHECK(api::detokenize(r, std::vector<std::string>{"\xE2\x96\x81hi", "!"}).body() == "{\"tokens\":[\"\xE2\x96\x81hi\",\"!\"]}");
    auto ids = api::detokenize(r, std::vector<std::int64_t>{1, 22, -3});
    CHECK(ids.body() == R"({"tokens":[1,22,-3]})");
    ids.skip_special_tokens(true);
    CHECK(ids.body() == R"({"tokens":[1,22,-3],"skip_special_tokens":true})");
    takeoff::diagnostics diag;
    auto text = ids.parse_response(reply(R"({"text":"tok1 tok22"})"), diag);
    REQUIRE(text.has_value());
    CHECK(*text == "tok1 tok22");
    auto missing = ids.parse_response(reply(R"({"tokens":[]})"), diag);
    REQUIRE(missing.has_error());
    CHECK(missing.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the /detokenize reply has no 'text'");
    auto wrong = ids.parse_response(reply(R"({"text":["a"]})"), diag);
    REQUIRE(wrong.has_error());
    CHECK(diag.client_message() == "the /detokenize reply has a 'text' that is not a string");
}

TEST_CASE("chat_template: one conversation is sent as a batch of one; add_generation_prompt only when set") {
    auto one = api::chat_template(api::reader_id("r"), {{"system", "Be brief"}, {"user", "Hi"}});
    CHECK(one.body() ==
          R"({"inputs":[[{"role":"system","content":"Be brief"},{"role":"user","content":"Hi"}]]})");
    one.add_generation_prompt(true);
    CHECK(one.body() == R"({"inputs":[[{"role":"system","content":"Be brief"},{"role":"user","content":"Hi"}]],"add_generation_prompt":true})");
    const auto many = api::chat_template(api::reader_id("r"),
                                         std::vector<std::vector<api::chat_message>>{{{"user", "a"}}, {{"user", "b"}}});
    CHECK(many.body() == R"({"inputs":[[{"role":"user","content":"a"}],[{"role":"user","content":"b"}]]})");
}

TEST_CASE("chat_template: the reply's messages, one per conversation, count checked") {
    takeoff::diagnostics diag;
    const auto one = api::chat_template(api::reader_id("r"), {{"user", "Hi"}});
    auto prompt = one.parse_response(reply(R"({"messages":["<|user|>\nHi\n"]})"), diag);
    REQUIRE(prompt.has_value());
    CHECK(*prompt == "<|user|>\nHi\n");
    const auto many = api::chat_template(api::reader_id("r"),
                                         std::vector<std::vector<api::chat_message>>{{{"user", "a"}}, {{"user", "b"}}});
    auto prompts = many.parse_response(reply(R"({"messages":["A","B"]})"), diag);
    REQUIRE(prompts.has_value());
    CHECK(*prompts == std::vector<std::string>{"A", "B"});

    struct row {
        std::string body;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"messages":["A"]})", "the /chat_template reply has 1 prompts for 2 conversations"},
        {R"({"messages":["A","B","C"]})", "the /chat_template reply has 3 prompts for 2 conversations"},
        {R"({"messages":"AB"})", "the /chat_template reply has a 'messages' that is not an array"},
        {R"({"messages":["A",2]})", "the /chat_template reply has a prompt that is not a string"},
        {R"({"text":["A","B"]})", "the /chat_template reply has no 'messages'"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        takeoff::diagnostics d;
        auto res = many.parse_response(reply(r.body), d);
        REQUIRE(res.has_error());
        CHECK(res.error() == errc::invalid_response);
        CHECK(d.client_message() == r.message);
    }
    takeoff::diagnostics d;
    auto two_for_one = one.parse_response(reply(R"({"messages":["A","B"]})"), d);
    REQUIRE(two_for_one.has_error());
    CHECK(d.client_message() == "the /chat_template reply has 2 prompts for 1 conversations");
}

TEST_CASE("reader-addressed requests: an empty reader id or an empty conversation is refused before sending") {
    takeoff::diagnostics d1;
    CHECK(api::validate(api::tokenize(api::reader_id(""), "x"), d1) == errc::invalid_argument);
    CHECK(d1.client_message() == "the /tokenize request has an empty reader id");
    takeoff::diagnostics d2;
    CHECK(api::validate(api::detokenize(api::reader_id(""), std::vector<std::int64_t>{}), d2) == errc::invalid_argument);
    CHECK(d2.client_message() == "the /detokenize request has an empty reader id");
    takeoff::diagnostics d3;
    CHECK(api::validate(api::chat_template(api::reader_id("r"), std::vector<api::chat_message>{}), d3) ==
          errc::invalid_argument);
    CHECK(d3.client_message() == "the /chat_template request's conversation has no message");
    takeoff::diagnostics d4;
    CHECK(api::validate(api::chat_template(api::reader_id("r"), std::vector<std::vector<api::chat_message>>{}), d4) ==
          errc::invalid_argument);
    CHECK(d4.client_message() == "the /chat_template request has no conversation");
    takeoff::diagnostics d5;
    CHECK(api::validate(api::chat_template(api::reader_id("r"),
                                           std::vector<std::vector<api::chat_message>>{{{"user", "a"}}, {}}),
                        d5) == errc::invalid_argument);
    CHECK(d5.client_message() == "the /chat_template request's conversation 1 has no message");
    takeoff::diagnostics d6;
    CHECK_FALSE(api::validate(api::chat_template(api::reader_id(""), {{"user", "a"}}), d6) == boost::system::error_code());
    CHECK(d6.client_message() == "the /chat_template request has an empty reader id");
    takeoff::diagnostics ok;
    CHECK_FALSE(api::validate(api::tokenize(api::reader_id("r"), "x"), ok));
    CHECK(ok.empty());
}

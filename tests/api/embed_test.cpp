// api::embed (POST /embed, sans-io): bodies and every reply shape.
#include <takeoff/api/embed.hpp>

#include "api_test_support.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace api = takeoff::api;
using api_test::reply;
using takeoff::errc;

static_assert(api::buffered_request<api::basic_embed<std::string>>);
static_assert(std::same_as<api::basic_embed<std::string>::response_type, std::vector<float>>);
static_assert(std::same_as<api::basic_embed<std::vector<std::string>>::response_type, std::vector<std::vector<float>>>);

TEST_CASE("embed: POST /embed with text, and consumer_group only when set") {
    const auto one = api::embed("The cat sat");
    CHECK(api::basic_embed<std::string>::method == boost::beast::http::verb::post);
    CHECK(api::basic_embed<std::string>::api == api::api_kind::inference);
    CHECK(one.path() == "/embed");
    CHECK(one.body() == R"({"text":"The cat sat"})");
    auto batch = api::embed(std::vector<std::string>{"a", "b"});
    batch.consumer_group(api::consumer_group("embed"));
    CHECK(batch.body() == R"({"text":["a","b"],"consumer_group":"embed"})");
    CHECK(batch.text() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("embed: one text's vector, flat or as a batch of one") {
    takeoff::diagnostics diag;
    auto flat = api::embed("x").parse_response(reply(R"({"result":[0.5,-1,2.25]})"), diag);
    REQUIRE(flat.has_value());
    CHECK(*flat == std::vector<float>{0.5f, -1.0f, 2.25f});
    auto wrapped = api::embed("x").parse_response(reply(R"({"result":[[0.5,0.25]]})"), diag);
    REQUIRE(wrapped.has_value());
    CHECK(*wrapped == std::vector<float>{0.5f, 0.25f});
}

TEST_CASE("embed: a batch gives one vector per text, in order") {
    takeoff::diagnostics diag;
    auto r = api::embed(std::vector<std::string>{"a", "b"}).parse_response(reply(R"({"result":[[1,0],[0,1.5]]})"), diag);
    REQUIRE(r.has_value());
    CHECK(*r == std::vector<std::vector<float>>{{1.0f, 0.0f}, {0.0f, 1.5f}});
}

TEST_CASE("embed: broken replies are invalid_json or invalid_response, naming the fault") {
    const auto one = api::embed("x");
    const auto batch = api::embed(std::vector<std::string>{"a", "b"});
    struct row {
        std::string body;
        bool is_batch;
        errc code;
        std::string message;
    };
    const std::vector<row> rows = {
        {"<html>", false, errc::invalid_json, ""},
        {R"({"text":[1]})", false, errc::invalid_response, "the /embed reply has no 'result'"},
        {R"({"result":"x"})", false, errc::invalid_response, "the /embed reply has a 'result' that is not one array of numbers"},
        {R"({"result":[[1],[2]]})", false, errc::invalid_response,
         "the /embed reply has a 'result' that is not one array of numbers"},
        {R"({"result":[1,"2"]})", false, errc::invalid_response,
         "the /embed reply has a 'result' that is not one array of numbers"},
        {R"({"result":[1,2]})", true, errc::invalid_response,
         "the /embed reply has a result 0 that is not an array of numbers"},
        {R"({"result":[[1]]})", true, errc::invalid_response, "the /embed reply has 1 results for 2 texts"},
        {R"({"result":{}})", true, errc::invalid_response,
         "the /embed reply has a 'result' that is not an array (a batch was sent)"},
        {R"({"result":[[1],[true]]})", true, errc::invalid_response,
         "the /embed reply has a result 1 that is not an array of numbers"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        takeoff::diagnostics diag;
        const auto ec = r.is_batch ? batch.parse_response(reply(r.body), diag).error()
                                   : one.parse_response(reply(r.body), diag).error();
        CHECK(ec == r.code);
        if (!r.message.empty()) CHECK(diag.client_message() == r.message);
    }
}

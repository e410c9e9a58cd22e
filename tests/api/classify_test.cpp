// api::classify and api::rerank (POST /classify, sans-io): bodies and every reply shape.
#include <takeoff/api/classify.hpp>

#include "api_test_support.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace api = takeoff::api;
using api_test::reply;
using takeoff::errc;

static_assert(std::same_as<api::basic_classify<std::string>::response_type, std::vector<double>>);
static_assert(std::same_as<api::basic_classify<std::vector<api::text_pair>>::response_type,
                           std::vector<std::vector<double>>>);

TEST_CASE("classify: a text, a batch and pairs; consumer_group only when set") {
    CHECK(api::classify("I loved it").path() == "/classify");
    CHECK(api::classify("I loved it").body() == R"({"text":"I loved it"})");
    auto batch = api::classify(std::vector<std::string>{"good", "bad"});
    batch.consumer_group(api::consumer_group("classify"));
    CHECK(batch.body() == R"({"text":["good","bad"],"consumer_group":"classify"})");
    const auto pairs = api::classify(std::vector<api::text_pair>{{"q1", "d1"}, {"q2", "d2"}});
    CHECK(pairs.body() == R"({"text":[["q1","d1"],["q2","d2"]]})");
}

TEST_CASE("rerank: one (query, document) pair per document, in order") {
    const auto req = api::rerank("capital of France?", {"Paris is in France", "Berlin"});
    CHECK(req.body() == R"({"text":[["capital of France?","Paris is in France"],["capital of France?","Berlin"]]})");
    CHECK(req.input().size() == 2);
    takeoff::diagnostics diag;
    // The Python client's test reply for a reranker.
    auto three = api::rerank("q", {"a", "b", "c"})
                     .parse_response(reply(R"({"result":[[1.1953125],[-10.1875],[-10.1875]]})"), diag);
    REQUIRE(three.has_value());
    CHECK(*three == std::vector<std::vector<double>>{{1.1953125}, {-10.1875}, {-10.1875}});
}

TEST_CASE("classify: one text's scores, as a batch of one or flat") {
    takeoff::diagnostics diag;
    auto nested = api::classify("x").parse_response(reply(R"({"result":[[0.25,0.75]]})"), diag);
    REQUIRE(nested.has_value());
    CHECK(*nested == std::vector<double>{0.25, 0.75});
    auto flat = api::classify("x").parse_response(reply(R"({"result":[-1,2.5,3]})"), diag);
    REQUIRE(flat.has_value());
    CHECK(*flat == std::vector<double>{-1.0, 2.5, 3.0});
}

TEST_CASE("classify: a batch's score vectors, in order") {
    takeoff::diagnostics diag;
    auto r = api::classify(std::vector<std::string>{"a", "b"}).parse_response(reply(R"({"result":[[0.1,0.9],[0.8,0.2]]})"), diag);
    REQUIRE(r.has_value());
    CHECK(*r == std::vector<std::vector<double>>{{0.1, 0.9}, {0.8, 0.2}});
}

TEST_CASE("classify: a count that does not match what was sent, and other broken replies") {
    takeoff::diagnostics d1;
    auto pairs = api::rerank("q", {"a", "b"}).parse_response(reply(R"({"result":[[1]]})"), d1);
    REQUIRE(pairs.has_error());
    CHECK(pairs.error() == errc::invalid_response);
    CHECK(d1.client_message() == "the /classify reply has 1 results for 2 pairs");

    takeoff::diagnostics d2;
    auto texts = api::classify(std::vector<std::string>{"a"}).parse_response(reply(R"({"result":[[1],[2]]})"), d2);
    REQUIRE(texts.has_error());
    CHECK(d2.client_message() == "the /classify reply has 2 results for 1 texts");

    takeoff::diagnostics d3;
    auto two = api::classify("x").parse_response(reply(R"({"result":[[1],[2]]})"), d3);
    REQUIRE(two.has_error());
    CHECK(two.error() == errc::invalid_response);
    CHECK(d3.client_message() == "the /classify reply has a 'result' that is not one array of numbers");

    takeoff::diagnostics d4;
    auto none = api::classify("x").parse_response(reply(R"({"detail":"x"})"), d4);
    REQUIRE(none.has_error());
    CHECK(d4.client_message() == "the /classify reply has no 'result'");

    takeoff::diagnostics d5;
    auto bad = api::classify("x").parse_response(reply("{"), d5);
    REQUIRE(bad.has_error());
    CHECK(bad.error() == errc::invalid_json);
}

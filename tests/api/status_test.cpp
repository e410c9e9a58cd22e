// api::status and api::healthz (inference API, sans-io): both reader shapes, readers_in, health.
#include <takeoff/api/status.hpp>

#include "api_test_support.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace api = takeoff::api;
using api_test::reply;
using takeoff::errc;

namespace {
api::consumer_group group(const char* g) { return api::consumer_group(g); }
api::reader_id id(const char* r) { return api::reader_id(r); }
} // namespace

TEST_CASE("status: GET /status and GET /healthz on the inference API, no body") {
    const auto s = api::to_http_request(api::inference_url(), api::status());
    CHECK(s.method == boost::beast::http::verb::get);
    CHECK(s.url.buffer() == "http://localhost:3000/status");
    CHECK(s.body.empty());
    CHECK_FALSE(s.headers.contains(boost::beast::http::field::content_type));
    const auto h = api::to_http_request(api::inference_url(), api::healthz());
    CHECK(h.url.buffer() == "http://localhost:3000/healthz");
    CHECK(h.method == boost::beast::http::verb::get);
}

TEST_CASE("status: the 0.19+ shape (consumer_groups arrays), dead readers and ports") {
    takeoff::diagnostics diag;
    auto r = api::status().parse_response(reply(R"({
        "live_readers": {
            "primary-0": {"consumer_groups": ["primary", "chat"], "device": "cuda", "loras": null,
                          "model_name": "llama", "model_type": "CAUSAL"},
            "embed-0": {"consumer_groups": ["embed"], "device": "cpu", "loras": "a,b",
                        "model_name": "bge", "model_type": "EMBEDDING", "enable_document_processing": false}},
        "dead_readers": {"old-1": {"consumer_groups": ["primary"], "device": "cuda", "model_name": "x", "model_type": "CAUSAL"}},
        "ports": [3000, 3001, 3003]})"),
                                          diag);
    REQUIRE(r.has_value());
    REQUIRE(r->live_readers.size() == 2);
    const auto& p = r->live_readers.at(id("primary-0"));
    CHECK(p == api::reader_info{{group("primary"), group("chat")}, "cuda", "llama", "CAUSAL", std::nullopt});
    CHECK(r->live_readers.at(id("embed-0")).loras == std::optional<std::string>("a,b"));
    CHECK(r->dead_readers.size() == 1);
    CHECK(r->dead_readers.at(id("old-1")).model_name == "x");
    CHECK(r->ports == std::vector<int>{3000, 3001, 3003});
    CHECK(r->readers_in(group("primary")) == std::vector<api::reader_id>{id("primary-0")});
    CHECK(r->readers_in(group("chat")) == std::vector<api::reader_id>{id("primary-0")});
    CHECK(r->readers_in(group("embed")) == std::vector<api::reader_id>{id("embed-0")});
    CHECK(r->readers_in(group("nobody")).empty());
}

TEST_CASE("status: the pre-0.19 shape (one consumer_group string, backend for device)") {
    takeoff::diagnostics diag;
    auto r = api::status().parse_response(reply(R"({
        "live_readers": {
            "b": {"consumer_group": "primary", "device": "cpu", "model_name": "m", "model_type": "CAUSAL"},
            "a": {"consumer_group": "primary", "backend": "hf", "model_name": "n", "model_type": "CAUSAL"}}})"),
                                          diag);
    REQUIRE(r.has_value());
    CHECK(r->live_readers.at(id("b")) == api::reader_info{{group("primary")}, "cpu", "m", "CAUSAL", std::nullopt});
    CHECK(r->live_readers.at(id("a")).device == "hf");
    CHECK(r->dead_readers.empty());
    CHECK(r->ports.empty());
    // In id order.
    CHECK(r->readers_in(group("primary")) == std::vector<api::reader_id>{id("a"), id("b")});
}

TEST_CASE("status: a loras value that is not a string is kept as its JSON text; an empty array of readers is no reader") {
    takeoff::diagnostics diag;
    auto r = api::status().parse_response(
        reply(R"({"live_readers": {"r": {"consumer_groups": [], "loras": ["x"]}}, "dead_readers": []})"), diag);
    REQUIRE(r.has_value());
    CHECK(r->live_readers.at(id("r")) == api::reader_info{{}, "", "", "", std::optional<std::string>(R"(["x"])")});
    CHECK(r->dead_readers.empty());
}

TEST_CASE("status: broken replies name the fault") {
    struct row {
        std::string body;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"dead_readers":{}})", "the /status reply has no 'live_readers'"},
        {R"([])", "the /status reply is not a JSON object"},
        {R"({"live_readers":["r"]})", "the /status reply has a 'live_readers' that is not an object"},
        {R"({"live_readers":{"r":"x"}})", "the /status reply has a reader 'r' that is not an object"},
        {R"({"live_readers":{"r":{"consumer_groups":"primary"}}})",
         "the /status reply has a 'consumer_groups' of reader 'r' that is not an array"},
        {R"({"live_readers":{"r":{"consumer_groups":[1]}}})",
         "the /status reply has a 'consumer_groups' of reader 'r' that holds a non-string"},
        {R"({"live_readers":{"r":{"consumer_group":["primary"]}}})",
         "the /status reply has a 'consumer_group' of reader 'r' that is not a string"},
        {R"({"live_readers":{"r":{"model_name":3}}})", "the /status reply has a 'model_name' of reader 'r' that is not a string"},
        {R"({"live_readers":{},"ports":"3000"})", "the /status reply has a 'ports' that is not an array"},
        {R"({"live_readers":{},"ports":[70000]})", "the /status reply has a port that is not a port number"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        takeoff::diagnostics diag;
        auto res = api::status().parse_response(reply(r.body), diag);
        REQUIRE(res.has_error());
        CHECK(res.error() == errc::invalid_response);
        CHECK(diag.client_message() == r.message);
    }
    takeoff::diagnostics diag;
    CHECK(api::status().parse_response(reply(""), diag).error() == errc::invalid_json);
}

TEST_CASE("healthz: any 2xx is ready whatever the body, a 503 not ready, another status its error") {
    takeoff::diagnostics diag;
    CHECK(api::healthz().parse_response(reply(R"({"status":"ok"})"), diag).value() == true);
    CHECK(api::healthz().parse_response(reply("", 204), diag).value() == true);
    CHECK(api::healthz().parse_response(reply("not ready", 503), diag).value() == false);
    auto missing = api::healthz().parse_response(reply("", 404), diag);
    REQUIRE(missing.has_error());
    CHECK(missing.error() == errc::not_found);
    CHECK(diag.client_message() == "/healthz answered HTTP 404");
    CHECK(diag.http_status() == 404);
    takeoff::diagnostics d2;
    auto odd = api::healthz().parse_response(reply("", 302), d2);
    REQUIRE(odd.has_error());
    CHECK(odd.error() == errc::invalid_response);
}

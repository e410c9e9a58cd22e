// The management API's request types (sans-io): reader groups, create/delete a reader, a reader's
// config, the management /status.
#include <takeoff/api/management.hpp>
#include <takeoff/api/validate.hpp>

#include "api_test_support.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

namespace api = takeoff::api;
using api_test::json;
using api_test::reply;
using takeoff::errc;

namespace {
api::reader_config minimal() {
    api::reader_config cfg;
    cfg.model_name = "TheBloke/Llama-2-7B-Chat-AWQ";
    cfg.device = "cuda";
    return cfg;
}
} // namespace

static_assert(api::reader_groups_request::api == api::api_kind::management);
static_assert(api::validated_request<api::create_reader_request>);

TEST_CASE("management: routes, methods and the management base URL") {
    const auto base = api::management_url::runtime("https://mgmt.example.com/p").value();
    const auto groups = api::to_http_request(base, api::reader_groups());
    CHECK(groups.method == boost::beast::http::verb::get);
    CHECK(groups.url.buffer() == "https://mgmt.example.com/p/reader_groups");
    const auto create = api::to_http_request(api::management_url(), api::create_reader(minimal()));
    CHECK(create.method == boost::beast::http::verb::post);
    CHECK(create.url.buffer() == "http://localhost:3001/reader");
    CHECK(create.headers[boost::beast::http::field::content_type] == "application/json");
    const auto del = api::to_http_request(api::management_url(), api::delete_reader(api::reader_id("primary 1/x")));
    CHECK(del.method == boost::beast::http::verb::delete_);
    CHECK(del.url.buffer() == "http://localhost:3001/reader/primary%201%2Fx");
    CHECK(del.body.empty());
    const auto cfg = api::to_http_request(api::management_url(), api::reader_config_of(api::reader_id("a/b")));
    CHECK(cfg.method == boost::beast::http::verb::get);
    CHECK(cfg.url.buffer() == "http://localhost:3001/config/a%2Fb");
    const auto st = api::to_http_request(api::management_url(), api::management_status());
    CHECK(st.url.buffer() == "http://localhost:3001/status");
}

TEST_CASE("create_reader: the required fields, consumer_group primary by default, and only the optional ones set") {
    CHECK(api::create_reader(minimal()).body() ==
          R"({"model_name":"TheBloke/Llama-2-7B-Chat-AWQ","device":"cuda","consumer_group":"primary"})");
    auto cfg = minimal();
    cfg.device = "cpu";
    cfg.consumer_group = api::consumer_group("chat");
    cfg.max_batch_size = 4;
    cfg.max_sequence_length = 512;
    cfg.batch_duration_millis = 100;
    cfg.tensor_parallel = 3;
    cfg.quant_type = "awq";
    cfg.page_cache_size = "90%";
    cfg.cuda_visible_devices = "0,1";
    cfg.log_level = "INFO";
    cfg.access_token = takeoff::secret("hf_secret_value");
    cfg.backend = "compress-fast";
    cfg.redis_host = "localhost";
    cfg.extra["disable_cuda_graph"] = true;
    cfg.extra["prefill_chunk_size"] = 256;
    CHECK(json(api::create_reader(cfg).body()) == json(R"({"model_name":"TheBloke/Llama-2-7B-Chat-AWQ","device":"cpu",
        "consumer_group":"chat","max_batch_size":4,"max_sequence_length":512,"batch_duration_millis":100,
        "tensor_parallel":3,"quant_type":"awq","page_cache_size":"90%","cuda_visible_devices":"0,1",
        "log_level":"INFO","access_token":"hf_secret_value","backend":"compress-fast","redis_host":"localhost",
        "disable_cuda_graph":true,"prefill_chunk_size":256})"));
    // The token is a secret everywhere but the body.
    std::ostringstream printed;
    printed << *cfg.access_token;
    CHECK(printed.str() == "[redacted]");
}

TEST_CASE("create_reader: the config is checked before sending, naming the field") {
    struct row {
        void (*change)(api::reader_config&);
        errc code;
        std::string message;
    };
    const std::vector<row> rows = {
        {[](api::reader_config& c) { c.model_name.clear(); }, errc::missing_field, "the reader config has no model_name"},
        {[](api::reader_config& c) { c.device = "mars"; }, errc::invalid_argument,
         "the reader config's device \"mars\" is neither \"cpu\" nor \"cuda\""},
        {[](api::reader_config& c) { c.device.clear(); }, errc::invalid_argument,
         "the reader config has no device (expected \"cpu\" or \"cuda\")"},
        {[](api::reader_config& c) { c.device = "CUDA"; }, errc::invalid_argument,
         "the reader config's device \"CUDA\" is neither \"cpu\" nor \"cuda\""},
        {[](api::reader_config& c) { c.consumer_group = api::consumer_group(""); }, errc::missing_field,
         "the reader config has an empty consumer_group"},
        {[](api::reader_config& c) { c.max_batch_size = 0; }, errc::out_of_range,
         "the reader config's max_batch_size must be at least 1 (got 0)"},
        {[](api::reader_config& c) { c.max_sequence_length = -5; }, errc::out_of_range,
         "the reader config's max_sequence_length must be at least 1 (got -5)"},
        {[](api::reader_config& c) { c.tensor_parallel = 0; }, errc::out_of_range,
         "the reader config's tensor_parallel must be at least 1 (got 0)"},
        {[](api::reader_config& c) { c.batch_duration_millis = -1; }, errc::out_of_range,
         "the reader config's batch_duration_millis must be at least 0 (got -1)"},
        {[](api::reader_config& c) { c.extra["device"] = "cpu"; }, errc::invalid_argument,
         "the reader config's extra sets \"device\", a field of reader_config: set it there"},
        {[](api::reader_config& c) { c.extra["max_seq_length"] = 512; }, errc::invalid_argument,
         "the reader config's extra sets \"max_seq_length\", which Takeoff does not know: use max_sequence_length"},
    };
    for (std::size_t i = 0; i < rows.size(); ++i) {
        CAPTURE(i);
        auto cfg = minimal();
        cfg.access_token = takeoff::secret("hf_secret_value");
        rows[i].change(cfg);
        takeoff::diagnostics diag;
        CHECK(api::validate(cfg, diag) == rows[i].code);
        CHECK(diag.client_message() == rows[i].message);
        takeoff::diagnostics via_request;
        CHECK(api::validate(api::create_reader(cfg), via_request) == rows[i].code);
        CHECK(via_request.client_message() == rows[i].message);
        CHECK(diag.client_message().find("hf_secret_value") == std::string::npos);
    }
    takeoff::diagnostics ok;
    auto cfg = minimal();
    cfg.batch_duration_millis = 0;
    CHECK_FALSE(api::validate(cfg, ok));
    CHECK_FALSE(api::validate(api::create_reader(cfg), ok));
}

TEST_CASE("create_reader: the new reader_id from any 2xx reply; a reply without one is invalid_response") {
    const auto req = api::create_reader(minimal());
    takeoff::diagnostics diag;
    auto created = req.parse_response(reply(R"({"reader_id":"primary-3"})", 201), diag);
    REQUIRE(created.has_value());
    CHECK(*created == api::reader_id("primary-3"));
    auto ok = req.parse_response(reply(R"({"reader_id":"x","status":"loading"})", 200), diag);
    REQUIRE(ok.has_value());
    CHECK(*ok == api::reader_id("x"));

    struct row {
        std::string body;
        errc code;
        std::string message;
    };
    const std::vector<row> rows = {
        {"", errc::invalid_response, "the POST /reader reply is empty (expected the new reader's reader_id)"},
        {"{}", errc::invalid_response, "the POST /reader reply has no 'reader_id'"},
        {R"({"reader_id":7})", errc::invalid_response, "the POST /reader reply has a 'reader_id' that is not a string"},
        {R"({"reader_id":""})", errc::invalid_response, "the POST /reader reply has an empty 'reader_id'"},
        {"created", errc::invalid_json, ""},
    };
    for (const auto& r : rows) {
        CAPTURE(r.body);
        takeoff::diagnostics d;
        auto res = req.parse_response(reply(r.body, 201), d);
        REQUIRE(res.has_error());
        CHECK(res.error() == r.code);
        if (!r.message.empty()) CHECK(d.client_message() == r.message);
    }
}

TEST_CASE("delete_reader: any 2xx with any body is nothing; an empty id is refused before sending") {
    const auto req = api::delete_reader(api::reader_id("r"));
    takeoff::diagnostics diag;
    CHECK(req.parse_response(reply("", 204), diag).has_value());
    CHECK(req.parse_response(reply(R"({"deleted":true})", 200), diag).value() == api::nothing{});
    CHECK(req.body().empty());
    CHECK(api::validate(api::delete_reader(api::reader_id("")), diag) == errc::invalid_argument);
    CHECK(diag.client_message() == "the DELETE /reader request has an empty reader id");
    takeoff::diagnostics d2;
    CHECK(api::validate(api::reader_config_of(api::reader_id("")), d2) == errc::invalid_argument);
    CHECK(d2.client_message() == "the /config request has an empty reader id");
}

TEST_CASE("reader_config_of: the reader's config object as sent; not an object is invalid_response") {
    const auto req = api::reader_config_of(api::reader_id("r"));
    takeoff::diagnostics diag;
    auto cfg = req.parse_response(reply(R"({"model_name":"m","device":"cpu","consumer_group":"primary","x":[1]})"), diag);
    REQUIRE(cfg.has_value());
    CHECK(boost::json::value(*cfg) == json(R"({"model_name":"m","device":"cpu","consumer_group":"primary","x":[1]})"));
    auto arr = req.parse_response(reply("[1]"), diag);
    REQUIRE(arr.has_error());
    CHECK(arr.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the /config reply is not a JSON object");
}

TEST_CASE("reader_groups: groups and their readers, device or backend, pids and ready optional") {
    takeoff::diagnostics diag;
    auto r = api::reader_groups().parse_response(reply(R"({
        "primary": [{"reader_id": "p0", "device": "cuda", "model_name": "llama", "model_type": "CAUSAL",
                     "pids": [101, 102], "ready": true},
                    {"reader_id": "p1", "backend": "hf", "model_name": "llama", "model_type": "CAUSAL"}],
        "empty": []})"),
                                                 diag);
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 2);
    const auto& primary = r->at(api::consumer_group("primary"));
    REQUIRE(primary.size() == 2);
    CHECK(primary[0] == api::reader_summary{api::reader_id("p0"), "cuda", "llama", "CAUSAL", {101, 102}, true});
    CHECK(primary[1] == api::reader_summary{api::reader_id("p1"), "hf", "llama", "CAUSAL", {}, std::nullopt});
    CHECK(r->at(api::consumer_group("empty")).empty());

    struct row {
        std::string body;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"g":{}})", "the /reader_groups reply has a group 'g' that is not an array"},
        {R"({"g":[1]})", "the /reader_groups reply has a reader in group 'g' that is not an object"},
        {R"({"g":[{"device":"cpu"}]})", "the /reader_groups reply has no 'reader_id' in group 'g'"},
        {R"({"g":[{"reader_id":"r","pids":[1.5]}]})", "the /reader_groups reply has a pid of reader 'r' that is not an integer"},
        {R"({"g":[{"reader_id":"r","pids":1}]})", "the /reader_groups reply has a 'pids' of reader 'r' that is not an array"},
        {R"({"g":[{"reader_id":"r","ready":"yes"}]})", "the /reader_groups reply has a 'ready' of reader 'r' that is not a boolean"},
        {R"({"g":[{"reader_id":"r","device":1}]})", "the /reader_groups reply has a 'device' of reader 'r' that is not a string"},
        {R"([])", "the /reader_groups reply is not a JSON object"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.body);
        takeoff::diagnostics d;
        auto res = api::reader_groups().parse_response(reply(row.body), d);
        REQUIRE(res.has_error());
        CHECK(res.error() == errc::invalid_response);
        CHECK(d.client_message() == row.message);
    }
}

TEST_CASE("management_status: config and readers in the current shape") {
    takeoff::diagnostics diag;
    auto r = api::management_status().parse_response(reply(R"({
        "config": {"port": 3000, "management_port": 3001, "reserved_consumers": "primary"},
        "status": {"live_readers": {"p0": {"consumer_groups": ["primary"], "consumer_name": "p0", "device": "cuda",
                                           "model_name": "llama", "model_type": "CAUSAL", "pids": [7]}},
                   "dead_readers": {}, "loading_readers": {"p1": {"consumer_groups": ["primary"], "device": "cuda",
                                           "model_name": "llama", "model_type": "CAUSAL"}},
                   "last_heartbeat": {"p0": {"heartbeat_timestamp": 1, "heartbeat_wait_interval": 1}},
                   "reserved_consumers": ["primary"]}})"),
                                                     diag);
    REQUIRE(r.has_value());
    CHECK(boost::json::value(r->config) == json(R"({"port":3000,"management_port":3001,"reserved_consumers":"primary"})"));
    REQUIRE(r->status.has_value());
    CHECK(r->status->live_readers.at(api::reader_id("p0")) ==
          api::reader_info{{api::consumer_group("primary")}, "cuda", "llama", "CAUSAL", std::nullopt});
    CHECK(r->status->dead_readers.empty());
    CHECK(r->status->loading_readers.size() == 1);
    CHECK(r->status->reserved_consumers == std::vector<std::string>{"primary"});
}

TEST_CASE("management_status: the older shape, a null status, and the mocks' empty lists") {
    takeoff::diagnostics diag;
    auto old = api::management_status().parse_response(reply(R"({"config": {"max_batch_size": 8},
        "status": {"live_readers": {"r": {"backend": "hf", "consumer_group": "primary", "model_name": "m",
                                          "model_type": "CAUSAL", "pids": [1]}},
                   "reserved_consumers": "primary"}})"),
                                                       diag);
    REQUIRE(old.has_value());
    REQUIRE(old->status.has_value());
    CHECK(old->status->live_readers.at(api::reader_id("r")) ==
          api::reader_info{{api::consumer_group("primary")}, "hf", "m", "CAUSAL", std::nullopt});
    CHECK(old->status->reserved_consumers == std::vector<std::string>{"primary"});

    auto null_status = api::management_status().parse_response(reply(R"({"config":{},"status":null})"), diag);
    REQUIRE(null_status.has_value());
    CHECK_FALSE(null_status->status.has_value());
    auto no_status = api::management_status().parse_response(reply(R"({"config":{}})"), diag);
    REQUIRE(no_status.has_value());
    CHECK_FALSE(no_status->status.has_value());

    auto mock = api::management_status().parse_response(
        reply(R"({"status": {"live_readers": [], "dead_readers": []}, "config": {"port": 3000}})"), diag);
    REQUIRE(mock.has_value());
    REQUIRE(mock->status.has_value());
    CHECK(mock->status->live_readers.empty());
    CHECK(mock->status->reserved_consumers.empty());
}

TEST_CASE("management_status: broken replies name the fault") {
    struct row {
        std::string body;
        std::string message;
    };
    const std::vector<row> rows = {
        {R"({"status":null})", "the management /status reply has no 'config'"},
        {R"({"config":[]})", "the management /status reply has a 'config' that is not an object"},
        {R"({"config":{},"status":[]})", "the management /status reply has a 'status' that is neither an object nor null"},
        {R"({"config":{},"status":{"loading_readers":{"r":1}}})",
         "the management /status reply has a reader 'r' that is not an object"},
        {R"({"config":{},"status":{"reserved_consumers":[1]}})",
         "the management /status reply has a 'reserved_consumers' that holds a non-string"},
        {R"({"config":{},"status":{"reserved_consumers":1}})",
         "the management /status reply has a 'reserved_consumers' that is neither an array nor a string"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.body);
        takeoff::diagnostics d;
        auto res = api::management_status().parse_response(reply(row.body), d);
        REQUIRE(res.has_error());
        CHECK(res.error() == errc::invalid_response);
        CHECK(d.client_message() == row.message);
    }
}

TEST_CASE("create_reader: a config from designated initializers naming only some fields") {
    const auto req = api::create_reader({.model_name = "m", .device = "cpu", .max_sequence_length = 4096});
    CHECK(req.body() == R"({"model_name":"m","device":"cpu","consumer_group":"primary","max_sequence_length":4096})");
    CHECK(req.config().model_name == "m");
}

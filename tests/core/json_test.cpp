#include <takeoff/core/json.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/json/serialize.hpp>
#include "../support/doctest_helpers.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mapping_test {

using takeoff::json_io::tag_invoke;

BOOST_DEFINE_ENUM_CLASS(token_kind, Bearer, Snowflake)

struct reader {
    std::string reader_id;
    std::optional<std::string> model_name;
};
BOOST_DESCRIBE_STRUCT(reader, (), (reader_id, model_name))

struct reply {
    std::string access_token;
    std::optional<std::int64_t> expires_in;
    std::optional<std::string> refresh_token;
    token_kind token_type = token_kind::Bearer;
    bool success = false;
    double score = 0;
    std::vector<reader> readers;
    std::map<std::string, int> counts;
};
BOOST_DESCRIBE_STRUCT(reply, (), (access_token, expires_in, refresh_token, token_type, success, score, readers, counts))

struct derived : reader {
    int extra = 0;
};
BOOST_DESCRIBE_STRUCT(derived, (reader), (extra))

} // namespace mapping_test

using mapping_test::reply;

namespace {
const char* full = R"({
  "access_token": "at", "expires_in": 600, "refresh_token": null, "token_type": "Snowflake",
  "success": true, "score": 0.5, "readers": [{"reader_id": "r1", "model_name": "m"}, {"reader_id": "r2"}],
  "counts": {"a": 1}, "unknown_key": {"nested": [1, 2, 3]}, "idpInitiated": false
})";
}

TEST_CASE("unknown keys are ignored and optionals may be null or absent") {
    takeoff::diagnostics diag;
    auto r = takeoff::parse_json<reply>(full, diag);
    REQUIRE(r);
    CHECK(r->access_token == "at");
    CHECK(r->expires_in == 600);
    CHECK_FALSE(r->refresh_token);
    CHECK(r->token_type == mapping_test::token_kind::Snowflake);
    CHECK(r->success);
    CHECK(r->score == 0.5);
    REQUIRE(r->readers.size() == 2);
    CHECK(r->readers[0].model_name == "m");
    CHECK_FALSE(r->readers[1].model_name);
    CHECK(r->counts.at("a") == 1);
    CHECK(diag.empty());
}

TEST_CASE("a missing required field is an error naming it") {
    takeoff::diagnostics diag;
    auto r = takeoff::parse_json<reply>(R"({"expires_in": 1})", diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == takeoff::errc::missing_field);
    CHECK(diag.client_message() == "missing required field 'access_token'");
}

TEST_CASE("a missing field inside an array element names its path") {
    takeoff::diagnostics diag;
    boost::json::value v = boost::json::parse(full);
    v.as_object()["readers"].as_array()[1].as_object().erase("reader_id");
    auto r = takeoff::from_json<reply>(v, diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == takeoff::errc::missing_field);
    CHECK(diag.client_message() == "missing required field 'readers[1].reader_id'");
}

TEST_CASE("a wrong type is an error naming the field and the types") {
    takeoff::diagnostics diag;
    boost::json::value v = boost::json::parse(full);
    v.as_object()["expires_in"] = "600";
    auto r = takeoff::from_json<reply>(v, diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == takeoff::errc::invalid_field_type);
    CHECK(diag.client_message() == "field 'expires_in' has the wrong type: expected an integer, got string");

    v = boost::json::parse(full);
    v.as_object()["access_token"] = nullptr;
    CHECK(takeoff::from_json<reply>(v, diag).error() == takeoff::errc::invalid_field_type);
    CHECK(diag.client_message() == "field 'access_token' has the wrong type: expected string, got null");

    v = boost::json::parse(full);
    v.as_object()["counts"].as_object()["a"] = 1.5;
    CHECK(takeoff::from_json<reply>(v, diag).error() == takeoff::errc::invalid_field_type);
    CHECK(diag.client_message() == "field 'counts.a' has the wrong type: expected an integer in range, got number");

    v = boost::json::parse(full);
    v.as_object()["token_type"] = "Basic";
    CHECK(takeoff::from_json<reply>(v, diag).error() == takeoff::errc::invalid_field_type);
    CHECK(diag.client_message().find("field 'token_type'") == 0);

    CHECK(takeoff::parse_json<reply>("[1]", diag).error() == takeoff::errc::invalid_field_type);
    CHECK(diag.client_message() == "the JSON document has the wrong type: expected object, got array");
}

TEST_CASE("integers: ranges and whole-valued doubles") {
    CHECK(takeoff::from_json<int>(boost::json::value(3600.0)).value() == 3600);
    CHECK_FALSE(takeoff::from_json<std::uint8_t>(boost::json::value(300)));
    CHECK_FALSE(takeoff::from_json<unsigned>(boost::json::value(-1)));
    CHECK(takeoff::from_json<std::uint64_t>(boost::json::value(18446744073709551615ull)).value() ==
          18446744073709551615ull);
    CHECK_FALSE(takeoff::from_json<bool>(boost::json::value(1)));
}

TEST_CASE("text that is not JSON is invalid_json") {
    takeoff::diagnostics diag;
    auto r = takeoff::parse_json<reply>("{not json", diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == takeoff::errc::invalid_json);
    CHECK(diag.client_message().find("the body is not valid JSON") == 0);
}

TEST_CASE("output omits empty optionals and round-trips") {
    reply in;
    in.access_token = "at";
    in.readers.push_back({"r1", std::nullopt});
    in.counts["k"] = 2;
    boost::json::value out = takeoff::to_json(in);
    CHECK(boost::json::serialize(out) ==
          R"({"access_token":"at","token_type":"Bearer","success":false,"score":0E0,"readers":[{"reader_id":"r1"}],"counts":{"k":2}})");
    auto back = takeoff::from_json<reply>(out);
    REQUIRE(back);
    CHECK(back->access_token == "at");
    CHECK(back->readers.at(0).reader_id == "r1");
    in.expires_in = 5;
    CHECK(takeoff::to_json(in).as_object().at("expires_in") == 5);
}

TEST_CASE("inherited members are mapped") {
    auto d = takeoff::from_json<mapping_test::derived>(boost::json::parse(R"({"reader_id":"r","extra":3})"));
    REQUIRE(d);
    CHECK(d->reader_id == "r");
    CHECK(d->extra == 3);
    CHECK(boost::json::serialize(takeoff::to_json(*d)) == R"({"reader_id":"r","extra":3})");
}

TEST_CASE("boost::json::value_to and value_from use the tolerant rules through json_io") {
    boost::json::value v = boost::json::parse(R"({"reader_id":"r","surplus":true})");
    auto r = boost::json::try_value_to<mapping_test::reader>(v);
    REQUIRE(r);
    CHECK(r->reader_id == "r");
    CHECK(boost::json::value_to<mapping_test::reader>(v).reader_id == "r");
    CHECK_THROWS(boost::json::value_to<mapping_test::reader>(boost::json::parse("{}")));
    CHECK(boost::json::serialize(boost::json::value_from(mapping_test::reader{"x", std::nullopt})) ==
          R"({"reader_id":"x"})");
}

namespace mapping_test {
struct credentials {
    std::string client_id;
    takeoff::secret client_secret;
};
BOOST_DESCRIBE_STRUCT(credentials, (), (client_id, client_secret))
} // namespace mapping_test

TEST_CASE("secrets map to JSON strings") {
    takeoff::diagnostics diag;
    auto c = takeoff::parse_json<mapping_test::credentials>(R"({"client_id":"id","client_secret":"s3"})", diag);
    REQUIRE(c);
    CHECK(c->client_secret.reveal() == "s3");
    CHECK(boost::json::serialize(takeoff::to_json(*c)) == R"({"client_id":"id","client_secret":"s3"})");
    CHECK_FALSE(takeoff::from_json<mapping_test::credentials>(boost::json::parse(R"({"client_id":"id","client_secret":1})")));
}

TEST_CASE("pretty_json: indented JSON, one member or element per line, empty objects and arrays inline, ending with a newline")
{
    boost::json::object o;
    o["a"] = "x\"y";
    o["b"] = boost::json::object{{"c", 1}, {"d", boost::json::array{true, nullptr}}};
    o["e"] = boost::json::object{};
    o["f"] = boost::json::array{};
    CHECK(takeoff::pretty_json(o) == "{\n"
                                 "  \"a\": \"x\\\"y\",\n"
                                 "  \"b\": {\n"
                                 "    \"c\": 1,\n"
                                 "    \"d\": [\n"
                                 "      true,\n"
                                 "      null\n"
                                 "    ]\n"
                                 "  },\n"
                                 "  \"e\": {},\n"
                                 "  \"f\": []\n"
                                 "}\n");
    CHECK(boost::json::parse(takeoff::pretty_json(o)) == boost::json::value(o));
}

// Reading the output of SYSTEM$SHOW_OAUTH_CLIENT_SECRETS (snowflake/client_secrets.hpp).
#include <takeoff/snowflake/client_secrets.hpp>

#include "../support/doctest_helpers.hpp"

#include <sstream>
#include <string>
#include <string_view>

using takeoff::diagnostics;
using takeoff::errc;
using takeoff::secret;
namespace oauth = takeoff::oauth;
namespace snowflake = takeoff::snowflake;

namespace {

// No message may quote a value used in these tests.
void check_no_value_in(const diagnostics& diag) {
    for (std::string_view value : {"ABCdef123", "s3cr3t+/=", "second/secret=", "wrong"})
        CHECK(diag.client_message().find(value) == std::string::npos);
}

} // namespace

TEST_CASE("client secrets: the documented lower-case keys, in any order") {
    diagnostics diag;
    auto r = snowflake::parse_oauth_client_secrets(
        R"({"oauth_client_secret_2":"second/secret=","oauth_client_secret":"s3cr3t+/=","oauth_client_id":"ABCdef123"})",
        diag);
    REQUIRE(r.has_value());
    CHECK(diag.empty());
    CHECK(r->client_id == "ABCdef123");
    CHECK(r->client_secret.reveal() == "s3cr3t+/=");
    REQUIRE(r->client_secret_2.has_value());
    CHECK(r->client_secret_2->reveal() == "second/secret=");
}

TEST_CASE("client secrets: upper-case and mixed-case keys; other keys ignored; white space around the text") {
    diagnostics diag;
    auto r = snowflake::parse_oauth_client_secrets(
        " \r\n\t{\"OAUTH_CLIENT_ID\":\"ABCdef123\",\"OAUTH_CLIENT_SECRET\":\"s3cr3t+/=\",\"OTHER\":1}\n ", diag);
    REQUIRE(r.has_value());
    CHECK(r->client_id == "ABCdef123");
    CHECK(r->client_secret.reveal() == "s3cr3t+/=");
    CHECK_FALSE(r->client_secret_2.has_value());

    r = snowflake::parse_oauth_client_secrets(
        R"({"Oauth_Client_Id":"ABCdef123","oAuth_client_SECRET":"s3cr3t+/=","OAUTH_client_secret_2":null})", diag);
    REQUIRE(r.has_value());
    CHECK(r->client_id == "ABCdef123");
    CHECK(r->client_secret.reveal() == "s3cr3t+/=");
    CHECK_FALSE(r->client_secret_2.has_value());

    // An empty second secret counts as none.
    r = snowflake::parse_oauth_client_secrets(
        R"({"oauth_client_id":"ABCdef123","oauth_client_secret":"s3cr3t+/=","oauth_client_secret_2":""})", diag);
    REQUIRE(r.has_value());
    CHECK_FALSE(r->client_secret_2.has_value());
}

TEST_CASE("client secrets: the object wrapped once in a JSON string, as a worksheet cell copies it") {
    diagnostics diag;
    auto r = snowflake::parse_oauth_client_secrets(
        R"(  "{\"OAUTH_CLIENT_SECRET_2\":\"second/secret=\",\"OAUTH_CLIENT_SECRET\":\"s3cr3t+/=\",\"OAUTH_CLIENT_ID\":\"ABCdef123\"}"  )",
        diag);
    REQUIRE(r.has_value());
    CHECK(r->client_id == "ABCdef123");
    CHECK(r->client_secret.reveal() == "s3cr3t+/=");
    REQUIRE(r->client_secret_2.has_value());
    CHECK(r->client_secret_2->reveal() == "second/secret=");

    // Wrapped twice is one wrap too many: the inside is a string, not an object.
    auto twice = snowflake::parse_oauth_client_secrets(R"("\"{\\\"oauth_client_id\\\":\\\"x\\\"}\"")", diag);
    CHECK(twice.error() == errc::invalid_field_type);
    CHECK(diag.client_message() == "the client secrets must be a JSON object");

    auto not_json_inside = snowflake::parse_oauth_client_secrets(R"("oauth_client_id: wrong")", diag);
    CHECK(not_json_inside.error() == errc::invalid_json);
    CHECK(diag.client_message() == "the client secrets are a JSON string that does not hold JSON");
    check_no_value_in(diag);
}

TEST_CASE("client secrets: a missing or empty id or first secret is missing_field naming the key; null is the wrong type") {
    diagnostics diag;
    auto r = snowflake::parse_oauth_client_secrets(R"({"oauth_client_secret":"s3cr3t+/="})", diag);
    CHECK(r.error() == errc::missing_field);
    CHECK(diag.client_message() == "missing required field 'oauth_client_id'");

    r = snowflake::parse_oauth_client_secrets(R"({"OAUTH_CLIENT_ID":"ABCdef123","OAUTH_CLIENT_SECRET_2":"wrong"})",
                                              diag);
    CHECK(r.error() == errc::missing_field);
    CHECK(diag.client_message() == "missing required field 'oauth_client_secret'");
    check_no_value_in(diag);

    r = snowflake::parse_oauth_client_secrets(R"({"oauth_client_id":"","oauth_client_secret":"s3cr3t+/="})", diag);
    CHECK(r.error() == errc::missing_field);
    CHECK(diag.client_message() == "field 'oauth_client_id' is empty");

    // null is a value of the wrong type for a required field (as in the JSON mapping of core/json.hpp).
    r = snowflake::parse_oauth_client_secrets(R"({"oauth_client_id":"ABCdef123","oauth_client_secret":null})", diag);
    CHECK(r.error() == errc::invalid_field_type);
    CHECK(diag.client_message() == "field 'oauth_client_secret' has the wrong type: expected string, got null");
}

TEST_CASE("client secrets: a key twice in different cases is invalid_argument") {
    diagnostics diag;
    auto r = snowflake::parse_oauth_client_secrets(
        R"({"oauth_client_id":"ABCdef123","OAUTH_CLIENT_ID":"wrong","oauth_client_secret":"s3cr3t+/="})", diag);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the key 'oauth_client_id' appears twice (spelled in different cases)");
    check_no_value_in(diag);

    r = snowflake::parse_oauth_client_secrets(R"({"oauth_client_id":"ABCdef123","oauth_client_secret":"s3cr3t+/=",)"
                                              R"("oauth_client_secret_2":"wrong","Oauth_Client_Secret_2":"wrong"})",
                                              diag);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the key 'oauth_client_secret_2' appears twice (spelled in different cases)");
}

TEST_CASE("client secrets: a value of the wrong type is invalid_field_type; not JSON or not an object is refused") {
    diagnostics diag;
    auto r = snowflake::parse_oauth_client_secrets(R"({"oauth_client_id":123,"oauth_client_secret":"s3cr3t+/="})",
                                                   diag);
    CHECK(r.error() == errc::invalid_field_type);
    CHECK(diag.client_message() == "field 'oauth_client_id' has the wrong type: expected string, got number");

    r = snowflake::parse_oauth_client_secrets(
        R"({"oauth_client_id":"ABCdef123","oauth_client_secret":"s3cr3t+/=","oauth_client_secret_2":["wrong"]})", diag);
    CHECK(r.error() == errc::invalid_field_type);
    CHECK(diag.client_message() == "field 'oauth_client_secret_2' has the wrong type: expected string, got array");

    r = snowflake::parse_oauth_client_secrets(R"({"oauth_client_id":"ABCdef123","oauth_client_secret":{}})", diag);
    CHECK(r.error() == errc::invalid_field_type);
    CHECK(diag.client_message() == "field 'oauth_client_secret' has the wrong type: expected string, got object");

    r = snowflake::parse_oauth_client_secrets("oauth_client_id=ABCdef123 oauth_client_secret=s3cr3t+/=", diag);
    CHECK(r.error() == errc::invalid_json);
    CHECK(diag.client_message() ==
          "the client secrets are not JSON (paste the output of SYSTEM$SHOW_OAUTH_CLIENT_SECRETS as it is)");
    check_no_value_in(diag);

    r = snowflake::parse_oauth_client_secrets("   ", diag);
    CHECK(r.error() == errc::invalid_json);

    r = snowflake::parse_oauth_client_secrets(R"(["ABCdef123","s3cr3t+/="])", diag);
    CHECK(r.error() == errc::invalid_field_type);
    CHECK(diag.client_message() == "the client secrets must be a JSON object");
}

TEST_CASE("client secrets: printing shows the client id and never a secret") {
    snowflake::oauth_client_secrets s{"ABCdef123", secret("s3cr3t+/="), secret("second/secret=")};
    std::ostringstream os;
    os << s;
    CHECK(os.str() ==
          "oauth_client_secrets{client_id=\"ABCdef123\", client_secret=[redacted], client_secret_2=[redacted]}");
    s.client_secret_2.reset();
    std::ostringstream none;
    none << s;
    CHECK(none.str() == "oauth_client_secrets{client_id=\"ABCdef123\", client_secret=[redacted], client_secret_2=(none)}");
}

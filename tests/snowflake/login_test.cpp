#include <takeoff/snowflake/login.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/json/parse.hpp>

#include <cstring>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using takeoff::diagnostics;
using takeoff::errc;
using takeoff::secret;
namespace http = takeoff::http;
namespace snowflake = takeoff::snowflake;

namespace {

constexpr std::string_view access_token = "ver:1-hint:123-ACCESSTOKENVALUE";
constexpr std::string_view fixed_request_id = "0f8fad5b-d9cb-469f-a165-70867728950e";

const snowflake::account_url org_account = "https://myorg-myacct.snowflakecomputing.com";

http::response response(unsigned status, std::string body) {
    http::response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

// No message may quote a token used in these tests.
void check_no_secret_in(const diagnostics& diag) {
    for (std::string_view text : {std::string_view(diag.client_message()), std::string_view(diag.server_message())}) {
        CHECK(text.find("ACCESSTOKENVALUE") == std::string_view::npos);
        CHECK(text.find("SESSIONTOKENVALUE") == std::string_view::npos);
        CHECK(text.find("MASTERTOKENVALUE") == std::string_view::npos);
    }
}

boost::system::result<http::request> login(const snowflake::login_parameters& parameters, diagnostics& diag,
                                           const snowflake::account_url& account = org_account) {
    return snowflake::make_login_request(account, secret(access_token), parameters, fixed_request_id, diag);
}

} // namespace

TEST_CASE("login request: POST to login-request with the request id in the query and the exact JSON body") {
    diagnostics diag;
    auto request = login({}, diag);
    REQUIRE(request.has_value());
    CHECK(diag.empty());
    CHECK(request->method == boost::beast::http::verb::post);
    CHECK(request->url.buffer() ==
          "https://myorg-myacct.snowflakecomputing.com/session/v1/login-request"
          "?request_id=0f8fad5b-d9cb-469f-a165-70867728950e");
    CHECK(request->headers[boost::beast::http::field::content_type] == "application/json");
    CHECK(request->headers[boost::beast::http::field::accept] == "application/json");
    const boost::json::value expected = boost::json::parse(R"({"data":{
        "ACCOUNT_NAME":"MYORG-MYACCT","AUTHENTICATOR":"OAUTH","TOKEN":"ver:1-hint:123-ACCESSTOKENVALUE",
        "CLIENT_APP_ID":"takeoff-cpp","CLIENT_APP_VERSION":"0.1.0",
        "CLIENT_ENVIRONMENT":{"OAUTH_TYPE":"OAUTH_AUTHORIZATION_CODE"}}})");
    CHECK(boost::json::parse(request->body) == expected);
}

TEST_CASE("login request: a role goes percent-encoded into roleName; given account name and client app are sent") {
    diagnostics diag;
    snowflake::login_parameters parameters;
    parameters.account_name = "MYORG-OTHER_ACCT";
    parameters.role = "AUTH SNOWFLAKE&x=1";
    parameters.client_app_id = "my-app";
    parameters.client_app_version = "2.3.4";
    auto request = login(parameters, diag);
    REQUIRE(request.has_value());
    CHECK(request->url.buffer() ==
          "https://myorg-myacct.snowflakecomputing.com/session/v1/login-request"
          "?request_id=0f8fad5b-d9cb-469f-a165-70867728950e&roleName=AUTH%20SNOWFLAKE%26x%3D1");
    const boost::json::value body = boost::json::parse(request->body);
    CHECK(body.at("data").at("ACCOUNT_NAME") == "MYORG-OTHER_ACCT");
    CHECK(body.at("data").at("CLIENT_APP_ID") == "my-app");
    CHECK(body.at("data").at("CLIENT_APP_VERSION") == "2.3.4");
}

TEST_CASE("login request: the account name derived from each account URL form") {
    struct example {
        snowflake::account_url account;
        std::string_view name;
    };
    const example examples[] = {
        {"https://myorg-myacct.snowflakecomputing.com", "MYORG-MYACCT"},
        {"https://acme-marketing-test-account.snowflakecomputing.com", "ACME-MARKETING_TEST_ACCOUNT"},
        {"https://xy12345.snowflakecomputing.com", "XY12345"},
        {"https://xy12345.us-east-2.aws.snowflakecomputing.com", "XY12345"},
        {"https://XY12345.east-us-2.azure.privatelink.snowflakecomputing.com/", "XY12345"},
        {"https://myorg-myacct.privatelink.snowflakecomputing.com", "MYORG-MYACCT"},
        {"https://xy12345.cn-northwest-1.snowflakecomputing.cn", "XY12345"},
    };
    for (const example& e : examples) {
        CAPTURE(e.account.str());
        diagnostics diag;
        auto request = login({}, diag, e.account);
        REQUIRE(request.has_value());
        CHECK(boost::json::parse(request->body).at("data").at("ACCOUNT_NAME") == boost::json::string_view(e.name));
    }
}

TEST_CASE("login request: refused without a token, a request id, an account name for loopback, or with a bad role") {
    diagnostics diag;
    auto no_token = snowflake::make_login_request(org_account, secret(""), {}, fixed_request_id, diag);
    REQUIRE_FALSE(no_token.has_value());
    CHECK(no_token.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the login request needs an OAuth access token");

    auto no_id = snowflake::make_login_request(org_account, secret(access_token), {}, "", diag);
    REQUIRE_FALSE(no_id.has_value());
    CHECK(no_id.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the login request needs a request id");

    const snowflake::account_url loopback = "http://127.0.0.1:8080";
    auto no_account = login({}, diag, loopback);
    REQUIRE_FALSE(no_account.has_value());
    CHECK(no_account.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "a loopback account URL names no account: set login_parameters::account_name");

    snowflake::login_parameters named;
    named.account_name = "EMULATED";
    auto emulated = login(named, diag, loopback);
    REQUIRE(emulated.has_value());
    CHECK(emulated->url.buffer() == "http://127.0.0.1:8080/session/v1/login-request"
                                    "?request_id=0f8fad5b-d9cb-469f-a165-70867728950e");

    for (std::string bad : {std::string(), std::string("A\nB"), std::string(256, 'R')}) {
        snowflake::login_parameters parameters;
        parameters.role = bad;
        auto r = login(parameters, diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_identifier);
        CHECK_FALSE(diag.client_message().empty());
        check_no_secret_in(diag);
    }
}

TEST_CASE("make_request_id: a version 4 UUID in lower-case text") {
    for (int i = 0; i < 32; ++i) {
        auto id = snowflake::make_request_id();
        REQUIRE(id.has_value());
        const std::string& s = *id;
        REQUIRE(s.size() == 36);
        for (std::size_t j = 0; j < s.size(); ++j) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                CHECK(s[j] == '-');
            else
                CHECK(((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'a' && s[j] <= 'f')));
        }
        CHECK(s[14] == '4');
        CHECK(std::string_view("89ab").find(s[19]) != std::string_view::npos);
    }
    auto a = snowflake::make_request_id();
    auto b = snowflake::make_request_id();
    REQUIRE((a.has_value() && b.has_value()));
    CHECK(*a != *b);
}

TEST_CASE("make_request_id: the exact text for known bytes, and a failing random source is an error") {
    auto ones = [](std::span<unsigned char> out) noexcept -> boost::system::error_code {
        std::memset(out.data(), 0xff, out.size());
        return {};
    };
    auto zeros = [](std::span<unsigned char> out) noexcept -> boost::system::error_code {
        std::memset(out.data(), 0, out.size());
        return {};
    };
    auto broken = [](std::span<unsigned char>) noexcept -> boost::system::error_code {
        return make_error_code(boost::system::errc::resource_unavailable_try_again);
    };
    CHECK(snowflake::make_request_id(ones).value() == "ffffffff-ffff-4fff-bfff-ffffffffffff");
    CHECK(snowflake::make_request_id(zeros).value() == "00000000-0000-4000-8000-000000000000");
    auto failed = snowflake::make_request_id(broken);
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error() == boost::system::errc::resource_unavailable_try_again);
}

TEST_CASE("login response: the session and master tokens with their lifetimes") {
    diagnostics diag;
    auto token = snowflake::parse_login_response(
        response(200, R"({"data":{"token":"ver:1-SESSIONTOKENVALUE","masterToken":"ver:1-MASTERTOKENVALUE",
            "validityInSeconds":3600,"masterValidityInSeconds":14400,"displayUserName":"U","firstLogin":false},
            "code":null,"message":null,"success":true})"),
        diag);
    REQUIRE(token.has_value());
    CHECK(diag.empty());
    CHECK(token->token.reveal() == "ver:1-SESSIONTOKENVALUE");
    CHECK(token->validity == 3600s);
    REQUIRE(token->master_token.has_value());
    CHECK(token->master_token->reveal() == "ver:1-MASTERTOKENVALUE");
    CHECK(token->master_validity == std::optional<std::chrono::seconds>(14400s));
}

TEST_CASE("login response: without validityInSeconds the session lives 3600 s; master token optional") {
    diagnostics diag;
    auto token = snowflake::parse_login_response(
        response(200, R"({"data":{"token":"SESSIONTOKENVALUE","masterToken":null},"success":true})"), diag);
    REQUIRE(token.has_value());
    CHECK(token->token.reveal() == "SESSIONTOKENVALUE");
    CHECK(token->validity == 3600s);
    CHECK_FALSE(token->master_token.has_value());
    CHECK_FALSE(token->master_validity.has_value());
}

TEST_CASE("login response: success:false maps each code, given as a string or a number") {
    struct example {
        std::string_view code_json;
        errc expected;
        std::string_view code;
    };
    const example examples[] = {
        {R"("390318")", errc::snowflake_token_expired, "390318"},
        {"390318", errc::snowflake_token_expired, "390318"},
        {R"("390303")", errc::snowflake_token_invalid, "390303"},
        {"390303", errc::snowflake_token_invalid, "390303"},
        {R"("390309")", errc::snowflake_user_mismatch, "390309"},
        {"390309", errc::snowflake_user_mismatch, "390309"},
        {R"("390100")", errc::snowflake_login_failed, "390100"},
        {"250001", errc::snowflake_login_failed, "250001"},
        {"null", errc::snowflake_login_failed, ""},
    };
    for (const example& e : examples) {
        CAPTURE(e.code_json);
        diagnostics diag;
        auto r = snowflake::parse_login_response(
            response(200, R"({"data":{"nextAction":"RETRY_LOGIN","authnMethod":"OAUTH"},"code":)" +
                              std::string(e.code_json) + R"(,"message":"OAuth access token expired.","success":false})"),
            diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == e.expected);
        CHECK(diag.server_error_code() == e.code);
        CHECK(diag.server_message() == "OAuth access token expired.");
        CHECK(diag.http_status() == 200);
        CHECK_FALSE(diag.client_message().empty());
        check_no_secret_in(diag);
    }
}

TEST_CASE("login response: the client messages of the known codes") {
    diagnostics diag;
    auto expired = snowflake::parse_login_response(response(200, R"({"code":"390318","success":false})"), diag);
    CHECK(diag.client_message() == "Snowflake refused the OAuth access token at login (390318: expired); "
                                   "refresh the access token, or sign in again, and log in again");
    auto mismatch = snowflake::parse_login_response(response(200, R"({"code":390309,"success":false})"), diag);
    CHECK(diag.client_message() == "Snowflake refused the login (390309): the OAuth access token belongs to "
                                   "another user; sign in as the intended user");
    CHECK(diag.server_message().empty());
}

TEST_CASE("login response: a 2xx that is not a login answer is invalid_response, naming what is wrong") {
    struct example {
        std::string_view body;
        std::string_view message;
    };
    const example examples[] = {
        {"<html>", "the Snowflake login response is not a JSON object"},
        {"[1]", "the Snowflake login response is not a JSON object"},
        {R"({"data":{"token":"SESSIONTOKENVALUE"}})", "the Snowflake login response has no boolean 'success'"},
        {R"({"data":{"token":"SESSIONTOKENVALUE"},"success":"true"})",
         "the Snowflake login response has no boolean 'success'"},
        {R"({"success":true})", "the Snowflake login response has no 'data' object"},
        {R"({"data":null,"success":true})", "the Snowflake login response has no 'data' object"},
        {R"({"data":{},"success":true})", "the Snowflake login response has no data.token"},
        {R"({"data":{"token":""},"success":true})", "the Snowflake login response has no data.token"},
        {R"({"data":{"token":42},"success":true})", "the Snowflake login response has no data.token"},
        {R"({"data":{"token":"SESSION\"TOKENVALUE"},"success":true})",
         "the Snowflake login response's data.token has characters a token cannot have"},
        {R"({"data":{"token":"SESSION TOKENVALUE"},"success":true})",
         "the Snowflake login response's data.token has characters a token cannot have"},
        {R"({"data":{"token":"SESSIONTOKENVALUE","validityInSeconds":0},"success":true})",
         "the Snowflake login response's data.validityInSeconds is not a whole number of seconds up to a year"},
        {R"({"data":{"token":"SESSIONTOKENVALUE","validityInSeconds":"3600"},"success":true})",
         "the Snowflake login response's data.validityInSeconds is not a whole number of seconds up to a year"},
        {R"({"data":{"token":"SESSIONTOKENVALUE","validityInSeconds":31622401},"success":true})",
         "the Snowflake login response's data.validityInSeconds is not a whole number of seconds up to a year"},
        {R"({"data":{"token":"SESSIONTOKENVALUE","masterValidityInSeconds":-5},"success":true})",
         "the Snowflake login response's data.masterValidityInSeconds is not a whole number of seconds up to a year"},
        {R"({"data":{"token":"SESSIONTOKENVALUE","masterToken":7},"success":true})",
         "the Snowflake login response's data.masterToken is not a token"},
    };
    for (const example& e : examples) {
        CAPTURE(e.body);
        diagnostics diag;
        auto r = snowflake::parse_login_response(response(200, std::string(e.body)), diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_response);
        CHECK(diag.client_message() == e.message);
        check_no_secret_in(diag);
    }
}

TEST_CASE("login response: a non-2xx status maps through the status, keeping a masked body excerpt") {
    diagnostics diag;
    auto unavailable = snowflake::parse_login_response(response(503, "upstream down"), diag);
    REQUIRE_FALSE(unavailable.has_value());
    CHECK(unavailable.error() == errc::service_unavailable);
    CHECK(diag.http_status() == 503);
    CHECK(diag.server_message() == "upstream down");
    CHECK(diag.client_message() == "the Snowflake login request failed with HTTP 503");

    auto forbidden = snowflake::parse_login_response(
        response(403, R"({"data":null,"code":"390144","message":"JWT token is invalid.","success":false})"), diag);
    REQUIRE_FALSE(forbidden.has_value());
    CHECK(forbidden.error() == errc::forbidden);
    CHECK(diag.server_error_code() == "390144");
    CHECK(diag.server_message() == "JWT token is invalid.");

    auto echoed = snowflake::parse_login_response(response(500, R"(token=SESSIONTOKENVALUE)"), diag);
    REQUIRE_FALSE(echoed.has_value());
    CHECK(echoed.error() == errc::http_server_error);
    check_no_secret_in(diag);

    auto redirect = snowflake::parse_login_response(response(302, ""), diag);
    REQUIRE_FALSE(redirect.has_value());
    CHECK(redirect.error() == errc::http_status);
}

TEST_CASE("session_token: operator<< shows the lifetimes and never a token") {
    snowflake::session_token token{secret("SESSIONTOKENVALUE"), 3600s, secret("MASTERTOKENVALUE"), 14400s};
    std::ostringstream os;
    os << token;
    CHECK(os.str() == "session_token{token=[redacted], validity=3600s, master_token=[redacted], master_validity=14400s}");
    snowflake::session_token bare{secret("SESSIONTOKENVALUE"), 60s, std::nullopt, std::nullopt};
    std::ostringstream os2;
    os2 << bare;
    CHECK(os2.str() == "session_token{token=[redacted], validity=60s, master_token=(none), master_validity=(none)}");
}

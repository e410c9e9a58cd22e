// The token endpoint's requests (both grants, both client authentication methods), its replies,
// its errors, and how a reply updates a token_set (oauth/token.hpp).
#include <takeoff/oauth/token.hpp>

#include "../support/doctest_helpers.hpp"

#include <chrono>
#include <sstream>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using takeoff::diagnostics;
using takeoff::errc;
using takeoff::secret;
namespace oauth = takeoff::oauth;
namespace http = takeoff::http;

namespace {

const oauth::token_endpoint endpoint = "https://myorg-myacct.snowflakecomputing.com/oauth/token-request";

constexpr std::string_view code_text = "SplxlOBeZQQYbYS6WxSbIA";
constexpr std::string_view verifier_text = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view redirect = "http://127.0.0.1:53682/cb";
constexpr std::string_view encoded_redirect = "http%3A%2F%2F127.0.0.1%3A53682%2Fcb";
// A secret with the characters form encoding rewrites: '+', '/', '=' and a space.
constexpr std::string_view awkward_secret = "a+b/c=d e";
constexpr std::string_view awkward_secret_encoded = "a%2Bb%2Fc%3Dd+e";

oauth::client_credentials post_client(std::string_view secret_text = "456DEF") {
    return {"123ABC", secret(secret_text), oauth::client_auth_method::client_secret_post};
}
oauth::client_credentials basic_client(std::string_view secret_text = "456DEF") {
    return {"123ABC", secret(secret_text), oauth::client_auth_method::client_secret_basic};
}

// The headers as "Name: value" lines, in order.
std::string headers_of(const http::request& r) {
    std::string out;
    for (const auto& f : r.headers) {
        out += f.name;
        out += ": ";
        out += f.value;
        out += '\n';
    }
    return out;
}

http::request code_request(const oauth::client_credentials& client, oauth::code_exchange_options options = {}) {
    diagnostics diag;
    auto r = oauth::make_authorization_code_request(endpoint, client, secret(code_text), redirect,
                                                    secret(verifier_text), options, diag);
    REQUIRE(r.has_value());
    CHECK(diag.empty());
    return std::move(*r);
}

http::request refresh_request(const oauth::client_credentials& client, std::string_view scope) {
    diagnostics diag;
    auto r = oauth::make_refresh_token_request(endpoint, client, secret("rt/secret+value="), scope, diag);
    REQUIRE(r.has_value());
    CHECK(diag.empty());
    return std::move(*r);
}

http::response reply(unsigned status, std::string body, std::string_view content_type = "application/json") {
    http::response r;
    r.status = status;
    if (!content_type.empty()) r.headers.set("Content-Type", content_type);
    r.body = std::move(body);
    return r;
}

template <class T>
std::string printed(const T& value) {
    std::ostringstream os;
    os << value;
    return os.str();
}

// Parses a 200 reply with `body`; the test checks the outcome.
boost::system::result<oauth::token_response> parse_ok(std::string body, diagnostics& diag) {
    return oauth::parse_token_response(reply(200, std::move(body)), diag);
}

constexpr std::string_view snowflake_code_reply =
    R"({"access_token":"ver:1-hint:1234-ETMsDgAAAXYZ","refresh_token":"ver:2-hint:5678-ETMsDgAAAABC",)"
    R"("token_type":"Bearer","username":"USER1","scope":"refresh_token session:role:ANALYST",)"
    R"("refresh_token_expires_in":86399,"idpInitiated":false,"expires_in":600})";

} // namespace

TEST_CASE("token request: authorization_code with client_secret_post, exact URL, headers and body") {
    const http::request r = code_request(post_client(awkward_secret));
    CHECK(r.method == boost::beast::http::verb::post);
    CHECK(r.url.buffer() == "https://myorg-myacct.snowflakecomputing.com/oauth/token-request");
    CHECK(headers_of(r) == "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\n"
                           "Accept: application/json\n");
    CHECK(r.body == "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=" +
                        std::string(encoded_redirect) + "&code_verifier=" + std::string(verifier_text) +
                        "&client_id=123ABC&client_secret=" + std::string(awkward_secret_encoded));
}

TEST_CASE("token request: client_secret_basic sends the credentials in the Authorization header only") {
    const http::request r = code_request(basic_client());
    CHECK(headers_of(r) == "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\n"
                           "Accept: application/json\n"
                           "Authorization: Basic MTIzQUJDOjQ1NkRFRg==\n");
    CHECK(r.body == "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=" +
                        std::string(encoded_redirect) + "&code_verifier=" + std::string(verifier_text));
    CHECK(r.body.find("client_") == std::string::npos);
}

TEST_CASE("token request: the Basic credentials are base64 of the form-encoded id and secret") {
    // base64("123ABC:a%2Bb%2Fc%3Dd+e")
    CHECK(code_request(basic_client(awkward_secret)).headers["Authorization"] ==
          "Basic MTIzQUJDOmElMkJiJTJGYyUzRGQrZQ==");
    // The id is encoded too: base64("id%2Fwith%3Acolon:a%2Bb%2Fc%3Dd+e")
    const oauth::client_credentials client{"id/with:colon", secret(awkward_secret),
                                           oauth::client_auth_method::client_secret_basic};
    CHECK(code_request(client).headers["Authorization"] == "Basic aWQlMkZ3aXRoJTNBY29sb246YSUyQmIlMkZjJTNEZCtl");
    const auto decoded = takeoff::base64_decode("aWQlMkZ3aXRoJTNBY29sb246YSUyQmIlMkZjJTNEZCtl");
    REQUIRE(decoded.has_value());
    CHECK(*decoded == "id%2Fwith%3Acolon:a%2Bb%2Fc%3Dd+e");
}

TEST_CASE("token request: enable_single_use_refresh_tokens=true follows code_verifier only when asked") {
    oauth::code_exchange_options single_use;
    single_use.single_use_refresh_tokens = true;
    CHECK(code_request(post_client(), single_use).body ==
          "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=" + std::string(encoded_redirect) +
              "&code_verifier=" + std::string(verifier_text) +
              "&enable_single_use_refresh_tokens=true&client_id=123ABC&client_secret=456DEF");
    CHECK(code_request(basic_client(), single_use).body ==
          "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=" + std::string(encoded_redirect) +
              "&code_verifier=" + std::string(verifier_text) + "&enable_single_use_refresh_tokens=true");
    CHECK(code_request(post_client()).body.find("enable_single_use") == std::string::npos);

    // The overload without options is the default options.
    diagnostics diag;
    auto plain = oauth::make_authorization_code_request(endpoint, post_client(), secret(code_text), redirect,
                                                        secret(verifier_text), diag);
    REQUIRE(plain.has_value());
    CHECK(plain->body == code_request(post_client()).body);
}

TEST_CASE("token request: refresh_token grant, scope only when given, both methods") {
    const http::request with_scope = refresh_request(post_client(awkward_secret), "refresh_token session:role:ANALYST");
    CHECK(with_scope.url.buffer() == "https://myorg-myacct.snowflakecomputing.com/oauth/token-request");
    CHECK(headers_of(with_scope) == "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\n"
                                    "Accept: application/json\n");
    CHECK(with_scope.body == "grant_type=refresh_token&refresh_token=rt%2Fsecret%2Bvalue%3D"
                             "&scope=refresh_token+session%3Arole%3AANALYST&client_id=123ABC&client_secret=" +
                                 std::string(awkward_secret_encoded));

    CHECK(refresh_request(post_client(), "").body ==
          "grant_type=refresh_token&refresh_token=rt%2Fsecret%2Bvalue%3D&client_id=123ABC&client_secret=456DEF");

    const http::request basic = refresh_request(basic_client(), "session:role:ANALYST");
    CHECK(basic.body == "grant_type=refresh_token&refresh_token=rt%2Fsecret%2Bvalue%3D&scope=session%3Arole%3AANALYST");
    CHECK(basic.headers["Authorization"] == "Basic MTIzQUJDOjQ1NkRFRg==");
}

TEST_CASE("token request: a public client (empty secret) sends only its client_id in the body") {
    const oauth::client_credentials local{"LOCAL_APPLICATION", secret(), oauth::client_auth_method::client_secret_post};
    const http::request r = code_request(local);
    CHECK(r.body == "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=" +
                        std::string(encoded_redirect) + "&code_verifier=" + std::string(verifier_text) +
                        "&client_id=LOCAL_APPLICATION");
    CHECK_FALSE(r.headers.contains("Authorization"));
}

TEST_CASE("token request: broken input is refused, naming the rule and never a value") {
    diagnostics diag;
    const auto code_with = [&diag](const oauth::client_credentials& client, std::string_view code,
                                   std::string_view redirect_uri, std::string_view verifier) {
        return oauth::make_authorization_code_request(endpoint, client, secret(code), redirect_uri, secret(verifier),
                                                      diag);
    };

    oauth::client_credentials no_id = post_client();
    no_id.client_id.clear();
    auto r = code_with(no_id, code_text, redirect, verifier_text);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the token request needs a client_id");

    r = code_with(basic_client(""), code_text, redirect, verifier_text);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "client_secret_basic needs a client secret (a public client sends its client_id "
                                   "in the body: client_secret_post)");

    r = code_with(post_client(), "", redirect, verifier_text);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the token request needs a code");

    r = code_with(post_client(), code_text, "", verifier_text);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the token request needs a redirect_uri");

    r = code_with(post_client(), code_text, redirect, "");
    CHECK(r.error() == errc::pkce_missing);
    CHECK(diag.client_message() == "the token request needs the PKCE code_verifier");

    r = oauth::make_refresh_token_request(endpoint, post_client(), secret(""), "", diag);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the token request needs a refresh token");

    r = oauth::make_refresh_token_request(endpoint, no_id, secret("rt"), "", diag);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the token request needs a client_id");

    r = oauth::make_refresh_token_request(endpoint, basic_client(""), secret("rt"), "", diag);
    CHECK(r.error() == errc::invalid_argument);

    // A success clears what an earlier failure left.
    CHECK(code_with(post_client(), code_text, redirect, verifier_text).has_value());
    CHECK(diag.empty());
}

TEST_CASE("token request: an endpoint whose path Boost.URL cannot parse is invalid_url") {
    auto odd = oauth::token_endpoint::runtime("https://myorg-myacct.snowflakecomputing.com/oauth/token request");
    REQUIRE(odd.has_value()); // the endpoint rules do not look at the path's characters
    diagnostics diag;
    auto r = oauth::make_refresh_token_request(*odd, post_client(), secret("rt"), "", diag);
    CHECK(r.error() == errc::invalid_url);
    CHECK(diag.client_message() == "the token endpoint URL cannot be parsed");
}

TEST_CASE("token response: Snowflake's code-exchange reply, expires_in as a number") {
    diagnostics diag;
    auto r = parse_ok(std::string(snowflake_code_reply), diag);
    REQUIRE(r.has_value());
    CHECK(diag.empty());
    CHECK(r->access_token.reveal() == "ver:1-hint:1234-ETMsDgAAAXYZ");
    CHECK(r->token_type == "Bearer");
    CHECK(r->expires_in == std::optional<std::chrono::seconds>(600s));
    REQUIRE(r->refresh_token.has_value());
    CHECK(r->refresh_token->reveal() == "ver:2-hint:5678-ETMsDgAAAABC");
    CHECK(r->refresh_token_expires_in == std::optional<std::chrono::seconds>(86399s));
    CHECK(r->scope == std::optional<std::string>("refresh_token session:role:ANALYST"));
    CHECK(r->username == std::optional<std::string>("USER1"));
}

TEST_CASE("token response: lifetimes as strings of digits or whole doubles; the refresh reply without extras") {
    diagnostics diag;
    auto r = parse_ok(R"({"access_token":"at","expires_in":"599","refresh_token_expires_in":"86400"})", diag);
    REQUIRE(r.has_value());
    CHECK(r->expires_in == std::optional<std::chrono::seconds>(599s));
    CHECK(r->refresh_token_expires_in == std::optional<std::chrono::seconds>(86400s));

    r = parse_ok(R"({"access_token":"at","expires_in":600.0,"refresh_token_expires_in":0})", diag);
    REQUIRE(r.has_value());
    CHECK(r->expires_in == std::optional<std::chrono::seconds>(600s));
    CHECK(r->refresh_token_expires_in == std::optional<std::chrono::seconds>(0s));

    // Snowflake's refresh reply: no refresh token, no scope, no username.
    r = parse_ok(R"({"access_token":"at2","token_type":"Bearer","expires_in":599,"idpInitiated":false})", diag);
    REQUIRE(r.has_value());
    CHECK(r->access_token.reveal() == "at2");
    CHECK_FALSE(r->refresh_token.has_value());
    CHECK_FALSE(r->refresh_token_expires_in.has_value());
    CHECK_FALSE(r->scope.has_value());
    CHECK_FALSE(r->username.has_value());

    // Nulls are absences; an empty refresh_token counts as none.
    r = parse_ok(R"({"access_token":"at","expires_in":null,"refresh_token":"","scope":null,"username":null,)"
                 R"("token_type":null,"refresh_token_expires_in":null})",
                 diag);
    REQUIRE(r.has_value());
    CHECK_FALSE(r->expires_in.has_value());
    CHECK_FALSE(r->refresh_token.has_value());
    CHECK(r->token_type == "Bearer");
}

TEST_CASE("token response: no token_type is Bearer, and 'bearer' in any case is Bearer") {
    diagnostics diag;
    for (std::string_view body : {R"({"access_token":"at"})", R"({"access_token":"at","token_type":"bearer"})",
                                  R"({"access_token":"at","token_type":"BEARER"})"}) {
        CAPTURE(body);
        auto r = parse_ok(std::string(body), diag);
        REQUIRE(r.has_value());
        CHECK(r->token_type == "Bearer");
        CHECK_FALSE(r->expires_in.has_value());
    }
}

TEST_CASE("token response: another token_type is refused with invalid_response") {
    diagnostics diag;
    auto r = parse_ok(R"({"access_token":"at","token_type":"mac"})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "token_type 'mac' is not supported (only Bearer is)");
    CHECK(diag.http_status() == 200);

    r = parse_ok(R"({"access_token":"at","token_type":"N\u00e4h <script>"})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token response's token_type is not supported (only Bearer is)");

    r = parse_ok(R"({"access_token":"at","token_type":1})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token response's token_type is not a string");
}

TEST_CASE("token response: a missing, non-string or empty access_token is invalid_response naming the field") {
    diagnostics diag;
    auto r = parse_ok(R"({"token_type":"Bearer","refresh_token":"rt-value","expires_in":600})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token response has no access_token");

    r = parse_ok(R"({"access_token":null})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token response has no access_token");

    r = parse_ok(R"({"access_token":12345})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token response's access_token is not a string");

    r = parse_ok(R"({"access_token":""})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token response's access_token is empty");

    // A wrong field elsewhere fails the reply without quoting the token.
    r = parse_ok(R"({"access_token":"at-value","refresh_token":7})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token response's refresh_token is not a string");
    r = parse_ok(R"({"access_token":"at-value","scope":["a"]})", diag);
    CHECK(diag.client_message() == "the token response's scope is not a string");
    r = parse_ok(R"({"access_token":"at-value","username":false})", diag);
    CHECK(diag.client_message() == "the token response's username is not a string");
    CHECK(diag.server_message().empty());
}

TEST_CASE("token response: negative, fractional, garbage or too large lifetimes are invalid_response") {
    const std::string message =
        "the token response's expires_in is not a whole number of seconds from 0 to 2147483647";
    for (std::string_view value : {"-1", "1.5", "\"\"", "\"60s\"", "\"-5\"", "\" 600\"", "true", "{}", "[600]",
                                   "2147483648", "\"2147483648\"", "\"99999999999\"", "18446744073709551615",
                                   "1e300"}) {
        CAPTURE(value);
        diagnostics diag;
        auto r = parse_ok(R"({"access_token":"at","expires_in":)" + std::string(value) + "}", diag);
        CHECK(r.error() == errc::invalid_response);
        CHECK(diag.client_message() == message);
    }
    diagnostics diag;
    CHECK(parse_ok(R"({"access_token":"at","expires_in":2147483647})", diag)->expires_in ==
          std::optional<std::chrono::seconds>(oauth::max_token_lifetime));
    auto r = parse_ok(R"({"access_token":"at","refresh_token_expires_in":"x"})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() ==
          "the token response's refresh_token_expires_in is not a whole number of seconds from 0 to 2147483647");
}

TEST_CASE("token response: a 2xx that is not a JSON object is invalid_response, and the body is not quoted") {
    diagnostics diag;
    auto r = oauth::parse_token_response(reply(200, "raw-token-text-abc", "text/plain"), diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token endpoint's reply is not JSON");
    CHECK(diag.http_status() == 200);
    CHECK(diag.server_message().empty());

    r = parse_ok(R"(["access_token"])", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token endpoint's reply is not a JSON object");

    r = parse_ok("", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token endpoint's reply is not JSON");
}

TEST_CASE("token error: Snowflake's error body gives the OAuth errc and fills the diagnostics") {
    diagnostics diag;
    auto r = oauth::parse_token_response(
        reply(400, R"({"data":null,"message":"This is an invalid client.","code":null,"success":false,)"
                   R"("error":"invalid_client"})"),
        diag);
    CHECK(r.error() == errc::invalid_client);
    CHECK(diag.http_status() == 400);
    CHECK(diag.server_error_code() == "invalid_client");
    CHECK(diag.server_message() == "This is an invalid client.");
    CHECK(diag.client_message() ==
          "the token endpoint refused the request: invalid_client (check the client id and client secret, and "
          "whether they go in the body (client_secret_post) or the Authorization header (client_secret_basic))");

    // token_error_from_response says the same.
    diagnostics direct;
    CHECK(oauth::token_error_from_response(
              reply(400, R"({"data":null,"message":"This is an invalid client.","code":null,"success":false,)"
                         R"("error":"invalid_client"})"),
              direct) == errc::invalid_client);
    CHECK(direct == diag);
}

TEST_CASE("token error: RFC 6749's error body; error_description becomes the server message") {
    diagnostics diag;
    auto r = oauth::parse_token_response(
        reply(400, R"({"error":"invalid_grant","error_description":"The provided grant or refresh token is invalid."})"),
        diag);
    CHECK(r.error() == errc::invalid_grant);
    CHECK(diag.http_status() == 400);
    CHECK(diag.server_error_code() == "invalid_grant");
    CHECK(diag.server_message() == "The provided grant or refresh token is invalid.");
    CHECK(diag.client_message() == "the token endpoint refused the request: invalid_grant (the code or refresh token "
                                   "is invalid, expired or was already used: sign in again)");

    // `message` wins over error_description; the JSON error wins over the status.
    r = oauth::parse_token_response(
        reply(401, R"({"error":"invalid_request","message":"m","error_description":"d"})"), diag);
    CHECK(r.error() == errc::invalid_request);
    CHECK(diag.http_status() == 401);
    CHECK(diag.server_message() == "m");
    CHECK(diag.client_message() ==
          "the token endpoint refused the request: invalid_request (a client bug: the request is malformed or lacks "
          "a parameter)");

    r = oauth::parse_token_response(reply(400, R"({"error":"unsupported_grant_type"})"), diag);
    CHECK(r.error() == errc::unsupported_grant_type);
    CHECK(diag.server_message().empty());
    CHECK(diag.client_message() == "the token endpoint refused the request: unsupported_grant_type (a client bug: the "
                                   "server does not accept this grant type)");
}

TEST_CASE("token error: an unknown error is oauth_error; an odd error string is not quoted in our message") {
    diagnostics diag;
    auto r = oauth::parse_token_response(reply(400, R"({"error":"network_policy_violation"})"), diag);
    CHECK(r.error() == errc::oauth_error);
    CHECK(diag.server_error_code() == "network_policy_violation");
    CHECK(diag.client_message() == "the token endpoint refused the request: network_policy_violation");

    r = oauth::parse_token_response(reply(400, R"({"error":"bad thing\nhappened"})"), diag);
    CHECK(r.error() == errc::oauth_error);
    CHECK(diag.server_error_code() == "bad thing happened");
    CHECK(diag.client_message() == "the token endpoint refused the request: an unrecognised error");
}

TEST_CASE("token error: a 200 with success:false or an error and no token is the error") {
    diagnostics diag;
    auto r = parse_ok(R"({"data":null,"message":"no","code":null,"success":false,"error":"invalid_grant"})", diag);
    CHECK(r.error() == errc::invalid_grant);
    CHECK(diag.http_status() == 200);
    CHECK(diag.server_message() == "no");

    r = parse_ok(R"({"error":"temporarily_unavailable"})", diag);
    CHECK(r.error() == errc::temporarily_unavailable);
    CHECK(diag.client_message() == "the token endpoint refused the request: temporarily_unavailable (the "
                                   "authorization server is busy: try again later)");

    // success:false without an error string: neither tokens nor an OAuth error.
    r = parse_ok(R"({"success":false,"message":"access_token=leaked"})", diag);
    CHECK(r.error() == errc::invalid_response);
    CHECK(diag.client_message() == "the token endpoint's reply (HTTP 200) holds neither an access token nor an "
                                   "OAuth error");
    CHECK(diag.server_message().empty());
}

TEST_CASE("token error: a non-JSON error body gives the status's errc, with the body as the server message") {
    diagnostics diag;
    auto r = oauth::parse_token_response(reply(502, "<html>Bad Gateway</html>", "text/html"), diag);
    CHECK(r.error() == errc::http_server_error);
    CHECK(diag.http_status() == 502);
    CHECK(diag.server_message() == "<html>Bad Gateway</html>");
    CHECK(diag.server_error_code().empty());
    CHECK(diag.client_message() == "the token endpoint answered HTTP 502 without an OAuth error");

    CHECK(oauth::token_error_from_response(reply(403, "Forbidden by network policy", "text/plain"), diag) ==
          errc::forbidden);
    CHECK(diag.server_message() == "Forbidden by network policy");

    // JSON without an `error`: its message is the server message.
    CHECK(oauth::token_error_from_response(reply(429, R"({"message":"slow down"})"), diag) == errc::too_many_requests);
    CHECK(diag.server_message() == "slow down");

    // A redirect is no success either.
    CHECK(oauth::token_error_from_response(reply(302, ""), diag) == errc::http_status);
    CHECK(diag.server_message().empty());
    CHECK(diag.client_message() == "the token endpoint answered HTTP 302 without an OAuth error");
}

TEST_CASE("token error: secrets the server echoes are masked in the server message") {
    diagnostics diag;
    auto r = oauth::parse_token_response(
        reply(400, R"({"error":"invalid_grant","message":"refresh_token=rt-secret-value is expired"})"), diag);
    CHECK(r.error() == errc::invalid_grant);
    CHECK(diag.server_message() == "refresh_token=[redacted] is expired");
    CHECK(diag.client_message().find("rt-secret-value") == std::string::npos);
}

TEST_CASE("apply_token_response: a new refresh token replaces the old one (rotation)") {
    const auto now = oauth::token_clock::time_point(std::chrono::seconds(1'700'000'000));
    oauth::token_set previous;
    previous.access_token = secret("old-at");
    previous.expires_at = now - 10s;
    previous.refresh_token = secret("old-rt");
    previous.refresh_token_expires_at = now + 1000s;
    previous.scope = "refresh_token session:role:ANALYST";
    previous.username = "USER1";

    diagnostics diag;
    auto reply_tokens = parse_ok(
        R"({"access_token":"new-at","expires_in":600,"refresh_token":"new-rt","refresh_token_expires_in":86400})",
        diag);
    REQUIRE(reply_tokens.has_value());
    const oauth::token_set next =
        oauth::apply_token_response(previous, std::move(*reply_tokens), now, "session:role:OTHER");
    CHECK(next.access_token.reveal() == "new-at");
    CHECK(next.expires_at == std::optional<oauth::token_clock::time_point>(now + 600s));
    REQUIRE(next.refresh_token.has_value());
    CHECK(next.refresh_token->reveal() == "new-rt");
    CHECK(next.refresh_token_expires_at == std::optional<oauth::token_clock::time_point>(now + 86400s));
    CHECK(next.scope == "session:role:OTHER"); // no scope in the reply: the requested one
    CHECK(next.username == "USER1");

    // A new refresh token without a lifetime: its expiry is unknown (not the old one's).
    auto no_lifetime = parse_ok(R"({"access_token":"at3","refresh_token":"rt3"})", diag);
    REQUIRE(no_lifetime.has_value());
    const oauth::token_set third = oauth::apply_token_response(next, std::move(*no_lifetime), now, "");
    CHECK(third.refresh_token->reveal() == "rt3");
    CHECK_FALSE(third.refresh_token_expires_at.has_value());
    CHECK_FALSE(third.expires_at.has_value());
    CHECK(third.scope == "session:role:OTHER"); // nothing requested, nothing echoed: kept
}

TEST_CASE("apply_token_response: no refresh token in the reply keeps the old one; the reply's scope and user win") {
    const auto now = oauth::token_clock::time_point(std::chrono::seconds(1'700'000'000));
    oauth::token_set previous;
    previous.access_token = secret("old-at");
    previous.refresh_token = secret("old-rt");
    previous.refresh_token_expires_at = now + 1000s;
    previous.scope = "old scope";
    previous.username = "USER1";

    diagnostics diag;
    auto reply_tokens = parse_ok(
        R"({"access_token":"new-at","expires_in":"599","scope":"refresh_token session:role:ANALYST","username":"USER2"})",
        diag);
    REQUIRE(reply_tokens.has_value());
    const oauth::token_set next = oauth::apply_token_response(previous, std::move(*reply_tokens), now, "requested");
    CHECK(next.access_token.reveal() == "new-at");
    CHECK(next.expires_at == std::optional<oauth::token_clock::time_point>(now + 599s));
    REQUIRE(next.refresh_token.has_value());
    CHECK(next.refresh_token->reveal() == "old-rt");
    CHECK(next.refresh_token_expires_at == std::optional<oauth::token_clock::time_point>(now + 1000s));
    CHECK(next.scope == "refresh_token session:role:ANALYST");
    CHECK(next.username == "USER2");

    // An empty scope or username in the reply does not erase what is known.
    auto empty_fields = parse_ok(R"({"access_token":"at","scope":"","username":""})", diag);
    REQUIRE(empty_fields.has_value());
    const oauth::token_set kept = oauth::apply_token_response(next, std::move(*empty_fields), now, "");
    CHECK(kept.scope == "refresh_token session:role:ANALYST");
    CHECK(kept.username == "USER2");
}

TEST_CASE("token printing: client credentials and token responses never show a secret") {
    CHECK(printed(oauth::client_auth_method::client_secret_basic) == "client_secret_basic");
    CHECK(oauth::to_string(oauth::client_auth_method::client_secret_post) == "client_secret_post");
    CHECK(printed(post_client(awkward_secret)) ==
          "client_credentials{client_id=\"123ABC\", client_secret=[redacted], method=client_secret_post}");
    CHECK(printed(basic_client("")) ==
          "client_credentials{client_id=\"123ABC\", client_secret=[redacted, empty], method=client_secret_basic}");

    diagnostics diag;
    auto full = parse_ok(std::string(snowflake_code_reply), diag);
    REQUIRE(full.has_value());
    CHECK(printed(*full) == "token_response{access_token=[redacted], token_type=\"Bearer\", expires_in=600, "
                            "refresh_token=[redacted], refresh_token_expires_in=86399, "
                            "scope=\"refresh_token session:role:ANALYST\", username=\"USER1\"}");
    auto minimal = parse_ok(R"({"access_token":"at-value"})", diag);
    REQUIRE(minimal.has_value());
    CHECK(printed(*minimal) == "token_response{access_token=[redacted], token_type=\"Bearer\", expires_in=(none), "
                               "refresh_token=(none), refresh_token_expires_in=(none), scope=(none), username=(none)}");
}

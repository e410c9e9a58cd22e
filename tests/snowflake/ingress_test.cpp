// The SPCS ingress's login redirect, recognised by snowflake::classify_ingress_response (the
// response classifier the Snowflake layer installs into the transport).
#include <takeoff/snowflake/ingress.hpp>

#include <doctest/doctest.h>

#include <boost/url/url_view.hpp>

#include <string>
#include <string_view>

using boost::beast::http::verb;
using takeoff::errc;
namespace snowflake = takeoff::snowflake;

namespace {

constexpr std::string_view current_url = "https://api.example.com/v1/generate?x=1";
constexpr std::string_view login_location =
    "https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin?redirect_uri=https%3A%2F%2Fabc-org.snowflakecomputing.app";

// What the classifier says of a response with `status` and, if not empty, a Location.
boost::system::error_code classify(verb method, unsigned status, std::string_view location,
                                   takeoff::diagnostics& diag) {
    takeoff::http::fields headers;
    if (!location.empty()) headers.append("Location", location);
    return snowflake::classify_ingress_response(
        takeoff::http::response_view{method, boost::urls::url_view(current_url), status, headers}, diag);
}

bool is_login(unsigned status, std::string_view location, verb method = verb::get) {
    takeoff::diagnostics diag;
    const auto ec = classify(method, status, location, diag);
    if (ec) CHECK(ec == errc::ingress_unauthenticated);
    return static_cast<bool>(ec);
}

} // namespace

TEST_CASE("ingress: a redirect to the login host is ingress_unauthenticated, for every method and redirect status") {
    for (verb m : {verb::get, verb::head, verb::post, verb::put, verb::delete_}) {
        for (unsigned status : {301u, 302u, 303u, 307u, 308u}) {
            CAPTURE(status);
            CHECK(is_login(status, login_location, m));
        }
    }
    // Not a redirect status, or no Location: not the login redirect.
    for (unsigned status : {200u, 300u, 304u, 401u, 500u}) CHECK_FALSE(is_login(status, login_location));
    CHECK_FALSE(is_login(302, ""));
    CHECK_FALSE(is_login(302, "  \t "));
}

TEST_CASE("ingress: odd spellings and malformed Locations still name the login host") {
    CHECK(is_login(302, "http://sfc-endpoint-login.snowflakecomputing.app/x")); // a downgrade too
    CHECK(is_login(302, "HTTPS://SFC-ENDPOINT-LOGIN.snowflakecomputing.app/sfc-oauth-begin"));
    CHECK(is_login(302, "//sfc-endpoint-login.snowflakecomputing.app/x"));
    CHECK(is_login(302, "https://sfc-endpoint-login.snowflakecomputing.app:443/x"));
    CHECK(is_login(302, "  https://sfc-endpoint-login.snowflakecomputing.app/x\t"));
    // Not valid URLs, recognised textually.
    CHECK(is_login(302, "https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin?a=b c|d", verb::post));
    CHECK(is_login(302, "https://user@sfc-endpoint-login.snowflakecomputing.app:443/a b", verb::post));
    // The path or query alone does not make the login host.
    CHECK_FALSE(is_login(302, "/sfc-endpoint-login/x"));
    CHECK_FALSE(is_login(302, "https://other.example/?h=sfc-endpoint-login"));
}

TEST_CASE("ingress: the diagnostics say what happened without repeating the Location") {
    takeoff::diagnostics diag;
    REQUIRE(classify(verb::get, 302, login_location, diag) == errc::ingress_unauthenticated);
    CHECK(diag.http_status() == 302);
    CHECK(diag.client_message() ==
          "the Snowflake ingress redirected to its login host: the request needs a valid Snowflake credential "
          "(HTTP 302)");
    CHECK(diag.client_message().find("redirect_uri") == std::string::npos);

    takeoff::diagnostics untouched;
    CHECK_FALSE(classify(verb::get, 302, "/next", untouched));
    CHECK(untouched.empty());
}

TEST_CASE("ingress: is_ingress_login_host") {
    CHECK(snowflake::is_ingress_login_host("sfc-endpoint-login.snowflakecomputing.app"));
    CHECK(snowflake::is_ingress_login_host("SFC-Endpoint-Login.example"));
    CHECK_FALSE(snowflake::is_ingress_login_host("abc-org.snowflakecomputing.app"));
    CHECK_FALSE(snowflake::is_ingress_login_host("x.sfc-endpoint-login.snowflakecomputing.app"));
    CHECK_FALSE(snowflake::is_ingress_login_host("sfc-endpoint"));
}

// normalize_ingress_url: the ingress_url column of SHOW ENDPOINTS as the URL requests go to.

namespace {

constexpr std::string_view reference_host = "aullrl-sfpscogs-vjlambe-awsusw2-demo.snowflakecomputing.app";

// The normalised URL's text, or "error: <client message>".
std::string normalized(std::string_view text) {
    takeoff::diagnostics diag;
    auto url = snowflake::normalize_ingress_url(text, diag);
    if (!url) {
        CHECK(url.error() == errc::invalid_url);
        return "error: " + diag.client_message();
    }
    CHECK(diag.empty());
    return std::string(url->buffer());
}

} // namespace

TEST_CASE("ingress url: the reference ingress_url gets https://, whatever its spelling") {
    const std::string expected = "https://" + std::string(reference_host);
    CHECK(normalized(reference_host) == expected);
    CHECK(normalized("https://aullrl-sfpscogs-vjlambe-awsusw2-demo.snowflakecomputing.app") == expected);
    CHECK(normalized("HTTPS://AULLRL-SFPSCOGS-VJLAMBE-AWSUSW2-DEMO.SnowflakeComputing.APP") == expected);
    CHECK(normalized("aullrl-sfpscogs-vjlambe-awsusw2-demo.snowflakecomputing.app/") == expected);
    CHECK(normalized("https://aullrl-sfpscogs-vjlambe-awsusw2-demo.snowflakecomputing.app//") == expected);
    CHECK(normalized(" \t aullrl-sfpscogs-vjlambe-awsusw2-demo.snowflakecomputing.app\r\n") == expected);

    takeoff::diagnostics diag;
    auto url = snowflake::normalize_ingress_url(reference_host, diag);
    REQUIRE(url.has_value());
    CHECK(url->scheme() == "https");
    CHECK(url->host() == reference_host);
    CHECK(url->path().empty());
}

TEST_CASE("ingress url: a port and a path are kept, without trailing slashes") {
    CHECK(normalized("https://gw-org-acct.snowflakecomputing.app/v1") == "https://gw-org-acct.snowflakecomputing.app/v1");
    CHECK(normalized("gw-org-acct.snowflakecomputing.app/v1/") == "https://gw-org-acct.snowflakecomputing.app/v1");
    CHECK(normalized("GW-org-acct.snowflakecomputing.app:8443/Api/V1") ==
          "https://gw-org-acct.snowflakecomputing.app:8443/Api/V1");
    CHECK(normalized("http://127.0.0.1:8080/") == "http://127.0.0.1:8080");
    CHECK(normalized("HTTP://LocalHost:9000") == "http://localhost:9000");
    CHECK(normalized("http://[::1]:9000/x") == "http://[::1]:9000/x");
}

TEST_CASE("ingress url: each refusal is invalid_url naming the rule") {
    CHECK(normalized("") == "error: the ingress URL is invalid: it is empty");
    CHECK(normalized(" \r\n") == "error: the ingress URL is invalid: it is empty");
    CHECK(normalized("http://abc-org-acct.snowflakecomputing.app") ==
          "error: the ingress URL is invalid: http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://");
    CHECK(normalized("ftp://abc-org-acct.snowflakecomputing.app") ==
          "error: the ingress URL is invalid: a URL starts with https://");
    CHECK(normalized("https://user:pw@abc-org-acct.snowflakecomputing.app") ==
          "error: the ingress URL is invalid: a URL has no userinfo (user@)");
    CHECK(normalized("user@abc-org-acct.snowflakecomputing.app") ==
          "error: the ingress URL is invalid: a URL has no userinfo (user@)");
    CHECK(normalized("abc-org-acct.snowflakecomputing.app/?x=1") ==
          "error: the ingress URL is invalid: an ingress URL has no query (?)");
    CHECK(normalized("https://abc-org-acct.snowflakecomputing.app?") ==
          "error: the ingress URL is invalid: an ingress URL has no query (?)");
    CHECK(normalized("abc-org-acct.snowflakecomputing.app#top") ==
          "error: the ingress URL is invalid: a URL has no fragment (#)");
    CHECK(normalized("abc org.snowflakecomputing.app") ==
          "error: the ingress URL is invalid: a host has ASCII letters, digits, '-' and '.' only");
    CHECK(normalized("https://") == "error: the ingress URL is invalid: a URL has a host");
    CHECK(normalized("abc-org-acct.snowflakecomputing.app:0") ==
          "error: the ingress URL is invalid: a port is a number from 1 to 65535");
    CHECK(normalized("abc-org-acct.snowflakecomputing.app/a b") ==
          "error: the ingress URL is invalid: the path has characters a URL cannot hold (encode them as %XX)");
}

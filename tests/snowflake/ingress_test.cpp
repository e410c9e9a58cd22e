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

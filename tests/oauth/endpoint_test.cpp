#include <takeoff/oauth/endpoint.hpp>

#include "../support/doctest_helpers.hpp"

#include <string>
#include <type_traits>

using takeoff::oauth::authorization_endpoint;
using takeoff::oauth::token_endpoint;

static_assert(!std::is_convertible_v<authorization_endpoint, token_endpoint>);
static_assert(!std::is_convertible_v<token_endpoint, authorization_endpoint>);

namespace {
// The reason runtime() gives for `text`, or "" when it is accepted.
std::string reason(std::string_view text) {
    takeoff::diagnostics diag;
    auto r = token_endpoint::runtime(text, diag);
    if (r) return "";
    CHECK(r.error() == takeoff::errc::invalid_url);
    return std::string(diag.client_message());
}
} // namespace

TEST_CASE("endpoint literals are checked while compiling and keep their URL") {
    authorization_endpoint a = "https://myorg-myacct.snowflakecomputing.com/oauth/authorize";
    token_endpoint t = "https://idp.example.com/oauth2/token?tenant=x";
    token_endpoint local = "http://127.0.0.1:8080/oauth/token-request";
    token_endpoint v6 = "http://[::1]:9/t";
    token_endpoint host = "http://LOCALHOST/t";
    CHECK(a.url() == "https://myorg-myacct.snowflakecomputing.com/oauth/authorize");
    CHECK(t.url() == "https://idp.example.com/oauth2/token?tenant=x");
    CHECK(local.url() == "http://127.0.0.1:8080/oauth/token-request");
    CHECK(v6.url() == "http://[::1]:9/t");
    CHECK(host.url() == "http://LOCALHOST/t");
}

TEST_CASE("endpoint runtime() accepts what literals accept") {
    CHECK(reason("https://a.example.com") == "");
    CHECK(reason("HTTPS://A.Example.COM:443/x") == "");
    CHECK(reason("http://localhost:1/") == "");
    CHECK(reason("http://[::1]") == "");
    auto e = authorization_endpoint::runtime("https://h.example/authorize");
    REQUIRE(e);
    CHECK(e->url() == "https://h.example/authorize");
    CHECK(*e == authorization_endpoint("https://h.example/authorize"));
}

TEST_CASE("endpoint runtime() refuses each broken rule with errc::invalid_url and a reason") {
    CHECK(reason("ftp://h.example/") == "a URL starts with https://");
    CHECK(reason("h.example/token") == "a URL starts with https://");
    CHECK(reason("http://h.example/token") ==
          "http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://");
    CHECK(reason("http://127.0.0.2/token") ==
          "http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://");
    CHECK(reason("https:///token") == "a URL has a host");
    CHECK(reason("https://") == "a URL has a host");
    CHECK(reason("https://[]/t") == "a URL has a host");
    CHECK(reason("https://h.example/t#frag") == "a URL has no fragment (#)");
    CHECK(reason("https://user:pw@h.example/t") == "a URL has no userinfo (user@)");
    CHECK(reason("https://h.example:0/t") == "a port is a number from 1 to 65535");
    CHECK(reason("https://h.example:65536/t") == "a port is a number from 1 to 65535");
    CHECK(reason("https://h.example:/t") == "a port is a number from 1 to 65535");
    CHECK(reason("https://h.example:8x/t") == "a port is a number from 1 to 65535");
    CHECK(reason("https://h_x.example/t") == "a host has ASCII letters, digits, '-' and '.' only");
    CHECK(reason("https://b\xc3\xbc" "cher.example/t") == "a host has ASCII letters, digits, '-' and '.' only");
    CHECK(reason("https://h%2eexample/t") == "a host has ASCII letters, digits, '-' and '.' only");
    CHECK(reason("https://[::1/t") == "an IPv6 host is written [address]");
    CHECK(reason("https://[::g]/t") == "an IPv6 host is written [address]");
    CHECK(token_endpoint::runtime("http://evil.example/").error() == takeoff::errc::invalid_url);
}

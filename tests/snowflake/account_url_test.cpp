#include <takeoff/snowflake/account_url.hpp>

#include "../support/doctest_helpers.hpp"

#include <string>

using takeoff::snowflake::account_url;

namespace {
std::string reason(std::string_view text) {
    takeoff::diagnostics diag;
    auto r = account_url::runtime(text, diag);
    if (r) return "";
    CHECK(r.error() == takeoff::errc::invalid_url);
    return std::string(diag.client_message());
}
constexpr const char* host_form =
    "an account host is <org>-<account> or <locator>[.<region>[.<cloud>]] of LDH labels, then "
    "[.privatelink].snowflakecomputing.com";
constexpr const char* domain = "an account host ends in .snowflakecomputing.com or .snowflakecomputing.cn";
} // namespace

TEST_CASE("account_url makes the account's endpoints (exact strings)") {
    account_url a = "https://myorg-myacct.snowflakecomputing.com";
    CHECK(a.authorization_endpoint().url() == "https://myorg-myacct.snowflakecomputing.com/oauth/authorize");
    CHECK(a.token_endpoint().url() == "https://myorg-myacct.snowflakecomputing.com/oauth/token-request");
    CHECK(a.jwt_token_endpoint().url() == "https://myorg-myacct.snowflakecomputing.com/oauth/token");
    CHECK(a.login_request_url() == "https://myorg-myacct.snowflakecomputing.com/session/v1/login-request");

    account_url slash = "https://MyOrg-MyAcct.SnowflakeComputing.com/";
    CHECK(slash.token_endpoint().url() == "https://myorg-myacct.snowflakecomputing.com/oauth/token-request");
    CHECK(slash == a);

    account_url local = "http://127.0.0.1:8443";
    CHECK(local.authorization_endpoint().url() == "http://127.0.0.1:8443/oauth/authorize");
    CHECK(local.login_request_url() == "http://127.0.0.1:8443/session/v1/login-request");
    account_url v6 = "http://[::1]:9/";
    CHECK(v6.jwt_token_endpoint().url() == "http://[::1]:9/oauth/token");
}

TEST_CASE("account_url accepts the documented host forms") {
    CHECK(reason("https://xy12345.snowflakecomputing.com") == "");
    CHECK(reason("https://xy12345.us-east-2.aws.snowflakecomputing.com") == "");
    CHECK(reason("https://xy12345.east-us-2.azure.snowflakecomputing.com/") == "");
    CHECK(reason("https://xy12345.eu-west-1.snowflakecomputing.com") == "");
    CHECK(reason("https://myorg-myacct.privatelink.snowflakecomputing.com") == "");
    CHECK(reason("https://xy12345.us-east-1.privatelink.snowflakecomputing.com") == "");
    CHECK(reason("https://xy12345.cn-northwest-1.snowflakecomputing.cn") == "");
    CHECK(reason("HTTPS://MYORG-MYACCT.SNOWFLAKECOMPUTING.COM") == "");
    CHECK(reason("https://myorg-myacct.snowflakecomputing.com:443") == "");
    CHECK(reason("http://localhost:1234") == "");
    CHECK(reason("https://127.0.0.1:8443") == ""); // the emulator over HTTPS
}

TEST_CASE("account_url refuses each broken rule with errc::invalid_url and a reason") {
    CHECK(reason("https://snowflakecomputing.com") == domain);
    CHECK(reason("https://myorg-myacct.snowflakecomputing.app") == domain);
    CHECK(reason("https://myorg-myacct.snowflakecomputing.com.evil.example") == domain);
    CHECK(reason("https://evil.example/.snowflakecomputing.com") ==
          "an account URL has no path (a trailing / is allowed)");
    CHECK(reason("https://a.b.c.d.snowflakecomputing.com") == host_form);
    CHECK(reason("https://.snowflakecomputing.com") == host_form);
    CHECK(reason("https://a..snowflakecomputing.com") == host_form);
    CHECK(reason("https://-acct.snowflakecomputing.com") == host_form);
    CHECK(reason("https://acct-.snowflakecomputing.com") == host_form);
    CHECK(reason("https://" + std::string(64, 'a') + ".snowflakecomputing.com") == host_form);
    CHECK(reason("https://my_org-acct.snowflakecomputing.com") ==
          "a host has ASCII letters, digits, '-' and '.' only");
    CHECK(reason("https://b\xc3\xbc" "cher.snowflakecomputing.com") ==
          "a host has ASCII letters, digits, '-' and '.' only");
    CHECK(reason("https://a.snowflakecomputing.com/oauth") == "an account URL has no path (a trailing / is allowed)");
    CHECK(reason("https://a.snowflakecomputing.com?x=1") == "an account URL has no query");
    CHECK(reason("https://a.snowflakecomputing.com#x") == "a URL has no fragment (#)");
    CHECK(reason("https://u@a.snowflakecomputing.com") == "a URL has no userinfo (user@)");
    CHECK(reason("http://a.snowflakecomputing.com") ==
          "an account URL is https:// (http:// only for 127.0.0.1, [::1] and localhost)");
    CHECK(reason("a.snowflakecomputing.com") == "a URL starts with https://");
}

// Negative compile tests of the OAuth endpoint types (see cmake/TakeoffCompileFail.cmake).
#include <takeoff/oauth/endpoint.hpp>
#include <takeoff/snowflake/account_url.hpp>

using takeoff::oauth::authorization_endpoint;
using takeoff::oauth::token_endpoint;

void takes_token_endpoint(const token_endpoint&) {}

int main() {
    token_endpoint fine = "https://h.example/oauth/token-request";
    takes_token_endpoint(fine);
    takeoff::snowflake::account_url account = "https://myorg-myacct.snowflakecomputing.com/";
    takes_token_endpoint(account.token_endpoint());

#if defined(TAKEOFF_CASE_wrong_kind) // expect: authorization_endpoint_kind
    authorization_endpoint a = "https://h.example/oauth/authorize";
    takes_token_endpoint(a);
#endif
#if defined(TAKEOFF_CASE_not_https) // expect: http:// is allowed only for 127.0.0.1, [::1] and localhost
    token_endpoint t = "http://h.example/oauth/token-request";
#endif
#if defined(TAKEOFF_CASE_other_scheme) // expect: a URL starts with https://
    token_endpoint t = "ftp://h.example/";
#endif
#if defined(TAKEOFF_CASE_no_host) // expect: a URL has a host
    authorization_endpoint a = "https:///oauth/authorize";
#endif
#if defined(TAKEOFF_CASE_fragment) // expect: a URL has no fragment
    authorization_endpoint a = "https://h.example/oauth/authorize#x";
#endif
#if defined(TAKEOFF_CASE_userinfo) // expect: a URL has no userinfo
    token_endpoint t = "https://me@h.example/t";
#endif
#if defined(TAKEOFF_CASE_bad_port) // expect: a port is a number from 1 to 65535
    token_endpoint t = "https://h.example:99999/t";
#endif
#if defined(TAKEOFF_CASE_odd_host) // expect: a host has ASCII letters, digits
    token_endpoint t = "https://h_x.example/t";
#endif
#if defined(TAKEOFF_CASE_authorize_as_token) // expect: authorization_endpoint_kind
    takes_token_endpoint(account.authorization_endpoint());
#endif
#if defined(TAKEOFF_CASE_account_not_snowflake) // expect: an account host ends in .snowflakecomputing.com
    takeoff::snowflake::account_url a = "https://evil.example";
#endif
#if defined(TAKEOFF_CASE_account_path) // expect: an account URL has no path
    takeoff::snowflake::account_url a = "https://a.snowflakecomputing.com/oauth";
#endif
#if defined(TAKEOFF_CASE_account_query) // expect: an account URL has no query
    takeoff::snowflake::account_url a = "https://a.snowflakecomputing.com?x";
#endif
#if defined(TAKEOFF_CASE_account_http) // expect: an account URL is https://
    takeoff::snowflake::account_url a = "http://a.snowflakecomputing.com";
#endif
#if defined(TAKEOFF_CASE_account_labels) // expect: an account host is
    takeoff::snowflake::account_url a = "https://a.b.c.d.snowflakecomputing.com";
#endif
#if defined(TAKEOFF_CASE_account_underscore) // expect: a host has ASCII letters, digits
    takeoff::snowflake::account_url a = "https://my_org-acct.snowflakecomputing.com";
#endif
#if defined(TAKEOFF_CASE_account_fragment) // expect: a URL has no fragment
    takeoff::snowflake::account_url a = "https://a.snowflakecomputing.com#x";
#endif
}

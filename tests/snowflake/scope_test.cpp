// Snowflake OAuth scopes: composed at compile time (scope_set), as checked literals, and parsed at
// run time (parse_scope), with the exact strings Snowflake expects (reference section 3).
#include <takeoff/snowflake/scope.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using takeoff::errc;
namespace snowflake = takeoff::snowflake;
namespace scope = takeoff::snowflake::scope;

// The strings are compile-time constants.
static_assert((scope::refresh_token | scope::role<"CONTAINER_USER_ROLE">).str() ==
              "refresh_token session:role:CONTAINER_USER_ROLE");
static_assert(scope::refresh_token.str() == "refresh_token");
static_assert(scope::role_any.str() == "session:role-any");
static_assert((scope::role<"ANALYST"> | scope::role_any | scope::refresh_token).str() ==
              "session:role:ANALYST session:role-any refresh_token");
// The docs' example: a role with a space is percent-encoded.
static_assert(scope::role<"AUTH SNOWFLAKE">.str() == "session:role-encoded:AUTH%20SNOWFLAKE");
// Names SQL could only write quoted, or holding `$`, are encoded too.
static_assert(scope::role<"analyst">.str() == "session:role-encoded:analyst");
static_assert(scope::role<"Data-Eng">.str() == "session:role-encoded:Data-Eng");
static_assert(scope::role<"1ROLE">.str() == "session:role-encoded:1ROLE");
static_assert(scope::role<"MY$ROLE">.str() == "session:role-encoded:MY%24ROLE");
static_assert(scope::role<"a&b=c+d/é">.str() == "session:role-encoded:a%26b%3Dc%2Bd%2F%C3%A9");
static_assert(scope::role<"_ETL_2">.str() == "session:role:_ETL_2");

TEST_CASE("scope: composed sets give Snowflake's exact strings") {
    CHECK((scope::refresh_token | scope::role<"CONTAINER_USER_ROLE">).str() ==
          "refresh_token session:role:CONTAINER_USER_ROLE");
    const snowflake::scopes s = scope::refresh_token | scope::role<"AUTH SNOWFLAKE">;
    CHECK(s.str() == "refresh_token session:role-encoded:AUTH%20SNOWFLAKE");
    CHECK(s.has_refresh_token());
    CHECK_FALSE(s.has_role_any());
    CHECK(s.role() == "AUTH SNOWFLAKE");
}

TEST_CASE("scope: a checked literal is parsed while compiling") {
    const snowflake::scopes s = "refresh_token session:role:ANALYST";
    CHECK(s.str() == "refresh_token session:role:ANALYST");
    CHECK(s.role() == "ANALYST");
    const snowflake::scopes any = "session:role-any";
    CHECK(any.has_role_any());
    CHECK_FALSE(any.role().has_value());
    CHECK_FALSE(any.has_refresh_token());
}

TEST_CASE("scope: parse_scope accepts every scope form") {
    auto s = snowflake::parse_scope("refresh_token session:role:CONTAINER_USER_ROLE");
    REQUIRE(s);
    CHECK(s->str() == "refresh_token session:role:CONTAINER_USER_ROLE");
    CHECK(s->has_refresh_token());
    CHECK(s->role() == "CONTAINER_USER_ROLE");

    s = snowflake::parse_scope("session:role-encoded:AUTH%20SNOWFLAKE");
    REQUIRE(s);
    CHECK(s->role() == "AUTH SNOWFLAKE");
    CHECK_FALSE(s->has_refresh_token());

    s = snowflake::parse_scope("session:role-encoded:a%26b%3dc%2Bd%2F%C3%A9 session:role-any");
    REQUIRE(s);
    CHECK(s->role() == "a&b=c+d/\xC3\xA9");
    CHECK(s->has_role_any());

    s = snowflake::parse_scope("session:role:my-role_1");  // the pattern client code in the wild sends
    REQUIRE(s);
    CHECK(s->role() == "my-role_1");

    // The composed and parsed forms agree.
    const snowflake::scopes composed = scope::refresh_token | scope::role<"analyst">;
    s = snowflake::parse_scope(composed.str());
    REQUIRE(s);
    CHECK(*s == composed);
    CHECK(s->role() == "analyst");
}

TEST_CASE("scope: a parsed value owns its text") {
    std::string text = "refresh_token session:role:ANALYST";
    auto s = snowflake::parse_scope(text);
    text.assign(text.size(), 'x');
    REQUIRE(s);
    const snowflake::scopes copy = *s;
    CHECK(copy.str() == "refresh_token session:role:ANALYST");
    CHECK(copy.role() == "ANALYST");
}

namespace {
// The diagnostics message of parse_scope(text), after checking that it fails as it must.
std::string rejection(std::string_view text) {
    takeoff::diagnostics diag;
    const auto s = snowflake::parse_scope(text, diag);
    REQUIRE_FALSE(s);
    CHECK(s.error() == errc::invalid_scope_string);
    CHECK_FALSE(snowflake::parse_scope(text));
    return diag.client_message();
}
} // namespace

TEST_CASE("scope: parse_scope rejects each broken rule with its own message") {
    CHECK(rejection("") == "the scope string is empty (send no scope instead)");
    CHECK(rejection("refresh_token  session:role:A") == "scopes are separated by single spaces");
    CHECK(rejection(" refresh_token") == "scopes are separated by single spaces");
    CHECK(rejection("refresh_token ") == "scopes are separated by single spaces");
    CHECK(rejection("refresh_token\tsession:role:A") == "scopes are separated by single spaces");
    CHECK(rejection("refresh_token refresh_token") == "refresh_token appears twice");
    CHECK(rejection("session:role-any session:role-any") == "session:role-any appears twice");
    CHECK(rejection("session:role:A session:role:B") == "only one session:role scope is allowed");
    CHECK(rejection("session:role:A session:role-encoded:B") == "only one session:role scope is allowed");
    CHECK(rejection("refresh_token offline_access") ==
          "offline_access is not a Snowflake scope (Snowflake answers invalid_scope); ask for refresh_token");
    CHECK(rejection("bogus_scope") == "unknown Snowflake scope: expected refresh_token, session:role:NAME, "
                                      "session:role-encoded:NAME or session:role-any");
    CHECK(rejection("REFRESH_TOKEN").starts_with("unknown Snowflake scope"));
    CHECK(rejection("session:role:") == "a Snowflake identifier must not be empty");
    CHECK(rejection("session:role-encoded:") == "a Snowflake identifier must not be empty");
    CHECK(rejection("session:role:" + std::string(256, 'A')) == "a Snowflake identifier has at most 255 characters");
    CHECK(rejection("session:role:A$B") ==
          "session:role: takes letters, digits, _ and - only; other role names go in session:role-encoded:");
    // A raw space ends the scope: the rest is a scope of its own.
    CHECK(rejection("session:role-encoded:A B").starts_with("unknown Snowflake scope"));
    CHECK(rejection("session:role-encoded:A+B") ==
          "session:role-encoded: takes unreserved characters and %XX escapes only");
    CHECK(rejection("session:role-encoded:A%2") == "a % in session:role-encoded: is followed by two hex digits");
    CHECK(rejection("session:role-encoded:A%G0") == "a % in session:role-encoded: is followed by two hex digits");
    CHECK(rejection("session:role-encoded:A%0A") == "a Snowflake identifier has no control characters");
    CHECK(rejection("session:role-encoded:" + std::string(256, 'A')) ==
          "a Snowflake identifier has at most 255 characters");
    CHECK(snowflake::parse_scope("session:role-encoded:" + std::string(255, 'A')));
    CHECK(snowflake::parse_scope("session:role-encoded:" + std::string(254, 'A') + "%20"));
}

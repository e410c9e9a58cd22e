// Snowflake identifiers: the unquoted rule, when a stored name needs quoting, and the checked types.
#include <takeoff/snowflake/identifier.hpp>

#include <doctest/doctest.h>

#include <string>

using takeoff::errc;
namespace snowflake = takeoff::snowflake;

static_assert(snowflake::is_unquoted_identifier("CONTAINER_USER_ROLE"));
static_assert(snowflake::is_unquoted_identifier("_x$1"));
static_assert(!snowflake::is_unquoted_identifier(""));
static_assert(!snowflake::is_unquoted_identifier("1ROLE"));
static_assert(!snowflake::is_unquoted_identifier("$ROLE"));
static_assert(!snowflake::is_unquoted_identifier("AUTH SNOWFLAKE"));
static_assert(!snowflake::is_unquoted_identifier("my-role"));
static_assert(!snowflake::needs_quoting("ANALYST"));
static_assert(!snowflake::needs_quoting("MY$ROLE"));
static_assert(snowflake::needs_quoting("analyst"));  // unquoted, SQL would resolve it as ANALYST
static_assert(snowflake::needs_quoting("AUTH SNOWFLAKE"));

TEST_CASE("identifier: the unquoted rule's length limit is 255") {
    CHECK(snowflake::is_unquoted_identifier(std::string(255, 'A')));
    CHECK_FALSE(snowflake::is_unquoted_identifier(std::string(256, 'A')));
}

TEST_CASE("identifier: checked literals and runtime()") {
    const snowflake::identifier quoted = "auth snowflake";
    CHECK(quoted.str() == "auth snowflake");
    const snowflake::unquoted_identifier plain = "ANALYST";
    CHECK(plain.str() == "ANALYST");

    takeoff::diagnostics diag;
    auto id = snowflake::identifier::runtime("", diag);
    REQUIRE_FALSE(id);
    CHECK(id.error() == errc::invalid_identifier);
    CHECK(diag.client_message() == "a Snowflake identifier must not be empty");
    CHECK_FALSE(snowflake::identifier::runtime("A\nB", diag));
    CHECK(diag.client_message() == "a Snowflake identifier has no control characters");
    CHECK_FALSE(snowflake::identifier::runtime(std::string(256, 'A'), diag));
    CHECK(diag.client_message() == "a Snowflake identifier has at most 255 characters");
    CHECK(snowflake::identifier::runtime(std::string(255, 'a')));

    CHECK_FALSE(snowflake::unquoted_identifier::runtime("1A", diag));
    CHECK(diag.client_message() == "an unquoted Snowflake identifier starts with a letter or _");
    CHECK_FALSE(snowflake::unquoted_identifier::runtime("A-B", diag));
    CHECK(diag.client_message() == "an unquoted Snowflake identifier has only letters, digits, _ and $");
    CHECK(snowflake::unquoted_identifier::runtime("_a$1"));
}

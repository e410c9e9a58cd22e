// Negative compile tests of Snowflake scopes (include/takeoff/snowflake/scope.hpp): every rule the
// compiler enforces, for composed sets and for scope-string literals.
#include <takeoff/snowflake/identifier.hpp>
#include <takeoff/snowflake/scope.hpp>

namespace snowflake = takeoff::snowflake;
namespace scope = takeoff::snowflake::scope;

void takes_scopes(snowflake::scopes) {}

int main() {
    constexpr auto fine = scope::refresh_token | scope::role<"CONTAINER_USER_ROLE"> | scope::role_any;
    static_assert(fine.str() == "refresh_token session:role:CONTAINER_USER_ROLE session:role-any");
    takes_scopes(fine);
    takes_scopes("refresh_token session:role-encoded:AUTH%20SNOWFLAKE");
    snowflake::identifier id = "analyst";
    (void)id;

#if defined(TAKEOFF_CASE_two_roles) // expect: only one session:role scope is allowed
    constexpr auto s = scope::role<"A"> | scope::refresh_token | scope::role<"B">;
#endif
#if defined(TAKEOFF_CASE_same_role_twice) // expect: only one session:role scope is allowed
    constexpr auto s = scope::role<"A"> | scope::role<"A">;
#endif
#if defined(TAKEOFF_CASE_refresh_token_twice) // expect: refresh_token appears twice
    constexpr auto s = scope::refresh_token | scope::role<"A"> | scope::refresh_token;
#endif
#if defined(TAKEOFF_CASE_role_any_twice) // expect: session:role-any appears twice
    constexpr auto s = scope::role_any | scope::role_any;
#endif
#if defined(TAKEOFF_CASE_empty_role) // expect: a Snowflake identifier must not be empty
    constexpr auto s = scope::refresh_token | scope::role<"">;
#endif
#if defined(TAKEOFF_CASE_role_with_control_character) // expect: a Snowflake identifier has no control characters
    constexpr auto s = scope::role<"A\nB">;
#endif
#if defined(TAKEOFF_CASE_role_too_long) // expect: a Snowflake identifier has at most 255 characters
    constexpr auto s = scope::role<"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA">;
#endif
#if defined(TAKEOFF_CASE_literal_offline_access) // expect: offline_access is not a Snowflake scope
    takes_scopes("refresh_token offline_access");
#endif
#if defined(TAKEOFF_CASE_literal_two_roles) // expect: only one session:role scope is allowed
    snowflake::scopes s = "session:role:A session:role-encoded:B";
#endif
#if defined(TAKEOFF_CASE_literal_duplicate) // expect: refresh_token appears twice
    snowflake::scopes s = "refresh_token refresh_token";
#endif
#if defined(TAKEOFF_CASE_literal_double_space) // expect: scopes are separated by single spaces
    snowflake::scopes s = "refresh_token  session:role:A";
#endif
#if defined(TAKEOFF_CASE_literal_empty_role) // expect: a Snowflake identifier must not be empty
    snowflake::scopes s = "session:role:";
#endif
#if defined(TAKEOFF_CASE_literal_unknown) // expect: unknown Snowflake scope
    snowflake::scopes s = "bogus_scope";
#endif
#if defined(TAKEOFF_CASE_literal_needs_encoding) // expect: other role names go in session:role-encoded:
    snowflake::scopes s = "session:role:AUTH$SNOWFLAKE";
#endif
#if defined(TAKEOFF_CASE_runtime_text_needs_parse_scope) // expect: no matching function for call to
    const char* dynamic = "refresh_token";
    snowflake::scopes s(dynamic);
#endif
#if defined(TAKEOFF_CASE_empty_identifier) // expect: a Snowflake identifier must not be empty
    snowflake::identifier i = "";
#endif
#if defined(TAKEOFF_CASE_unquoted_identifier_start) // expect: an unquoted Snowflake identifier starts with a letter or _
    snowflake::unquoted_identifier i = "1ROLE";
#endif
#if defined(TAKEOFF_CASE_unquoted_identifier_chars) // expect: an unquoted Snowflake identifier has only letters, digits, _ and $
    snowflake::unquoted_identifier i = "MY ROLE";
#endif
}

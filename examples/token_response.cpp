// Reading a Snowflake OAuth token response with the tolerant JSON mapping, and what a failure
// tells you. Secrets stay out of the output.
#include <takeoff/takeoff.hpp>

#include <boost/describe/class.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace example {

// The fields of /oauth/token-request's reply that a client uses; the server sends more
// (idpInitiated, username, ...), which the mapping ignores.
struct token_reply {
    takeoff::secret access_token;
    std::string token_type;
    std::int64_t expires_in = 0;
    std::optional<takeoff::secret> refresh_token;
    std::optional<std::string> scope;
};
BOOST_DESCRIBE_STRUCT(token_reply, (), (access_token, token_type, expires_in, refresh_token, scope))

} // namespace example

int main() {
    const char* body = R"({"access_token":"ver:1-hint:1234-ETMsDgAAAY","token_type":"Bearer",
        "expires_in":600,"refresh_token":"ver:2-hint:5678-rt","username":"ANALYST",
        "scope":"refresh_token session:role:CONTAINER_USER_ROLE","idpInitiated":false})";

    takeoff::diagnostics diag;
    auto reply = takeoff::parse_json<example::token_reply>(body, diag);
    if (!reply) {
        std::cerr << "unexpected: " << reply.error().message() << ": " << diag.client_message() << "\n";
        return 1;
    }
    std::cout << "token " << reply->access_token << " (" << reply->token_type << ", " << reply->expires_in
              << " s), refresh token " << (reply->refresh_token ? to_string(*reply->refresh_token) : "none")
              << ", scope " << reply->scope.value_or("(as requested)") << "\n";

    // A reply without an access token: the error names the field.
    auto broken = takeoff::parse_json<example::token_reply>(R"({"token_type":"Bearer","expires_in":600})", diag);
    if (broken || broken.error() != takeoff::errc::missing_field) return 1;
    std::cout << "broken reply: " << broken.error().message() << ": " << diag.client_message() << "\n";
    return 0;
}

#include <takeoff/core/redact.hpp>

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <utility>

TEST_CASE("secret never prints its value") {
    takeoff::secret s("eyJhbGciOi.secret-token");
    std::ostringstream os;
    os << s;
    CHECK(os.str() == "[redacted]");
    CHECK(to_string(s) == "[redacted]");
    CHECK(s.reveal() == "eyJhbGciOi.secret-token");
    CHECK(to_string(takeoff::secret{}) == "[redacted, empty]");
}

TEST_CASE("secret copies, moves and compares") {
    takeoff::secret a("one");
    takeoff::secret b = a;
    CHECK(a == b);
    takeoff::secret c = std::move(b);
    CHECK(c.reveal() == "one");
    CHECK(b.empty()); // NOLINT(bugprone-use-after-move): the moved-from state is documented as empty
    c = takeoff::secret("two");
    CHECK_FALSE(a == c);
    CHECK_FALSE(takeoff::secret("one") == takeoff::secret("one!"));
}

TEST_CASE("redact_secrets_in masks JSON, form and header credentials") {
    using takeoff::redact_secrets_in;
    CHECK(redact_secrets_in(R"({"access_token":"ver:1-hint:abc","token_type":"Bearer","expires_in":600})") ==
          R"({"access_token":[redacted],"token_type":"Bearer","expires_in":600})");
    CHECK(redact_secrets_in(R"({"refresh_token" : "r\"t"})") == R"({"refresh_token" : [redacted]})");
    CHECK(redact_secrets_in("grant_type=refresh_token&refresh_token=abc&client_secret=s3cr3t&client_id=id") ==
          "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]&client_id=id");
    CHECK(redact_secrets_in("Authorization: Snowflake Token=\"xyz\"\r\nHost: a") ==
          "Authorization: [redacted]\r\nHost: a");
    CHECK(redact_secrets_in(R"(Snowflake Token="xyz")") == R"(Snowflake Token=[redacted])");
    CHECK(redact_secrets_in(R"({"data":{"sessionToken":"st","masterToken":"mt"}})") ==
          R"({"data":{"sessionToken":[redacted],"masterToken":[redacted]}})");
    // Words that merely contain a key, and keys without a value, are left alone.
    CHECK(redact_secrets_in("tokens=5&my_token_count=2&token") == "tokens=5&my_token_count=2&token");
    CHECK(redact_secrets_in("nothing secret here") == "nothing secret here");
    CHECK(redact_secrets_in("") == "");
}

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

namespace {

// Whether the `count` bytes from p are all zero. The tests read the buffer of a string past its
// size(), up to its capacity(): where a short string's bytes stay after a move (libstdc++ keeps up to
// 15 characters in the string object itself and copies them out on a move).
bool all_zero(const char* p, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i)
        if (p[i] != '\0') return false;
    return true;
}

} // namespace

TEST_CASE("secret from an rvalue std::string zeroes the source's whole buffer") {
    std::string source = "short-secret"; // in the small-string buffer
    REQUIRE(source.size() < source.capacity());
    const takeoff::secret s(std::move(source));
    CHECK(s.reveal() == "short-secret");
    CHECK(source.empty()); // NOLINT(bugprone-use-after-move): its buffer is what is checked
    CHECK(all_zero(source.data(), source.capacity()));
}

TEST_CASE("a moved-from secret's small-string buffer is zeroed, by move construction and move assignment") {
    const std::size_t small_capacity = std::string().capacity();
    takeoff::secret a("short-secret");
    REQUIRE(std::string_view("short-secret").size() <= small_capacity);
    const char* a_buffer = a.reveal().data();
    const takeoff::secret b(std::move(a));
    CHECK(b.reveal() == "short-secret");
    REQUIRE(a.reveal().data() == a_buffer); // NOLINT(bugprone-use-after-move): still its own small buffer
    CHECK(all_zero(a_buffer, small_capacity));

    takeoff::secret c("other-secret");
    takeoff::secret d("short-secret");
    const char* d_buffer = d.reveal().data();
    c = std::move(d);
    CHECK(c.reveal() == "short-secret");
    REQUIRE(d.reveal().data() == d_buffer); // NOLINT(bugprone-use-after-move)
    CHECK(all_zero(d_buffer, small_capacity));
}

TEST_CASE("replacing a secret zeroes its buffer up to the capacity, past the old size") {
    // A string shortened in place keeps the rest of its value past size(); the secret takes over
    // that buffer.
    std::string source = "a-long-secret-token-with-more-than-15-characters";
    const std::size_t length = source.size();
    source.resize(5);
    takeoff::secret s(std::move(source));
    CHECK(s.reveal() == "a-lon");
    const char* buffer = s.reveal().data();
    const takeoff::secret replacement("y");
    s = replacement; // copied into the same buffer, which is large enough
    REQUIRE(s.reveal().data() == buffer);
    CHECK(s.reveal() == "y");
    CHECK(all_zero(buffer + 1, length - 1)); // the terminator, then what was left past size()
}

#include <takeoff/core/jwt.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/json/serialize.hpp>

#include <chrono>
#include <string>
#include <string_view>

using takeoff::diagnostics;
using takeoff::errc;

namespace {

// A compact JWT with the given header and payload JSON and a dummy signature.
std::string make_jwt(std::string_view header, std::string_view payload) {
    return takeoff::jwt_signing_input(header, payload) + ".c2ln";
}

} // namespace

TEST_CASE("jwt_signing_input: base64url without padding of each part, joined by a dot") {
    // {"alg":"RS256","typ":"JWT"} is the header every key-pair JWT has.
    CHECK(takeoff::jwt_signing_input(R"({"alg":"RS256","typ":"JWT"})", R"({"a":1})") ==
          "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhIjoxfQ");
}

TEST_CASE("split_jwt: the three encoded segments as views") {
    diagnostics diag;
    auto parts = takeoff::split_jwt("aGVh.cGF5.c2ln", diag);
    REQUIRE(parts.has_value());
    CHECK(parts->header == "aGVh");
    CHECK(parts->payload == "cGF5");
    CHECK(parts->signature == "c2ln");
    CHECK(diag.empty());

    auto unsigned_jwt = takeoff::split_jwt("aGVh.cGF5.", diag);
    REQUIRE(unsigned_jwt.has_value());
    CHECK(unsigned_jwt->signature.empty());
}

TEST_CASE("split_jwt: wrong segment counts, empty parts and foreign characters are refused, naming the rule") {
    diagnostics diag;
    for (std::string_view bad : {"", "abc", "a.b", "a.b.c.d", "a.b.c.d.e"}) {
        CAPTURE(bad);
        auto r = takeoff::split_jwt(bad, diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_argument);
        CHECK(diag.client_message() == "a JWT has three segments separated by '.'");
    }
    for (std::string_view bad : {".cGF5.c2ln", "aGVh..c2ln"}) {
        CAPTURE(bad);
        auto r = takeoff::split_jwt(bad, diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(diag.client_message() == "a JWT's header and payload are not empty");
    }
    for (std::string_view bad : {"aGVh.cGF5.c2l=", "aGVh.cG+5.c2ln", "aG Vh.cGF5.c2ln", "aGVh.cGF5.c2ln\n"}) {
        CAPTURE(bad);
        auto r = takeoff::split_jwt(bad, diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(diag.client_message() == "a JWT's segments are unpadded base64url");
    }
}

TEST_CASE("jwt_header and jwt_payload: the decoded JSON objects") {
    diagnostics diag;
    const std::string jwt = make_jwt(R"({"alg":"RS256","typ":"JWT"})", R"({"sub":"A.B","exp":1700000000})");
    auto header = takeoff::jwt_header(jwt, diag);
    REQUIRE(header.has_value());
    CHECK(boost::json::serialize(*header) == R"({"alg":"RS256","typ":"JWT"})");
    auto payload = takeoff::jwt_payload(jwt, diag);
    REQUIRE(payload.has_value());
    CHECK(boost::json::serialize(*payload) == R"({"sub":"A.B","exp":1700000000})");
    CHECK(diag.empty());
}

TEST_CASE("jwt_payload: a segment that is not base64url, not JSON or not an object is invalid_argument") {
    diagnostics diag;
    // "e" alone cannot hold a byte: not base64url.
    auto r1 = takeoff::jwt_payload("eyJhIjoxfQ.e.c2ln", diag);
    REQUIRE_FALSE(r1.has_value());
    CHECK(r1.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the JWT's payload is not valid base64url");

    auto r2 = takeoff::jwt_payload(make_jwt("{}", "not json"), diag);
    REQUIRE_FALSE(r2.has_value());
    CHECK(diag.client_message() == "the JWT's payload is not JSON");

    auto r3 = takeoff::jwt_payload(make_jwt("{}", "[1,2]"), diag);
    REQUIRE_FALSE(r3.has_value());
    CHECK(diag.client_message() == "the JWT's payload is not a JSON object");

    auto r4 = takeoff::jwt_header(make_jwt("\"x\"", "{}"), diag);
    REQUIRE_FALSE(r4.has_value());
    CHECK(diag.client_message() == "the JWT's header is not a JSON object");
}

TEST_CASE("jwt_expiry: exp in seconds as an integer or a number with a fraction") {
    using std::chrono::seconds;
    using std::chrono::system_clock;
    CHECK(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":1700000000})")) == system_clock::time_point(seconds(1700000000)));
    CHECK(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":1700000000.75})")) ==
          system_clock::time_point(seconds(1700000000)));
    CHECK(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":0})")) == system_clock::time_point(seconds(0)));
    const auto max = std::chrono::duration_cast<seconds>(system_clock::duration::max()).count();
    CHECK(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":)" + std::to_string(max) + "}")) ==
          system_clock::time_point(seconds(max)));
}

TEST_CASE("jwt_expiry: nothing for a non-JWT, a missing exp, a non-number or an out-of-range exp") {
    CHECK_FALSE(takeoff::jwt_expiry("opaque-token-text").has_value());
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"iat":1700000000})")).has_value());
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":"1700000000"})")).has_value());
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":null})")).has_value());
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":-1})")).has_value());
    const auto max = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count();
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":)" + std::to_string(max + 1) + "}")).has_value());
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":253402300799})")).has_value()); // 9999-12-31
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":18446744073709551615})")).has_value());
    CHECK_FALSE(takeoff::jwt_expiry(make_jwt("{}", R"({"exp":1e300})")).has_value());
}

#include <takeoff/core/base64.hpp>

#include "../support/doctest_helpers.hpp"

#include <array>
#include <string>
#include <string_view>

using namespace std::string_view_literals;

namespace {

struct vector_case {
    std::string_view plain;
    std::string_view padded;
    std::string_view url;
};

// RFC 4648 section 10.
constexpr std::array<vector_case, 7> rfc4648_vectors{{
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
}};

} // namespace

TEST_CASE("base64_encode and base64url_encode give the RFC 4648 section 10 vectors") {
    for (const auto& v : rfc4648_vectors) {
        CAPTURE(v.plain);
        CHECK(takeoff::base64_encode(v.plain) == v.padded);
        CHECK(takeoff::base64url_encode(v.plain) == v.url);
    }
}

TEST_CASE("base64_decode and base64url_decode invert the RFC 4648 section 10 vectors") {
    for (const auto& v : rfc4648_vectors) {
        CAPTURE(v.padded);
        auto decoded = takeoff::base64_decode(v.padded);
        REQUIRE(decoded.has_value());
        CHECK(*decoded == v.plain);
        auto url_unpadded = takeoff::base64url_decode(v.url);
        REQUIRE(url_unpadded.has_value());
        CHECK(*url_unpadded == v.plain);
        auto url_padded = takeoff::base64url_decode(v.padded); // padding is optional for base64url
        REQUIRE(url_padded.has_value());
        CHECK(*url_padded == v.plain);
    }
}

TEST_CASE("the two alphabets differ only in characters 62 and 63") {
    CHECK(takeoff::base64_encode("\xfb\xff"sv) == "+/8=");
    CHECK(takeoff::base64url_encode("\xfb\xff"sv) == "-_8");
    CHECK(takeoff::base64_encode("\xfb\xef\xbe"sv) == "++++");
    CHECK(takeoff::base64url_encode("\xfb\xef\xbe"sv) == "----");
    CHECK(takeoff::base64_encode("\xff\xff\xff"sv) == "////");
    CHECK(takeoff::base64url_encode("\xff\xff\xff"sv) == "____");
    CHECK(takeoff::base64_decode("+/8=").value() == "\xfb\xff"sv);
    CHECK(takeoff::base64url_decode("-_8").value() == "\xfb\xff"sv);
}

TEST_CASE("binary data with NUL bytes round-trips") {
    const std::string data("\0\x01\x02\0\xfe\xff\0"sv);
    CHECK(takeoff::base64_encode(std::string_view("\0\0\0", 3)) == "AAAA");
    CHECK(takeoff::base64_decode(takeoff::base64_encode(data)).value() == data);
    CHECK(takeoff::base64url_decode(takeoff::base64url_encode(data)).value() == data);
}

TEST_CASE("base64url_encode gives the RFC 7636 appendix B PKCE verifier") {
    constexpr std::array<unsigned char, 32> octets{116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                                   125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                                   191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
    const std::string bytes(octets.begin(), octets.end());
    CHECK(takeoff::base64url_encode(bytes) == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    CHECK(takeoff::base64url_decode("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").value() == bytes);
}

TEST_CASE("base64_decode rejects what is not canonical padded base64") {
    const auto invalid = takeoff::make_error_code(takeoff::errc::invalid_argument);
    for (std::string_view bad : {"Zg"sv, "Zg="sv, "Z==="sv, "===="sv, "Zg==Zg=="sv, "Zh=="sv, "Zm9="sv,
                                 "Zm9v\n"sv, "Zm 9v"sv, " Zm9v"sv, "-_8="sv, "Zm9v="sv, "Z"sv, "Zm9v*A=="sv}) {
        CAPTURE(bad);
        const auto r = takeoff::base64_decode(bad);
        REQUIRE(r.has_error());
        CHECK(r.error() == invalid);
    }
}

TEST_CASE("base64url_decode rejects the standard alphabet, bad padding and non-canonical bits") {
    const auto invalid = takeoff::make_error_code(takeoff::errc::invalid_argument);
    for (std::string_view bad : {"+/8"sv, "Zg="sv, "Z"sv, "Zh"sv, "Zm9"sv, "Zm9vY"sv, "Zg==="sv, "Zm9v\n"sv,
                                 "Zm9v="sv, "=="sv}) {
        CAPTURE(bad);
        const auto r = takeoff::base64url_decode(bad);
        REQUIRE(r.has_error());
        CHECK(r.error() == invalid);
    }
}

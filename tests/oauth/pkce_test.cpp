#include <takeoff/oauth/pkce.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/asio/ssl/error.hpp>

#include <array>
#include <cstring>
#include <span>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

using namespace std::string_view_literals;
using takeoff::errc;
using takeoff::secret;
namespace oauth = takeoff::oauth;

namespace {

// A source that always fails, as RAND_bytes does with an unseeded generator.
boost::system::error_code failing_source(std::span<unsigned char>) {
    return make_error_code(boost::system::errc::resource_unavailable_try_again);
}

// A source of known bytes (0x00, 0x01, ...), to check the encoding of what it produces.
boost::system::error_code counting_source(std::span<unsigned char> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(i);
    return {};
}

} // namespace

// RFC 7636 appendix B, as printed there (also what `openssl dgst -sha256 -binary | base64` with the
// url alphabet and no padding gives for the verifier).
TEST_CASE("pkce: RFC 7636 appendix B vector") {
    auto p = oauth::pkce::from_verifier(secret("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
    REQUIRE(p.has_value());
    CHECK(p->challenge() == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    CHECK(p->verifier().reveal() == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    CHECK(oauth::pkce::method() == "S256");

    auto challenge = oauth::pkce_s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    REQUIRE(challenge.has_value());
    CHECK(*challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST_CASE("pkce: generated verifiers are 43 unreserved characters and differ") {
    std::set<std::string> seen;
    for (int i = 0; i < 16; ++i) {
        auto p = oauth::pkce::generate();
        REQUIRE(p.has_value());
        const std::string_view v = p->verifier().reveal();
        CHECK(v.size() == 43);
        CHECK(oauth::is_valid_pkce_verifier(v));
        CHECK(p->challenge().size() == 43); // 32 digest bytes, unpadded
        CHECK(p->challenge().find('=') == std::string::npos);
        CHECK(p->challenge() == *oauth::pkce_s256_challenge(v));
        seen.insert(std::string(v));
    }
    CHECK(seen.size() == 16);
}

TEST_CASE("pkce: a verifier from a given source is the base64url of its 32 bytes") {
    auto p = oauth::pkce::generate(counting_source);
    REQUIRE(p.has_value());
    // base64url of 0x00..0x1f
    CHECK(p->verifier().reveal() == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
}

TEST_CASE("pkce: a failing random source is an error code") {
    auto p = oauth::pkce::generate(failing_source);
    REQUIRE(p.has_error());
    CHECK(p.error() == boost::system::errc::resource_unavailable_try_again);
}

TEST_CASE("pkce: the OpenSSL source fills the buffer") {
    std::array<unsigned char, 64> a{}, b{};
    CHECK_FALSE(oauth::openssl_random_bytes(a));
    CHECK_FALSE(oauth::openssl_random_bytes(b));
    CHECK(std::memcmp(a.data(), b.data(), a.size()) != 0);
    CHECK_FALSE(oauth::openssl_random_bytes(std::span<unsigned char>()));
}

TEST_CASE("pkce: verifier rules of RFC 7636 section 4.1") {
    const std::string min(43, 'a'), max(128, '~');
    CHECK(oauth::is_valid_pkce_verifier(min));
    CHECK(oauth::is_valid_pkce_verifier(max));
    CHECK(oauth::is_valid_pkce_verifier("ABCXYZabcxyz0189-._~" + std::string(23, 'x')));
    CHECK_FALSE(oauth::is_valid_pkce_verifier(std::string(42, 'a')));
    CHECK_FALSE(oauth::is_valid_pkce_verifier(std::string(129, 'a')));
    CHECK_FALSE(oauth::is_valid_pkce_verifier(std::string(42, 'a') + "+"));
    CHECK_FALSE(oauth::is_valid_pkce_verifier(std::string(42, 'a') + "="));
    CHECK_FALSE(oauth::is_valid_pkce_verifier(std::string(42, 'a') + " "));
    CHECK_FALSE(oauth::is_valid_pkce_verifier(std::string(42, 'a') + "/"));

    auto short_one = oauth::pkce::from_verifier(secret(std::string(42, 'a')));
    REQUIRE(short_one.has_error());
    CHECK(short_one.error() == errc::invalid_argument);
    auto bad_char = oauth::pkce::from_verifier(secret(std::string(42, 'a') + "+"));
    REQUIRE(bad_char.has_error());
    CHECK(bad_char.error() == errc::invalid_argument);
}

TEST_CASE("pkce: operator<< never shows the verifier") {
    auto p = oauth::pkce::from_verifier(secret("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
    REQUIRE(p.has_value());
    std::ostringstream os;
    os << *p;
    CHECK(os.str() == "pkce{method=S256, challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM, "
                      "verifier=[redacted]}");
    CHECK(os.str().find("dBjftJeZ") == std::string::npos);
}

TEST_CASE("pkce: constant_time_equal") {
    CHECK(oauth::constant_time_equal("", ""));
    CHECK(oauth::constant_time_equal("abc", "abc"));
    CHECK_FALSE(oauth::constant_time_equal("abc", "abd"));
    CHECK_FALSE(oauth::constant_time_equal("abc", "ab"));
    CHECK_FALSE(oauth::constant_time_equal("", "a"));
    CHECK_FALSE(oauth::constant_time_equal("xbc", "abc"));
}

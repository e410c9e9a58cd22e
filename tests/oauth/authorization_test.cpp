#include <takeoff/oauth/authorization.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/url/parse.hpp>

#include <sstream>
#include <string>
#include <string_view>

using namespace std::string_view_literals;
using takeoff::diagnostics;
using takeoff::errc;
using takeoff::secret;
namespace oauth = takeoff::oauth;

namespace {

constexpr std::string_view rfc_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view rfc_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
constexpr std::string_view sent_state = "c3RhdGUtdmFsdWUtZm9yLXRlc3RzLW9ubHktMTIzNDU";

oauth::pkce rfc_pkce() { return *oauth::pkce::from_verifier(secret(rfc_verifier)); }

boost::urls::url_view endpoint(std::string_view text) { return *boost::urls::parse_uri(text); }

// Parses a callback against sent_state; the checks below look at the result and diagnostics.
boost::system::result<oauth::authorization_response> callback(std::string_view url, diagnostics& diag) {
    return oauth::parse_authorization_callback(url, secret(sent_state), diag);
}

// No message may quote the code or state values used in these tests.
void check_no_secret_in(const diagnostics& diag) {
    for (std::string_view text : {std::string_view(diag.client_message()), std::string_view(diag.server_message())}) {
        CHECK(text.find("SplxlOBeZQQYbYS6WxSbIA") == std::string_view::npos);
        CHECK(text.find(sent_state) == std::string_view::npos);
        CHECK(text.find("forged") == std::string_view::npos);
    }
}

} // namespace

TEST_CASE("authorization url: exact string in Snowflake's order, fully percent-encoded") {
    diagnostics diag;
    const oauth::authorization_parameters params{
        "AbC/def+Ghi=", "http://127.0.0.1:53682/cb", "refresh_token session:role:CONTAINER_USER_ROLE"};
    auto url = oauth::make_authorization_url(endpoint("https://myorg-myacct.snowflakecomputing.com/oauth/authorize"),
                                             params, secret(sent_state), rfc_pkce(), diag);
    REQUIRE(url.has_value());
    CHECK(url->buffer() ==
          "https://myorg-myacct.snowflakecomputing.com/oauth/authorize?response_type=code"
          "&client_id=AbC%2Fdef%2BGhi%3D&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcb"
          "&state=c3RhdGUtdmFsdWUtZm9yLXRlc3RzLW9ubHktMTIzNDU"
          "&scope=refresh_token%20session%3Arole%3ACONTAINER_USER_ROLE"
          "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256");
    CHECK(diag.empty());
}

TEST_CASE("authorization url: the endpoint's own query is kept in front; a redirect_uri query is encoded") {
    diagnostics diag;
    const oauth::authorization_parameters params{"client", "https://host/connect?authType=snowflake&x=a b", ""};
    auto url = oauth::make_authorization_url(endpoint("https://a.example/oauth/authorize?tenant=t%201&flag"),
                                             params, secret(sent_state), rfc_pkce(), diag);
    REQUIRE(url.has_value());
    // An empty scope is left out.
    CHECK(url->buffer() ==
          "https://a.example/oauth/authorize?tenant=t%201&flag&response_type=code&client_id=client"
          "&redirect_uri=https%3A%2F%2Fhost%2Fconnect%3FauthType%3Dsnowflake%26x%3Da%20b"
          "&state=c3RhdGUtdmFsdWUtZm9yLXRlc3RzLW9ubHktMTIzNDU"
          "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256");
}

TEST_CASE("authorization url: rejected inputs") {
    diagnostics diag;
    const auto ep = endpoint("https://a.example/oauth/authorize");
    const auto p = rfc_pkce();

    auto r = oauth::make_authorization_url(ep, {"", "https://r/cb", "s"}, secret(sent_state), p, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the authorization request needs a client_id");

    r = oauth::make_authorization_url(ep, {"c", "", "s"}, secret(sent_state), p, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the authorization request needs a redirect_uri");

    r = oauth::make_authorization_url(ep, {"c", "https://r/cb", "s"}, secret(), p, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the authorization request needs a state");

    r = oauth::make_authorization_url(endpoint("https://a.example/oauth/authorize#x"), {"c", "https://r/cb", "s"},
                                      secret(sent_state), p, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the authorization endpoint must not have a fragment");

    r = oauth::make_authorization_url(endpoint("https://a.example/oauth/authorize?state=x"), {"c", "https://r/cb", "s"},
                                      secret(sent_state), p, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the authorization endpoint already has the query parameter 'state'");
    CHECK(diag.client_message().find(sent_state) == std::string::npos);
}

TEST_CASE("authorization state: generated values") {
    auto a = oauth::generate_state();
    auto b = oauth::generate_state();
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(a->reveal().size() == 43); // 32 bytes, base64url unpadded
    CHECK(takeoff::base64url_decode(a->reveal())->size() == 32);
    CHECK_FALSE(*a == *b);
    std::ostringstream os;
    os << *a;
    CHECK(os.str() == "[redacted]");

    auto failed = oauth::generate_state(
        [](std::span<unsigned char>) { return make_error_code(boost::system::errc::resource_unavailable_try_again); });
    REQUIRE(failed.has_error());
    CHECK(failed.error() == boost::system::errc::resource_unavailable_try_again);
}

TEST_CASE("authorization callback: success, from a full URL and from a target") {
    diagnostics diag;
    auto r = callback("http://127.0.0.1:53682/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=" + std::string(sent_state) +
                          "&scope=refresh_token+session%3Arole%3AR",
                      diag);
    REQUIRE(r.has_value());
    CHECK(r->code.reveal() == "SplxlOBeZQQYbYS6WxSbIA");
    REQUIRE(r->scope);
    CHECK(*r->scope == "refresh_token session:role:R");
    CHECK(diag.empty());
    std::ostringstream os;
    os << *r;
    CHECK(os.str() == "authorization_response{code=[redacted], scope=\"refresh_token session:role:R\"}");

    r = callback("/cb?state=" + std::string(sent_state) + "&code=Splxl%2BOBe&other=1&other=2", diag);
    REQUIRE(r.has_value());
    CHECK(r->code.reveal() == "Splxl+OBe"); // %2B is a '+', not a space
    CHECK_FALSE(r->scope);
    std::ostringstream os2;
    os2 << *r;
    CHECK(os2.str() == "authorization_response{code=[redacted], scope=(none)}");
}

TEST_CASE("authorization callback: repeated parameters") {
    diagnostics diag;
    const std::string st = "state=" + std::string(sent_state);
    for (auto [query, name] : {std::pair{"code=SplxlOBeZQQYbYS6WxSbIA&code=forged&" + st, "code"},
                               std::pair{"code=SplxlOBeZQQYbYS6WxSbIA&" + st + "&" + st, "state"},
                               std::pair{"code=SplxlOBeZQQYbYS6WxSbIA&scope=a&scope=b&" + st, "scope"},
                               std::pair{"error=access_denied&error=server_error&" + st, "error"},
                               std::pair{"error=x&error_description=a&error_description=b&" + st, "error_description"}}) {
        CAPTURE(name);
        auto r = callback("/cb?" + query, diag);
        REQUIRE(r.has_error());
        CHECK(r.error() == errc::invalid_request);
        CHECK(diag.client_message() == "the authorization callback repeats the parameter '" + std::string(name) + "'");
        check_no_secret_in(diag);
    }
}

TEST_CASE("authorization callback: state checks") {
    diagnostics diag;
    auto r = callback("/cb?code=SplxlOBeZQQYbYS6WxSbIA", diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::state_mismatch);
    CHECK(diag.client_message() == "the authorization callback has no state");

    r = callback("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=forged", diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::state_mismatch);
    CHECK(diag.client_message() == "the authorization callback's state does not match the one sent");
    check_no_secret_in(diag);

    // The same length, one character off.
    std::string near(sent_state);
    near.back() = 'V';
    r = callback("/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=" + near, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::state_mismatch);

    // An error with a wrong state is not believed: the state is checked first.
    r = callback("/cb?error=access_denied&state=forged", diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::state_mismatch);
    CHECK(diag.server_error_code().empty());
}

TEST_CASE("authorization callback: missing code") {
    diagnostics diag;
    for (std::string query : {"state=" + std::string(sent_state), "code=&state=" + std::string(sent_state),
                              "code&state=" + std::string(sent_state)}) {
        CAPTURE(query);
        auto r = callback("/cb?" + query, diag);
        REQUIRE(r.has_error());
        CHECK(r.error() == errc::invalid_request);
        CHECK(diag.client_message() == "the authorization callback has neither a code nor an error");
    }
}

TEST_CASE("authorization callback: unparsable URL") {
    diagnostics diag;
    auto r = callback("http://[bad/cb?code=SplxlOBeZQQYbYS6WxSbIA", diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_request);
    CHECK(diag.client_message() == "the authorization callback URL cannot be parsed");
}

TEST_CASE("authorization callback: OAuth errors become errc codes") {
    diagnostics diag;
    const std::string st = "&state=" + std::string(sent_state);
    auto r = callback("/cb?error=invalid_scope&error_description=One+or+more+scopes+are+not+configured+for+the"
                      "+authorization+server+resource." + st,
                      diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_scope);
    CHECK(diag.server_error_code() == "invalid_scope");
    CHECK(diag.server_message() == "One or more scopes are not configured for the authorization server resource.");
    CHECK(diag.client_message() == "the authorization server refused the request");

    // An error wins over a code sent with it.
    r = callback("/cb?code=SplxlOBeZQQYbYS6WxSbIA&error=access_denied" + st, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::access_denied);
    CHECK(diag.server_message().empty());
    check_no_secret_in(diag);

    r = callback("/cb?error=something_new&error_description=line1%0Aline2" + st, diag);
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::oauth_error);
    CHECK(diag.server_error_code() == "something_new");
    CHECK(diag.server_message() == "line1 line2"); // control characters replaced
    CHECK(diag.client_message() == "the authorization server returned an unrecognised error");

    CHECK(oauth::errc_from_oauth_error("invalid_request") == errc::invalid_request);
    CHECK(oauth::errc_from_oauth_error("invalid_client") == errc::invalid_client);
    CHECK(oauth::errc_from_oauth_error("invalid_grant") == errc::invalid_grant);
    CHECK(oauth::errc_from_oauth_error("unauthorized_client") == errc::unauthorized_client);
    CHECK(oauth::errc_from_oauth_error("unsupported_grant_type") == errc::unsupported_grant_type);
    CHECK(oauth::errc_from_oauth_error("invalid_scope") == errc::invalid_scope);
    CHECK(oauth::errc_from_oauth_error("access_denied") == errc::access_denied);
    CHECK(oauth::errc_from_oauth_error("unsupported_response_type") == errc::unsupported_response_type);
    CHECK(oauth::errc_from_oauth_error("server_error") == errc::server_error);
    CHECK(oauth::errc_from_oauth_error("temporarily_unavailable") == errc::temporarily_unavailable);
    CHECK(oauth::errc_from_oauth_error("ACCESS_DENIED") == errc::oauth_error);
    CHECK(oauth::errc_from_oauth_error("") == errc::oauth_error);
}

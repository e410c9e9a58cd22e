#include <takeoff/snowflake/connection_config.hpp>

#include "../support/doctest_helpers.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using takeoff::diagnostics;
using takeoff::errc;
using takeoff::secret;
using takeoff::snowflake::auth_mode;
using takeoff::snowflake::connection_config;

namespace {

// The contract example of ROADMAP.md, with every field set.
const std::string full_example = R"({
  "account_url":    "https://myorg-myacct.snowflakecomputing.com",
  "endpoint_url":   "https://abc-myorg-myacct.snowflakecomputing.app",
  "management_url": "https://mgmt-myorg-myacct.snowflakecomputing.app",
  "openai_url":     "https://openai-myorg-myacct.snowflakecomputing.app",
  "consumer_group": "fast",
  "ca_file":        "/etc/ssl/extra-ca.pem",
  "auth":           "oauth-direct",
  "oauth": {
    "client_id": "CLIENT-ID", "client_secret": "CLIENT-SECRET-VALUE",
    "authorization_endpoint": "https://myorg-myacct.snowflakecomputing.com/oauth/authorize",
    "token_endpoint":         "https://myorg-myacct.snowflakecomputing.com/oauth/token-request",
    "scope": "refresh_token session:role:CONTAINER_USER_ROLE",
    "redirect_uri": "http://127.0.0.1:8765/callback"
  },
  "pat": "PAT-SECRET-VALUE",
  "keypair": { "user": "JANE", "private_key_file": "/keys/rsa_key.p8", "role": "ANALYST" }
})";

// A valid "oauth" configuration, to break one field at a time.
connection_config valid_oauth() {
    connection_config c;
    c.account_url = "https://myorg-myacct.snowflakecomputing.com";
    c.endpoint_url = "https://abc-myorg-myacct.snowflakecomputing.app";
    c.oauth.client_id = "CLIENT-ID";
    c.oauth.client_secret = secret("CLIENT-SECRET-VALUE");
    c.oauth.scope = "refresh_token session:role:CONTAINER_USER_ROLE";
    c.oauth.redirect_uri = "http://127.0.0.1:8765/callback";
    return c;
}

// The message of a failed parse, checking the code.
std::string parse_error(const std::string& json, errc expected) {
    diagnostics diag;
    auto r = takeoff::snowflake::parse_connection_config(json, "cfg.json", diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == expected);
    return diag.client_message();
}

// The message of a failed validate(), checking the code; "" when valid.
std::string invalid(const connection_config& c, errc expected) {
    diagnostics diag;
    auto ec = takeoff::snowflake::validate(c, diag);
    if (!ec) return "";
    CHECK(ec == expected);
    return diag.client_message();
}

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "takeoff-config-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void write_file(const fs::path& p, const std::string& text, mode_t mode) {
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << text;
    }
    REQUIRE(::chmod(p.c_str(), mode) == 0);
}

takeoff::snowflake::environment_lookup fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

} // namespace

TEST_CASE("auth_mode: names in the configuration") {
    using takeoff::snowflake::parse_auth_mode;
    CHECK(to_string(auth_mode::oauth) == "oauth");
    CHECK(to_string(auth_mode::oauth_direct) == "oauth-direct");
    CHECK(to_string(auth_mode::pat) == "pat");
    CHECK(to_string(auth_mode::keypair) == "keypair");
    CHECK(to_string(auth_mode::none) == "none");
    for (auth_mode m : {auth_mode::oauth, auth_mode::oauth_direct, auth_mode::pat, auth_mode::keypair, auth_mode::none})
        CHECK(parse_auth_mode(to_string(m)) == m);
    CHECK_FALSE(parse_auth_mode("oauth_direct"));
    CHECK_FALSE(parse_auth_mode("OAUTH"));
    CHECK_FALSE(parse_auth_mode(""));
}

TEST_CASE("parse_connection_config: the full contract example gives every field") {
    diagnostics diag;
    auto r = takeoff::snowflake::parse_connection_config(full_example, "cfg.json", diag);
    REQUIRE(r);
    const connection_config& c = *r;
    CHECK(c.account_url == "https://myorg-myacct.snowflakecomputing.com");
    CHECK(c.endpoint_url == "https://abc-myorg-myacct.snowflakecomputing.app");
    CHECK(c.management_url == "https://mgmt-myorg-myacct.snowflakecomputing.app");
    CHECK(c.openai_url == "https://openai-myorg-myacct.snowflakecomputing.app");
    CHECK(c.consumer_group == "fast");
    CHECK(c.ca_file == "/etc/ssl/extra-ca.pem");
    CHECK(c.auth == auth_mode::oauth_direct);
    CHECK(c.oauth.client_id == "CLIENT-ID");
    CHECK(c.oauth.client_secret.reveal() == "CLIENT-SECRET-VALUE");
    CHECK(c.oauth.authorization_endpoint == "https://myorg-myacct.snowflakecomputing.com/oauth/authorize");
    CHECK(c.oauth.token_endpoint == "https://myorg-myacct.snowflakecomputing.com/oauth/token-request");
    CHECK(c.oauth.scope == "refresh_token session:role:CONTAINER_USER_ROLE");
    CHECK(c.oauth.redirect_uri == "http://127.0.0.1:8765/callback");
    CHECK(c.pat.reveal() == "PAT-SECRET-VALUE");
    CHECK(c.keypair.user == "JANE");
    CHECK(c.keypair.private_key_file == "/keys/rsa_key.p8");
    CHECK(c.keypair.role == "ANALYST");
    CHECK(c.warnings.empty());
    CHECK(diag.empty());
    CHECK_FALSE(takeoff::snowflake::validate(c, diag));
}

TEST_CASE("parse_connection_config: absent and null fields keep their defaults") {
    diagnostics diag;
    auto r = takeoff::snowflake::parse_connection_config(
        R"({"endpoint_url":"http://127.0.0.1:3000","consumer_group":null,"oauth":null,"keypair":{}})", "cfg.json", diag);
    REQUIRE(r);
    connection_config expected;
    expected.endpoint_url = "http://127.0.0.1:3000";
    CHECK(*r == expected);
    CHECK(r->consumer_group == "primary");
    CHECK(r->auth == auth_mode::oauth);
    auto empty = takeoff::snowflake::parse_connection_config("{}", "cfg.json", diag);
    REQUIRE(empty);
    CHECK(*empty == connection_config{});
}

TEST_CASE("parse_connection_config: unknown fields, at the top or nested, are errors naming the source and field") {
    CHECK(parse_error(R"({"oauth":{"client_secert":"x"}})", errc::invalid_argument) ==
          "cfg.json: unknown field 'oauth.client_secert'");
    CHECK(parse_error(R"({"endpoint":"https://x"})", errc::invalid_argument) == "cfg.json: unknown field 'endpoint'");
    CHECK(parse_error(R"({"keypair":{"user":"U","passphrase":"x"}})", errc::invalid_argument) ==
          "cfg.json: unknown field 'keypair.passphrase'");
    // a nested field's name at the top level, and a top-level one nested, are unknown too
    CHECK(parse_error(R"({"client_id":"x"})", errc::invalid_argument) == "cfg.json: unknown field 'client_id'");
    CHECK(parse_error(R"({"oauth":{"pat":"x"}})", errc::invalid_argument) == "cfg.json: unknown field 'oauth.pat'");
    CHECK(parse_error(R"({"oauth.client_id":"x"})", errc::invalid_argument) == "cfg.json: unknown field 'oauth.client_id'");
}

TEST_CASE("parse_connection_config: wrong types name the field") {
    CHECK(parse_error(R"({"consumer_group":1})", errc::invalid_field_type) ==
          "cfg.json: field 'consumer_group' must be a string");
    CHECK(parse_error(R"({"oauth":{"client_secret":["x"]}})", errc::invalid_field_type) ==
          "cfg.json: field 'oauth.client_secret' must be a string");
    CHECK(parse_error(R"({"oauth":"x"})", errc::invalid_field_type) == "cfg.json: field 'oauth' must be an object");
    CHECK(parse_error(R"({"keypair":[]})", errc::invalid_field_type) == "cfg.json: field 'keypair' must be an object");
    CHECK(parse_error(R"({"auth":true})", errc::invalid_field_type) == "cfg.json: field 'auth' must be a string");
    CHECK(parse_error(R"([1,2])", errc::invalid_field_type) == "cfg.json: the configuration must be a JSON object");
}

TEST_CASE("parse_connection_config: a bad auth is named with the allowed values") {
    CHECK(parse_error(R"({"auth":"oath"})", errc::invalid_argument) ==
          "cfg.json: field 'auth' is 'oath'; allowed values: oauth, oauth-direct, pat, keypair, none");
    CHECK(parse_error(R"({"auth":"oauth_direct"})", errc::invalid_argument) ==
          "cfg.json: field 'auth' is 'oauth_direct'; allowed values: oauth, oauth-direct, pat, keypair, none");
    CHECK(parse_error("{\"auth\":\"a\\nb0123456789012345678901234567890123456789\"}", errc::invalid_argument) ==
          "cfg.json: field 'auth' is 'a?b0123456789012345678901234567890123456...'; allowed values: oauth, "
          "oauth-direct, pat, keypair, none");
}

TEST_CASE("parse_connection_config: text that is not JSON gives the line and column") {
    CHECK(parse_error("{\n  \"auth\": \"pat\",\n  oops\n}", errc::invalid_json) ==
          "cfg.json: not valid JSON at line 3, column 3 (syntax error)");
    CHECK(parse_error("", errc::invalid_json) == "cfg.json: not valid JSON at line 1, column 1 (incomplete JSON)");
    CHECK(parse_error("{} {}", errc::invalid_json) == "cfg.json: not valid JSON at line 1, column 4 (extra data)");
}

TEST_CASE("validate: each mode's required fields, named exactly") {
    CHECK(invalid(valid_oauth(), errc::missing_field) == "");

    auto without = [](auto change, auth_mode mode = auth_mode::oauth) {
        connection_config c = valid_oauth();
        c.auth = mode;
        change(c);
        return invalid(c, errc::missing_field);
    };
    CHECK(without([](connection_config& c) { c.endpoint_url.clear(); }) ==
          "endpoint_url: required (the ingress URL of Takeoff); set it in the configuration or in TAKEOFF_ENDPOINT_URL");
    CHECK(without([](connection_config& c) { c.account_url.clear(); }) ==
          "account_url: required by auth \"oauth\" (its login-request makes the session token); set it in the "
          "configuration or in TAKEOFF_ACCOUNT_URL");
    CHECK(without([](connection_config& c) { c.oauth.client_id.clear(); }) ==
          "oauth.client_id: required by auth \"oauth\"; set it in the configuration or in TAKEOFF_OAUTH_CLIENT_ID");
    CHECK(without([](connection_config& c) { c.oauth.client_secret = secret(""); }) ==
          "oauth.client_secret: required by auth \"oauth\"; set it in the configuration or in "
          "TAKEOFF_OAUTH_CLIENT_SECRET");
    CHECK(without([](connection_config& c) { c.oauth.redirect_uri.clear(); }) ==
          "oauth.redirect_uri: required by auth \"oauth\"; set it in the configuration or in "
          "TAKEOFF_OAUTH_REDIRECT_URI");
    CHECK(without([](connection_config& c) { c.oauth.client_id.clear(); }, auth_mode::oauth_direct) ==
          "oauth.client_id: required by auth \"oauth-direct\"; set it in the configuration or in "
          "TAKEOFF_OAUTH_CLIENT_ID");

    // oauth-direct: account_url, or both endpoints
    CHECK(without([](connection_config& c) { c.account_url.clear(); }, auth_mode::oauth_direct) ==
          "oauth.authorization_endpoint: required by auth \"oauth-direct\" when account_url is not set; set it in "
          "the configuration or in TAKEOFF_OAUTH_AUTHORIZATION_ENDPOINT");
    CHECK(without(
              [](connection_config& c) {
                  c.account_url.clear();
                  c.oauth.authorization_endpoint = "https://idp.example.com/authorize";
              },
              auth_mode::oauth_direct) ==
          "oauth.token_endpoint: required by auth \"oauth-direct\" when account_url is not set; set it in the "
          "configuration or in TAKEOFF_OAUTH_TOKEN_ENDPOINT");
    CHECK(without(
              [](connection_config& c) {
                  c.account_url.clear();
                  c.oauth.authorization_endpoint = "https://idp.example.com/authorize";
                  c.oauth.token_endpoint = "https://idp.example.com/token";
              },
              auth_mode::oauth_direct) == "");

    CHECK(without([](connection_config& c) { c.pat = secret(""); }, auth_mode::pat) ==
          "pat: required by auth \"pat\"; set it in the configuration or in TAKEOFF_PAT");
    CHECK(without([](connection_config& c) { c.pat = secret("p"); c.oauth = {}; c.account_url.clear(); }, auth_mode::pat) == "");

    auto keypair = [](connection_config& c) {
        c.keypair.user = "JANE";
        c.keypair.private_key_file = "/keys/k.p8";
    };
    CHECK(without([&](connection_config& c) { keypair(c); c.account_url.clear(); }, auth_mode::keypair) ==
          "account_url: required by auth \"keypair\"; set it in the configuration or in TAKEOFF_ACCOUNT_URL");
    CHECK(without([&](connection_config& c) { keypair(c); c.keypair.user.clear(); }, auth_mode::keypair) ==
          "keypair.user: required by auth \"keypair\"; set it in the configuration or in TAKEOFF_KEYPAIR_USER");
    CHECK(without([&](connection_config& c) { keypair(c); c.keypair.private_key_file.clear(); }, auth_mode::keypair) ==
          "keypair.private_key_file: required by auth \"keypair\"; set it in the configuration or in "
          "TAKEOFF_KEYPAIR_PRIVATE_KEY_FILE");
    CHECK(without([&](connection_config& c) { keypair(c); c.oauth = {}; }, auth_mode::keypair) == "");

    connection_config none;
    none.auth = auth_mode::none;
    none.endpoint_url = "http://takeoff:3000";
    CHECK(invalid(none, errc::missing_field) == "");
    none.endpoint_url.clear();
    CHECK(invalid(none, errc::missing_field) ==
          "endpoint_url: required (the ingress URL of Takeoff); set it in the configuration or in TAKEOFF_ENDPOINT_URL");
}

TEST_CASE("validate: bad URLs are named with the broken rule") {
    auto with = [](auto change, auth_mode mode = auth_mode::oauth) {
        connection_config c = valid_oauth();
        c.auth = mode;
        change(c);
        return invalid(c, errc::invalid_url);
    };
    CHECK(with([](connection_config& c) { c.account_url = "https://example.com"; }) ==
          "account_url: an account host ends in .snowflakecomputing.com or .snowflakecomputing.cn");
    CHECK(with([](connection_config& c) { c.endpoint_url = "ftp://x.example"; }) ==
          "endpoint_url: a URL starts with https://");
    CHECK(with([](connection_config& c) { c.endpoint_url = "http://takeoff.example:3000"; }) ==
          "endpoint_url: http:// is allowed only for 127.0.0.1, [::1] and localhost (or with auth \"none\"); use https://");
    CHECK(with([](connection_config& c) { c.endpoint_url = "http://127.0.0.1:3000/base"; }) == "");
    CHECK(with([](connection_config& c) { c.endpoint_url = "https://x.example/?a=b"; }) ==
          "endpoint_url: a service URL has no query");
    CHECK(with([](connection_config& c) { c.management_url = "https://user@x.example"; }) ==
          "management_url: a URL has no userinfo (user@)");
    CHECK(with([](connection_config& c) { c.openai_url = "https://x.example:0"; }) ==
          "openai_url: a port is a number from 1 to 65535");
    CHECK(with([](connection_config& c) { c.oauth.authorization_endpoint = "http://idp.example/authorize"; }) ==
          "oauth.authorization_endpoint: http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://");
    CHECK(with([](connection_config& c) { c.oauth.token_endpoint = "https://idp.example/t#x"; }) ==
          "oauth.token_endpoint: a URL has no fragment (#)");
    const std::string loopback_rule =
        "oauth.redirect_uri: a redirect URI is http://127.0.0.1, http://[::1] or http://localhost with an optional "
        "port and path (the loopback listener)";
    CHECK(with([](connection_config& c) { c.oauth.redirect_uri = "https://127.0.0.1:8765/cb"; }) == loopback_rule);
    CHECK(with([](connection_config& c) { c.oauth.redirect_uri = "http://192.168.1.2:8765/cb"; }) == loopback_rule);
    CHECK(with([](connection_config& c) { c.oauth.redirect_uri = "http://127.0.0.1:8765/cb?x=1"; }) ==
          "oauth.redirect_uri: a redirect URI has no query");
    CHECK(with([](connection_config& c) { c.oauth.redirect_uri = "127.0.0.1:8765"; }) ==
          "oauth.redirect_uri: a URL starts with https://");
    for (const char* ok : {"http://127.0.0.1", "http://[::1]:9/cb", "http://localhost:8765/oauth/callback"}) {
        CAPTURE(ok);
        CHECK(with([&](connection_config& c) { c.oauth.redirect_uri = ok; }) == "");
    }
    // auth "none" sends no credential: plain http anywhere
    connection_config none;
    none.auth = auth_mode::none;
    none.endpoint_url = "http://takeoff.internal:3000";
    none.management_url = "http://takeoff.internal:3001";
    CHECK(invalid(none, errc::invalid_url) == "");
    // fields the mode does not use are not checked
    none.oauth.redirect_uri = "https://nowhere.example";
    none.oauth.scope = "offline_access";
    CHECK(invalid(none, errc::invalid_url) == "");
}

TEST_CASE("validate: a bad scope, role or consumer group is named") {
    connection_config c = valid_oauth();
    c.oauth.scope = "refresh_token offline_access";
    const std::string scope_message = invalid(c, errc::invalid_scope_string);
    CHECK(scope_message.starts_with("oauth.scope: "));
    diagnostics direct;
    (void)takeoff::snowflake::parse_scope("refresh_token offline_access", direct);
    CHECK(scope_message == "oauth.scope: " + direct.client_message());
    c.oauth.scope = "refresh_token  session:role:A";
    CHECK(invalid(c, errc::invalid_scope_string).starts_with("oauth.scope: "));
    c.oauth.scope = "";
    CHECK(invalid(c, errc::invalid_scope_string) == ""); // no scope sent

    c.consumer_group = "";
    CHECK(invalid(c, errc::invalid_argument) == "consumer_group: must not be empty (the default is \"primary\")");

    connection_config k = valid_oauth();
    k.auth = auth_mode::keypair;
    k.keypair.user = "JANE";
    k.keypair.private_key_file = "/k.p8";
    k.keypair.role = std::string("BAD\nROLE");
    CHECK(invalid(k, errc::invalid_identifier) == "keypair.role: a Snowflake identifier has no control characters");
}

TEST_CASE("resolve_oauth: endpoints derived from account_url or taken as given, scope parsed") {
    diagnostics diag;
    auto r = takeoff::snowflake::resolve_oauth(valid_oauth(), diag);
    REQUIRE(r);
    REQUIRE(r->account);
    CHECK(r->account->base() == "https://myorg-myacct.snowflakecomputing.com");
    CHECK(r->client.authorization_endpoint.url() == "https://myorg-myacct.snowflakecomputing.com/oauth/authorize");
    CHECK(r->client.token_endpoint.url() == "https://myorg-myacct.snowflakecomputing.com/oauth/token-request");
    REQUIRE(r->scope);
    CHECK(r->scope->str() == "refresh_token session:role:CONTAINER_USER_ROLE");
    CHECK(r->scope->role() == "CONTAINER_USER_ROLE");
    CHECK(r->client.redirect_uri == "http://127.0.0.1:8765/callback");
    CHECK(r->client.scope == "refresh_token session:role:CONTAINER_USER_ROLE");
    CHECK(r->client.client_id == valid_oauth().oauth.client_id);
    CHECK(r->client.client_secret == valid_oauth().oauth.client_secret);

    connection_config direct = valid_oauth();
    direct.auth = auth_mode::oauth_direct;
    direct.account_url.clear();
    direct.oauth.scope.clear();
    direct.oauth.authorization_endpoint = "https://idp.example.com/authorize";
    direct.oauth.token_endpoint = "http://127.0.0.1:9000/token";
    auto d = takeoff::snowflake::resolve_oauth(direct, diag);
    REQUIRE(d);
    CHECK_FALSE(d->account);
    CHECK(d->client.authorization_endpoint.url() == "https://idp.example.com/authorize");
    CHECK(d->client.token_endpoint.url() == "http://127.0.0.1:9000/token");
    CHECK_FALSE(d->scope);
    CHECK(d->client.scope.empty());

    connection_config pat = valid_oauth();
    pat.auth = auth_mode::pat;
    pat.pat = secret("p");
    auto p = takeoff::snowflake::resolve_oauth(pat, diag);
    REQUIRE_FALSE(p);
    CHECK(p.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "auth: OAuth settings are used with auth \"oauth\" or \"oauth-direct\", not \"pat\"");

    connection_config bad = valid_oauth();
    bad.oauth.client_id.clear();
    auto b = takeoff::snowflake::resolve_oauth(bad, diag);
    REQUIRE_FALSE(b);
    CHECK(b.error() == errc::missing_field);
    CHECK(diag.client_message().starts_with("oauth.client_id: "));
}

TEST_CASE("apply_environment: TAKEOFF_* variables override fields, nested names included") {
    diagnostics diag;
    auto r = takeoff::snowflake::parse_connection_config(full_example, "cfg.json", diag);
    REQUIRE(r);
    connection_config c = *r;
    auto ec = takeoff::snowflake::apply_environment(c,
                                                    fake_env({
                                                        {"TAKEOFF_ACCOUNT_URL", "https://o-a.snowflakecomputing.com"},
                                                        {"TAKEOFF_ENDPOINT_URL", "https://e.example"},
                                                        {"TAKEOFF_MANAGEMENT_URL", "https://m.example"},
                                                        {"TAKEOFF_OPENAI_URL", "https://o.example"},
                                                        {"TAKEOFF_CONSUMER_GROUP", "slow"},
                                                        {"TAKEOFF_CA_FILE", ""},
                                                        {"TAKEOFF_AUTH", "keypair"},
                                                        {"TAKEOFF_OAUTH_CLIENT_ID", "ENV-ID"},
                                                        {"TAKEOFF_OAUTH_CLIENT_SECRET", "ENV-SECRET"},
                                                        {"TAKEOFF_OAUTH_AUTHORIZATION_ENDPOINT", "https://a.example/a"},
                                                        {"TAKEOFF_OAUTH_TOKEN_ENDPOINT", "https://a.example/t"},
                                                        {"TAKEOFF_OAUTH_SCOPE", "refresh_token"},
                                                        {"TAKEOFF_OAUTH_REDIRECT_URI", "http://localhost/cb"},
                                                        {"TAKEOFF_PAT", "ENV-PAT"},
                                                        {"TAKEOFF_KEYPAIR_USER", "ENV-USER"},
                                                        {"TAKEOFF_KEYPAIR_PRIVATE_KEY_FILE", "/env/k.p8"},
                                                        {"TAKEOFF_KEYPAIR_ROLE", "ENV_ROLE"},
                                                        {"TAKEOFF_UNRELATED", "x"},
                                                    }),
                                                    diag);
    REQUIRE_FALSE(ec);
    CHECK(c.account_url == "https://o-a.snowflakecomputing.com");
    CHECK(c.endpoint_url == "https://e.example");
    CHECK(c.management_url == "https://m.example");
    CHECK(c.openai_url == "https://o.example");
    CHECK(c.consumer_group == "slow");
    CHECK(c.ca_file == ""); // set but empty: overrides with empty
    CHECK(c.auth == auth_mode::keypair);
    CHECK(c.oauth.client_id == "ENV-ID");
    CHECK(c.oauth.client_secret.reveal() == "ENV-SECRET");
    CHECK(c.oauth.authorization_endpoint == "https://a.example/a");
    CHECK(c.oauth.token_endpoint == "https://a.example/t");
    CHECK(c.oauth.scope == "refresh_token");
    CHECK(c.oauth.redirect_uri == "http://localhost/cb");
    CHECK(c.pat.reveal() == "ENV-PAT");
    CHECK(c.keypair.user == "ENV-USER");
    CHECK(c.keypair.private_key_file == "/env/k.p8");
    CHECK(c.keypair.role == "ENV_ROLE");

    // no variables: nothing changes
    connection_config same = *r;
    REQUIRE_FALSE(takeoff::snowflake::apply_environment(same, fake_env({}), diag));
    CHECK(same == *r);
}

TEST_CASE("apply_environment: a bad TAKEOFF_AUTH is named with the allowed values") {
    diagnostics diag;
    connection_config c;
    auto ec = takeoff::snowflake::apply_environment(c, fake_env({{"TAKEOFF_AUTH", "PAT"}}), diag);
    CHECK(ec == errc::invalid_argument);
    CHECK(diag.client_message() ==
          "environment variable TAKEOFF_AUTH is 'PAT'; allowed values: oauth, oauth-direct, pat, keypair, none");
    CHECK(c.auth == auth_mode::oauth);
    ec = takeoff::snowflake::apply_environment(c, fake_env({{"TAKEOFF_AUTH", "oauth-direct"}}), diag);
    CHECK_FALSE(ec);
    CHECK(c.auth == auth_mode::oauth_direct);
}

TEST_CASE("process_environment: reads the process's variables") {
    auto env = takeoff::snowflake::process_environment();
    ::setenv("TAKEOFF_TEST_CONFIG_VAR", "value 1", 1);
    CHECK(env("TAKEOFF_TEST_CONFIG_VAR") == std::optional<std::string>("value 1"));
    ::setenv("TAKEOFF_TEST_CONFIG_VAR", "", 1);
    CHECK(env("TAKEOFF_TEST_CONFIG_VAR") == std::optional<std::string>(""));
    ::unsetenv("TAKEOFF_TEST_CONFIG_VAR");
    CHECK_FALSE(env("TAKEOFF_TEST_CONFIG_VAR"));
}

TEST_CASE("load_connection_config: reads a file, names it in errors, and warns about a readable secret") {
    temp_dir dir;
    diagnostics diag;
    const fs::path file = dir.path / "takeoff.json";

    write_file(file, full_example, 0600);
    auto r = takeoff::snowflake::load_connection_config(file, diag);
    REQUIRE(r);
    CHECK(r->oauth.client_id == "CLIENT-ID");
    CHECK(r->warnings.empty());

    write_file(file, full_example, 0644);
    r = takeoff::snowflake::load_connection_config(file, diag);
    REQUIRE(r);
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0] == file.string() +
                                " is readable by others and holds a secret (oauth.client_secret and pat); make it "
                                "readable by its owner only (chmod 600), or pass the secret in the environment");
    CHECK(r->warnings[0].find("SECRET-VALUE") == std::string::npos);

    write_file(file, R"({"pat":"PAT-SECRET-VALUE"})", 0640);
    r = takeoff::snowflake::load_connection_config(file, diag);
    REQUIRE(r);
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0].starts_with(file.string() + " is readable by others and holds a secret (pat); "));

    write_file(file, R"({"endpoint_url":"https://e.example"})", 0644); // no secret: no warning
    r = takeoff::snowflake::load_connection_config(file, diag);
    REQUIRE(r);
    CHECK(r->warnings.empty());

    write_file(file, R"({"oauth":{"client_secert":"x"}})", 0600);
    r = takeoff::snowflake::load_connection_config(file, diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == file.string() + ": unknown field 'oauth.client_secert'");

    auto missing = takeoff::snowflake::load_connection_config(dir.path / "none.json", diag);
    REQUIRE_FALSE(missing);
    CHECK(missing.error() == boost::system::errc::no_such_file_or_directory);
    CHECK(diag.client_message() == (dir.path / "none.json").string() + ": cannot read: " + missing.error().message());

    auto directory = takeoff::snowflake::load_connection_config(dir.path, diag);
    REQUIRE_FALSE(directory);
    CHECK(directory.error() == boost::system::errc::is_a_directory);
    CHECK(diag.client_message().starts_with(dir.path.string() + ": cannot read: "));
}

TEST_CASE("connection_config: operator<< never shows client_secret or pat") {
    diagnostics diag;
    auto r = takeoff::snowflake::parse_connection_config(full_example, "cfg.json", diag);
    REQUIRE(r);
    std::ostringstream os;
    os << *r;
    CHECK(os.str() ==
          "connection_config{account_url=\"https://myorg-myacct.snowflakecomputing.com\", "
          "endpoint_url=\"https://abc-myorg-myacct.snowflakecomputing.app\", "
          "management_url=\"https://mgmt-myorg-myacct.snowflakecomputing.app\", "
          "openai_url=\"https://openai-myorg-myacct.snowflakecomputing.app\", consumer_group=\"fast\", "
          "ca_file=\"/etc/ssl/extra-ca.pem\", auth=oauth-direct, oauth={client_id=\"CLIENT-ID\", "
          "client_secret=[redacted], "
          "authorization_endpoint=\"https://myorg-myacct.snowflakecomputing.com/oauth/authorize\", "
          "token_endpoint=\"https://myorg-myacct.snowflakecomputing.com/oauth/token-request\", "
          "scope=\"refresh_token session:role:CONTAINER_USER_ROLE\", redirect_uri=\"http://127.0.0.1:8765/callback\"}, "
          "pat=[redacted], keypair={user=\"JANE\", private_key_file=\"/keys/rsa_key.p8\", role=\"ANALYST\"}}");
    std::ostringstream defaults;
    defaults << connection_config{};
    CHECK(defaults.str() ==
          "connection_config{account_url=\"\", endpoint_url=\"\", management_url=\"\", openai_url=\"\", "
          "consumer_group=\"primary\", ca_file=\"\", auth=oauth, oauth={client_id=\"\", "
          "client_secret=[redacted, empty], authorization_endpoint=\"\", token_endpoint=\"\", scope=\"\", "
          "redirect_uri=\"\"}, pat=[redacted, empty], keypair={user=\"\", private_key_file=\"\", role=\"\"}}");
}

TEST_CASE("connection_config: no error message quotes a secret") {
    diagnostics diag;
    connection_config c = valid_oauth();
    c.oauth.redirect_uri = "https://example.com";
    (void)takeoff::snowflake::validate(c, diag);
    CHECK(diag.client_message().find("CLIENT-SECRET-VALUE") == std::string::npos);
    (void)takeoff::snowflake::parse_connection_config(R"({"pat":"PAT-SECRET-VALUE","x":1})", "cfg.json", diag);
    CHECK(diag.client_message() == "cfg.json: unknown field 'x'");
    (void)takeoff::snowflake::parse_connection_config(R"({"pat":"PAT-SECRET-VALUE",)", "cfg.json", diag);
    CHECK(diag.client_message().find("PAT-SECRET-VALUE") == std::string::npos);
}

// The configuration takeoff-emulator writes about itself (takeoff_emulator/app.hpp), without a
// socket: the URLs of each layout, the exact fields for each auth mode, that the library's own
// reader (snowflake::parse_connection_config + validate) accepts every one of them, and the
// pretty JSON text of the file.
//
// takeoff_unit_tests does not link the emulator target; app.hpp needs only the library and
// Boost.JSON, so it is included by its path.
#include "../../emulator/include/takeoff_emulator/app.hpp"

#include <takeoff/core/diagnostics.hpp>
#include <takeoff/snowflake/connection_config.hpp>

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace emu = takeoff::emulator;
namespace snowflake = takeoff::snowflake;
using snowflake::auth_mode;

namespace {

emu::cli_config_inputs inputs_for(auth_mode mode, bool https)
{
    emu::cli_config_inputs in;
    in.auth = mode;
    in.urls = emu::served_urls(https, false, {40001});
    if (https)
        in.ca_file = "/tmp/emu/ca.pem";
    in.client_id = "EMULATOR_CLIENT_ID";
    in.client_secret = "emulator/secret+1=";
    in.pat = "0123456789abcdef0123456789abcdef";
    in.keypair_user = "EMULATOR_USER";
    in.private_key_file = "/tmp/emu/keypair.pem";
    return in;
}

// The URL members every mode writes, for the one-port layout on 40001.
std::string urls_json(const std::string& scheme)
{
    const std::string base = scheme + "://127.0.0.1:40001";
    return R"("account_url":")" + base + R"(","endpoint_url":")" + base + R"(","management_url":")" + base +
           R"(/management","openai_url":")" + base + R"(","consumer_group":"primary",)";
}

// Parses and validates the text as the CLI does; returns the validation message ("" when valid).
std::string library_verdict(const std::string& text, snowflake::connection_config& out)
{
    takeoff::diagnostics diag;
    auto parsed = snowflake::parse_connection_config(text, "config.json", diag);
    if (!parsed)
        return "parse: " + diag.client_message();
    if (auto ec = snowflake::validate(*parsed, diag))
        return "validate: " + diag.client_message();
    out = *parsed;
    return "";
}

} // namespace

TEST_CASE("emulator app config: one port serves everything at its root and management under /management")
{
    const auto http = emu::served_urls(false, false, {8080});
    CHECK(http.account_url == "http://127.0.0.1:8080");
    CHECK(http.endpoint_url == "http://127.0.0.1:8080");
    CHECK(http.management_url == "http://127.0.0.1:8080/management");
    CHECK(http.openai_url == "http://127.0.0.1:8080");
    const auto https = emu::served_urls(true, false, {443});
    CHECK(https.account_url == "https://127.0.0.1:443");
    CHECK(https.management_url == "https://127.0.0.1:443/management");
}

TEST_CASE("emulator app config: --port-per-api gives account, inference, management and openai their own bases")
{
    const auto urls = emu::served_urls(true, true, {9000, 9001, 9002, 9003});
    CHECK(urls.account_url == "https://127.0.0.1:9000");
    CHECK(urls.endpoint_url == "https://127.0.0.1:9001");
    CHECK(urls.management_url == "https://127.0.0.1:9002");
    CHECK(urls.openai_url == "https://127.0.0.1:9003");
    CHECK_THROWS_AS(emu::served_urls(false, true, {9000}), std::invalid_argument);
    CHECK_THROWS_AS(emu::served_urls(false, false, {9000, 9001, 9002, 9003}), std::invalid_argument);
}

TEST_CASE("emulator app config: auth oauth over HTTPS has the URLs, ca_file and the oauth client, nothing else")
{
    const auto config = emu::make_cli_config(inputs_for(auth_mode::oauth, true));
    const auto expected = boost::json::parse(
        "{" + urls_json("https") + R"("ca_file":"/tmp/emu/ca.pem","auth":"oauth",)" +
        R"("oauth":{"client_id":"EMULATOR_CLIENT_ID","client_secret":"emulator/secret+1=",)" +
        R"("scope":"refresh_token session:role:CONTAINER_USER_ROLE","redirect_uri":"http://127.0.0.1/callback"}})");
    CHECK(boost::json::serialize(config) == boost::json::serialize(expected));
}

TEST_CASE("emulator app config: auth oauth-direct over HTTP has the oauth client and no ca_file")
{
    const auto config = emu::make_cli_config(inputs_for(auth_mode::oauth_direct, false));
    const auto expected = boost::json::parse(
        "{" + urls_json("http") + R"("auth":"oauth-direct",)" +
        R"("oauth":{"client_id":"EMULATOR_CLIENT_ID","client_secret":"emulator/secret+1=",)" +
        R"("scope":"refresh_token session:role:CONTAINER_USER_ROLE","redirect_uri":"http://127.0.0.1/callback"}})");
    CHECK(boost::json::serialize(config) == boost::json::serialize(expected));
}

TEST_CASE("emulator app config: auth pat has the PAT and no oauth or keypair settings")
{
    const auto config = emu::make_cli_config(inputs_for(auth_mode::pat, true));
    const auto expected = boost::json::parse("{" + urls_json("https") +
                                             R"("ca_file":"/tmp/emu/ca.pem","auth":"pat",)" +
                                             R"("pat":"0123456789abcdef0123456789abcdef"})");
    CHECK(boost::json::serialize(config) == boost::json::serialize(expected));
}

TEST_CASE("emulator app config: auth keypair has the user and the private key file, no secret")
{
    const auto config = emu::make_cli_config(inputs_for(auth_mode::keypair, false));
    const auto expected = boost::json::parse(
        "{" + urls_json("http") + R"("auth":"keypair",)" +
        R"("keypair":{"user":"EMULATOR_USER","private_key_file":"/tmp/emu/keypair.pem"}})");
    CHECK(boost::json::serialize(config) == boost::json::serialize(expected));
}

TEST_CASE("emulator app config: auth none has only the URLs (and ca_file over HTTPS)")
{
    const auto http = emu::make_cli_config(inputs_for(auth_mode::none, false));
    CHECK(boost::json::serialize(http) == boost::json::serialize(boost::json::parse("{" + urls_json("http") + R"("auth":"none"})")));
    const auto https = emu::make_cli_config(inputs_for(auth_mode::none, true));
    CHECK(boost::json::serialize(https) ==
          boost::json::serialize(boost::json::parse("{" + urls_json("https") + R"("ca_file":"/tmp/emu/ca.pem","auth":"none"})")));
}

TEST_CASE("emulator app config: the four-port layout writes each API's own base")
{
    auto in = inputs_for(auth_mode::pat, false);
    in.urls = emu::served_urls(false, true, {9000, 9001, 9002, 9003});
    const auto config = emu::make_cli_config(in);
    CHECK(config.at("account_url") == "http://127.0.0.1:9000");
    CHECK(config.at("endpoint_url") == "http://127.0.0.1:9001");
    CHECK(config.at("management_url") == "http://127.0.0.1:9002");
    CHECK(config.at("openai_url") == "http://127.0.0.1:9003");
}

TEST_CASE("emulator app config: the library's reader and validate() accept the config of every mode and layout")
{
    for (const auto mode : {auth_mode::oauth, auth_mode::oauth_direct, auth_mode::pat, auth_mode::keypair, auth_mode::none}) {
        for (const bool https : {false, true}) {
            for (const bool per_api : {false, true}) {
                auto in = inputs_for(mode, https);
                in.urls = per_api ? emu::served_urls(https, true, {9000, 9001, 9002, 9003})
                                  : emu::served_urls(https, false, {9000});
                const std::string text = takeoff::pretty_json(emu::make_cli_config(in));
                snowflake::connection_config read;
                CAPTURE(text);
                REQUIRE(library_verdict(text, read) == "");
                CHECK(read.auth == mode);
                CHECK(read.account_url == in.urls.account_url);
                CHECK(read.endpoint_url == in.urls.endpoint_url);
                CHECK(read.management_url == in.urls.management_url);
                CHECK(read.openai_url == in.urls.openai_url);
                CHECK(read.consumer_group == "primary");
                CHECK(read.ca_file == (https ? "/tmp/emu/ca.pem" : ""));
                const bool oauth = mode == auth_mode::oauth || mode == auth_mode::oauth_direct;
                CHECK(read.oauth.client_id == (oauth ? "EMULATOR_CLIENT_ID" : ""));
                CHECK(read.oauth.redirect_uri == (oauth ? "http://127.0.0.1/callback" : ""));
                CHECK(read.keypair.private_key_file == (mode == auth_mode::keypair ? "/tmp/emu/keypair.pem" : ""));
            }
        }
    }
}

// The takeoff-emulator command line (takeoff_emulator/app.hpp, parse_app_options), without a
// socket: the defaults, every flag and option in both spellings, `--help`, `-- PROGRAM`, and each
// kind of mistake with the exact message that names the option.
//
// takeoff_unit_tests does not link the emulator target; app.hpp needs only the library and
// Boost.JSON, so it is included by its path.
#include "../../emulator/include/takeoff_emulator/app.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using takeoff::emulator::app_options;
using takeoff::emulator::parse_app_options;
using takeoff::snowflake::auth_mode;
using namespace std::chrono_literals;

namespace {

// The message of a parse that must fail ("" when it succeeded, so the CHECK shows it).
std::string error_of(const std::vector<std::string>& args)
{
    const auto parsed = parse_app_options(args);
    return parsed ? std::string() : parsed.error();
}

} // namespace

TEST_CASE("emulator app options: no arguments gives the defaults (one port picked by the system, HTTP, oauth, EMULATOR)")
{
    const auto parsed = parse_app_options({});
    REQUIRE(parsed);
    const app_options& o = *parsed;
    CHECK_FALSE(o.help);
    CHECK_FALSE(o.https);
    CHECK_FALSE(o.port_per_api);
    CHECK(o.port == 0);
    CHECK(o.cert_dir.empty());
    CHECK(o.auth == auth_mode::oauth);
    CHECK(o.print_config.empty());
    CHECK_FALSE(o.access_token_lifetime);
    CHECK_FALSE(o.refresh_token_lifetime);
    CHECK_FALSE(o.session_lifetime);
    CHECK_FALSE(o.code_lifetime);
    CHECK_FALSE(o.token_interval);
    CHECK_FALSE(o.first_token_delay);
    CHECK_FALSE(o.max_new_tokens);
    CHECK_FALSE(o.embedding_dimensions);
    CHECK_FALSE(o.not_ready);
    CHECK(o.unavailable == 0);
    CHECK(o.too_many_every == 0);
    CHECK_FALSE(o.retry_after);
    CHECK_FALSE(o.drop_after_tokens);
    CHECK_FALSE(o.legacy_status);
    CHECK(o.account_name == "EMULATOR");
    CHECK_FALSE(o.client_id);
    CHECK_FALSE(o.client_secret);
    CHECK_FALSE(o.quiet);
    CHECK(o.program.empty());
}

TEST_CASE("emulator app options: every flag and option, the value as the next argument")
{
    const auto parsed = parse_app_options({
        "--https", "--port-per-api", "--port", "18000", "--cert-dir", "/tmp/emu", "--auth", "oauth-direct",
        "--print-config", "/tmp/emu/config.json", "--access-token-lifetime", "30", "--refresh-token-lifetime",
        "120", "--session-lifetime", "60", "--code-lifetime", "5", "--token-interval-ms", "25",
        "--first-token-delay-ms", "250", "--max-new-tokens", "7", "--embedding-dimensions", "12", "--not-ready",
        "--unavailable", "2", "--too-many-every", "3", "--retry-after", "4", "--drop-after-tokens", "0",
        "--legacy-status", "--account-name", "MYORG-MYACCT", "--client-id", "CID", "--client-secret", "s3cr/t+=",
        "--quiet"});
    REQUIRE_MESSAGE(parsed, parsed.error());
    const app_options& o = *parsed;
    CHECK(o.https);
    CHECK(o.port_per_api);
    CHECK(o.port == 18000);
    CHECK(o.cert_dir == "/tmp/emu");
    CHECK(o.auth == auth_mode::oauth_direct);
    CHECK(o.print_config == "/tmp/emu/config.json");
    CHECK(o.access_token_lifetime == 30s);
    CHECK(o.refresh_token_lifetime == 120s);
    CHECK(o.session_lifetime == 60s);
    CHECK(o.code_lifetime == 5s);
    CHECK(o.token_interval == 25ms);
    CHECK(o.first_token_delay == 250ms);
    CHECK(o.max_new_tokens == 7u);
    CHECK(o.embedding_dimensions == 12u);
    CHECK(o.not_ready);
    CHECK(o.unavailable == 2);
    CHECK(o.too_many_every == 3);
    CHECK(o.retry_after == "4");
    CHECK(o.drop_after_tokens == 0u);
    CHECK(o.legacy_status);
    CHECK(o.account_name == "MYORG-MYACCT");
    CHECK(o.client_id == "CID");
    CHECK(o.client_secret == "s3cr/t+=");
    CHECK(o.quiet);
    CHECK(o.program.empty());
    CHECK_FALSE(o.help);
}

TEST_CASE("emulator app options: --name=value is the same as --name value, and the last one given wins")
{
    const auto parsed = parse_app_options({"--port=9000", "--auth=pat", "--auth=keypair", "--cert-dir=/x",
                                           "--print-config=-", "--retry-after=0", "--client-secret=a=b"});
    REQUIRE_MESSAGE(parsed, parsed.error());
    CHECK(parsed->port == 9000);
    CHECK(parsed->auth == auth_mode::keypair);
    CHECK(parsed->cert_dir == "/x");
    CHECK(parsed->print_config == "-");
    CHECK(parsed->retry_after == "0");
    CHECK(parsed->client_secret == "a=b"); // split at the first '=' only
}

TEST_CASE("emulator app options: each auth mode by its configuration name")
{
    CHECK(parse_app_options({"--auth", "oauth"})->auth == auth_mode::oauth);
    CHECK(parse_app_options({"--auth", "oauth-direct"})->auth == auth_mode::oauth_direct);
    CHECK(parse_app_options({"--auth", "pat"})->auth == auth_mode::pat);
    CHECK(parse_app_options({"--auth", "keypair"})->auth == auth_mode::keypair);
    CHECK(parse_app_options({"--auth", "none"})->auth == auth_mode::none);
}

TEST_CASE("emulator app options: everything after -- is the program, its own options untouched")
{
    const auto parsed = parse_app_options({"--quiet", "--", "takeoff", "--port", "x", "--", "generate"});
    REQUIRE_MESSAGE(parsed, parsed.error());
    CHECK(parsed->quiet);
    CHECK(parsed->port == 0);
    CHECK(parsed->program == std::vector<std::string>{"takeoff", "--port", "x", "--", "generate"});
    // --help after -- belongs to the program.
    const auto program_help = parse_app_options({"--", "takeoff", "--help"});
    REQUIRE(program_help);
    CHECK_FALSE(program_help->help);
    CHECK(program_help->program == std::vector<std::string>{"takeoff", "--help"});
}

TEST_CASE("emulator app options: --help (or -h) wins over any other argument before --, a bad one included")
{
    CHECK(parse_app_options({"--help"})->help);
    CHECK(parse_app_options({"-h"})->help);
    CHECK(parse_app_options({"--port", "x", "--help"})->help);
    CHECK(parse_app_options({"--frobnicate", "--help", "--", "prog"})->help);
}

TEST_CASE("emulator app options: an unknown option, a stray argument or a missing program is named")
{
    CHECK(error_of({"--frobnicate"}) == "unknown option --frobnicate (see --help)");
    CHECK(error_of({"--frobnicate=1"}) == "unknown option --frobnicate (see --help)");
    CHECK(error_of({"-p", "80"}) == "unknown option -p (see --help)");
    CHECK(error_of({"serve"}) == "unexpected argument 'serve' (a program to run goes after --)");
    CHECK(error_of({"--"}) == "-- must be followed by the PROGRAM to run");
    CHECK(error_of({"--https=yes"}) == "--https takes no value");
    CHECK(error_of({"--quiet=1"}) == "--quiet takes no value");
}

TEST_CASE("emulator app options: an option at the end without its value is named")
{
    for (const char* name : {"--port", "--cert-dir", "--auth", "--print-config", "--access-token-lifetime",
                             "--refresh-token-lifetime", "--session-lifetime", "--code-lifetime",
                             "--token-interval-ms", "--first-token-delay-ms", "--max-new-tokens",
                             "--embedding-dimensions", "--unavailable", "--too-many-every", "--retry-after",
                             "--drop-after-tokens", "--account-name", "--client-id", "--client-secret"}) {
        CAPTURE(name);
        CHECK(error_of({name}) == std::string(name) + " needs a value");
    }
}

TEST_CASE("emulator app options: bad numbers name the option, the value and the range")
{
    CHECK(error_of({"--port", "x"}) == "--port: 'x' is not a number from 0 to 65535");
    CHECK(error_of({"--port", "65536"}) == "--port: '65536' is not a number from 0 to 65535");
    CHECK(error_of({"--port", "-1"}) == "--port: '-1' is not a number from 0 to 65535");
    CHECK(error_of({"--port", "+80"}) == "--port: '+80' is not a number from 0 to 65535");
    CHECK(error_of({"--port", " 80"}) == "--port: ' 80' is not a number from 0 to 65535");
    CHECK(error_of({"--port="}) == "--port: '' is not a number from 0 to 65535");
    CHECK(error_of({"--port", "99999999999999999999999"}) ==
          "--port: '99999999999999999999999' is not a number from 0 to 65535");
    CHECK(error_of({"--access-token-lifetime", "0"}) ==
          "--access-token-lifetime: '0' is not a number from 1 to 315360000");
    CHECK(error_of({"--refresh-token-lifetime", "1.5"}) ==
          "--refresh-token-lifetime: '1.5' is not a number from 1 to 315360000");
    CHECK(error_of({"--session-lifetime", "1h"}) == "--session-lifetime: '1h' is not a number from 1 to 315360000");
    CHECK(error_of({"--code-lifetime", "315360001"}) ==
          "--code-lifetime: '315360001' is not a number from 1 to 315360000");
    CHECK(error_of({"--token-interval-ms", "3600001"}) ==
          "--token-interval-ms: '3600001' is not a number from 0 to 3600000");
    CHECK(error_of({"--first-token-delay-ms", "fast"}) ==
          "--first-token-delay-ms: 'fast' is not a number from 0 to 3600000");
    CHECK(error_of({"--max-new-tokens", "0"}) == "--max-new-tokens: '0' is not a number from 1 to 100000");
    CHECK(error_of({"--max-new-tokens", "100001"}) == "--max-new-tokens: '100001' is not a number from 1 to 100000");
    CHECK(error_of({"--embedding-dimensions", "0"}) == "--embedding-dimensions: '0' is not a number from 1 to 65536");
    CHECK(error_of({"--unavailable", "many"}) == "--unavailable: 'many' is not a number from 0 to 1000000000");
    CHECK(error_of({"--too-many-every", "-3"}) == "--too-many-every: '-3' is not a number from 0 to 1000000000");
    CHECK(error_of({"--retry-after", "soon"}) == "--retry-after: 'soon' is not a number from 0 to 86400");
    CHECK(error_of({"--drop-after-tokens", "x"}) == "--drop-after-tokens: 'x' is not a number from 0 to 100000");
}

TEST_CASE("emulator app options: the edges of each range are accepted")
{
    const auto parsed = parse_app_options({"--port", "65535", "--access-token-lifetime", "315360000",
                                           "--token-interval-ms", "3600000", "--max-new-tokens", "100000",
                                           "--embedding-dimensions", "65536", "--retry-after", "86400"});
    REQUIRE_MESSAGE(parsed, parsed.error());
    CHECK(parsed->port == 65535);
    CHECK(parsed->access_token_lifetime == 315360000s);
    CHECK(parsed->token_interval == 3600000ms);
    CHECK(parsed->max_new_tokens == 100000u);
    CHECK(parsed->embedding_dimensions == 65536u);
    CHECK(parsed->retry_after == "86400");
}

TEST_CASE("emulator app options: a bad auth mode lists the allowed ones; empty texts are refused by name")
{
    CHECK(error_of({"--auth", "OAuth"}) == "--auth: 'OAuth' is not one of oauth, oauth-direct, pat, keypair, none");
    CHECK(error_of({"--auth", "oauth_direct"}) ==
          "--auth: 'oauth_direct' is not one of oauth, oauth-direct, pat, keypair, none");
    CHECK(error_of({"--cert-dir", ""}) == "--cert-dir needs a non-empty value");
    CHECK(error_of({"--print-config="}) == "--print-config needs a non-empty value");
    CHECK(error_of({"--account-name", ""}) == "--account-name needs a non-empty value");
    CHECK(error_of({"--account-name", "MY ACCOUNT"}) == "--account-name: 'MY ACCOUNT' has a space or a quote");
    CHECK(error_of({"--client-id", ""}) == "--client-id needs a non-empty value");
    CHECK(error_of({"--client-secret", ""}) == "--client-secret needs a non-empty value");
}

TEST_CASE("emulator app options: --port-per-api needs room for four ports after --port")
{
    CHECK(error_of({"--port-per-api", "--port", "65533"}) ==
          "--port: 65533 leaves no room for four ports with --port-per-api (at most 65532)");
    const auto last = parse_app_options({"--port", "65532", "--port-per-api"});
    REQUIRE(last);
    CHECK(last->port == 65532);
    CHECK(parse_app_options({"--port", "65535"})); // one port: the whole range
}

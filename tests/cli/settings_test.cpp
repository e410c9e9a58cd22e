// Where the takeoff CLI finds its configuration and token cache, and what loading them reports.
#include <takeoff_cli/settings.hpp>

#include "../support/process.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <sys/stat.h>

namespace cli = takeoff::cli;
using takeoff::errc;

namespace {

takeoff::snowflake::environment_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

void write(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p) << text;
    ::chmod(p.c_str(), 0600);
}

} // namespace

TEST_CASE("cli settings: the configuration is --config, else $TAKEOFF_CONFIG, else XDG_CONFIG_HOME, else HOME") {
    cli::global_flags flags;
    flags.config = "/from/flag.json";
    const auto env = env_of({{"TAKEOFF_CONFIG", "/from/env.json"}, {"XDG_CONFIG_HOME", "/xdg"}, {"HOME", "/home/u"}});
    CHECK(cli::locate_config(flags, env)->path == "/from/flag.json");
    CHECK(cli::locate_config(flags, env)->origin == "--config");
    flags.config.reset();
    CHECK(cli::locate_config(flags, env)->path == "/from/env.json");
    CHECK(cli::locate_config(flags, env_of({{"XDG_CONFIG_HOME", "/xdg"}, {"HOME", "/home/u"}}))->path ==
          "/xdg/takeoff/config.json");
    // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
    CHECK(cli::locate_config(flags, env_of({{"XDG_CONFIG_HOME", "rel"}, {"HOME", "/home/u"}}))->path ==
          "/home/u/.config/takeoff/config.json");
    CHECK_FALSE(cli::locate_config(flags, env_of({})).has_value());
}

TEST_CASE("cli settings: the token cache is --token-cache, else XDG_CACHE_HOME, else HOME") {
    cli::global_flags flags;
    CHECK(cli::locate_token_cache(flags, env_of({{"XDG_CACHE_HOME", "/c"}, {"HOME", "/h"}}))->path == "/c/takeoff/tokens.json");
    CHECK(cli::locate_token_cache(flags, env_of({{"HOME", "/h"}}))->path == "/h/.cache/takeoff/tokens.json");
    flags.token_cache = "t.json";
    CHECK(cli::locate_token_cache(flags, env_of({{"HOME", "/h"}}))->path == "t.json");
}

TEST_CASE("cli settings: the login's account name for a loopback account is TAKEOFF_ACCOUNT_NAME, else EMULATOR; none for a real account") {
    takeoff::snowflake::connection_config c;
    c.account_url = "https://127.0.0.1:8443";
    CHECK(cli::loopback_account_name(c, env_of({})) == "EMULATOR");
    CHECK(cli::loopback_account_name(c, env_of({{"TAKEOFF_ACCOUNT_NAME", "MINE"}})) == "MINE");
    c.account_url = "https://myorg-myaccount.snowflakecomputing.com";
    CHECK(cli::loopback_account_name(c, env_of({{"TAKEOFF_ACCOUNT_NAME", "MINE"}})) == "");
}

TEST_CASE("cli settings: a missing file says how to make one; file errors name the file and the field") {
    takeoff::test::temp_directory dir("takeoff-cli-settings");
    cli::global_flags flags;
    takeoff::diagnostics diag;

    flags.config = (dir.path() / "absent.json").string();
    auto missing = cli::load_settings(flags, env_of({}), diag);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "no configuration file at " + *flags.config +
                                       " (from --config); write one (docs/configuration.md), run `takeoff config "
                                       "import-secrets`, or pass --config FILE");

    const auto file = dir.path() / "config.json";
    flags.config = file.string();
    write(file, R"({"endpoint_url": "http://127.0.0.1:3000", "auth": "none", "endpoint": "x"})");
    auto unknown = cli::load_settings(flags, env_of({}), diag);
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error() == errc::invalid_argument);
    CHECK(diag.client_message() == file.string() + ": unknown field 'endpoint'");

    write(file, R"({"endpoint_url": 3000})");
    auto wrong_type = cli::load_settings(flags, env_of({}), diag);
    REQUIRE_FALSE(wrong_type.has_value());
    CHECK(wrong_type.error() == errc::invalid_field_type);
    CHECK(diag.client_message().find("field 'endpoint_url'") != std::string::npos);
}

TEST_CASE("cli settings: the environment overrides the file, --ca-file overrides both, and an unreadable CA file is named") {
    takeoff::test::temp_directory dir("takeoff-cli-settings");
    const auto file = dir.path() / "config.json";
    const auto ca = dir.path() / "ca.pem";
    write(file, R"({"endpoint_url": "http://127.0.0.1:3000", "auth": "none", "ca_file": "/nowhere/ca.pem"})");
    write(ca, "not checked here");
    cli::global_flags flags;
    flags.config = file.string();
    takeoff::diagnostics diag;

    auto from_env = cli::load_settings(
        flags, env_of({{"TAKEOFF_ENDPOINT_URL", "http://127.0.0.1:4000"}, {"TAKEOFF_CA_FILE", ca.string()}}), diag);
    REQUIRE_MESSAGE(from_env.has_value(), diag.client_message());
    CHECK(from_env->config.endpoint_url == "http://127.0.0.1:4000");
    CHECK(from_env->config.ca_file == ca.string());
    CHECK(from_env->file.path == file);

    auto unreadable = cli::load_settings(flags, env_of({}), diag);
    REQUIRE_FALSE(unreadable.has_value());
    CHECK(diag.client_message() == "ca_file: cannot read /nowhere/ca.pem; check the path and its permissions");

    flags.ca_file = (dir.path() / "other.pem").string();
    auto flag = cli::load_settings(flags, env_of({}), diag);
    REQUIRE_FALSE(flag.has_value());
    CHECK(diag.client_message() == "ca_file: cannot read " + *flags.ca_file + " (from --ca-file); check the path and its permissions");
    flags.ca_file = ca.string();
    auto ok = cli::load_settings(flags, env_of({}), diag);
    REQUIRE(ok.has_value());
    CHECK(ok->config.ca_file == ca.string());
}

TEST_CASE("cli settings: a file that holds a secret and is readable by others gives a warning without the secret") {
    takeoff::test::temp_directory dir("takeoff-cli-settings");
    const auto file = dir.path() / "config.json";
    write(file, R"({"endpoint_url": "https://x.snowflakecomputing.app", "auth": "pat", "pat": "pat-secret-value"})");
    ::chmod(file.c_str(), 0644);
    cli::global_flags flags;
    flags.config = file.string();
    takeoff::diagnostics diag;
    auto loaded = cli::load_settings(flags, env_of({}), diag);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->warnings.size() == 1);
    CHECK(loaded->warnings[0].rfind(file.string() + " is readable by others and holds a secret", 0) == 0);
    CHECK(loaded->warnings[0].find("pat-secret-value") == std::string::npos);
}

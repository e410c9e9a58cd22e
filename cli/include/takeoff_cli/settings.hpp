#pragma once
// Where the takeoff CLI finds its configuration and token cache, and how it loads them: the
// library's connection_config (the ROADMAP "Config contract") from the file, then the TAKEOFF_*
// environment overrides, then --ca-file. No sockets; the environment is a lookup function so that
// tests control it.

#include <takeoff_cli/arguments.hpp>

#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/connection_config.hpp>
#include <takeoff/snowflake/login.hpp>

#include <boost/system/result.hpp>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace takeoff::cli {

/// A file the CLI uses and why that one (for messages and --verbose).
struct located_file {
    std::filesystem::path path;
    std::string origin; ///< "--config", "$TAKEOFF_CONFIG", "$XDG_CONFIG_HOME", "$HOME"
};

namespace detail {
inline std::optional<std::string> non_empty(const snowflake::environment_lookup& env, std::string_view name) {
    auto v = env(name);
    if (!v || v->empty()) return std::nullopt;
    return v;
}
} // namespace detail

/// The configuration file: --config FILE, else $TAKEOFF_CONFIG, else
/// $XDG_CONFIG_HOME/takeoff/config.json, else $HOME/.config/takeoff/config.json; none when
/// neither XDG_CONFIG_HOME nor HOME is set.
inline std::optional<located_file> locate_config(const global_flags& flags, const snowflake::environment_lookup& env) {
    if (flags.config) return located_file{*flags.config, "--config"};
    if (auto v = detail::non_empty(env, "TAKEOFF_CONFIG")) return located_file{*v, "$TAKEOFF_CONFIG"};
    if (auto v = detail::non_empty(env, "XDG_CONFIG_HOME"); v && (*v)[0] == '/')
        return located_file{std::filesystem::path(*v) / "takeoff" / "config.json", "$XDG_CONFIG_HOME"};
    if (auto v = detail::non_empty(env, "HOME"))
        return located_file{std::filesystem::path(*v) / ".config" / "takeoff" / "config.json", "$HOME"};
    return std::nullopt;
}

/// The token cache: --token-cache FILE, else $XDG_CACHE_HOME/takeoff/tokens.json, else
/// $HOME/.cache/takeoff/tokens.json (the library's default_token_store_path, through `env`).
inline std::optional<located_file> locate_token_cache(const global_flags& flags, const snowflake::environment_lookup& env) {
    if (flags.token_cache) return located_file{*flags.token_cache, "--token-cache"};
    if (auto v = detail::non_empty(env, "XDG_CACHE_HOME"); v && (*v)[0] == '/')
        return located_file{std::filesystem::path(*v) / "takeoff" / "tokens.json", "$XDG_CACHE_HOME"};
    if (auto v = detail::non_empty(env, "HOME"))
        return located_file{std::filesystem::path(*v) / ".cache" / "takeoff" / "tokens.json", "$HOME"};
    return std::nullopt;
}

/// The account name of the login request and key-pair JWT for an account URL that names none (a
/// loopback URL: the emulator): $TAKEOFF_ACCOUNT_NAME, else "EMULATOR" (the emulator's default).
/// Empty for a real account URL, whose host names the account.
inline std::string loopback_account_name(const snowflake::connection_config& config,
                                         const snowflake::environment_lookup& env) {
    auto account = snowflake::account_url::runtime(config.account_url);
    if (!account || !snowflake::detail::account_identifier_of(*account).empty()) return {};
    return detail::non_empty(env, "TAKEOFF_ACCOUNT_NAME").value_or("EMULATOR");
}

/// A loaded configuration and the notes to show about it.
struct loaded_settings {
    snowflake::connection_config config;
    located_file file;
    std::vector<std::string> warnings; ///< e.g. the file is readable by others and holds a secret
};

/// Loads the configuration (see the file comment). Errors, with diag's message naming the file or
/// the variable: errc::invalid_argument when there is no file to read (none located, or it does
/// not exist: the message says how to make one), the errors of load_connection_config (not JSON,
/// an unknown field, a wrong type, unreadable) and of apply_environment. Validation is left to
/// snowflake::connection::make (it checks what the auth mode needs).
inline boost::system::result<loaded_settings> load_settings(const global_flags& flags,
                                                            const snowflake::environment_lookup& env,
                                                            diagnostics& diag) {
    diag.clear();
    auto where = locate_config(flags, env);
    if (!where) {
        diag.set_client_message("no configuration file: pass --config FILE or set TAKEOFF_CONFIG (neither "
                                "XDG_CONFIG_HOME nor HOME is set)");
        return make_error_code(errc::invalid_argument);
    }
    std::error_code exists_error;
    if (!std::filesystem::exists(where->path, exists_error) && !exists_error) {
        diag.set_client_message("no configuration file at " + where->path.string() + " (from " + where->origin +
                                "); write one (docs/configuration.md), run `takeoff config import-secrets`, or "
                                "pass --config FILE");
        return make_error_code(errc::invalid_argument);
    }
    auto config = snowflake::load_connection_config(where->path, diag);
    if (!config) return config.error();
    loaded_settings out{std::move(*config), std::move(*where), {}};
    out.warnings = std::move(out.config.warnings);
    out.config.warnings.clear();
    if (auto ec = snowflake::apply_environment(out.config, env, diag)) return ec;
    if (flags.ca_file) out.config.ca_file = *flags.ca_file;
    // A CA file that cannot be read would otherwise surface as a TLS failure at the first request.
    if (!out.config.ca_file.empty()) {
        std::error_code ec;
        const auto status = std::filesystem::status(out.config.ca_file, ec);
        if (ec || !std::filesystem::is_regular_file(status) || ::access(out.config.ca_file.c_str(), R_OK) != 0) {
            diag.set_client_message("ca_file: cannot read " + out.config.ca_file +
                                    (flags.ca_file ? " (from --ca-file)" : "") + "; check the path and its permissions");
            return make_error_code(errc::invalid_argument);
        }
    }
    return out;
}

} // namespace takeoff::cli

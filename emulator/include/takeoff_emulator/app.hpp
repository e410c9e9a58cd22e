#pragma once
// The testable parts of the takeoff-emulator program (emulator/src/main.cpp), without a socket:
// its command line (parse_app_options), the URLs each layout serves (served_urls), the CLI
// configuration it writes about itself (make_cli_config, the ROADMAP "Config contract") and the
// pretty JSON text of that file (takeoff::pretty_json). app_runtime.hpp starts the servers from them.
//
// Decisions:
// * Options take their value as the next argument or after '=' (`--port 8080`, `--port=8080`).
//   Numbers are plain decimal digits within the option's range; anything else is an error that
//   names the option and the value. The first problem ends the parse (the program prints it and
//   exits 2).
// * Everything after `--` is the program to run, untouched (its own options included).
// * The configuration holds only what the auth mode needs: "oauth" settings for oauth and
//   oauth-direct, "pat" for pat, "keypair" for keypair, none of them for none. Every layout
//   writes all four URLs; ca_file only over HTTPS.

#include <takeoff/core/json.hpp>
#include <takeoff/snowflake/connection_config.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace takeoff::emulator {

/// What the takeoff-emulator command line asked for. Unset optionals keep the emulator's own
/// defaults (snowflake_options, takeoff_options).
struct app_options {
    bool help = false;          ///< --help: print the usage and exit 0
    bool https = false;         ///< --https: serve HTTPS with certificates made at start
    bool port_per_api = false;  ///< --port-per-api: account, inference, management, openai apart
    std::uint16_t port = 0;     ///< --port: the (first) port; 0 lets the system pick
    std::string cert_dir;       ///< --cert-dir: where ca.pem (and keypair.pem) go; empty: a temp dir when needed
    snowflake::auth_mode auth = snowflake::auth_mode::oauth; ///< --auth
    std::string print_config;   ///< --print-config: the config file to write; "-" for stdout; empty: none

    std::optional<std::chrono::seconds> access_token_lifetime;  ///< --access-token-lifetime
    std::optional<std::chrono::seconds> refresh_token_lifetime; ///< --refresh-token-lifetime
    std::optional<std::chrono::seconds> session_lifetime;       ///< --session-lifetime
    std::optional<std::chrono::seconds> code_lifetime;          ///< --code-lifetime

    std::optional<std::chrono::milliseconds> token_interval;    ///< --token-interval-ms
    std::optional<std::chrono::milliseconds> first_token_delay; ///< --first-token-delay-ms
    std::optional<std::size_t> max_new_tokens;                  ///< --max-new-tokens (a request's default)
    std::optional<std::size_t> embedding_dimensions;            ///< --embedding-dimensions
    bool not_ready = false;                                     ///< --not-ready
    std::size_t unavailable = 0;                                ///< --unavailable: the next N requests 503
    std::size_t too_many_every = 0;                             ///< --too-many-every: every K-th request 429
    std::optional<std::string> retry_after;                     ///< --retry-after (seconds, digits)
    std::optional<std::size_t> drop_after_tokens;               ///< --drop-after-tokens
    bool legacy_status = false;                                 ///< --legacy-status

    std::string account_name = "EMULATOR";  ///< --account-name: the ACCOUNT_NAME login must carry
    std::optional<std::string> client_id;     ///< --client-id
    std::optional<std::string> client_secret; ///< --client-secret
    bool quiet = false;                       ///< --quiet: no request log

    std::vector<std::string> program; ///< after `--`: the program and its arguments
};

/// The outcome of parse_app_options: the options, or one line saying what is wrong (naming the
/// option and the value), without the program name.
class app_options_result {
public:
    /// A parse that succeeded.
    app_options_result(app_options options) : value_(std::move(options)) {} // NOLINT: implicit on purpose
    /// A parse that failed with this message.
    static app_options_result failure(std::string message)
    {
        app_options_result r{app_options{}};
        r.value_ = std::move(message);
        return r;
    }
    /// True when the options were parsed.
    bool has_value() const noexcept { return std::holds_alternative<app_options>(value_); }
    explicit operator bool() const noexcept { return has_value(); }
    /// The options (only when has_value()).
    const app_options& value() const { return std::get<app_options>(value_); }
    const app_options& operator*() const { return value(); }
    const app_options* operator->() const { return &value(); }
    /// The message (only when !has_value()).
    const std::string& error() const { return std::get<std::string>(value_); }

private:
    std::variant<app_options, std::string> value_;
};

/// The usage text of --help.
inline std::string_view app_usage() noexcept
{
    return R"(Usage: takeoff-emulator [OPTIONS] [-- PROGRAM [ARGS...]]

Serves an emulated Snowflake account (OAuth, session login, SPCS ingress) and an emulated Takeoff
server (inference, management, OpenAI-compatible routes) on 127.0.0.1, for development and CI.
Prints "takeoff-emulator ready URL" once listening; with -- PROGRAM, runs it with TAKEOFF_CONFIG
set and exits with its status, otherwise serves until SIGINT or SIGTERM.

Layout and transport:
  --port N                  the (first) port; 0 (default) picks free ports
  --port-per-api            four servers: account, inference, management, openai (ports N..N+3)
  --https                   serve HTTPS with a CA and certificate made at start
  --cert-dir DIR            write the CA certificate as DIR/ca.pem (DIR made 0700 if missing)
Authentication:
  --auth MODE               oauth (default) | oauth-direct | pat | keypair | none
  --account-name NAME       the ACCOUNT_NAME the login request must carry (default EMULATOR)
  --client-id ID            the OAuth client id
  --client-secret SECRET    the OAuth client secret
  --print-config FILE       write a takeoff CLI config pointing here (mode 0600); - for stdout
Token lifetimes (seconds):
  --access-token-lifetime S  --refresh-token-lifetime S  --session-lifetime S  --code-lifetime S
Takeoff pacing and failures:
  --token-interval-ms N     pause before each streamed token but the first
  --first-token-delay-ms N  pause before the first streamed token
  --max-new-tokens N        tokens generated when a request sets no max_new_tokens (default 16)
  --embedding-dimensions N  length of the embedding vectors (default 8)
  --not-ready               every inference and OpenAI route answers 503
  --unavailable N           the next N inference/OpenAI requests answer 503
  --too-many-every K        every K-th inference/OpenAI request answers 429
  --retry-after S           the Retry-After of those 503/429 answers (default 0)
  --drop-after-tokens N     streams are cut off after N tokens
  --legacy-status           /status in the shape of Takeoff before 0.19
Other:
  --quiet                   no request log on stderr
  --help                    this text
)";
}

namespace detail::app {

inline constexpr std::uint64_t max_lifetime_seconds = 10ull * 365 * 24 * 3600; // ten years
inline constexpr std::uint64_t max_delay_ms = 3600ull * 1000;                   // one hour
inline constexpr std::uint64_t max_count = 100000;                              // max_emulated_tokens
inline constexpr std::uint64_t max_knob_count = 1000000000;

// Decimal digits only, within [low, high]; nothing when the text is anything else.
inline std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t low, std::uint64_t high)
{
    if (text.empty() || text.size() > 19)
        return std::nullopt;
    for (char c : text)
        if (c < '0' || c > '9')
            return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < low || value > high)
        return std::nullopt;
    return value;
}

inline std::string range_text(std::uint64_t low, std::uint64_t high)
{
    return "a number from " + std::to_string(low) + " to " + std::to_string(high);
}

} // namespace detail::app

/// Parses the arguments after the program name. `--help` anywhere before `--` wins over any
/// other problem. Errors name the option: "--port: 'x' is not a number from 0 to 65535",
/// "--auth needs a value", "unknown option --frobnicate", "unexpected argument 'x'".
inline app_options_result parse_app_options(const std::vector<std::string>& args)
{
    using detail::app::parse_number;
    using detail::app::range_text;
    using fail = app_options_result;
    app_options o;

    // --help first, so that `takeoff-emulator --bad --help` still shows the usage.
    for (const auto& a : args) {
        if (a == "--")
            break;
        if (a == "--help" || a == "-h") {
            o.help = true;
            return o;
        }
    }

    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--") {
            if (i + 1 == args.size())
                return fail::failure("-- must be followed by the PROGRAM to run");
            o.program.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
            break;
        }
        if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
            if (!arg.empty() && arg.front() == '-')
                return fail::failure("unknown option " + arg + " (see --help)");
            return fail::failure("unexpected argument '" + arg + "' (a program to run goes after --)");
        }
        std::string name = arg;
        std::optional<std::string> inline_value;
        if (const auto eq = arg.find('='); eq != std::string::npos) {
            name = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
        }

        // Flags without a value.
        bool* flag = nullptr;
        if (name == "--https") flag = &o.https;
        else if (name == "--port-per-api") flag = &o.port_per_api;
        else if (name == "--not-ready") flag = &o.not_ready;
        else if (name == "--legacy-status") flag = &o.legacy_status;
        else if (name == "--quiet") flag = &o.quiet;
        if (flag) {
            if (inline_value)
                return fail::failure(name + " takes no value");
            *flag = true;
            continue;
        }

        // Options with a value: which one, and where it is.
        static constexpr std::string_view with_value[] = {
            "--port", "--cert-dir", "--auth", "--print-config", "--access-token-lifetime",
            "--refresh-token-lifetime", "--session-lifetime", "--code-lifetime", "--token-interval-ms",
            "--first-token-delay-ms", "--max-new-tokens", "--embedding-dimensions", "--unavailable",
            "--too-many-every", "--retry-after", "--drop-after-tokens", "--account-name", "--client-id",
            "--client-secret"};
        bool known = false;
        for (auto candidate : with_value)
            known = known || name == candidate;
        if (!known)
            return fail::failure("unknown option " + name + " (see --help)");
        std::string value;
        if (inline_value) {
            value = *inline_value;
        } else {
            if (i + 1 == args.size())
                return fail::failure(name + " needs a value");
            value = args[++i];
        }

        // The secret is never repeated in a message.
        const auto bad_number = [&](std::uint64_t low, std::uint64_t high) {
            return fail::failure(name + ": '" + value + "' is not " + range_text(low, high));
        };
        const auto non_empty = [&](std::string& target) -> std::optional<app_options_result> {
            if (value.empty())
                return fail::failure(name + " needs a non-empty value");
            target = value;
            return std::nullopt;
        };
        const auto seconds = [&](std::optional<std::chrono::seconds>& target) -> std::optional<app_options_result> {
            const auto n = parse_number(value, 1, detail::app::max_lifetime_seconds);
            if (!n)
                return bad_number(1, detail::app::max_lifetime_seconds);
            target = std::chrono::seconds(static_cast<std::int64_t>(*n));
            return std::nullopt;
        };
        const auto milliseconds = [&](std::optional<std::chrono::milliseconds>& target) -> std::optional<app_options_result> {
            const auto n = parse_number(value, 0, detail::app::max_delay_ms);
            if (!n)
                return bad_number(0, detail::app::max_delay_ms);
            target = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
            return std::nullopt;
        };
        const auto count = [&](auto& target, std::uint64_t low, std::uint64_t high) -> std::optional<app_options_result> {
            const auto n = parse_number(value, low, high);
            if (!n)
                return bad_number(low, high);
            target = static_cast<std::size_t>(*n);
            return std::nullopt;
        };

        std::optional<app_options_result> problem;
        if (name == "--port") {
            const auto n = parse_number(value, 0, 65535);
            if (!n)
                return bad_number(0, 65535);
            o.port = static_cast<std::uint16_t>(*n);
        } else if (name == "--cert-dir") {
            problem = non_empty(o.cert_dir);
        } else if (name == "--auth") {
            const auto mode = snowflake::parse_auth_mode(value);
            if (!mode)
                return fail::failure("--auth: '" + value + "' is not one of oauth, oauth-direct, pat, keypair, none");
            o.auth = *mode;
        } else if (name == "--print-config") {
            problem = non_empty(o.print_config);
        } else if (name == "--access-token-lifetime") {
            problem = seconds(o.access_token_lifetime);
        } else if (name == "--refresh-token-lifetime") {
            problem = seconds(o.refresh_token_lifetime);
        } else if (name == "--session-lifetime") {
            problem = seconds(o.session_lifetime);
        } else if (name == "--code-lifetime") {
            problem = seconds(o.code_lifetime);
        } else if (name == "--token-interval-ms") {
            problem = milliseconds(o.token_interval);
        } else if (name == "--first-token-delay-ms") {
            problem = milliseconds(o.first_token_delay);
        } else if (name == "--max-new-tokens") {
            problem = count(o.max_new_tokens, 1, detail::app::max_count);
        } else if (name == "--embedding-dimensions") {
            problem = count(o.embedding_dimensions, 1, 65536);
        } else if (name == "--unavailable") {
            problem = count(o.unavailable, 0, detail::app::max_knob_count);
        } else if (name == "--too-many-every") {
            problem = count(o.too_many_every, 0, detail::app::max_knob_count);
        } else if (name == "--retry-after") {
            if (!parse_number(value, 0, 86400))
                return bad_number(0, 86400);
            o.retry_after = value;
        } else if (name == "--drop-after-tokens") {
            problem = count(o.drop_after_tokens, 0, detail::app::max_count);
        } else if (name == "--account-name") {
            problem = non_empty(o.account_name);
            if (!problem && o.account_name.find_first_of(" \t\r\n\"") != std::string::npos)
                return fail::failure("--account-name: '" + value + "' has a space or a quote");
        } else if (name == "--client-id") {
            std::string id;
            problem = non_empty(id);
            o.client_id = std::move(id);
        } else if (name == "--client-secret") {
            if (value.empty())
                return fail::failure("--client-secret needs a non-empty value");
            o.client_secret = value;
        }
        if (problem)
            return std::move(*problem);
    }

    if (o.port_per_api && o.port > 65535 - 3)
        return fail::failure("--port: " + std::to_string(o.port) +
                             " leaves no room for four ports with --port-per-api (at most 65532)");
    return o;
}

/// The base URLs the emulator serves, as written into the configuration (no trailing slash).
struct app_urls {
    std::string account_url;
    std::string endpoint_url;
    std::string management_url;
    std::string openai_url;
};

/// The URLs for the ports listened on: one port (everything at its root, management under
/// /management) or, with port_per_api, four ports in the order account, inference, management,
/// openai. Throws std::invalid_argument when the number of ports does not fit the layout.
inline app_urls served_urls(bool https, bool port_per_api, const std::vector<std::uint16_t>& ports)
{
    const std::string scheme = https ? "https" : "http";
    const auto base = [&](std::uint16_t port) { return scheme + "://127.0.0.1:" + std::to_string(port); };
    if (port_per_api) {
        if (ports.size() != 4)
            throw std::invalid_argument("takeoff-emulator: --port-per-api serves four ports");
        return app_urls{base(ports[0]), base(ports[1]), base(ports[2]), base(ports[3])};
    }
    if (ports.size() != 1)
        throw std::invalid_argument("takeoff-emulator: one port without --port-per-api");
    const std::string b = base(ports[0]);
    return app_urls{b, b, b + "/management", b};
}

/// What the configuration says about the running emulator, besides its URLs.
struct cli_config_inputs {
    snowflake::auth_mode auth = snowflake::auth_mode::oauth;
    app_urls urls;
    std::string ca_file;          ///< the CA certificate file; empty over HTTP
    std::string client_id;        ///< oauth, oauth-direct
    std::string client_secret;    ///< oauth, oauth-direct
    std::string pat;              ///< pat
    std::string keypair_user;     ///< keypair
    std::string private_key_file; ///< keypair
};

/// The scope the configuration asks for: a refresh token and the role the SPCS service grants.
inline constexpr std::string_view app_scope = "refresh_token session:role:CONTAINER_USER_ROLE";
/// The redirect URI the configuration names: no port, so the sign-in listens on a free port the
/// system picks (the loopback listener's rule; validate() takes no port 0, the listener would).
inline constexpr std::string_view app_redirect_uri = "http://127.0.0.1/callback";

/// The takeoff CLI configuration (ROADMAP "Config contract") pointing at the emulator, with only
/// what `inputs.auth` needs. The OAuth endpoints are left out: the CLI derives them from
/// account_url.
inline boost::json::object make_cli_config(const cli_config_inputs& inputs)
{
    using snowflake::auth_mode;
    boost::json::object config;
    config["account_url"] = inputs.urls.account_url;
    config["endpoint_url"] = inputs.urls.endpoint_url;
    config["management_url"] = inputs.urls.management_url;
    config["openai_url"] = inputs.urls.openai_url;
    config["consumer_group"] = "primary";
    if (!inputs.ca_file.empty())
        config["ca_file"] = inputs.ca_file;
    config["auth"] = std::string(snowflake::to_string(inputs.auth));
    switch (inputs.auth) {
    case auth_mode::oauth:
    case auth_mode::oauth_direct:
        config["oauth"] = boost::json::object{
            {"client_id", inputs.client_id},
            {"client_secret", inputs.client_secret},
            {"scope", app_scope},
            {"redirect_uri", app_redirect_uri},
        };
        break;
    case auth_mode::pat:
        config["pat"] = inputs.pat;
        break;
    case auth_mode::keypair:
        config["keypair"] = boost::json::object{
            {"user", inputs.keypair_user},
            {"private_key_file", inputs.private_key_file},
        };
        break;
    case auth_mode::none:
        break;
    }
    return config;
}

} // namespace takeoff::emulator

#pragma once
// What every example program shares, kept short so it can be copied: where the configuration comes
// from, the snowflake::connection made from it, running the program's coroutine to its end, and
// reporting a failure as one line. A program is a coroutine and a main():
//
//     boost::asio::awaitable<void> run(example::context& ex) {
//         ex.step = "generate";                       // named in the report if what follows fails
//         std::string text = co_await ex.client().async_generate(std::string("Hello"));
//         example::expect(!text.empty(), "the text is empty");
//     }
//     int main(int argc, char** argv) { return example::main(argc, argv, "[PROMPT]", run); }
//
// The configuration (docs/configuration.md) is --config FILE, else $TAKEOFF_CONFIG, else
// $XDG_CONFIG_HOME/takeoff/config.json (~/.config/takeoff/config.json); TAKEOFF_<FIELD> variables
// override its fields. With auth "oauth" (or "oauth-direct") the browser opens once, before the
// program runs: the tokens are kept in the file token store and refreshed. A failure prints `example: <step>: <error>: <what the library says>` on
// stderr and exits 1; nothing printed holds a secret (the library's messages never do).

#include <takeoff/takeoff.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace example {

namespace asio = boost::asio;
namespace api = takeoff::api;
namespace snowflake = takeoff::snowflake;

/// An unexpected result: reported like a failed call, and the program exits 1.
struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Throws failure(what) unless `ok`: how the programs check what they got.
inline void expect(bool ok, const std::string& what) {
    if (!ok) throw failure(what);
}

/// What a program's coroutine works with.
struct context {
    snowflake::connection& connection;
    const snowflake::connection_config& config;
    /// The arguments left after the options (--config FILE).
    std::vector<std::string> args;
    /// What the program is doing; a failure's report starts with it.
    std::string step = "start";

    /// The Takeoff client: every request carries the configured credential.
    takeoff::client& client() { return connection.client(); }
    /// The configured consumer group ("primary" unless the config says otherwise).
    api::consumer_group group() const { return api::consumer_group(config.consumer_group); }
    /// The i-th argument, or `fallback` when there are fewer.
    std::string arg(std::size_t i, std::string fallback) const { return i < args.size() ? args[i] : fallback; }
};

/// The configuration file: `given` (--config), else $TAKEOFF_CONFIG, else
/// $XDG_CONFIG_HOME/takeoff/config.json (an absolute XDG_CONFIG_HOME only, as the XDG spec says),
/// else $HOME/.config/takeoff/config.json.
inline std::string config_path(const std::string& given) {
    if (!given.empty()) return given;
    if (const char* p = std::getenv("TAKEOFF_CONFIG"); p && *p) return p;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x == '/') return std::string(x) + "/takeoff/config.json";
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + "/.config/takeoff/config.json";
}

/// The ACCOUNT_NAME of the login request (and the account part of a key-pair JWT). A real account
/// URL names the account (myorg-myacct.snowflakecomputing.com), and the library derives it when
/// this is empty; a loopback URL (the emulator) names none, so the emulator's default account
/// name, EMULATOR, is used there. $TAKEOFF_ACCOUNT_NAME overrides both.
inline std::string account_name(const snowflake::connection_config& config) {
    if (const char* name = std::getenv("TAKEOFF_ACCOUNT_NAME"); name && *name) return name;
    auto url = boost::urls::parse_uri(config.account_url);
    if (!url) return {};
    const std::string host = url->host_address();
    return host == "127.0.0.1" || host == "::1" || host == "localhost" ? "EMULATOR" : "";
}

/// One line on stderr for a failure of `step`: the error, the library's message, the HTTP status
/// and request id when there was a reply, and the server's (sanitised, bounded) message.
inline void report(const std::string& step, const boost::system::error_code& ec, const takeoff::diagnostics& diag) {
    std::string line = "example: " + step + ": " + ec.message();
    if (!diag.client_message().empty()) line += ": " + diag.client_message();
    const std::string status = "HTTP " + std::to_string(diag.http_status());
    if (diag.http_status() != 0 && line.find(status) == std::string::npos) line += " [" + status + "]";
    if (!diag.request_id().empty()) line += " [request id " + diag.request_id() + "]";
    if (!diag.server_message().empty()) line += "; the server said: " + diag.server_message();
    std::cerr << line << '\n';
}

/// Signs in with the browser when the auth mode needs it (oauth, oauth-direct) and no tokens are
/// stored from an earlier run, then runs `program`.
inline asio::awaitable<void> start(context& ex, asio::awaitable<void> (*program)(context&), bool sign_in_first) {
    if (sign_in_first && !ex.connection.signed_in()) {
        ex.step = "sign in";
        std::cerr << "example: signing in with the browser (once: the tokens are kept for the next runs)\n";
        co_await ex.connection.async_sign_in();
    }
    co_await program(ex);
}

/// Reads the options, loads and checks the configuration, makes the connection, signs in when
/// needed (unless `sign_in_first` is false: the program does it), runs `program` and reports how
/// it ended: 0 on success, 1 on a failure (one line on stderr), 2 on a bad option. `usage`
/// describes the program's own arguments for --help.
inline int main(int argc, char** argv, std::string_view usage, asio::awaitable<void> (*program)(context&),
                bool sign_in_first = true) {
    std::string given;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << "usage: " << argv[0] << " [--config FILE] " << usage << "\n"
                      << "The configuration: --config FILE, else $TAKEOFF_CONFIG, else "
                         "$XDG_CONFIG_HOME/takeoff/config.json (docs/configuration.md).\n";
            return 0;
        } else if (a == "--config") {
            if (i + 1 == argc) {
                std::cerr << "example: --config needs a FILE (see --help)\n";
                return 2;
            }
            given = argv[++i];
        } else if (a.starts_with("--config=")) {
            given = a.substr(9);
        } else if (a.starts_with("--") && a.size() > 2) {
            std::cerr << "example: unknown option " << a << " (see --help)\n";
            return 2;
        } else {
            args.push_back(a);
        }
    }

    std::string step = "load the configuration";
    try {
        takeoff::diagnostics diag;
        auto config = snowflake::load_connection_config(config_path(given), diag);
        if (!config) throw takeoff::error(config.error(), diag);
        for (const auto& warning : config->warnings) std::cerr << "warning: " << warning << '\n';
        takeoff::throw_if_error(snowflake::apply_environment(*config, snowflake::process_environment(), diag), diag);

        step = "make the connection"; // validates the configuration first: its errors name the field
        snowflake::connection_options options;
        options.login.account_name = account_name(*config);
        options.keypair_account_identifier = options.login.account_name;
        asio::io_context io;
        auto connection = snowflake::connection::make(io.get_executor(), *config, diag, std::move(options));
        if (!connection) throw takeoff::error(connection.error(), diag);

        context ctx{**connection, *config, std::move(args)};
        std::exception_ptr failed;
        asio::co_spawn(io, start(ctx, program, sign_in_first), [&failed](std::exception_ptr e) { failed = e; });
        io.run();
        step = ctx.step;
        if (failed) std::rethrow_exception(failed);
        return 0;
    } catch (const takeoff::error& e) {
        report(step, e.code(), e.get_diagnostics());
    } catch (const boost::system::system_error& e) {
        report(step, e.code(), {});
    } catch (const std::exception& e) {
        std::cerr << "example: " << step << ": " << e.what() << '\n';
    }
    return 1;
}

} // namespace example

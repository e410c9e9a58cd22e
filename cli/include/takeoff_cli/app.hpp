#pragma once
// The takeoff command-line tool: run(args, context) is the whole program (main.cpp only wires the
// process's streams, environment and terminal state into a context), so tests run every command
// in-process against the emulator. Interface: docs/cli.md.

#include <takeoff_cli/arguments.hpp>
#include <takeoff_cli/output.hpp>
#include <takeoff_cli/settings.hpp>

#include <takeoff/batch.hpp>
#include <takeoff/connection.hpp>
#include <takeoff/core/file.hpp>
#include <takeoff/core/json.hpp>
#include <takeoff/snowflake/client_secrets.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <variant>
#include <string>
#include <vector>


namespace takeoff::cli {

/// The version `takeoff --version` prints: the CMake project's (cli/CMakeLists.txt defines it).
#ifndef TAKEOFF_CLI_VERSION
#error "TAKEOFF_CLI_VERSION is defined by cli/CMakeLists.txt (the project's version)"
#endif
inline constexpr std::string_view version = TAKEOFF_CLI_VERSION;

/// Where a run reads and writes, and what it may know of the process.
struct context {
    std::istream& in;
    std::ostream& out;
    std::ostream& err;
    /// The environment (TAKEOFF_*, XDG_*, HOME, BROWSER, PATH).
    snowflake::environment_lookup env = snowflake::process_environment();
    /// stdout and stderr are a terminal: a spinner and a progress line on stderr.
    bool interactive = false;
    /// stdin is a terminal: `takeoff chat` shows a prompt.
    bool input_is_terminal = false;
    /// When set, `takeoff login` calls it with the authorization URL instead of opening a browser
    /// (tests; an embedding application).
    std::function<void(const std::string&)> open_url{};
    /// Adjusts the connection's options before it is made (tests: retry backoffs, no proxy).
    std::function<void(snowflake::connection_options&)> adjust{};
};

/// The usage text of `takeoff --help`.
inline constexpr std::string_view usage_text =
    R"(usage: takeoff [GLOBAL FLAGS] COMMAND [OPTIONS] [ARGS...]

Talks to a Takeoff server (inside Snowflake SPCS, or local) as the configuration says.

Commands:
  login [--no-browser]          sign in with the browser (or paste the redirected URL)
  logout                        forget the stored tokens
  whoami                        account, user, scope and token lifetimes (never a secret)
  config import-secrets [FILE|-]  store the output of SYSTEM$SHOW_OAUTH_CLIENT_SECRETS in the config
  status                        the live readers and their consumer groups
  generate [OPTIONS] PROMPT...  generate text (several prompts: a batch; '-': one per line of stdin)
      --stream  --max-new-tokens N  --temperature T  --top-p P  --top-k K
      --json-schema FILE | --regex RE  --consumer-group G  --concurrency N
  embed [--consumer-group G] TEXT...        one embedding vector per text
  classify [--consumer-group G] [--query Q] TEXT...   scores of each text (with --query: of each (Q, TEXT) pair)
  readers list | create --model NAME [--device cpu|cuda] [--consumer-group G] [--max-batch-size N] | delete ID
  chat [--model GROUP] [--system TEXT]    interactive chat (OpenAI-compatible route), streamed

Global flags (before or after the command):
  --config FILE        the configuration (else $TAKEOFF_CONFIG, else $XDG_CONFIG_HOME/takeoff/config.json)
  --ca-file FILE       an extra CA certificate file to trust (overrides ca_file)
  --token-cache FILE   where OAuth tokens are kept (else $XDG_CACHE_HOME/takeoff/tokens.json)
  --json               one JSON document on stdout
  --verbose            what is done, on stderr (never a secret)
  --help, --version

Exit codes: 0 ok, 1 failed, 2 usage, 3 configuration, 4 sign in again (`takeoff login`).
)";

namespace detail {

namespace asio = boost::asio;

// A usage error: one line, exit 2.
inline int usage_error(context& ctx, std::string_view message) {
    ctx.err << "takeoff: " << message << " (see `takeoff --help`)\n";
    return exit_usage;
}

// std::from_chars for an integer or a double, the whole text.
template <class T>
std::optional<T> parse_number(std::string_view text) {
    T value{};
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
    return value;
}

// The shortest text that reads back as the same number (std::to_chars).
template <class T>
std::string number_text(T value) {
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return ec == std::errc() ? std::string(buffer, end) : std::string("nan");
}

// Numbers on one line, separated by spaces.
template <class T>
void write_numbers(std::ostream& os, const std::vector<T>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) os << (i ? " " : "") << number_text(values[i]);
    os << '\n';
}

inline std::string seconds_left(std::optional<oauth::token_clock::time_point> at) {
    if (!at) return "unknown";
    return describe_duration(std::chrono::duration_cast<std::chrono::seconds>(*at - oauth::token_clock::now()));
}

inline boost::json::value unix_time_or_null(std::optional<oauth::token_clock::time_point> at) {
    if (!at) return nullptr;
    return std::chrono::duration_cast<std::chrono::seconds>(at->time_since_epoch()).count();
}

// `takeoff config import-secrets [FILE|-]`: needs no connection, only the configuration's path.
inline int import_secrets(context& ctx, const command_line& line) {
    if (line.words.size() > 3) return usage_error(ctx, "config import-secrets takes one FILE (or - for stdin)");
    const std::string source = line.words.size() == 3 ? line.words[2] : "-";
    std::string text;
    if (source == "-") {
        text.assign(std::istreambuf_iterator<char>(ctx.in), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(source, std::ios::binary);
        if (!in) {
            ctx.err << "takeoff: config import-secrets: cannot read " << source << "\n";
            return exit_failed;
        }
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    diagnostics diag;
    auto secrets = snowflake::parse_oauth_client_secrets(text, diag);
    if (!secrets)
        return report_error(ctx.err, "config import-secrets", secrets.error(), diag,
                            {exit_failed, "paste the JSON that SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<INTEGRATION>') returns"});

    auto where = locate_config(line.globals, ctx.env);
    if (!where) {
        ctx.err << "takeoff: config import-secrets: no configuration path: pass --config FILE or set TAKEOFF_CONFIG\n";
        return exit_configuration;
    }
    // The existing file, checked as strictly as any run checks it, keeps its fields and order.
    boost::json::object config;
    std::error_code exists_error;
    if (std::filesystem::exists(where->path, exists_error)) {
        auto loaded = snowflake::load_connection_config(where->path, diag);
        if (!loaded) return report_error(ctx.err, "config import-secrets", loaded.error(), diag, {exit_configuration, {}});
        std::ifstream in(where->path, std::ios::binary);
        const std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        boost::system::error_code ec;
        auto parsed = boost::json::parse(current, ec);
        if (!ec && parsed.is_object()) config = std::move(parsed.get_object());
    }
    auto& oauth = config["oauth"];
    if (!oauth.is_object()) oauth = boost::json::object{};
    oauth.get_object()["client_id"] = secrets->client_id;
    oauth.get_object()["client_secret"] = secrets->client_secret.reveal();
    std::error_code dir_error;
    if (where->path.has_parent_path()) std::filesystem::create_directories(where->path.parent_path(), dir_error);
    if (auto failed = takeoff::detail::write_file_atomically(where->path, pretty_json(config), 0600)) {
        ctx.err << "takeoff: config import-secrets: cannot write " << where->path.string() << ": " << failed.step
                << ": " << std::generic_category().message(failed.error) << "\n";
        return exit_failed;
    }
    if (line.globals.json) {
        ctx.out << boost::json::serialize(boost::json::object{{"config", where->path.string()},
                                                              {"client_id", secrets->client_id},
                                                              {"second_secret_seen", secrets->client_secret_2.has_value()}})
                << '\n';
    } else {
        ctx.out << "Stored client id " << secrets->client_id << " and its secret in " << where->path.string()
                << " (mode 0600).\n";
        if (secrets->client_secret_2)
            ctx.out << "The second secret (OAUTH_CLIENT_SECRET_2) is not stored: the configuration has one secret; "
                       "import again after a rotation.\n";
    }
    return exit_ok;
}

// One run of a command that talks to a server: the connection and what the commands share.
class session {
public:
    session(context& ctx, const command_line& line, loaded_settings settings, std::unique_ptr<oauth::token_store> store,
            std::optional<located_file> cache, std::unique_ptr<snowflake::connection> conn)
        : ctx_(ctx), line_(line), settings_(std::move(settings)), store_(std::move(store)), cache_(std::move(cache)),
          conn_(std::move(conn)) {}

    asio::awaitable<int> run() {
        const std::string& command = line_.words[0];
        try {
            if (command == "login") co_return co_await login();
            if (command == "logout") co_return logout();
            if (command == "whoami") co_return whoami();
            if (command == "status") co_return co_await status();
            if (command == "generate") co_return co_await generate();
            if (command == "embed") co_return co_await embed();
            if (command == "classify") co_return co_await classify();
            if (command == "readers") co_return co_await readers();
            if (command == "chat") co_return co_await chat();
        } catch (const takeoff::error& e) {
            co_return fail(e.code(), e.get_diagnostics());
        } catch (const boost::system::system_error& e) {
            co_return fail(e.code(), diagnostics{});
        }
        co_return usage_error(ctx_, "unknown command '" + command + "'");
    }

private:
    // --- helpers ----------------------------------------------------------------------------

    int fail(const boost::system::error_code& ec, const diagnostics& diag) {
        return report_error(ctx_.err, line_.words[0], ec, diag);
    }

    void verbose(const std::string& message) {
        if (line_.globals.verbose) ctx_.err << "takeoff: " << message << '\n';
    }

    bool json() const { return line_.globals.json; }

    takeoff::client& client() { return conn_->client(); }

    api::consumer_group group() const {
        if (auto g = line_.value("consumer-group")) return api::consumer_group(*g);
        return api::consumer_group(settings_.config.consumer_group);
    }

    // The arguments after the command (and after the subcommand when `skip` is 2).
    std::vector<std::string> arguments(std::size_t skip = 1) const {
        return {line_.words.begin() + static_cast<std::ptrdiff_t>(std::min(skip, line_.words.size())), line_.words.end()};
    }

    // Texts from the arguments; "-" is replaced by stdin's lines (empty lines skipped).
    std::vector<std::string> texts(std::size_t skip = 1) {
        std::vector<std::string> out;
        for (auto& a : arguments(skip)) {
            if (a != "-") {
                out.push_back(a);
                continue;
            }
            std::string l;
            while (std::getline(ctx_.in, l)) {
                if (!l.empty() && l.back() == '\r') l.pop_back();
                if (!l.empty()) out.push_back(std::move(l));
            }
        }
        return out;
    }

    // With auth "oauth"/"oauth-direct", nothing stored: say so before any request is tried.
    std::optional<int> require_sign_in() {
        auto* s = conn_->session();
        if (!s) return std::nullopt;
        diagnostics diag;
        if (s->tokens(diag)) return std::nullopt;
        std::string message = "not signed in to " + settings_.config.account_url;
        if (!diag.client_message().empty()) message += " (" + diag.client_message() + ")";
        ctx_.err << "takeoff: " << line_.words[0] << ": " << message << "; run `takeoff login`\n";
        return exit_sign_in;
    }

    void print_json(const boost::json::value& v) { ctx_.out << boost::json::serialize(v) << '\n'; }

    // One row of numbers per input: a line each, or with --json {"<key>": [[...], ...]}.
    template <class T>
    int print_rows(std::string_view key, const std::vector<std::vector<T>>& rows) {
        if (json()) {
            print_json(boost::json::object{{key, boost::json::value_from(rows)}});
            return exit_ok;
        }
        for (const auto& row : rows) write_numbers(ctx_.out, row);
        return exit_ok;
    }

    // --- login, logout, whoami --------------------------------------------------------------

    asio::awaitable<int> login() {
        if (arguments().size() != 0) co_return usage_error(ctx_, "login takes no argument");
        if (!conn_->session()) {
            ctx_.out << "auth \"" << to_string(settings_.config.auth) << "\" needs no sign-in.\n";
            co_return exit_ok;
        }
        oauth::sign_in_options options;
        options.browser.env = ctx_.env;
        options.browser.out = &ctx_.err;
        if (line_.has("no-browser")) options.pasted_redirect = &ctx_.in;
        else if (ctx_.open_url) options.open_url = ctx_.open_url;
        verbose(line_.has("no-browser") ? "signing in: paste the URL the browser is sent to"
                                        : "signing in with the browser; waiting for the redirect");
        diagnostics diag;
        auto [ec, tokens] = co_await conn_->async_sign_in(std::move(options), diag, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return fail(ec, diag);
        if (json()) {
            print_json(boost::json::object{{"account", settings_.config.account_url},
                                           {"user", tokens.username},
                                           {"scope", tokens.scope},
                                           {"access_token_expires_at", unix_time_or_null(tokens.expires_at)},
                                           {"refresh_token", tokens.refresh_token.has_value()},
                                           {"refresh_token_expires_at", unix_time_or_null(tokens.refresh_token_expires_at)}});
            co_return exit_ok;
        }
        ctx_.out << "Signed in to " << settings_.config.account_url;
        if (!tokens.username.empty()) ctx_.out << " as " << tokens.username;
        ctx_.out << ".\n";
        if (tokens.refresh_token)
            ctx_.out << "The sign-in is renewed without the browser for " << seconds_left(tokens.refresh_token_expires_at);
        else
            ctx_.out << "No refresh token was issued (add refresh_token to oauth.scope): the sign-in lasts "
                     << seconds_left(tokens.expires_at);
        if (cache_) ctx_.out << " (tokens kept in " << cache_->path.string() << ")";
        ctx_.out << ".\n";
        co_return exit_ok;
    }

    int logout() {
        if (!conn_->session()) {
            ctx_.out << "auth \"" << to_string(settings_.config.auth) << "\" keeps no sign-in.\n";
            return exit_ok;
        }
        diagnostics diag;
        const bool had = conn_->session()->tokens(diag).has_value();
        if (auto ec = conn_->sign_out(diag)) return fail(ec, diag);
        if (json()) print_json(boost::json::object{{"signed_out", had}});
        else if (had) ctx_.out << "Signed out of " << settings_.config.account_url << ".\n";
        else ctx_.out << "Not signed in to " << settings_.config.account_url << ".\n";
        return exit_ok;
    }

    int whoami() {
        const auto& c = settings_.config;
        boost::json::object o{{"auth", to_string(c.auth)}, {"endpoint_url", c.endpoint_url}};
        if (!c.account_url.empty()) o["account"] = c.account_url;
        if (auto* s = conn_->session()) {
            diagnostics diag;
            auto tokens = s->tokens(diag);
            if (!tokens) {
                if (auto code = require_sign_in()) return *code;
            }
            o["user"] = tokens->username;
            o["scope"] = tokens->scope;
            o["access_token_expires_at"] = unix_time_or_null(tokens->expires_at);
            o["refresh_token"] = tokens->refresh_token.has_value();
            o["refresh_token_expires_at"] = unix_time_or_null(tokens->refresh_token_expires_at);
            if (json()) {
                print_json(o);
                return exit_ok;
            }
            ctx_.out << "account:       " << c.account_url << "\n"
                     << "user:          " << (tokens->username.empty() ? "(not sent by the server)" : tokens->username) << "\n"
                     << "auth:          " << to_string(c.auth) << "\n"
                     << "scope:         " << tokens->scope << "\n"
                     << "access token:  "
                     << (tokens->access_token_expired(oauth::token_clock::now())
                             ? std::string("expired (renewed at the next request)")
                             : "valid for " + seconds_left(tokens->expires_at))
                     << "\n"
                     << "refresh token: "
                     << (tokens->refresh_token ? "valid for " + seconds_left(tokens->refresh_token_expires_at)
                                               : std::string("none"))
                     << "\n";
            return exit_ok;
        }
        if (c.auth == snowflake::auth_mode::keypair) {
            o["user"] = c.keypair.user;
            o["private_key_file"] = c.keypair.private_key_file;
        }
        if (json()) {
            print_json(o);
            return exit_ok;
        }
        if (!c.account_url.empty()) ctx_.out << "account:       " << c.account_url << "\n";
        ctx_.out << "auth:          " << to_string(c.auth) << "\n";
        switch (c.auth) {
        case snowflake::auth_mode::pat: ctx_.out << "credential:    a programmatic access token (not shown)\n"; break;
        case snowflake::auth_mode::keypair:
            ctx_.out << "user:          " << c.keypair.user << "\n"
                     << "credential:    a key-pair JWT signed with " << c.keypair.private_key_file << "\n";
            break;
        default: ctx_.out << "credential:    none\n"; break;
        }
        return exit_ok;
    }

    // --- Takeoff calls ----------------------------------------------------------------------

    asio::awaitable<int> status() {
        if (auto code = require_sign_in()) co_return *code;
        auto st = co_await client().async_status();
        if (json()) {
            boost::json::object live;
            for (const auto& [id, info] : st.live_readers) {
                boost::json::array groups;
                for (const auto& g : info.consumer_groups) groups.push_back(boost::json::string(g.str()));
                live[id.str()] = {{"consumer_groups", std::move(groups)},
                                  {"model_name", info.model_name},
                                  {"device", info.device}};
            }
            boost::json::array dead;
            for (const auto& [id, info] : st.dead_readers) dead.push_back(boost::json::string(id.str()));
            print_json(boost::json::object{{"live_readers", std::move(live)}, {"dead_readers", std::move(dead)}});
            co_return exit_ok;
        }
        if (st.live_readers.empty()) ctx_.out << "No live reader.\n";
        for (const auto& [id, info] : st.live_readers) {
            ctx_.out << id.str() << "  groups:";
            for (const auto& g : info.consumer_groups) ctx_.out << ' ' << g.str();
            ctx_.out << "  model: " << info.model_name << "  device: " << info.device << '\n';
        }
        for (const auto& [id, info] : st.dead_readers) ctx_.out << id.str() << "  (dead)\n";
        co_return exit_ok;
    }

    // Option `name` as a checked value (api::temperature, ...) passed to `set`; an exit code when
    // it is not a number or breaks the value's rule (named in the message).
    template <class Checked, class Set>
    std::optional<int> checked_option(std::string_view name, Set set) {
        auto text = line_.value(name);
        if (!text) return std::nullopt;
        using value_type = typename Checked::value_type;
        auto bad = [&](std::string_view why) { return usage_error(ctx_, "--" + std::string(name) + ": " + std::string(why)); };
        auto n = parse_number<value_type>(*text);
        if (!n) return bad(std::is_integral_v<value_type> ? "not a whole number" : "not a number");
        diagnostics diag;
        auto checked = Checked::runtime(*n, diag);
        if (!checked) return bad(diag.client_message());
        set(*checked);
        return std::nullopt;
    }

    // Sets the sampling options and the consumer group on a generate request; an exit code on a
    // bad option.
    template <class Request>
    std::optional<int> apply_sampling(Request& r) {
        if (auto code = checked_option<api::token_count>("max-new-tokens", [&](auto v) { r.max_new_tokens(v); })) return code;
        if (auto code = checked_option<api::temperature>("temperature", [&](auto v) { r.temperature(v); })) return code;
        if (auto code = checked_option<api::top_p>("top-p", [&](auto v) { r.top_p(v); })) return code;
        if (auto code = checked_option<api::top_k>("top-k", [&](auto v) { r.top_k(v); })) return code;
        r.consumer_group(group());
        return std::nullopt;
    }

    // The --json-schema file's JSON, or an exit code.
    std::variant<std::monostate, boost::json::value, int> schema_option() {
        auto file = line_.value("json-schema");
        if (!file) return std::monostate{};
        if (line_.has("regex")) return usage_error(ctx_, "--json-schema and --regex cannot be used together");
        std::ifstream in(*file, std::ios::binary);
        if (!in) return usage_error(ctx_, "--json-schema: cannot read " + *file);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        boost::system::error_code ec;
        auto schema = boost::json::parse(text, ec);
        if (ec) return usage_error(ctx_, "--json-schema: " + *file + " is not JSON: " + ec.message());
        return schema;
    }

    // Sends one prompt (buffered or streamed) with the options' constraint: a streamed prompt's
    // tokens go to stdout as they arrive, or into `tokens` when given (--json).
    template <class Request>
    asio::awaitable<std::string> generate_one(Request r, const std::optional<boost::json::value>& schema,
                                              boost::json::array* tokens) {
        if constexpr (requires { r.regex(std::string()); }) {
            if (schema) co_return co_await generate_one(r.json_schema(*schema), std::nullopt, tokens);
            if (auto re = line_.value("regex")) co_return co_await generate_one(r.regex(*re), std::nullopt, tokens);
        }
        if constexpr (Request::is_streamed) {
            spinner spin(client().get_executor(), ctx_.err, ctx_.interactive, "waiting for the first token");
            spin.start();
            auto events = co_await client().async_open(std::move(r));
            std::string text;
            while (auto token = co_await events.async_next()) {
                spin.stop();
                text += *token;
                if (tokens) tokens->push_back(boost::json::string(*token));
                else ctx_.out << *token << std::flush;
            }
            co_return text;
        } else {
            co_return co_await client().async_send(std::move(r));
        }
    }

    asio::awaitable<int> generate() {
        auto prompts = texts();
        if (prompts.empty()) co_return usage_error(ctx_, "generate needs a PROMPT (or - to read prompts from stdin)");
        auto schema_or = schema_option();
        if (auto* code = std::get_if<int>(&schema_or)) co_return *code;
        std::optional<boost::json::value> schema;
        if (auto* s = std::get_if<boost::json::value>(&schema_or)) schema = std::move(*s);
        std::size_t concurrency = 32;
        if (auto v = line_.value("concurrency")) {
            auto n = parse_number<std::size_t>(*v);
            if (!n || *n == 0) co_return usage_error(ctx_, "--concurrency: a whole number of at least 1");
            concurrency = *n;
        }
        if (auto probe = api::generate(std::string()); auto code = apply_sampling(probe)) co_return *code;
        if (auto code = require_sign_in()) co_return *code;
        const bool stream = line_.has("stream");

        if (stream) {
            // Streamed: each prompt in turn, its tokens as they arrive, then a newline.
            boost::json::array results;
            for (auto& p : prompts) {
                auto r = api::generate_stream(std::move(p));
                if (auto code = apply_sampling(r)) co_return *code;
                boost::json::array tokens;
                std::string text = co_await generate_one(std::move(r), schema, json() ? &tokens : nullptr);
                if (json()) results.push_back(boost::json::object{{"text", text}, {"tokens", std::move(tokens)}});
                else ctx_.out << '\n' << std::flush;
            }
            if (json()) print_json(results.size() == 1 ? results[0] : boost::json::value(std::move(results)));
            co_return exit_ok;
        }

        if (prompts.size() == 1) {
            auto r = api::generate(std::move(prompts[0]));
            if (auto code = apply_sampling(r)) co_return *code;
            spinner spin(client().get_executor(), ctx_.err, ctx_.interactive, "generating");
            spin.start();
            std::string text = co_await generate_one(std::move(r), schema, nullptr);
            spin.stop();
            if (json()) print_json(boost::json::object{{"text", text}});
            else ctx_.out << text << '\n';
            co_return exit_ok;
        }

        // A batch: one request per prompt, `concurrency` at once, results in input order.
        auto prototype = api::generate(std::string());
        if (auto code = apply_sampling(prototype)) co_return *code;
        batch_options options;
        options.concurrency = concurrency;
        if (ctx_.interactive)
            options.progress = [this](std::size_t done, std::size_t total) {
                ctx_.err << "\r" << done << '/' << total << " prompts" << std::flush;
            };
        verbose(std::to_string(prompts.size()) + " prompts, " + std::to_string(concurrency) + " at once");
        std::vector<batch_item<std::string>> items;
        if (schema) items = co_await async_generate_batch(client(), prompts, prototype.json_schema(*schema), options);
        else if (auto re = line_.value("regex")) items = co_await async_generate_batch(client(), prompts, prototype.regex(*re), options);
        else items = co_await async_generate_batch(client(), prompts, prototype, options);
        if (ctx_.interactive) ctx_.err << "\r\033[K" << std::flush;
        std::size_t failed = 0;
        const batch_item<std::string>* first_failure = nullptr;
        boost::json::array results;
        for (const auto& item : items) {
            if (!item.ok()) {
                ++failed;
                if (!first_failure) first_failure = &item;
            }
            if (json()) results.push_back(item.ok() ? boost::json::value(boost::json::string(item.value)) : nullptr);
            else ctx_.out << (item.ok() ? item.value : std::string()) << '\n';
        }
        if (json()) print_json(boost::json::object{{"texts", std::move(results)}, {"failed", failed}});
        if (!first_failure) co_return exit_ok;
        const std::string what =
            "generate: " + std::to_string(failed) + " of " + std::to_string(items.size()) + " prompts failed (empty lines); the first";
        co_return report_error(ctx_.err, what, first_failure->ec, first_failure->diag);
    }

    asio::awaitable<int> embed() {
        auto inputs = texts();
        if (inputs.empty()) co_return usage_error(ctx_, "embed needs a TEXT (or - to read texts from stdin)");
        if (auto code = require_sign_in()) co_return *code;
        auto vectors = co_await client().async_send(api::embed(std::move(inputs)).consumer_group(group()));
        co_return print_rows("embeddings", vectors);
    }

    asio::awaitable<int> classify() {
        auto inputs = texts();
        if (inputs.empty()) co_return usage_error(ctx_, "classify needs a TEXT (or - to read texts from stdin)");
        if (auto code = require_sign_in()) co_return *code;
        std::vector<std::vector<double>> scores;
        if (auto query = line_.value("query")) {
            std::vector<api::text_pair> pairs;
            for (auto& t : inputs) pairs.emplace_back(*query, std::move(t));
            scores = co_await client().async_send(api::classify(std::move(pairs)).consumer_group(group()));
        } else {
            scores = co_await client().async_send(api::classify(std::move(inputs)).consumer_group(group()));
        }
        co_return print_rows("scores", scores);
    }

    asio::awaitable<int> readers() {
        const std::string sub = line_.words.size() > 1 ? line_.words[1] : "";
        if (sub != "list" && sub != "create" && sub != "delete")
            co_return usage_error(ctx_, "readers needs list, create or delete");
        if (sub == "list" && line_.words.size() != 2) co_return usage_error(ctx_, "readers list takes no argument");
        if (sub == "create" && line_.words.size() != 2) co_return usage_error(ctx_, "readers create takes options only");
        if (sub == "delete" && line_.words.size() != 3) co_return usage_error(ctx_, "readers delete takes one reader ID");
        if (sub != "create" && (line_.has("model") || line_.has("device") || line_.has("max-batch-size")))
            co_return usage_error(ctx_, "--model, --device and --max-batch-size are for readers create");
        api::reader_config config;
        if (sub == "create") {
            auto model = line_.value("model");
            if (!model) co_return usage_error(ctx_, "readers create needs --model NAME");
            config.model_name = *model;
            config.device = line_.value("device").value_or("cpu");
            config.consumer_group = group();
            if (auto v = line_.value("max-batch-size")) {
                auto n = parse_number<std::int64_t>(*v);
                if (!n || *n < 1) co_return usage_error(ctx_, "--max-batch-size: a whole number of at least 1");
                config.max_batch_size = *n;
            }
        }
        if (auto code = require_sign_in()) co_return *code;
        if (sub == "list") {
            auto groups = co_await client().async_reader_groups();
            if (json()) {
                boost::json::object o;
                for (const auto& [g, readers] : groups) {
                    boost::json::array a;
                    for (const auto& r : readers) {
                        boost::json::object ro{{"reader_id", r.id.str()}, {"model_name", r.model_name}, {"device", r.device}};
                        if (r.ready) ro["ready"] = *r.ready;
                        a.push_back(std::move(ro));
                    }
                    o[g.str()] = std::move(a);
                }
                print_json(o);
                co_return exit_ok;
            }
            if (groups.empty()) ctx_.out << "No reader.\n";
            for (const auto& [g, readers] : groups)
                for (const auto& r : readers)
                    ctx_.out << g.str() << "  " << r.id.str() << "  model: " << r.model_name << "  device: " << r.device
                             << (r.ready ? (*r.ready ? "  ready" : "  starting") : "") << '\n';
            co_return exit_ok;
        }
        if (sub == "create") {
            auto id = co_await client().async_create_reader(std::move(config));
            if (json()) print_json(boost::json::object{{"reader_id", id.str()}});
            else ctx_.out << id.str() << '\n';
            co_return exit_ok;
        }
        api::reader_id id(line_.words[2]);
        co_await client().async_delete_reader(id);
        if (json()) print_json(boost::json::object{{"deleted", id.str()}});
        else ctx_.out << "Deleted reader " << id.str() << ".\n";
        co_return exit_ok;
    }

    asio::awaitable<int> chat() {
        if (arguments().size() != 0) co_return usage_error(ctx_, "chat takes no argument (type the messages)");
        if (auto code = require_sign_in()) co_return *code;
        const api::consumer_group model(line_.value("model").value_or(settings_.config.consumer_group));
        std::vector<api::chat_message> history;
        if (auto system = line_.value("system")) history.push_back({"system", *system});
        boost::json::array transcript;
        if (ctx_.input_is_terminal) ctx_.err << "Chat with " << model.str() << " (Ctrl-D to end).\n";
        std::string l;
        while (true) {
            if (ctx_.input_is_terminal) ctx_.err << "> " << std::flush;
            if (!std::getline(ctx_.in, l)) break;
            if (!l.empty() && l.back() == '\r') l.pop_back();
            if (l.empty()) continue;
            history.push_back({"user", l});
            spinner spin(client().get_executor(), ctx_.err, ctx_.interactive, "thinking");
            spin.start();
            auto events = co_await client().async_chat_stream(model, history);
            std::string reply;
            while (auto chunk = co_await events.async_next()) {
                if (chunk->content.empty()) continue;
                spin.stop();
                reply += chunk->content;
                if (!json()) ctx_.out << chunk->content << std::flush;
            }
            spin.stop();
            if (!json()) ctx_.out << '\n' << std::flush;
            history.push_back({"assistant", reply});
            transcript.push_back(boost::json::object{{"user", l}, {"assistant", reply}});
        }
        if (json()) print_json(boost::json::object{{"model", model.str()}, {"turns", std::move(transcript)}});
        co_return exit_ok;
    }

    context& ctx_;
    const command_line& line_;
    loaded_settings settings_;
    std::unique_ptr<oauth::token_store> store_;
    std::optional<located_file> cache_;
    std::unique_ptr<snowflake::connection> conn_;
};

inline bool known_command(std::string_view c) {
    for (std::string_view k : {"login", "logout", "whoami", "config", "status", "generate", "embed", "classify",
                               "readers", "chat"})
        if (c == k) return true;
    return false;
}

} // namespace detail

/// Runs the takeoff command line `args` (without the program name) in `ctx`; returns the exit code.
inline int run(const std::vector<std::string>& args, context& ctx) {
    auto parsed = parse_command_line(args);
    if (!parsed.line) return detail::usage_error(ctx, parsed.error);
    const command_line& line = *parsed.line;
    if (line.globals.version) {
        ctx.out << "takeoff " << version << '\n';
        return exit_ok;
    }
    if (line.globals.help) {
        ctx.out << usage_text;
        return exit_ok;
    }
    if (line.words.empty()) {
        ctx.err << usage_text;
        return exit_usage;
    }
    const std::string& command = line.words[0];
    if (!detail::known_command(command)) return detail::usage_error(ctx, "unknown command '" + command + "'");
    if (command == "config") {
        if (line.words.size() < 2 || line.words[1] != "import-secrets")
            return detail::usage_error(ctx, "config needs a subcommand: import-secrets");
        return detail::import_secrets(ctx, line);
    }

    diagnostics diag;
    auto settings = load_settings(line.globals, ctx.env, diag);
    if (!settings) return report_error(ctx.err, "configuration", settings.error(), diag, {exit_configuration, {}});
    for (const auto& w : settings->warnings) ctx.err << "takeoff: warning: " << w << '\n';
    if (line.globals.verbose)
        ctx.err << "takeoff: configuration " << settings->file.path.string() << " (from " << settings->file.origin
                << "), auth " << to_string(settings->config.auth) << ", endpoint " << settings->config.endpoint_url << '\n';

    snowflake::connection_options options;
    std::unique_ptr<oauth::token_store> store;
    auto cache = locate_token_cache(line.globals, ctx.env);
    if (settings->config.auth == snowflake::auth_mode::oauth || settings->config.auth == snowflake::auth_mode::oauth_direct) {
        if (!cache) {
            ctx.err << "takeoff: configuration: no token cache: pass --token-cache FILE (neither XDG_CACHE_HOME nor HOME is set)\n";
            return exit_configuration;
        }
        store = std::make_unique<oauth::file_token_store>(cache->path);
        options.token_store = store.get();
        if (line.globals.verbose)
            ctx.err << "takeoff: token cache " << cache->path.string() << " (from " << cache->origin << ")\n";
    }
    options.login.account_name = loopback_account_name(settings->config, ctx.env);
    options.keypair_account_identifier = options.login.account_name;
    if (ctx.adjust) ctx.adjust(options);

    boost::asio::io_context io;
    auto conn = snowflake::connection::make(io.get_executor(), settings->config, diag, std::move(options));
    if (!conn)
        return report_error(ctx.err, "configuration " + settings->file.path.string(), conn.error(), diag,
                            {exit_configuration, {}});

    detail::session s(ctx, line, std::move(*settings), std::move(store), std::move(cache), std::move(*conn));
    int code = exit_failed;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, s.run(), [&](std::exception_ptr e, int c) {
        failure = e;
        code = c;
    });
    io.run();
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            ctx.err << "takeoff: " << command << ": " << e.what() << '\n';
            return exit_failed;
        }
    }
    return code;
}

} // namespace takeoff::cli

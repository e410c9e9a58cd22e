// The takeoff-emulator program as a process (its path comes from CMake as TAKEOFF_EMULATOR_EXE):
// started with posix_spawn and a pipe on its stdout, synchronised on its ready line (and on its
// exit), then used the way the CLI and the examples use it: the written configuration loaded by
// snowflake::load_connection_config and made into a connection. Covers each layout, HTTPS with the
// written CA, each auth mode (a scripted browser signs in for oauth and oauth-direct), the request
// log, the Takeoff knobs, `-- PROGRAM` and the signals.

#include <takeoff/connection.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/sign_in.hpp>
#include <takeoff/oauth/token_store.hpp>
#include <takeoff/snowflake/connection_config.hpp>
#include <takeoff_emulator/app.hpp>
#include <takeoff_emulator/generation.hpp>

#include "../support/client_helpers.hpp"
#include "../support/process.hpp"
#include "../support/takeoff_site.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TAKEOFF_EMULATOR_EXE
#error "TAKEOFF_EMULATOR_EXE must name the takeoff-emulator executable"
#endif

extern char** environ;

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace http = takeoff::http;
namespace api = takeoff::api;
namespace emu = takeoff::emulator;
namespace oauth = takeoff::oauth;
namespace snowflake = takeoff::snowflake;
using takeoff::test::run;
using namespace std::chrono_literals;

namespace {

std::string read_text(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

unsigned mode_of(const fs::path& path)
{
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

// A string field of the configuration; "oauth.client_secret" reaches into an object.
std::string field(const boost::json::object& config, const std::string& path)
{
    const auto dot = path.find('.');
    if (dot != std::string::npos)
        return field(config.at(path.substr(0, dot)).as_object(), path.substr(dot + 1));
    return std::string(config.at(path).as_string());
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One run of the emulator: stdout on a pipe read line by line, stderr into a file read at the end,
// stdin a pipe the test holds open (a program run after `--` that reads it waits until the end).
class emulator_process {
public:
    explicit emulator_process(const std::vector<std::string>& options)
    {
        int out[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        read_end_ = out[0];
        int in[2];
        REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
        stdin_write_end_ = in[1];
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        std::vector<std::string> argv{TAKEOFF_EMULATOR_EXE};
        argv.insert(argv.end(), options.begin(), options.end());
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        const int spawned = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(in[0]);
        REQUIRE_MESSAGE(spawned == 0, "cannot start " << TAKEOFF_EMULATOR_EXE << ": " << std::strerror(spawned));
    }

    emulator_process(const emulator_process&) = delete;
    emulator_process& operator=(const emulator_process&) = delete;

    ~emulator_process()
    {
        if (!exit_code_) {
            ::kill(pid_, SIGKILL);
            wait();
        }
        ::close(read_end_);
        ::close(stdin_write_end_);
    }

    /// The next line of its stdout (without '\n'); nothing at end of output or after 60 s without
    /// one (a poll on the pipe bounds a test whose emulator hangs).
    std::optional<std::string> read_line()
    {
        for (;;) {
            if (const auto end = pending_.find('\n'); end != std::string::npos) {
                std::string line = pending_.substr(0, end);
                pending_.erase(0, end + 1);
                return line;
            }
            pollfd p{read_end_, POLLIN, 0};
            const int ready = ::poll(&p, 1, 60000);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready <= 0)
                return std::nullopt;
            char buffer[4096];
            const auto n = ::read(read_end_, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return std::nullopt;
            pending_.append(buffer, static_cast<std::size_t>(n));
        }
    }

    /// Reads the ready line and returns its URL (fails the test on anything else).
    std::string ready_url()
    {
        const auto line = read_line();
        REQUIRE_MESSAGE(line.has_value(), "no ready line; stderr: " << read_text(stderr_file_));
        static const std::string prefix = "takeoff-emulator ready ";
        REQUIRE_MESSAGE(line->rfind(prefix, 0) == 0, "not the ready line: " << *line);
        return line->substr(prefix.size());
    }

    /// Sends a signal and waits for the exit; the exit code (128 + signal if one ended it).
    int stop(int signal = SIGTERM)
    {
        ::kill(pid_, signal);
        return wait();
    }

    /// Waits for the exit; the exit code (128 + signal if one ended it).
    int wait()
    {
        if (!exit_code_) {
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        return *exit_code_;
    }

    /// What it wrote to stderr so far (complete once it has exited).
    std::string error_output() const { return read_text(stderr_file_); }

    /// What is left on stdout until it closes (after wait()).
    std::string rest_of_output()
    {
        std::string rest;
        while (auto line = read_line())
            rest += *line + "\n";
        return rest + std::exchange(pending_, {});
    }

private:
    takeoff::test::temp_directory logs_{"takeoff-emulator-test-log"};
    fs::path stderr_file_ = logs_.path() / "stderr.txt";
    pid_t pid_ = 0;
    int read_end_ = -1;
    int stdin_write_end_ = -1;
    std::string pending_;
    std::optional<int> exit_code_;
};

// The connection a CLI would make from the written configuration.
struct cli_side {
    asio::io_context io;
    oauth::memory_token_store store;
    takeoff::diagnostics diag;
    std::unique_ptr<snowflake::connection> connection;

    explicit cli_side(const fs::path& config_file)
    {
        auto config = snowflake::load_connection_config(config_file, diag);
        REQUIRE_MESSAGE(config, diag.client_message());
        snowflake::connection_options options;
        options.http.proxy_from_environment = false;
        options.http.defaults.retries.initial_backoff = 1ms;
        options.http.defaults.retries.max_backoff = 2ms;
        options.token_store = &store;
        options.login.account_name = "EMULATOR";
        options.keypair_account_identifier = "EMULATOR";
        auto made = snowflake::connection::make(io.get_executor(), *config, diag, options);
        REQUIRE_MESSAGE(made, diag.client_message());
        connection = std::move(*made);
    }

    takeoff::client& client() { return connection->client(); }
};

// What the user's browser does: GET the authorization URL (the account approves at once and
// redirects), then GET the redirect's Location (the sign-in's loopback listener).
std::string browse(const std::string& url, const std::string& ca_pem)
{
    asio::io_context io;
    auto options = takeoff::test::direct_client_options();
    options.tls.use_system_trust = false;
    options.tls.ca_pem = ca_pem;
    options.defaults.redirects.follow = false;
    http::client browser(io.get_executor(), options);
    takeoff::diagnostics diag;
    auto [ec, authorize] = takeoff::test::send(io, browser, http::request::get(boost::urls::url(url)), {}, diag);
    if (authorize.status != 302)
        throw std::runtime_error("the account did not redirect: " + diag.client_message());
    const std::string location(authorize.headers["location"]);
    auto [ec2, page] = takeoff::test::send(io, browser, http::request::get(boost::urls::url(location)), {}, diag);
    if (page.status != 200)
        throw std::runtime_error("the listener answered " + std::to_string(page.status));
    return location;
}

// A plain request (no credential, no redirect followed) with a client trusting
// `ca_pem` when given.
http::response plain_request(http::request request, const std::string& ca_pem = {})
{
    asio::io_context io;
    auto options = takeoff::test::direct_client_options();
    options.defaults.redirects.follow = false;
    if (!ca_pem.empty()) {
        options.tls.use_system_trust = false;
        options.tls.ca_pem = ca_pem;
    }
    http::client client(io.get_executor(), options);
    takeoff::diagnostics diag;
    // A status that is not 2xx is an error code too; the response still carries it.
    auto [ec, response] = takeoff::test::send(io, client, std::move(request), {}, diag);
    REQUIRE_MESSAGE(response.status != 0, diag.client_message());
    return response;
}

http::request post_json(const std::string& url, std::string body)
{
    return http::request::post(boost::urls::url(url), std::move(body), "application/json");
}

} // namespace

TEST_CASE("takeoff-emulator --https --cert-dir --print-config: the CA and a 0600 config are written before the ready line; a scripted browser signs in (oauth, oauth-direct) and Takeoff answers through the ingress")
{
    for (const std::string mode : {"oauth", "oauth-direct"}) {
        CAPTURE(mode);
        takeoff::test::temp_directory base("takeoff-emulator-app");
        const fs::path dir = base.path() / "emu"; // missing: the emulator makes it
        const fs::path config_file = dir / "config.json";
        emulator_process emulator({"--https", "--cert-dir", dir.string(), "--print-config", config_file.string(),
                                   "--auth", mode, "--access-token-lifetime", "30", "--refresh-token-lifetime", "120"});
        const std::string url = emulator.ready_url();

        CHECK(mode_of(dir) == 0700);
        CHECK(mode_of(config_file) == 0600);
        const std::string ca_pem = read_text(dir / "ca.pem");
        CHECK(ca_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
        const auto config = boost::json::parse(read_text(config_file)).as_object();
        CHECK(field(config, "endpoint_url") == url);
        CHECK(url.rfind("https://127.0.0.1:", 0) == 0);
        CHECK(field(config, "account_url") == url);
        CHECK(field(config, "openai_url") == url);
        CHECK(field(config, "management_url") == url + "/management");
        CHECK(field(config, "ca_file") == (dir / "ca.pem").string());
        CHECK(field(config, "auth") == mode);
        CHECK(field(config, "oauth.client_secret") == "emulator/secret+1=");

        cli_side cli(config_file);
        CHECK_FALSE(cli.connection->signed_in());
        oauth::sign_in_options sign_in;
        sign_in.listener.timeout = 60s; // bounds a test whose browser failed
        const auto signed_at = oauth::token_clock::now();
        sign_in.clock = [signed_at] { return signed_at; };
        std::future<std::string> browser;
        sign_in.open_url = [&](const std::string& authorize_url) {
            browser = std::async(std::launch::async, [authorize_url, ca_pem] { return browse(authorize_url, ca_pem); });
        };
        oauth::token_set tokens;
        std::string text;
        std::vector<std::string> streamed;
        run(cli.io, [&]() -> asio::awaitable<void> {
            tokens = co_await cli.connection->async_sign_in(sign_in, cli.diag);
            text = co_await cli.client().async_generate(api::generate("through the ingress").max_new_tokens(4));
            auto stream = co_await cli.client().async_generate_stream(api::generate_stream("streamed").max_new_tokens(3));
            while (auto t = co_await stream.async_next())
                streamed.push_back(*t);
        });
        CHECK(browser.get().rfind("http://127.0.0.1:", 0) == 0); // the listener's free port
        CHECK(tokens.expires_at == signed_at + 30s);
        CHECK(tokens.refresh_token_expires_at == signed_at + 120s);
        CHECK(text == emu::generated_text("through the ingress", 4));
        CHECK(streamed == emu::generated_tokens("streamed", 3));

        CHECK(emulator.stop(SIGTERM) == 0);
        const std::string log = emulator.error_output();
        CAPTURE(log);
        CHECK(contains(log, "GET /oauth/authorize 302\n"));
        CHECK(contains(log, "POST /oauth/token-request 200\n"));
        CHECK(contains(log, "POST /session/v1/login-request 200\n") == (mode == "oauth"));
        CHECK(contains(log, "POST /generate 200\n"));
        CHECK(contains(log, "POST /generate_stream 200\n"));
        CHECK_FALSE(contains(log, "emulator/secret+1="));
        CHECK_FALSE(contains(log, std::string(tokens.access_token.reveal())));
        REQUIRE(tokens.refresh_token);
        CHECK_FALSE(contains(log, std::string(tokens.refresh_token->reveal())));
        CHECK_FALSE(contains(log, "code=")); // no query is logged
        CHECK(fs::exists(dir / "ca.pem")); // --cert-dir is the user's: kept
    }
}

TEST_CASE("takeoff-emulator --port-per-api --auth none: four servers, each API at its own root; the config's missing folder is made 0700; SIGINT stops it with 0")
{
    takeoff::test::temp_directory dir("takeoff-emulator-app");
    const fs::path config_file = dir.path() / "new" / "config.json";
    emulator_process emulator({"--port-per-api", "--auth", "none", "--print-config", config_file.string()});
    const std::string url = emulator.ready_url();
    CHECK(mode_of(config_file.parent_path()) == 0700);
    const auto config = boost::json::parse(read_text(config_file)).as_object();
    CHECK(field(config, "endpoint_url") == url);
    const std::vector<std::string> bases{field(config, "account_url"), url,
                                         field(config, "management_url"),
                                         field(config, "openai_url")};
    for (std::size_t i = 0; i < bases.size(); ++i) {
        CHECK(bases[i].rfind("http://127.0.0.1:", 0) == 0);
        for (std::size_t j = 0; j < i; ++j)
            CHECK(bases[i] != bases[j]);
    }
    CHECK_FALSE(config.contains("oauth"));
    CHECK_FALSE(config.contains("ca_file"));

    cli_side cli(config_file);
    api::management_status_reply status;
    std::string text;
    std::string chat;
    run(cli.io, [&]() -> asio::awaitable<void> {
        status = co_await cli.client().async_management_status();
        text = co_await cli.client().async_generate(api::generate("four ports").max_new_tokens(2));
        std::vector<api::chat_message> messages{api::chat_message{"user", "hello"}};
        chat = (co_await cli.client().async_chat(api::consumer_group::primary(), messages)).text();
    });
    REQUIRE(status.status);
    CHECK(text == emu::generated_text("four ports", 2));
    CHECK(chat == emu::generated_text("hello", 16));
    // The other servers do not serve what is not theirs.
    CHECK(plain_request(post_json(bases[0] + "/generate", R"({"text":"x"})")).status == 404);
    CHECK(plain_request(http::request::get(boost::urls::url(bases[1] + "/reader_groups"))).status == 404);
    CHECK(plain_request(http::request::get(boost::urls::url(bases[2] + "/reader_groups"))).status == 200);
    CHECK(plain_request(post_json(bases[3] + "/generate", R"({"text":"x"})")).status == 404);

    CHECK(emulator.stop(SIGINT) == 0);
    const std::string log = emulator.error_output();
    CAPTURE(log);
    CHECK(contains(log, "management: GET /status 200\n"));
    CHECK(contains(log, "inference: POST /generate 200\n"));
    CHECK(contains(log, "openai: POST /v1/chat/completions 200\n"));
    CHECK(contains(log, "account: POST /generate 404\n"));
}

TEST_CASE("takeoff-emulator --auth pat --https: the generated PAT in the config passes the ingress; no credential gets the 302; the PAT is never logged")
{
    emulator_process emulator({"--auth", "pat", "--https", "--print-config", "-"});
    std::string printed;
    std::string url;
    for (;;) {
        const auto line = emulator.read_line();
        REQUIRE(line);
        if (line->rfind("takeoff-emulator ready ", 0) == 0) {
            url = line->substr(23);
            break;
        }
        printed += *line + "\n";
    }
    const auto config = boost::json::parse(printed).as_object();
    CHECK(field(config, "endpoint_url") == url);
    const std::string pat(field(config, "pat"));
    CHECK(pat.size() == 32);
    CHECK(pat.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK_FALSE(config.contains("oauth"));
    const fs::path ca_file(field(config, "ca_file"));
    const std::string ca_pem = read_text(ca_file);
    REQUIRE_FALSE(ca_pem.empty());

    takeoff::test::temp_directory dir("takeoff-emulator-app");
    const fs::path config_file = dir.path() / "config.json";
    std::ofstream(config_file) << printed;
    ::chmod(config_file.c_str(), 0600);
    cli_side cli(config_file);
    std::string text;
    run(cli.io, [&]() -> asio::awaitable<void> { text = co_await cli.client().async_generate("with a PAT"); });
    CHECK(text == emu::generated_text("with a PAT", 16));

    const auto refused = plain_request(post_json(url + "/generate", R"({"text":"no credential"})"), ca_pem);
    CHECK(refused.status == 302);

    CHECK(emulator.stop() == 0);
    CHECK_FALSE(fs::exists(ca_file)); // the temporary directory is gone
    const std::string log = emulator.error_output();
    CAPTURE(log);
    CHECK(contains(log, "POST /generate 200\n"));
    CHECK(contains(log, "POST /generate 302\n"));
    CHECK_FALSE(contains(log, pat));
}

TEST_CASE("takeoff-emulator --auth keypair: a 0600 RSA key in the temporary directory, its JWT exchanged for an ingress token; the directory is removed at exit")
{
    takeoff::test::temp_directory dir("takeoff-emulator-app");
    const fs::path config_file = dir.path() / "config.json";
    emulator_process emulator({"--auth", "keypair", "--print-config", config_file.string(), "--quiet"});
    emulator.ready_url();
    const auto config = boost::json::parse(read_text(config_file)).as_object();
    CHECK(field(config, "keypair.user") == "EMULATOR_USER");
    const fs::path key_file(field(config, "keypair.private_key_file"));
    CHECK(key_file.filename() == "keypair.pem");
    CHECK(mode_of(key_file) == 0600);
    CHECK(mode_of(key_file.parent_path()) == 0700);
    CHECK(read_text(key_file).rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);

    cli_side cli(config_file);
    std::string text;
    run(cli.io, [&]() -> asio::awaitable<void> { text = co_await cli.client().async_generate("with a key pair"); });
    CHECK(text == emu::generated_text("with a key pair", 16));

    CHECK(emulator.stop() == 0);
    CHECK_FALSE(fs::exists(key_file.parent_path()));
    CHECK(emulator.error_output() == ""); // --quiet
}

TEST_CASE("takeoff-emulator knobs: --max-new-tokens, --embedding-dimensions and --unavailable shape the answers; --not-ready fails healthz")
{
    takeoff::test::temp_directory dir("takeoff-emulator-app");
    const fs::path config_file = dir.path() / "config.json";
    {
        emulator_process emulator({"--auth", "none", "--print-config", config_file.string(), "--max-new-tokens", "5",
                                   "--embedding-dimensions", "3", "--unavailable", "1", "--retry-after", "0"});
        emulator.ready_url();
        cli_side cli(config_file);
        std::string text;
        std::vector<float> vector;
        run(cli.io, [&]() -> asio::awaitable<void> {
            text = co_await cli.client().async_generate("knobs"); // the 503 is retried
            vector = co_await cli.client().async_embed(std::string("three"));
        });
        CHECK(text == emu::generated_text("knobs", 5));
        CHECK(vector.size() == 3);
        CHECK(emulator.stop() == 0);
        const std::string log = emulator.error_output();
        CHECK(log == "POST /generate 503\nPOST /generate 200\nPOST /embed 200\n");
    }
    {
        emulator_process emulator({"--auth", "none", "--print-config", config_file.string(), "--not-ready"});
        emulator.ready_url();
        cli_side cli(config_file);
        bool healthy = true;
        run(cli.io, [&]() -> asio::awaitable<void> { healthy = co_await cli.client().async_healthz(); });
        CHECK_FALSE(healthy);
        CHECK(emulator.stop() == 0);
        CHECK(emulator.error_output() == "GET /healthz 503\n");
    }
}

TEST_CASE("takeoff-emulator -- PROGRAM: the program runs after the ready line with TAKEOFF_CONFIG, and its exit status is the emulator's")
{
    {
        emulator_process emulator({"--auth", "pat", "--", "/bin/sh", "-c",
                                   R"(test -s "$TAKEOFF_CONFIG" || exit 9; echo "$TAKEOFF_CONFIG $TAKEOFF_ACCOUNT_NAME"; exit 3)"});
        emulator.ready_url();
        const auto seen = emulator.read_line();
        REQUIRE(seen);
        CHECK(emulator.wait() == 3);
        const auto space = seen->find(' ');
        const fs::path config_file = seen->substr(0, space);
        CHECK(seen->substr(space + 1) == "EMULATOR");
        CHECK(config_file.filename() == "config.json");
        CHECK_FALSE(fs::exists(config_file.parent_path())); // the temporary directory is gone
    }
    {
        emulator_process emulator({"--quiet", "--", "/bin/sh", "-c", "kill -KILL $$"});
        emulator.ready_url();
        CHECK(emulator.wait() == 128 + SIGKILL);
    }
    {
        emulator_process emulator({"--quiet", "--", "/nonexistent/program"});
        emulator.ready_url();
        CHECK(emulator.wait() == 127);
        CHECK(emulator.error_output() == "takeoff-emulator: cannot run /nonexistent/program: No such file or directory\n");
    }
}

TEST_CASE("takeoff-emulator -- PROGRAM: SIGTERM to the emulator is passed on to the program, whose status it returns")
{
    emulator_process emulator({"--quiet", "--", "/bin/sh", "-c", "echo started; read line"});
    emulator.ready_url();
    REQUIRE(emulator.read_line() == std::optional<std::string>("started"));
    // The program now waits on its stdin, a pipe this test keeps open: only the signal ends it.
    CHECK(emulator.stop(SIGTERM) == 128 + SIGTERM);
}

TEST_CASE("takeoff-emulator --port: the fixed port is served; a second emulator on it fails with exit 1 and one line naming the port")
{
    const auto port = std::to_string(takeoff::test::free_loopback_port());
    emulator_process first({"--port", port, "--quiet"});
    CHECK(first.ready_url() == "http://127.0.0.1:" + port);
    emulator_process second({"--port", port});
    CHECK(second.wait() == 1);
    CHECK(second.rest_of_output() == "");
    CHECK(second.error_output() == "takeoff-emulator: cannot listen on 127.0.0.1:" + port + ": Address already in use\n");
    CHECK(first.stop() == 0);
}

TEST_CASE("takeoff-emulator: a bad option is one line naming it and exit 2; --help prints the usage and exits 0")
{
    {
        emulator_process emulator({"--frobnicate"});
        CHECK(emulator.wait() == 2);
        CHECK(emulator.rest_of_output() == "");
        CHECK(emulator.error_output() == "takeoff-emulator: unknown option --frobnicate (see --help)\n");
    }
    {
        emulator_process emulator({"--max-new-tokens", "lots"});
        CHECK(emulator.wait() == 2);
        CHECK(emulator.error_output() == "takeoff-emulator: --max-new-tokens: 'lots' is not a number from 1 to 100000\n");
    }
    {
        emulator_process emulator({"--help"});
        CHECK(emulator.wait() == 0);
        const std::string usage = emulator.rest_of_output();
        CHECK(usage == emu::app_usage());
        CHECK(emulator.error_output() == "");
    }
}

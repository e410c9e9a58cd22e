#pragma once
// A real OAuth 2.0 / OpenID Connect server for the interoperability tests: oidc-provider (npm,
// pinned in tests/support/oidc/package.json) run by tests/support/oidc/provider.mjs under Node, on
// 127.0.0.1 with a port the kernel picks, and the scripted browser tests/support/oidc/browser.mjs.
// docs/drafts/oidc.md (merged into docs/auth.md) says what the server accepts.
//
// Knowing when it listens, without polling: provider.mjs binds its port first and then prints one
// JSON line (issuer and endpoints) on stdout, a pipe the constructor reads. Its stderr (one line per
// request, warnings) goes to a file in a temporary directory, readable with log(). It stops when
// its stdin (another pipe, held by this object) closes or on SIGTERM; the destructor does both and
// reaps it.
//
// Node and the npm packages are installed by tools/run-tests.sh. When either is missing, the
// constructor throws std::runtime_error saying so: the interop tests fail, they do not skip.
// TAKEOFF_OIDC_DIR (set by tests/CMakeLists.txt) is the tests/support/oidc folder.

#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef TAKEOFF_OIDC_DIR
#error "TAKEOFF_OIDC_DIR must name tests/support/oidc (tests/CMakeLists.txt defines it for takeoff_io_tests)"
#endif

namespace takeoff::test {

/// How provider.mjs is started. The defaults give one confidential client pair whose secret needs
/// form-encoding (space, '/', '+', '='), a redirect URI that matches any loopback port, and
/// oidc-provider's own lifetimes (access 3600 s, refresh 14 days here).
struct oidc_provider_options {
    /// The client_secret_post client; "<client_id>-basic" is the client_secret_basic one.
    std::string client_id = "takeoff-test-client";
    /// Shared by both clients. A test value, not a takeoff::secret: it is passed on node's command line.
    std::string client_secret = "s3cret/+= test";
    /// Registered redirect URIs. An http loopback one matches any port (RFC 8252 section 7.3), so
    /// "http://127.0.0.1/callback" accepts "http://127.0.0.1:PORT/callback".
    std::vector<std::string> redirect_uris{"http://127.0.0.1/callback"};
    /// Access token lifetime (expires_in), when not oidc-provider's default 3600 s.
    std::optional<std::chrono::seconds> access_ttl;
    /// Refresh token lifetime, when not the default 14 days.
    std::optional<std::chrono::seconds> refresh_ttl;
    /// Extra scopes the server knows and grants (for example "session:role:ANALYST"); it always
    /// knows openid, offline_access and refresh_token, and silently drops any other.
    std::vector<std::string> extra_scopes;
    /// Issue a new refresh token on every refresh (and refuse the old one afterwards with
    /// invalid_grant). Off: the same refresh token comes back, as oidc-provider does by default for
    /// confidential clients.
    bool rotate_refresh_tokens = false;
    /// End every interaction with error=access_denied instead of approving it.
    bool deny = false;
    /// Serve Snowflake's paths, /oauth/authorize and /oauth/token-request, instead of /auth and
    /// /token, so that snowflake::account_url("http://127.0.0.1:PORT") derives the endpoints.
    bool snowflake_paths = false;
};

/// The folder holding provider.mjs, browser.mjs, package.json and node_modules.
inline std::filesystem::path oidc_support_directory() { return TAKEOFF_OIDC_DIR; }

/// browser.mjs: an executable (`#!/usr/bin/env node`) that takes only the URL, so it can be $BROWSER
/// for the library's launcher as it is.
inline std::filesystem::path scripted_browser_path() { return oidc_support_directory() / "browser.mjs"; }

/// The node executable found on PATH, or an empty path.
inline std::filesystem::path find_node() {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        const auto colon = dirs.find(':');
        const std::string_view dir = dirs.substr(0, colon);
        if (!dir.empty()) {
            const std::filesystem::path candidate = std::filesystem::path(dir) / "node";
            if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        }
        if (colon == std::string_view::npos) return {};
        dirs.remove_prefix(colon + 1);
    }
}

/// node, or throws std::runtime_error explaining what is missing (node itself, or the npm packages)
/// and how tools/run-tests.sh installs it. The interop tests call this instead of skipping.
inline std::filesystem::path require_oidc_prerequisites() {
    const std::filesystem::path node = find_node();
    if (node.empty())
        throw std::runtime_error("the OAuth interop tests need Node.js, and `node` is not on PATH: run tools/run-tests.sh "
                                 "(it installs Debian's nodejs and npm) or `apt-get install nodejs npm`");
    const auto package = oidc_support_directory() / "node_modules" / "oidc-provider" / "package.json";
    if (!std::filesystem::exists(package))
        throw std::runtime_error("the OAuth interop tests need the npm packages of " + oidc_support_directory().string() +
                                 ", and " + package.string() + " is missing: run tools/run-tests.sh or `npm ci --prefix " +
                                 oidc_support_directory().string() + "`");
    return node;
}

namespace detail {

// argv and envp as posix_spawn wants them; the strings stay owned by the vectors given.
inline std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// The environment with `extra` ("NAME=value") replacing or adding variables of the same names.
inline std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
    std::vector<std::string> out;
    for (char** e = environ; *e; ++e) {
        const std::string_view entry(*e);
        const std::string_view name = entry.substr(0, entry.find('=') + 1);
        bool replaced = false;
        for (const auto& x : extra) replaced = replaced || std::string_view(x).substr(0, name.size()) == name;
        if (!replaced) out.emplace_back(entry);
    }
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
}

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Waits for pid's exit, at most `bound` (a wedged child is then killed), and reaps it.
inline int wait_bounded(pid_t pid, std::chrono::milliseconds bound) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
        pollfd exited{pidfd, POLLIN, 0};
        if (::poll(&exited, 1, static_cast<int>(bound.count())) == 0) ::kill(pid, SIGKILL);
        ::close(pidfd);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace detail

/// provider.mjs running on 127.0.0.1; see the top of this file.
class oidc_provider {
public:
    /// Starts the server and returns once it accepts connections. Throws std::runtime_error when
    /// node or the npm packages are missing, or when the server exits or prints no endpoint line
    /// within 60 s (the message then has its stderr).
    explicit oidc_provider(oidc_provider_options options = {})
        : options_(std::move(options)), directory_("takeoff-oidc") {
        const std::filesystem::path node = require_oidc_prerequisites();
        std::vector<std::string> argv{node.string(), (oidc_support_directory() / "provider.mjs").string(),
                                      "--port", "0", "--client-id", options_.client_id,
                                      "--client-secret", options_.client_secret};
        for (const auto& uri : options_.redirect_uris) argv.insert(argv.end(), {"--redirect-uri", uri});
        if (options_.access_ttl) argv.insert(argv.end(), {"--access-ttl", std::to_string(options_.access_ttl->count())});
        if (options_.refresh_ttl)
            argv.insert(argv.end(), {"--refresh-ttl", std::to_string(options_.refresh_ttl->count())});
        for (const auto& scope : options_.extra_scopes) argv.insert(argv.end(), {"--scope", scope});
        if (options_.rotate_refresh_tokens) argv.emplace_back("--rotate-refresh-tokens");
        if (options_.deny) argv.emplace_back("--deny");
        if (options_.snowflake_paths) argv.emplace_back("--snowflake-paths");
        start(argv);
    }

    oidc_provider(const oidc_provider&) = delete;
    oidc_provider& operator=(const oidc_provider&) = delete;

    /// Stops the server (stdin closed and SIGTERM) and waits for it to exit.
    ~oidc_provider() { stop(); }

    /// "http://127.0.0.1:PORT".
    const std::string& issuer() const noexcept { return issuer_; }
    /// issuer() + "/auth" ("/oauth/authorize" with snowflake_paths).
    const std::string& authorization_endpoint() const noexcept { return authorization_endpoint_; }
    /// issuer() + "/token" ("/oauth/token-request" with snowflake_paths).
    const std::string& token_endpoint() const noexcept { return token_endpoint_; }
    /// issuer() + "/.well-known/openid-configuration".
    const std::string& discovery_endpoint() const noexcept { return discovery_endpoint_; }
    /// The client that authenticates with client_secret_post.
    const std::string& client_id() const noexcept { return options_.client_id; }
    /// The client that authenticates with client_secret_basic: client_id() + "-basic".
    const std::string& basic_client_id() const noexcept { return basic_client_id_; }
    /// Both clients' secret.
    const std::string& client_secret() const noexcept { return options_.client_secret; }
    /// The options the server was started with.
    const oidc_provider_options& options() const noexcept { return options_; }
    /// What the server wrote on stderr so far: one line per request (method, path without the
    /// query, status, OAuth error) and the errors behind refusals.
    std::string log() const { return detail::read_file(log_path()); }

private:
    std::filesystem::path log_path() const { return directory_.path() / "provider.log"; }

    void start(std::vector<std::string>& argv) {
        int out[2];
        int in[2];
        if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("oidc_provider: cannot create a pipe");
        if (::pipe2(in, O_CLOEXEC) != 0) {
            ::close(out[0]);
            ::close(out[1]);
            throw std::runtime_error("oidc_provider: cannot create a pipe");
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        auto args = detail::c_strings(argv);
        const int spawned = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        stdin_fd_ = in[1];
        if (spawned != 0) {
            pid_ = -1;
            ::close(out[0]);
            stop();
            throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(spawned));
        }

        // Read stdout up to the first newline. The 60 s bound only turns a broken start into a
        // failure instead of a hang (node starts in well under a second); it is not a wait for
        // readiness, which the line itself signals.
        std::string line;
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        std::string failure;
        while (line.find('\n') == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
            pollfd p{out[0], POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
                failure = "provider.mjs printed no endpoints within 60 s";
                break;
            }
            char chunk[4096];
            const auto n = ::read(out[0], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                failure = "provider.mjs exited before listening";
                break;
            }
            line.append(chunk, static_cast<std::size_t>(n));
        }
        // Nothing else is written to stdout; the read end is no longer needed. (Were provider.mjs
        // to write again, it would get EPIPE, not block on a full pipe.)
        ::close(out[0]);
        if (failure.empty()) failure = parse_endpoints(line.substr(0, line.find('\n')));
        if (!failure.empty()) {
            stop();
            throw std::runtime_error(failure + "; its output:\n" + line + log());
        }
    }

    // Reads the JSON line; returns what is wrong with it, or "".
    std::string parse_endpoints(const std::string& line) {
        boost::system::error_code ec;
        const boost::json::value parsed = boost::json::parse(line, ec);
        if (ec || !parsed.is_object()) return "provider.mjs printed a line that is not a JSON object";
        const auto& object = parsed.get_object();
        auto field = [&object](std::string_view name) -> std::string {
            const auto* value = object.if_contains(name);
            return value && value->is_string() ? std::string(value->get_string()) : std::string();
        };
        issuer_ = field("issuer");
        authorization_endpoint_ = field("authorization_endpoint");
        token_endpoint_ = field("token_endpoint");
        discovery_endpoint_ = field("discovery_endpoint");
        basic_client_id_ = field("basic_client_id");
        if (issuer_.rfind("http://127.0.0.1:", 0) != 0 || authorization_endpoint_.empty() || token_endpoint_.empty() ||
            discovery_endpoint_.empty() || basic_client_id_.empty())
            return "provider.mjs printed an incomplete endpoint line";
        return {};
    }

    void stop() noexcept {
        if (stdin_fd_ >= 0) {
            ::close(stdin_fd_);
            stdin_fd_ = -1;
        }
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            detail::wait_bounded(pid_, std::chrono::seconds(10));
            pid_ = -1;
        }
    }

    oidc_provider_options options_;
    temp_directory directory_;
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    std::string issuer_;
    std::string authorization_endpoint_;
    std::string token_endpoint_;
    std::string discovery_endpoint_;
    std::string basic_client_id_;
};

/// What browser.mjs did with one URL.
struct browser_result {
    int exit_code = -1; ///< 0: it reached the redirect_uri and got an answer
    std::string output; ///< its stderr (stdout is empty): the final status, or why it failed
};

/// Runs `node browser.mjs url` and waits for it (at most 120 s; it is then killed and the result's
/// exit code is 128 + SIGKILL). `tamper` sets TAKEOFF_BROWSER_TAMPER ("state", "code_challenge",
/// or both comma-separated); empty leaves it unset. Throws std::runtime_error when node or the
/// npm packages are missing.
inline browser_result run_scripted_browser(const std::string& url, const std::string& tamper = {}) {
    const std::filesystem::path node = require_oidc_prerequisites();
    temp_directory directory("takeoff-browser");
    const auto log = directory.path() / "browser.log";
    std::vector<std::string> argv{node.string(), scripted_browser_path().string(), url};
    std::vector<std::string> env = detail::environment_with(
        {tamper.empty() ? std::string("TAKEOFF_BROWSER_TAMPER=") : "TAKEOFF_BROWSER_TAMPER=" + tamper});
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    auto args = detail::c_strings(argv);
    auto envp = detail::c_strings(env);
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    browser_result result;
    if (spawned != 0) {
        result.output = "cannot start " + argv[0] + ": " + std::strerror(spawned);
        return result;
    }
    result.exit_code = detail::wait_bounded(pid, std::chrono::seconds(120));
    result.output = detail::read_file(log);
    return result;
}

} // namespace takeoff::test

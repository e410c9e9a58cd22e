#pragma once
// Opening the authorization URL in the user's browser, and the no-browser fallback where the user
// pastes the URL the browser was redirected to (what Snowflake's Python connector offers).
//
// POSIX only. A browser is started with posix_spawn, never through a shell: $BROWSER's commands
// are split on spaces, and the URL is one argument of its own whatever it contains.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/oauth/authorization.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
extern char** environ;
}

namespace takeoff::oauth {

/// How open_in_browser showed the URL.
enum class browser_outcome {
    launched_browser_variable, ///< a command from $BROWSER was started
    launched_xdg_open,         ///< xdg-open was started
    printed,                   ///< no browser was started: the URL was printed for the user to open
};

/// How open_in_browser opens the URL.
struct browser_options {
    /// false: only print the URL (headless machines, a --no-browser switch).
    bool launch = true;
    /// Where the URL is printed; null prints nothing (then a URL that no browser was started for
    /// is an error).
    std::ostream* out = &std::cerr;
    /// Reads an environment variable (BROWSER and PATH); empty: std::getenv. Tests inject values.
    std::function<std::optional<std::string>(std::string_view)> env;
    /// Called once the started browser command has exited, with its waitpid status (-1 if waitpid
    /// failed), on the thread that reaped it (see open_in_browser). Mostly for tests.
    std::function<void(int)> child_exited;
};

namespace detail {

inline std::optional<std::string> read_env(const browser_options& options, std::string_view name) {
    if (options.env) return options.env(name);
    const char* value = std::getenv(std::string(name).c_str());
    if (!value) return std::nullopt;
    return std::string(value);
}

// One $BROWSER command as argv: split on spaces; "%s" in a word is replaced by the URL, and when no
// word has one the URL is appended as a word of its own.
inline std::vector<std::string> browser_command(std::string_view command, std::string_view url) {
    std::vector<std::string> argv;
    bool substituted = false;
    std::size_t i = 0;
    while (i < command.size()) {
        while (i < command.size() && command[i] == ' ') ++i;
        if (i == command.size()) break;
        const std::size_t end = std::min(command.find(' ', i), command.size());
        std::string word(command.substr(i, end - i));
        for (std::size_t at = word.find("%s"); at != std::string::npos; at = word.find("%s", at + url.size())) {
            word.replace(at, 2, url);
            substituted = true;
        }
        argv.push_back(std::move(word));
        i = end;
    }
    if (!argv.empty() && !substituted) argv.emplace_back(url);
    return argv;
}

inline bool is_executable_file(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// The program a command name runs: a name with a '/' as it is, else the first executable file of
// that name in PATH (as execvp searches it; an empty entry is the current directory). PATH comes
// from options.env, so that tests can make xdg-open absent.
inline std::optional<std::string> find_program(std::string_view name, const browser_options& options) {
    if (name.empty()) return std::nullopt;
    if (name.find('/') != std::string_view::npos) {
        std::string path(name);
        if (is_executable_file(path)) return path;
        return std::nullopt;
    }
    const std::string path_variable = read_env(options, "PATH").value_or("/usr/local/bin:/usr/bin:/bin");
    std::string_view dirs = path_variable;
    for (;;) {
        const std::size_t colon = dirs.find(':');
        std::string_view dir = dirs.substr(0, colon);
        std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + '/' + std::string(name);
        if (is_executable_file(candidate)) return candidate;
        if (colon == std::string_view::npos) return std::nullopt;
        dirs.remove_prefix(colon + 1);
    }
}

// Waits for the child on a detached thread, so that it leaves no zombie however long it runs (a
// browser started in the foreground runs until the user closes it).
inline void reap_in_background(pid_t pid, std::function<void(int)> exited) {
    auto reap = [pid, exited = std::move(exited)] {
        int status = 0;
        pid_t r;
        do {
            r = ::waitpid(pid, &status, 0);
        } while (r == -1 && errno == EINTR);
        if (exited) exited(r == pid ? status : -1);
    };
    try {
        std::thread(std::move(reap)).detach();
    } catch (const std::system_error&) {
        // No thread to be had: the child is reaped here, when it has already exited, or stays a
        // zombie until this process ends.
        int status = 0;
        ::waitpid(pid, &status, WNOHANG);
    }
}

// Starts argv[0] (resolved to `program`) with stdin and stdout on /dev/null (the browser must not
// read the caller's input nor write into its output; stderr is kept for its complaints), no
// descriptor of ours beyond those, default signal dispositions and an empty signal mask, in a
// session of its own (a Ctrl-C meant for the caller does not close the browser). 0 on success,
// else the errno.
inline int spawn_program(const std::string& program, const std::vector<std::string>& argv,
                         const browser_options& options) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    if (int e = posix_spawn_file_actions_init(&actions)) return e;
    if (int e = posix_spawnattr_init(&attributes)) {
        posix_spawn_file_actions_destroy(&actions);
        return e;
    }
    int error = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (!error) error = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
#if defined(__GLIBC__) && defined(__USE_GNU) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (!error) error = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#ifdef POSIX_SPAWN_SETSID
    flags |= POSIX_SPAWN_SETSID;
#endif
    if (!error) error = posix_spawnattr_setsigmask(&attributes, &none);
    if (!error) error = posix_spawnattr_setsigdefault(&attributes, &all);
    if (!error) error = posix_spawnattr_setflags(&attributes, flags);

    if (!error) {
        std::vector<char*> args;
        args.reserve(argv.size() + 1);
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        pid_t pid = 0;
        error = posix_spawn(&pid, program.c_str(), &actions, &attributes, args.data(), environ);
        if (!error) reap_in_background(pid, options.child_exited);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}

// Starts the first command that spawns; false when none did.
inline bool launch_first(std::string_view commands, std::string_view url, const browser_options& options) {
    while (!commands.empty()) {
        const std::size_t colon = commands.find(':');
        const std::string_view command = commands.substr(0, colon);
        commands = colon == std::string_view::npos ? std::string_view{} : commands.substr(colon + 1);
        const std::vector<std::string> argv = browser_command(command, url);
        if (argv.empty()) continue;
        const auto program = find_program(argv.front(), options);
        if (program && spawn_program(*program, argv, options) == 0) return true;
    }
    return false;
}

} // namespace detail

/// Opens `url` (an absolute http or https URL, else errc::invalid_url) for the user to sign in:
/// - with options.launch, the commands of $BROWSER, a ':'-separated list as in Python's
///   webbrowser, in turn: each is split on spaces, "%s" in a word is replaced by the URL (else the
///   URL is appended as the last argument), and the first whose program is found (on PATH for a
///   bare name) and spawns is the browser: launched_browser_variable;
/// - else `xdg-open <url>` if xdg-open is on PATH: launched_xdg_open;
/// - else nothing is started: printed.
/// The URL is printed to options.out either way: "If no browser opened, open: <url>" after a
/// launch, "Open this URL in a browser to sign in:\n  <url>" otherwise. With options.out null and
/// no browser started, the result is errc::invalid_argument (the user could not see the URL).
///
/// A started command is not waited for (a browser may run until the user closes it; whether it
/// then showed the page cannot be known, hence the printed URL). It gets stdin and stdout on
/// /dev/null, a session of its own and default signal handling, and inherits no descriptor but
/// stderr; a detached thread waits for it with waitpid, so it leaves no zombie, and then calls
/// options.child_exited. Not a shell: nothing in $BROWSER or the URL is interpreted.
inline boost::system::result<browser_outcome> open_in_browser(std::string_view url, const browser_options& options,
                                                              diagnostics& diag) {
    diag.clear();
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || (parsed->scheme_id() != boost::urls::scheme::https &&
                    parsed->scheme_id() != boost::urls::scheme::http)) {
        diag.set_client_message("the URL to open in a browser must be an absolute http or https URL");
        return make_error_code(errc::invalid_url);
    }

    std::optional<browser_outcome> launched;
    if (options.launch) {
        const auto commands = detail::read_env(options, "BROWSER");
        if (commands && detail::launch_first(*commands, url, options))
            launched = browser_outcome::launched_browser_variable;
        else if (detail::launch_first("xdg-open", url, options))
            launched = browser_outcome::launched_xdg_open;
    }

    if (launched) {
        if (options.out) *options.out << "If no browser opened, open: " << url << '\n' << std::flush;
        return *launched;
    }
    if (!options.out) {
        diag.set_client_message(options.launch ? "no browser could be started and there is nowhere to print the URL"
                                               : "there is nowhere to print the URL (browser_options::out is null)");
        return make_error_code(errc::invalid_argument);
    }
    *options.out << "Open this URL in a browser to sign in:\n  " << url << '\n' << std::flush;
    return browser_outcome::printed;
}

/// Longest line read_pasted_redirect accepts, in bytes.
inline constexpr std::size_t max_pasted_redirect = 16 * 1024;

/// The no-browser mode: reads one line from `in`, the URL the browser was redirected to (pasted by
/// the user; spaces and a '\r' around it are ignored), and checks it as the listener checks the
/// callback: parse_authorization_callback(line, expected_state, diag), with its errors
/// (state_mismatch, the OAuth error's errc, invalid_request). Nothing read before the end of input,
/// an empty line, or a line over max_pasted_redirect bytes is errc::invalid_request. The line is
/// wiped once checked (it holds the code).
inline boost::system::result<authorization_response> read_pasted_redirect(std::istream& in,
                                                                          const secret& expected_state,
                                                                          diagnostics& diag) {
    diag.clear();
    std::string line;
    struct wipe_on_exit {
        std::string& s;
        ~wipe_on_exit() { takeoff::detail::wipe_string(s); }
    } wipe{line};

    bool too_long = false;
    char c = 0;
    while (in.get(c) && c != '\n') {
        if (line.size() < max_pasted_redirect) line += c;
        else too_long = true; // read on to the end of the line, so that the next read starts after it
    }
    if (too_long) {
        diag.set_client_message("the pasted URL is longer than " + std::to_string(max_pasted_redirect) + " bytes");
        return make_error_code(errc::invalid_request);
    }
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) {
        diag.set_client_message("no redirect URL was pasted");
        return make_error_code(errc::invalid_request);
    }
    const auto last = line.find_last_not_of(" \t\r");
    return parse_authorization_callback(std::string_view(line).substr(first, last - first + 1), expected_state, diag);
}

} // namespace takeoff::oauth

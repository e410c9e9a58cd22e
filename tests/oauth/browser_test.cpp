// oauth::open_in_browser and read_pasted_redirect, without a socket: $BROWSER and xdg-open are
// shell scripts written to a temporary directory that record their arguments in a file; the test
// learns that a script has finished from options.child_exited (called once the reaper thread has
// waited for it), a bounded wait on a future, not a sleep.
#include <takeoff/oauth/browser.hpp>

#include "../support/doctest_helpers.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>

namespace fs = std::filesystem;
namespace oauth = takeoff::oauth;
using takeoff::errc;
using namespace std::chrono_literals;

namespace {

const std::string url = "https://myorg-myacct.snowflakecomputing.com/oauth/authorize?response_type=code&state=a%20b";

// A temporary directory, removed at the end of the test.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "takeoff-browser-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~temp_dir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

// Writes an executable script `name` that writes its arguments, one a line, to `<name>.argv`.
fs::path write_recorder(const temp_dir& dir, const std::string& name) {
    const fs::path script = dir.path / name;
    std::ofstream(script) << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '"
                          << (dir.path / (name + ".argv")).string() << "'\n";
    fs::permissions(script, fs::perms::owner_all);
    return script;
}

std::vector<std::string> read_lines(const fs::path& file) {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Options whose environment is exactly `vars`, printing into out, telling `exited` when the
// started command has been reaped.
struct harness {
    std::ostringstream out;
    std::shared_ptr<std::promise<int>> exited = std::make_shared<std::promise<int>>();
    oauth::browser_options options;

    harness(std::initializer_list<std::pair<std::string, std::string>> list) {
        options.out = &out;
        options.env = [vars = std::vector<std::pair<std::string, std::string>>(list)](std::string_view name) -> std::optional<std::string> {
            for (const auto& [k, v] : vars)
                if (k == name) return v;
            return std::nullopt;
        };
        options.child_exited = [p = exited](int status) { p->set_value(status); };
    }

    // The started command's wait status, once it has exited and been reaped.
    int wait_for_exit() {
        auto f = exited->get_future();
        REQUIRE(f.wait_for(60s) == std::future_status::ready);
        return f.get();
    }
};

} // namespace

TEST_CASE("open_in_browser: $BROWSER's command is started with the URL appended, and the URL printed too") {
    temp_dir dir;
    write_recorder(dir, "browser");
    harness h({{"BROWSER", (dir.path / "browser").string() + "  --new-tab"}, {"PATH", "/nonexistent"}});
    takeoff::diagnostics diag;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE(r.has_value());
    CHECK(*r == oauth::browser_outcome::launched_browser_variable);
    const int status = h.wait_for_exit();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(read_lines(dir.path / "browser.argv") == std::vector<std::string>{"--new-tab", url});
    CHECK(h.out.str() == "If no browser opened, open: " + url + "\n");
    CHECK(diag.empty());
}

TEST_CASE("open_in_browser: \"%s\" in a $BROWSER command is replaced by the URL, which is then not appended") {
    temp_dir dir;
    write_recorder(dir, "browser");
    harness h({{"BROWSER", (dir.path / "browser").string() + " --url=%s --x"}});
    takeoff::diagnostics diag;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE(r.has_value());
    CHECK(*r == oauth::browser_outcome::launched_browser_variable);
    h.wait_for_exit();
    CHECK(read_lines(dir.path / "browser.argv") == std::vector<std::string>{"--url=" + url, "--x"});
}

TEST_CASE("open_in_browser: a $BROWSER list whose first commands are missing starts the next one, found on PATH") {
    temp_dir dir;
    write_recorder(dir, "second");
    harness h({{"BROWSER", "/nonexistent/browser %s::no-such-browser-here:second"}, {"PATH", dir.path.string()}});
    takeoff::diagnostics diag;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE(r.has_value());
    CHECK(*r == oauth::browser_outcome::launched_browser_variable);
    h.wait_for_exit();
    CHECK(read_lines(dir.path / "second.argv") == std::vector<std::string>{url});
}

TEST_CASE("open_in_browser: without $BROWSER, xdg-open on PATH is started with the URL") {
    temp_dir dir;
    write_recorder(dir, "xdg-open");
    harness h({{"PATH", "/nonexistent:" + dir.path.string()}});
    takeoff::diagnostics diag;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE(r.has_value());
    CHECK(*r == oauth::browser_outcome::launched_xdg_open);
    h.wait_for_exit();
    CHECK(read_lines(dir.path / "xdg-open.argv") == std::vector<std::string>{url});
    CHECK(h.out.str() == "If no browser opened, open: " + url + "\n");
}

TEST_CASE("open_in_browser: a $BROWSER that starts nothing falls back to xdg-open") {
    temp_dir dir;
    write_recorder(dir, "xdg-open");
    harness h({{"BROWSER", "no-such-browser-here"}, {"PATH", dir.path.string()}});
    takeoff::diagnostics diag;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE(r.has_value());
    CHECK(*r == oauth::browser_outcome::launched_xdg_open);
    h.wait_for_exit();
}

TEST_CASE("open_in_browser: no $BROWSER and no xdg-open on PATH prints the URL") {
    temp_dir dir;
    harness h({{"PATH", dir.path.string() + ":/nonexistent"}});
    takeoff::diagnostics diag;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE(r.has_value());
    CHECK(*r == oauth::browser_outcome::printed);
    CHECK(h.out.str() == "Open this URL in a browser to sign in:\n  " + url + "\n");
}

TEST_CASE("open_in_browser: launch = false prints the URL and starts nothing, even with $BROWSER set") {
    temp_dir dir;
    write_recorder(dir, "browser");
    harness h({{"BROWSER", (dir.path / "browser").string()}});
    h.options.launch = false;
    takeoff::diagnostics diag;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE(r.has_value());
    CHECK(*r == oauth::browser_outcome::printed);
    CHECK(h.out.str() == "Open this URL in a browser to sign in:\n  " + url + "\n");
    CHECK_FALSE(fs::exists(dir.path / "browser.argv")); // nothing was spawned that could write it later
}

TEST_CASE("open_in_browser: a URL that is not absolute http(s), or nowhere to print it, is an error") {
    takeoff::diagnostics diag;
    harness h({{"PATH", "/nonexistent"}});
    for (std::string_view bad : {"", "-new-window", "file:///etc/passwd", "javascript:alert(1)",
                                 "https://host/a b", "https://host/\nx"}) {
        CAPTURE(bad);
        auto r = oauth::open_in_browser(bad, h.options, diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_url);
        CHECK(diag.client_message() == "the URL to open in a browser must be an absolute http or https URL");
    }
    CHECK(h.out.str().empty());

    h.options.out = nullptr;
    auto r = oauth::open_in_browser(url, h.options, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "no browser could be started and there is nowhere to print the URL");
}

TEST_CASE("open_in_browser: $BROWSER commands split on spaces with %s substituted in place") {
    using oauth::detail::browser_command;
    CHECK(browser_command("firefox", "U") == std::vector<std::string>{"firefox", "U"});
    CHECK(browser_command("  a  b ", "U") == std::vector<std::string>{"a", "b", "U"});
    CHECK(browser_command("a %s%s x=%s", "U") == std::vector<std::string>{"a", "UU", "x=U"});
    CHECK(browser_command("   ", "U").empty());
}

namespace {
const takeoff::secret state("st4te-value-0123456789");
}

TEST_CASE("read_pasted_redirect: the pasted URL's code, spaces and CR around it ignored, the next line left unread") {
    std::istringstream in("  http://127.0.0.1:5000/cb?code=abc%2B1&state=st4te-value-0123456789&scope=x+y \r\nnext\n");
    takeoff::diagnostics diag;
    auto r = oauth::read_pasted_redirect(in, state, diag);
    REQUIRE(r.has_value());
    CHECK(r->code.reveal() == "abc+1");
    CHECK(r->scope == "x y");
    std::string rest;
    std::getline(in, rest);
    CHECK(rest == "next");
}

TEST_CASE("read_pasted_redirect: a wrong state is state_mismatch, an OAuth error its errc") {
    takeoff::diagnostics diag;
    std::istringstream forged("http://127.0.0.1:5000/cb?code=abc&state=other\n");
    auto r = oauth::read_pasted_redirect(forged, state, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::state_mismatch);
    CHECK(diag.client_message() == "the authorization callback's state does not match the one sent");

    std::istringstream denied("http://127.0.0.1:5000/cb?error=access_denied&state=st4te-value-0123456789");
    r = oauth::read_pasted_redirect(denied, state, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::access_denied);
    CHECK(diag.server_error_code() == "access_denied");
}

TEST_CASE("read_pasted_redirect: garbage, an empty line, end of input or an overlong line is invalid_request") {
    takeoff::diagnostics diag;
    std::istringstream garbage("this is not a url\n");
    auto r = oauth::read_pasted_redirect(garbage, state, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_request);
    CHECK(diag.client_message() == "the authorization callback URL cannot be parsed");

    std::istringstream empty("  \r\n");
    r = oauth::read_pasted_redirect(empty, state, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_request);
    CHECK(diag.client_message() == "no redirect URL was pasted");

    std::istringstream nothing("");
    r = oauth::read_pasted_redirect(nothing, state, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_request);
    CHECK(diag.client_message() == "no redirect URL was pasted");

    std::istringstream huge("http://127.0.0.1/cb?code=" + std::string(oauth::max_pasted_redirect, 'a') + "\nafter\n");
    r = oauth::read_pasted_redirect(huge, state, diag);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_request);
    CHECK(diag.client_message() == "the pasted URL is longer than 16384 bytes");
    std::string rest;
    std::getline(huge, rest);
    CHECK(rest == "after");
}

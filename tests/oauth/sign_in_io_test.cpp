// The browser sign-in end to end against the emulated Snowflake account over HTTPS: a scripted
// browser follows the authorization URL to the account and its redirect to the library's loopback
// listener; the code is exchanged; the tokens then make a session the ingress accepts. Also the
// no-browser (paste) mode, a tampered state, a refused authorization, a wrong client secret and
// the listener's timeout.
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/sign_in.hpp>
#include <takeoff/snowflake/providers.hpp>
#include <takeoff/snowflake/send.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/snowflake.hpp>

#include "../support/client_helpers.hpp"
#include "../support/emulated_account.hpp"
#include "../support/scripted_browser.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <istream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <tuple>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
namespace oauth = takeoff::oauth;
namespace snowflake = takeoff::snowflake;
using boost::beast::http::verb;
using bhttp_status = boost::beast::http::status;
using takeoff::errc;
using namespace std::chrono_literals;

namespace {

using takeoff::test::account_scope;
using takeoff::test::trusting;
using takeoff::test::scripted_browser;

// The emulated account (tests/support/emulated_account.hpp) and the sign-in run on its client.
struct fixture : takeoff::test::emulated_account {
    oauth::client_config config() const { return oauth_client(oauth::client_auth_method::client_secret_basic); }

    using result = std::tuple<boost::system::error_code, oauth::token_set>;
    result sign_in(const oauth::client_config& config, const oauth::sign_in_options& options, takeoff::diagnostics& diag) {
        std::optional<result> out;
        oauth::async_sign_in(client, config, options, diag, [&out](boost::system::error_code ec, oauth::token_set t) {
            out.emplace(ec, std::move(t));
        });
        io.restart();
        io.run();
        REQUIRE(out.has_value());
        return std::move(*out);
    }
};

} // namespace

TEST_CASE("sign-in over HTTPS: PKCE, state and code through a scripted browser and the loopback listener; the tokens make a session the ingress accepts") {
    fixture f;
    scripted_browser browser;
    const auto config = f.config();
    takeoff::diagnostics diag;
    auto [ec, tokens] = f.sign_in(config, browser.options(f.authority), diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    const auto visit = browser.visit_done.get();

    CHECK(visit.status == 200);
    CHECK(visit.page.find("Signed in") != std::string::npos);
    CHECK(visit.location.rfind("http://127.0.0.1:", 0) == 0);
    CHECK(visit.location.find("/callback?code=") != std::string::npos);
    CHECK_FALSE(tokens.access_token.empty());
    REQUIRE(tokens.refresh_token.has_value());
    CHECK(tokens.scope == account_scope);
    CHECK(tokens.username == "EMULATOR_USER");
    REQUIRE(tokens.expires_at.has_value());
    CHECK(f.account.authorizations() == 1);
    CHECK(f.account.code_grants() == 1);

    // The authorization request as the account received it.
    const auto log = f.server.requests();
    REQUIRE(log.size() >= 2);
    const auto& authorize = log[0];
    CHECK(authorize.target.rfind("/oauth/authorize?response_type=code&client_id=EMULATOR_CLIENT_ID&redirect_uri=http%3A%2F%2F127.0.0.1%3A", 0) == 0);
    CHECK(authorize.target.find("&scope=refresh_token%20session%3Arole%3AANALYST&code_challenge=") != std::string::npos);
    CHECK(authorize.target.find("&code_challenge_method=S256") != std::string::npos);
    CHECK(log[1].header("authorization")->rfind("Basic ", 0) == 0);
    CHECK(log[1].body.find("client_secret") == std::string::npos);

    // The sign-in's tokens, as a provider uses them.
    oauth::memory_token_store store;
    snowflake::oauth_session session(f.client, config, &store, f.key());
    REQUIRE_FALSE(session.set_tokens(tokens, diag));
    snowflake::session_token_provider provider(f.client, session, f.url(), f.login());
    std::optional<std::tuple<boost::system::error_code, http::response>> sent;
    snowflake::async_send(f.client, provider, takeoff::test::get(f.server, "/app"), diag,
                          [&sent](boost::system::error_code e, http::response r) { sent.emplace(e, std::move(r)); });
    f.io.restart();
    f.io.run();
    REQUIRE(sent.has_value());
    REQUIRE_MESSAGE(!std::get<0>(*sent), diag.client_message());
    CHECK(std::get<1>(*sent).body == "hello");
}

TEST_CASE("sign-in: a redirect whose state was tampered with fails with state_mismatch and no code is exchanged") {
    fixture f;
    scripted_browser browser;
    browser.tamper = [](std::string location) {
        const auto at = location.find("state=");
        REQUIRE(at != std::string::npos);
        location.replace(at + 6, 4, "XXXX");
        return location;
    };
    takeoff::diagnostics diag;
    auto [ec, tokens] = f.sign_in(f.config(), browser.options(f.authority), diag);
    const auto visit = browser.visit_done.get();
    CHECK(ec == errc::state_mismatch);
    CHECK(visit.status == 400);
    CHECK(f.account.code_grants() == 0);
}

TEST_CASE("sign-in: an authorization the account refuses (access_denied) ends the sign-in with access_denied and its description") {
    fixture f;
    f.account.fail_next_authorization("access_denied", "The user denied the request.");
    scripted_browser browser;
    takeoff::diagnostics diag;
    auto [ec, tokens] = f.sign_in(f.config(), browser.options(f.authority), diag);
    browser.visit_done.get();
    CHECK(ec == errc::access_denied);
    CHECK(diag.server_message() == "The user denied the request.");
    CHECK(f.account.code_grants() == 0);
}

TEST_CASE("sign-in: a wrong client secret fails the code exchange with invalid_client") {
    fixture f;
    auto config = f.config();
    config.client_secret = takeoff::secret("not-the-secret");
    scripted_browser browser;
    takeoff::diagnostics diag;
    auto [ec, tokens] = f.sign_in(config, browser.options(f.authority), diag);
    browser.visit_done.get();
    CHECK(ec == errc::invalid_client);
    CHECK(diag.http_status() == 400);
    CHECK(diag.server_error_code() == "invalid_client");
}

TEST_CASE("sign-in: no browser arriving within the listener's timeout (1 s) is request_timeout naming the redirect URI") {
    fixture f;
    oauth::sign_in_options options;
    std::string opened;
    options.open_url = [&opened](const std::string& url) { opened = url; }; // a browser that never comes
    options.listener.timeout = 1s;
    takeoff::diagnostics diag;
    auto [ec, tokens] = f.sign_in(f.config(), options, diag);
    CHECK(ec == errc::request_timeout);
    CHECK(opened.rfind(f.server.url() + "/oauth/authorize?", 0) == 0);
    CHECK(diag.client_message().rfind("no sign-in arrived at http://127.0.0.1:", 0) == 0);
    CHECK(diag.client_message().find("/callback within 1 s") != std::string::npos);
}

namespace {

// The user in the no-browser mode: reads the URL the sign-in printed, signs in with a browser
// elsewhere, and pastes the address the browser was sent to (nothing listens there).
class pasting_user final : public std::streambuf {
public:
    pasting_user(const std::ostringstream& printed, const emu::certificate_authority& authority)
        : printed_(printed), authority_(authority) {}

protected:
    int_type underflow() override {
        if (done_) return traits_type::eof();
        done_ = true;
        const std::string text = printed_.str();
        const auto start = text.find("https://");
        REQUIRE(start != std::string::npos);
        const std::string url = text.substr(start, text.find('\n', start) - start);
        line_ = redirected(url) + "\n";
        setg(line_.data(), line_.data(), line_.data() + line_.size());
        return traits_type::to_int_type(line_[0]);
    }

private:
    std::string redirected(const std::string& url) {
        asio::io_context io;
        auto options = trusting(authority_);
        options.defaults.redirects.follow = false;
        http::client browser(io.get_executor(), options);
        takeoff::diagnostics diag;
        auto [ec, authorize] = takeoff::test::send(io, browser, http::request::get(boost::urls::url(url)), {}, diag);
        REQUIRE(authorize.status == 302); // a redirect: ec is http_status when redirects are not followed
        return std::string(authorize.headers["location"]);
    }

    const std::ostringstream& printed_;
    const emu::certificate_authority& authority_;
    std::string line_;
    bool done_ = false;
};

} // namespace

TEST_CASE("sign-in without a browser: the URL is printed, the pasted redirect's code is exchanged; no listener is opened") {
    fixture f;
    std::ostringstream printed;
    pasting_user user(printed, f.authority);
    std::istream pasted(&user);
    oauth::sign_in_options options;
    options.browser.out = &printed;
    options.pasted_redirect = &pasted;
    auto config = f.config();
    config.redirect_uri = "http://127.0.0.1:9/callback"; // registered; nothing listens there
    takeoff::diagnostics diag;
    auto [ec, tokens] = f.sign_in(config, options, diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    CHECK(printed.str().rfind("Open this URL in a browser to sign in:\n  " + f.server.url() + "/oauth/authorize?", 0) == 0);
    CHECK(printed.str().find("redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback") != std::string::npos);
    CHECK_FALSE(tokens.access_token.empty());
    CHECK(f.account.code_grants() == 1);
}

TEST_CASE("sign-in without a browser and nowhere to print the URL is invalid_argument before anything is sent") {
    fixture f;
    std::istringstream nothing;
    oauth::sign_in_options options;
    options.browser.out = nullptr;
    options.pasted_redirect = &nothing;
    takeoff::diagnostics diag;
    auto [ec, tokens] = f.sign_in(f.config(), options, diag);
    CHECK(ec == errc::invalid_argument);
    CHECK(diag.client_message() == "the no-browser sign-in prints the URL to browser.out, which is null");
    CHECK(f.server.requests().empty());
}

// Interoperability with a real OAuth server: oidc-provider (npm) on 127.0.0.1, a confidential
// client, PKCE required, refresh tokens. The library's own sign-in (async_sign_in) runs the whole
// code flow: its loopback listener, the scripted browser started through $BROWSER by the library's
// launcher, the code exchange; then a refresh (async_refresh); and the failures a real server
// gives for a wrong verifier, a wrong state and a wrong secret.
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/sign_in.hpp>
#include <takeoff/oauth/token_client.hpp>

#include "../support/client_helpers.hpp"
#include "../support/oidc_provider.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace oauth = takeoff::oauth;
namespace test = takeoff::test;
using takeoff::errc;
using namespace std::chrono_literals;

namespace {

struct interop {
    test::oidc_provider provider;
    asio::io_context io;
    http::client client{io.get_executor(), test::direct_client_options()};
    std::shared_ptr<std::promise<int>> browser_exit = std::make_shared<std::promise<int>>();

    explicit interop(test::oidc_provider_options options = {}) : provider(std::move(options)) {}

    oauth::client_config config() const {
        return oauth::client_config{oauth::authorization_endpoint::runtime(provider.authorization_endpoint()).value(),
                                    oauth::token_endpoint::runtime(provider.token_endpoint()).value(),
                                    provider.client_id(),
                                    takeoff::secret(provider.client_secret()),
                                    std::nullopt,
                                    oauth::client_auth_method::client_secret_post,
                                    "refresh_token",
                                    "http://127.0.0.1/callback",
                                    {}};
    }

    // $BROWSER is the scripted browser (through env(1) when it must misbehave); the library's
    // launcher starts it, and says when it has exited.
    oauth::sign_in_options options(const std::string& tamper = {}) {
        oauth::sign_in_options o;
        const std::string browser = test::scripted_browser_path().string();
        const std::string command = tamper.empty() ? browser : "env TAKEOFF_BROWSER_TAMPER=" + tamper + " " + browser;
        o.browser.env = [command](std::string_view name) -> std::optional<std::string> {
            if (name == "BROWSER") return command;
            if (const char* value = std::getenv(std::string(name).c_str())) return std::string(value);
            return std::nullopt;
        };
        o.browser.out = nullptr;
        o.browser.child_exited = [exit = browser_exit](int status) { exit->set_value(status); };
        o.listener.timeout = 60s; // bounds a test whose browser failed
        return o;
    }

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

    // The browser's exit status (waitpid's), once it has exited.
    int browser_status() {
        auto done = browser_exit->get_future();
        REQUIRE(done.wait_for(60s) == std::future_status::ready);
        return done.get();
    }
};

} // namespace

TEST_CASE("oidc-provider interop: async_sign_in's full code flow through the loopback listener and $BROWSER, then a refresh") {
    interop t;
    const auto config = t.config();
    takeoff::diagnostics diag;
    auto [ec, tokens] = t.sign_in(config, t.options(), diag);
    REQUIRE_MESSAGE(!ec, (diag.client_message() + " / " + diag.server_message()));
    CHECK(t.browser_status() == 0);
    CHECK_FALSE(tokens.access_token.empty());
    REQUIRE(tokens.refresh_token.has_value());
    CHECK_FALSE(tokens.refresh_token->empty());
    CHECK(tokens.scope == "refresh_token");
    REQUIRE(tokens.expires_at.has_value());
    const auto lifetime = *tokens.expires_at - oauth::token_clock::now();
    CHECK(lifetime > 3500s); // oidc-provider's access tokens live 3600 s
    CHECK(lifetime <= 3600s);

    std::optional<std::tuple<boost::system::error_code, oauth::token_set>> refreshed;
    oauth::async_refresh(t.client, config, tokens, diag, [&refreshed](boost::system::error_code e, oauth::token_set s) {
        refreshed.emplace(e, std::move(s));
    });
    t.io.restart();
    t.io.run();
    REQUIRE(refreshed.has_value());
    auto& [refresh_ec, next] = *refreshed;
    REQUIRE_MESSAGE(!refresh_ec, (diag.client_message() + " / " + diag.server_message()));
    CHECK_FALSE(next.access_token == tokens.access_token);
    CHECK(next.refresh_token == tokens.refresh_token); // no rotation: the one held is kept
}

TEST_CASE("oidc-provider interop: the same flow with client_secret_basic (form-encoded halves of a secret with '/', '+', '=' and a space)") {
    interop t;
    auto config = t.config();
    config.client_id = t.provider.basic_client_id();
    config.auth_method = oauth::client_auth_method::client_secret_basic;
    takeoff::diagnostics diag;
    auto [ec, tokens] = t.sign_in(config, t.options(), diag);
    REQUIRE_MESSAGE(!ec, (diag.client_message() + " / " + diag.server_message()));
    CHECK(t.browser_status() == 0);
    CHECK(tokens.refresh_token.has_value());
}

TEST_CASE("oidc-provider interop: a code_challenge changed on the way makes our verifier wrong: invalid_grant from the server") {
    interop t;
    takeoff::diagnostics diag;
    auto [ec, tokens] = t.sign_in(t.config(), t.options("code_challenge"), diag);
    CHECK(ec == errc::invalid_grant);
    CHECK(diag.http_status() == 400);
    CHECK(diag.server_error_code() == "invalid_grant");
    t.browser_status();
}

TEST_CASE("oidc-provider interop: a state changed on the way back is state_mismatch, and the code is never exchanged") {
    interop t;
    takeoff::diagnostics diag;
    auto [ec, tokens] = t.sign_in(t.config(), t.options("state"), diag);
    CHECK(ec == errc::state_mismatch);
    t.browser_status();
    CHECK(t.provider.log().find("POST /token") == std::string::npos);
}

TEST_CASE("oidc-provider interop: a wrong client secret is invalid_client from the server at the code exchange") {
    interop t;
    auto config = t.config();
    config.client_secret = takeoff::secret("not-the-secret");
    takeoff::diagnostics diag;
    auto [ec, tokens] = t.sign_in(config, t.options(), diag);
    CHECK(ec == errc::invalid_client);
    CHECK(diag.http_status() == 401);
    CHECK(diag.server_error_code() == "invalid_client");
    CHECK(t.browser_status() == 0);
}

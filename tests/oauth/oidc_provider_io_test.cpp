// The interop test support against a real OAuth server (tests/support/oidc_provider.hpp: oidc-provider
// under Node, and the scripted browser), WITHOUT the library's sign-in code: the authorization URL
// is built with oauth::make_authorization_url and a PKCE pair, a loopback listener of the test's own
// answers the redirect, and the token requests are form posts made by hand with http::client. This
// proves the Node side and pins what oidc-provider answers (status codes, error strings, scopes,
// refresh token rotation) for the sign-in tests built on it. Loopback only; no sleeps: the listener
// is done when the browser process has exited.

#include <takeoff/core/base64.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/authorization.hpp>
#include <takeoff/oauth/form.hpp>
#include <takeoff/oauth/pkce.hpp>
#include <takeoff/snowflake/account_url.hpp>

#include "../support/client_helpers.hpp"
#include "../support/doctest_helpers.hpp"
#include "../support/oidc_provider.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace http = takeoff::http;
namespace oauth = takeoff::oauth;
namespace test = takeoff::test;
using takeoff::diagnostics;
using takeoff::errc;
using takeoff::secret;
using namespace std::chrono_literals;

// Answers one GET on 127.0.0.1 (a port the kernel picks) with 200 and keeps its request target: the
// redirect_uri end of the flow. It runs on its own thread while the browser runs on the test's.
class one_shot_listener {
public:
    one_shot_listener() {
        acceptor_.async_accept(socket_, [this](boost::system::error_code ec) {
            if (ec) return;
            bhttp::async_read(socket_, buffer_, request_, [this](boost::system::error_code read_ec, std::size_t) {
                if (read_ec) return;
                target_ = std::string(request_.target());
                response_.result(bhttp::status::ok);
                response_.set(bhttp::field::content_type, "text/plain");
                response_.body() = "signed in; you can close this window\n";
                response_.prepare_payload();
                bhttp::async_write(socket_, response_, [this](boost::system::error_code, std::size_t) {
                    boost::system::error_code ignored;
                    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                    socket_.close(ignored);
                });
            });
        });
        thread_ = std::thread([this] { io_.run(); });
    }
    one_shot_listener(const one_shot_listener&) = delete;
    one_shot_listener& operator=(const one_shot_listener&) = delete;
    ~one_shot_listener() { finish(); }

    std::uint16_t port() const { return port_; }
    std::string redirect_uri() const { return "http://127.0.0.1:" + std::to_string(port_) + "/callback"; }

    // Stops listening (the browser has exited: whatever it sent has arrived or never will) and
    // returns the request target of the GET it answered, if any.
    std::optional<std::string> finish() {
        if (thread_.joinable()) {
            asio::post(io_, [this] {
                boost::system::error_code ignored;
                acceptor_.close(ignored);
                socket_.close(ignored);
            });
            thread_.join();
        }
        return target_;
    }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_{io_, {asio::ip::make_address("127.0.0.1"), 0}};
    std::uint16_t port_ = acceptor_.local_endpoint().port();
    asio::ip::tcp::socket socket_{io_};
    beast::flat_buffer buffer_;
    bhttp::request<bhttp::string_body> request_;
    bhttp::response<bhttp::string_body> response_;
    std::optional<std::string> target_;
    std::thread thread_;
};

// What the browser half of one sign-in gave.
struct browser_leg {
    test::browser_result browser;
    std::optional<std::string> callback; // the listener's request target
    std::string redirect_uri;
    oauth::pkce pkce;
    secret state;
};

// Builds the authorization URL by hand, runs the scripted browser on it and collects the redirect.
browser_leg authorize(const test::oidc_provider& provider, std::string_view client_id, std::string_view scope,
                      const std::string& tamper = {}, std::string_view endpoint_query = {}) {
    one_shot_listener listener;
    auto pkce = oauth::pkce::generate();
    REQUIRE(pkce.has_value());
    auto state = oauth::generate_state();
    REQUIRE(state.has_value());
    const std::string endpoint_text = provider.authorization_endpoint() + std::string(endpoint_query);
    auto endpoint = boost::urls::parse_uri(endpoint_text);
    REQUIRE(endpoint.has_value());
    const std::string redirect_uri = listener.redirect_uri();
    diagnostics diag;
    auto url = oauth::make_authorization_url(*endpoint, {client_id, redirect_uri, scope}, *state, *pkce, diag);
    REQUIRE(url.has_value());
    auto browser = test::run_scripted_browser(std::string(url->buffer()), tamper);
    auto callback = listener.finish();
    return {std::move(browser), std::move(callback), redirect_uri, std::move(*pkce), std::move(*state)};
}

// The code of a successful redirect (its state checked by the library's parser).
secret code_of(const browser_leg& leg) {
    REQUIRE_MESSAGE(leg.browser.exit_code == 0, leg.browser.output);
    REQUIRE(leg.callback.has_value());
    diagnostics diag;
    auto parsed = oauth::parse_authorization_callback(*leg.callback, leg.state, diag);
    REQUIRE_MESSAGE(parsed.has_value(), diag.client_message());
    return std::move(parsed->code);
}

struct token_reply {
    boost::system::error_code ec;
    unsigned status = 0;
    boost::json::object body;
    std::string www_authenticate;
};

enum class auth_method { post, basic, both };

// POSTs a form to the token endpoint, authenticating as `client_id` with `client_secret` in the
// form, in a Basic header, or (wrongly) in both.
token_reply post_token(const test::oidc_provider& provider, oauth::form_builder& form, auth_method method,
                       std::string_view client_id, std::string_view client_secret) {
    if (method != auth_method::basic) form.add("client_id", client_id).add("client_secret", client_secret);
    auto request = http::request::post(boost::urls::url(provider.token_endpoint()), form.take(),
                                       "application/x-www-form-urlencoded");
    if (method != auth_method::post) {
        // RFC 6749 section 2.3.1: each half form-encoded, then Base64.
        const std::string pair = oauth::form_encode(client_id) + ":" + oauth::form_encode(client_secret);
        request.headers.set(bhttp::field::authorization, "Basic " + takeoff::base64_encode(pair));
    }
    asio::io_context io;
    auto options = test::direct_client_options();
    options.defaults.retries = http::retry_policy::none();
    http::client client(io.get_executor(), options);
    diagnostics diag;
    auto [ec, response] = test::send(io, client, std::move(request), {}, diag);
    token_reply reply;
    reply.ec = ec;
    reply.status = response.status;
    boost::system::error_code parse_ec;
    auto json = boost::json::parse(response.body, parse_ec);
    REQUIRE_MESSAGE(!parse_ec, response.body);
    REQUIRE(json.is_object());
    reply.body = json.get_object();
    if (auto it = response.headers.find(bhttp::field::www_authenticate); it != response.headers.end())
        reply.www_authenticate = std::string(it->value);
    return reply;
}

token_reply exchange_code(const test::oidc_provider& provider, const browser_leg& leg, const secret& code,
                          auth_method method, std::string_view client_id, std::string_view client_secret,
                          std::string_view verifier) {
    oauth::form_builder form;
    form.add("grant_type", "authorization_code")
        .add("code", code.reveal())
        .add("redirect_uri", leg.redirect_uri)
        .add("code_verifier", verifier);
    return post_token(provider, form, method, client_id, client_secret);
}

token_reply refresh(const test::oidc_provider& provider, std::string_view refresh_token) {
    oauth::form_builder form;
    form.add("grant_type", "refresh_token").add("refresh_token", refresh_token);
    return post_token(provider, form, auth_method::post, provider.client_id(), provider.client_secret());
}

std::string text(const boost::json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

bool has_string(const boost::json::value& array, std::string_view wanted) {
    if (!array.is_array()) return false;
    for (const auto& item : array.get_array())
        if (item.is_string() && item.get_string() == wanted) return true;
    return false;
}

} // namespace

TEST_CASE("oidc provider: discovery lists its endpoints, S256 only, both secret methods and the refresh grant") {
    test::oidc_provider provider;
    CHECK(provider.issuer().rfind("http://127.0.0.1:", 0) == 0);
    CHECK(provider.authorization_endpoint() == provider.issuer() + "/auth");
    CHECK(provider.token_endpoint() == provider.issuer() + "/token");
    CHECK(provider.basic_client_id() == provider.client_id() + "-basic");

    asio::io_context io;
    http::client client(io.get_executor(), test::direct_client_options());
    diagnostics diag;
    auto [ec, response] = test::send(io, client, http::request::get(boost::urls::url(provider.discovery_endpoint())), {}, diag);
    REQUIRE_MESSAGE(!ec, ec.message());
    CHECK(response.status == 200);
    const auto discovery = boost::json::parse(response.body).as_object();
    CHECK(text(discovery, "issuer") == provider.issuer());
    CHECK(text(discovery, "authorization_endpoint") == provider.authorization_endpoint());
    CHECK(text(discovery, "token_endpoint") == provider.token_endpoint());
    CHECK(boost::json::serialize(discovery.at("code_challenge_methods_supported")) == R"(["S256"])");
    CHECK(boost::json::serialize(discovery.at("response_types_supported")) == R"(["code"])");
    CHECK(boost::json::serialize(discovery.at("grant_types_supported")) == R"(["authorization_code","refresh_token"])");
    CHECK(has_string(discovery.at("token_endpoint_auth_methods_supported"), "client_secret_post"));
    CHECK(has_string(discovery.at("token_endpoint_auth_methods_supported"), "client_secret_basic"));
    CHECK(boost::json::serialize(discovery.at("scopes_supported")) == R"(["openid","offline_access","refresh_token"])");
}

TEST_CASE("oidc provider: code flow by hand (client_secret_post): code at the listener, tokens, a refresh that "
          "keeps the refresh token, a used code refused") {
    test::oidc_provider_options options;
    options.access_ttl = 120s;
    test::oidc_provider provider(options);
    const auto leg = authorize(provider, provider.client_id(), "refresh_token");
    CHECK(leg.browser.output.find("/callback answered 200") != std::string::npos);
    REQUIRE(leg.callback.has_value());
    CHECK(leg.callback->rfind("/callback?code=", 0) == 0);
    // RFC 9207: oidc-provider adds its issuer to the redirect.
    CHECK(leg.callback->find("&iss=http%3A%2F%2F127.0.0.1%3A") != std::string::npos);
    const secret code = code_of(leg);

    const auto tokens = exchange_code(provider, leg, code, auth_method::post, provider.client_id(),
                                      provider.client_secret(), leg.pkce.verifier().reveal());
    REQUIRE_MESSAGE(!tokens.ec, boost::json::serialize(tokens.body));
    CHECK(tokens.status == 200);
    CHECK(!text(tokens.body, "access_token").empty());
    CHECK(!text(tokens.body, "refresh_token").empty());
    CHECK(text(tokens.body, "token_type") == "Bearer");
    CHECK(text(tokens.body, "scope") == "refresh_token");
    CHECK(tokens.body.at("expires_in") == 120);
    CHECK(!tokens.body.contains("id_token")); // no openid scope

    const auto refreshed = refresh(provider, text(tokens.body, "refresh_token"));
    REQUIRE_MESSAGE(!refreshed.ec, boost::json::serialize(refreshed.body));
    CHECK(refreshed.status == 200);
    CHECK(!text(refreshed.body, "access_token").empty());
    CHECK(text(refreshed.body, "access_token") != text(tokens.body, "access_token"));
    CHECK(text(refreshed.body, "refresh_token") == text(tokens.body, "refresh_token")); // no rotation by default
    CHECK(text(refreshed.body, "scope") == "refresh_token");
    CHECK(refreshed.body.at("expires_in") == 120);

    const auto again = exchange_code(provider, leg, code, auth_method::post, provider.client_id(),
                                     provider.client_secret(), leg.pkce.verifier().reveal());
    CHECK(again.ec == errc::http_status);
    CHECK(again.status == 400);
    CHECK(text(again.body, "error") == "invalid_grant");
    CHECK(text(again.body, "error_description") == "grant request is invalid");
}

TEST_CASE("oidc provider: snowflake_paths serves the authorize and token-request endpoints of an account URL") {
    test::oidc_provider_options options;
    options.snowflake_paths = true;
    test::oidc_provider provider(options);
    auto account = takeoff::snowflake::account_url::runtime(provider.issuer());
    REQUIRE(account.has_value());
    CHECK(account->authorization_endpoint().url() == provider.authorization_endpoint());
    CHECK(account->token_endpoint().url() == provider.token_endpoint());
    CHECK(provider.authorization_endpoint() == provider.issuer() + "/oauth/authorize");
    CHECK(provider.token_endpoint() == provider.issuer() + "/oauth/token-request");
    const auto leg = authorize(provider, provider.client_id(), "refresh_token");
    const auto tokens = exchange_code(provider, leg, code_of(leg), auth_method::post, provider.client_id(),
                                      provider.client_secret(), leg.pkce.verifier().reveal());
    CHECK(tokens.status == 200);
    CHECK(!text(tokens.body, "refresh_token").empty());
    CHECK(provider.log().find("POST /oauth/token-request -> 200") != std::string::npos);
}

TEST_CASE("oidc provider: client_secret_basic with form-encoded halves; a granted extra scope is echoed, an unknown "
          "one dropped") {
    test::oidc_provider_options options;
    options.extra_scopes = {"session:role:ANALYST"};
    test::oidc_provider provider(options);
    REQUIRE(provider.client_secret() == "s3cret/+= test"); // needs form-encoding in the Basic halves
    const auto leg = authorize(provider, provider.basic_client_id(), "refresh_token session:role:ANALYST session:role:OTHER");
    const secret code = code_of(leg);
    const auto tokens = exchange_code(provider, leg, code, auth_method::basic, provider.basic_client_id(),
                                      provider.client_secret(), leg.pkce.verifier().reveal());
    REQUIRE_MESSAGE(!tokens.ec, boost::json::serialize(tokens.body));
    CHECK(tokens.status == 200);
    CHECK(!text(tokens.body, "access_token").empty());
    CHECK(!text(tokens.body, "refresh_token").empty());
    CHECK(text(tokens.body, "scope") == "refresh_token session:role:ANALYST");
}

TEST_CASE("oidc provider: a wrong client secret is 401 invalid_client, with client_secret_post and _basic") {
    test::oidc_provider provider;
    SUBCASE("client_secret_post") {
        const auto leg = authorize(provider, provider.client_id(), "refresh_token");
        const auto reply = exchange_code(provider, leg, code_of(leg), auth_method::post, provider.client_id(),
                                         "wrong secret", leg.pkce.verifier().reveal());
        CHECK(reply.ec == errc::unauthorized);
        CHECK(reply.status == 401);
        CHECK(text(reply.body, "error") == "invalid_client");
        CHECK(text(reply.body, "error_description") == "client authentication failed");
        CHECK(reply.www_authenticate.empty());
        CHECK(provider.log().find("POST /token -> 401 invalid_client") != std::string::npos);
        CHECK(provider.log().find("client authentication failed (invalid secret provided)") != std::string::npos);
    }
    SUBCASE("client_secret_basic") {
        const auto leg = authorize(provider, provider.basic_client_id(), "refresh_token");
        const auto reply = exchange_code(provider, leg, code_of(leg), auth_method::basic, provider.basic_client_id(),
                                         "wrong secret", leg.pkce.verifier().reveal());
        CHECK(reply.ec == errc::unauthorized);
        CHECK(reply.status == 401);
        CHECK(text(reply.body, "error") == "invalid_client");
        CHECK(reply.www_authenticate ==
              "Basic realm=\"" + provider.issuer() +
                  "\", error=\"invalid_client\", error_description=\"client authentication failed\"");
    }
    SUBCASE("either method is accepted for either client; both at once is 400 invalid_request") {
        // oidc-provider treats client_secret_post and client_secret_basic as one method.
        auto leg = authorize(provider, provider.client_id(), "refresh_token");
        const auto basic = exchange_code(provider, leg, code_of(leg), auth_method::basic, provider.client_id(),
                                         provider.client_secret(), leg.pkce.verifier().reveal());
        CHECK(basic.status == 200);
        leg = authorize(provider, provider.client_id(), "refresh_token");
        const auto both = exchange_code(provider, leg, code_of(leg), auth_method::both, provider.client_id(),
                                        provider.client_secret(), leg.pkce.verifier().reveal());
        CHECK(both.ec == errc::http_status);
        CHECK(both.status == 400);
        CHECK(text(both.body, "error") == "invalid_request");
        CHECK(text(both.body, "error_description") == "client authentication must only be provided using one mechanism");
    }
}

TEST_CASE("oidc provider: a wrong code_verifier, or a challenge changed on the way, is 400 invalid_grant") {
    test::oidc_provider provider;
    SUBCASE("another verifier at the token endpoint") {
        const auto leg = authorize(provider, provider.client_id(), "refresh_token");
        auto other = oauth::pkce::generate();
        REQUIRE(other.has_value());
        const auto reply = exchange_code(provider, leg, code_of(leg), auth_method::post, provider.client_id(),
                                         provider.client_secret(), other->verifier().reveal());
        CHECK(reply.ec == errc::http_status);
        CHECK(reply.status == 400);
        CHECK(text(reply.body, "error") == "invalid_grant");
        CHECK(text(reply.body, "error_description") == "grant request is invalid");
    }
    SUBCASE("the browser swaps the code_challenge (TAKEOFF_BROWSER_TAMPER=code_challenge)") {
        const auto leg = authorize(provider, provider.client_id(), "refresh_token", "code_challenge");
        const auto reply = exchange_code(provider, leg, code_of(leg), auth_method::post, provider.client_id(),
                                         provider.client_secret(), leg.pkce.verifier().reveal());
        CHECK(reply.status == 400);
        CHECK(text(reply.body, "error") == "invalid_grant");
    }
    CHECK(provider.log().find("PKCE verification failed") != std::string::npos);
}

TEST_CASE("oidc provider: rotation on (--rotate-refresh-tokens): a new refresh token each time, the old one then "
          "invalid_grant") {
    test::oidc_provider_options options;
    options.rotate_refresh_tokens = true;
    test::oidc_provider provider(options);
    const auto leg = authorize(provider, provider.client_id(), "refresh_token");
    const auto tokens = exchange_code(provider, leg, code_of(leg), auth_method::post, provider.client_id(),
                                      provider.client_secret(), leg.pkce.verifier().reveal());
    REQUIRE(tokens.status == 200);
    const std::string first = text(tokens.body, "refresh_token");
    REQUIRE(!first.empty());
    const auto refreshed = refresh(provider, first);
    CHECK(refreshed.status == 200);
    const std::string second = text(refreshed.body, "refresh_token");
    CHECK(!second.empty());
    CHECK(second != first);
    const auto reused = refresh(provider, first);
    CHECK(reused.status == 400);
    CHECK(text(reused.body, "error") == "invalid_grant");
}

TEST_CASE("oidc provider: offline_access gives a refresh token only with prompt=consent; openid adds an id_token") {
    test::oidc_provider provider;
    SUBCASE("openid offline_access without prompt: offline_access dropped") {
        const auto leg = authorize(provider, provider.client_id(), "openid offline_access");
        const auto tokens = exchange_code(provider, leg, code_of(leg), auth_method::post, provider.client_id(),
                                          provider.client_secret(), leg.pkce.verifier().reveal());
        CHECK(tokens.status == 200);
        CHECK(text(tokens.body, "scope") == "openid");
        CHECK(!tokens.body.contains("refresh_token"));
        CHECK(!text(tokens.body, "id_token").empty());
    }
    SUBCASE("openid offline_access with prompt=consent in the endpoint's query") {
        const auto leg = authorize(provider, provider.client_id(), "openid offline_access", {}, "?prompt=consent");
        const auto tokens = exchange_code(provider, leg, code_of(leg), auth_method::post, provider.client_id(),
                                          provider.client_secret(), leg.pkce.verifier().reveal());
        CHECK(tokens.status == 200);
        CHECK(text(tokens.body, "scope") == "openid offline_access");
        CHECK(!text(tokens.body, "refresh_token").empty());
        CHECK(!text(tokens.body, "id_token").empty());
    }
}

TEST_CASE("oidc provider: a state changed on the way back is the library's state_mismatch; --deny is access_denied") {
    SUBCASE("TAKEOFF_BROWSER_TAMPER=state") {
        test::oidc_provider provider;
        const auto leg = authorize(provider, provider.client_id(), "refresh_token", "state");
        REQUIRE_MESSAGE(leg.browser.exit_code == 0, leg.browser.output);
        REQUIRE(leg.callback.has_value());
        CHECK(leg.callback->find("-tampered") != std::string::npos);
        diagnostics diag;
        auto parsed = oauth::parse_authorization_callback(*leg.callback, leg.state, diag);
        CHECK(parsed.error() == errc::state_mismatch);
    }
    SUBCASE("--deny") {
        test::oidc_provider_options options;
        options.deny = true;
        test::oidc_provider provider(options);
        const auto leg = authorize(provider, provider.client_id(), "refresh_token");
        REQUIRE_MESSAGE(leg.browser.exit_code == 0, leg.browser.output);
        REQUIRE(leg.callback.has_value());
        diagnostics diag;
        auto parsed = oauth::parse_authorization_callback(*leg.callback, leg.state, diag);
        CHECK(parsed.error() == errc::access_denied);
        CHECK(diag.server_error_code() == "access_denied");
        CHECK(diag.server_message() == "the test provider was started with --deny");
    }
}

TEST_CASE("oidc provider: the scripted browser runs as $BROWSER, fails on an error page and refuses non-loopback hosts") {
    test::oidc_provider provider;
    SUBCASE("an unregistered redirect_uri: the server's error page, no redirect, nothing at the listener") {
        one_shot_listener listener;
        auto pkce = oauth::pkce::generate();
        auto state = oauth::generate_state();
        REQUIRE((pkce.has_value() && state.has_value()));
        diagnostics diag;
        const std::string other = "http://127.0.0.1:" + std::to_string(listener.port()) + "/elsewhere";
        auto url = oauth::make_authorization_url(*boost::urls::parse_uri(provider.authorization_endpoint()),
                                                 {provider.client_id(), other, "refresh_token"}, *state, *pkce, diag);
        REQUIRE(url.has_value());
        const auto browser = test::run_scripted_browser(std::string(url->buffer()));
        CHECK(!listener.finish().has_value());
        CHECK(browser.exit_code == 1);
        CHECK(browser.output.find("/auth answered 400 without a redirect") != std::string::npos);
        CHECK(browser.output.find("invalid_redirect_uri: redirect_uri did not match any of the client's registered "
                                  "redirect_uris") != std::string::npos);
    }
    SUBCASE("run by its path with only the URL, as $BROWSER: it reaches the listener") {
        one_shot_listener listener;
        auto pkce = oauth::pkce::generate();
        auto state = oauth::generate_state();
        REQUIRE((pkce.has_value() && state.has_value()));
        diagnostics diag;
        auto url = oauth::make_authorization_url(*boost::urls::parse_uri(provider.authorization_endpoint()),
                                                 {provider.client_id(), listener.redirect_uri(), "refresh_token"},
                                                 *state, *pkce, diag);
        REQUIRE(url.has_value());
        const auto browser = test::run_process({test::scripted_browser_path().string(), std::string(url->buffer())});
        const auto callback = listener.finish();
        CHECK(browser.exit_code == 0);
        CHECK(browser.output ==
              "browser.mjs: http://127.0.0.1:" + std::to_string(listener.port()) + "/callback answered 200\n");
        REQUIRE(callback.has_value());
        CHECK(callback->rfind("/callback?code=", 0) == 0);
    }
    SUBCASE("a host that is not loopback is refused before any connection") {
        const auto browser = test::run_scripted_browser("http://oauth.invalid/authorize");
        CHECK(browser.exit_code == 1);
        CHECK(browser.output ==
              "browser.mjs: refusing to connect to \"oauth.invalid\": only 127.0.0.1, localhost and [::1]\n");
    }
    SUBCASE("a redirect_uri whose host is not loopback is refused before any connection") {
        const auto browser = test::run_scripted_browser(
            "http://127.0.0.1:1/auth?redirect_uri=" + std::string("https%3A%2F%2Fexample.invalid%2Fcb"));
        CHECK(browser.exit_code == 1);
        CHECK(browser.output.find("refusing to connect to \"example.invalid\"") != std::string::npos);
    }
}

TEST_CASE("oidc provider: missing node is a failure that says how to install it, not a skip") {
    const char* saved = std::getenv("PATH");
    const std::string path = saved ? saved : "";
    test::temp_directory empty("takeoff-no-node");
    ::setenv("PATH", empty.path().c_str(), 1);
    std::string message;
    try {
        test::oidc_provider provider;
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    ::setenv("PATH", path.c_str(), 1);
    CHECK(message.find("`node` is not on PATH") != std::string::npos);
    CHECK(message.find("tools/run-tests.sh") != std::string::npos);
}

TEST_CASE("oidc provider: a server that exits before listening is an exception with its stderr") {
    test::oidc_provider_options options;
    options.redirect_uris.clear();
    std::string message;
    try {
        test::oidc_provider provider(options);
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    CHECK(message.find("provider.mjs exited before listening") != std::string::npos);
    CHECK(message.find("provider.mjs: at least one --redirect-uri is required") != std::string::npos);
}

// The credential providers against the emulated Snowflake account and SPCS ingress, over HTTPS:
// OAuth -> session token (the default), its refresh paths (expiry known to the client, 390318 at
// login, a session the ingress rejects), a refused refresh token, the second client secret,
// OAuth-direct and key-pair. Expiry is driven by clocks (the emulator's advance_clock and the
// provider's injected clock), never by waiting.
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/token_store.hpp>
#include <takeoff/snowflake/providers.hpp>
#include <takeoff/snowflake/send.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/snowflake.hpp>

#include "../support/client_helpers.hpp"
#include "../support/emulated_account.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
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

// The emulated account (tests/support/emulated_account.hpp), a token store, and a clock for the
// providers that tests move on.
struct account_fixture : takeoff::test::emulated_account {
    oauth::memory_token_store store;
    std::shared_ptr<std::chrono::seconds> offset = std::make_shared<std::chrono::seconds>(0);

    using emulated_account::emulated_account;

    snowflake::refresh_settings refresh() const {
        snowflake::refresh_settings s;
        s.clock = [offset = offset] { return oauth::token_clock::now() + *offset; };
        return s;
    }
};

// An oauth_session signed in as the browser flow would leave it.
std::unique_ptr<snowflake::oauth_session> signed_in(account_fixture& f, const oauth::client_config& config) {
    auto session = std::make_unique<snowflake::oauth_session>(f.client, config, &f.store, f.key());
    takeoff::diagnostics diag;
    REQUIRE_FALSE(session->set_tokens(f.signed_in_tokens(), diag));
    return session;
}

using send_result = std::tuple<boost::system::error_code, http::response>;

send_result send_app(account_fixture& f, snowflake::token_provider& provider, takeoff::diagnostics& diag) {
    std::optional<send_result> out;
    snowflake::async_send(f.client, provider, takeoff::test::get(f.server, "/app"), diag,
                          [&out](boost::system::error_code ec, http::response r) { out.emplace(ec, std::move(r)); });
    f.io.restart();
    f.io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

std::tuple<boost::system::error_code, snowflake::credential> get_token(account_fixture& f,
                                                                       snowflake::token_provider& provider,
                                                                       takeoff::diagnostics& diag) {
    std::optional<std::tuple<boost::system::error_code, snowflake::credential>> out;
    provider.async_get_token(diag, [&out](boost::system::error_code ec, snowflake::credential c) {
        out.emplace(ec, std::move(c));
    });
    f.io.restart();
    f.io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

} // namespace

TEST_CASE("session provider over HTTPS: a signed-in OAuth token becomes a session token the ingress accepts; one login serves two requests") {
    account_fixture f;
    auto session = signed_in(f, f.oauth_client());
    snowflake::session_token_provider provider(f.client, *session, f.url(), f.login(), f.refresh());

    for (int i = 0; i < 2; ++i) {
        takeoff::diagnostics diag;
        auto [ec, resp] = send_app(f, provider, diag);
        REQUIRE_MESSAGE(!ec, diag.client_message());
        CHECK(resp.body == "hello");
    }
    CHECK(f.account.login_requests() == 1);
    CHECK(f.account.token_requests() == 0);
    CHECK(f.account.ingress_accepted() == 2);
    const auto log = f.server.requests();
    REQUIRE(log.size() == 3);
    CHECK(log[0].target.rfind("/session/v1/login-request?request_id=", 0) == 0);
    CHECK(log[1].header("authorization")->rfind("Snowflake Token=\"", 0) == 0);
}

TEST_CASE("session provider: an access token the client knows has expired is refreshed first: one refresh grant, one login, the new tokens stored") {
    account_fixture f;
    auto session = signed_in(f, f.oauth_client());
    takeoff::diagnostics before_diag;
    const auto before = *session->tokens(before_diag);
    snowflake::session_token_provider provider(f.client, *session, f.url(), f.login(), f.refresh());

    *f.offset = 700s;
    f.account.advance_clock(700s);
    takeoff::diagnostics diag;
    auto [ec, credential] = get_token(f, provider, diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    CHECK(f.account.refresh_grants() == 1);
    CHECK(f.account.login_requests() == 1);

    takeoff::diagnostics load_diag;
    auto stored = f.store.load(f.key(), load_diag);
    REQUIRE(stored.has_value());
    REQUIRE(stored->has_value());
    CHECK_FALSE((*stored)->access_token == before.access_token);
    CHECK((*stored)->refresh_token == before.refresh_token); // no rotation: the refresh token is kept
}

TEST_CASE("session provider: a login refused with 390318 (expired) refreshes the access token and logs in once more") {
    account_fixture f;
    auto session = signed_in(f, f.oauth_client());
    snowflake::session_token_provider provider(f.client, *session, f.url(), f.login(), f.refresh());

    f.account.advance_clock(700s); // only the account's clock: the client still thinks the token is fresh
    takeoff::diagnostics diag;
    auto [ec, credential] = get_token(f, provider, diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    CHECK(f.account.login_requests() == 2);
    CHECK(f.account.refresh_grants() == 1);
    CHECK(credential.expires_at.has_value());
}

TEST_CASE("async_send: a session the ingress rejects as expired (401) is replaced through refresh and login, and the request goes through") {
    account_fixture f;
    auto session = signed_in(f, f.oauth_client());
    snowflake::session_token_provider provider(f.client, *session, f.url(), f.login(), f.refresh());

    takeoff::diagnostics diag;
    REQUIRE_FALSE(std::get<0>(send_app(f, provider, diag)));
    f.account.advance_clock(3700s); // session and access token expired on the account's side only
    auto [ec, resp] = send_app(f, provider, diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    CHECK(resp.body == "hello");
    CHECK(f.account.ingress_rejections() == 1);
    CHECK(f.account.login_requests() == 3); // the first session; 390318; the new session
    CHECK(f.account.refresh_grants() == 1);
    CHECK(f.account.ingress_accepted() == 2);
}

TEST_CASE("a refused refresh token ends in token_unavailable saying to sign in again, and the store forgets the tokens") {
    account_fixture f;
    auto session = signed_in(f, f.oauth_client());
    snowflake::session_token_provider provider(f.client, *session, f.url(), f.login(), f.refresh());

    f.account.revoke_refresh_tokens();
    *f.offset = 700s;
    takeoff::diagnostics diag;
    auto [ec, credential] = get_token(f, provider, diag);
    CHECK(ec == errc::token_unavailable);
    CHECK(diag.client_message() ==
          "the token endpoint refused the refresh token (invalid_grant: expired, revoked or already used): sign in "
          "again");
    CHECK(diag.http_status() == 400);
    CHECK(f.account.login_requests() == 0);

    takeoff::diagnostics load_diag;
    auto stored = f.store.load(f.key(), load_diag);
    REQUIRE(stored.has_value());
    CHECK_FALSE(stored->has_value());
}

TEST_CASE("session provider without a sign-in: token_unavailable naming the account and what to do, nothing sent") {
    account_fixture f;
    snowflake::oauth_session session(f.client, f.oauth_client(), &f.store, f.key());
    snowflake::session_token_provider provider(f.client, session, f.url(), f.login(), f.refresh());
    takeoff::diagnostics diag;
    auto [ec, credential] = get_token(f, provider, diag);
    CHECK(ec == errc::token_unavailable);
    CHECK(diag.client_message() ==
          "not signed in to " + f.url().base() + " with this client and scope: sign in first with the browser (oauth::async_sign_in)");
    CHECK(f.server.requests().empty());
}

TEST_CASE("refresh: a first secret refused with invalid_client is retried once with the second secret") {
    account_fixture f;
    auto config = f.oauth_client();
    config.client_secret_2 = config.client_secret;
    config.client_secret = takeoff::secret("rotated-away");
    auto session = signed_in(f, config);
    snowflake::session_token_provider provider(f.client, *session, f.url(), f.login(), f.refresh());

    *f.offset = 700s;
    f.account.advance_clock(700s);
    takeoff::diagnostics diag;
    auto [ec, credential] = get_token(f, provider, diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    CHECK(f.account.token_requests() == 2);
    CHECK(f.account.refresh_grants() == 2);
    const auto log = f.server.requests();
    REQUIRE(log.size() == 3);
    CHECK(log[0].body.find("client_secret=rotated-away") != std::string::npos);
    CHECK(log[1].body.find("client_secret=emulator%2Fsecret%2B1%3D") != std::string::npos);
}

TEST_CASE("oauth-direct: the access token itself is the credential; an ingress configured to accept it lets it through") {
    emu::snowflake_options options;
    options.accept_oauth_access_token_at_ingress = true;
    account_fixture f(options);
    auto session = signed_in(f, f.oauth_client());
    snowflake::oauth_token_provider provider(f.client, *session, f.refresh());

    takeoff::diagnostics diag;
    auto [ec, resp] = send_app(f, provider, diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    CHECK(resp.body == "hello");
    CHECK(f.account.login_requests() == 0);
    const auto log = f.server.requests();
    REQUIRE(log.size() == 1);
    takeoff::diagnostics load_diag;
    const auto tokens = session->tokens(load_diag);
    CHECK(log[0].header("authorization") == "Snowflake Token=\"" + std::string(tokens->access_token.reveal()) + "\"");
}

namespace {

// An RSA key made for the test, as a PEM private key and PEM public key.
struct test_rsa_key {
    std::string private_pem;
    std::string public_pem;
    test_rsa_key() {
        std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), &EVP_PKEY_free};
        REQUIRE(key);
        private_pem = write([&](BIO* bio) { return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
        public_pem = write([&](BIO* bio) { return PEM_write_bio_PUBKEY(bio, key.get()); });
    }
    template <class Write>
    static std::string write(Write w) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
        REQUIRE(w(bio.get()) == 1);
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(size));
    }
};

} // namespace

TEST_CASE("keypair provider: a key-pair JWT exchanged at /oauth/token gives an ingress token with its expiry, which the ingress accepts") {
    const test_rsa_key key;
    emu::snowflake_options options;
    options.keypair_public_key_pem = key.public_pem;
    account_fixture f(options);
    takeoff::diagnostics key_diag;
    auto private_key = snowflake::private_key::from_pem(key.private_pem, key_diag);
    REQUIRE(private_key);

    snowflake::keypair_settings settings;
    settings.user = "emulator_user";
    settings.ingress_host = "abc-org-acct.snowflakecomputing.app";
    settings.role = "ANALYST";
    settings.account_identifier = "EMULATOR";
    snowflake::keypair_token_provider provider(f.client, f.url(), std::move(*private_key), settings, f.refresh());

    takeoff::diagnostics diag;
    auto [ec, resp] = send_app(f, provider, diag);
    REQUIRE_MESSAGE(!ec, diag.client_message());
    CHECK(resp.body == "hello");
    CHECK(f.account.jwt_exchanges() == 1);
    const auto log = f.server.requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0].target == "/oauth/token");
    CHECK(log[0].body.find("scope=session%3Arole%3AANALYST+abc-org-acct.snowflakecomputing.app") != std::string::npos);
    const auto cached = provider.cached();
    REQUIRE(cached);
    REQUIRE(cached->expires_at);
    // The emulator's ingress tokens live 3600 s; the expiry comes from the token's own exp claim.
    const auto left = *cached->expires_at - oauth::token_clock::now();
    CHECK(left > 3500s);
    CHECK(left <= 3600s);
}

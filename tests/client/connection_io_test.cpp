// snowflake::connection: a connection_config made into a ready takeoff::client, for each auth mode,
// against the emulated account (tests/support/emulated_account.hpp: HTTPS with a test CA) whose
// SPCS ingress guards the emulated Takeoff. The CA reaches the client the way a user's does: the
// configuration's ca_file.

#include <takeoff/connection.hpp>
#include <takeoff_emulator/generation.hpp>
#include <takeoff_emulator/takeoff.hpp>

#include "../support/emulated_account.hpp"
#include "../support/process.hpp"
#include "../support/takeoff_site.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace emu = takeoff::emulator;
namespace snowflake = takeoff::snowflake;
namespace api = takeoff::api;
using takeoff::errc;
using takeoff::test::run;

using takeoff::test::tuple;

namespace {

// The emulated account with the Takeoff routes behind its ingress, and a config file's worth of
// settings pointing at it.
struct secured_site : takeoff::test::emulated_account {
    emu::takeoff_emulator takeoff;
    takeoff::test::temp_directory directory{"takeoff-connection"};
    std::string ca_file = (directory.path() / "ca.pem").string();

    explicit secured_site(emu::snowflake_options options = {}) : emulated_account(std::move(options)) {
        auto guard = [this](emu::handler h) { return account.ingress(std::move(h)); };
        takeoff.install_inference(server, "", guard);
        takeoff.install_openai(server, "", guard);
        takeoff.install_management(server, "/management", guard);
        std::ofstream(ca_file) << authority.certificate_pem();
    }

    snowflake::connection_config config(snowflake::auth_mode mode) const {
        snowflake::connection_config c;
        c.auth = mode;
        c.account_url = server.url();
        c.endpoint_url = server.url();
        c.management_url = server.url() + "/management";
        c.openai_url = server.url();
        c.ca_file = ca_file;
        const auto o = account.options();
        c.oauth.client_id = o.client_id;
        c.oauth.client_secret = takeoff::secret(o.client_secret);
        c.oauth.scope = takeoff::test::account_scope;
        c.oauth.redirect_uri = "http://127.0.0.1:8765/callback";
        return c;
    }

    // Connection options for the tests: no proxy from the environment, the login's account name,
    // and `store` for the OAuth tokens.
    snowflake::connection_options options(takeoff::oauth::token_store* store = nullptr) const {
        snowflake::connection_options o;
        o.http.proxy_from_environment = false;
        o.login = login();
        o.token_store = store;
        return o;
    }
};

} // namespace

TEST_CASE("connection: auth \"oauth\" (the default) with stored tokens: requests carry the session token the ingress accepts") {
    secured_site site;
    takeoff::oauth::memory_token_store store;
    takeoff::diagnostics diag;
    REQUIRE_FALSE(store.save(site.key(), site.signed_in_tokens(), diag));
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), site.config(snowflake::auth_mode::oauth), diag,
                                            site.options(&store));
    REQUIRE_MESSAGE(made, diag.client_message());
    auto& conn = **made;
    CHECK(conn.signed_in());
    REQUIRE(conn.session() != nullptr);
    std::string text;
    std::vector<std::string> tokens;
    run(io, [&]() -> asio::awaitable<void> {
        text = co_await conn.client().async_generate(api::generate("behind the ingress").max_new_tokens(4));
        auto stream = co_await conn.client().async_generate_stream(api::generate_stream("streamed").max_new_tokens(3));
        while (auto t = co_await stream.async_next()) tokens.push_back(*t);
    });
    CHECK(text == emu::generated_text("behind the ingress", 4));
    CHECK(tokens == emu::generated_tokens("streamed", 3));
    CHECK(site.account.login_requests() == 1); // one session token for both requests
    CHECK(site.account.ingress_accepted() == 2);
    CHECK(site.account.ingress_rejections() == 0);
}

TEST_CASE("connection: auth \"oauth\" without stored tokens fails with errc::token_unavailable, and the ingress sees nothing") {
    secured_site site;
    takeoff::oauth::memory_token_store store;
    takeoff::diagnostics diag;
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), site.config(snowflake::auth_mode::oauth), diag,
                                            site.options(&store));
    REQUIRE(made);
    CHECK_FALSE((*made)->signed_in());
    boost::system::error_code ec;
    run(io, [&]() -> asio::awaitable<void> {
        auto [e, text] = co_await (*made)->client().async_generate(api::generate("x"), diag, tuple);
        ec = e;
    });
    CHECK(ec == errc::token_unavailable);
    CHECK(site.server.request_count() == 0);
}

TEST_CASE("connection: auth \"oauth-direct\" sends the OAuth access token itself") {
    emu::snowflake_options options;
    options.accept_oauth_access_token_at_ingress = true;
    secured_site site(options);
    takeoff::oauth::memory_token_store store;
    takeoff::diagnostics diag;
    REQUIRE_FALSE(store.save(site.key(), site.signed_in_tokens(), diag));
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), site.config(snowflake::auth_mode::oauth_direct), diag,
                                            site.options(&store));
    REQUIRE_MESSAGE(made, diag.client_message());
    std::string text;
    run(io, [&]() -> asio::awaitable<void> { text = co_await (*made)->client().async_generate("direct"); });
    CHECK(text == emu::generated_text("direct", 16));
    CHECK(site.account.login_requests() == 0);
    CHECK(site.account.ingress_accepted() == 1);
}

TEST_CASE("connection: auth \"pat\" sends the programmatic access token; a rejected one is not sent twice") {
    emu::snowflake_options options;
    options.programmatic_access_tokens = {"pat-for-the-emulator"};
    secured_site site(options);
    auto config = site.config(snowflake::auth_mode::pat);
    config.pat = takeoff::secret("pat-for-the-emulator");
    takeoff::diagnostics diag;
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), config, diag, site.options());
    REQUIRE_MESSAGE(made, diag.client_message());
    CHECK((*made)->signed_in());
    std::string text;
    run(io, [&]() -> asio::awaitable<void> { text = co_await (*made)->client().async_generate("pat"); });
    CHECK(text == emu::generated_text("pat", 16));
    CHECK(site.server.requests().back().header("Authorization") == std::string(R"(Snowflake Token="pat-for-the-emulator")"));

    config.pat = takeoff::secret("a-wrong-pat");
    auto wrong = snowflake::connection::make(io.get_executor(), config, diag, site.options());
    REQUIRE(wrong);
    boost::system::error_code ec;
    const auto before = site.account.ingress_rejections();
    run(io, [&]() -> asio::awaitable<void> {
        auto [e, text2] = co_await (*wrong)->client().async_generate(api::generate("x"), diag, tuple);
        ec = e;
    });
    CHECK(ec == errc::unauthorized);
    CHECK(site.account.ingress_rejections() == before + 1);
}

TEST_CASE("connection: auth \"keypair\" reads the key file and exchanges a JWT for an ingress token") {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), &EVP_PKEY_free};
    REQUIRE(key);
    auto pem = [&](bool is_private) {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
        REQUIRE((is_private ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)
                            : PEM_write_bio_PUBKEY(bio.get(), key.get())) == 1);
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(size));
    };
    emu::snowflake_options options;
    options.keypair_public_key_pem = pem(false);
    secured_site site(options);
    const auto key_file = site.directory.path() / "rsa_key.p8";
    std::ofstream(key_file) << pem(true);
    auto config = site.config(snowflake::auth_mode::keypair);
    config.keypair.user = "EMULATOR_USER";
    config.keypair.private_key_file = key_file.string();
    auto conn_options = site.options();
    conn_options.keypair_account_identifier = "EMULATOR";
    takeoff::diagnostics diag;
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), config, diag, conn_options);
    REQUIRE_MESSAGE(made, diag.client_message());
    std::string text;
    run(io, [&]() -> asio::awaitable<void> { text = co_await (*made)->client().async_generate("keypair"); });
    CHECK(text == emu::generated_text("keypair", 16));
    CHECK(site.account.jwt_exchanges() == 1);

    config.keypair.private_key_file = (site.directory.path() / "missing.p8").string();
    auto missing = snowflake::connection::make(io.get_executor(), config, diag, conn_options);
    REQUIRE_FALSE(missing);
    CHECK(missing.error() == errc::invalid_argument);
    CHECK(diag.client_message().rfind("keypair.private_key_file: ", 0) == 0);
    CHECK(diag.client_message().find("missing.p8") != std::string::npos);
}

TEST_CASE("connection: auth \"none\" sends no credential; an invalid configuration is refused naming the field") {
    takeoff::test::takeoff_site site;
    snowflake::connection_config config;
    config.auth = snowflake::auth_mode::none;
    config.endpoint_url = site.server.url();
    takeoff::diagnostics diag;
    asio::io_context io;
    snowflake::connection_options options;
    options.http.proxy_from_environment = false;
    auto made = snowflake::connection::make(io.get_executor(), config, diag, options);
    REQUIRE_MESSAGE(made, diag.client_message());
    CHECK((*made)->provider() == nullptr);
    CHECK((*made)->session() == nullptr);
    std::string text;
    run(io, [&]() -> asio::awaitable<void> { text = co_await (*made)->client().async_generate("local"); });
    CHECK(text == emu::generated_text("local", 16));
    CHECK_FALSE(site.server.requests().back().header("Authorization").has_value());

    config.endpoint_url = "ftp://example.com";
    auto bad = snowflake::connection::make(io.get_executor(), config, diag, options);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == errc::invalid_url);
    CHECK(diag.client_message().rfind("endpoint_url", 0) == 0);
}

TEST_CASE("connection: a stream whose session token the ingress no longer accepts is opened once more with a new one") {
    secured_site site;
    takeoff::oauth::memory_token_store store;
    takeoff::diagnostics diag;
    REQUIRE_FALSE(store.save(site.key(), site.signed_in_tokens(), diag));
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), site.config(snowflake::auth_mode::oauth), diag,
                                            site.options(&store));
    REQUIRE_MESSAGE(made, diag.client_message());
    std::vector<std::string> first, second;
    run(io, [&]() -> asio::awaitable<void> {
        auto request = api::generate_stream("before").max_new_tokens(2);
        auto stream = co_await (*made)->client().async_generate_stream(request);
        while (auto t = co_await stream.async_next()) first.push_back(*t);
        // Two hours later by the account's clock: the session token (and the access token) expired
        // there, though the client's clock says the session token is still good.
        site.account.advance_clock(std::chrono::hours(2));
        auto again = api::generate_stream("after").max_new_tokens(2);
        auto renewed = co_await (*made)->client().async_generate_stream(again);
        while (auto t = co_await renewed.async_next()) second.push_back(*t);
    });
    CHECK(first == emu::generated_tokens("before", 2));
    CHECK(second == emu::generated_tokens("after", 2));
    CHECK(site.account.ingress_rejections() == 1); // the expired session token, once
    CHECK(site.account.login_requests() >= 2);     // a new session token was made
    CHECK(site.account.refresh_grants() == 1);     // from a refreshed access token
}

TEST_CASE("connection: a call's own request decorator runs too; the credential is added after it") {
    emu::snowflake_options options;
    options.programmatic_access_tokens = {"pat-for-the-emulator"};
    secured_site site(options);
    auto config = site.config(snowflake::auth_mode::pat);
    config.pat = takeoff::secret("pat-for-the-emulator");
    takeoff::diagnostics diag;
    asio::io_context io;
    auto made = snowflake::connection::make(io.get_executor(), config, diag, site.options());
    REQUIRE_MESSAGE(made, diag.client_message());
    takeoff::http::request_options per_call;
    per_call.decorate = [](takeoff::http::attempt_context& attempt, takeoff::http::decorate_handler done) {
        attempt.headers.append("X-Request-Id", "call-42");
        std::move(done)(boost::system::error_code{});
    };
    std::string text;
    run(io, [&]() -> asio::awaitable<void> {
        auto request = api::generate("decorated").max_new_tokens(2);
        text = co_await (*made)->client().async_send(request, per_call, diag);
    });
    CHECK(text == emu::generated_text("decorated", 2));
    const auto sent = site.server.requests().back();
    CHECK(sent.header("X-Request-Id") == std::string("call-42"));
    CHECK(sent.header("Authorization") == std::string(R"(Snowflake Token="pat-for-the-emulator")"));
}

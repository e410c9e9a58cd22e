#pragma once
// The emulated Snowflake account as the sign-in and credential tests (and bench/token_refresh) use
// it: the emulator's Snowflake side over HTTPS with a test CA, a service behind its ingress
// (GET /app answers "hello"), a client that trusts the CA, the OAuth client of the account, and
// tokens as a browser sign-in would leave them.

#include <takeoff/http/client.hpp>
#include <takeoff/oauth/token.hpp>
#include <takeoff/oauth/token_set.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/login.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/snowflake.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>

namespace takeoff::test {

/// The scope the account's tests sign in with.
inline constexpr const char* account_scope = "refresh_token session:role:ANALYST";

/// Client options that trust `authority` alone and go straight to the loopback peer.
inline http::client_options trusting(const emulator::certificate_authority& authority) {
    http::client_options o;
    o.proxy_from_environment = false;
    o.tls.use_system_trust = false;
    o.tls.ca_pem = authority.certificate_pem();
    return o;
}

/// The emulated account over HTTPS with an ingress-protected GET /app, and a client on `io`.
struct emulated_account {
    emulator::certificate_authority authority;
    emulator::server server{emulator::server_options{authority.issue()}};
    emulator::snowflake_emulator account;
    boost::asio::io_context io;
    http::client client;

    explicit emulated_account(emulator::snowflake_options options = {})
        : emulated_account(std::move(options), [](http::client_options&) {}) {}

    /// `adjust` changes the client's options (single_threaded_executor for a benchmark, say).
    template <class Adjust>
    emulated_account(emulator::snowflake_options options, Adjust adjust)
        : account(std::move(options)), client(io.get_executor(), adjusted(authority, adjust)) {
        account.install(server);
        server.route(boost::beast::http::verb::get, "/app",
                     account.ingress(emulator::behaviours::respond(boost::beast::http::status::ok, "hello", "text/plain")));
    }

    snowflake::account_url url() const { return snowflake::account_url::runtime(server.url()).value(); }

    /// The account's OAuth client (its id and first secret) asking for account_scope.
    oauth::client_config oauth_client(oauth::client_auth_method method = oauth::client_auth_method::client_secret_post,
                                      std::string redirect_uri = "http://127.0.0.1/callback") const {
        const auto options = account.options();
        return oauth::client_config{url().authorization_endpoint(),
                                    url().token_endpoint(),
                                    options.client_id,
                                    secret(options.client_secret),
                                    std::nullopt,
                                    method,
                                    account_scope,
                                    std::move(redirect_uri),
                                    {}};
    }

    /// Where the account's tokens are stored.
    oauth::token_key key() const { return {url().base(), account.options().client_id, account_scope}; }

    /// The login parameters for the emulator (a loopback account URL names no account).
    snowflake::login_parameters login() const {
        snowflake::login_parameters p;
        p.account_name = account.options().account_name;
        return p;
    }

    /// Tokens as a browser sign-in would leave them (the emulator issues them directly), living
    /// 600 s from now by the client's clock.
    oauth::token_set signed_in_tokens() {
        const auto issued = account.issue_tokens(account_scope);
        oauth::token_set tokens;
        tokens.access_token = secret(issued.access_token);
        tokens.expires_at = oauth::token_clock::now() + std::chrono::seconds(600);
        if (issued.refresh_token) tokens.refresh_token = secret(*issued.refresh_token);
        tokens.scope = account_scope;
        return tokens;
    }

private:
    template <class Adjust>
    static http::client_options adjusted(const emulator::certificate_authority& authority, Adjust& adjust) {
        auto o = trusting(authority);
        adjust(o);
        return o;
    }
};

} // namespace takeoff::test

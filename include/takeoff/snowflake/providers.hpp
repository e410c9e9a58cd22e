#pragma once
// The credential providers that make their credentials (credential.hpp has the interface, the
// single-flight refresh and the static token):
//
// - session_token_provider (auth "oauth", the default): the OAuth access token is exchanged at
//   <account>/session/v1/login-request (AUTHENTICATOR=OAUTH, as the Dataiku plugin does) for a
//   session token, which the ingress accepts as `Snowflake Token="..."`. A login refused with
//   390318 (access token expired) or 390303 (invalid) refreshes the access token and logs in once
//   more.
// - oauth_token_provider (auth "oauth-direct"): the OAuth access token itself is the credential,
//   for deployments whose ingress accepts it (reference: snowflake-auth.md section 10, question 2).
// - keypair_token_provider (auth "keypair"): an RS256 JWT signed with the user's key is exchanged
//   at <account>/oauth/token (jwt-bearer grant, scope = optional role + the ingress host) for a
//   token of that ingress host.
//
// The two OAuth providers share oauth_session: the token set of one sign-in, loaded from a token
// store at first use, refreshed with the refresh token when the access token expires, saved back
// after each change, and erased when the refresh token is refused (the user must sign in again,
// and errc::token_unavailable says so).

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/token_client.hpp>
#include <takeoff/oauth/token_set.hpp>
#include <takeoff/oauth/token_store.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff/snowflake/keypair.hpp>
#include <takeoff/snowflake/login.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace takeoff::snowflake {

/// The OAuth tokens of one sign-in, as the OAuth providers use them. Thread-safe.
class oauth_session {
public:
    /// An access token is refreshed when it has less than this left (the login request that
    /// follows takes well under a second).
    static constexpr std::chrono::seconds access_token_margin{30};

    /// `store` (may be null: memory only) keeps the tokens under `key` between runs; it must
    /// outlive the session. The client must outlive the session's operations.
    oauth_session(http::client& client, oauth::client_config config, oauth::token_store* store, oauth::token_key key)
        : client_(client), config_(std::move(config)), store_(store), key_(std::move(key)) {}

    const oauth::client_config& config() const noexcept { return config_; }
    const oauth::token_key& key() const noexcept { return key_; }

    /// Replaces the tokens (after a sign-in) and saves them to the store; diag says why a save failed.
    boost::system::error_code set_tokens(oauth::token_set tokens, diagnostics& diag) {
        std::lock_guard lock(mutex_);
        tokens_ = std::move(tokens);
        return save_locked(diag);
    }

    /// Forgets the tokens, here and in the store (sign out); diag says why the store failed.
    boost::system::error_code forget(diagnostics& diag) {
        std::lock_guard lock(mutex_);
        tokens_.reset();
        loaded_ = true;
        if (!store_) return {};
        return store_->erase(key_, diag);
    }

    /// The tokens held (loaded from the store if none are yet); empty when not signed in.
    std::optional<oauth::token_set> tokens(diagnostics& diag) {
        std::lock_guard lock(mutex_);
        load_locked(diag);
        return tokens_;
    }

    /// For the library's composed operations: an access token valid for at least
    /// access_token_margin at `now`, refreshed first when needed or when `force_refresh`.
    /// Not called concurrently for one session (the providers' single flight sees to that).
    takeoff::detail::task<takeoff::detail::op_result<secret>> access_token_task(bool force_refresh,
                                                                               oauth::token_clock::time_point now,
                                                                               diagnostics& diag) {
        std::optional<oauth::token_set> current;
        {
            std::lock_guard lock(mutex_);
            load_locked(diag);
            current = tokens_;
        }
        if (!current) {
            diag.set_client_message("not signed in to " + key_.account +
                                    " with this client and scope: sign in first with the browser (oauth::async_sign_in)");
            co_return takeoff::detail::op_result<secret>{make_error_code(errc::token_unavailable), {}};
        }
        const bool expiring = current->expires_at && now + access_token_margin >= *current->expires_at;
        if (!force_refresh && !expiring) co_return takeoff::detail::op_result<secret>{{}, current->access_token};

        auto refreshed = co_await oauth::refresh_task(client_, config_, *current, now, diag);
        std::lock_guard lock(mutex_);
        if (refreshed.ec == errc::token_unavailable) {
            // A refresh token that will never work again is not kept (nor retried on every call).
            tokens_.reset();
            if (store_) {
                diagnostics ignored;
                store_->erase(key_, ignored);
            }
            co_return takeoff::detail::op_result<secret>{refreshed.ec, {}};
        }
        if (refreshed.ec) co_return takeoff::detail::op_result<secret>{refreshed.ec, {}};
        tokens_ = std::move(refreshed.value);
        diagnostics save_diag;
        save_locked(save_diag); // the new tokens work even when they cannot be kept for the next run
        co_return takeoff::detail::op_result<secret>{{}, tokens_->access_token};
    }

    /// The access token's expiry, when known.
    std::optional<oauth::token_clock::time_point> access_token_expiry() const {
        std::lock_guard lock(mutex_);
        return tokens_ ? tokens_->expires_at : std::nullopt;
    }

private:
    void load_locked(diagnostics& diag) {
        if (tokens_ || loaded_ || !store_) return;
        loaded_ = true;
        auto stored = store_->load(key_, diag);
        if (stored && *stored) tokens_ = std::move(**stored);
    }

    boost::system::error_code save_locked(diagnostics& diag) {
        if (!store_ || !tokens_) return {};
        return store_->save(key_, *tokens_, diag);
    }

    http::client& client_;
    oauth::client_config config_;
    oauth::token_store* store_;
    oauth::token_key key_;
    mutable std::mutex mutex_;
    std::optional<oauth::token_set> tokens_;
    bool loaded_ = false;
};

/// Auth "oauth": the OAuth access token exchanged for a Snowflake session token at the account's
/// login-request (see the file comment). The session outlives the provider's operations.
class session_token_provider final : public refreshing_token_provider {
public:
    session_token_provider(http::client& client, oauth_session& session, account_url account,
                           login_parameters parameters = {}, refresh_settings settings = {},
                           credential_header header = credential_header::authorization)
        : refreshing_token_provider(client.get_executor(), std::move(settings), header), client_(client),
          session_(session), account_(std::move(account)), parameters_(std::move(parameters)) {}

protected:
    takeoff::detail::task<credential_result> fetch_task(diagnostics& diag) override {
        auto first = co_await login(false, diag);
        if (first.ec != errc::snowflake_token_expired && first.ec != errc::snowflake_token_invalid) co_return first;
        co_return co_await login(true, diag); // 390318 / 390303: a new access token, once
    }

private:
    takeoff::detail::task<credential_result> login(bool force_refresh, diagnostics& diag) {
        auto access = co_await session_.access_token_task(force_refresh, now(), diag);
        if (access.ec) co_return credential_result{access.ec, {}};
        auto request_id = make_request_id();
        if (!request_id) co_return credential_result{request_id.error(), {}};
        auto req = make_login_request(account_, access.value, parameters_, *request_id, diag);
        if (!req) co_return credential_result{req.error(), {}};
        auto reply = co_await client_.request_task(*req, client_.defaults(), diag);
        if (reply.ec && reply.value.status == 0) co_return credential_result{reply.ec, {}};
        auto session = parse_login_response(reply.value, diag);
        if (!session) co_return credential_result{session.error(), {}};
        co_return credential_result{{}, credential{std::move(session->token), now() + session->validity, 0}};
    }

    http::client& client_;
    oauth_session& session_;
    account_url account_;
    login_parameters parameters_;
};

/// Auth "oauth-direct": the OAuth access token itself (see the file comment).
class oauth_token_provider final : public refreshing_token_provider {
public:
    oauth_token_provider(http::client& client, oauth_session& session, refresh_settings settings = {},
                         credential_header header = credential_header::authorization)
        : refreshing_token_provider(client.get_executor(), std::move(settings), header), session_(session) {}

protected:
    takeoff::detail::task<credential_result> fetch_task(diagnostics& diag) override {
        // Called when the credential is missing, expiring or was rejected: in the last two cases
        // the held access token is no good, so it is refreshed unless it is new to this provider.
        const bool force = fetched_before_;
        fetched_before_ = true;
        auto access = co_await session_.access_token_task(force, now(), diag);
        if (access.ec) co_return credential_result{access.ec, {}};
        co_return credential_result{{}, credential{std::move(access.value), session_.access_token_expiry(), 0}};
    }

private:
    oauth_session& session_;
    bool fetched_before_ = false; // fetches never overlap (single flight)
};

/// What key-pair authentication needs.
struct keypair_settings {
    /// The Snowflake user the public key is set on (ALTER USER ... SET RSA_PUBLIC_KEY).
    std::string user;
    /// The ingress host the token is for ("abc-org-acct.snowflakecomputing.app").
    std::string ingress_host;
    /// The session role; empty: the user's default role.
    std::optional<std::string> role;
    /// The JWT's lifetime (Snowflake accepts at most one hour).
    std::chrono::seconds jwt_lifetime{3540};
    /// The account part of the JWT's claims; empty: from the account URL (jwt_account_identifier).
    /// Needed for a loopback account URL (the emulator), which names no account.
    std::string account_identifier;
};

/// Auth "keypair": a key-pair JWT exchanged at <account>/oauth/token for an ingress token.
class keypair_token_provider final : public refreshing_token_provider {
public:
    keypair_token_provider(http::client& client, account_url account, private_key key, keypair_settings settings,
                           refresh_settings refresh = {}, credential_header header = credential_header::authorization)
        : refreshing_token_provider(client.get_executor(), std::move(refresh), header), client_(client),
          account_(std::move(account)), key_(std::move(key)), settings_(std::move(settings)) {}

protected:
    takeoff::detail::task<credential_result> fetch_task(diagnostics& diag) override {
        const auto issued = now();
        auto jwt = settings_.account_identifier.empty()
                       ? make_keypair_jwt(account_, settings_.user, key_, issued, settings_.jwt_lifetime, diag)
                       : make_keypair_jwt_for(settings_.account_identifier, settings_.user, key_, issued,
                                              settings_.jwt_lifetime, diag);
        if (!jwt) co_return credential_result{jwt.error(), {}};
        auto req = make_jwt_exchange_request(account_, *jwt, settings_.ingress_host, settings_.role, diag);
        if (!req) co_return credential_result{req.error(), {}};
        auto reply = co_await client_.request_task(*req, client_.defaults(), diag);
        if (reply.ec && reply.value.status == 0) co_return credential_result{reply.ec, {}};
        auto token = parse_jwt_exchange_response(reply.value, diag);
        if (!token) co_return credential_result{token.error(), {}};
        co_return credential_result{{}, credential{std::move(token->token), token->expires_at, 0}};
    }

private:
    http::client& client_;
    account_url account_;
    private_key key_;
    keypair_settings settings_;
};

} // namespace takeoff::snowflake

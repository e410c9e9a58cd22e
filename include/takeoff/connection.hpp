#pragma once
// snowflake::connection: the Dataiku "connection" in code. A connection_config (the OAuth preset,
// the ingress URL of each Takeoff port, the account URL) becomes a ready takeoff::client whose
// requests carry the credential of the configured auth mode:
//
//     auto config = snowflake::load_connection_config("takeoff.json", diag).value();
//     auto conn = snowflake::connection::make(io.get_executor(), config, diag).value();
//     if (!conn->signed_in()) co_await conn->async_sign_in();   // browser, once; tokens are stored
//     std::string text = co_await conn->client().async_generate("Hello");
//
// auth "oauth": OAuth tokens (signed in once, stored, refreshed) exchanged for a session token;
// "oauth-direct": the OAuth access token itself; "pat": the programmatic access token; "keypair":
// a key-pair JWT exchanged for an ingress token; "none": no credential.

#include <takeoff/client.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/oauth/sign_in.hpp>
#include <takeoff/oauth/token_store.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/connection_config.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff/snowflake/keypair.hpp>
#include <takeoff/snowflake/login.hpp>
#include <takeoff/snowflake/providers.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace takeoff::snowflake {

/// What a connection is made with besides its configuration.
struct connection_options {
    /// Where OAuth tokens are kept between runs. Null: a file_token_store at
    /// default_token_store_path() ($XDG_CACHE_HOME/takeoff/tokens.json); use a memory_token_store
    /// to keep nothing on disk. Must outlive the connection.
    oauth::token_store* token_store = nullptr;
    /// The transport's options; the configuration's ca_file is added to their TLS trust.
    http::client_options http = client_options::default_http_options();
    /// The login request's parameters (auth "oauth"); account_name is needed for an account URL
    /// that names no account (a loopback emulator).
    login_parameters login;
    /// auth "keypair": the JWT's account part, for an account URL that names no account.
    std::string keypair_account_identifier;
    /// auth "keypair": the private key's passphrase, when the PEM file is encrypted.
    std::string keypair_passphrase;
    /// The header the credential goes in.
    credential_header header = credential_header::authorization;
    /// When credentials are renewed (and the clock, for tests).
    refresh_settings refresh;
};

/// A configured takeoff::client and the credential machinery behind it. Made by make(); not
/// movable (the client refers to the provider it owns), so make() returns a unique_ptr.
class connection {
public:
    /// Validates `config` (validate(): the first problem, naming the field) and builds the
    /// connection. Nothing is sent yet. Errors: validate()'s; auth "keypair": the key file that
    /// cannot be read or is not an RSA key (errc::invalid_argument naming the file).
    static boost::system::result<std::unique_ptr<connection>> make(boost::asio::any_io_executor executor,
                                                                   const connection_config& config, diagnostics& diag,
                                                                   connection_options options = {}) {
        diag.clear();
        if (auto ec = validate(config, diag)) return ec;
        std::unique_ptr<connection> c(new connection(config, std::move(options)));
        if (auto ec = c->build(std::move(executor), diag)) return ec;
        return c;
    }

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// The Takeoff client: every request carries the configured credential.
    takeoff::client& client() noexcept { return *client_; }
    /// The configuration it was made from.
    const connection_config& config() const noexcept { return config_; }
    /// The credential provider; null for auth "none".
    token_provider* provider() noexcept { return provider_.get(); }
    /// The OAuth tokens (auth "oauth" and "oauth-direct"); null otherwise.
    oauth_session* session() noexcept { return session_.get(); }
    /// The transport the sign-in and token requests use (the Takeoff client has its own pool).
    http::client& auth_transport() noexcept { return *auth_http_; }

    /// True when OAuth tokens are held (or stored from an earlier run), or the mode needs no
    /// sign-in (pat, keypair, none).
    bool signed_in() {
        if (!session_) return true;
        diagnostics ignored;
        return session_->tokens(ignored).has_value();
    }

    /// Signs the user in with the browser (oauth/sign_in.hpp) and keeps the tokens (saved to the
    /// store): completes with void(error_code, oauth::token_set). Only for auth "oauth" and
    /// "oauth-direct" (errc::invalid_argument otherwise).
    template <class CompletionToken = default_token>
    auto async_sign_in(oauth::sign_in_options options, diagnostics& diag, CompletionToken&& token = {}) {
        return takeoff::detail::async_run<oauth::token_set>(
            auth_http_->get_executor(), false, std::chrono::steady_clock::duration::zero(), &diag,
            [](diagnostics* d, connection* self, oauth::sign_in_options& o, diagnostics& own) {
                return self->sign_in_task(o, d ? *d : own);
            },
            std::forward<CompletionToken>(token), this, std::move(options), diagnostics{});
    }
    /// As above, with the default sign-in options; the diagnostics go into the token's exception.
    template <class CompletionToken = default_token>
    auto async_sign_in(CompletionToken&& token = {}) {
        return takeoff::detail::async_run<oauth::token_set>(
            auth_http_->get_executor(), false, std::chrono::steady_clock::duration::zero(), nullptr,
            [](diagnostics* d, connection* self, oauth::sign_in_options& o, diagnostics& own) {
                return self->sign_in_task(o, d ? *d : own);
            },
            std::forward<CompletionToken>(token), this, oauth::sign_in_options{}, diagnostics{});
    }

    /// Forgets the OAuth tokens, here and in the store (sign out). Does nothing for other modes.
    boost::system::error_code sign_out(diagnostics& diag) {
        if (!session_) return {};
        return session_->forget(diag);
    }

private:
    connection(connection_config config, connection_options options)
        : config_(std::move(config)), options_(std::move(options)) {}

    takeoff::detail::task<takeoff::detail::op_result<oauth::token_set>> sign_in_task(const oauth::sign_in_options& o,
                                                                                     diagnostics& diag) {
        using result = takeoff::detail::op_result<oauth::token_set>;
        if (!session_) {
            diag.set_client_message("sign-in is for auth \"oauth\" and \"oauth-direct\"; this connection uses \"" +
                                    std::string(to_string(config_.auth)) + "\"");
            co_return result{make_error_code(errc::invalid_argument), {}};
        }
        auto tokens = co_await oauth::detail::sign_in_task(*auth_http_, session_->config(), o, diag);
        if (tokens.ec) co_return tokens;
        diagnostics save;
        if (auto ec = session_->set_tokens(tokens.value, save)) {
            diag.set_client_message("signed in, but the tokens could not be stored: " + save.client_message());
            co_return result{ec, std::move(tokens.value)};
        }
        co_return tokens;
    }

    // "<field>: <what diag says>", with ec.
    static boost::system::error_code field_error(std::string_view field, boost::system::error_code ec, diagnostics& diag) {
        diag.set_client_message(std::string(field) + ": " + diag.client_message());
        return ec;
    }

    boost::system::error_code build(boost::asio::any_io_executor executor, diagnostics& diag) {
        http::client_options http = options_.http;
        if (!config_.ca_file.empty()) http.tls.ca_file = config_.ca_file;
        auth_http_ = std::make_unique<http::client>(executor, http);

        takeoff::client_options co;
        co.http = http;
        // An unset management or OpenAI URL: that port has no ingress of its own configured, and its
        // requests go to the inference ingress host (which answers 404 for their paths).
        auto inference = api::inference_url::runtime(config_.endpoint_url, diag);
        if (!inference) return field_error("endpoint_url", inference.error(), diag);
        auto management = api::management_url::runtime(
            config_.management_url.empty() ? config_.endpoint_url : config_.management_url, diag);
        if (!management) return field_error("management_url", management.error(), diag);
        auto openai = api::openai_url::runtime(config_.openai_url.empty() ? config_.endpoint_url : config_.openai_url, diag);
        if (!openai) return field_error("openai_url", openai.error(), diag);
        co.inference_url = std::move(*inference);
        co.management_url = std::move(*management);
        co.openai_url = std::move(*openai);
        diag.clear();

        switch (config_.auth) {
        case auth_mode::none: break;
        case auth_mode::pat:
            provider_ = std::make_unique<static_token_provider>(executor, secret(config_.pat),
                                                                "the programmatic access token (pat)", options_.header);
            break;
        case auth_mode::oauth:
        case auth_mode::oauth_direct: {
            auto resolved = resolve_oauth(config_, diag);
            if (!resolved) return resolved.error();
            if (!options_.token_store) {
                own_store_ = std::make_unique<oauth::file_token_store>();
                options_.token_store = own_store_.get();
            }
            const std::string account = resolved->account ? resolved->account->base()
                                                          : std::string(resolved->client.authorization_endpoint.url());
            oauth::token_key key{account, resolved->client.client_id, resolved->client.scope};
            session_ = std::make_unique<oauth_session>(*auth_http_, std::move(resolved->client), options_.token_store,
                                                       std::move(key));
            if (config_.auth == auth_mode::oauth)
                provider_ = std::make_unique<session_token_provider>(*auth_http_, *session_, *resolved->account,
                                                                     options_.login, options_.refresh, options_.header);
            else
                provider_ = std::make_unique<oauth_token_provider>(*auth_http_, *session_, options_.refresh,
                                                                   options_.header);
            break;
        }
        case auth_mode::keypair: {
            std::ifstream in(config_.keypair.private_key_file, std::ios::binary);
            if (!in) {
                diag.set_client_message("keypair.private_key_file: cannot read " + config_.keypair.private_key_file);
                return make_error_code(errc::invalid_argument);
            }
            const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            auto key = private_key::from_pem(pem, diag, options_.keypair_passphrase);
            if (!key) {
                diag.set_client_message("keypair.private_key_file: " + config_.keypair.private_key_file + ": " +
                                        diag.client_message());
                return key.error();
            }
            keypair_settings k;
            k.user = config_.keypair.user;
            k.ingress_host = std::string(co.inference_url.url().host());
            if (!config_.keypair.role.empty()) k.role = config_.keypair.role;
            k.account_identifier = options_.keypair_account_identifier;
            provider_ = std::make_unique<keypair_token_provider>(
                *auth_http_, account_url::runtime(config_.account_url).value(), std::move(*key), std::move(k),
                options_.refresh, options_.header);
            break;
        }
        }
        client_ = std::make_unique<takeoff::client>(std::move(executor), std::move(co), provider_.get());
        return {};
    }

    connection_config config_;
    connection_options options_;
    std::unique_ptr<oauth::token_store> own_store_;
    std::unique_ptr<http::client> auth_http_;
    std::unique_ptr<oauth_session> session_;
    std::unique_ptr<token_provider> provider_;
    std::unique_ptr<takeoff::client> client_;
};

} // namespace takeoff::snowflake

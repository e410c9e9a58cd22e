#pragma once
// takeoff::emulator::snowflake_emulator — the Snowflake side of takeoff-emulator, as routes of an
// emulator::server (reference snowflake-auth.md §1, §2, §6.3, §6.4, §9):
//
//   GET  /oauth/authorize            auto-approving authorization endpoint (302 back to the client)
//   POST /oauth/token-request        authorization_code and refresh_token grants (Basic or body auth)
//   POST /oauth/token                key-pair JWT (jwt-bearer) exchange for an SPCS ingress token
//   POST /session/v1/login-request   OAuth access token -> Snowflake session token
//   ingress(backend)                 the SPCS ingress check in front of any handler
//
// Tokens are random (OpenSSL RAND_bytes, base64url) and live in maps with their expiry. The
// emulator's clock is steady_clock::now() plus an offset that advance_clock() moves forward, so
// tests expire codes, tokens and sessions without waiting. All state sits behind one mutex: the
// handlers run on the server's thread, tests poke knobs and read counters from theirs. The
// handlers share the state (std::shared_ptr), so the emulator object may go before the server.
//
// Include this header (it includes server.hpp) to use it.

#include <takeoff/core/base64.hpp>
#include <takeoff/oauth/pkce.hpp>
#include <takeoff/snowflake/scope.hpp>
#include <takeoff_emulator/exchange.hpp>
#include <takeoff_emulator/form.hpp>
#include <takeoff_emulator/jwt_verify.hpp>
#include <takeoff_emulator/message.hpp>
#include <takeoff_emulator/router.hpp>
#include <takeoff_emulator/server.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace takeoff::emulator {

/// Knobs of the emulated Snowflake account (every lifetime a setting, so tests can expire tokens).
struct snowflake_options {
    std::string client_id = "EMULATOR_CLIENT_ID";
    std::string client_secret = "emulator/secret+1="; ///< `+ / =` on purpose (Basic-encoding pitfalls)
    std::optional<std::string> client_secret_2;       ///< SYSTEM$SHOW_OAUTH_CLIENT_SECRETS gives two
    /// Registered redirect URIs, matched exactly (a query the client adds is not part of the
    /// match). Empty: any `http://127.0.0.1:<port>[/<path>]` loopback URI.
    std::vector<std::string> redirect_uris;
    bool enforce_pkce = true;         ///< OAUTH_ENFORCE_PKCE: an authorization without code_challenge fails
    bool issue_refresh_tokens = true; ///< OAUTH_ISSUE_REFRESH_TOKENS (only when the scope holds refresh_token)
    /// Rotation on every refresh for every grant (OAUTH_SINGLE_USE_REFRESH_TOKENS_REQUIRED); a code
    /// exchange with enable_single_use_refresh_tokens=true turns it on for that grant only.
    bool single_use_refresh_tokens = false;
    bool expires_in_as_string = false; ///< `"expires_in":"600"` instead of 600, for client tolerance tests
    std::chrono::seconds code_lifetime{60};
    std::chrono::seconds access_token_lifetime{600};
    std::chrono::seconds refresh_token_lifetime{7776000};
    std::chrono::seconds session_lifetime{3600};
    std::chrono::seconds ingress_token_lifetime{3600};
    std::string username = "EMULATOR_USER";  ///< the user every sign-in is for
    std::string account_name = "EMULATOR";   ///< ACCOUNT_NAME expected at login-request (any case)
    std::optional<std::string> keypair_public_key_pem; ///< RSA public key for /oauth/token jwt-bearer
    std::string keypair_user = "EMULATOR_USER";        ///< the user that key belongs to
    bool accept_oauth_access_token_at_ingress = false; ///< reference §10 open question 2 (oauth-direct mode)
    std::vector<std::string> programmatic_access_tokens; ///< PATs the ingress accepts
    std::string ingress_login_url = "https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin";
};

/// An access token and, when the scope asked for one, a refresh token, issued without a browser
/// (snowflake_emulator::issue_tokens).
struct issued_tokens {
    std::string access_token;
    std::optional<std::string> refresh_token;
};

namespace detail {

inline std::string random_base64url(std::size_t bytes)
{
    std::string raw(bytes, '\0');
    if (::RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
        throw_openssl_error("RAND_bytes");
    return base64url_encode(raw);
}

// A random (version 4) UUID in its 8-4-4-4-12 text form.
inline std::string random_uuid()
{
    std::array<unsigned char, 16> bytes{};
    if (::RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw_openssl_error("RAND_bytes");
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 0x0f];
    }
    return out;
}

inline std::string ascii_upper(std::string_view text)
{
    std::string out(text);
    for (char& c : out)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    return out;
}

inline std::string_view trim_spaces(std::string_view text) noexcept
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

inline std::string_view view(beast::string_view text) noexcept { return {text.data(), text.size()}; }

// The token of a `Snowflake Token="<t>"` credential.
struct snowflake_credential {
    bool snowflake_scheme = false; // the scheme is Snowflake (any case)
    std::optional<std::string> token; // the token, when the rest is well formed
};

inline snowflake_credential parse_snowflake_credential(std::string_view value)
{
    snowflake_credential out;
    value = trim_spaces(value);
    const std::size_t space = value.find(' ');
    if (!beast::iequals(value.substr(0, space), "Snowflake"))
        return out;
    out.snowflake_scheme = true;
    if (space == std::string_view::npos)
        return out;
    std::string_view rest = trim_spaces(value.substr(space + 1));
    constexpr std::string_view name = "Token=";
    if (rest.size() < name.size() + 2 || !beast::iequals(rest.substr(0, name.size()), name))
        return out;
    rest.remove_prefix(name.size());
    if (rest.front() != '"' || rest.back() != '"')
        return out;
    const std::string_view token = rest.substr(1, rest.size() - 2);
    if (token.empty() || token.find_first_of("\"\\") != std::string_view::npos)
        return out;
    out.token = std::string(token);
    return out;
}

inline bool is_form_content_type(std::string_view value) noexcept
{
    constexpr std::string_view form = "application/x-www-form-urlencoded";
    value = trim_spaces(value);
    if (value.size() < form.size() || !beast::iequals(value.substr(0, form.size()), form))
        return false;
    const std::string_view rest = trim_spaces(value.substr(form.size()));
    return rest.empty() || rest.front() == ';';
}

inline std::optional<std::int64_t> json_integer(const boost::json::object& object, std::string_view key)
{
    const boost::json::value* value = object.if_contains(key);
    if (!value)
        return std::nullopt;
    if (value->is_int64())
        return value->get_int64();
    if (value->is_uint64() && value->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(value->get_uint64());
    if (value->is_double() && value->get_double() == static_cast<double>(static_cast<std::int64_t>(value->get_double())))
        return static_cast<std::int64_t>(value->get_double());
    return std::nullopt;
}

inline std::optional<std::string> json_string(const boost::json::object& object, std::string_view key)
{
    const boost::json::value* value = object.if_contains(key);
    if (!value || !value->is_string())
        return std::nullopt;
    return std::string(value->get_string());
}

// A host name as it may appear in a jwt-bearer scope: letters, digits, '-' and '.' (an optional
// :port), not starting or ending with '.'.
inline bool looks_like_host(std::string_view text) noexcept
{
    if (text.empty() || text.front() == '.' || text.front() == '-')
        return false;
    const std::size_t colon = text.find(':');
    const std::string_view host = text.substr(0, colon);
    if (host.empty() || host.back() == '.')
        return false;
    for (char c : host)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    if (colon != std::string_view::npos) {
        const std::string_view port = text.substr(colon + 1);
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
            return false;
    }
    return true;
}

/// Everything the emulated account knows, behind one mutex. Each request function locks it, works
/// out the whole answer and returns it; the route handlers then send it without the lock.
class snowflake_state {
public:
    using clock = std::chrono::steady_clock;

    explicit snowflake_state(snowflake_options options) : options_(std::move(options)) {}

    // ---- knobs and counters (any thread) ----

    snowflake_options options() const
    {
        std::lock_guard lock(mutex_);
        return options_;
    }
    void configure(const std::function<void(snowflake_options&)>& change)
    {
        std::lock_guard lock(mutex_);
        change(options_);
    }
    void advance_clock(std::chrono::seconds by)
    {
        std::lock_guard lock(mutex_);
        offset_ += by;
    }
    void revoke_refresh_tokens()
    {
        std::lock_guard lock(mutex_);
        for (auto& [token, record] : refresh_tokens_)
            record.dead = true;
    }
    void fail_next_authorization(std::string error, std::string description)
    {
        std::lock_guard lock(mutex_);
        next_authorization_error_ = std::make_pair(std::move(error), std::move(description));
    }

    issued_tokens issue_tokens(std::string_view scope)
    {
        bool wants_refresh = false;
        if (!scope.empty()) {
            auto parsed = snowflake::parse_scope(scope);
            if (!parsed)
                throw std::invalid_argument("takeoff-emulator: issue_tokens with an invalid scope");
            wants_refresh = parsed->has_refresh_token();
        }
        std::lock_guard lock(mutex_);
        issued_tokens out;
        out.access_token = new_access_token(options_.client_id, std::string(scope));
        if (wants_refresh && options_.issue_refresh_tokens)
            out.refresh_token = new_refresh_token(options_.client_id, std::string(scope), options_.single_use_refresh_tokens);
        return out;
    }
    std::string issue_session_token()
    {
        std::lock_guard lock(mutex_);
        return new_session().first;
    }
    std::string issue_ingress_token(std::string_view scope)
    {
        std::lock_guard lock(mutex_);
        return new_ingress_token(scope);
    }
    bool refresh_token_valid(std::string_view token) const
    {
        std::lock_guard lock(mutex_);
        const auto found = refresh_tokens_.find(std::string(token));
        return found != refresh_tokens_.end() && !found->second.dead && found->second.expires > now();
    }

    struct counters {
        std::size_t authorizations = 0, token_requests = 0, code_grants = 0, refresh_grants = 0, login_requests = 0,
                    jwt_exchanges = 0, ingress_accepted = 0, ingress_rejections = 0;
    };
    counters counts() const
    {
        std::lock_guard lock(mutex_);
        return counts_;
    }

    // ---- GET /oauth/authorize ----

    http_response authorize(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        ++counts_.authorizations;
        const std::string_view target = view(request.target());
        const std::size_t mark = target.find('?');
        auto fields = parse_form(mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1));
        if (!fields)
            return error_page("390300", "The authorization request is malformed (its query is not form-encoded).");
        const auto single = [&](std::string_view name) -> std::optional<std::string> {
            return form_count(*fields, name) == 1 ? form_value(*fields, name) : std::nullopt;
        };
        const auto client_id = single("client_id");
        if (!client_id || *client_id != options_.client_id)
            return error_page("390306", "Invalid consent request: the client_id is not a registered OAuth client.");
        const auto redirect_uri = single("redirect_uri");
        if (!redirect_uri || !redirect_allowed(*redirect_uri))
            return error_page("390307", "Invalid consent request: the redirect_uri is not registered for this client.");
        const auto state = single("state");
        if (state && state->size() > 2048)
            return error_page("390305", "Invalid consent request: the state is longer than 2048 characters.");

        const auto redirect = [&](std::vector<std::pair<std::string_view, std::string>> parameters) {
            std::string location = *redirect_uri;
            char separator = location.find('?') == std::string::npos ? '?' : '&';
            for (const auto& [name, value] : parameters) {
                location += separator;
                location.append(name.data(), name.size());
                location += '=';
                location += percent_encode(value);
                separator = '&';
            }
            http_response response{http::status::found, 11};
            response.set(http::field::location, location);
            response.set(http::field::cache_control, "no-store");
            return response;
        };
        const auto redirect_error = [&](std::string error, std::string description) {
            std::vector<std::pair<std::string_view, std::string>> parameters{{"error", std::move(error)},
                                                                             {"error_description", std::move(description)}};
            if (state)
                parameters.emplace_back("state", *state);
            return redirect(std::move(parameters));
        };

        if (auto repeated = form_repeated_name(*fields))
            return redirect_error("invalid_request", "The parameter " + *repeated + " appears more than once.");
        if (single("response_type") != std::optional<std::string>("code"))
            return redirect_error("unsupported_response_type", "Only response_type=code is supported.");
        const auto scope = single("scope");
        bool wants_refresh = false;
        if (scope) {
            auto parsed = snowflake::parse_scope(*scope);
            if (!parsed)
                return redirect_error("invalid_scope",
                                      "One or more scopes are not configured for the authorization server resource.");
            wants_refresh = parsed->has_refresh_token();
        }
        const auto challenge = single("code_challenge");
        const auto method = single("code_challenge_method");
        if (challenge || method) {
            if (!challenge || !method || *method != "S256")
                return redirect_error("invalid_request",
                                      "PKCE needs code_challenge and code_challenge_method=S256 (390311).");
            auto decoded = base64url_decode(*challenge);
            if (challenge->size() != 43 || !decoded || decoded->size() != 32)
                return redirect_error("invalid_request", "The code_challenge is not a base64url SHA-256 digest (390311).");
        } else if (options_.enforce_pkce) {
            return redirect_error("invalid_request", "This client requires PKCE: code_challenge is missing (390311).");
        }
        if (next_authorization_error_) {
            auto [error, description] = std::move(*next_authorization_error_);
            next_authorization_error_.reset();
            return redirect_error(std::move(error), std::move(description));
        }

        std::string code = "emu-code-" + random_base64url(32);
        codes_[code] = code_record{*client_id, *redirect_uri, scope.value_or(""), wants_refresh, challenge,
                                   now() + options_.code_lifetime, false};
        std::vector<std::pair<std::string_view, std::string>> parameters{{"code", code}};
        if (state)
            parameters.emplace_back("state", *state);
        if (scope)
            parameters.emplace_back("scope", *scope);
        return redirect(std::move(parameters));
    }

    // ---- POST /oauth/token-request ----

    http_response token_request(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        ++counts_.token_requests;
        if (!is_form_content_type(view(request[http::field::content_type])))
            return oauth_error("invalid_request", "The Content-Type must be application/x-www-form-urlencoded.");
        auto fields = parse_form(request.body());
        if (!fields)
            return oauth_error("invalid_request", "The request body is not a valid form.");
        const auto grant_type = form_value(*fields, "grant_type");
        if (grant_type == std::optional<std::string>("authorization_code"))
            ++counts_.code_grants;
        else if (grant_type == std::optional<std::string>("refresh_token"))
            ++counts_.refresh_grants;
        if (auto repeated = form_repeated_name(*fields))
            return oauth_error("invalid_request", "The parameter " + *repeated + " appears more than once.");

        // Client authentication: Basic (each half form-decoded) or client_id + client_secret in the body.
        std::string id;
        std::string secret_text;
        const std::string_view authorization = trim_spaces(view(request[http::field::authorization]));
        const auto body_id = form_value(*fields, "client_id");
        const auto body_secret = form_value(*fields, "client_secret");
        if (!authorization.empty()) {
            if (body_id || body_secret)
                return oauth_error("invalid_request",
                                   "Client credentials were sent both in the Authorization header and in the body.");
            const std::size_t space = authorization.find(' ');
            if (space == std::string_view::npos || !beast::iequals(authorization.substr(0, space), "Basic"))
                return oauth_error("invalid_client", "This is an invalid client.");
            auto decoded = base64_decode(trim_spaces(authorization.substr(space + 1)));
            const std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
            if (colon == std::string::npos)
                return oauth_error("invalid_client", "This is an invalid client.");
            auto id_half = form_decode(std::string_view(*decoded).substr(0, colon));
            auto secret_half = form_decode(std::string_view(*decoded).substr(colon + 1));
            if (!id_half || !secret_half)
                return oauth_error("invalid_client", "This is an invalid client.");
            id = std::move(*id_half);
            secret_text = std::move(*secret_half);
        } else {
            if (!body_id || !body_secret)
                return oauth_error("invalid_client", "This is an invalid client.");
            id = *body_id;
            secret_text = *body_secret;
        }
        const bool secret_ok =
            oauth::constant_time_equal(secret_text, options_.client_secret) ||
            (options_.client_secret_2 && oauth::constant_time_equal(secret_text, *options_.client_secret_2));
        if (id != options_.client_id || !secret_ok)
            return oauth_error("invalid_client", "This is an invalid client.");

        if (!grant_type)
            return oauth_error("invalid_request", "The grant_type is missing.");
        if (*grant_type == "authorization_code")
            return code_grant(*fields, id);
        if (*grant_type == "refresh_token")
            return refresh_grant(*fields, id);
        return oauth_error("unsupported_grant_type", "The grant type is not supported.");
    }

    // ---- POST /oauth/token (jwt-bearer) ----

    http_response jwt_exchange(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        ++counts_.jwt_exchanges;
        if (!is_form_content_type(view(request[http::field::content_type])))
            return oauth_error("invalid_request", "The Content-Type must be application/x-www-form-urlencoded.");
        auto fields = parse_form(request.body());
        if (!fields)
            return oauth_error("invalid_request", "The request body is not a valid form.");
        if (auto repeated = form_repeated_name(*fields))
            return oauth_error("invalid_request", "The parameter " + *repeated + " appears more than once.");
        const auto grant_type = form_value(*fields, "grant_type");
        if (!grant_type)
            return oauth_error("invalid_request", "The grant_type is missing.");
        if (*grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer")
            return oauth_error("unsupported_grant_type", "The grant type is not supported.");
        const auto assertion = form_value(*fields, "assertion");
        if (!assertion)
            return oauth_error("invalid_request", "The assertion is missing.");
        const auto scope = form_value(*fields, "scope");
        if (!scope || !valid_exchange_scope(*scope))
            return oauth_error("invalid_scope",
                               "The scope must be [session:role:<ROLE> ]<ingress host>, with exactly one host.");
        std::string why;
        if (!verify_user_jwt(*assertion, why))
            return oauth_error("invalid_grant", "JWT token is invalid: " + why);
        std::string token = new_ingress_token(*scope);
        return make_response(http::status::ok, std::move(token), "text/plain");
    }

    // ---- POST /session/v1/login-request ----

    http_response login_request(const http_request& request)
    {
        std::lock_guard lock(mutex_);
        ++counts_.login_requests;
        std::error_code ec;
        boost::json::value body = boost::json::parse(request.body(), ec);
        const boost::json::object* data = nullptr;
        if (!ec && body.is_object())
            if (const auto* found = body.as_object().if_contains("data"); found && found->is_object())
                data = &found->as_object();
        if (!data) {
            boost::json::object out{{"data", nullptr}, {"code", nullptr},
                                    {"message", "The request body is not {\"data\":{...}} JSON."}, {"success", false}};
            return make_json_response(http::status::bad_request, boost::json::serialize(out));
        }
        const auto authenticator = json_string(*data, "AUTHENTICATOR");
        if (!authenticator || !beast::iequals(*authenticator, "OAUTH"))
            return login_failure(nullptr, "390100", "Incorrect username or password was specified.");
        const auto account = json_string(*data, "ACCOUNT_NAME");
        const auto login_name = json_string(*data, "LOGIN_NAME");
        if (!account || !beast::iequals(*account, options_.account_name) ||
            (login_name && !beast::iequals(*login_name, options_.username)))
            return login_failure(nullptr, "390309",
                                 "The user or account you were trying to authenticate as differs from the user tied "
                                 "to the access token.");
        const auto token = json_string(*data, "TOKEN");
        boost::json::object retry{{"nextAction", "RETRY_LOGIN"}, {"authnMethod", "OAUTH"}};
        const auto found = token ? access_tokens_.find(*token) : access_tokens_.end();
        if (found == access_tokens_.end())
            return login_failure(retry, "390303", "Invalid OAuth access token.");
        if (found->second.expires <= now())
            return login_failure(retry, "390318", "OAuth access token expired.");
        auto [session, master] = new_session();
        boost::json::object out{
            {"data",
             {{"token", session},
              {"masterToken", master},
              {"validityInSeconds", options_.session_lifetime.count()},
              {"masterValidityInSeconds", 14400}}},
            {"code", nullptr},
            {"message", nullptr},
            {"success", true}};
        return make_json_response(http::status::ok, boost::json::serialize(out));
    }

    // ---- the ingress check ----

    /// Nothing when the request may go on to the backend (the request has then been changed as the
    /// SPCS proxy changes it); otherwise the refusal to send.
    std::optional<http_response> admit(http_request& request)
    {
        std::lock_guard lock(mutex_);
        if (request.method() == http::verb::trace || request.method() == http::verb::connect) {
            auto refused = make_json_response(http::status::method_not_allowed, R"({"detail":"Method Not Allowed"})");
            refused.set(http::field::server, "_");
            return refused;
        }
        const auto spcs_header = request.find("X-SF-SPCS-Authorization");
        const bool has_spcs_header = spcs_header != request.end();
        const snowflake_credential from_authorization =
            parse_snowflake_credential(view(request[http::field::authorization]));
        std::optional<snowflake_credential> credential;
        if (has_spcs_header)
            credential = parse_snowflake_credential(view(spcs_header->value()));
        else if (from_authorization.snowflake_scheme)
            credential = from_authorization;

        if (!credential) {
            ++counts_.ingress_rejections;
            http_response redirect{http::status::found, 11};
            const std::string_view target = view(request.target());
            redirect.set(http::field::location, options_.ingress_login_url + "?redirect_uri=" + percent_encode(target));
            redirect.set(http::field::server, "_");
            return redirect;
        }
        if (!credential->token || !ingress_accepts(*credential->token)) {
            ++counts_.ingress_rejections;
            boost::json::object body{
                {"responseType", "ERROR_INVALID_TOKEN"}, {"requestId", random_uuid()}, {"detail", "Invalid token"}};
            auto refused = make_json_response(http::status::unauthorized, boost::json::serialize(body));
            refused.set(http::field::server, "_");
            return refused;
        }
        ++counts_.ingress_accepted;
        request.erase("X-SF-SPCS-Authorization");
        if (from_authorization.snowflake_scheme)
            request.erase(http::field::authorization);
        request.set("Sf-Context-Current-User", options_.username);
        return std::nullopt;
    }

private:
    struct code_record {
        std::string client_id;
        std::string redirect_uri;
        std::string scope;
        bool wants_refresh = false;
        std::optional<std::string> challenge;
        clock::time_point expires;
        bool used = false;
    };
    struct access_record {
        std::string client_id;
        std::string scope;
        clock::time_point expires;
    };
    struct refresh_record {
        std::string client_id;
        std::string scope;
        clock::time_point expires;
        bool single_use = false;
        bool dead = false; // rotated away or revoked
    };

    clock::time_point now() const { return clock::now() + offset_; }
    std::int64_t wall_seconds() const
    {
        const auto wall = std::chrono::system_clock::now() + offset_;
        return std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
    }

    bool redirect_allowed(std::string_view uri) const
    {
        if (uri.find('#') != std::string_view::npos)
            return false;
        const std::string_view base = uri.substr(0, uri.find('?'));
        if (!options_.redirect_uris.empty())
            return std::find(options_.redirect_uris.begin(), options_.redirect_uris.end(), base) !=
                   options_.redirect_uris.end();
        constexpr std::string_view loopback = "http://127.0.0.1:";
        if (!base.starts_with(loopback))
            return false;
        const std::string_view rest = base.substr(loopback.size());
        const std::size_t digits = std::min(rest.find_first_not_of("0123456789"), rest.size());
        return digits >= 1 && digits <= 5 && (digits == rest.size() || rest[digits] == '/');
    }

    static http_response error_page(std::string_view code, std::string_view text)
    {
        std::string body = "<!DOCTYPE html>\n<html><head><title>Snowflake OAuth error</title></head><body>"
                           "<h1>OAuth error ";
        body.append(code.data(), code.size());
        body += "</h1><p>";
        body.append(text.data(), text.size());
        body += "</p></body></html>\n";
        return make_response(http::status::bad_request, std::move(body), "text/html; charset=utf-8");
    }

    static http_response oauth_error(std::string_view error, std::string_view message)
    {
        boost::json::object body{
            {"data", nullptr}, {"message", message}, {"code", nullptr}, {"success", false}, {"error", error}};
        auto response = make_json_response(http::status::bad_request, boost::json::serialize(body));
        response.set(http::field::cache_control, "no-store");
        return response;
    }

    static http_response login_failure(boost::json::value data, std::string_view code, std::string_view message)
    {
        boost::json::object body{{"data", std::move(data)}, {"code", code}, {"message", message}, {"success", false}};
        return make_json_response(http::status::ok, boost::json::serialize(body));
    }

    boost::json::value lifetime_value(std::chrono::seconds lifetime) const
    {
        if (options_.expires_in_as_string)
            return boost::json::value(std::to_string(lifetime.count()));
        return boost::json::value(lifetime.count());
    }

    std::string new_access_token(std::string client_id, std::string scope)
    {
        std::string token = "emu-access-" + random_base64url(32);
        access_tokens_[token] = access_record{std::move(client_id), std::move(scope), now() + options_.access_token_lifetime};
        return token;
    }

    std::string new_refresh_token(std::string client_id, std::string scope, bool single_use)
    {
        std::string token = "emu-refresh-" + random_base64url(32);
        refresh_tokens_[token] =
            refresh_record{std::move(client_id), std::move(scope), now() + options_.refresh_token_lifetime, single_use, false};
        return token;
    }

    std::pair<std::string, std::string> new_session()
    {
        std::string session = "emu-session-" + random_base64url(32);
        std::string master = "emu-master-" + random_base64url(32);
        sessions_[session] = now() + options_.session_lifetime;
        return {std::move(session), std::move(master)};
    }

    // A JWT-shaped ingress token: a readable header and payload (with exp), a random signature.
    std::string new_ingress_token(std::string_view scope)
    {
        const std::int64_t issued = wall_seconds();
        boost::json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", "takeoff-emulator"}};
        boost::json::object payload{{"iss", "takeoff-emulator"},
                                    {"sub", ascii_upper(options_.account_name) + "." + ascii_upper(options_.keypair_user)},
                                    {"scope", scope},
                                    {"iat", issued},
                                    {"exp", issued + options_.ingress_token_lifetime.count()}};
        std::string token = base64url_encode(boost::json::serialize(header)) + "." +
                            base64url_encode(boost::json::serialize(payload)) + "." + random_base64url(64);
        ingress_tokens_[token] = now() + options_.ingress_token_lifetime;
        return token;
    }

    http_response token_response(const std::string& access, const std::optional<std::string>& refresh,
                                 const std::optional<std::string>& scope, bool with_username) const
    {
        boost::json::object body;
        body["access_token"] = access;
        body["token_type"] = "Bearer";
        body["expires_in"] = lifetime_value(options_.access_token_lifetime);
        if (refresh) {
            body["refresh_token"] = *refresh;
            body["refresh_token_expires_in"] = lifetime_value(options_.refresh_token_lifetime);
        }
        if (with_username)
            body["username"] = options_.username;
        if (scope)
            body["scope"] = *scope;
        body["idpInitiated"] = false;
        auto response = make_json_response(http::status::ok, boost::json::serialize(body));
        response.set(http::field::cache_control, "no-store");
        return response;
    }

    http_response code_grant(const form_fields& fields, const std::string& client_id)
    {
        static constexpr std::string_view bad_grant = "The provided grant or refresh token is invalid.";
        const auto code = form_value(fields, "code");
        if (!code)
            return oauth_error("invalid_request", "The code is missing.");
        const auto found = codes_.find(*code);
        if (found == codes_.end() || found->second.used || found->second.expires <= now() ||
            found->second.client_id != client_id)
            return oauth_error("invalid_grant", bad_grant);
        code_record& record = found->second;
        record.used = true; // any attempt spends the code
        if (form_value(fields, "redirect_uri") != std::optional<std::string>(record.redirect_uri))
            return oauth_error("invalid_grant", bad_grant);
        if (record.challenge) {
            const auto verifier = form_value(fields, "code_verifier");
            if (!verifier)
                return oauth_error("invalid_grant", bad_grant);
            auto challenge = oauth::pkce_s256_challenge(*verifier);
            if (!challenge || !oauth::constant_time_equal(*challenge, *record.challenge))
                return oauth_error("invalid_grant", bad_grant);
        }
        const bool single_use = options_.single_use_refresh_tokens ||
                                form_value(fields, "enable_single_use_refresh_tokens") == std::optional<std::string>("true");
        const std::string scope = record.scope;
        const bool wants_refresh = record.wants_refresh;
        std::string access = new_access_token(client_id, scope);
        std::optional<std::string> refresh;
        if (wants_refresh && options_.issue_refresh_tokens)
            refresh = new_refresh_token(client_id, scope, single_use);
        return token_response(access, refresh, scope.empty() ? std::nullopt : std::optional<std::string>(scope), true);
    }

    http_response refresh_grant(const form_fields& fields, const std::string& client_id)
    {
        const auto token = form_value(fields, "refresh_token");
        if (!token)
            return oauth_error("invalid_request", "The refresh_token is missing.");
        const auto found = refresh_tokens_.find(*token);
        if (found == refresh_tokens_.end() || found->second.dead || found->second.expires <= now() ||
            found->second.client_id != client_id)
            return oauth_error("invalid_grant", "The provided grant or refresh token is invalid.");
        const auto scope = form_value(fields, "scope");
        if (scope && *scope != found->second.scope)
            return oauth_error("invalid_scope", "The requested scope is invalid.");
        const std::string granted_scope = found->second.scope;
        const bool rotate = options_.single_use_refresh_tokens || found->second.single_use;
        std::optional<std::string> rotated;
        if (rotate) {
            const bool single_use = found->second.single_use;
            found->second.dead = true; // before the insert below, which may rehash
            rotated = new_refresh_token(client_id, granted_scope, single_use);
        }
        std::string access = new_access_token(client_id, granted_scope);
        return token_response(access, rotated, std::nullopt, false);
    }

    static bool valid_exchange_scope(std::string_view scope)
    {
        std::size_t hosts = 0;
        std::size_t roles = 0;
        std::size_t pos = 0;
        for (;;) {
            const std::size_t end = scope.find(' ', pos);
            const std::string_view part = scope.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
            if (part.starts_with("session:role:")) {
                if (part.size() == std::string_view("session:role:").size())
                    return false;
                ++roles;
            } else if (looks_like_host(part)) {
                ++hosts;
            } else {
                return false;
            }
            if (end == std::string_view::npos)
                break;
            pos = end + 1;
        }
        return hosts == 1 && roles <= 1;
    }

    bool verify_user_jwt(std::string_view assertion, std::string& why) const
    {
        if (!options_.keypair_public_key_pem) {
            why = "no RSA public key is registered for the user";
            return false;
        }
        auto jwt = decode_jwt(assertion, why);
        if (!jwt)
            return false;
        if (json_string(jwt->header, "alg") != std::optional<std::string>("RS256")) {
            why = "alg must be RS256";
            return false;
        }
        const public_key key = public_key::from_pem(*options_.keypair_public_key_pem);
        if (!key.verify_rs256(jwt->signing_input, jwt->signature)) {
            why = "the signature does not verify with the user's public key";
            return false;
        }
        const std::string subject = ascii_upper(options_.account_name) + "." + ascii_upper(options_.keypair_user);
        if (json_string(jwt->payload, "sub") != std::optional<std::string>(subject)) {
            why = "sub must be " + subject;
            return false;
        }
        if (json_string(jwt->payload, "iss") != std::optional<std::string>(subject + "." + key.sha256_fingerprint())) {
            why = "iss must be <sub>.SHA256:<fingerprint of the registered key>";
            return false;
        }
        const auto issued = json_integer(jwt->payload, "iat");
        const auto expires = json_integer(jwt->payload, "exp");
        const std::int64_t wall = wall_seconds();
        if (!issued || !expires) {
            why = "iat and exp must be numbers";
            return false;
        }
        if (*expires <= wall) {
            why = "the JWT has expired";
            return false;
        }
        if (*issued > wall + 60) {
            why = "iat is in the future";
            return false;
        }
        if (*expires - *issued > 3600) {
            why = "exp is more than one hour after iat";
            return false;
        }
        return true;
    }

    bool ingress_accepts(const std::string& token) const
    {
        const auto time = now();
        if (const auto found = sessions_.find(token); found != sessions_.end())
            return found->second > time;
        if (const auto found = ingress_tokens_.find(token); found != ingress_tokens_.end())
            return found->second > time;
        for (const auto& pat : options_.programmatic_access_tokens)
            if (oauth::constant_time_equal(pat, token))
                return true;
        if (options_.accept_oauth_access_token_at_ingress)
            if (const auto found = access_tokens_.find(token); found != access_tokens_.end())
                return found->second.expires > time;
        return false;
    }

    mutable std::mutex mutex_;
    snowflake_options options_;
    clock::duration offset_{};
    std::optional<std::pair<std::string, std::string>> next_authorization_error_;
    std::unordered_map<std::string, code_record> codes_;
    std::unordered_map<std::string, access_record> access_tokens_;
    std::unordered_map<std::string, refresh_record> refresh_tokens_;
    std::unordered_map<std::string, clock::time_point> sessions_;
    std::unordered_map<std::string, clock::time_point> ingress_tokens_;
    counters counts_;
};

} // namespace detail

/// The Snowflake account and the SPCS ingress, as routes of an emulator::server. Thread-safe:
/// handlers run on the server thread; tests call the knobs and counters from theirs. Copies share
/// one account.
class snowflake_emulator {
public:
    explicit snowflake_emulator(snowflake_options options = {})
        : state_(std::make_shared<detail::snowflake_state>(std::move(options))) {}

    /// Adds GET /oauth/authorize, POST /oauth/token-request, POST /oauth/token and
    /// POST /session/v1/login-request to `s` (replacing routes of the same method and path).
    void install(server& s)
    {
        s.route(http::verb::get, "/oauth/authorize", [state = state_](exchange& ex) -> asio::awaitable<void> {
            http_response response = state->authorize(ex.request());
            co_await ex.async_respond(std::move(response));
        });
        s.route(http::verb::post, "/oauth/token-request", [state = state_](exchange& ex) -> asio::awaitable<void> {
            http_response response = state->token_request(ex.request());
            co_await ex.async_respond(std::move(response));
        });
        s.route(http::verb::post, "/oauth/token", [state = state_](exchange& ex) -> asio::awaitable<void> {
            http_response response = state->jwt_exchange(ex.request());
            co_await ex.async_respond(std::move(response));
        });
        s.route(http::verb::post, "/session/v1/login-request", [state = state_](exchange& ex) -> asio::awaitable<void> {
            http_response response = state->login_request(ex.request());
            co_await ex.async_respond(std::move(response));
        });
    }

    /// A handler that runs `backend` only for requests with a valid ingress credential
    /// (`Snowflake Token="..."` in X-SF-SPCS-Authorization or Authorization): a live session
    /// token, a live JWT-exchanged ingress token, a configured PAT, or (with
    /// accept_oauth_access_token_at_ingress) a live OAuth access token. The backend sees the
    /// request without the credential header(s) and with `Sf-Context-Current-User: <username>`.
    /// No credential: 302 to ingress_login_url. A bad or expired one: 401 ERROR_INVALID_TOKEN
    /// JSON with `Server: _`. TRACE and CONNECT: 405.
    handler ingress(handler backend)
    {
        if (!backend)
            throw std::invalid_argument("takeoff-emulator: empty ingress backend");
        return [state = state_, backend = std::move(backend)](exchange& ex) -> asio::awaitable<void> {
            std::optional<http_response> refusal = state->admit(ex.mutable_request());
            if (refusal) {
                http_response response = std::move(*refusal);
                co_await ex.async_respond(std::move(response));
                co_return;
            }
            asio::awaitable<void> handling = backend(ex);
            co_await std::move(handling);
        };
    }

    /// Moves the emulator's clock forward (tokens, codes, sessions expire without waiting; JWT
    /// `exp`/`iat` are checked against the wall clock moved by the same amount).
    void advance_clock(std::chrono::seconds by) { state_->advance_clock(by); }
    /// Every refresh token issued so far becomes invalid (invalid_grant).
    void revoke_refresh_tokens() { state_->revoke_refresh_tokens(); }
    /// Rotates the first client secret.
    void set_client_secret(std::string s)
    {
        state_->configure([&](snowflake_options& o) { o.client_secret = std::move(s); });
    }
    /// Sets or clears the second client secret.
    void set_client_secret_2(std::optional<std::string> s)
    {
        state_->configure([&](snowflake_options& o) { o.client_secret_2 = std::move(s); });
    }
    /// Changes any knob under the emulator's lock, e.g. `configure([](auto& o) { o.enforce_pkce = false; })`.
    void configure(const std::function<void(snowflake_options&)>& change) { state_->configure(change); }
    /// The next authorization that passes validation redirects with `error` (e.g. "access_denied",
    /// as when the user declines consent) and `error_description` instead of a code; once.
    void fail_next_authorization(std::string error, std::string description = "The user denied the request.")
    {
        state_->fail_next_authorization(std::move(error), std::move(description));
    }

    /// An access token (and a refresh token when `scope` holds refresh_token and refresh tokens are
    /// issued), as if a code had been exchanged. Throws std::invalid_argument for an invalid scope.
    issued_tokens issue_tokens(std::string_view scope = "refresh_token") { return state_->issue_tokens(scope); }
    /// A session token, as if login-request had succeeded.
    std::string issue_session_token() { return state_->issue_session_token(); }
    /// An ingress token, as if /oauth/token had exchanged a key-pair JWT for this scope.
    std::string issue_ingress_token(std::string_view scope = "emulator-endpoint.snowflakecomputing.app")
    {
        return state_->issue_ingress_token(scope);
    }
    /// True while a refresh token is known, unexpired, not revoked and not rotated away.
    bool refresh_token_valid(std::string_view token) const { return state_->refresh_token_valid(token); }

    /// GET /oauth/authorize calls.
    std::size_t authorizations() const { return state_->counts().authorizations; }
    /// POST /oauth/token-request calls, whatever their grant or outcome.
    std::size_t token_requests() const { return state_->counts().token_requests; }
    /// token-request calls with grant_type=refresh_token.
    std::size_t refresh_grants() const { return state_->counts().refresh_grants; }
    /// token-request calls with grant_type=authorization_code.
    std::size_t code_grants() const { return state_->counts().code_grants; }
    /// POST /session/v1/login-request calls.
    std::size_t login_requests() const { return state_->counts().login_requests; }
    /// POST /oauth/token calls.
    std::size_t jwt_exchanges() const { return state_->counts().jwt_exchanges; }
    /// Requests the ingress passed to its backend.
    std::size_t ingress_accepted() const { return state_->counts().ingress_accepted; }
    /// Requests the ingress refused for their credential (302 for none, 401 for a bad one).
    std::size_t ingress_rejections() const { return state_->counts().ingress_rejections; }

    /// A copy of the current options (knobs may change meanwhile, see configure).
    snowflake_options options() const { return state_->options(); }

private:
    std::shared_ptr<detail::snowflake_state> state_;
};

} // namespace takeoff::emulator

#pragma once
// The token endpoint half of the OAuth authorization code flow (RFC 6749 sections 4.1.3, 5 and 6):
// the requests that exchange a code or a refresh token, how the client authenticates itself, the
// reply's tokens, the reply's error, and how a reply updates a token_set.
//
// Sans-io: requests are http::request values and replies http::response values; the auth layer
// sends and receives them. No token, secret, code or verifier is ever put in a message, and the
// JSON of a reply (which holds tokens) is parsed into memory that is wiped when it is freed.

#include <takeoff/core/base64.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/secret_json.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/oauth/authorization.hpp>
#include <takeoff/oauth/endpoint.hpp>
#include <takeoff/oauth/form.hpp>
#include <takeoff/oauth/token_set.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/json/memory_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::oauth {

/// How the client proves who it is at the token endpoint (RFC 6749 section 2.3.1). Either way, the
/// credentials are sent once: never in a header and the body together.
enum class client_auth_method {
    /// `client_id` and `client_secret` in the form body (Snowflake's recommendation; no encoding doubt).
    client_secret_post,
    /// `Authorization: Basic base64(form_encode(id) ":" form_encode(secret))`, nothing in the body.
    client_secret_basic,
};

/// The method's name as OAuth spells it ("client_secret_post", "client_secret_basic").
constexpr std::string_view to_string(client_auth_method method) noexcept {
    return method == client_auth_method::client_secret_basic ? "client_secret_basic" : "client_secret_post";
}

/// Prints the method's name.
inline std::ostream& operator<<(std::ostream& os, client_auth_method method) { return os << to_string(method); }

/// The integration's client id and secret and how they are sent (never both ways at once).
struct client_credentials {
    /// The integration's OAUTH_CLIENT_ID.
    std::string client_id;
    /// One of its secrets (SYSTEM$SHOW_OAUTH_CLIENT_SECRETS). Empty for a public client, which
    /// then sends only its client_id (client_secret_post only).
    secret client_secret;
    /// Where the credentials go.
    client_auth_method method = client_auth_method::client_secret_post;

    /// Prints the client id and the method; the secret shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const client_credentials& c) {
        return os << "client_credentials{client_id=\"" << c.client_id << "\", client_secret=" << c.client_secret
                  << ", method=" << c.method << '}';
    }
};

/// Extra knobs of the authorization_code grant.
struct code_exchange_options {
    /// Sends `enable_single_use_refresh_tokens=true`: each refresh then returns a new refresh token
    /// and invalidates the old ones (Snowflake's single-use refresh tokens).
    bool single_use_refresh_tokens = false;
};

/// An OAuth client of one integration: its endpoints, its credentials and what it asks for.
struct client_config {
    /// Where the browser signs in (Snowflake: <account>/oauth/authorize).
    oauth::authorization_endpoint authorization_endpoint;
    /// Where codes and refresh tokens are exchanged (Snowflake: <account>/oauth/token-request).
    oauth::token_endpoint token_endpoint;
    /// The integration's OAUTH_CLIENT_ID.
    std::string client_id{};
    /// Its OAUTH_CLIENT_SECRET.
    secret client_secret{};
    /// Its OAUTH_CLIENT_SECRET_2, tried when the token endpoint refuses the first with invalid_client.
    std::optional<secret> client_secret_2{};
    /// How the credentials are sent (client_secret_post unless the integration needs Basic).
    client_auth_method auth_method = client_auth_method::client_secret_post;
    /// The scope asked for (e.g. snowflake::scopes::str()); empty: none.
    std::string scope{};
    /// The loopback redirect URI registered with the integration (http://127.0.0.1:PORT/PATH);
    /// no port: an ephemeral one, for integrations that accept any loopback port.
    std::string redirect_uri{};
    /// Knobs of the code exchange (single-use refresh tokens).
    code_exchange_options exchange{};

    /// The credentials to present, in order (the second secret only when it differs).
    std::vector<client_credentials> credentials_to_try() const {
        std::vector<client_credentials> out;
        out.push_back({client_id, client_secret, auth_method});
        if (client_secret_2 && !client_secret_2->empty() && !(*client_secret_2 == client_secret))
            out.push_back({client_id, *client_secret_2, auth_method});
        return out;
    }

    /// Prints the endpoints, the client id, the scope and the redirect URI; secrets show as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const client_config& c) {
        return os << "client_config{authorization_endpoint=" << c.authorization_endpoint
                  << ", token_endpoint=" << c.token_endpoint << ", client_id=" << c.client_id
                  << ", client_secret=" << c.client_secret << ", auth_method=" << c.auth_method << ", scope=\""
                  << c.scope << "\", redirect_uri=" << c.redirect_uri << '}';
    }
};


/// The Content-Type of token requests (as the Snowflake drivers send it).
inline constexpr std::string_view token_request_content_type = "application/x-www-form-urlencoded; charset=UTF-8";

namespace detail {

// The failure of a request builder: errc `code`, with `message` in diag.
inline boost::system::result<http::request> refuse_request(diagnostics& diag, errc code, std::string message) {
    diag.set_client_message(std::move(message));
    return make_error_code(code);
}

// Checks the client credentials every token request needs.
inline bool check_client(const client_credentials& client, diagnostics& diag) {
    if (client.client_id.empty()) {
        diag.set_client_message("the token request needs a client_id");
        return false;
    }
    if (client.method == client_auth_method::client_secret_basic && client.client_secret.empty()) {
        diag.set_client_message("client_secret_basic needs a client secret (a public client sends its "
                                "client_id in the body: client_secret_post)");
        return false;
    }
    return true;
}

// The POST of `body` to the endpoint, with the client's credentials in the body or the header.
inline boost::system::result<http::request> finish_token_request(const token_endpoint& endpoint,
                                                                 const client_credentials& client,
                                                                 form_builder& form, diagnostics& diag) {
    auto url = boost::urls::parse_absolute_uri(endpoint.url());
    if (!url) return refuse_request(diag, errc::invalid_url, "the token endpoint URL cannot be parsed");

    if (client.method == client_auth_method::client_secret_post) {
        form.add("client_id", client.client_id);
        if (!client.client_secret.empty()) form.add("client_secret", client.client_secret.reveal());
    }
    http::request request = http::request::post(boost::urls::url(*url), form.take(), token_request_content_type);
    request.headers.set(boost::beast::http::field::accept, "application/json");
    if (client.method == client_auth_method::client_secret_basic) {
        // RFC 6749 section 2.3.1: each half form-encoded, then joined and base64-encoded.
        std::string pair = form_encode(client.client_id);
        pair += ':';
        append_form_encoded(pair, client.client_secret.reveal());
        std::string value = "Basic " + base64_encode(pair);
        request.headers.set(boost::beast::http::field::authorization, value);
        takeoff::detail::wipe_string(pair);
        takeoff::detail::wipe_string(value);
    }
    return request;
}

} // namespace detail

/// The authorization_code grant (RFC 6749 section 4.1.3 with RFC 7636's code_verifier): a POST to
/// the endpoint with Content-Type token_request_content_type, `Accept: application/json` and the
/// body `grant_type=authorization_code&code=…&redirect_uri=…&code_verifier=…`, then
/// `&enable_single_use_refresh_tokens=true` when asked, then (client_secret_post)
/// `&client_id=…&client_secret=…` (no client_secret when it is empty: a public client). With
/// client_secret_basic the credentials go only into the Authorization header.
/// `redirect_uri` must be the string the authorization URL carried.
/// Errors, with a client message: an empty client_id, code or redirect_uri, or client_secret_basic
/// without a secret: errc::invalid_argument; an empty code_verifier: errc::pkce_missing; an
/// endpoint URL that Boost.URL cannot parse: errc::invalid_url.
inline boost::system::result<http::request>
make_authorization_code_request(const token_endpoint& endpoint, const client_credentials& client, const secret& code,
                                std::string_view redirect_uri, const secret& code_verifier,
                                const code_exchange_options& options, diagnostics& diag) {
    diag.clear();
    if (!detail::check_client(client, diag)) return make_error_code(errc::invalid_argument);
    if (code.empty()) return detail::refuse_request(diag, errc::invalid_argument, "the token request needs a code");
    if (redirect_uri.empty())
        return detail::refuse_request(diag, errc::invalid_argument, "the token request needs a redirect_uri");
    if (code_verifier.empty())
        return detail::refuse_request(diag, errc::pkce_missing, "the token request needs the PKCE code_verifier");

    form_builder form;
    form.add("grant_type", "authorization_code")
        .add("code", code.reveal())
        .add("redirect_uri", redirect_uri)
        .add("code_verifier", code_verifier.reveal());
    if (options.single_use_refresh_tokens) form.add("enable_single_use_refresh_tokens", "true");
    return detail::finish_token_request(endpoint, client, form, diag);
}

/// As above, with the default code_exchange_options.
inline boost::system::result<http::request>
make_authorization_code_request(const token_endpoint& endpoint, const client_credentials& client, const secret& code,
                                std::string_view redirect_uri, const secret& code_verifier, diagnostics& diag) {
    return make_authorization_code_request(endpoint, client, code, redirect_uri, code_verifier,
                                           code_exchange_options{}, diag);
}

/// The refresh_token grant (RFC 6749 section 6): as make_authorization_code_request, with the body
/// `grant_type=refresh_token&refresh_token=…[&scope=…]` and then the client's credentials. An empty
/// `scope` sends no scope field (Snowflake keeps the original one; the drivers resend it).
/// Errors, with a client message: an empty client_id or refresh token, or client_secret_basic
/// without a secret: errc::invalid_argument; an endpoint URL Boost.URL cannot parse: errc::invalid_url.
inline boost::system::result<http::request> make_refresh_token_request(const token_endpoint& endpoint,
                                                                       const client_credentials& client,
                                                                       const secret& refresh_token,
                                                                       std::string_view scope, diagnostics& diag) {
    diag.clear();
    if (!detail::check_client(client, diag)) return make_error_code(errc::invalid_argument);
    if (refresh_token.empty())
        return detail::refuse_request(diag, errc::invalid_argument, "the token request needs a refresh token");

    form_builder form;
    form.add("grant_type", "refresh_token").add("refresh_token", refresh_token.reveal());
    if (!scope.empty()) form.add("scope", scope);
    return detail::finish_token_request(endpoint, client, form, diag);
}

/// A token endpoint's successful reply.
struct token_response {
    /// The new access token (never empty).
    secret access_token;
    /// "Bearer", the only type accepted (whatever case the server wrote it in, or when it sent none).
    std::string token_type = "Bearer";
    /// The access token's lifetime, when the server sent one (a number or a string of digits).
    std::optional<std::chrono::seconds> expires_in;
    /// A new refresh token: at code exchange when the scope asked for one, and at refresh with
    /// single-use refresh tokens. Absent (or sent empty): keep the one held.
    std::optional<secret> refresh_token;
    /// The refresh token's lifetime, when the server sent one (Snowflake's mocks do).
    std::optional<std::chrono::seconds> refresh_token_expires_in;
    /// The granted scope, when the server echoed it.
    std::optional<std::string> scope;
    /// The Snowflake user name (code exchange only).
    std::optional<std::string> username;

    /// Prints the fields; every token shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const token_response& r) {
        const auto seconds = [&os](const std::optional<std::chrono::seconds>& s) -> std::ostream& {
            if (s) return os << s->count();
            return os << "(none)";
        };
        const auto text = [&os](const std::optional<std::string>& s) -> std::ostream& {
            if (s) return os << '"' << *s << '"';
            return os << "(none)";
        };
        os << "token_response{access_token=" << r.access_token << ", token_type=\"" << r.token_type
           << "\", expires_in=";
        seconds(r.expires_in) << ", refresh_token=";
        if (r.refresh_token)
            os << *r.refresh_token;
        else
            os << "(none)";
        os << ", refresh_token_expires_in=";
        seconds(r.refresh_token_expires_in) << ", scope=";
        text(r.scope) << ", username=";
        return text(r.username) << '}';
    }
};

/// The longest lifetime accepted in a token response: 2^31 - 1 seconds (68 years). A larger value
/// is malformed (and would overflow the clock when added to the current time).
inline constexpr std::chrono::seconds max_token_lifetime{2147483647};

namespace detail {

// A string from the server fit to quote in our own message: 1 to 64 of [A-Za-z0-9_.-], else empty.
inline std::string_view quotable_word(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64) return {};
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return {};
    return s;
}

inline bool is_success_status(unsigned status) noexcept { return status >= 200 && status < 300; }

// A lifetime field: absent or null (nullopt, true), a whole number or a string of digits from 0 to
// max_token_lifetime (the value, true); anything else (nullopt, false).
inline bool read_lifetime(const boost::json::object& obj, std::string_view key,
                          std::optional<std::chrono::seconds>& out) {
    out.reset();
    const boost::json::value* v = obj.if_contains(key);
    if (!v || v->is_null()) return true;
    const std::int64_t max = max_token_lifetime.count();
    std::int64_t n = 0;
    if (const std::int64_t* i = v->if_int64()) {
        if (*i < 0 || *i > max) return false;
        n = *i;
    } else if (const std::uint64_t* u = v->if_uint64()) {
        if (*u > static_cast<std::uint64_t>(max)) return false;
        n = static_cast<std::int64_t>(*u);
    } else if (const double* d = v->if_double()) {
        // 600.0 is a whole number of seconds; 1.5 is not.
        if (!(*d >= 0 && *d <= static_cast<double>(max)) || static_cast<double>(static_cast<std::int64_t>(*d)) != *d)
            return false;
        n = static_cast<std::int64_t>(*d);
    } else if (const boost::json::string* s = v->if_string()) {
        if (s->empty() || s->size() > 10) return false;
        for (char c : *s) {
            if (c < '0' || c > '9') return false;
            n = n * 10 + (c - '0');
        }
        if (n > max) return false;
    } else {
        return false;
    }
    out = std::chrono::seconds(n);
    return true;
}

// An optional string field: absent or null (nullopt, true), a string (the value, true), else false.
inline bool read_optional_string(const boost::json::object& obj, std::string_view key,
                                 std::optional<std::string>& out) {
    out.reset();
    const boost::json::value* v = obj.if_contains(key);
    if (!v || v->is_null()) return true;
    const boost::json::string* s = v->if_string();
    if (!s) return false;
    out.emplace(s->data(), s->size());
    return true;
}

// The hint that follows a well-known OAuth error in our message, or empty.
inline std::string_view token_error_hint(errc code) noexcept {
    switch (code) {
    case errc::invalid_grant:
        return "the code or refresh token is invalid, expired or was already used: sign in again";
    case errc::invalid_client:
        return "check the client id and client secret, and whether they go in the body (client_secret_post) or "
               "the Authorization header (client_secret_basic)";
    case errc::invalid_request: return "a client bug: the request is malformed or lacks a parameter";
    case errc::unsupported_grant_type: return "a client bug: the server does not accept this grant type";
    case errc::unauthorized_client: return "the integration may not use this grant type";
    case errc::invalid_scope: return "the scope is invalid or asks for more than was granted";
    case errc::server_error: return "the authorization server failed: try again later";
    case errc::temporarily_unavailable: return "the authorization server is busy: try again later";
    default: return {};
    }
}

} // namespace detail

/// The error a token endpoint's non-2xx (or malformed) reply stands for, with diag filled:
/// - a JSON object with a string `error`, in Snowflake's shape (`{"data":null,"message":"…",
///   "code":null,"success":false,"error":"invalid_client"}`) or RFC 6749's (`{"error":"invalid_grant",
///   "error_description":"…"}`): errc_from_oauth_error(error) (an unknown string: errc::oauth_error),
///   whatever the status. diag: http_status, server_error_code = error, server_message = `message`
///   or else `error_description` (untrusted text), client_message = "the token endpoint refused the
///   request: <error> (<what to do>)";
/// - any other non-2xx reply (not JSON, or no `error`): errc_from_http_status(status)
///   (errc::http_status for a non-error status such as a 3xx), server_message = the JSON `message`
///   or else an excerpt of the body;
/// - a 2xx reply without `error`: errc::invalid_response, and the body is not quoted (it may hold a
///   token).
/// Never returns success.
inline boost::system::error_code token_error_from_response(const http::response& response, diagnostics& diag) {
    diag.clear();
    diag.set_http_status(response.status);
    const takeoff::detail::secret_json doc(response.body);
    const boost::json::object* obj = doc.object();

    const auto text_field = [obj](std::string_view key) -> std::string_view {
        if (!obj) return {};
        const boost::json::value* v = obj->if_contains(key);
        const boost::json::string* s = v ? v->if_string() : nullptr;
        return s ? std::string_view(s->data(), s->size()) : std::string_view();
    };
    const std::string_view error = text_field("error");
    std::string_view explanation = text_field("message");
    if (explanation.empty()) explanation = text_field("error_description");

    if (!error.empty()) {
        const errc code = errc_from_oauth_error(error);
        diag.set_server_error_code(error);
        if (!explanation.empty()) diag.set_server_message(explanation);
        std::string message = "the token endpoint refused the request: ";
        const std::string_view word = detail::quotable_word(error);
        message += word.empty() ? std::string_view("an unrecognised error") : word;
        if (const std::string_view hint = detail::token_error_hint(code); !hint.empty()) {
            message += " (";
            message += hint;
            message += ')';
        }
        diag.set_client_message(std::move(message));
        return make_error_code(code);
    }

    if (detail::is_success_status(response.status)) {
        diag.set_client_message("the token endpoint's reply (HTTP " + std::to_string(response.status) +
                                ") holds neither an access token nor an OAuth error");
        return make_error_code(errc::invalid_response);
    }
    if (!explanation.empty())
        diag.set_server_message(explanation);
    else if (!response.body.empty())
        diag.set_server_message(response.body);
    diag.set_client_message("the token endpoint answered HTTP " + std::to_string(response.status) +
                            " without an OAuth error");
    const errc code = errc_from_http_status(response.status);
    return make_error_code(code == errc{} ? errc::http_status : code);
}

/// Reads a token endpoint's reply. A 2xx JSON object with `access_token` is a success; a non-2xx
/// reply, or a 2xx one with `"success": false` or with an `error` and no `access_token`, is the
/// error token_error_from_response gives. The success rules, each failing with
/// errc::invalid_response and a client message naming the field (never its value):
/// - the body is a JSON object (the Content-Type is not checked);
/// - `access_token` is a non-empty string;
/// - `token_type` is absent or null (taken as Bearer) or "Bearer" in any case; another type is
///   refused ("token_type 'mac' is not supported");
/// - `expires_in` and `refresh_token_expires_in` are absent, null, a whole number or a string of
///   digits, from 0 to max_token_lifetime;
/// - `refresh_token`, `scope` and `username` are absent, null or strings (an empty refresh_token
///   counts as none).
/// Other fields (`idpInitiated`, ...) are ignored.
inline boost::system::result<token_response> parse_token_response(const http::response& response,
                                                                  diagnostics& diag) {
    diag.clear();
    if (!detail::is_success_status(response.status)) return token_error_from_response(response, diag);

    const takeoff::detail::secret_json doc(response.body);
    const boost::json::object* obj = doc.object();
    auto invalid = [&diag, &response](std::string message) -> boost::system::result<token_response> {
        diag.set_http_status(response.status);
        diag.set_client_message(std::move(message));
        return make_error_code(errc::invalid_response);
    };
    if (!doc.value()) return invalid("the token endpoint's reply is not JSON");
    if (!obj) return invalid("the token endpoint's reply is not a JSON object");

    const boost::json::value* token = obj->if_contains("access_token");
    const boost::json::value* success = obj->if_contains("success");
    const boost::json::value* error = obj->if_contains("error");
    if ((success && success->is_bool() && !success->get_bool()) ||
        ((!token || token->is_null()) && error && error->is_string()))
        return token_error_from_response(response, diag);

    token_response out;
    if (!token || token->is_null()) return invalid("the token response has no access_token");
    const boost::json::string* token_text = token->if_string();
    if (!token_text) return invalid("the token response's access_token is not a string");
    if (token_text->empty()) return invalid("the token response's access_token is empty");
    out.access_token = secret(std::string_view(token_text->data(), token_text->size()));

    if (const boost::json::value* type = obj->if_contains("token_type"); type && !type->is_null()) {
        const boost::json::string* type_text = type->if_string();
        if (!type_text) return invalid("the token response's token_type is not a string");
        const std::string_view type_view(type_text->data(), type_text->size());
        if (!detail::iequals(type_view, "bearer")) {
            const std::string_view word = detail::quotable_word(type_view);
            return invalid(word.empty() ? std::string("the token response's token_type is not supported (only Bearer is)")
                                        : "token_type '" + std::string(word) + "' is not supported (only Bearer is)");
        }
    }

    if (!detail::read_lifetime(*obj, "expires_in", out.expires_in))
        return invalid("the token response's expires_in is not a whole number of seconds from 0 to 2147483647");
    if (!detail::read_lifetime(*obj, "refresh_token_expires_in", out.refresh_token_expires_in))
        return invalid("the token response's refresh_token_expires_in is not a whole number of seconds from 0 "
                       "to 2147483647");

    if (const boost::json::value* refresh = obj->if_contains("refresh_token"); refresh && !refresh->is_null()) {
        const boost::json::string* refresh_text = refresh->if_string();
        if (!refresh_text) return invalid("the token response's refresh_token is not a string");
        if (!refresh_text->empty())
            out.refresh_token.emplace(std::string_view(refresh_text->data(), refresh_text->size()));
    }
    if (!detail::read_optional_string(*obj, "scope", out.scope))
        return invalid("the token response's scope is not a string");
    if (!detail::read_optional_string(*obj, "username", out.username))
        return invalid("the token response's username is not a string");
    return out;
}

/// Folds a reply into the token set: new access token and lifetimes from `now`; a new refresh token
/// replaces the old, none keeps the old; scope: the reply's, else `requested_scope`; username kept unless a new one comes.
///
/// In detail: expires_at is now + expires_in, or unknown when the reply has none. A reply with a
/// refresh token replaces the refresh token and its expiry (now + refresh_token_expires_in, or
/// unknown); a reply without one keeps both (rotation off). The scope is the reply's when it sent a
/// non-empty one, else `requested_scope` when not empty, else the previous scope. The username is
/// the reply's when it sent a non-empty one, else the previous one.
inline token_set apply_token_response(token_set previous, token_response reply, token_clock::time_point now,
                                      std::string_view requested_scope) {
    token_set next = std::move(previous);
    next.access_token = std::move(reply.access_token);
    next.expires_at.reset();
    if (reply.expires_in) next.expires_at = now + *reply.expires_in;
    if (reply.refresh_token) {
        next.refresh_token = std::move(reply.refresh_token);
        next.refresh_token_expires_at.reset();
        if (reply.refresh_token_expires_in) next.refresh_token_expires_at = now + *reply.refresh_token_expires_in;
    }
    if (reply.scope && !reply.scope->empty())
        next.scope = std::move(*reply.scope);
    else if (!requested_scope.empty())
        next.scope = std::string(requested_scope);
    if (reply.username && !reply.username->empty()) next.username = std::move(*reply.username);
    return next;
}

} // namespace takeoff::oauth

#pragma once
// Snowflake session login with an OAuth access token (reference: snowflake-auth.md section 6.3): the
// documented-safe way from a Snowflake-OAuth access token to a credential an SPCS ingress accepts.
// POST <account>/session/v1/login-request with AUTHENTICATOR=OAUTH answers with a session token,
// which goes into `Authorization: Snowflake Token="..."`.
//
// Sans-io: the request is built and the response parsed as values; the auth layer sends it. Tokens
// are held in takeoff::secret and never reach a message: diagnostics quote Snowflake's `code` and
// `message` (untrusted, masked) and our own explanation only.

#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/secret_json.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/oauth/authorization.hpp>
#include <takeoff/oauth/pkce.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/identifier.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <boost/url/url.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::snowflake {

namespace detail {

// ASCII upper case; other bytes as they are.
constexpr char ascii_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// The account identifier in a Snowflake account URL's host, upper-cased: the first label (the
// region and cloud labels of a locator URL, `.privatelink` and the domain dropped). In the
// <org>-<account> form the first '-' separates the organisation (letters and digits only) from the
// account name, and any later '-' stands for a '_' of the account name (account names never hold
// '-'; URLs write their '_' as '-'), so it is written back as '_'. Empty for a loopback URL (tests,
// the emulator), which names no account.
inline std::string account_identifier_of(const account_url& account) {
    oauth::detail::url_parts parts;
    literal_check check;
    oauth::detail::parse_http_url(account.str(), parts, check); // an account_url always parses
    if (oauth::detail::is_loopback_host(parts.host)) return {};
    const std::string_view label = parts.host.substr(0, parts.host.find('.'));
    std::string out;
    out.reserve(label.size());
    bool after_org = false;
    for (char c : label) {
        if (c == '-') {
            out += after_org ? '_' : '-';
            after_org = true;
        } else {
            out += ascii_upper(c);
        }
    }
    return out;
}

// True when a token from a Snowflake response can go into `Snowflake Token="..."` as it is: visible
// ASCII without '"' and '\' (a quoted-string must not end early or carry escapes).
inline bool is_header_safe_token(std::string_view token) noexcept {
    if (token.empty()) return false;
    for (char c : token)
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
    return true;
}

// A JSON string as a std::string_view.
inline std::string_view view(const boost::json::string& s) noexcept { return {s.data(), s.size()}; }

// Snowflake's `code`, which is a string ("390318") or a number (390318); empty when absent.
inline std::string snowflake_code(const boost::json::object& body) {
    const boost::json::value* code = body.if_contains("code");
    if (!code) return {};
    if (code->is_string()) return std::string(view(code->as_string()));
    if (code->is_int64()) return std::to_string(code->as_int64());
    if (code->is_uint64()) return std::to_string(code->as_uint64());
    return {};
}

// The first of `keys` that holds a string in `body`, or nullptr.
inline const boost::json::string* first_string(const boost::json::object& body,
                                               std::initializer_list<std::string_view> keys) {
    for (std::string_view key : keys)
        if (const boost::json::value* v = body.if_contains(key); v && v->is_string()) return &v->as_string();
    return nullptr;
}

// The error of a non-2xx answer from a Snowflake endpoint. An OAuth error body (RFC 6749 section
// 5.2; Snowflake's `{"data":null,"message":...,"code":null,"success":false,"error":"invalid_grant"}`)
// gives the errc of its `error`; otherwise the status decides. diag gets the status, the `error` or
// Snowflake `code`, and `message` / `error_description` (or a body excerpt) as the server message.
// `what` names the request in our message.
inline boost::system::error_code http_failure(const http::response& response, std::string_view what,
                                              diagnostics& diag) {
    diag.set_http_status(response.status);
    errc code = errc_from_http_status(response.status);
    if (code == errc{}) code = errc::http_status; // a 1xx or 3xx that nobody handled
    boost::system::error_code parse_error;
    const boost::json::value body =
        boost::json::parse(boost::json::string_view(response.body.data(), response.body.size()), parse_error);
    const boost::json::object* object = !parse_error && body.is_object() ? &body.as_object() : nullptr;
    const boost::json::string* message = object ? first_string(*object, {"message", "error_description"}) : nullptr;
    diag.set_server_message(message ? view(*message) : std::string_view(response.body));
    std::string explanation = std::string(what) + " failed with HTTP " + std::to_string(response.status);
    if (const boost::json::string* error = object ? first_string(*object, {"error"}) : nullptr) {
        code = oauth::errc_from_oauth_error(view(*error));
        diag.set_server_error_code(view(*error));
        explanation += " (an OAuth error: see server_error_code)";
    } else if (object) {
        diag.set_server_error_code(snowflake_code(*object));
    }
    diag.set_client_message(std::move(explanation));
    return make_error_code(code);
}

// Zeroes a JSON string that held a secret, before the value that owns it is destroyed.
inline void wipe_json_string(boost::json::string& s) noexcept {
    volatile char* p = s.data();
    for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
}

} // namespace detail

/// What the login request says about the client.
struct login_parameters {
    /// The ACCOUNT_NAME sent. Empty: derived from the account URL (its first host label,
    /// upper-cased: "MYORG-MYACCT", "XY12345"); required for a loopback URL, which names no account.
    std::string account_name;
    /// The session's role, sent as `&roleName=` (percent-encoded); empty: the token's role.
    std::optional<std::string> role;
    /// CLIENT_APP_ID.
    std::string client_app_id = "takeoff-cpp";
    /// CLIENT_APP_VERSION.
    std::string client_app_version = TAKEOFF_VERSION_STRING;
};

/// A new request id for the login request: a random (version 4) UUID in lower-case text,
/// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" with y one of 8, 9, a, b, from `source` (OpenSSL's
/// CSPRNG unless a test passes another). Fails only when the source does.
inline boost::system::result<std::string> make_request_id(oauth::random_source source = oauth::openssl_random_bytes) {
    std::array<unsigned char, 16> bytes{};
    if (const boost::system::error_code ec = source(std::span<unsigned char>(bytes))) return ec;
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40); // version 4
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80); // RFC 4122 variant
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 0x0f];
    }
    return out;
}

/// POST <account>/session/v1/login-request?request_id=<request_id>[&roleName=<role>] (both values
/// percent-encoded), Content-Type and Accept application/json, with the body
/// `{"data":{"ACCOUNT_NAME":...,"AUTHENTICATOR":"OAUTH","TOKEN":<access token>,"CLIENT_APP_ID":...,
/// "CLIENT_APP_VERSION":...,"CLIENT_ENVIRONMENT":{"OAUTH_TYPE":"OAUTH_AUTHORIZATION_CODE"}}}`.
/// Errors, with a client message: an empty access token or request id, or no account name for a
/// loopback URL: errc::invalid_argument; a role that is not a Snowflake identifier:
/// errc::invalid_identifier. The body holds the access token: it belongs to the request.
inline boost::system::result<http::request> make_login_request(const account_url& account, const secret& access_token,
                                                               const login_parameters& parameters,
                                                               std::string_view request_id, diagnostics& diag) {
    diag.clear();
    auto fail = [&diag](errc code, std::string message) -> boost::system::result<http::request> {
        diag.set_client_message(std::move(message));
        return make_error_code(code);
    };
    if (access_token.empty()) return fail(errc::invalid_argument, "the login request needs an OAuth access token");
    if (request_id.empty()) return fail(errc::invalid_argument, "the login request needs a request id");
    const std::string account_name =
        parameters.account_name.empty() ? detail::account_identifier_of(account) : parameters.account_name;
    if (account_name.empty())
        return fail(errc::invalid_argument,
                    "a loopback account URL names no account: set login_parameters::account_name");

    std::string target = account.login_request_url() + "?request_id=" + oauth::detail::encode_query_value(request_id);
    if (parameters.role) {
        if (auto ok = identifier::runtime(*parameters.role, diag); !ok) return ok.error();
        target += "&roleName=" + oauth::detail::encode_query_value(*parameters.role);
    }

    boost::json::object data;
    data["ACCOUNT_NAME"] = account_name;
    data["AUTHENTICATOR"] = "OAUTH";
    data["TOKEN"] = boost::json::string_view(access_token.reveal().data(), access_token.reveal().size());
    data["CLIENT_APP_ID"] = parameters.client_app_id;
    data["CLIENT_APP_VERSION"] = parameters.client_app_version;
    data["CLIENT_ENVIRONMENT"] = boost::json::object{{"OAUTH_TYPE", "OAUTH_AUTHORIZATION_CODE"}};
    boost::json::object root;
    root["data"] = std::move(data);
    std::string body = boost::json::serialize(root);
    detail::wipe_json_string(root["data"].as_object()["TOKEN"].as_string());

    http::request request = http::request::post(boost::urls::url(target), std::move(body), "application/json");
    request.headers.set(boost::beast::http::field::accept, "application/json");
    return request;
}

/// A Snowflake session token and how long it lives.
struct session_token {
    /// The session token (`data.token`): what `Authorization: Snowflake Token="..."` carries.
    secret token;
    /// How long the session token is valid (`validityInSeconds`; 3600 s when absent).
    std::chrono::seconds validity{0};
    /// The master token (`data.masterToken`), which renews sessions, when sent.
    std::optional<secret> master_token;
    /// How long the master token is valid (`masterValidityInSeconds`), when sent.
    std::optional<std::chrono::seconds> master_validity;

    /// Prints the lifetimes; every token shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const session_token& t) {
        os << "session_token{token=" << t.token << ", validity=" << t.validity.count() << "s, master_token=";
        if (t.master_token)
            os << *t.master_token;
        else
            os << "(none)";
        os << ", master_validity=";
        if (t.master_validity)
            os << t.master_validity->count() << 's';
        else
            os << "(none)";
        return os << '}';
    }
};

/// The session lifetime assumed when the login response has no `validityInSeconds`: Snowflake's
/// default session-token lifetime (one hour; the drivers' recorded responses send 3600). Assuming
/// it rather than refusing keeps a login usable; a session token that dies earlier is answered by
/// the ingress with 401, and the provider then logs in again.
inline constexpr std::chrono::seconds default_session_validity{3600};

namespace detail {

// Longest lifetime read from a login response. Snowflake's are hours; the bound keeps a wild value
// from overflowing when a provider adds it to a time point.
inline constexpr std::int64_t max_validity_seconds = 366 * 24 * 3600;

// A lifetime field of the login response's data: absent or null -> nullopt; a whole number of
// seconds from 1 to max_validity_seconds -> it; anything else -> false.
inline bool read_validity(const boost::json::object& data, std::string_view key,
                          std::optional<std::chrono::seconds>& out) {
    out.reset();
    const boost::json::value* v = data.if_contains(key);
    if (!v || v->is_null()) return true;
    if (v->is_int64() && v->as_int64() > 0 && v->as_int64() <= max_validity_seconds)
        out = std::chrono::seconds(v->as_int64());
    return out.has_value();
}

} // namespace detail

/// Reads the answer to make_login_request.
/// - 2xx with `{"success":true,"data":{"token":...,"validityInSeconds":...,"masterToken":...,
///   "masterValidityInSeconds":...}}`: the session token. A missing validityInSeconds is
///   default_session_validity; the master token and its lifetime are optional.
/// - `"success":false` (Snowflake answers a refused login with HTTP 200): its `code`, a string or a
///   number, decides: 390318 errc::snowflake_token_expired, 390303 errc::snowflake_token_invalid,
///   390309 errc::snowflake_user_mismatch, anything else errc::snowflake_login_failed;
///   diag.server_error_code() is the code and diag.server_message() Snowflake's `message`.
/// - 2xx that is not that shape (not JSON, no `success`, no or an empty data.token, a token that
///   cannot go in a header, a lifetime that is not a whole number of seconds from 1 to one year): errc::invalid_response.
/// - Not 2xx: errc_from_http_status (or the errc of an OAuth `error`), the body excerpt in diag.
inline boost::system::result<session_token> parse_login_response(const http::response& response, diagnostics& diag) {
    diag.clear();
    auto invalid = [&diag](const char* message) -> boost::system::result<session_token> {
        diag.set_client_message(message);
        return make_error_code(errc::invalid_response);
    };
    if (response.status < 200 || response.status > 299)
        return detail::http_failure(response, "the Snowflake login request", diag);

    const takeoff::detail::secret_json body(response.body); // it holds the session and master tokens
    if (!body.object()) return invalid("the Snowflake login response is not a JSON object");
    const boost::json::object& root = *body.object();
    const boost::json::value* success = root.if_contains("success");
    if (!success || !success->is_bool()) return invalid("the Snowflake login response has no boolean 'success'");

    if (!success->as_bool()) {
        diag.set_http_status(response.status);
        const std::string code = detail::snowflake_code(root);
        diag.set_server_error_code(code);
        if (const boost::json::string* message = detail::first_string(root, {"message"})) diag.set_server_message(detail::view(*message));
        errc result = errc::snowflake_login_failed;
        if (code == "390318") {
            result = errc::snowflake_token_expired;
            diag.set_client_message("Snowflake refused the OAuth access token at login (390318: expired); "
                                    "refresh the access token, or sign in again, and log in again");
        } else if (code == "390303") {
            result = errc::snowflake_token_invalid;
            diag.set_client_message("Snowflake refused the OAuth access token at login (390303: invalid); "
                                    "refresh the access token, or sign in again, and log in again");
        } else if (code == "390309") {
            result = errc::snowflake_user_mismatch;
            diag.set_client_message("Snowflake refused the login (390309): the OAuth access token belongs to "
                                    "another user; sign in as the intended user");
        } else {
            diag.set_client_message("Snowflake refused the login (success:false); its code and message are in "
                                    "server_error_code and server_message");
        }
        return make_error_code(result);
    }

    const boost::json::value* data = root.if_contains("data");
    if (!data || !data->is_object()) return invalid("the Snowflake login response has no 'data' object");
    const boost::json::object& fields = data->as_object();
    const boost::json::string* token = detail::first_string(fields, {"token"});
    if (!token || token->empty()) return invalid("the Snowflake login response has no data.token");
    if (!detail::is_header_safe_token(detail::view(*token)))
        return invalid("the Snowflake login response's data.token has characters a token cannot have");

    session_token out;
    std::optional<std::chrono::seconds> validity;
    if (!detail::read_validity(fields, "validityInSeconds", validity))
        return invalid("the Snowflake login response's data.validityInSeconds is not a whole number of seconds up to a year");
    if (!detail::read_validity(fields, "masterValidityInSeconds", out.master_validity))
        return invalid("the Snowflake login response's data.masterValidityInSeconds is not a whole number of seconds up to a year");
    if (const boost::json::value* master = fields.if_contains("masterToken"); master && !master->is_null()) {
        if (!master->is_string() || !detail::is_header_safe_token(detail::view(master->as_string())))
            return invalid("the Snowflake login response's data.masterToken is not a token");
        out.master_token = secret(detail::view(master->as_string()));
    }
    out.token = secret(detail::view(*token));
    out.validity = validity.value_or(default_session_validity);
    return out;
}

} // namespace takeoff::snowflake

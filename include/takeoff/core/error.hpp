#pragma once
// takeoff::errc, its error category, and the retry classification of error codes.
//
// Asio, Beast and SSL error codes are kept as they are (never re-wrapped); errc covers what only
// this library can say: HTTP outcomes, JSON mapping, validation, OAuth and Snowflake login errors.

#include <takeoff/core/config.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <system_error>
#include <type_traits>

namespace takeoff {

/// Error codes of the takeoff category. Zero is never used: an error_code holding errc{} is success.
enum class errc {
    // HTTP outcomes
    http_status = 1,        ///< a non-2xx status with no more specific code below
    unauthorized,           ///< HTTP 401: the credential was rejected
    forbidden,              ///< HTTP 403
    not_found,              ///< HTTP 404
    too_many_requests,      ///< HTTP 429 (see diagnostics::retry_after)
    service_unavailable,    ///< HTTP 503 (Takeoff: no live reader yet)
    http_server_error,      ///< another 5xx status
    ingress_unauthenticated,///< an SPCS ingress redirected to its login host: a sign-in is needed

    // Transport and framing
    unexpected_content_type,///< the response's Content-Type is not the one the call needs
    invalid_response,       ///< the response cannot be understood
    body_too_large,         ///< the body exceeded the configured size limit
    event_too_large,        ///< a server-sent event exceeded the per-event size cap
    redirect_limit,         ///< too many redirects
    insecure_redirect,      ///< a redirect the policy refuses (downgrade, cross-origin POST, ...)
    request_timeout,        ///< the whole-request deadline passed
    operation_in_progress,  ///< a second operation was started where only one may run at a time
    stream_truncated,       ///< a stream ended before its natural end
    proxy_error,            ///< the proxy refused or failed the CONNECT tunnel (diagnostics has its status)

    // JSON mapping
    invalid_json,           ///< the text is not JSON
    missing_field,          ///< a required field is absent (diagnostics names it)
    invalid_field_type,     ///< a field has the wrong JSON type (diagnostics names it)

    // Validation of user input (the run-time side of checked literals)
    invalid_argument,       ///< an argument breaks a documented rule
    invalid_url,            ///< a URL breaks the rules of the type that holds it
    invalid_identifier,     ///< a Snowflake identifier breaks the identifier rules
    invalid_scope_string,   ///< a scope string breaks the scope rules
    out_of_range,           ///< a number is outside its allowed range

    // OAuth 2.0 (RFC 6749 sections 4.1.2.1 and 5.2) as returned by the server
    invalid_request,
    invalid_client,
    invalid_grant,
    unauthorized_client,
    unsupported_grant_type,
    invalid_scope,
    access_denied,
    unsupported_response_type,
    server_error,
    temporarily_unavailable,
    oauth_error,            ///< an OAuth error string not listed above (diagnostics keeps it)

    // OAuth client-side checks
    state_mismatch,         ///< the redirect's state does not match the one sent
    pkce_missing,           ///< a PKCE verifier was needed and is absent
    token_unavailable,      ///< no token can be produced (no refresh token, provider stopped, ...)

    // Snowflake login-request outcomes
    snowflake_login_failed, ///< success:false with a code not listed below
    snowflake_token_expired,///< code 390318
    snowflake_token_invalid,///< code 390303
    snowflake_user_mismatch,///< code 390309
};

namespace detail {

class takeoff_category final : public boost::system::error_category {
public:
    // A fixed id keeps equality across shared objects that each hold their own instance.
    constexpr takeoff_category() noexcept : error_category(0x74616b656f666600ULL) {}

    const char* name() const noexcept override { return "takeoff"; }

    std::string message(int ev) const override { return describe(ev); }

    char const* message(int ev, char*, std::size_t) const noexcept override { return describe(ev); }

    static const char* describe(int ev) noexcept {
        switch (static_cast<errc>(ev)) {
        case errc::http_status: return "the server answered with an unsuccessful HTTP status";
        case errc::unauthorized: return "the server rejected the credential (HTTP 401)";
        case errc::forbidden: return "the server refused the request (HTTP 403)";
        case errc::not_found: return "the resource was not found (HTTP 404)";
        case errc::too_many_requests: return "too many requests (HTTP 429)";
        case errc::service_unavailable: return "the service is unavailable (HTTP 503)";
        case errc::http_server_error: return "the server failed (HTTP 5xx)";
        case errc::ingress_unauthenticated:
            return "the Snowflake ingress wants a sign-in (redirect to its login host)";
        case errc::unexpected_content_type: return "the response has an unexpected Content-Type";
        case errc::invalid_response: return "the response is malformed";
        case errc::body_too_large: return "the body exceeds the size limit";
        case errc::event_too_large: return "a server-sent event exceeds the size limit";
        case errc::redirect_limit: return "too many redirects";
        case errc::insecure_redirect: return "a redirect was refused by the redirect policy";
        case errc::request_timeout: return "the request deadline passed";
        case errc::operation_in_progress: return "another operation is in progress";
        case errc::stream_truncated: return "the stream ended before it was complete";
        case errc::proxy_error: return "the proxy refused the tunnel";
        case errc::invalid_json: return "the text is not valid JSON";
        case errc::missing_field: return "a required JSON field is missing";
        case errc::invalid_field_type: return "a JSON field has the wrong type";
        case errc::invalid_argument: return "invalid argument";
        case errc::invalid_url: return "invalid URL";
        case errc::invalid_identifier: return "invalid Snowflake identifier";
        case errc::invalid_scope_string: return "invalid scope string";
        case errc::out_of_range: return "value out of range";
        case errc::invalid_request: return "OAuth: invalid_request";
        case errc::invalid_client: return "OAuth: invalid_client";
        case errc::invalid_grant: return "OAuth: invalid_grant";
        case errc::unauthorized_client: return "OAuth: unauthorized_client";
        case errc::unsupported_grant_type: return "OAuth: unsupported_grant_type";
        case errc::invalid_scope: return "OAuth: invalid_scope";
        case errc::access_denied: return "OAuth: access_denied";
        case errc::unsupported_response_type: return "OAuth: unsupported_response_type";
        case errc::server_error: return "OAuth: server_error";
        case errc::temporarily_unavailable: return "OAuth: temporarily_unavailable";
        case errc::oauth_error: return "OAuth: the server returned an error";
        case errc::state_mismatch: return "OAuth: the redirect's state does not match";
        case errc::pkce_missing: return "OAuth: the PKCE code verifier is missing";
        case errc::token_unavailable: return "no token is available";
        case errc::snowflake_login_failed: return "Snowflake login failed";
        case errc::snowflake_token_expired: return "Snowflake: the token has expired";
        case errc::snowflake_token_invalid: return "Snowflake: the token is invalid";
        case errc::snowflake_user_mismatch: return "Snowflake: the user does not match";
        }
        return "unknown takeoff error";
    }
};

} // namespace detail

/// The category of takeoff::errc.
inline const boost::system::error_category& takeoff_category() noexcept {
    static const detail::takeoff_category category;
    return category;
}

/// Makes errc usable wherever a boost::system::error_code is expected.
inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), takeoff_category()};
}

/// The errc that describes an HTTP status, or errc{} (success) for 1xx-3xx.
constexpr errc errc_from_http_status(unsigned status) noexcept {
    switch (status) {
    case 401: return errc::unauthorized;
    case 403: return errc::forbidden;
    case 404: return errc::not_found;
    case 429: return errc::too_many_requests;
    case 503: return errc::service_unavailable;
    default: break;
    }
    if (status >= 500 && status < 600) return errc::http_server_error;
    if (status >= 400) return errc::http_status;
    return errc{};
}

/// True when the same request may succeed if sent again later: transient network failures, 429,
/// 503 and OAuth's temporarily_unavailable. Whether a retry is safe (idempotency, whether a response
/// had started) is the transport's decision; this only classifies the error.
inline bool is_retryable(const boost::system::error_code& ec) noexcept {
    if (ec.category() == takeoff_category()) {
        switch (static_cast<errc>(ec.value())) {
        case errc::too_many_requests:
        case errc::service_unavailable:
        case errc::temporarily_unavailable: return true;
        default: return false;
        }
    }
    namespace ae = boost::asio::error;
    return ec == ae::connection_refused || ec == ae::connection_reset || ec == ae::connection_aborted ||
           ec == ae::timed_out || ec == ae::network_unreachable || ec == ae::host_unreachable ||
           ec == ae::network_down || ec == ae::network_reset || ec == ae::try_again ||
           ec == ae::host_not_found_try_again;
}

} // namespace takeoff

namespace boost::system {
template <>
struct is_error_code_enum<takeoff::errc> : std::true_type {};
} // namespace boost::system

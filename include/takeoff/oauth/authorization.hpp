#pragma once
// The browser half of the OAuth authorization code flow (RFC 6749 section 4.1): the URL that sends
// the user to the authorization endpoint, and the checks on the redirect that comes back.
//
// Sans-io: the URL is built and the callback parsed as values; the auth layer opens the browser and
// runs the loopback listener. Nothing secret (the state, the code) is ever put in a message.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/oauth/pkce.hpp>

#include <boost/system/result.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::oauth {

/// Random bytes behind a generated `state`: 32 bytes (256 bits, more than the 128 bits an attacker
/// would have to guess to forge a redirect), 43 base64url characters, far below Snowflake's
/// 2048-character limit.
inline constexpr std::size_t state_random_bytes = 32;

/// A new `state` value for one authorization request, from `source` (OpenSSL's CSPRNG unless a
/// test passes another). It is held as a secret: whoever knows it can forge the redirect.
inline boost::system::result<secret> generate_state(random_source source = openssl_random_bytes) {
    return detail::random_base64url(state_random_bytes, source);
}

/// What the authorization URL carries besides the endpoint.
struct authorization_parameters {
    std::string_view client_id;    ///< the integration's OAUTH_CLIENT_ID
    std::string_view redirect_uri; ///< exactly as the token request will send it again
    std::string_view scope;        ///< space-separated scopes; empty leaves `scope` out
};

namespace detail {

// Percent-encodes everything outside RFC 3986's unreserved set. Boost.URL's own query encoding
// leaves ':' '/' '?' '@' as they are (they are legal in a query), but Snowflake's docs ask for the
// values to be URL-encoded and the drivers encode them fully, so an encoded redirect_uri matches
// what the server compares byte for byte.
inline std::string encode_query_value(std::string_view value) {
    return boost::urls::encode(value, boost::urls::unreserved_chars);
}

// The parameters this library adds to the authorization URL, in Snowflake's documented order.
inline constexpr std::array<std::string_view, 7> authorization_keys = {
    "response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method"};

} // namespace detail

/// The URL to open in the browser: the endpoint's own URL (its existing query kept, in front) plus
/// response_type=code, client_id, redirect_uri, state, scope, code_challenge and
/// code_challenge_method=S256, in the order of Snowflake's documentation, each value fully
/// percent-encoded (a space as %20). Errors (errc::invalid_argument, with a client message): an
/// empty client_id or redirect_uri, an empty state, or an endpoint that has a fragment or already
/// carries one of these parameters (two values would leave it to the server which one counts).
inline boost::system::result<boost::urls::url>
make_authorization_url(boost::urls::url_view endpoint, const authorization_parameters& parameters,
                       const secret& state, const pkce& challenge, diagnostics& diag) {
    diag.clear();
    auto fail = [&diag](std::string message) -> boost::system::result<boost::urls::url> {
        diag.set_client_message(std::move(message));
        return make_error_code(errc::invalid_argument);
    };
    if (parameters.client_id.empty()) return fail("the authorization request needs a client_id");
    if (parameters.redirect_uri.empty()) return fail("the authorization request needs a redirect_uri");
    if (state.empty()) return fail("the authorization request needs a state");
    if (endpoint.has_fragment()) return fail("the authorization endpoint must not have a fragment");
    for (auto param : endpoint.params())
        for (std::string_view key : detail::authorization_keys)
            if (param.key == key)
                return fail("the authorization endpoint already has the query parameter '" +
                            std::string(key) + "'");

    boost::urls::url url(endpoint);
    auto query = url.encoded_params();
    auto add = [&query](std::string_view key, std::string_view value) {
        const std::string encoded = detail::encode_query_value(value);
        query.append({boost::urls::pct_string_view(key), boost::urls::pct_string_view(encoded)});
    };
    add("response_type", "code");
    add("client_id", parameters.client_id);
    add("redirect_uri", parameters.redirect_uri);
    add("state", state.reveal());
    if (!parameters.scope.empty()) add("scope", parameters.scope);
    add("code_challenge", challenge.challenge());
    add("code_challenge_method", pkce::method());
    return url;
}

/// What a successful redirect carries.
struct authorization_response {
    secret code;                      ///< the authorization code, for the token request only
    std::optional<std::string> scope; ///< the granted scope, when the server sent one

    /// Prints the scope; the code shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const authorization_response& r) {
        os << "authorization_response{code=" << r.code << ", scope=";
        if (r.scope) return os << '"' << *r.scope << "\"}";
        return os << "(none)}";
    }
};

/// The errc for an OAuth `error` value (RFC 6749 sections 4.1.2.1 and 5.2); an unknown value is
/// errc::oauth_error (the server's string is then in diagnostics::server_error_code).
inline errc errc_from_oauth_error(std::string_view error) noexcept {
    struct entry {
        std::string_view name;
        errc code;
    };
    static constexpr std::array<entry, 10> table{{
        {"invalid_request", errc::invalid_request},
        {"invalid_client", errc::invalid_client},
        {"invalid_grant", errc::invalid_grant},
        {"unauthorized_client", errc::unauthorized_client},
        {"unsupported_grant_type", errc::unsupported_grant_type},
        {"invalid_scope", errc::invalid_scope},
        {"access_denied", errc::access_denied},
        {"unsupported_response_type", errc::unsupported_response_type},
        {"server_error", errc::server_error},
        {"temporarily_unavailable", errc::temporarily_unavailable},
    }};
    for (const entry& e : table)
        if (e.name == error) return e.code;
    return errc::oauth_error;
}

namespace detail {

// The callback parameters this library reads. Each may appear at most once (RFC 6749 section 3.1:
// "parameters MUST NOT be included more than once"); a second value could be an injected one, and
// which value counts would otherwise depend on the parser. Other parameters are ignored.
inline constexpr std::array<std::string_view, 5> callback_keys = {"code", "state", "scope", "error",
                                                                  "error_description"};

} // namespace detail

/// Checks the redirect to redirect_uri and returns its code. `redirected` is the whole URL or the
/// request target ("/path?query"); values are decoded with '+' as a space, as browsers and
/// Snowflake send them. The checks, in order, each failing with a client message that names the
/// rule and never a value:
/// - the URL must parse, and code, state, scope, error and error_description must each appear at
///   most once: errc::invalid_request;
/// - state must be present and equal `expected_state` (compared in constant time):
///   errc::state_mismatch. It is checked before `error`, so a forged redirect cannot pass off an
///   error as the server's;
/// - an `error` becomes its errc (errc_from_oauth_error), with the error string in
///   server_error_code and error_description in server_message (untrusted server text);
/// - a missing or empty code: errc::invalid_request.
inline boost::system::result<authorization_response>
parse_authorization_callback(std::string_view redirected, const secret& expected_state, diagnostics& diag) {
    diag.clear();
    auto fail = [&diag](errc code, std::string message) -> boost::system::result<authorization_response> {
        diag.set_client_message(std::move(message));
        return make_error_code(code);
    };

    auto parsed = boost::urls::parse_uri_reference(redirected);
    if (!parsed) return fail(errc::invalid_request, "the authorization callback URL cannot be parsed");

    std::array<std::optional<std::string>, detail::callback_keys.size()> values;
    // The decoded copies of the code and state are wiped on every way out, early returns included.
    struct wipe_on_exit {
        std::optional<std::string>& code;
        std::optional<std::string>& state;
        ~wipe_on_exit() {
            if (code) takeoff::detail::wipe_string(*code);
            if (state) takeoff::detail::wipe_string(*state);
        }
    } wipe{values[0], values[1]};

    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    for (auto param : parsed->params(opts)) {
        for (std::size_t i = 0; i < detail::callback_keys.size(); ++i) {
            if (param.key != detail::callback_keys[i]) continue;
            if (values[i])
                return fail(errc::invalid_request, "the authorization callback repeats the parameter '" +
                                                       std::string(detail::callback_keys[i]) + "'");
            values[i] = param.has_value ? std::string(param.value) : std::string();
            takeoff::detail::wipe_string(param.value); // the iterator's decoded copy
        }
    }
    auto& code = values[0];
    auto& state = values[1];
    auto& scope = values[2];
    auto& error = values[3];
    auto& error_description = values[4];

    if (!state) return fail(errc::state_mismatch, "the authorization callback has no state");
    if (!constant_time_equal(*state, expected_state.reveal()))
        return fail(errc::state_mismatch,
                    "the authorization callback's state does not match the one sent");

    if (error) {
        const errc mapped = errc_from_oauth_error(*error);
        diag.set_server_error_code(*error);
        if (error_description) diag.set_server_message(*error_description);
        diag.set_client_message(mapped == errc::oauth_error
                                    ? "the authorization server returned an unrecognised error"
                                    : "the authorization server refused the request");
        return make_error_code(mapped);
    }

    if (!code || code->empty())
        return fail(errc::invalid_request, "the authorization callback has neither a code nor an error");

    authorization_response response;
    response.code = secret(std::move(*code));
    response.scope = std::move(scope);
    return response;
}

} // namespace takeoff::oauth

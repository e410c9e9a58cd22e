#pragma once
// The SPCS ingress's answer to a request without a valid credential: a redirect to its login host
// (`https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin?...`), meant for a browser.
// A program must not follow it (it would get a sign-in page): it is an error of its own,
// errc::ingress_unauthenticated, which the auth layer answers with a new credential.
//
// Sans-io: the rule is a function of the response header, installed into the transport as a
// response classifier (http/hooks.hpp), so that the transport itself knows nothing of Snowflake.
//
// Also here: normalize_ingress_url, which turns the ingress_url column of SHOW ENDPOINTS (a host
// name without a scheme) into the URL requests are sent to.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/http/detail/syntax.hpp>
#include <takeoff/http/hooks.hpp>
#include <takeoff/http/redirect_policy.hpp>
#include <takeoff/oauth/endpoint.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace takeoff::snowflake {

/// The first label of the SPCS ingress login host.
inline constexpr std::string_view ingress_login_host_prefix = "sfc-endpoint-login";

/// True when `host` (any case) is the SPCS ingress login host: it starts with
/// ingress_login_host_prefix.
inline bool is_ingress_login_host(std::string_view host) noexcept {
    if (host.size() < ingress_login_host_prefix.size()) return false;
    for (std::size_t i = 0; i < ingress_login_host_prefix.size(); ++i)
        if (http::detail::ascii_lower(host[i]) != ingress_login_host_prefix[i]) return false;
    return true;
}

namespace detail {

// The host a Location points at. Parsed with Boost.URL when it is a valid URI reference, else read
// textually (after "//", up to the path, without userinfo and port) so that a malformed login
// redirect is still recognised. A relative reference keeps the current host.
inline std::string location_host(std::string_view location, boost::urls::url_view current) {
    if (auto ref = boost::urls::parse_uri_reference(location)) {
        if (ref->has_authority()) return std::string(ref->encoded_host().data(), ref->encoded_host().size());
        return std::string(current.encoded_host().data(), current.encoded_host().size());
    }
    const std::size_t slashes = location.find("//");
    if (slashes == std::string_view::npos) return {};
    std::string_view authority = location.substr(slashes + 2);
    authority = authority.substr(0, authority.find_first_of("/?#\\"));
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    return std::string(authority.substr(0, authority.find(':')));
}

} // namespace detail

/// True when a response is the ingress's login redirect: a redirect status (301, 302, 303, 307,
/// 308) whose Location (white space around it ignored) points at the login host, whatever the
/// method.
inline bool is_ingress_login_redirect(unsigned status, std::string_view location_header,
                                      boost::urls::url_view current) {
    if (!http::is_redirect_status(status)) return false;
    const std::string_view location = http::detail::trim_ows(location_header);
    return !location.empty() && is_ingress_login_host(detail::location_host(location, current));
}

/// The response classifier (http::request_settings::classify) of requests to an SPCS ingress:
/// the login redirect fails the request with errc::ingress_unauthenticated (never followed,
/// whatever the redirect policy).
inline boost::system::error_code classify_ingress_response(const http::response_view& response, diagnostics& diag) {
    if (!is_ingress_login_redirect(response.status, response.headers[boost::beast::http::field::location],
                                   response.url))
        return {};
    diag.set_http_status(response.status);
    diag.set_client_message("the Snowflake ingress redirected to its login host: the request needs a valid "
                            "Snowflake credential (HTTP " +
                            std::to_string(response.status) + ")");
    return make_error_code(errc::ingress_unauthenticated);
}

namespace detail {

// True when `s` starts with a scheme followed by "://" (RFC 3986: a letter, then letters, digits,
// '+', '-' or '.').
inline bool has_scheme(std::string_view s) noexcept {
    const std::size_t colon = s.find("://");
    if (colon == std::string_view::npos || colon == 0) return false;
    const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!letter(s[0])) return false;
    for (char c : s.substr(0, colon))
        if (!(letter(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) return false;
    return true;
}

} // namespace detail

/// An ingress_url from SHOW ENDPOINTS ("abc-org-acct.snowflakecomputing.app", no scheme) as a URL:
/// https:// added when there is no scheme, host lower-cased, trailing slash removed; http/https only;
/// http only for loopback hosts (127.0.0.1, [::1], localhost) for tests; userinfo, query, fragment refused.
///
/// White space around the text is ignored; the scheme is lower-cased; a port and a path are kept
/// ("https://host/v1" stays, for gateways), without trailing slashes. The host follows the endpoint
/// rules (oauth/endpoint.hpp): ASCII letters, digits, '-' and '.', or a bracketed IPv6 address.
/// Errors: errc::invalid_url, with a client message naming the broken rule.
inline boost::system::result<boost::urls::url> normalize_ingress_url(std::string_view text, diagnostics& diag) {
    diag.clear();
    auto fail = [&diag](std::string_view reason) -> boost::system::result<boost::urls::url> {
        diag.set_client_message("the ingress URL is invalid: " + std::string(reason));
        return make_error_code(errc::invalid_url);
    };
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    std::string_view rest = text;
    while (!rest.empty() && space(rest.front())) rest.remove_prefix(1);
    while (!rest.empty() && space(rest.back())) rest.remove_suffix(1);
    if (rest.empty()) return fail("it is empty");

    const std::string full = detail::has_scheme(rest) ? std::string(rest) : "https://" + std::string(rest);
    literal_check check;
    oauth::detail::url_parts parts;
    if (!oauth::detail::parse_http_url(full, parts, check)) return fail(check.reason());
    if (parts.has_query) return fail("an ingress URL has no query (?)");
    if (!parts.https && !oauth::detail::is_loopback_host(parts.host))
        return fail("http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://");

    std::string out = parts.https ? "https://" : "http://";
    for (char c : parts.host) out += oauth::detail::ascii_lower(c);
    if (!parts.port.empty()) {
        out += ':';
        out += parts.port;
    }
    std::string_view path = parts.path;
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out += path;

    auto parsed = boost::urls::parse_absolute_uri(out);
    if (!parsed) return fail("the path has characters a URL cannot hold (encode them as %XX)");
    return boost::urls::url(*parsed);
}

} // namespace takeoff::snowflake

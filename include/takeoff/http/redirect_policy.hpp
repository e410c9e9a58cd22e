#pragma once
// Whether the transport follows a 3xx response, where to, and with which credentials: a sans-io
// decision on the request's method and URL, the status and the Location header.
//
// The rules are those of boost-requests and the Azure SDK narrowed for bearer-token traffic: GET
// and HEAD follow any redirect to an http(s) origin; other methods follow only 307/308 (which keep
// the method and body) and only within the origin; HTTPS is never downgraded; Authorization never
// crosses origins. A redirect to the Snowflake SPCS ingress login host is an error of its own: the
// ingress sends it when the credential is missing or rejected, and following it would hand the
// request to a browser sign-in page.

#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/http/origin.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::http {

/// Which redirects the transport follows by itself.
struct redirect_policy {
    /// The most redirects followed for one request; one more gives errc::redirect_limit.
    unsigned max_redirects = 5;
    /// false: every 3xx goes back to the caller as it is (the ingress check still applies).
    bool follow = true;
};

/// What to do with a response (see decide_redirect).
enum class redirect_action {
    return_response, ///< hand the response to the caller unchanged (not a redirect, or not one to follow)
    follow,          ///< send the same request (same method and body) to redirect_decision::target
    fail,            ///< complete with redirect_decision::error
};

/// The outcome of decide_redirect.
struct redirect_decision {
    /// What to do; the other members matter only for the action they name.
    redirect_action action = redirect_action::return_response;
    /// follow: the absolute http(s) URL to request next (Location resolved against the current
    /// URL, dot segments removed, fragment dropped as it is never sent).
    boost::urls::url target;
    /// follow: whether the Authorization header may be sent to target (true only within the origin).
    bool keep_authorization = false;
    /// fail: errc::ingress_unauthenticated, redirect_limit, insecure_redirect, invalid_response or
    /// invalid_url.
    boost::system::error_code error;
    /// fail: our explanation for diagnostics::set_client_message (never contains the Location).
    std::string message;

    /// A decision to hand the response back unchanged.
    static redirect_decision return_response() { return {}; }
    /// A decision to follow to `target`.
    static redirect_decision follow_to(boost::urls::url target, bool keep_authorization) {
        redirect_decision d;
        d.action = redirect_action::follow;
        d.target = std::move(target);
        d.keep_authorization = keep_authorization;
        return d;
    }
    /// A decision to fail with `e`.
    static redirect_decision fail_with(errc e, std::string message) {
        redirect_decision d;
        d.action = redirect_action::fail;
        d.error = make_error_code(e);
        d.message = std::move(message);
        return d;
    }
};

/// The first label of the Snowflake SPCS ingress login host, e.g.
/// `https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin?...`.
inline constexpr std::string_view ingress_login_host_prefix = "sfc-endpoint-login";

/// True when `host` (any case) is the SPCS ingress login host: it starts with
/// ingress_login_host_prefix.
inline bool is_ingress_login_host(std::string_view host) noexcept {
    if (host.size() < ingress_login_host_prefix.size()) return false;
    for (std::size_t i = 0; i < ingress_login_host_prefix.size(); ++i)
        if (detail::ascii_lower(host[i]) != ingress_login_host_prefix[i]) return false;
    return true;
}

/// True for the statuses that carry a Location to follow: 301, 302, 303, 307, 308.
constexpr bool is_redirect_status(unsigned status) noexcept {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
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

/// Decides what to do with a response to `method current` that has `status` and (maybe) a Location,
/// after `redirects_so_far` redirects were followed for this request. In this order:
///
/// 1. not 301/302/303/307/308, or no Location (empty or blank) -> return_response;
/// 2. the Location's host is the SPCS ingress login host (is_ingress_login_host) -> fail with
///    errc::ingress_unauthenticated, for every method and redirect status, whatever the policy;
/// 3. policy.follow is false -> return_response;
/// 4. a method other than GET/HEAD with 301/302/303 -> return_response (following would change the
///    method or drop the body, which is the caller's call);
/// 5. redirects_so_far >= policy.max_redirects -> errc::redirect_limit;
/// 6. a current URL that is not an http(s) origin -> errc::invalid_url; a Location that is not a
///    URI reference, or resolves to no valid http(s) host -> errc::invalid_response; a target
///    scheme other than http(s) -> errc::insecure_redirect;
/// 7. https -> http -> errc::insecure_redirect;
/// 8. a method other than GET/HEAD (307/308 here) to another origin -> errc::insecure_redirect;
/// 9. otherwise follow, keeping Authorization only when the target's origin equals the current one.
///
/// The method is never changed (a GET or HEAD stays one on 303; 307/308 keep method and body).
inline redirect_decision decide_redirect(const redirect_policy& policy, boost::beast::http::verb method,
                                         unsigned status, boost::urls::url_view current,
                                         std::string_view location_header, unsigned redirects_so_far) {
    namespace bh = boost::beast::http;
    if (!is_redirect_status(status)) return redirect_decision::return_response();
    const std::string_view location = detail::trim_ows(location_header);
    if (location.empty()) return redirect_decision::return_response();

    if (is_ingress_login_host(detail::location_host(location, current)))
        return redirect_decision::fail_with(errc::ingress_unauthenticated,
                                            "the Snowflake ingress redirected to its login host: the request "
                                            "needs a valid Snowflake credential (HTTP " +
                                                std::to_string(status) + ")");

    if (!policy.follow) return redirect_decision::return_response();
    const bool get_or_head = method == bh::verb::get || method == bh::verb::head;
    if (!get_or_head && status != 307 && status != 308) return redirect_decision::return_response();
    if (redirects_so_far >= policy.max_redirects)
        return redirect_decision::fail_with(errc::redirect_limit, "stopped after " + std::to_string(redirects_so_far) +
                                                                      " redirects (redirect_policy::max_redirects)");

    const auto from = origin_of(current);
    if (!from) return redirect_decision::fail_with(errc::invalid_url, "the redirected request's URL is not http(s)");

    const auto ref = boost::urls::parse_uri_reference(location);
    if (!ref) return redirect_decision::fail_with(errc::invalid_response, "the Location header is not a valid URL");
    boost::urls::url target;
    if (!boost::urls::resolve(current, *ref, target))
        return redirect_decision::fail_with(errc::invalid_response, "the Location header cannot be resolved");
    target.remove_fragment();

    if (target.scheme_id() != boost::urls::scheme::http && target.scheme_id() != boost::urls::scheme::https)
        return redirect_decision::fail_with(errc::insecure_redirect, "refused a redirect to a scheme other than http(s)");
    const auto to = origin_of(target);
    if (!to) return redirect_decision::fail_with(errc::invalid_response, "the Location header has no valid host");

    if (from->scheme == scheme::https && to->scheme == scheme::http)
        return redirect_decision::fail_with(errc::insecure_redirect, "refused a redirect from https to http");
    const bool same_origin = *from == *to;
    if (!get_or_head && !same_origin) {
        const auto method_name = bh::to_string(method);
        return redirect_decision::fail_with(errc::insecure_redirect,
                                            "refused a " + std::to_string(status) + " redirect of a " +
                                                std::string(method_name.data(), method_name.size()) +
                                                " request to another origin");
    }
    return redirect_decision::follow_to(std::move(target), same_origin);
}

} // namespace takeoff::http

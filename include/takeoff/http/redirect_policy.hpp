#pragma once
// Whether the transport follows a 3xx response, where to, and with which credentials: a sans-io
// decision on the request's method and URL, the status and the Location header.
//
// The rules are those of boost-requests and the Azure SDK narrowed for bearer-token traffic: GET
// and HEAD follow any redirect to an http(s) origin; other methods follow only 307/308 (which keep
// the method and body) and only within the origin; HTTPS is never downgraded; Authorization never
// crosses origins (the client's rule: credential headers go only to the origin of the request's
// URL). Redirects that are errors of a particular service (the Snowflake SPCS ingress's login
// redirect) are recognised by a response classifier (hooks.hpp) before this policy is asked.

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
    /// false: every 3xx goes back to the caller as it is.
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
    /// fail: errc::redirect_limit, insecure_redirect, invalid_response or
    /// invalid_url.
    boost::system::error_code error;
    /// fail: our explanation for diagnostics::set_client_message (never contains the Location).
    std::string message;

    /// A decision to hand the response back unchanged.
    static redirect_decision return_response() { return {}; }
    /// A decision to follow to `target`.
    static redirect_decision follow_to(boost::urls::url target) {
        redirect_decision d;
        d.action = redirect_action::follow;
        d.target = std::move(target);
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

/// True for the statuses that carry a Location to follow: 301, 302, 303, 307, 308.
constexpr bool is_redirect_status(unsigned status) noexcept {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}


/// Decides what to do with a response to `method current` that has `status` and (maybe) a Location,
/// after `redirects_so_far` redirects were followed for this request. In this order:
///
/// 1. not 301/302/303/307/308, or no Location (empty or blank) -> return_response;
/// 2. policy.follow is false -> return_response;
/// 3. a method other than GET/HEAD with 301/302/303 -> return_response (following would change the
///    method or drop the body, which is the caller's call);
/// 4. redirects_so_far >= policy.max_redirects -> errc::redirect_limit;
/// 5. a current URL that is not an http(s) origin -> errc::invalid_url; a Location that is not a
///    URI reference, or resolves to no valid http(s) host -> errc::invalid_response; a target
///    scheme other than http(s) -> errc::insecure_redirect;
/// 6. https -> http -> errc::insecure_redirect;
/// 7. a method other than GET/HEAD (307/308 here) to another origin -> errc::insecure_redirect;
/// 8. otherwise follow.
///
/// The method is never changed (a GET or HEAD stays one on 303; 307/308 keep method and body).
inline redirect_decision decide_redirect(const redirect_policy& policy, boost::beast::http::verb method,
                                         unsigned status, boost::urls::url_view current,
                                         std::string_view location_header, unsigned redirects_so_far) {
    namespace beast = boost::beast;
    if (!is_redirect_status(status)) return redirect_decision::return_response();
    const std::string_view location = detail::trim_ows(location_header);
    if (location.empty()) return redirect_decision::return_response();


    if (!policy.follow) return redirect_decision::return_response();
    const bool get_or_head = method == beast::http::verb::get || method == beast::http::verb::head;
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
        const auto method_name = beast::http::to_string(method);
        return redirect_decision::fail_with(errc::insecure_redirect,
                                            "refused a " + std::to_string(status) + " redirect of a " +
                                                std::string(method_name.data(), method_name.size()) +
                                                " request to another origin");
    }
    return redirect_decision::follow_to(std::move(target));
}

} // namespace takeoff::http
